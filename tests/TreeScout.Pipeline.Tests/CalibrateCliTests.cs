using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Xml.Linq;
using TreeScout.MapWriter;
using TreeScout.MapWriter.Store;
using TreeScout.Orchard;
using TreeScout.Simulation;
using TreeScout.Tests;
using Xunit;
using Xunit.Abstractions;

namespace TreeScout.Pipeline.Tests;

/// <summary>`treescout calibrate` as an agronomist runs it on a scanned run (the simulated one, so the hand counts come from its truth).</summary>
[Collection(ScanCollection.Name)]
[Trait("Category", "Unit")]
public sealed class CalibrateCliTests(ScanFixture scan, ITestOutputHelper output)
{
    /// <summary>A copy of the scanned run's folder: each test calibrates its own (its counts files go next to it, in NAME-counts/).</summary>
    private string CopyOfRun(string name)
    {
        Directory.CreateDirectory(Path.Combine(scan.Root, name + "-counts"));
        return scan.CopyOf(scan.EmbeddedOut, name);
    }

    private Task<ToolResult> TreescoutAsync(params string[] args) => TreescoutCli.RunAsync(output, TimeSpan.FromMinutes(5), args);

    private async Task<List<string>> SuggestedAsync(string run, int n)
    {
        var suggested = await TreescoutAsync("calibrate", "--run", run, "--suggest", n.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(0, suggested.ExitCode);
        return [.. suggested.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(l => l.TrimEnd(','))];
    }

    /// <summary>The agronomist's counts of the suggested trees: every cluster on the whole tree, from the simulator's truth.</summary>
    private string HandCounts(string run, IEnumerable<string> trees, Func<TruthTree, int>? count = null)
    {
        var truth = GroundTruth.Load(Path.Combine(scan.Recording, Recording.TruthJsonFile)).Trees.ToDictionary(t => t.TreeId);
        var path = Path.Combine(run + "-counts", "hand.csv");
        File.WriteAllText(path, "tree_id,clusters\n" + string.Join("\n", trees.Select(id => $"{id},{(count ?? (t => t.ClustersTotal))(truth[id])}")) + "\n");
        return path;
    }

    private static Dictionary<string, string> Hashes(string folder) =>
        Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).ToDictionary(f => Path.GetRelativePath(folder, f), f => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))));

    [Fact]
    public async Task Suggest_prints_the_same_counts_file_to_fill_in_every_time()
    {
        var run = CopyOfRun("suggest");
        var first = await TreescoutAsync("calibrate", "--run", run, "--suggest", "5");
        var again = await TreescoutAsync("calibrate", "--run", run, "--suggest", "5");

        Assert.Equal(0, first.ExitCode);
        Assert.Equal(first.Stdout, again.Stdout);
        var lines = first.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("tree_id,clusters", lines[0]);
        Assert.Equal(5, lines.Skip(1).Distinct().Count());
        Assert.All(lines.Skip(1), l => Assert.Matches("^R01-T00[1-8],$", l));
        Assert.Contains("spread over the range of scanned counts and along the rows", first.Stderr, StringComparison.Ordinal);

        var json = await TreescoutAsync("calibrate", "--run", run, "--suggest", "5", "--json");
        var trees = JsonNode.Parse(json.Stdout)!.AsArray();
        Assert.Equal(lines.Skip(1).Select(l => l.TrimEnd(',')), trees.Select(t => (string?)t!["treeId"]));
        Assert.All(trees, t => Assert.InRange((double)t!["latitude"]!, -90, 90));
    }

    [Fact]
    public async Task Hand_counts_calibrate_the_run_and_its_exports_and_summary_say_so()
    {
        var run = CopyOfRun("calibrated");
        var counts = HandCounts(run, await SuggestedAsync(run, 5));

        var result = await TreescoutAsync("calibrate", "--run", run, "--counts", counts, "--json");

        Assert.Equal(0, result.ExitCode);
        var report = JsonNode.Parse(result.Stdout)!;
        Assert.Contains((string?)report["model"], new[] { "proportional", "linear" });
        Assert.Equal(5, (int)report["trees"]!);
        Assert.InRange((double)report["r2"]!, 0.5, 1);
        Assert.True((double)report["rmse"]! >= 0);
        Assert.True((double)report["mape"]! >= 0);
        Assert.False((bool)report["poorFit"]!);

        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(run, RunFolder.SummaryFileName)))!;
        Assert.Equal((double)report["slope"]!, (double)summary["calibration"]!["slope"]!);
        Assert.NotNull(summary["scan"]); // what the scan wrote is kept
        var csv = File.ReadAllLines(Path.Combine(run, "exports", "trees.csv"));
        var column = Array.IndexOf(csv[0].Split(','), "clusters_calibrated");
        Assert.All(csv.Skip(1), line => Assert.True(double.Parse(line.Split(',')[column], System.Globalization.CultureInfo.InvariantCulture) >= 0));
        Assert.Equal(File.ReadAllLines(counts).Skip(1).Select(l => l.Split(',')[0]),
            File.ReadAllLines(Path.Combine(run, "exports", "hand_counts.csv")).Skip(1).Select(l => l.Split(',')[0]));
        var task = XDocument.Load(Path.Combine(run, "exports", "TASKDATA", "TASKDATA.XML")).Root!.Element("TSK")!;
        Assert.StartsWith("Calibrated thinning ", (string?)task.Attribute("B"), StringComparison.Ordinal);

        // Exported again later, the hand counts and the calibration are still there.
        var again = await TreescoutAsync("export", "--run", run, "--out", Path.Combine(run, "later"), "--format", "csv");
        Assert.Equal(0, again.ExitCode);
        Assert.True(File.Exists(Path.Combine(run, "later", "hand_counts.csv")));
    }

    [Fact]
    public async Task Bad_counts_and_usage_are_refused_with_one_line_exit_2_and_nothing_changed()
    {
        var run = CopyOfRun("refused");
        var before = Hashes(run);
        var trees = await SuggestedAsync(run, 4);
        var unknown = Path.Combine(run + "-counts", "unknown.csv");
        File.WriteAllText(unknown, $"tree_id,clusters\n{trees[0]},30\nR09-T001,25\n{trees[1]},40\n{trees[2]},12\n");
        var negative = Path.Combine(run + "-counts", "negative.csv");
        File.WriteAllText(negative, $"tree_id,clusters\n{trees[0]},30\n{trees[1]},40\n{trees[2]},-12\n");
        var few = Path.Combine(run + "-counts", "few.csv");
        File.WriteAllText(few, $"tree_id,clusters\n{trees[0]},30\n{trees[1]},40\n");

        foreach (var (args, message) in new[]
        {
            (new[] { "--counts", unknown }, $"treescout: {unknown}:3: tree 'R09-T001' is not a tree of this run (tree ids as in the exports, e.g. R01-T007)"),
            (["--counts", negative], $"treescout: {negative}:4: clusters -12 is negative; a count is 0 or more"),
            (["--counts", few], $"treescout: {few}: 2 trees counted; a calibration needs at least 3 (`treescout calibrate --suggest 10` lists trees worth counting)"),
            (["--counts", Path.Combine(run + "-counts", "missing.csv")], $"treescout: {Path.Combine(run + "-counts", "missing.csv")}: cannot read: Could not find file '{Path.Combine(run + "-counts", "missing.csv")}'."),
            ([], "treescout: give either --counts FILE (hand counts to calibrate with) or --suggest N (trees worth counting)"),
            (["--suggest", "2"], "treescout: --suggest 2: a calibration needs at least 3 trees (10 is a good number)"),
        })
        {
            var result = await TreescoutAsync(["calibrate", "--run", run, .. args]);
            Assert.Equal(2, result.ExitCode);
            Assert.Equal(message, result.Stderr.TrimEnd('\n'));
            Assert.Equal("", result.Stdout);
        }
        Assert.Equal(before, Hashes(run));
    }

    [Fact]
    public async Task A_poor_fit_is_stored_only_with_accept_poor_fit_and_then_flagged_in_every_output()
    {
        var run = CopyOfRun("poor");
        var suggested = (await SuggestedAsync(run, 6)).ToHashSet();
        List<string> trees;
        using (var store = RunStore.OpenReadOnly(Path.Combine(run, RunFolder.StoreFileName)))
        {
            trees = [.. store.ReadTrees().Where(t => suggested.Contains(t.TreeId)).OrderBy(t => t.ClustersTotal).Select(t => t.TreeId)];
        }
        // Counts that do not follow the scan's: from the lowest scanned count up, these go up and down and end low.
        int[] hand = [60, 5, 50, 10, 40, 2];
        var counts = Path.Combine(run + "-counts", "poor.csv");
        File.WriteAllText(counts, "tree_id,clusters\n" + string.Join("\n", trees.Select((id, i) => $"{id},{hand[i]}")) + "\n");
        var before = Hashes(run);

        var refused = await TreescoutAsync("calibrate", "--run", run, "--counts", counts);
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("the calibration fits poorly (R² ", refused.Stderr, StringComparison.Ordinal);
        Assert.Equal(before, Hashes(run));

        var accepted = await TreescoutAsync("calibrate", "--run", run, "--counts", counts, "--accept-poor-fit");
        Assert.Equal(0, accepted.ExitCode);
        Assert.StartsWith("POOR FIT (stored with --accept-poor-fit) calibration of run ", accepted.Stdout, StringComparison.Ordinal);
        Assert.Contains("  warning: the hand-count calibration fits poorly", accepted.Stdout, StringComparison.Ordinal);
        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(run, RunFolder.SummaryFileName)))!;
        Assert.True((bool)summary["calibration"]!["poorFit"]!);
        Assert.Contains(summary["warnings"]!.AsArray(), w => ((string?)w)!.StartsWith("the hand-count calibration fits poorly", StringComparison.Ordinal));
        var csv = File.ReadAllLines(Path.Combine(run, "exports", "trees.csv"));
        var column = Array.IndexOf(csv[0].Split(','), "calibration");
        Assert.All(csv.Skip(1), line => Assert.StartsWith("POOR FIT n=6 R2=", line.Split(',')[column], StringComparison.Ordinal));
        var task = XDocument.Load(Path.Combine(run, "exports", "TASKDATA", "TASKDATA.XML")).Root!.Element("TSK")!;
        Assert.StartsWith("POOR FIT calibrated thinning", (string?)task.Attribute("B"), StringComparison.Ordinal);
        using var geojson = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "exports", "trees.geojson")));
        Assert.All(geojson.RootElement.GetProperty("features").EnumerateArray(),
            f => Assert.StartsWith("POOR FIT", f.GetProperty("properties").GetProperty("calibration").GetString(), StringComparison.Ordinal));
    }
}
