using System.CommandLine;
using TreeScout.Orchard;
using TreeScout.Orchard.Calibration;
using TreeScout.Simulation;
using TreeScout.Simulation.Scoring;

namespace TreeScout.Cli.Commands;

/// <summary>`treescout score`: a scan run's store against a simulated recording's ground truth.</summary>
public static class ScoreCommand
{
    public static Command Create()
    {
        var defaults = new ScoreOptions();
        var run = new Option<string>("--run") { Description = "Run output folder of `treescout scan` (with store.gpkg)", Required = true };
        var truth = new Option<string>("--truth") { Description = "The simulated recording folder (with truth.json)", Required = true };
        var json = new Option<bool>("--json") { Description = "Print the score as JSON instead of a table" };
        var tolerance = new Option<double>("--cluster-tolerance") { Description = "Horizontal match tolerance of a cluster, metres", DefaultValueFactory = _ => defaults.ClusterHorizontalToleranceM };
        var calibrateWith = new Option<int?>("--calibrate-with")
        {
            Description = "Also score the counts calibrated on N hand-counted trees (picked as `treescout calibrate --suggest N` does, counted by the truth)",
        };
        var command = new Command("score", "Score a scan run against the simulator's ground truth: trees, per-tree counts, attribution, positions, stages. Writes RUN/score.json.")
        {
            run, truth, json, tolerance, calibrateWith,
        };
        command.SetAction(parse =>
        {
            var runDir = Path.GetFullPath(parse.GetValue(run)!);
            var truthPath = Path.Combine(Path.GetFullPath(parse.GetValue(truth)!), Recording.TruthJsonFile);
            if (!File.Exists(truthPath))
            {
                throw new CliException($"{truthPath} not found: --truth must be a recording written by `treescout simulate`", Cli.UsageError);
            }
            if (parse.GetValue(tolerance) is not (> 0 and <= 5))
            {
                throw new CliException("--cluster-tolerance must be in (0, 5] metres", Cli.UsageError);
            }
            if (parse.GetValue(calibrateWith) is < CountCalibration.MinTrees)
            {
                throw new CliException($"--calibrate-with must be at least {CountCalibration.MinTrees} trees", Cli.UsageError);
            }
            Score score;
            try
            {
                score = Scorer.Compute(GroundTruth.Load(truthPath), RunResult.ReadStore(Path.Combine(runDir, RunResult.StoreFile)),
                    defaults with { ClusterHorizontalToleranceM = parse.GetValue(tolerance), CalibrateWith = parse.GetValue(calibrateWith) });
            }
            catch (InvalidDataException ex)
            {
                throw new CliException(ex.Message);
            }
            var text = ScoreReport.ToJson(score);
            try
            {
                File.WriteAllText(Path.Combine(runDir, ScoreReport.JsonFile), text);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new CliException($"cannot write {Path.Combine(runDir, ScoreReport.JsonFile)}: {ex.Message}");
            }
            Console.Write(parse.GetValue(json) ? text + "\n" : ScoreReport.ToTable(score));
            return 0;
        });
        return command;
    }
}
