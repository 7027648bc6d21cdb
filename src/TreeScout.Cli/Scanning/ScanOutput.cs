using System.Text.Json;
using System.Text.Json.Nodes;
using TreeScout.MapWriter;
using TreeScout.Simulation.Scoring;

namespace TreeScout.Cli.Scanning;

/// <summary>
/// The `--out` folder of a scan holds one run. The map writer keeps a run's store in that folder and reopens a store it
/// finds there, so a second scan into it would add its clusters to the first run's trees: such a folder is refused, or
/// with `--force` the earlier run's files (and only those) are removed first.
/// </summary>
public static class ScanOutput
{
    private static readonly string[] RunFiles = [RunFolder.StoreFileName, RunFolder.StoreFileName + "-wal", RunFolder.StoreFileName + "-shm", RunFolder.StoreFileName + "-journal", RunFolder.SummaryFileName, ScoreReport.JsonFile];

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
        foreach (var file in RunFiles)
        {
            File.Delete(Path.Combine(outDirectory, file));
        }
        if (Directory.Exists(folder.ExportsPath))
        {
            Directory.Delete(folder.ExportsPath, recursive: true);
        }
    }

    private static string EarlierRun(RunFolder folder)
    {
        try
        {
            if (File.Exists(folder.SummaryPath) && JsonNode.Parse(File.ReadAllText(folder.SummaryPath))?["runId"]?.GetValue<string>() is { } runId)
            {
                return $"run {runId}";
            }
        }
        catch (Exception ex) when (ex is JsonException or IOException or InvalidOperationException)
        {
            // An unreadable run.json still marks the folder as a scan's.
        }
        return "an earlier scan's store";
    }
}
