using System.ComponentModel.DataAnnotations;

namespace TreeScout.Messaging;

/// <summary>Bus settings (section "Broker"). No <see cref="Uri"/> means the embedded in-memory bus.</summary>
public sealed class BrokerOptions : IValidatableObject
{
    public const string Section = "Broker";

    /// <summary>amqp://user:password@host:5672/vhost; env TREESCOUT__Broker__Uri.</summary>
    public string? Uri { get; set; }

    /// <summary>Unacknowledged deliveries per consumer (default for queues not listed in <see cref="PrefetchByQueue"/>).</summary>
    [Range(1, 65535)]
    public int Prefetch { get; set; } = 16;

    /// <summary>Per-queue prefetch, e.g. fusion holds acknowledgements for a tracking window and needs more.</summary>
    public Dictionary<string, int> PrefetchByQueue { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Upper bound of the reconnect backoff while the broker is unreachable: a broker back from an outage is noticed within this.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan MaxReconnectDelay { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>First delay between connection attempts (at start and after a lost connection); doubles up to <see cref="MaxReconnectDelay"/>.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan NetworkRecoveryInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// How often a client says it is still waiting for an unreachable broker: a worker in its log (its /healthz and
    /// /readyz always show the same line), the CLI on stderr. A publish itself has no time limit: it waits through an
    /// outage of any length until the broker confirms it, refuses it, or its caller cancels (docs/adr/0006).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan WaitReportInterval { get; set; } = TimeSpan.FromSeconds(5);

    public TopologyOptions Topology { get; set; } = new();

    /// <summary>
    /// True (default: embedded mode, development, tests): the worker declares the whole topology at connect.
    /// False (the k3s deployment): the broker's boot definitions own the topology and the worker only checks, with
    /// passive declarations that need no permissions, that it exists — so a worker's broker user needs no configure
    /// right and cannot delete or redefine any queue (docs/adr/0050). Env TREESCOUT__Broker__DeclareTopology.
    /// </summary>
    public bool DeclareTopology { get; set; } = true;

    public bool IsEmbedded => string.IsNullOrWhiteSpace(Uri);

    public int PrefetchFor(string queue) => PrefetchByQueue.TryGetValue(queue, out var p) ? p : Prefetch;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!IsEmbedded && (!System.Uri.TryCreate(Uri, UriKind.Absolute, out var u) || (u.Scheme != "amqp" && u.Scheme != "amqps")))
        {
            yield return new ValidationResult($"Broker:Uri '{Redact(Uri)}' is not an amqp:// or amqps:// URI", [nameof(Uri)]);
        }
        foreach (var (queue, prefetch) in PrefetchByQueue)
        {
            if (prefetch is < 1 or > 65535)
            {
                yield return new ValidationResult($"Broker:PrefetchByQueue:{queue} = {prefetch} is outside 1..65535", [nameof(PrefetchByQueue)]);
            }
        }
        var topology = new List<ValidationResult>();
        if (!Validator.TryValidateObject(Topology, new ValidationContext(Topology), topology, validateAllProperties: true))
        {
            foreach (var r in topology)
            {
                yield return r;
            }
        }
    }

    /// <summary>The URI without its password, for logs and error messages.</summary>
    public static string Redact(string? uri)
    {
        if (!System.Uri.TryCreate(uri, UriKind.Absolute, out var u) || string.IsNullOrEmpty(u.UserInfo))
        {
            return uri ?? "";
        }
        var user = u.UserInfo.Split(':')[0];
        return new UriBuilder(u) { UserName = user, Password = "***" }.Uri.ToString();
    }
}
