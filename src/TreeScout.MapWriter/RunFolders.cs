using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using TreeScout.Contracts;

namespace TreeScout.MapWriter;

/// <summary>Where a run's output lives: store.gpkg, run.json and exports/ (docs/recording-format.md, "Run output").</summary>
public interface IRunFolders
{
    /// <summary>The folder every run folder is in (or the one folder every run is written to): the disk whose space is watched.</summary>
    string Root { get; }

    string FolderOf(string runId);
}

/// <summary>The worker's default: {StoreRoot}/{runId}.</summary>
public sealed class StoreRootRunFolders(IOptions<MapWriterOptions> options) : IRunFolders
{
    public string Root => Path.GetFullPath(options.Value.StoreRoot);

    public string FolderOf(string runId) =>
        RunIds.IsValid(runId)
            ? Path.Combine(Root, runId)
            : throw new ArgumentException($"'{runId}' is not a valid run id", nameof(runId));
}

/// <summary>Every run goes into one given folder (`treescout scan --out OUT` writes the run's output directly in OUT).</summary>
public sealed class FixedRunFolder(string folder) : IRunFolders
{
    public string Root => Path.GetFullPath(folder);

    public string FolderOf(string runId) => Path.GetFullPath(folder);
}

public static class RunFolderServiceCollectionExtensions
{
    /// <summary>One-line override of where runs are written, e.g. for `treescout scan --out OUT`.</summary>
    public static IServiceCollection UseRunFolder(this IServiceCollection services, string folder)
    {
        services.RemoveAll<IRunFolders>();
        return services.AddSingleton<IRunFolders>(new FixedRunFolder(folder));
    }
}

/// <summary>The files of one run folder.</summary>
public sealed record RunFolder(string Path)
{
    public const string StoreFileName = "store.gpkg";
    public const string SummaryFileName = "run.json";
    public const string ExportsFolderName = "exports";

    public string StorePath => System.IO.Path.Combine(Path, StoreFileName);

    public string SummaryPath => System.IO.Path.Combine(Path, SummaryFileName);

    public string ExportsPath => System.IO.Path.Combine(Path, ExportsFolderName);
}
