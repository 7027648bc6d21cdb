using TreeScout.Contracts;
using TreeScout.Simulation.Scoring;

namespace TreeScout.Simulation.Tests;

/// <summary>
/// The scorer on the hand-made run (<see cref="ScorerTests"/>) scanned from both sides of its row: the per-tree counts
/// are scored against the whole tree, each side's counts against what was visible from that side.
/// </summary>
[Trait("Category", "Unit")]
public sealed class BothSidesScoreTests
{
    private static readonly ScannedFace[] BothFaces = [new("cam-left", 1, "W", RowSides.Left), new("cam-right", 1, "E", RowSides.Right)];

    /// <summary>Visible from the left / right: T001 3 / 2, T002 2 / 1, T003 0 / 0; the run saw T001 4 / 2, T002 1 / 0, X-1 (T003) 0 / 0.</summary>
    private static (GroundTruth Truth, RunResult Result) BothSidesRun()
    {
        var visible = new Dictionary<string, (int Left, int Right)> { ["R01-T001"] = (3, 2), ["R01-T002"] = (2, 1) };
        var seen = new Dictionary<string, (int Left, int Right)> { ["R01-T001"] = (4, 2), ["R01-T002"] = (1, 0), ["X-1"] = (0, 0), ["X-2"] = (2, 0) };
        var truth = ScorerTests.HandMadeTruth();
        truth = truth with
        {
            Passes = [new TruthPass(0, 1, "forward", DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch.AddSeconds(10), BothFaces)],
            Trees = [.. truth.Trees.Select(t => visible.TryGetValue(t.TreeId, out var v)
                ? t with { VisibleBySide = new Dictionary<string, int> { [RowSides.Left] = v.Left, [RowSides.Right] = v.Right } }
                : t)],
        };
        var result = ScorerTests.HandMadeResult();
        result = result with
        {
            Trees = [.. result.Trees.Select(r => r with { ClustersBySide = new Dictionary<string, int> { [RowSides.Left] = seen[r.TreeId].Left, [RowSides.Right] = seen[r.TreeId].Right } })],
        };
        return (truth, result);
    }

    [Fact]
    public void A_both_sides_run_is_scored_against_the_whole_tree_and_each_side_against_what_it_could_see()
    {
        var (truth, result) = BothSidesRun();
        Assert.Equal([RowSides.Left, RowSides.Right], truth.BothSides);
        var score = Scorer.Compute(truth, result);

        // Whole tree: reported 5, 1, 0 against 4, 3, 1: errors +1, −2, −1, MAE 4/3, bias −2/3, MAPE (¼ + ⅔ + 1)/3.
        var t = score.Trees;
        Assert.Equal("whole-tree", t.CountTruth);
        Assert.Equal(4.0 / 3, t.CountMae, 12);
        Assert.Equal(-2.0 / 3, t.CountBias, 12);
        Assert.Equal(100 * (0.25 + (2.0 / 3) + 1) / 3, t.CountMapePercent!.Value, 10);

        // Left (4,3) (1,2) (0,0): RMSE √(2/3), MAPE (⅓ + ½)/2, bias 0. Right (2,2) (0,1) (0,0): RMSE √(1/3), MAPE (0 + 1)/2, bias −⅓.
        Assert.Equal([RowSides.Left, RowSides.Right], score.Counts.Sides.Select(s => s.Side));
        var left = score.Counts.Sides[0].Accuracy;
        Assert.Equal((3, Math.Sqrt(2.0 / 3), 0.0), (left.Trees, left.Rmse, left.Bias));
        Assert.Equal(100 * ((1.0 / 3) + 0.5) / 2, left.MapePercent!.Value, 10);
        var right = score.Counts.Sides[1].Accuracy;
        Assert.Equal(Math.Sqrt(1.0 / 3), right.Rmse, 12);
        Assert.Equal(-1.0 / 3, right.Bias, 12);
        Assert.Equal(50, right.MapePercent!.Value, 10);

        // The visible (union) truth is still scored: 5, 1, 0 against 4, 2, 0.
        Assert.Equal(0, score.Counts.Visible.Raw.Bias, 12);

        var table = ScoreReport.ToTable(score);
        Assert.Contains("per-tree count error vs whole-tree truth", table, StringComparison.Ordinal);
        Assert.Contains("left side: seen vs visible from it", table, StringComparison.Ordinal);
        Assert.Contains("\"countTruth\": \"whole-tree\"", ScoreReport.ToJson(score), StringComparison.Ordinal);
    }

    [Fact]
    public void A_one_side_run_keeps_the_visible_truth_and_reports_no_sides()
    {
        var (truth, result) = BothSidesRun();
        var oneSide = truth with { Passes = [truth.Passes[0] with { Faces = [BothFaces[1]] }] };
        var score = Scorer.Compute(oneSide, result);
        Assert.Empty(oneSide.BothSides);
        Assert.Equal("visible", score.Trees.CountTruth);
        Assert.Equal(2.0 / 3, score.Trees.CountMae, 12);
        Assert.Empty(score.Counts.Sides);
    }

    [Fact]
    public void A_simulated_both_sides_run_records_what_each_side_sees_and_the_clusters_both_see()
    {
        var dir = SimulatedRuns.TempDirectory("both-sides");
        try
        {
            ScanSimulator.Run(SimulatedRuns.Small(11) with { Rows = 1, Cameras = CameraSetup.Both, BothSides = true }, dir);
            var truth = GroundTruth.Load(Path.Combine(dir, "truth.json"));
            Assert.Equal([RowSides.Left, RowSides.Right], truth.BothSides);
            Assert.Equal([(0, RowSides.Left), (1, RowSides.Right)], truth.Passes.Select(p => (p.Alley, Assert.Single(p.Faces).Side!)));
            foreach (var tree in truth.Trees.Where(t => t.Present))
            {
                // A cluster seen from both sides is in both sides' counts and once in the visible total.
                Assert.Equal(tree.VisibleTotal, tree.VisibleBySide.Values.Sum() - tree.VisibleFromBothSides);
                Assert.All(tree.VisibleBySide.Values, n => Assert.InRange(n, 0, tree.VisibleTotal));
            }
            // A fruit wall is thin: most clusters are seen from both alleys (0.67 of the visible ones on seed 3501, 3 × 12 trees).
            var present = truth.Trees.Where(t => t.Present).ToList();
            Assert.InRange(present.Sum(t => t.VisibleFromBothSides) / (double)present.Sum(t => t.VisibleTotal), 0.4, 0.9);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void A_drive_that_scans_both_sides_passes_every_row_from_each_of_its_alleys()
    {
        var both = PinholeCamera.Rig(new SimulationOptions { Cameras = CameraSetup.Both });
        Assert.Equal([(0, true), (1, false), (2, true), (3, false)], DrivePath.Alleys(3, both, bothSides: true));
        var right = PinholeCamera.Rig(new SimulationOptions { Cameras = CameraSetup.Right });
        Assert.Equal([(0, true), (1, false), (1, true), (2, false)], DrivePath.Alleys(2, right, bothSides: true));
    }
}
