using System.Globalization;
using TreeScout.MapWriter.Store;
using TreeScout.Orchard.Calibration;

namespace TreeScout.WebConsole;

/// <summary>
/// A run's hand-count calibration as the runs list, the run page and the API show it (docs/calibration.md): read from
/// the store's calibration in use, never fitted here. <see cref="Label"/> is the per-tree exports' <c>calibration</c>
/// field, <see cref="Warning"/> the poor-fit warning run.json carries.
/// </summary>
public sealed record RunCalibrationBadge(
    string Model,
    int Trees,
    double? R2,
    bool PoorFit,
    string Label,
    string? Warning,
    string Source,
    DateTimeOffset CreatedAtUtc,
    double IntervalLevel,
    string Text)
{
    public static RunCalibrationBadge? Of(StoredCalibration? calibration) => calibration is not { Fit: var fit } ? null : new(
        CountModel.Name(fit.Model.Kind),
        fit.Model.Trees,
        fit.R2,
        fit.PoorFit,
        calibration.Label,
        calibration.Warning,
        calibration.Source,
        calibration.CreatedAtUtc,
        CountModel.IntervalLevel,
        string.Create(CultureInfo.InvariantCulture,
            $"{(fit.PoorFit ? "POOR FIT: c" : "C")}alibrated by {fit.Model.Trees} hand counts ({CountModel.Name(fit.Model.Kind)}, R² {(fit.R2 is { } r2 ? r2.ToString("0.00", CultureInfo.InvariantCulture) : "n/a")})"));

    /// <summary>What the pages say of a run without a calibration (the map picture's words, <see cref="StoredCalibration.NoneText"/>).</summary>
    public static string None => StoredCalibration.NoneText;
}

/// <summary>A hand-counted tree of the calibration in use: the agronomist's count and the scan's count it was fitted on.</summary>
public sealed record HandCountEntry(string TreeId, int Clusters, int ClustersScanned);
