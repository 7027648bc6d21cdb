using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using TreeScout.MapWriter;
using TreeScout.MapWriter.Exports;
using TreeScout.MapWriter.Store;
using TreeScout.MapWriter.Tests;

namespace TreeScout.WebConsole.Tests;

/// <summary>
/// The console reads run folders while the map writer (another process on the tractor) writes them: a run's store as
/// the writer creates it, fills it, folds its WAL in, closes it and reopens it for a late review frame. A good run is
/// never listed as damaged and its trees are always served.
/// </summary>
[Trait("Category", "Unit")]
public sealed class LiveRunReadTests : IDisposable
{
    private const int Runs = 12;
    private readonly string _runs = Directory.CreateTempSubdirectory("treescout-live-read-").FullName;

    [Fact]
    public async Task Runs_read_while_the_map_writer_creates_fills_finishes_and_reopens_their_stores_are_never_damaged()
    {
        var run = new SyntheticRun("20260421-090000-synthetic-block", rows: 2, treesPerRow: 10, batchSize: 40);
        var options = Options.Create(new ConsoleOptions { Runs = _runs });
        var catalog = new RunCatalog(options);
        var maps = new RunMaps(catalog, new PrescriptionPreview(options));
        var failures = new ConcurrentBag<string>();
        var writer = Task.Run(() =>
        {
            for (var i = 0; i < Runs; i++)
            {
                WriteRun(new RunFolder(Path.Combine(_runs, $"20260421-09{i:00}00-synthetic-block")), run);
            }
        });
        var reads = 0;
        while (!writer.IsCompleted)
        {
            reads++;
            foreach (var entry in catalog.List())
            {
                if (entry.Damaged is { } reason)
                {
                    failures.Add($"{entry.RunId} listed as damaged: {reason}");
                }
                try
                {
                    // What the operator page asks on every map update (a RunStoreException is the API's 409).
                    maps.Trees(entry.RunId, null, null);
                }
                catch (Exception ex)
                {
                    failures.Add($"{entry.RunId}: {ex.GetType().Name}: {ex.Message}");
                }
            }
        }
        await writer;

        Assert.True(failures.IsEmpty, $"{failures.Count} of the reads during {reads} listings failed, e.g. {failures.FirstOrDefault()}");
        var listed = catalog.List();
        Assert.Equal(Runs, listed.Count);
        Assert.All(listed, e => Assert.Equal((RunEntry.Complete, 20, (string?)null), (e.State, e.Trees, e.Damaged)));
    }

    /// <summary>What the map writer does to a run's store (MapWriterHandler), one step a commit.</summary>
    private static void WriteRun(RunFolder folder, SyntheticRun run)
    {
        using (var store = RunStore.OpenOrCreate(folder.StorePath))
        {
            store.SetMetadata(new Dictionary<string, string?> { [RunMetadataKeys.RunId] = Path.GetFileName(folder.Path), [RunMetadataKeys.Block] = run.Plan.Name });
            store.AddPlannedTrees(run.Plan.Trees, new Dictionary<string, double>());
            foreach (var batch in run.Batches.Take(10))
            {
                store.AddObservations(batch.MessageId, batch.Observations, null);
                store.CopyWalToStore();
            }
            store.SetMetadata(new Dictionary<string, string?> { [RunMetadataKeys.Status] = RunMetadataKeys.StatusComplete });
            store.Checkpoint();
        }
        // A review frame after the final map: the store is opened, written and closed again.
        using (var store = RunStore.OpenOrCreate(folder.StorePath))
        {
            store.SetMetadata(new Dictionary<string, string?> { [RunMetadataKeys.ReviewCounts] = "{\"pruned\":1}" });
        }
    }

    public void Dispose() => Directory.Delete(_runs, recursive: true);
}
