using Microsoft.Data.Sqlite;
using TreeScout.Labelling;
using TreeScout.MapWriter;
using TreeScout.MapWriter.Exports;
using TreeScout.MapWriter.Store;
using TreeScout.Simulation.Scoring;

namespace TreeScout.Cli.Scanning;

/// <summary>
/// The `--out` folder of a scan holds one run. The map writer keeps a run's store in that folder and reopens a store it
/// finds there, so a second scan into it would add its clusters to the first run's trees: such a folder is refused, or
/// with `--force` the earlier run's files (and only those) are removed first.
/// </summary>
public static class ScanOutput
{
    public static void Prepare(string outDirectory, bool replace)
    {
        var folder = new RunFolder(outDirectory);
        if (!File.Exists(folder.StorePath) && !File.Exists(folder.SummaryPath))
        {
            return;
        }
        if (!replace)
        {
            throw new CliException(
                $"{outDirectory} already holds {EarlierRun(folder)}: a second scan would add its clusters to that run's map. Choose another --out, or pass --force to replace that run (its {RunFolder.StoreFileName}, {RunFolder.SummaryFileName}, {ScoreReport.JsonFile}, {RunFolder.ExportsFolderName}/ and {ReviewFolder.FolderName}/; other files are kept)",
                Cli.UsageError);
        }
        var review = new ReviewFolder(outDirectory);
        var reviewed = review.SampleIds().Count(id => review.Labels(id) is not null);
        if (reviewed > 0)
        {
            // Frames kept for review of the earlier run are replaced with it, but never a reviewer's labels.
            throw new CliException($"{outDirectory} holds reviewers' labels of {reviewed} frames of {EarlierRun(folder)} in {ReviewFolder.FolderName}/: move that folder away before replacing the run", Cli.UsageError);
        }
        RunStore.Delete(folder.StorePath);
        File.Delete(folder.SummaryPath);
        File.Delete(Path.Combine(outDirectory, ScoreReport.JsonFile));
        if (Directory.Exists(folder.ExportsPath))
        {
            Directory.Delete(folder.ExportsPath, recursive: true);
        }
        if (Directory.Exists(review.Path))
        {
            Directory.Delete(review.Path, recursive: true);
        }
    }

    /// <summary>The earlier run as its store names it (run.json is only a summary of it, and absent after a crash).</summary>
    private static string EarlierRun(RunFolder folder)
    {
        try
        {
            using var store = RunStore.OpenReadOnly(folder.StorePath);
            if (store.ReadMetadata().GetValueOrDefault(RunMetadataKeys.RunId) is { } runId)
            {
                return $"run {runId}";
            }
        }
        catch (Exception ex) when (ex is RunStoreException or SqliteException)
        {
            // No readable store (only a run.json, or a damaged file) still marks the folder as a scan's.
        }
        return "an earlier scan's files";
    }
}
