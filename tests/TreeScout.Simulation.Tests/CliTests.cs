using System.Diagnostics;
using System.Text.Json;
using TreeScout.Simulation.Scoring;

namespace TreeScout.Simulation.Tests;

/// <summary>`treescout simulate` and `treescout score` as a user runs them: exit codes and one clear error line.</summary>
[Trait("Category", "Unit")]
public sealed class CliTests
{
    private static (int Exit, string Out, string Err) Treescout(IDictionary<string, string>? environment, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Path.GetTempPath() };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "treescout.dll"));
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }
        foreach (var (k, v) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[k] = v;
        }
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(3)), "treescout did not finish");
        return (process.ExitCode, stdout.Result, stderr);
    }

    private static readonly Dictionary<string, string> WithShared = new() { ["TREESCOUT_SHARED"] = Path.GetDirectoryName(Path.GetDirectoryName(SimulatedRuns.Crops))! };

    [Theory]
    [InlineData("--row-spacing", "-3.5", "--row-spacing must be 2..8 m (got -3.5)")]
    [InlineData("--tree-spacing", "-1", "--tree-spacing must be 0.4..6 m (got -1)")]
    [InlineData("--gnss", "galileo-ppp", "--gnss 'galileo-ppp' is not a fix type; use rtk, float, dgps or autonomous")]
    [InlineData("--camera-rotation", "90", "--camera-rotation must be 0 or 180 (got 90)")]
    [InlineData("--gnss-outage", "soon", "--gnss-outage 'soon' must be START:DURATION in seconds, e.g. 20:5")]
    public void Bad_simulate_arguments_give_one_clear_line_and_a_usage_exit_code(string option, string value, string message)
    {
        var output = SimulatedRuns.TempDirectory("cli-bad");
        var (exit, _, err) = Treescout(WithShared, "simulate", "--out", output, option, value);
        Assert.Equal(2, exit);
        Assert.Equal($"treescout: {message}", err.TrimEnd('\n'));
        Assert.False(Directory.Exists(output) && Directory.EnumerateFiles(output, "*", SearchOption.AllDirectories).Any());
    }

    [Fact]
    public void An_output_that_cannot_be_a_directory_is_refused()
    {
        var file = Path.GetTempFileName();
        try
        {
            var (exit, _, err) = Treescout(WithShared, "simulate", "--out", Path.Combine(file, "run"), "--no-frames");
            Assert.Equal(2, exit);
            Assert.Single(err.TrimEnd('\n').Split('\n'));
            Assert.StartsWith($"treescout: output directory {Path.Combine(file, "run")} is not writable:", err, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Missing_shared_data_is_named()
    {
        var (exit, _, err) = Treescout(new Dictionary<string, string> { ["TREESCOUT_SHARED"] = "/nonexistent/shared" }, "simulate", "--out", SimulatedRuns.TempDirectory("cli-noshared"));
        Assert.Equal(2, exit);
        Assert.Equal("treescout: TREESCOUT_SHARED=/nonexistent/shared has no data/bbch", err.TrimEnd('\n'));
    }

    [Fact]
    public void Score_prints_and_writes_the_exact_score_of_a_hand_made_run()
    {
        var dir = SimulatedRuns.TempDirectory("cli-score");
        var run = Path.Combine(dir, "run");
        var truth = Path.Combine(dir, "truth");
        Directory.CreateDirectory(run);
        Directory.CreateDirectory(truth);
        try
        {
            ScorerTests.HandMadeTruth().Save(Path.Combine(truth, "truth.json"));
            ScorerTests.WriteStore(Path.Combine(run, RunResult.StoreFile), ScorerTests.HandMadeResult());
            var (exit, stdout, err) = Treescout(null, "score", "--run", run, "--truth", truth, "--json");
            Assert.True(exit == 0, err);
            using var json = JsonDocument.Parse(stdout);
            Assert.Equal(0.5, json.RootElement.GetProperty("clusters").GetProperty("attributionShare").GetDouble(), 9);
            Assert.Equal(1, json.RootElement.GetProperty("trees").GetProperty("extra").GetInt32());
            Assert.Equal(stdout.TrimEnd('\n'), File.ReadAllText(Path.Combine(run, ScoreReport.JsonFile)));

            var table = Treescout(null, "score", "--run", run, "--truth", truth);
            Assert.Equal(0, table.Exit);
            var lines = table.Out.Split('\n');
            Assert.Contains(lines, l => l.Contains("found / missed / extra", StringComparison.Ordinal) && l.Contains(" 3 / 0 / 1 ", StringComparison.Ordinal));
            Assert.Contains(lines, l => l.Contains("attributed to the right tree", StringComparison.Ordinal) && l.EndsWith(" 3 = 50.0 % of visible", StringComparison.Ordinal));

            // Per-tree counts, raw and calibrated on 3 hand counts (worked out in CountScoreTests).
            var calibrated = Treescout(null, "score", "--run", run, "--truth", truth, "--calibrate-with", "3");
            Assert.True(calibrated.Exit == 0, calibrated.Err);
            Assert.Contains("  raw vs visible truth                           3   0.750  0.893    0.82   37.5 %    0.00          -\n", calibrated.Out, StringComparison.Ordinal);
            Assert.Contains("    calibrated on 3 whole-tree hand counts       1       -      -    1.00  100.0 %   -1.00    100.0 %\n", calibrated.Out, StringComparison.Ordinal);
            Assert.Contains("  whole-tree calibration: proportional, hand = 0.7667 * scanned, fit R² 0.150, leave-one-out MAPE 51.0 %; hand-counted R01-T001 R01-T002 X-2\n", calibrated.Out, StringComparison.Ordinal);
            using (var counts = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, ScoreReport.JsonFile))))
            {
                var whole = counts.RootElement.GetProperty("counts").GetProperty("wholeTree");
                Assert.Equal(Math.Sqrt(2), whole.GetProperty("raw").GetProperty("rmse").GetDouble(), 12);
                Assert.Equal(0.15, whole.GetProperty("calibrated").GetProperty("fitR2").GetDouble(), 12);
            }
            var tooFew = Treescout(null, "score", "--run", run, "--truth", truth, "--calibrate-with", "2");
            Assert.Equal(2, tooFew.Exit);
            Assert.Equal("treescout: --calibrate-with must be at least 3 trees", tooFew.Err.TrimEnd('\n'));

            var missing = Treescout(null, "score", "--run", truth, "--truth", truth);
            Assert.Equal(1, missing.Exit);
            Assert.StartsWith($"treescout: {Path.Combine(truth, RunResult.StoreFile)}: run store not found", missing.Err, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
