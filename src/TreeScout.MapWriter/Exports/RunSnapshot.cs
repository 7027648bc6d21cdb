using System.Globalization;
using System.Text.Json;
using NetTopologySuite.Algorithm;
using NetTopologySuite.Geometries;
using TreeScout.Contracts;
using TreeScout.MapWriter.Prescription;
using TreeScout.MapWriter.Store;
using TreeScout.Orchard;

namespace TreeScout.MapWriter.Exports;

/// <summary>A tree and its canopy zone polygon (WGS84, exterior ring counter-clockwise).</summary>
public sealed record TreeZone(TreeRecord Tree, Polygon Zone);

/// <summary>
/// Everything the exports need, read once from the store in one read transaction: per-tree values exactly as stored
/// (or re-prescribed in memory with another profile by <see cref="TreeAggregate.Prescribe"/>, never written back),
/// calibrated counts when the run has a hand-count calibration, zones, metadata, warnings.
/// </summary>
/// <param name="Represcribed">True when <see cref="Trees"/> carry another profile's prescription than the store's.</param>
public sealed record RunSnapshot(
    string RunId,
    IReadOnlyDictionary<string, string?> Metadata,
    IReadOnlyList<TreeRecord> Trees,
    IReadOnlyList<TreeZone> Zones,
    BlockPlan? Plan,
    VarietyProfile? Profile,
    bool Represcribed,
    IReadOnlyList<string> Warnings)
{
    public static readonly GeometryFactory Wgs84 = new(new PrecisionModel(), 4326);

    public string? Block => Metadata.GetValueOrDefault(RunMetadataKeys.Block);

    public string? Variety => Metadata.GetValueOrDefault(RunMetadataKeys.Variety);

    /// <summary>The hand-count calibration in use: the trees' calibrated counts and prescription come from it.</summary>
    public StoredCalibration? Calibration { get; init; }

    /// <summary>The hand counts of <see cref="Calibration"/>, exported with the run.</summary>
    public IReadOnlyList<StoredHandCount> HandCounts { get; init; } = [];

    /// <summary>
    /// A run's per-tree values without writing anything, for showing them or previewing another variety's
    /// prescription: opens the store at <paramref name="storePath"/> read-only (a finished store immutable, one still
    /// being written through its WAL, whose last commit it sees), reads one snapshot and closes the store. With
    /// <paramref name="profile"/> every tree carries that profile's prescription (<see cref="TreeAggregate.Prescribe"/>,
    /// on calibrated counts when the run has a calibration) and the bloom-timing warning is that profile's; without, the
    /// run's own. Counts, stages, density, confidence, frames and mean score are the stored values, which
    /// <see cref="TreeAggregate.Of"/> computed from the tree's clusters when they were stored. Unlike `treescout export`,
    /// not even a left-over -wal is folded into the store.
    /// </summary>
    /// <param name="options">Fallback tree and row spacing for the zones of a run that recorded none; defaults otherwise.</param>
    /// <exception cref="RunStoreException">No store at the path, not a run store, or unreadable; the message names the file.</exception>
    public static RunSnapshot ReadOnly(string storePath, VarietyProfile? profile = null, MapWriterOptions? options = null)
    {
        using var store = RunStore.OpenReadOnly(storePath);
        return Read(store, options ?? new MapWriterOptions(), profile);
    }

    /// <summary>Reads the snapshot every export is written from; a store that cannot be read is reported as corrupt.</summary>
    /// <param name="profileOverride">Prescribe with this profile instead of the run's own (in memory; the store is not written).</param>
    /// <exception cref="RunStoreException">The store's tables or metadata cannot be read; the message names the file.</exception>
    public static RunSnapshot Read(RunStore store, MapWriterOptions options, VarietyProfile? profileOverride = null)
    {
        try
        {
            var fallbackRunId = Path.GetFileName(Path.GetDirectoryName(store.Path)) ?? "run";
            return Of(store.ReadRun(), fallbackRunId, options, profileOverride);
        }
        catch (Exception ex) when (ex is Microsoft.Data.Sqlite.SqliteException or JsonException or BlockPlanException or InvalidCastException or InvalidDataException)
        {
            throw new RunStoreException($"{store.Path}: corrupt or unreadable run store: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// The snapshot of a run's stored metadata, trees and calibration, wherever they were read from (a run store, or the
    /// central season store's runs and trees tables): calibrated counts, the preview's prescription, zones and warnings
    /// computed as for every export.
    /// </summary>
    public static RunSnapshot Of(StoredRun stored, string fallbackRunId, MapWriterOptions options, VarietyProfile? profileOverride = null)
    {
        var (metadata, trees, calibration, handCounts) = stored;
        var profile = profileOverride ?? RunMetadataKeys.ReadProfile(metadata);
        if (calibration is not null)
        {
            var model = calibration.Fit.Model;
            var t = model.TQuantile;
            trees = trees.Select(tree => tree with { Calibrated = model.Predict(tree.ClustersTotal, t), Calibration = calibration.Label }).ToList();
        }
        if (profileOverride is not null)
        {
            trees = trees.Select(t => TreeAggregate.Prescribe(t, profileOverride, calibration?.Fit.Model)).ToList();
        }
        var plan = RunMetadataKeys.ReadPlan(metadata);
        var warnings = new List<string>(RunMetadataKeys.ReadWarnings(metadata));
        if (calibration?.Warning is { } poorFit)
        {
            warnings.Add(poorFit);
        }
        if (profile is not null && ThinningPrescription.BloomTimingWarning(profile, ClustersPerStage(trees)) is { } timing && !warnings.Contains(timing))
        {
            warnings.Add(timing);
        }
        var runId = metadata.GetValueOrDefault(RunMetadataKeys.RunId) ?? fallbackRunId;
        return new RunSnapshot(runId, metadata, trees, BuildZones(trees, plan, metadata, options), plan, profile, profileOverride is not null, warnings)
        {
            Calibration = calibration,
            HandCounts = handCounts,
        };
    }

    /// <summary>The block's stage mix (confident clusters per stage over all trees), for the bloom-timing check.</summary>
    private static Dictionary<BbchStage, long> ClustersPerStage(IReadOnlyList<TreeRecord> trees) =>
        BbchStages.Ordered.Select((stage, i) => (stage, i)).ToDictionary(x => x.stage, x => trees.Sum(t => (long)t.ClustersPerStage[x.i]));

    /// <summary>Per-row layout of the trees (see <see cref="RowLayout"/>) turned back into WGS84 polygons.</summary>
    private static List<TreeZone> BuildZones(IReadOnlyList<TreeRecord> trees, BlockPlan? plan, IReadOnlyDictionary<string, string?> metadata, MapWriterOptions options)
    {
        var placed = trees.Where(t => t.Latitude is not null && t.Longitude is not null).ToList();
        if (placed.Count == 0)
        {
            return [];
        }
        var projection = plan?.Projection() ?? UtmProjection.For(placed[0].Latitude!.Value, placed[0].Longitude!.Value);
        var rowSpacing = RunMetadataKeys.ReadNumber(metadata, RunMetadataKeys.RowSpacingM) ?? plan?.RowSpacingM ?? options.DefaultRowSpacingM;
        var treeSpacing = RunMetadataKeys.ReadNumber(metadata, RunMetadataKeys.TreeSpacingM) ?? plan?.TreeSpacingM ?? options.DefaultTreeSpacingM;
        var zones = new List<TreeZone>(placed.Count);
        foreach (var row in placed.GroupBy(t => t.RowId ?? t.TreeId, StringComparer.Ordinal))
        {
            var ordered = row.OrderBy(t => t.TreeIndex ?? 0).ThenBy(t => t.TreeId, StringComparer.Ordinal).ToList();
            var utm = ordered.Select((t, i) =>
            {
                var (e, n) = projection.ToUtm(t.Latitude!.Value, t.Longitude!.Value);
                return new RowTree(t.TreeIndex ?? i + 1, e, n);
            }).ToList();
            var slots = RowLayout.Layout(utm, treeSpacing, rowSpacing, RowDirection(plan, row.Key, projection));
            for (var i = 0; i < ordered.Count; i++)
            {
                var ring = slots[i].Zone.Select(c =>
                {
                    var (lat, lon) = projection.ToWgs84(c.Easting, c.Northing);
                    return new Coordinate(lon, lat);
                }).ToList();
                ring.Add(ring[0]);
                var coordinates = ring.ToArray();
                if (!Orientation.IsCCW(coordinates))
                {
                    Array.Reverse(coordinates);
                }
                zones.Add(new TreeZone(ordered[i], Wgs84.CreatePolygon(coordinates)));
            }
        }
        return zones;
    }

    private static (double E, double N) RowDirection(BlockPlan? plan, string rowId, UtmProjection projection)
    {
        var line = plan?.Rows.FirstOrDefault(r => r.Id == rowId)?.Line;
        if (line is not { Count: >= 2 })
        {
            return (1, 0);
        }
        var a = projection.ToUtm(line[0].Latitude, line[0].Longitude);
        var b = projection.ToUtm(line[^1].Latitude, line[^1].Longitude);
        var d = Math.Sqrt(Math.Pow(b.Easting - a.Easting, 2) + Math.Pow(b.Northing - a.Northing, 2));
        return d < 1e-6 ? (1, 0) : ((b.Easting - a.Easting) / d, (b.Northing - a.Northing) / d);
    }
}

/// <summary>Keys of the store's run_metadata table and how their values are encoded.</summary>
public static class RunMetadataKeys
{
    public const string RunId = "run_id";
    public const string Block = "block";
    public const string Variety = "variety";
    public const string VarietyProfileJson = "variety_profile";
    public const string Source = "source";
    public const string StartedAt = "started_at";
    public const string FinishedAt = "finished_at";
    public const string Status = "status";
    public const string TreeSpacingM = "tree_spacing_m";
    public const string RowSpacingM = "row_spacing_m";
    public const string BlockPlanGeoJson = "block_plan_geojson";
    public const string Cameras = "cameras";
    public const string Models = "models";
    public const string Gnss = "gnss_summary";
    public const string Fused = "fusion_summary";
    public const string WarningsJson = "warnings";

    /// <summary>JSON <see cref="MapWriter.ReviewCounts"/>: what became of the frames sent for review.</summary>
    public const string ReviewCounts = "review_counts";

    public const string StatusComplete = "complete";

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    public static double? ReadNumber(IReadOnlyDictionary<string, string?> metadata, string key) =>
        metadata.GetValueOrDefault(key) is { } v && double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : null;

    public static VarietyProfile? ReadProfile(IReadOnlyDictionary<string, string?> metadata) =>
        metadata.GetValueOrDefault(VarietyProfileJson) is { Length: > 0 } json ? JsonSerializer.Deserialize<VarietyProfile>(json, Json) : null;

    public static BlockPlan? ReadPlan(IReadOnlyDictionary<string, string?> metadata) =>
        metadata.GetValueOrDefault(BlockPlanGeoJson) is { Length: > 0 } json ? BlockPlan.Parse(json, "run_metadata.block_plan_geojson") : null;

    /// <summary>The detector and stage models the run was fused with (from <c>RunFused</c>); empty before it.</summary>
    public static IReadOnlyList<ModelIdentity> ReadModels(IReadOnlyDictionary<string, string?> metadata) =>
        metadata.GetValueOrDefault(Models) is { Length: > 0 } json ? JsonSerializer.Deserialize<List<ModelIdentity>>(json, Json) ?? [] : [];

    public static ReviewCounts ReadReviewCounts(IReadOnlyDictionary<string, string?> metadata) =>
        metadata.GetValueOrDefault(ReviewCounts) is { Length: > 0 } json ? JsonSerializer.Deserialize<ReviewCounts>(json, Json) ?? new(0, 0, 0) : new(0, 0, 0);

    public static IReadOnlyList<string> ReadWarnings(IReadOnlyDictionary<string, string?> metadata) =>
        metadata.GetValueOrDefault(WarningsJson) is { Length: > 0 } json ? JsonSerializer.Deserialize<List<string>>(json, Json) ?? [] : [];
}
