using TreeScout.MapWriter.Exports;
using TreeScout.Orchard.Calibration;

namespace TreeScout.MapWriter.Calibration;

/// <summary>
/// A calibration as `treescout calibrate --json` prints it and run.json keeps it. <see cref="Mape"/> is the
/// leave-one-out MAPE in % (each hand-counted tree predicted by the model fitted on the others); <see cref="R2"/> and
/// <see cref="Rmse"/> are the chosen model's on the hand-counted trees (docs/calibration.md).
/// </summary>
public sealed record CalibrationReport(
    string Model,
    int Trees,
    double? R2,
    double Rmse,
    double? Mape,
    bool PoorFit,
    string Formula,
    double Intercept,
    double Slope,
    double IntervalLevel,
    double? LooRmseProportional,
    double? LooRmseLinear,
    string Source,
    DateTimeOffset CreatedAtUtc,
    bool UsedForPrescription)
{
    /// <summary>The snapshot's calibration (null without one); it sets the prescription whenever the run has a variety profile.</summary>
    public static CalibrationReport? From(RunSnapshot run) => run.Calibration is not { } calibration ? null : new(
        CountModel.Name(calibration.Fit.Model.Kind),
        calibration.Fit.Model.Trees,
        Round(calibration.Fit.R2),
        Round(calibration.Fit.Rmse)!.Value,
        Round(calibration.Fit.LooMapePercent),
        calibration.Fit.PoorFit,
        calibration.Fit.Model.Formula,
        calibration.Fit.Model.Intercept,
        calibration.Fit.Model.Slope,
        CountModel.IntervalLevel,
        Round(calibration.Fit.LooRmseProportional),
        Round(calibration.Fit.LooRmseLinear),
        calibration.Source,
        calibration.CreatedAtUtc,
        UsedForPrescription: run.Profile is not null);

    /// <summary>Four decimals: enough for a count's fit, short enough to read.</summary>
    private static double? Round(double? v) => v is { } x ? Math.Round(x, 4) : null;
}
