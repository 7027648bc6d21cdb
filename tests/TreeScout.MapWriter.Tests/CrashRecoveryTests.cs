using System.Diagnostics;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using TreeScout.Hosting;
using TreeScout.MapWriter;
using TreeScout.MapWriter.Store;
using TreeScout.Messaging;
using Xunit.Abstractions;
using TreeScout.Tests;

namespace TreeScout.MapWriter.Tests;

/// <summary>A power cut in the middle of writing: a real MapWriter process killed with SIGKILL, then the run replayed.</summary>
[Trait("Category", "Disruptive")]
public sealed class CrashRecoveryTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_writer_killed_mid_write_loses_no_committed_observation_and_a_replay_counts_exactly_once()
    {
        using var dir = new TempDir();
        const string runId = "20260421-091500-crash-test";
        const int rows = 8, treesPerRow = 40; // big enough that the writer is still busy when it is killed
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
        // Watch the store from this process, as GDAL would: what another process can read is committed and must survive.
        long written = 0;
        Task<(OgrLayer Layer, long WrittenBefore, TimeSpan Took)>? ogrDuringRun = null;
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < TimeSpan.FromSeconds(120) && written <= run.Observations.Count / 10)
        {
            if (child.HasExited)
            {
                Assert.Fail($"crash host ended before it was killed: {await stderr}");
            }
            await Task.Delay(10);
            written = CommittedObservations(store);
            if (ogrDuringRun is null && written > 0)
            {
                var before = written;
                ogrDuringRun = Task.Run(() =>
                {
                    var started = Stopwatch.StartNew();
                    return (Ogr.Info(store, "observations"), before, started.Elapsed);
                });
            }
        }
        child.Kill(); // SIGKILL: no shutdown, no checkpoint, whatever transaction is open is cut off
        await child.WaitForExitAsync();
        output.WriteLine($"killed after {written} of {run.Observations.Count} observations were visible to a reader");
        Assert.NotNull(ogrDuringRun);
        var (layer, writtenBefore, took) = await ogrDuringRun;
        output.WriteLine($"ogrinfo during the run: {layer.FeatureCount} observations in {took.TotalMilliseconds:0} ms");
        Assert.InRange(layer.FeatureCount, writtenBefore, run.Observations.Count);

        using (var afterCrash = RunStore.OpenOrCreate(store))
        {
            Assert.Equal("ok", afterCrash.IntegrityCheck());
            var stored = afterCrash.CountObservations();
            output.WriteLine($"the store holds {stored} observations after the crash");
            Assert.True(stored >= written, $"a committed observation was lost: {stored} stored, {written} were visible before the kill");
            Assert.True(stored < run.Observations.Count, $"the writer had finished ({stored} stored) before it was killed");
        }
        Assert.Equal(rows * treesPerRow, Ogr.Info(store, "trees").FeatureCount);

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
        var ogr = Ogr.Info(store, "observations");
        Assert.Equal(run.Observations.Count, ogr.FeatureCount);
    }

    private static long CommittedObservations(string store)
    {
        if (!File.Exists(store))
        {
            return 0;
        }
        try
        {
            using var connection = new SqliteConnection($"Data Source={store};Mode=ReadOnly;Pooling=False");
            connection.Open();
            using var cmd = connection.CreateCommand();
            cmd.CommandText = "SELECT count(*) FROM observations";
            return (long)cmd.ExecuteScalar()!;
        }
        catch (SqliteException)
        {
            return 0; // the writer is still creating the schema
        }
    }
}
