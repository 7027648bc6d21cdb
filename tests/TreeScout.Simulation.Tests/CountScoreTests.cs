using TreeScout.Simulation.Scoring;

namespace TreeScout.Simulation.Tests;

/// <summary>
/// Per-tree count accuracy against the visible and the whole-tree truth, raw and calibrated, on the scorer's hand-made
/// run: standing T001 (4 visible of 4), T002 (2 of 3), T003 (0 of 1); the run reports 5, 1 and 0 (X-1 at T003), and
/// X-2 with 2 clusters at the gap where no tree stands.
/// </summary>
[Trait("Category", "Unit")]
public sealed class CountScoreTests
{
    [Fact]
    public void Raw_counts_are_scored_against_both_truths()
    {
        var counts = Scorer.Compute(ScorerTests.HandMadeTruth(), ScorerTests.HandMadeResult()).Counts;
        Assert.Null(counts.CalibrateWith);

        // Visible (5,4) (1,2) (0,0): SSE 2, SST Σ(t − 2)² = 8, so R² 0.75; r² = 10²/(8·14); RMSE √(2/3); MAPE (¼ + ½)/2.
        var v = counts.Visible.Raw;
        Assert.Equal(3, v.Trees);
        Assert.Equal(0.75, v.R2!.Value, 12);
        Assert.Equal(100.0 / 112, v.CorrelationR2!.Value, 12);
        Assert.Equal(Math.Sqrt(2.0 / 3), v.Rmse, 12);
        Assert.Equal(37.5, v.MapePercent!.Value, 12);
        Assert.Equal(0, v.Bias, 12);
        Assert.Null(counts.Visible.Calibrated);

        // Whole tree (5,4) (1,3) (0,1): SSE 6, SST 14/3, so R² 1 − 18/14; r² = 7²/(14/3 · 14); MAPE (¼ + ⅔ + 1)/3; bias −⅔.
        var w = counts.WholeTree.Raw;
        Assert.Equal(1 - (18.0 / 14), w.R2!.Value, 12);
        Assert.Equal(0.75, w.CorrelationR2!.Value, 12);
        Assert.Equal(Math.Sqrt(2), w.Rmse, 12);
        Assert.Equal(100 * (0.25 + (2.0 / 3) + 1) / 3, w.MapePercent!.Value, 10);
        Assert.Equal(-2.0 / 3, w.Bias, 12);
    }

    /// <summary>
    /// With 3 hand counts the --suggest rule takes the run's three trees with clusters, T002 (1), X-2 (2), T001 (5), and
    /// the agronomist counts what stands there: 3, nothing and 4 (whole tree). Proportional a = 23/30 beats the line on
    /// leave-one-out RMSE (1.777 against 8.131). Scored on T003, the only standing tree not counted: 0 calibrated, truth 1.
    /// </summary>
    [Fact]
    public void Calibrated_counts_are_fitted_on_the_suggested_trees_and_scored_on_the_others()
    {
        var counts = Scorer.Compute(ScorerTests.HandMadeTruth(), ScorerTests.HandMadeResult(), new ScoreOptions { CalibrateWith = 3 }).Counts;
        Assert.Equal(3, counts.CalibrateWith);

        var whole = counts.WholeTree.Calibrated!;
        Assert.Equal(["R01-T001", "R01-T002", "X-2"], whole.HandCountedTrees);
        Assert.Equal("proportional", whole.Model);
        Assert.Equal("hand = 0.7667 * scanned", whole.Formula);
        Assert.Equal(0.15, whole.FitR2!.Value, 12);
        Assert.Equal(51.00574712643677, whole.LooMapePercent!.Value, 9);
        Assert.Equal(new CountAccuracy(1, null, null, 1, 100, -1), whole.Accuracy);
        Assert.Equal(new CountAccuracy(1, null, null, 1, 100, -1), whole.RawAccuracy); // T003 scanned 0 as well
        Assert.Equal(1.0, whole.IntervalCoverage); // T003's interval at 0 scanned: 0 to t(0.95, 2) · s = 5.6 holds its 1

        // Visible hand counts 2, 0, 4: a = 22/30, fit R² 1 − 3.8667/8; T003's visible truth is 0: no error, no MAPE.
        var visible = counts.Visible.Calibrated!;
        Assert.Equal(1 - (3.8666666666666663 / 8), visible.FitR2!.Value, 12);
        Assert.Equal(new CountAccuracy(1, null, null, 0, null, 0), visible.Accuracy);
        Assert.Equal(1.0, visible.IntervalCoverage);
    }

    [Fact]
    public void A_calibration_that_cannot_be_fitted_is_reported_with_the_reason()
    {
        // Asking for 3 trees of a run where only one has clusters: one hand count, no calibration.
        var result = ScorerTests.HandMadeResult();
        var sparse = result with { Trees = [.. result.Trees.Select(t => t.TreeId == "R01-T001" ? t : t with { ClustersTotal = 0 })] };
        var counts = Scorer.Compute(ScorerTests.HandMadeTruth(), sparse, new ScoreOptions { CalibrateWith = 3 }).Counts;
        Assert.Null(counts.WholeTree.Calibrated);
        Assert.Equal("1 tree counted; a calibration needs at least 3", counts.WholeTree.CalibrationError);
    }
}
