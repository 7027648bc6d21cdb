using System.Globalization;
using System.Text.Json;
using Npgsql;
using TreeScout.Central;
using TreeScout.MapWriter;
using TreeScout.MapWriter.Exports;
using TreeScout.MapWriter.Prescription;
using TreeScout.MapWriter.Store;

namespace TreeScout.WebConsole;

/// <summary>The season store did not answer (down, or no answer in time); the API answers 503 with this message.</summary>
public sealed class SeasonStoreUnavailableException(string message, Exception inner) : Exception(message, inner);

/// <summary>
/// The console's runs in central mode: every tractor's runs in the season store (docs/central.md), read-only. Runs are
/// listed by <see cref="SeasonView"/>'s queries (as `treescout central season`), a run's trees are the <c>trees</c>
/// table's values (<see cref="SeasonStore.ReadTreesAsync"/>) put in the map writer's <see cref="RunSnapshot"/> with the
/// metadata its stored RunStarted gives (<see cref="MapWriterHandler.StartMetadata"/>), so the pages, the map and its
/// GeoJSON have the tractor's shape; downloads rebuild the run's folder from its stored messages
/// (<see cref="RunReplay"/>, as `treescout central export`) and export it with the map writer's exporter.
/// </summary>
public sealed class SeasonRuns(NpgsqlDataSource db, PrescriptionPreview preview, ILoggerFactory logs) : IRunSource
{
    public string Origin => $"the season store at {SeasonStoreReadiness.Target(db.ConnectionString)}";

    public Task<IReadOnlyList<RunEntry>> ListAsync(CancellationToken cancellationToken) => ListAsync(new SeasonFilter(), cancellationToken);

    /// <summary>The runs <paramref name="filter"/> selects, newest first (at most <see cref="SeasonView.ListLimit"/>).</summary>
    public Task<IReadOnlyList<RunEntry>> ListAsync(SeasonFilter filter, CancellationToken cancellationToken) =>
        Answer<IReadOnlyList<RunEntry>>(async () => [.. (await SeasonView.ListRunsAsync(db, filter, cancellationToken)).Select(Entry)]);

    /// <summary>Every block of the farm with its latest run of the season (the season view).</summary>
    public Task<IReadOnlyList<BlockSeason>> BlocksAsync(string farmId, int season, CancellationToken cancellationToken) =>
        Answer(() => SeasonView.ReadAsync(db, farmId, season, cancellationToken));

    public Task<IReadOnlyList<SeasonTractor>> TractorsAsync(CancellationToken cancellationToken) => Answer(() => SeasonView.TractorsAsync(db, cancellationToken));

    public Task<IReadOnlyList<int>> SeasonsAsync(CancellationToken cancellationToken) => Answer(() => SeasonView.SeasonsAsync(db, cancellationToken));

    public async Task<RunEntry> FindAsync(string runId, CancellationToken cancellationToken) => (await ReadAsync(runId, null, null, cancellationToken)).Entry;

    public async Task<RunDetail> DetailAsync(string runId, string? previewVariety, double? previewTarget, CancellationToken cancellationToken)
    {
        var (entry, run, profile) = await ReadAsync(runId, previewVariety, previewTarget, cancellationToken);
        return RunMaps.DetailOf(entry, run, profile);
    }

    /// <summary>Every tree, whatever <paramref name="since"/> says: the season store has no revisions, and central pages are not live.</summary>
    public async Task<byte[]> TreesAsync(string runId, string? previewVariety, double? previewTarget, string? since, CancellationToken cancellationToken) =>
        TreeFeatures.Of((await ReadAsync(runId, previewVariety, previewTarget, cancellationToken)).Run, null).GeoJson(null);

    public async Task<RunComparison> CompareAsync(string beforeId, string afterId, CancellationToken cancellationToken) =>
        RunMaps.Compare(beforeId, (await ReadAsync(beforeId, null, null, cancellationToken)).Run, afterId, (await ReadAsync(afterId, null, null, cancellationToken)).Run);

