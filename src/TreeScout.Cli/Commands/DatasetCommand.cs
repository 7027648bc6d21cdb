using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using TreeScout.Labelling;
using TreeScout.MapWriter;

namespace TreeScout.Cli.Commands;

/// <summary>
/// `treescout dataset export`: reviewed frames of runs as a COCO dataset; `treescout dataset next`: which frames of a
/// run to review next (docs/labelling.md). Frames never leave the tractor except through an export.
/// </summary>
public static class DatasetCommand
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public static Command Create()
    {
        var command = new Command("dataset", "Datasets from reviewed frames: export them as COCO, pick what to review next");
        command.Subcommands.Add(Export());
        command.Subcommands.Add(Next());
        return command;
    }

    private static Option<string?> RunsRoot() =>
        new("--runs") { Description = "Folder of run folders (default: $TREESCOUT__MapWriter__StoreRoot or /var/lib/treescout/runs)" };

    private static Command Export()
    {
        var run = new Option<string[]>("--run") { Description = "A run folder, or a run id under --runs (repeatable)", AllowMultipleArgumentsPerToken = false };
        var all = new Option<bool>("--all") { Description = "Every run under --runs that has frames kept for review" };
        var runs = RunsRoot();
        var output = new Option<string>("--out") { Description = "Dataset folder: new, empty, or a dataset made by this command (added to)", Required = true };
        var json = new Option<bool>("--json") { Description = "Print the report as JSON" };
        var command = new Command("export", "Write the frames reviewers labelled as a COCO dataset (annotations.json + images/); skipped and unreviewed frames stay out")
        {
            run, all, runs, output, json,
        };
        command.SetAction(parse =>
        {
            var named = parse.GetValue(run) ?? [];
            if ((named.Length > 0) == parse.GetValue(all))
            {
                throw new CliException("give either --run DIR (repeatable) or --all", Cli.UsageError);
            }
            var root = Root(parse.GetValue(runs));
            try
            {
                var folders = named.Length > 0 ? named.Select(r => RunFolder(r, root)).ToList() : DatasetExport.RunFoldersUnder(root);
                if (folders.Count == 0)
                {
                    throw new CliException($"no run under {root} has frames kept for review");
                }
                var report = DatasetExport.Export(folders, parse.GetRequiredValue(output), DateTimeOffset.UtcNow);
                Console.WriteLine(parse.GetValue(json) ? JsonSerializer.Serialize(report, Json) : Describe(report));
                foreach (var problem in report.Problems)
                {
                    Console.Error.WriteLine($"left out {problem}");
                }
                return 0;
            }
            catch (DatasetException ex)
            {
                throw new CliException(ex.Message, Cli.UsageError);
            }
        });
        return command;
    }

    private static Command Next()
    {
        var run = new Option<string>("--run") { Description = "A run folder, or a run id under --runs", Required = true };
        var runs = RunsRoot();
        var count = new Option<int>("--count") { Description = "How many frames", DefaultValueFactory = _ => 20 };
        var gap = new Option<int>("--min-gap") { Description = "Frames of one camera closer than this many frames to a picked one come last", DefaultValueFactory = _ => ReviewQueue.DefaultMinFrameGap };
        var json = new Option<bool>("--json") { Description = "Print the frames as JSON" };
        var command = new Command("next", "List the run's unreviewed frames worth reviewing first: most uncertain, spread over the run")
        {
            run, runs, count, gap, json,
        };
        command.SetAction(parse =>
        {
            if (parse.GetValue(count) < 1 || parse.GetValue(gap) < 0)
            {
                throw new CliException("--count must be at least 1 and --min-gap at least 0", Cli.UsageError);
            }
            var folder = new ReviewFolder(RunFolder(parse.GetRequiredValue(run), Root(parse.GetValue(runs))));
            try
            {
                var next = ReviewQueue.Next(folder, parse.GetValue(count), parse.GetValue(gap));
                if (parse.GetValue(json))
                {
                    Console.WriteLine(JsonSerializer.Serialize(next.Select(s => new { s.Id, s.CameraId, s.Sequence, s.Uncertainty, s.Reason, Proposals = s.Proposals.Count }), Json));
                }
                else
                {
                    foreach (var s in next)
                    {
                        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{s.Id}  uncertainty {s.Uncertainty:0.00}  {s.Proposals.Count} proposals  {s.Reason}"));
                    }
                }
                Console.Error.WriteLine($"{next.Count} of the {folder.Progress().ToReview} frames not reviewed yet");
                return 0;
            }
            catch (ReviewFileException ex)
            {
                throw new CliException(ex.Message);
            }
        });
        return command;
    }

    private static string Root(string? runs) =>
        runs ?? Environment.GetEnvironmentVariable("TREESCOUT__MapWriter__StoreRoot") ?? new MapWriterOptions().StoreRoot;

    private static string RunFolder(string run, string root)
    {
        if (Directory.Exists(run))
        {
            return run;
        }
        var underRoot = Path.Combine(root, run);
        return Directory.Exists(underRoot)
            ? underRoot
            : throw new CliException($"--run {run}: no such run folder, nor a run id under {root}", Cli.UsageError);
    }

    private static string Describe(DatasetExportReport r) => string.Join('\n',
        $"dataset {r.Dataset} ({r.Folder}): {r.Images} images ({r.NegativeImages} without clusters), {r.Boxes} boxes, blocks {string.Join(", ", r.Blocks.Select(b => b.Length == 0 ? "(none)" : b))}",
        $"  {r.Exported} frames exported now, {r.KeptFromBefore} kept from earlier exports",
        $"  left out: {r.Skipped} skipped by the reviewer, {r.Unreviewed} not reviewed yet, {r.Problems.Count} with a problem (listed on stderr)");
}
