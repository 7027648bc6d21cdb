using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Options;
using TreeScout.Contracts;
using TreeScout.MapWriter;
using TreeScout.MapWriter.Exports;
using TreeScout.MapWriter.Store;

namespace TreeScout.WebConsole;

/// <summary>
/// One run as the runs list shows it; <see cref="Damaged"/> says why a folder could not be read, <see cref="Calibration"/>
/// is null for counts as scanned. <see cref="Folder"/> is the run folder on the tractor; a run of the season store (central
/// mode) has none, and has its <see cref="Tractor"/>, <see cref="Farm"/> and <see cref="Season"/> instead.
/// </summary>
public sealed record RunEntry(
    string RunId,
    string? Folder,
    string? Block,
    string? Variety,
    DateTimeOffset? Date,
    string State,
    int Trees,
    int TreesWithClusters,
    IReadOnlyList<string> Models,
    IReadOnlyList<string> Warnings,
    string? Damaged,
    RunCalibrationBadge? Calibration = null)
{
    public const string Complete = "complete";
    public const string Running = "running";
    public const string DamagedState = "damaged";

    public string? Tractor { get; init; }

    public string? Farm { get; init; }

    public int? Season { get; init; }
}

/// <summary>A run id the catalog does not know; the API answers 404 with this message.</summary>
public sealed class UnknownRunException(string message) : Exception(message);

/// <summary>
/// The runs under Console:Runs: the folder itself when it is a run folder (`treescout scan --out`), and every folder in it
/// with a store.gpkg or a run.json. Stores are opened read-only and only re-read when their files change. A folder that
/// cannot be read is listed as damaged with the reason; it never fails the list.
/// </summary>
public sealed class RunCatalog(IOptions<ConsoleOptions> options)
{
    private readonly ConcurrentDictionary<string, (StoreStamp Stamp, RunEntry Entry)> _cache = new(StringComparer.Ordinal);

    public string Root => Path.GetFullPath(options.Value.Runs);

    /// <summary>Every run, newest first (undated and damaged ones last).</summary>
    public IReadOnlyList<RunEntry> List()
    {
        var entries = new List<RunEntry>();
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var folder in RunFolders())
        {
            var entry = Describe(folder);
            // Two copies of one run (a folder copied for safekeeping) are told apart by their folder names.
            if (!ids.Add(entry.RunId))
            {
                entry = entry with { RunId = Path.GetFileName(folder) };
                ids.Add(entry.RunId);
            }
            entries.Add(entry);
        }
        return [.. entries.OrderByDescending(e => e.Date ?? DateTimeOffset.MinValue).ThenBy(e => e.RunId, StringComparer.Ordinal)];
    }

    public RunEntry Find(string runId) =>
        List().FirstOrDefault(e => e.RunId == runId) ?? throw new UnknownRunException($"unknown run '{runId}': no run folder under {Root} has it");

    /// <summary>The run's store, checked readable; a damaged run is refused with its reason.</summary>
    public string StorePath(string runId)
    {
        var entry = Find(runId);
        return entry.Damaged is { } reason
            ? throw new RunStoreException($"run {runId} is damaged: {reason}")
            : new RunFolder(entry.Folder!).StorePath;
    }

    private IEnumerable<string> RunFolders()
    {
        var root = Root;
        if (!Directory.Exists(root))
        {
            yield break;
        }
        if (IsRunFolder(root))
        {
            yield return root;
        }
        foreach (var folder in Directory.EnumerateDirectories(root).Order(StringComparer.Ordinal))
        {
            if (!Path.GetFileName(folder).StartsWith('.') && IsRunFolder(folder))
            {
                yield return folder;
            }
        }
    }

    private static bool IsRunFolder(string folder)
    {
        var run = new RunFolder(folder);
        return File.Exists(run.StorePath) || File.Exists(run.SummaryPath);
    }

    private RunEntry Describe(string folder)
    {
        var run = new RunFolder(folder);
        var stamp = StoreStamp.Of(run.StorePath);
        if (_cache.TryGetValue(folder, out var cached) && cached.Stamp == stamp)
        {
            return cached.Entry;
        }
        var entry = Read(run);
        _cache[folder] = (stamp, entry);
        return entry;
    }

    private static RunEntry Read(RunFolder run)
    {
        var name = Path.GetFileName(run.Path);
        if (!File.Exists(run.StorePath))
        {
            return Damaged(name, run.Path, $"no {RunFolder.StoreFileName} in the run folder (only {RunFolder.SummaryFileName})");
        }
        try
        {
            using var store = RunStore.OpenReadOnly(run.StorePath);
            var metadata = store.ReadMetadata();
            var trees = store.ReadTrees();
            var runId = metadata.GetValueOrDefault(RunMetadataKeys.RunId) is { } id && RunIds.IsValid(id) ? id : name;
            return new RunEntry(
                runId,
                run.Path,
                metadata.GetValueOrDefault(RunMetadataKeys.Block),
                metadata.GetValueOrDefault(RunMetadataKeys.Variety),
                DateTimeOffset.TryParse(metadata.GetValueOrDefault(RunMetadataKeys.StartedAt), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var started) ? started : null,
                metadata.GetValueOrDefault(RunMetadataKeys.Status) == "complete" ? RunEntry.Complete : RunEntry.Running,
                trees.Count,
                trees.Count(t => t.ClustersTotal > 0),
                Models(metadata),
                RunMetadataKeys.ReadWarnings(metadata),
                Damaged: null,
                RunCalibrationBadge.Of(store.ReadCalibration()));
        }
        catch (Exception ex) when (ex is RunStoreException or Microsoft.Data.Sqlite.SqliteException or JsonException or InvalidCastException or FormatException or IOException or UnauthorizedAccessException)
        {
            return Damaged(name, run.Path, ex.Message);
        }
    }

    private static RunEntry Damaged(string name, string folder, string reason) =>
        new(name, folder, null, null, null, RunEntry.DamagedState, 0, 0, [], [], reason);

    private static List<string> Models(IReadOnlyDictionary<string, string?> metadata) =>
        metadata.GetValueOrDefault(RunMetadataKeys.Models) is { Length: > 0 } json
            ? [.. (JsonSerializer.Deserialize<List<ModelIdentity>>(json, RunMetadataKeys.Json) ?? []).Select(m => $"{m.Name} {m.Version}")]
            : [];

}

/// <summary>What makes anything read from a store stale: the store or its WAL changed.</summary>
public readonly record struct StoreStamp(long Length, DateTime Written, long WalLength, DateTime WalWritten)
{
    public static StoreStamp Of(string store)
    {
        var main = new FileInfo(store);
        var wal = new FileInfo(store + "-wal");
        return new StoreStamp(main.Exists ? main.Length : -1, main.Exists ? main.LastWriteTimeUtc : default, wal.Exists ? wal.Length : -1, wal.Exists ? wal.LastWriteTimeUtc : default);
    }
}
