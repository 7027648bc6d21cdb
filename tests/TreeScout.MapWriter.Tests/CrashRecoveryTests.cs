using System.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using TreeScout.Hosting;
using TreeScout.MapWriter;
using TreeScout.MapWriter.Store;
using TreeScout.Messaging;
using Xunit.Abstractions;

namespace TreeScout.Tests;

/// <summary>A power cut in the middle of writing: a real MapWriter process killed with SIGKILL, then the run replayed.</summary>
public sealed class CrashRecoveryTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_writer_killed_mid_write_loses_no_committed_observation_and_a_replay_counts_exactly_once()
    {
        using var dir = new TempDir();
        const string runId = "20260421-091500-crash-test";
        const int rows = 4, treesPerRow = 30;
        var run = new SyntheticRun(runId, rows, treesPerRow, batchSize: 25);
        var store = Path.Combine(dir.Path, RunFolder.StoreFileName);

        var host = Path.Combine(AppContext.BaseDirectory, "TreeScout.MapWriter.CrashHost.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { host, dir.Path, runId, rows.ToString(System.Globalization.CultureInfo.InvariantCulture), treesPerRow.ToString(System.Globalization.CultureInfo.InvariantCulture) })
        {
            psi.ArgumentList.Add(a);
        }
        using var child = Process.Start(psi)!;
        var stderr = child.StandardError.ReadToEndAsync();
        long written = 0;
        var ogrDuringRun = false;
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < TimeSpan.FromSeconds(120))
        {
            var line = await child.StandardOutput.ReadLineAsync();
            Assert.True(line is not null, $"crash host ended early: {await stderr}");
            Assert.False(line.StartsWith("done", StringComparison.Ordinal), "the writer finished before it could be killed; make the run larger");
            written = long.Parse(line["written ".Length..], System.Globalization.CultureInfo.InvariantCulture);
            if (!ogrDuringRun && written > run.Observations.Count / 10)
            {
                // GDAL opens the store while the other process is writing it.
                var layer = Tool.OgrInfo(store, "trees");
                Assert.Equal(rows * treesPerRow, layer.FeatureCount);
                ogrDuringRun = true;
            }
            if (written > run.Observations.Count * 4 / 10)
            {
                break;
            }
        }
        child.Kill(); // SIGKILL: no shutdown, no checkpoint, whatever transaction is open is cut off
        await child.WaitForExitAsync();
        output.WriteLine($"killed after {written} of {run.Observations.Count} observations were reported committed");
        Assert.True(ogrDuringRun);

        using (var afterCrash = RunStore.OpenOrCreate(store))
        {
            Assert.Equal("ok", afterCrash.IntegrityCheck());
            Assert.True(afterCrash.CountObservations() >= written, "an observation reported as committed was lost");
            Assert.True(afterCrash.CountObservations() < run.Observations.Count);
        }
        Assert.Equal(rows * treesPerRow, Tool.OgrInfo(store, "trees").FeatureCount);

        // The broker redelivers everything that was not acknowledged; in the worst case the whole run again.
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["MapWriter:StoreRoot"] = dir.Path,
            ["MapWriter:Varieties"] = MapWriterTestData.ShippedVarieties,
        }).Build();
        using var logs = LoggerFactory.Create(b => b.AddProvider(new TestOutputLoggerProvider(output)));
        await using (var workers = await EmbeddedWorkers.StartAsync([new MapWriterWorkerModule(dir.Path)], configuration, logs, CancellationToken.None))
        {
            var feeder = workers.Connect("replay", logs);
            await using (feeder)
            await using (await OtherWorkersSink.StartAsync(workers.Connect("sink", logs)))
            {
                foreach (var message in new TreeScout.Contracts.IMessage[] { run.Started }.Concat(run.Batches).Append(run.Fused))
                {
                    await feeder.PublishAsync(message);
                }
                await workers.Broker.WhenIdleAsync(new CancellationTokenSource(TimeSpan.FromSeconds(120)).Token);
            }
            var counters = workers.Services[WorkerRole.MapWriter].GetRequiredService<WorkerCounters>();
            Assert.Equal(run.Observations.Count, counters[MapWriterHandler.ObservationsWritten] + counters[MapWriterHandler.ObservationsDuplicate]);
            Assert.Empty(workers.Broker.DeadLetters(Topology.MapWriterObservationsQueue));
        }

        using (var recovered = RunStore.OpenReadOnly(store))
        {
            Assert.Equal("ok", recovered.IntegrityCheck());
            Assert.Equal(run.Observations.Count, recovered.CountObservations());
            var trees = recovered.ReadTrees().ToDictionary(t => t.TreeId);
            foreach (var tree in run.Plan.Trees)
            {
                Assert.Equal(run.ExpectedClusters.GetValueOrDefault(tree.Id), trees[tree.Id].ClustersTotal);
            }
        }
        var ogr = Tool.OgrInfo(store, "observations");
        Assert.Equal(run.Observations.Count, ogr.FeatureCount);
    }
}
