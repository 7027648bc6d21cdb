using System.Collections.Concurrent;
using System.Globalization;
using System.IO.Compression;
using TreeScout.Contracts;
using TreeScout.MapWriter.Exports;
using TreeScout.MapWriter.Prescription;
using TreeScout.MapWriter.Store;

namespace TreeScout.WebConsole;

/// <summary>
/// What a run page needs besides its trees: who, when, how it is prescribed, what went wrong, and the hand counts of its
/// calibration (<see cref="RunEntry.Calibration"/>; empty without one).
/// </summary>
public sealed record RunDetail(
    RunEntry Run,
    string? Profile,
    double? TargetClustersPerTree,
    string? PreviewProfile,
    double? PreviewTarget,
    IReadOnlyList<string> Stages,
    IReadOnlyList<string> ThinningWindow,
    IReadOnlyList<string> Warnings,
    double[]? Extent,
    IReadOnlyList<string> ExportFormats,
    IReadOnlyList<HandCountEntry> HandCounts);

/// <summary>A download: its file name, media type and bytes.</summary>
public sealed record ExportFile(string FileName, string ContentType, byte[] Content);

/// <summary>One side of a comparison: totals and the stage mix (share of clusters per stage).</summary>
public sealed record RunTotals(string RunId, string? Date, int Trees, int TreesWithClusters, long Clusters, double? MeanDensityPerM, IReadOnlyDictionary<string, double> StageShare, double ShareInWindow);

/// <summary>A tree in both runs: its clusters then and now.</summary>
public sealed record TreeChange(string TreeId, int Before, int After);

/// <summary>Two runs of one block side by side: counts, stage mix (bloom progress) and the trees that changed most.</summary>
public sealed record RunComparison(string Block, RunTotals Before, RunTotals After, IReadOnlyList<TreeChange> LargestChanges, int TreesInBoth);

/// <summary>
/// A run's map as the pages and the API serve it: read-only from its store, through the exports' own code. A run is read
/// once per store change and preview, whoever asks: the run page's detail and its trees come from the same read, and
/// every browser watching a live run gets the same bytes (or only the trees changed since the revision it has).
/// </summary>
public sealed class RunMaps(RunCatalog catalog, PrescriptionPreview preview) : IRunSource
{
    private readonly ConcurrentDictionary<(string Store, string? Variety, double? Target), RunView> _views = new();

    /// <summary>One read of a run with one preview: the snapshot, the profile it was prescribed with, and its trees per revision.</summary>
    private sealed class RunView(StoreStamp stamp, Lazy<(RunSnapshot Run, VarietyProfile? Profile, TreeFeatures Trees)> read)
    {
        public StoreStamp Stamp { get; } = stamp;

        public Lazy<(RunSnapshot Run, VarietyProfile? Profile, TreeFeatures Trees)> Read { get; } = read;
    }

    /// <summary>Download names per format; ISOXML is the TASKDATA folder zipped, as a sprayer terminal takes it from a USB stick.</summary>
    public static readonly IReadOnlyDictionary<ExportFormat, (string Extension, string ContentType)> Downloads = new Dictionary<ExportFormat, (string, string)>
    {
        [ExportFormat.GeoJson] = ("geojson.zip", "application/zip"),
        [ExportFormat.Shp] = ("shp.zip", "application/zip"),
        [ExportFormat.Gpkg] = ("gpkg", "application/geopackage+sqlite3"),
        [ExportFormat.GeoParquet] = ("parquet", "application/vnd.apache.parquet"),
        [ExportFormat.IsoXml] = ("TASKDATA.zip", "application/zip"),
        [ExportFormat.Csv] = ("csv", "text/csv"),
        [ExportFormat.Png] = ("png", "image/png"),
    };

    public string Origin => $"the run folders under {catalog.Root}";

    public Task<IReadOnlyList<RunEntry>> ListAsync(CancellationToken cancellationToken) => Task.FromResult(catalog.List());

    public Task<RunEntry> FindAsync(string runId, CancellationToken cancellationToken) => Task.FromResult(catalog.Find(runId));

    public Task<RunDetail> DetailAsync(string runId, string? previewVariety, double? previewTarget, CancellationToken cancellationToken) =>
        Task.FromResult(Detail(runId, previewVariety, previewTarget));

    public Task<byte[]> TreesAsync(string runId, string? previewVariety, double? previewTarget, string? since, CancellationToken cancellationToken) =>
        Task.FromResult(Trees(runId, previewVariety, previewTarget, since));

