namespace TreeScout.WebConsole;

/// <summary>
/// Where the console's runs come from, as the run pages and the JSON API read them: the tractor's run folders
/// (<see cref="RunMaps"/>) or the central season store (<see cref="SeasonRuns"/>, Console:Mode central). Each answers
/// with the same shapes, computed by the same code (the exports' <c>RunSnapshot</c> and GeoJSON writer), so the same
/// pages and map script show either.
/// </summary>
public interface IRunSource
{
    /// <summary>Where the runs are, for the start line and an empty list: "the run folders under /data/runs", "the season store at db:5432/treescout".</summary>
    string Origin { get; }

    /// <summary>Every run, newest first.</summary>
    Task<IReadOnlyList<RunEntry>> ListAsync(CancellationToken cancellationToken);

    /// <exception cref="UnknownRunException">No such run.</exception>
    Task<RunEntry> FindAsync(string runId, CancellationToken cancellationToken);

    /// <summary>The run page's detail, with its own prescription or previewed with another variety or target.</summary>
    Task<RunDetail> DetailAsync(string runId, string? previewVariety, double? previewTarget, CancellationToken cancellationToken);

    /// <summary>trees.geojson of the run (re-prescribed when a preview is asked for), or only the trees changed since <paramref name="since"/>.</summary>
    Task<byte[]> TreesAsync(string runId, string? previewVariety, double? previewTarget, string? since, CancellationToken cancellationToken);

    /// <summary>One download, written by the map writer's exporter.</summary>
    Task<ExportFile> ExportAsync(string runId, string formatName, string? previewVariety, double? previewTarget, CancellationToken cancellationToken);

    /// <summary>Two runs of one block: what changed in counts and in stage mix.</summary>
    Task<RunComparison> CompareAsync(string beforeId, string afterId, CancellationToken cancellationToken);
}
