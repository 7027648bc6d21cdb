using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TreeScout.Contracts;
using TreeScout.Hosting;
using TreeScout.Labelling;
using TreeScout.MapWriter.Calibration;
using TreeScout.MapWriter.Exports;
using TreeScout.MapWriter.Prescription;
using TreeScout.MapWriter.Store;
using TreeScout.Messaging;
using TreeScout.Orchard;

namespace TreeScout.MapWriter;

/// <summary>
/// Consumes treescout.mapwriter.observations: RunStarted creates the run's store, TreeObservations are written in one
/// transaction each (idempotent by observation id) and keep per-tree aggregates live, RunFused refreshes every export,
/// writes run.json and announces the final map; ReviewFrameSampled keeps a frame for review in the run folder's review/
/// (<see cref="ReviewSamples"/>). The bus acknowledges after the handler returns, i.e. after the commit.
/// A write that fails for lack of disk space is held and retried until space returns (<see cref="StoreDiskSpace"/>).
/// </summary>
public sealed class MapWriterHandler(
    IRunFolders folders,
    VarietyCatalog varieties,
    IOptions<MapWriterOptions> options,
    WorkerCounters counters,
    WorkerWarnings warnings,
    ActiveRun activeRun,
    StoreDiskSpace disk,
    TimeProvider clock,
    ILogger<MapWriterHandler> logger)
    : IMessageHandler<RunStarted>, IMessageHandler<TreeObservations>, IMessageHandler<RunFused>, IMessageHandler<ReviewFrameSampled>,
      IMessageHandler<ReviewFramePose>, IDisposable
{
    public const string ObservationsWritten = "observations_written";
    public const string ObservationsDuplicate = "observations_duplicate";
    public const string ObservationsCorrected = "observations_corrected";
    public const string MapsWritten = "maps_written";
    public const string ReviewFramesKept = "review_frames_kept";
    public const string ReviewFramesPruned = "review_frames_pruned";
    public const string ReviewFramesOverBudget = "review_frames_over_budget";

    private readonly Dictionary<string, RunSession> _sessions = new(StringComparer.Ordinal);

    // One message at a time even if a bus dispatches concurrently: a run's store has one writer.
    private readonly SemaphoreSlim _gate = new(1, 1);

    public Task HandleAsync(RunStarted message, MessageContext context, CancellationToken cancellationToken) =>
        ExclusiveAsync(() => disk.WriteAsync(StorePathOf(message.RunId), () => StartRun(message), cancellationToken), cancellationToken);

    public Task HandleAsync(TreeObservations message, MessageContext context, CancellationToken cancellationToken) =>
        ExclusiveAsync(() => WriteObservationsAsync(message, context, cancellationToken), cancellationToken);

    public Task HandleAsync(RunFused message, MessageContext context, CancellationToken cancellationToken) =>
        ExclusiveAsync(() => FinishRunAsync(message, context, cancellationToken), cancellationToken);

    public Task HandleAsync(ReviewFrameSampled message, MessageContext context, CancellationToken cancellationToken) =>
        ExclusiveAsync(() => disk.WriteAsync(folders.FolderOf(message.RunId), () => KeepForReview(message), cancellationToken), cancellationToken);

    public Task HandleAsync(ReviewFramePose message, MessageContext context, CancellationToken cancellationToken) =>
        ExclusiveAsync(() =>
        {
            var folder = folders.FolderOf(message.RunId);
            return disk.WriteAsync(folder, () =>
            {
                ReviewSamples.SetPose(new ReviewFolder(folder), message);
                return Task.CompletedTask;
            }, cancellationToken);
        }, cancellationToken);

    private async Task ExclusiveAsync(Func<Task> work, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            await work();
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// What a run's RunStarted puts in its store's run_metadata (status "running"), with its plan, the variety profile its
    /// trees are prescribed with and the run's warnings (an unusable plan, a missing profile). The central console builds
    /// a season-store run's metadata from its stored RunStarted with it, so both read the same keys.
    /// </summary>
    public static (Dictionary<string, string?> Metadata, BlockPlan? Plan, VarietyProfile? Profile, List<string> Warnings) StartMetadata(RunStarted message, VarietyCatalog varieties)
    {
        var runWarnings = new List<string>();
        BlockPlan? plan = null;
        if (message.BlockPlanGeoJson is { Length: > 0 } json)
        {
            try
            {
                plan = BlockPlan.Parse(json, $"block plan of run {message.RunId}");
            }
            catch (BlockPlanException ex)
            {
                // The run still gets a store: trees are then created as observations name them.
                runWarnings.Add($"block plan not usable, trees are taken from observations: {ex.Message}");
            }
        }
        var variety = message.Variety ?? plan?.Variety;
        var profile = varieties.Find(variety);
        if (profile is null)
        {
            runWarnings.Add($"no variety profile for '{variety ?? "(none)"}' and no default profile: the map has no thinning prescription");
        }
        else if (variety is not null && !varieties.Defines(variety))
        {
            // The rates are then generic: the agronomist should know before the sprayer loads them.
            runWarnings.Add($"no variety profile for '{variety}': the default profile's thinning rates are used (add one to MapWriter:Varieties, docs/prescription.md)");
        }
        var metadata = new Dictionary<string, string?>
        {
            [RunMetadataKeys.RunId] = message.RunId,
            [RunMetadataKeys.Block] = message.Block,
            [RunMetadataKeys.Variety] = variety,
            [RunMetadataKeys.VarietyProfileJson] = profile is null ? null : JsonSerializer.Serialize(profile, RunMetadataKeys.Json),
            [RunMetadataKeys.Source] = message.Source,
            [RunMetadataKeys.StartedAt] = message.StartedAtUtc.ToString("O", CultureInfo.InvariantCulture),
            [RunMetadataKeys.Status] = "running",
            [RunMetadataKeys.TreeSpacingM] = Invariant(message.TreeSpacingM ?? plan?.TreeSpacingM),
            [RunMetadataKeys.RowSpacingM] = Invariant(message.RowSpacingM ?? plan?.RowSpacingM),
            [RunMetadataKeys.BlockPlanGeoJson] = plan?.ToGeoJson(),
            [RunMetadataKeys.Cameras] = JsonSerializer.Serialize(message.Cameras, RunMetadataKeys.Json),
            [RunMetadataKeys.WarningsJson] = JsonSerializer.Serialize(runWarnings, RunMetadataKeys.Json),
        };
        return (metadata, plan, profile, runWarnings);
    }

    private Task StartRun(RunStarted message)
    {
        var session = Session(message.RunId);
        var (metadata, plan, profile, runWarnings) = StartMetadata(message, varieties);
        session.Profile = profile;
        session.Store.SetMetadata(metadata);
        if (plan is not null)
        {
            session.Store.AddPlannedTrees(plan.Trees, PlannedSpacing(plan, options.Value.DefaultTreeSpacingM));
        }
        foreach (var w in runWarnings)
        {
            if (warnings.Raise($"run:{message.RunId}:{w.GetHashCode(StringComparison.Ordinal)}", $"run {message.RunId}: {w}"))
            {
                logger.LogWarning("Run {RunId}: {Warning}", message.RunId, w);
            }
        }
        activeRun.Started(message.RunId);
        logger.LogInformation("Run {RunId} started: block {Block}, variety {Variety}, {Trees} planned trees, store {Store}",
            message.RunId, message.Block, metadata[RunMetadataKeys.Variety] ?? "(none)", plan?.Trees.Count ?? 0, session.Store.Path);
        return Task.CompletedTask;
    }

    private async Task WriteObservationsAsync(TreeObservations message, MessageContext context, CancellationToken cancellationToken)
    {
        Validate(message);
        var (session, result) = await disk.WriteAsync(StorePathOf(message.RunId), () =>
        {
            var s = Session(message.RunId);
            return Task.FromResult((s, s.Store.AddObservations(message.MessageId, message.Observations, s.Profile)));
        }, cancellationToken);
        counters.Add(ObservationsWritten, result.Inserted);
        counters.Add(ObservationsDuplicate, result.Duplicates);
        counters.Add(ObservationsCorrected, result.Corrected);
        if (result.Duplicates > 0)
        {
            logger.LogInformation("Run {RunId}: {Duplicates} of {Count} observations in {MessageId} were already stored (redelivery)",
                message.RunId, result.Duplicates, message.Observations.Count, message.MessageId);
        }
        var now = clock.GetUtcNow();
        if (result.Inserted + result.Corrected > 0 && now - session.LastLiveUpdate >= options.Value.LiveUpdateInterval)
        {
            session.LastLiveUpdate = now;
            CopyWalToStore(session.Store);
            await context.Publisher.PublishAsync(Update(session, message.RunId, MessageIds.Derive(message.MessageId, "map-updated"), final: false, exports: [], now), cancellationToken);
        }
    }

    private async Task FinishRunAsync(RunFused message, MessageContext context, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var folder = new RunFolder(folders.FolderOf(message.RunId));
        // Everything before the announcement is idempotent, so a full disk can hold and repeat it whole.
        var (session, update, elapsed) = await disk.WriteAsync(folder.Path, () => WriteFinalMapAsync(message, started, cancellationToken), cancellationToken);
        await context.Publisher.PublishAsync(update, cancellationToken);
        counters.Add(MapsWritten);
        logger.LogInformation("Run {RunId}: final map of {Trees} trees ({WithClusters} with clusters, {Observations} observations) written in {Ms:0} ms to {Folder}",
            message.RunId, update.Trees, update.TreesWithClusters, update.Observations, elapsed.TotalMilliseconds, folder.Path);
        foreach (var w in update.Warnings)
        {
            logger.LogWarning("Run {RunId}: {Warning}", message.RunId, w);
        }
        activeRun.Stopped(message.RunId);
        session.Dispose();
        _sessions.Remove(message.RunId);
    }

    /// <summary>Settles spacing and metadata, moves the WAL into store.gpkg, writes every export and run.json.</summary>
    private async Task<(RunSession Session, MapUpdated Update, TimeSpan Elapsed)> WriteFinalMapAsync(RunFused message, long started, CancellationToken cancellationToken)
    {
        var session = Session(message.RunId);
        var store = session.Store;
        // Aggregates are already exact (recomputed with every observation); trees created from observations have moved
        // while their clusters arrived, so their spacing (and density) is settled now.
        var metadata = store.ReadMetadata();
        store.UpdateSpacing(InferredSpacing(store.ReadTrees(), RunMetadataKeys.ReadNumber(metadata, RunMetadataKeys.TreeSpacingM) ?? options.Value.DefaultTreeSpacingM), session.Profile);
        store.SetMetadata(new Dictionary<string, string?>
        {
            [RunMetadataKeys.Status] = RunMetadataKeys.StatusComplete,
            [RunMetadataKeys.FinishedAt] = clock.GetUtcNow().ToString("O", CultureInfo.InvariantCulture),
            [RunMetadataKeys.Gnss] = JsonSerializer.Serialize(message.Gnss, RunMetadataKeys.Json),
            [RunMetadataKeys.Fused] = JsonSerializer.Serialize(new
            {
                message.ObservationsPublished,
                message.FramesFused,
                message.FramesWithoutPose,
                message.FramesMissing,
                message.ClockOffsetMs,
            }, RunMetadataKeys.Json),
            [RunMetadataKeys.Models] = message.Models.Count == 0 ? null : JsonSerializer.Serialize(message.Models, RunMetadataKeys.Json),
        });
        store.Checkpoint();

        var folder = new RunFolder(Path.GetDirectoryName(store.Path)!);
        var snapshot = RunSnapshot.Read(store, options.Value);
        var exports = await RunExports.RefreshAsync(snapshot, store, folder, options.Value, cancellationToken);
        var storedObservations = store.CountObservations();
        if (storedObservations < message.ObservationsPublished)
        {
            // Should not happen (RunFused travels behind the observations on one queue); say so rather than hide it.
            logger.LogWarning("Run {RunId}: fusion published {Published} observations but the store has {Stored}", message.RunId, message.ObservationsPublished, storedObservations);
        }
        var elapsed = Stopwatch.GetElapsedTime(started);
        var update = Update(session, message.RunId, MessageIds.Derive(message.MessageId, "map-updated"), final: true, exports, clock.GetUtcNow(), snapshot.Warnings);
        RunSummary.Write(folder, message, update, elapsed, CalibrationReport.From(snapshot));
        // The run's observations are complete now: the frames kept so far learn their trees.
        ReviewSamples.FillTreeIds(new ReviewFolder(folder.Path), store.ReadTreeFrames());
        WriteReviewSummary(folder, store);
        return (session, update, elapsed);
    }

    /// <summary>
    /// Keeps a frame for review (idempotent: a redelivered one changes nothing). Its trees are known once the run's
    /// observations are complete: now when the run is fused already, else when its RunFused comes.
    /// </summary>
    private Task KeepForReview(ReviewFrameSampled message)
    {
        if (ReviewSamples.Problem(message) is { } problem)
        {
            throw new MalformedMessageException($"review-frame-sampled {message.MessageId} of run {message.RunId} (camera {message.CameraId}, frame {message.Sequence}): {problem}");
        }
        var wasOpen = _sessions.ContainsKey(message.RunId);
        var session = Session(message.RunId);
        var metadata = session.Store.ReadMetadata();
        var complete = metadata.GetValueOrDefault(RunMetadataKeys.Status) == RunMetadataKeys.StatusComplete;
        var folder = new RunFolder(folders.FolderOf(message.RunId));
        var trees = complete ? ReviewSamples.TreesIn(session.Store.ReadTreeFrames(), message.CameraId, message.Sequence) : [];
        var sample = ReviewSamples.ToSample(message, metadata.GetValueOrDefault(RunMetadataKeys.Block), trees);
        var result = ReviewSamples.Keep(new ReviewFolder(folder.Path), sample, message.Jpeg, message.WindowFrames, options.Value.MaxReviewMiB * 1024 * 1024);
        var counts = RunMetadataKeys.ReadReviewCounts(metadata);
        counts = counts with
        {
            Pruned = counts.Pruned + result.Pruned.Count,
            DroppedOverBudget = counts.DroppedOverBudget + (result.Outcome == ReviewKeep.OverBudget ? 1 : 0),
            LessUncertain = counts.LessUncertain + (result.Outcome == ReviewKeep.LessUncertain ? 1 : 0),
        };
        session.Store.SetMetadata(new Dictionary<string, string?> { [RunMetadataKeys.ReviewCounts] = JsonSerializer.Serialize(counts, RunMetadataKeys.Json) });
        counters.Add(ReviewFramesKept, result.Outcome == ReviewKeep.Kept ? 1 : 0);
        counters.Add(ReviewFramesPruned, result.Pruned.Count);
        counters.Add(ReviewFramesOverBudget, result.Outcome == ReviewKeep.OverBudget ? 1 : 0);
        if (result.Outcome == ReviewKeep.OverBudget)
        {
            logger.LogWarning("Run {RunId}: frame {Sample} not kept for review: the run's {Budget} MiB review budget holds only frames that may not be pruned (labelled and not exported, or unreviewed uncertain ones)",
                message.RunId, sample.Id, options.Value.MaxReviewMiB);
        }
        if (complete)
        {
            WriteReviewSummary(folder, session.Store);
            if (!wasOpen)
            {
                session.Dispose();
                _sessions.Remove(message.RunId);
            }
        }
        return Task.CompletedTask;
    }

    private void WriteReviewSummary(RunFolder folder, RunStore store)
    {
        var review = new ReviewFolder(folder.Path);
        var counts = RunMetadataKeys.ReadReviewCounts(store.ReadMetadata());
        RunSummary.Update(folder, summary => summary["review"] = JsonSerializer.SerializeToNode(new
        {
            samples = review.SampleIds().Count,
            diskMiB = Math.Round(review.DiskBytes() / (1024.0 * 1024.0), 2),
            budgetMiB = options.Value.MaxReviewMiB,
            pruned = counts.Pruned,
            droppedOverBudget = counts.DroppedOverBudget,
            lessUncertain = counts.LessUncertain,
        }, RunMetadataKeys.Json));
    }

    private static MapUpdated Update(RunSession session, string runId, Guid id, bool final, IReadOnlyList<string> exports, DateTimeOffset now, IReadOnlyList<string>? runWarnings = null)
    {
        var trees = session.Store.ReadTrees();
        return new MapUpdated
        {
            MessageId = id,
            RunId = runId,
            Final = final,
            UpdatedAtUtc = now,
            Trees = trees.Count,
            TreesWithClusters = trees.Count(t => t.ClustersTotal > 0),
            Observations = session.Store.CountObservations(),
            StorePath = session.Store.Path,
            Exports = exports,
            Warnings = runWarnings ?? [],
        };
    }

    private string StorePathOf(string runId) => new RunFolder(folders.FolderOf(runId)).StorePath;

    /// <summary>Best effort: the WAL keeps every commit durable; what this copies only spares a crashed run's store.gpkg.</summary>
    private void CopyWalToStore(RunStore store)
    {
        try
        {
            if (!store.CopyWalToStore())
            {
                logger.LogDebug("Store {Store}: a reader kept part of the WAL from the checkpoint", store.Path);
            }
        }
        catch (SqliteException ex)
        {
            var level = disk.IsDiskFull(ex, store.Path) ? LogLevel.Debug : LogLevel.Warning;
            logger.Log(level, "Store {Store}: WAL not copied into the store this time: {Reason}", store.Path, ex.Message);
        }
    }

    private RunSession Session(string runId)
    {
        if (_sessions.TryGetValue(runId, out var session))
        {
            return session;
        }
        var folder = new RunFolder(folders.FolderOf(runId));
        var existed = File.Exists(folder.StorePath);
        var store = RunStore.OpenOrCreate(folder.StorePath);
        var metadata = store.ReadMetadata();
        if (existed && metadata.TryGetValue(RunMetadataKeys.RunId, out var owner) && owner is not null && owner != runId)
        {
            // A fixed run folder (an embedded scan's --out) reused by a second run: its clusters would be added to the
            // first run's trees. The messages go to the dead-letter queue instead, where nothing is lost.
            store.Dispose();
            throw new MalformedMessageException($"run {runId}: its run folder {folder.Path} holds the store of run {owner}; one folder holds one run, so nothing of run {runId} is written there");
        }
        session = new RunSession(store) { Profile = RunMetadataKeys.ReadProfile(metadata) };
        if (!existed || !metadata.ContainsKey(RunMetadataKeys.RunId))
        {
            // Data of a run whose RunStarted this writer never handled (e.g. its store was removed): keep the data anyway.
            store.SetMetadata(new Dictionary<string, string?> { [RunMetadataKeys.RunId] = runId });
        }
        else
        {
            logger.LogInformation("Run {RunId}: reopened store {Store} ({Observations} observations)", runId, store.Path, store.CountObservations());
        }
        _sessions[runId] = session;
        return session;
    }

    /// <summary>Refuses a batch with an observation no store can hold (the central season store checks the same).</summary>
    /// <exception cref="MalformedMessageException">Names the message, run, observation and the problem.</exception>
    public static void Validate(TreeObservations message)
    {
        foreach (var o in message.Observations)
        {
            Validate(message, o);
        }
    }

    private static void Validate(TreeObservations message, BlossomClusterObservation o)
    {
        string? problem =
            o.ObservationId == Guid.Empty ? "empty observationId"
            : !(o.Latitude is >= -90 and <= 90) ? $"latitude {o.Latitude} out of range"
            : !(o.Longitude is >= -180 and <= 180) ? $"longitude {o.Longitude} out of range"
            : !double.IsFinite(o.PositionSigmaM) || o.PositionSigmaM < 0 ? $"positionSigmaM {o.PositionSigmaM} is not a non-negative number"
            : !Enum.IsDefined(o.Stage) ? $"unknown stage {(int)o.Stage}"
            : o.StageProbabilities is null ? "stageProbabilities missing"
            : o.CameraId is null ? "cameraId missing"
            : o.FramesSeen < 0 || o.LastFrameSequence < o.FirstFrameSequence ? $"frame range {o.FirstFrameSequence}..{o.LastFrameSequence} is invalid"
            : null;
        if (problem is not null)
        {
            throw new MalformedMessageException($"tree-observations {message.MessageId} of run {message.RunId}: observation {o.ObservationId}: {problem}");
        }
    }

    /// <summary>
    /// Row length per planned tree from its neighbours (or the plan's spacing, else <paramref name="defaultTreeSpacingM"/>),
    /// for density per metre.
    /// </summary>
    public static Dictionary<string, double> PlannedSpacing(BlockPlan plan, double defaultTreeSpacingM)
    {
        var utm = plan.Projection();
        var result = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var row in plan.Trees.GroupBy(t => t.RowId, StringComparer.Ordinal))
        {
            var ordered = row.OrderBy(t => t.Index).ToList();
            var slots = RowLayout.Layout(ordered.Select(t => ToRowTree(utm, t.Index, t.Latitude, t.Longitude)).ToList(),
                plan.TreeSpacingM ?? defaultTreeSpacingM, 1, (1, 0));
            for (var i = 0; i < ordered.Count; i++)
            {
                result[ordered[i].Id] = slots[i].SpacingM;
            }
        }
        return result;
    }

    /// <summary>
    /// Spacing of trees the plan does not have, from their current positions (same rule as planned trees);
    /// <paramref name="fallback"/>: the run's tree spacing, else the default.
    /// </summary>
    public static Dictionary<string, double> InferredSpacing(IReadOnlyList<TreeRecord> trees, double fallback)
    {
        var result = new Dictionary<string, double>(StringComparer.Ordinal);
        var inferred = trees.Where(t => !t.InPlan && t.Latitude is not null).ToList();
        if (inferred.Count == 0)
        {
            return result;
        }
        var utm = UtmProjection.For(inferred[0].Latitude!.Value, inferred[0].Longitude!.Value);
        foreach (var row in inferred.GroupBy(t => t.RowId ?? t.TreeId, StringComparer.Ordinal))
        {
            var ordered = row.OrderBy(t => t.TreeIndex ?? 0).ToList();
            var slots = RowLayout.Layout(ordered.Select((t, i) => ToRowTree(utm, t.TreeIndex ?? i + 1, t.Latitude!.Value, t.Longitude!.Value)).ToList(), fallback, 1, (1, 0));
            for (var i = 0; i < ordered.Count; i++)
            {
                result[ordered[i].TreeId] = slots[i].SpacingM;
            }
        }
        return result;
    }

    private static RowTree ToRowTree(UtmProjection utm, int index, double lat, double lon)
    {
        var (e, n) = utm.ToUtm(lat, lon);
        return new RowTree(index, e, n);
    }

    private static string? Invariant(double? v) => v?.ToString("R", CultureInfo.InvariantCulture);

    public void Dispose()
    {
        foreach (var session in _sessions.Values)
        {
            session.Dispose();
        }
        _sessions.Clear();
        _gate.Dispose();
    }

    private sealed class RunSession(RunStore store) : IDisposable
    {
        public RunStore Store { get; } = store;

        public VarietyProfile? Profile { get; set; }

        public DateTimeOffset LastLiveUpdate { get; set; } = DateTimeOffset.MinValue;

        public void Dispose() => Store.Dispose();
    }
}