    public Task<RunComparison> CompareAsync(string beforeId, string afterId, CancellationToken cancellationToken) =>
        Task.FromResult(Compare(beforeId, afterId));

    public RunDetail Detail(string runId, string? previewVariety, double? previewTarget)
    {
        var entry = catalog.Find(runId);
        if (entry.Damaged is not null)
        {
            return new RunDetail(entry, null, null, null, null, StageLabels, [], [], null, [], []);
        }
        var (run, profile, _) = View(runId, previewVariety, previewTarget);
        return DetailOf(entry, run, profile);
    }

    /// <summary>The run page's detail of a run read (from a run folder or the season store), previewed with <paramref name="profile"/> when not null.</summary>
    public static RunDetail DetailOf(RunEntry entry, RunSnapshot run, VarietyProfile? profile)
    {
        var own = RunMetadataKeys.ReadProfile(run.Metadata);
        var window = own is null ? [] : BbchStages.Ordered.Where(s => s >= own.BloomWindow.First && s <= own.BloomWindow.Last).Select(BbchStages.Label).ToList();
        return new RunDetail(entry, own?.Variety, own?.TargetClustersPerTree, profile?.Variety, profile?.TargetClustersPerTree, StageLabels, window, run.Warnings, Extent(run), [.. Downloads.Keys.Select(Name)],
            [.. run.HandCounts.Select(h => new HandCountEntry(h.Count.TreeId, h.Count.Clusters, h.ClustersScanned))]);
    }

    /// <summary>trees.geojson of the run (re-prescribed when a preview is asked for), or only the trees changed since the revision <paramref name="since"/> (see <see cref="TreeFeatures"/>).</summary>
    public byte[] Trees(string runId, string? previewVariety, double? previewTarget, string? since = null) =>
        View(runId, previewVariety, previewTarget).Trees.GeoJson(since);

    /// <summary>The run as read at its store's current state: read now when the store changed since the last read.</summary>
    private (RunSnapshot Run, VarietyProfile? Profile, TreeFeatures Trees) View(string runId, string? previewVariety, double? previewTarget)
    {
        var store = catalog.StorePath(runId);
        var variety = string.IsNullOrWhiteSpace(previewVariety) ? null : previewVariety.Trim();
        var key = (store, variety, previewTarget);
        var stamp = StoreStamp.Of(store);
        var view = _views.AddOrUpdate(key,
            _ => Read(null),
            (_, known) => known.Stamp == stamp ? known : Read(known));
        try
        {
            return view.Read.Value;
        }
        catch
        {
            _views.TryRemove(KeyValuePair.Create(key, view));
            throw;
        }

        RunView Read(RunView? before) => new(stamp, new(() =>
        {
            using var opened = RunStore.OpenReadOnly(store);
            var profile = preview.Profile(opened.ReadMetadata(), variety, previewTarget);
            var run = RunSnapshot.Read(opened, PrescriptionPreview.MapOptions, profile);
            var known = before is { Read.IsValueCreated: true } ? before.Read.Value.Trees : null;
            return (run, profile, TreeFeatures.Of(run, known));
        }));
    }

    public async Task<ExportFile> ExportAsync(string runId, string formatName, string? previewVariety, double? previewTarget, CancellationToken cancellationToken)
    {
        var format = Format(formatName);
        using var store = RunStore.OpenReadOnly(catalog.StorePath(runId));
        return await ExportAsync(store, runId, format, preview.Profile(store.ReadMetadata(), previewVariety, previewTarget), cancellationToken);
    }

    /// <summary>The export format a download names; an unknown one is refused with the known ones.</summary>
    public static ExportFormat Format(string formatName) => MapExporter.TryParseFormat(formatName, out var format)
        ? format
        : throw new ExportException($"unknown export format '{formatName}'; use {string.Join(", ", Downloads.Keys.Select(Name))}");

