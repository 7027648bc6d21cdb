using System.Globalization;
using System.Net;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using TreeScout.Capture;
using TreeScout.Cli.RunControl;
using TreeScout.Cli.Scanning;
using TreeScout.Messaging;
using TreeScout.Simulation.Scoring;
using TreeScout.Tests;
using Xunit;
using Xunit.Abstractions;

namespace TreeScout.Pipeline.Tests;

/// <summary>
/// Workers killed with SIGKILL while a recording is scanned over the real RabbitMQ, on a schedule drawn from a fixed
/// seed: a Fusion crash loop (more kills in a row than the old delivery limit of 5) and kills of Detection and the map
/// writer in between. The map must equal the embedded scan's — the same observation ids on the same trees — and no
/// message may end in a dead-letter queue. TREESCOUT_CHAOS_SEED picks another schedule; TREESCOUT_CHAOS_ROUNDS soaks longer.
/// </summary>
[Collection(ScanCollection.Name)]
[Trait("Category", "Disruptive")]
public sealed class ChaosTests(ScanFixture scan, ITestOutputHelper output)
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task A_fusion_crash_loop_and_random_kills_lose_nothing_and_count_nothing_twice()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("TREESCOUT_CHAOS_SEED"), CultureInfo.InvariantCulture, out var s) ? s : 20261207;
        var rounds = int.TryParse(Environment.GetEnvironmentVariable("TREESCOUT_CHAOS_ROUNDS"), CultureInfo.InvariantCulture, out var r) ? r : 1;
        var random = new Random(seed);
        await using var vhost = await TestBroker.CreateVhostAsync("chaos");
        var storeRoot = Path.Combine(scan.Root, "chaos-store-" + seed);
        var workers = new Dictionary<string, WorkerProcess>(StringComparer.Ordinal);
        var kills = new List<string>();
        try
        {
            foreach (var project in Projects)
            {
                workers[project] = await StartReadyAsync(project, vhost.Uri, storeRoot);
            }

            var outDirectory = Path.Combine(scan.Root, "chaos-" + seed);
            var pipeline = new ScanPipeline(new ConfigurationBuilder().Build(), NullLoggerFactory.Instance, TextWriter.Null);
            await using var session = await BrokerSession.ConnectAsync(vhost.Uri.ToString(), CancellationToken.None);
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(8));
            // Recorded timing, slowed: the kills land while frames are still flowing.
            var scanning = pipeline.RunOnBrokerAsync(session.Bus, new ScanRequest(scan.Recording, outDirectory, ReplayPace.Faster(0.5)), timeout.Token);

            for (var round = 0; round < rounds; round++)
            {
                // The crash loop: Fusion killed 6 times in a row, each soon after it took up the run again.
                for (var i = 0; i < 6; i++)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(random.Next(1500, 3500)));
                    await KillAndRestartAsync("TreeScout.Fusion");
                }
                // Then the others, at random.
                for (var i = 0; i < 14; i++)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(random.Next(500, 3000)));
                    await KillAndRestartAsync(Projects[random.Next(Projects.Length)]);
                }
            }
            output.WriteLine($"seed {seed}: killed {string.Join(", ", kills)}");

            var result = await scanning;
            var embedded = Trees(scan.EmbeddedOut);
            var chaos = Trees(outDirectory);
            foreach (var tree in embedded.Keys)
            {
                output.WriteLine($"{tree}: embedded {embedded[tree]} | chaos {chaos.GetValueOrDefault(tree, "-")}");
            }
            Assert.True(kills.Count >= 20, $"only {kills.Count} kills");
            Assert.Equal(ObservationIds(scan.EmbeddedOut), ObservationIds(outDirectory));
            Assert.Equal(embedded, chaos);
            Assert.Equal(scan.Embedded.Map.Observations, result.Map.Observations);
            foreach (var queue in new Topology(new TopologyOptions()).Queues)
            {
                var depth = await session.Bus.GetQueueDepthAsync(queue.Name, CancellationToken.None);
                Assert.Equal((queue.DeadLetterQueue, 0L), (queue.DeadLetterQueue, depth!.DeadLettered));
            }
        }
        finally
        {
            foreach (var worker in workers.Values)
            {
                await worker.DisposeAsync();
            }
        }

        async Task KillAndRestartAsync(string project)
        {
            await workers[project].KillAsync();
            await workers[project].DisposeAsync();
            kills.Add(project["TreeScout.".Length..]);
            workers[project] = await StartReadyAsync(project, vhost.Uri, storeRoot);
        }
    }

    private static readonly string[] Projects = ["TreeScout.Detection", "TreeScout.Fusion", "TreeScout.MapWriter"];

    /// <summary>Per tree: total clusters and clusters per stage, as the store holds them.</summary>
    private static Dictionary<string, string> Trees(string runFolder) =>
        RunResult.ReadStore(Path.Combine(runFolder, RunResult.StoreFile)).Trees.ToDictionary(
            t => t.TreeId,
            t => t.ClustersTotal.ToString(CultureInfo.InvariantCulture) + " = " + string.Join(" + ", t.ClustersByStage.OrderBy(s => s.Key).Select(s => $"{s.Value}x{s.Key}")),
            StringComparer.Ordinal);

    private static List<string> ObservationIds(string runFolder)
    {
        using var connection = new SqliteConnection($"Data Source={Path.Combine(runFolder, RunResult.StoreFile)};Mode=ReadOnly");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT observation_id || ' ' || coalesce(tree_id, '-') FROM observations ORDER BY observation_id";
        using var reader = command.ExecuteReader();
        var ids = new List<string>();
        while (reader.Read())
        {
            ids.Add(reader.GetString(0));
        }
        return ids;
    }

    private async Task<WorkerProcess> StartReadyAsync(string project, Uri broker, string storeRoot)
    {
        var port = WorkerProcess.FreePort();
        var environment = new Dictionary<string, string>
        {
            ["TREESCOUT__Broker__Uri"] = broker.ToString(),
            ["TREESCOUT__Health__BindAddress"] = "127.0.0.1",
            ["TREESCOUT__Health__Port"] = port.ToString(CultureInfo.InvariantCulture),
            ["TREESCOUT__Logging__Format"] = "text",
            ["TREESCOUT__MapWriter__StoreRoot"] = storeRoot,
            // A restarted fusion cannot count the frames an earlier process acknowledged: it ends the run when quiet.
            ["TREESCOUT__Fusion__QuietTimeout"] = "00:00:05",
        };
        var name = project["TreeScout.".Length..];
        var worker = WorkerProcess.Start(WorkerProcess.ProjectDll("src", project), environment, echo: l => output.WriteLine($"[{name}] {l}"));
        try
        {
            await HealthEndpoint.WaitForStatusAsync(port, "/readyz", HttpStatusCode.OK, ReadyTimeout);
            return worker;
        }
        catch (TimeoutException)
        {
            await worker.DisposeAsync();
            throw; // the worker's output is in the test log
        }
    }
}
