using System.Globalization;
using System.Text;
using System.Text.Json;

namespace TreeScout.Simulation.Scoring;

/// <summary>The score as a table for people and as score.json for benchmarks and CI.</summary>
public static class ScoreReport
{
    public const string JsonFile = "score.json";

    public static readonly JsonSerializerOptions Json = new(GroundTruth.Json) { WriteIndented = true };

    public static string ToJson(Score score) => JsonSerializer.Serialize(score, Json);

    public static string ToTable(Score score)
    {
        var t = score.Trees;
        var c = score.Clusters;
        var s = score.Stages;
        var sb = new StringBuilder();
        void Line(string name, string value) => sb.Append(CultureInfo.InvariantCulture, $"{name,-44} {value}\n");
        sb.Append("Trees\n");
        Line("  trees standing (truth)", $"{t.TrueTrees}");
        Line("  found / missed / extra", $"{t.Found} / {t.Missed} / {t.Extra}   (by id {t.FoundById}, by position {t.FoundByPosition})");
        Line("  tree position error median / p95 (m)", $"{M(t.PositionErrorM.Median)} / {M(t.PositionErrorM.P95)}");
        Line($"  per-tree count error vs {t.CountTruth} truth", $"MAE {t.CountMae:F2} / MAPE {P(t.CountMapePercent)} / bias {t.CountBias:+0.00;-0.00;0.00}");
        Counts(sb, score.Counts);
        sb.Append("Clusters (visible from the scanned faces)\n");
        Line("  visible true clusters / observations", $"{c.VisibleTrue} / {c.Observations}");
        Line("  matched visible / hidden / false positives", $"{c.MatchedVisible} / {c.MatchedHidden} / {c.FalsePositives}   (recall {c.Recall:P1})");
        Line("  false positives by what they saw", Causes(c.FalsePositiveCauses));
        Line("  matched hidden by what they saw", Causes(c.MatchedHiddenCauses));
        Line("  attributed to the right tree", $"{c.AttributedCorrectly} = {c.AttributionShare:P1} of visible");
        Line("  low-confidence observations (matched, right tree)", $"{c.LowConfidenceObservations} ({c.LowConfidenceMatched}, {c.LowConfidenceAttributedCorrectly})");
        Line("  cluster position error median / p95 (m)", $"{M(c.HorizontalErrorM.Median)} / {M(c.HorizontalErrorM.P95)}   height {M(c.HeightErrorM.Median)} / {M(c.HeightErrorM.P95)}");
        sb.Append("Stages\n");
        Line("  compared / exact / within one stage", $"{s.Compared} / {P(s.Accuracy * 100)} / {P(s.WithinOneStage * 100)}");
        sb.Append("  confusion (rows: true, columns: reported)\n");
        sb.Append("          ").Append(string.Join(' ', s.Stages.Select(l => l[4..].PadLeft(5)))).Append("   true-visible  reported\n");
        for (var i = 0; i < s.Stages.Count; i++)
        {
            sb.Append(CultureInfo.InvariantCulture, $"  {s.Stages[i],-8}").Append(string.Join(' ', s.Confusion[i].Select(v => v.ToString(CultureInfo.InvariantCulture).PadLeft(5))))
                .Append(CultureInfo.InvariantCulture, $"   {s.TrueVisibleByStage[s.Stages[i]],12}  {s.ReportedByStage[s.Stages[i]],8}\n");
        }
        sb.Append(CultureInfo.InvariantCulture,
            $"Tolerances: cluster match {score.Options.ClusterHorizontalToleranceM} m horizontal, {score.Options.ClusterHeightToleranceM} m height; tree match {score.Options.TreeToleranceFraction} x tree spacing\n");
        return sb.ToString();
    }

    private static void Counts(StringBuilder sb, CountScore counts)
    {
        sb.Append("Per-tree counts (R² = 1 − SSE/SST, r² = squared correlation; calibrated: on the trees not hand-counted)\n");
        sb.Append(CultureInfo.InvariantCulture, $"  {"",-42} {"trees",5} {"R²",7} {"r²",6} {"RMSE",7} {"MAPE",8} {"bias",7} {"in 90 % PI",10}\n");
        foreach (var (name, truth) in new[] { ("visible", counts.Visible), ("whole-tree", counts.WholeTree) })
        {
            Row($"raw vs {name} truth", truth.Raw, null);
            if (truth.Calibrated is { } c)
            {
                Row("  raw, trees not hand-counted", c.RawAccuracy, null);
                Row($"  calibrated on {c.HandCountedTrees.Count} {name} hand counts", c.Accuracy, c.IntervalCoverage);
            }
        }
        foreach (var side in counts.Sides)
        {
            Row($"{side.Side} side: seen vs visible from it", side.Accuracy, null);
        }
        foreach (var (name, truth) in new[] { ("visible", counts.Visible), ("whole-tree", counts.WholeTree) })
        {
            if (truth.Calibrated is { } c)
            {
                sb.Append(CultureInfo.InvariantCulture,
                    $"  {name} calibration: {c.Model}, {c.Formula}, fit R² {F(c.FitR2, "0.000")}, leave-one-out MAPE {P(c.LooMapePercent)}; hand-counted {string.Join(' ', c.HandCountedTrees)}\n");
            }
            else if (truth.CalibrationError is { } error)
            {
                sb.Append(CultureInfo.InvariantCulture, $"  {name} calibration: none ({error})\n");
            }
        }

        void Row(string label, CountAccuracy a, double? coverage) => sb.Append(CultureInfo.InvariantCulture,
            $"  {label,-42} {a.Trees,5} {F(a.R2, "0.000"),7} {F(a.CorrelationR2, "0.000"),6} {a.Rmse,7:F2} {P(a.MapePercent),8} {a.Bias,7:+0.00;-0.00;0.00} {P(coverage * 100),10}\n");
    }

    private static string Causes(CauseBreakdown b) => string.Create(CultureInfo.InvariantCulture,
        $"{b.Total} = no cluster {b.NoCluster} + far row {b.FarRow} + other side {b.OtherSide} + split track {b.SplitTrack} + hidden cluster {b.HiddenCluster} + between trees {b.BetweenTrees} + misplaced {b.Misplaced}")
        + (b.IdentifiedByPosition > 0 ? string.Create(CultureInfo.InvariantCulture, $"   ({b.IdentifiedByPosition} by position: no frames)") : "");

    private static string F(double? v, string format) => v is { } x ? x.ToString(format, CultureInfo.InvariantCulture) : "-";

    private static string M(double? v) => v is { } x ? x.ToString("F3", CultureInfo.InvariantCulture) : "-";

    private static string P(double? v) => v is { } x ? x.ToString("F1", CultureInfo.InvariantCulture) + " %" : "-";
}
