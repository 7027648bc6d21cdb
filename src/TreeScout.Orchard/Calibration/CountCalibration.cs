using System.Globalization;

namespace TreeScout.Orchard.Calibration;

public enum CountModelKind
{
    /// <summary>hand = slope × scanned: the scan misses (or adds) a fixed share of each tree's clusters.</summary>
    Proportional,

    /// <summary>hand = intercept + slope × scanned: a share plus a fixed number per tree (e.g. far-row clusters on every tree).</summary>
    Linear,
}

/// <summary>One hand-counted tree: the scan's count of it and the agronomist's.</summary>
public readonly record struct CalibrationPoint(double Scanned, double Hand);

/// <summary>A tree's calibrated count and its prediction interval (clusters; never below 0).</summary>
public sealed record CountPrediction(double Clusters, double Low, double High);

/// <summary>The calibration could not be fitted; the message says why and what to count instead.</summary>
public sealed class CalibrationException : Exception
{
    public CalibrationException(string message)
        : base(message)
    {
    }

    public CalibrationException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public CalibrationException()
    {
    }
}

/// <summary>
/// A fitted least-squares model of hand count on scanned count, with what its prediction interval needs: the residual
/// standard deviation s on <see cref="DegreesOfFreedom"/>, and the spread of the scanned counts that sets a tree's
/// leverage h (proportional: h = x²/Σxᵢ²; linear: h = 1/n + (x − x̄)²/Σ(xᵢ − x̄)²).
/// </summary>
/// <param name="SumOfSquares">Σxᵢ² (proportional) or Σ(xᵢ − x̄)² (linear) over the hand-counted trees' scanned counts.</param>
public sealed record CountModel(CountModelKind Kind, double Intercept, double Slope, int Trees, double ResidualSd, double ScannedMean, double SumOfSquares)
{
    /// <summary>Two-sided coverage of <see cref="Predict"/>'s interval.</summary>
    public const double IntervalLevel = 0.90;

    public int DegreesOfFreedom => Trees - (Kind == CountModelKind.Linear ? 2 : 1);

    /// <summary>Student-t quantile of the interval: t(1 − (1 − level)/2, n − p).</summary>
    public double TQuantile => StudentT.Quantile(1 - ((1 - IntervalLevel) / 2), DegreesOfFreedom);

    /// <summary>
    /// The textbook OLS prediction interval for one new tree: ŷ ± t·s·√(1 + h). Counts cannot be negative, so the
    /// estimate and the interval's ends are cut at 0.
    /// </summary>
    public CountPrediction Predict(double scanned) => Predict(scanned, TQuantile);

    /// <summary>The calibrated count alone (what the prescription uses): a + b·x, cut at 0.</summary>
    public double Calibrate(double scanned) => Math.Max(0, Intercept + (Slope * scanned));

    /// <summary><see cref="Predict(double)"/> with the t quantile computed once for many trees.</summary>
    public CountPrediction Predict(double scanned, double tQuantile)
    {
        var estimate = Intercept + (Slope * scanned);
        var leverage = Kind == CountModelKind.Linear
            ? (1.0 / Trees) + ((scanned - ScannedMean) * (scanned - ScannedMean) / SumOfSquares)
            : scanned * scanned / SumOfSquares;
        var half = tQuantile * ResidualSd * Math.Sqrt(1 + leverage);
        return new CountPrediction(Math.Max(0, estimate), Math.Max(0, estimate - half), Math.Max(0, estimate + half));
    }

    public string Formula => Kind == CountModelKind.Linear
        ? string.Create(CultureInfo.InvariantCulture, $"hand = {Intercept:0.##} + {Slope:0.####} * scanned")
        : string.Create(CultureInfo.InvariantCulture, $"hand = {Slope:0.####} * scanned");

    public static string Name(CountModelKind kind) => kind == CountModelKind.Linear ? "linear" : "proportional";

    public static bool TryParseName(string? name, out CountModelKind kind)
    {
        kind = name == "linear" ? CountModelKind.Linear : CountModelKind.Proportional;
        return name is "linear" or "proportional";
    }
}

/// <summary>
/// A calibration as reported to the agronomist. <see cref="R2"/> = 1 − SSE/SST of the chosen model on the hand-counted
/// trees (null when every hand count is the same); <see cref="Rmse"/> = √(SSE/n); the leave-one-out figures predict each
/// hand-counted tree from a model fitted on the others, so they say how the calibration does on a tree it has not seen.
/// </summary>
public sealed record CalibrationFit(CountModel Model, double? R2, double Rmse, double? LooMapePercent, double? LooRmseProportional, double? LooRmseLinear)
{
    /// <summary>R² below <see cref="CountCalibration.PoorFitR2"/> (or undefined): stored only when the agronomist insists, and flagged.</summary>
    public bool PoorFit => R2 is not >= CountCalibration.PoorFitR2;
}

