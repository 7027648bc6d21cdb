using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using TreeScout.Capture;
using TreeScout.Cli.Scanning;
using TreeScout.Tests;
using Xunit;
using Xunit.Abstractions;

namespace TreeScout.Pipeline.Tests;

/// <summary>Tests that stop a broker of their own run alone, after the others (they are long and CPU-bound).</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class BrokerOutageCollection
{
    public const string Name = "broker outages";
}

/// <summary>
/// `treescout scan --broker` with the workers as processes, and the broker stopped for more than 20 s in the middle of
/// the scan: the CLI and the workers wait, say so, reconnect, and the map is the embedded scan's, tree by tree.
/// </summary>
[Trait("Category", "Disruptive")]
[Collection(BrokerOutageCollection.Name)]
public sealed partial class BrokerOutageScanTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Outage = TimeSpan.FromSeconds(22);

    [Fact]
    public async Task A_scan_on_RabbitMQ_rides_out_a_22s_broker_outage_and_maps_every_tree_as_the_embedded_scan_does()
    {
        var sample = Path.Combine(RepoPaths.Samples, "betuwe-rtk-2x12");
        var root = Directory.CreateTempSubdirectory("treescout-outage-").FullName;
        try
        {
            // The embedded reference runs while the broker boots.
            var embeddedOut = Path.Combine(root, "embedded");
            var embedded = Task.Run(() => new ScanPipeline(new ConfigurationBuilder().Build(), NullLoggerFactory.Instance, TextWriter.Null)
                .RunEmbeddedAsync(new ScanRequest(sample, embeddedOut, ReplayPace.AsFastAsAccepted), CancellationToken.None));
            await using var node = await OwnBrokerNode.StartAsync("scan");
            await embedded;
            await using var workers = await PipelineWorkers.StartAsync(node.Uri, Path.Combine(root, "store"), output);
            var detection = workers.Workers["TreeScout.Detection"];

            // At the recorded pace (43 s of frames and 10 Hz fixes), so the outage hits while the CLI is still feeding.
            var outDirectory = Path.Combine(root, "rabbitmq");
            await using var scan = WorkerProcess.Start(WorkerProcess.ProjectDll("src", "TreeScout.Cli", "treescout"), new Dictionary<string, string>(),
                ["scan", sample, "--out", outDirectory, "--broker", node.Uri.ToString(), "--speedup", "1"], l => output.WriteLine("[scan] " + l));
            await scan.WaitForLineAsync(l => FramesFed(l) >= 30, TimeSpan.FromMinutes(3), "the scan fed 30 frames");

            await node.StopAsync();
            var down = DateTime.UtcNow;
            var waitingLine = $"waiting for the broker at amqp://guest:***@127.0.0.1:{node.Port}/ (connection refused), ";
            await scan.WaitForLineAsync(l => l.StartsWith(waitingLine, StringComparison.Ordinal) && SecondsSoFar(l) >= 15, Outage, "the scan said it waits, 15 s into the outage");
            Assert.False(scan.HasExited);
            using (var health = JsonDocument.Parse(await HealthEndpoint.Http.GetStringAsync(HealthEndpoint.Url(detection.HealthPort, "/healthz"))))
            {
                Assert.StartsWith(waitingLine, health.RootElement.GetProperty("bus").GetString(), StringComparison.Ordinal);
            }
            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await HealthEndpoint.Http.GetAsync(HealthEndpoint.Url(detection.HealthPort, "/readyz"))).StatusCode);
            Assert.Contains(detection.Process.Lines, l => l.Contains("Waiting for the broker at amqp://guest:***@127.0.0.1:", StringComparison.Ordinal));
            var left = Outage - (DateTime.UtcNow - down);
            if (left > TimeSpan.Zero)
            {
                await Task.Delay(left);
            }
            Assert.False(scan.HasExited);
            await node.StartAgainAsync();

            Assert.Equal(0, await scan.WaitForExitAsync(TimeSpan.FromMinutes(5)));
            Assert.Contains(scan.Lines, l => BackLine().IsMatch(l) && int.Parse(BackLine().Match(l).Groups[1].Value, CultureInfo.InvariantCulture) >= Outage.TotalSeconds);
            Assert.Single(scan.Lines, l => l.StartsWith("run ", StringComparison.Ordinal) && l.Contains(": 24 trees, 24 with blossom clusters, ", StringComparison.Ordinal));
            Assert.DoesNotContain(scan.Lines, l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal) || l.Contains("Exception", StringComparison.Ordinal));

            var reference = PerTreeMap.Read(embeddedOut);
            var afterOutage = PerTreeMap.Read(outDirectory);
            foreach (var tree in reference.Keys)
            {
                output.WriteLine($"{tree}: embedded {reference[tree]} | through the outage {afterOutage.GetValueOrDefault(tree, "-")}");
            }
            Assert.Equal(reference, afterOutage);
            // Nothing was dead-lettered because the broker was away.
            var queues = await node.CtlAsync("list_queues", "--no-table-headers", "name", "messages");
            output.WriteLine(queues);
            Assert.All(queues.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t')).Where(q => q[0].EndsWith(".dlq", StringComparison.Ordinal)),
                q => Assert.Equal("0", q[1].Trim()));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>"  42 frames fed, 17 detected, ..." → 42; other lines → -1.</summary>
    private static int FramesFed(string line) => FedLine().Match(line) is { Success: true } m ? int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : -1;

    /// <summary>"waiting for the broker at ... , 12 s so far" → 12; other lines → -1.</summary>
    private static int SecondsSoFar(string line) => SoFar().Match(line) is { Success: true } m ? int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : -1;

    [GeneratedRegex(@"^\s+(\d+) frames fed, ")]
    private static partial Regex FedLine();

    [GeneratedRegex(@", (\d+) s so far$")]
    private static partial Regex SoFar();

    [GeneratedRegex(@"^the broker at amqp://guest:\*\*\*@127\.0\.0\.1:\d+/ is back after (\d+) s$")]
    private static partial Regex BackLine();
}
