using System.Globalization;
using TreeScout.Central.Bench;

// N simulated tractors upload their runs to the central exchange while the real ingest worker stores them in PostGIS:
// ingest throughput, queue lag and bytes per stored observation. Not a pass/fail test: this machine is shared.
// Exit 0 when everything was stored within the deadline, 1 when not, 2 for a usage error.
const string Usage = "usage: central-bench [--tractors N (4)] [--runs R (2)] [--trees T (20)] [--seconds S (60)] [--duplicate-every D (25)] [--replicas K (1)] [--broker amqp://...]";
var values = new Dictionary<string, string>(StringComparer.Ordinal);
for (var i = 0; i < args.Length; i += 2)
{
    if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
    {
        Console.Error.WriteLine($"central-bench: '{args[i]}' needs a value. {Usage}");
        return 2;
    }
    values[args[i][2..]] = args[i + 1];
}
var unknown = values.Keys.Except(["tractors", "runs", "trees", "seconds", "duplicate-every", "replicas", "broker"]).FirstOrDefault();
if (unknown is not null)
{
    Console.Error.WriteLine($"central-bench: unknown option --{unknown}. {Usage}");
    return 2;
}
int? Count(string name, int fallback, int max)
{
    if (!values.TryGetValue(name, out var text))
    {
        return fallback;
    }
    if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= 1 && n <= max)
    {
        return n;
    }
    Console.Error.WriteLine($"central-bench: --{name} '{text}' is not a whole number from 1 to {max}. {Usage}");
    return null;
}
Uri? broker = null;
if (values.TryGetValue("broker", out var uri) && !(Uri.TryCreate(uri, UriKind.Absolute, out broker) && broker.Scheme is "amqp" or "amqps"))
{
    Console.Error.WriteLine($"central-bench: --broker must be an amqp:// URI of an empty vhost. {Usage}");
    return 2;
}
// Bounds keep the generated messages in memory and the run within minutes.
if (Count("tractors", 4, 500) is not { } tractors || Count("runs", 2, 50) is not { } runs || Count("trees", 20, 5000) is not { } trees
    || Count("seconds", 60, 3600) is not { } seconds || Count("duplicate-every", 25, 1_000_000) is not { } duplicateEvery
    || Count("replicas", 1, 16) is not { } replicas)
{
    return 2;
}
if ((long)tractors * runs * trees > 200_000)
{
    Console.Error.WriteLine($"central-bench: {tractors} x {runs} x {trees} trees is over 200,000 trees (~30 M observations held in memory); make the fleet smaller. {Usage}");
    return 2;
}
try
{
    return await FleetLoadTest.RunAsync(new FleetLoadOptions(tractors, runs, trees, seconds, duplicateEvery, replicas, broker));
}
catch (Exception ex) when (ex is InvalidOperationException or RabbitMQ.Client.Exceptions.BrokerUnreachableException or Npgsql.NpgsqlException)
{
    // PostgreSQL or the broker missing: the test helpers' messages say how to start them.
    Console.Error.WriteLine($"central-bench: {(ex is InvalidOperationException ? ex.Message : ex.GetBaseException().Message)}");
    return 1;
}