    /// <summary>One export of a run store, written by the map writer's exporter into a scratch folder and returned as one file (zipped when it is several).</summary>
    public static async Task<ExportFile> ExportAsync(RunStore store, string runId, ExportFormat format, VarietyProfile? profile, CancellationToken cancellationToken)
    {
        var scratch = Directory.CreateTempSubdirectory("treescout-console-export-");
        try
        {
            var run = RunSnapshot.Read(store, PrescriptionPreview.MapOptions, profile);
            var files = await MapExporter.ExportAsync(run, store, [format], scratch.FullName, PrescriptionPreview.MapOptions, cancellationToken);
            var (extension, contentType) = Downloads[format];
            var name = string.Create(CultureInfo.InvariantCulture, $"{runId}{(profile is null ? "" : $"-{Slug(profile.Variety)}-{profile.TargetClustersPerTree:0.#}")}.{extension}");
            return extension.EndsWith(".zip", StringComparison.Ordinal)
                ? new ExportFile(name, contentType, Zip(scratch.FullName, files))
                : new ExportFile(name, contentType, await File.ReadAllBytesAsync(files.Single(), cancellationToken));
        }
        finally
        {
            scratch.Delete(recursive: true);
        }
    }

    /// <summary>Two runs of one block: what changed in counts and in stage mix.</summary>
    public RunComparison Compare(string beforeId, string afterId) => Compare(beforeId, View(beforeId, null, null).Run, afterId, View(afterId, null, null).Run);

    /// <summary>Two runs of one block read (from run folders or the season store): counts, stage mix, the trees that changed most.</summary>
    public static RunComparison Compare(string beforeId, RunSnapshot before, string afterId, RunSnapshot after)
    {
        if (!string.Equals(before.Block, after.Block, StringComparison.OrdinalIgnoreCase))
        {
            throw new BadRequestException($"runs {beforeId} (block {before.Block}) and {afterId} (block {after.Block}) are of different blocks");
        }
        var window = after.Profile?.BloomWindow ?? before.Profile?.BloomWindow;
        var beforeTrees = before.Trees.ToDictionary(t => t.TreeId, StringComparer.Ordinal);
        var both = after.Trees.Where(t => beforeTrees.ContainsKey(t.TreeId)).Select(t => new TreeChange(t.TreeId, beforeTrees[t.TreeId].ClustersTotal, t.ClustersTotal)).ToList();
        return new RunComparison(
            after.Block ?? "",
            Totals(beforeId, before, window),
            Totals(afterId, after, window),
            [.. both.OrderByDescending(c => Math.Abs(c.After - c.Before)).ThenBy(c => c.TreeId, StringComparer.Ordinal).Take(10)],
            both.Count);
    }

    private static RunTotals Totals(string runId, RunSnapshot run, BloomWindow? window)
    {
        var perStage = BbchStages.Ordered.ToDictionary(s => s, s => (long)run.Trees.Sum(t => t.ClustersAt(s)));
        var clusters = perStage.Values.Sum();
        var inWindow = window is null ? 0 : perStage.Where(p => p.Key >= window.First && p.Key <= window.Last).Sum(p => p.Value);
        var densities = run.Trees.Where(t => t.DensityPerM is not null).Select(t => t.DensityPerM!.Value).ToList();
        return new RunTotals(
            runId,
            run.Metadata.GetValueOrDefault(RunMetadataKeys.StartedAt),
            run.Trees.Count,
            run.Trees.Count(t => t.ClustersTotal > 0),
            clusters,
            densities.Count == 0 ? null : Math.Round(densities.Average(), 3),
            perStage.ToDictionary(p => BbchStages.Label(p.Key), p => clusters == 0 ? 0 : Math.Round((double)p.Value / clusters, 4), StringComparer.Ordinal),
            clusters == 0 ? 0 : Math.Round((double)inWindow / clusters, 4));
    }

    private static readonly IReadOnlyList<string> StageLabels = [.. BbchStages.Ordered.Select(BbchStages.Label)];

    /// <summary>[west, south, east, north] of the run's trees, null when none is placed.</summary>
    private static double[]? Extent(RunSnapshot run)
    {
        var placed = run.Trees.Where(t => t.Latitude is not null && t.Longitude is not null).ToList();
        return placed.Count == 0 ? null : [placed.Min(t => t.Longitude!.Value), placed.Min(t => t.Latitude!.Value), placed.Max(t => t.Longitude!.Value), placed.Max(t => t.Latitude!.Value)];
    }

    public static string Name(ExportFormat format) => format.ToString().ToLowerInvariant();

    private static string Slug(string text) => new([.. text.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-')]);

    /// <summary>The files, with their paths below the scratch folder (TASKDATA/TASKDATA.XML stays in its folder).</summary>
    private static byte[] Zip(string root, IReadOnlyList<string> files)
    {
        using var buffer = new MemoryStream();
        using (var zip = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var file in files.SelectMany(f => Directory.Exists(f) ? Directory.EnumerateFiles(f, "*", SearchOption.AllDirectories) : [f]).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
            {
                zip.CreateEntryFromFile(file, Path.GetRelativePath(root, file).Replace('\\', '/'), CompressionLevel.Optimal);
            }
        }
        return buffer.ToArray();
    }
}
