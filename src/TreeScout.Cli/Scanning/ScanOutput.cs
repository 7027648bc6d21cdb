using Microsoft.Data.Sqlite;
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
                $"{outDirectory} already holds {EarlierRun(folder)}: a second scan would add its clusters to that run's map. Choose another --out, or pass --force to replace that run (its {RunFolder.StoreFileName}, {RunFolder.SummaryFileName}, {ScoreReport.JsonFile} and {RunFolder.ExportsFolderName}/; other files are kept)",
                Cli.UsageError);
        }
        RunStore.Delete(folder.StorePath);
        File.Delete(folder.SummaryPath);
        File.Delete(Path.Combine(outDirectory, ScoreReport.JsonFile));
        if (Directory.Exists(folder.ExportsPath))
        {
            Directory.Delete(folder.ExportsPath, recursive: true);
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