/// <summary>
/// Per-block calibration of scanned per-tree counts on an agronomist's hand counts (docs/calibration.md): both models
/// are fitted by ordinary least squares, the one with the smaller leave-one-out RMSE is kept (the proportional one on a
/// tie: one parameter fewer).
/// </summary>
public static class CountCalibration
{
    public const int MinTrees = 3;

    public const double PoorFitR2 = 0.5;

    public static CalibrationFit Fit(IReadOnlyList<CalibrationPoint> points)
    {
        if (points.Count < MinTrees)
        {
            throw new CalibrationException($"{TreesCounted(points.Count)}; a calibration needs at least {MinTrees}");
        }
        if (points.Any(p => !double.IsFinite(p.Scanned) || !double.IsFinite(p.Hand) || p.Scanned < 0 || p.Hand < 0))
        {
            throw new CalibrationException("counts must be finite and not negative");
        }
        var looProportional = LeaveOneOut(CountModelKind.Proportional, points);
        var looLinear = LeaveOneOut(CountModelKind.Linear, points);
        if (looProportional is null && looLinear is null)
        {
            throw new CalibrationException(
                "the hand-counted trees' scanned counts are too alike to fit a calibration (at most one of them above 0, or all equal): count trees with low, middle and high counts (see --suggest)");
        }
        var kind = looLinear is not null && (looProportional is null || looLinear.Value.Rmse < looProportional.Value.Rmse)
            ? CountModelKind.Linear
            : CountModelKind.Proportional;
        var model = FitModel(kind, points)!;
        var sse = points.Sum(p => Square(p.Hand - (model.Intercept + (model.Slope * p.Scanned))));
        var mean = points.Average(p => p.Hand);
        var sst = points.Sum(p => Square(p.Hand - mean));
        var chosen = kind == CountModelKind.Linear ? looLinear!.Value : looProportional!.Value;
        return new CalibrationFit(
            model,
            sst > 0 ? 1 - (sse / sst) : null,
            Math.Sqrt(sse / points.Count),
            chosen.MapePercent,
            looProportional?.Rmse,
            looLinear?.Rmse);
    }

    /// <summary>The least-squares fit of one model, or null when the points do not determine it or leave it no degree of freedom.</summary>
    public static CountModel? FitModel(CountModelKind kind, IReadOnlyList<CalibrationPoint> points)
    {
        var df = points.Count - (kind == CountModelKind.Linear ? 2 : 1);
        if (df < 1 || Coefficients(kind, points) is not { } c)
        {
            return null;
        }
        var sse = points.Sum(p => Square(p.Hand - (c.Intercept + (c.Slope * p.Scanned))));
        return new CountModel(kind, c.Intercept, c.Slope, points.Count, Math.Sqrt(sse / df), c.MeanX, c.Spread);
    }

    /// <summary>Least-squares coefficients; null when all scanned counts are 0 (proportional) or all equal (linear).</summary>
    private static (double Intercept, double Slope, double MeanX, double Spread)? Coefficients(CountModelKind kind, IReadOnlyList<CalibrationPoint> points)
    {
        if (points.Count == 0)
        {
            return null;
        }
        var meanX = points.Average(p => p.Scanned);
        if (kind == CountModelKind.Proportional)
        {
            var sumX2 = points.Sum(p => p.Scanned * p.Scanned);
            return sumX2 > 0 ? (0, points.Sum(p => p.Scanned * p.Hand) / sumX2, meanX, sumX2) : null;
        }
        var sxx = points.Sum(p => Square(p.Scanned - meanX));
        if (sxx <= 0)
        {
            return null;
        }
        var meanY = points.Average(p => p.Hand);
        var slope = points.Sum(p => (p.Scanned - meanX) * (p.Hand - meanY)) / sxx;
        return (meanY - (slope * meanX), slope, meanX, sxx);
    }

    /// <summary>
    /// Each point predicted by the model fitted on the others: RMSE, and MAPE over hand counts above 0. Null when a fit
    /// without some point is not determined (e.g. the only tree with a scanned count above 0 left out).
    /// </summary>
    private static (double Rmse, double? MapePercent)? LeaveOneOut(CountModelKind kind, IReadOnlyList<CalibrationPoint> points)
    {
        double squares = 0, relative = 0;
        var withHand = 0;
        for (var i = 0; i < points.Count; i++)
        {
            if (Coefficients(kind, points.Where((_, j) => j != i).ToList()) is not { } c)
            {
                return null;
            }
            var p = points[i];
            var error = c.Intercept + (c.Slope * p.Scanned) - p.Hand;
            squares += error * error;
            if (p.Hand > 0)
            {
                relative += Math.Abs(error) / p.Hand;
                withHand++;
            }
        }
        return (Math.Sqrt(squares / points.Count), withHand == 0 ? null : 100 * relative / withHand);
    }

    /// <summary>"1 tree counted", "2 trees counted".</summary>
    public static string TreesCounted(int n) => n == 1 ? "1 tree counted" : $"{n} trees counted";

    private static double Square(double v) => v * v;
}