    /// <summary>The run's folder rebuilt from its stored messages in a scratch folder, then the asked format exported from it as on the tractor.</summary>
    public async Task<ExportFile> ExportAsync(string runId, string formatName, string? previewVariety, double? previewTarget, CancellationToken cancellationToken)
    {
        var format = RunMaps.Format(formatName);
        var (_, run, _) = await ReadAsync(runId, null, null, cancellationToken);
        var profile = preview.Profile(run.Metadata, previewVariety, previewTarget);
        var scratch = Directory.CreateTempSubdirectory("treescout-console-replay-");
        try
        {
            await Answer(() => RunReplay.WriteRunFolderAsync(db, runId, scratch.FullName, preview.Varieties, logs, cancellationToken));
            using var store = RunStore.OpenReadOnly(new RunFolder(scratch.FullName).StorePath);
            return await RunMaps.ExportAsync(store, runId, format, profile, cancellationToken);
        }
        finally
        {
            scratch.Delete(recursive: true);
        }
    }

    /// <summary>
    /// The run as a snapshot of its stored trees with the metadata its RunStarted gives (status complete once fused, the
    /// models from RunFused), re-prescribed in memory when a preview is asked for; the store is never written.
    /// </summary>
    private async Task<(RunEntry Entry, RunSnapshot Run, VarietyProfile? Profile)> ReadAsync(string runId, string? previewVariety, double? previewTarget, CancellationToken cancellationToken)
    {
        var (stored, trees) = await Answer(async () =>
        {
            var found = await SeasonView.FindAsync(db, runId, cancellationToken)
                ?? throw new UnknownRunException($"unknown run '{runId}': the season store at {SeasonStoreReadiness.Target(db.ConnectionString)} has no run of that id with a block (its RunStarted may not have arrived yet)");
            return (found, await new SeasonStore(db, preview.Varieties, PrescriptionPreview.MapOptions).ReadTreesAsync(runId, cancellationToken));
        });
        var metadata = MapWriterHandler.StartMetadata(stored.Started!, preview.Varieties).Metadata;
        if (stored.Fused is { } fused)
        {
            metadata[RunMetadataKeys.Status] = RunEntry.Complete;
            metadata[RunMetadataKeys.Models] = fused.Models.Count == 0 ? null : JsonSerializer.Serialize(fused.Models, RunMetadataKeys.Json);
        }
        var profile = preview.Profile(metadata, previewVariety, previewTarget);
        var run = RunSnapshot.Of(new StoredRun(metadata, trees, null, []), runId, PrescriptionPreview.MapOptions, profile);
        var entry = Entry(BlockSeason.Of(stored.Run, [.. trees.Select(t => (t.ClustersTotal, (IReadOnlyList<int>)t.ClustersPerStage))])) with
        {
            Models = [.. RunMetadataKeys.ReadModels(metadata).Select(m => $"{m.Name} {m.Version}")],
            Warnings = run.Warnings,
        };
        return (entry, run, profile);
    }

    /// <summary>A season-store run as the runs list shows it: its tractor, farm and season besides the tractor's fields; its state is the season view's status.</summary>
    private static RunEntry Entry(BlockSeason block) => new(
        block.Run.RunId, null, block.Run.Block, block.Run.Variety, block.Run.StartedAt, block.Run.Status, block.Trees, block.TreesWithClusters, [], [], Damaged: null)
    {
        Tractor = block.Run.TractorId,
        Farm = block.Run.FarmId,
        Season = block.Run.Season,
    };

    /// <summary>
    /// A season store that does not answer, refuses the console's login or has no schema yet is one line and 503, never a
    /// server error; the password is not in it.
    /// </summary>
    private async Task<T> Answer<T>(Func<Task<T>> read)
    {
        try
        {
            return await read();
        }
        catch (Exception ex) when (SeasonStoreReadiness.IsUnavailable(ex) || ex is PostgresException)
        {
            var reason = ex is PostgresException { SqlState: PostgresErrorCodes.UndefinedTable }
                ? "it has no schema yet (the central ingest worker or `treescout central migrate` creates it)"
                : ex.GetBaseException().Message;
            throw new SeasonStoreUnavailableException(string.Create(CultureInfo.InvariantCulture,
                $"the season store at {SeasonStoreReadiness.Target(db.ConnectionString)} cannot be read: {reason}"), ex);
        }
    }
}
