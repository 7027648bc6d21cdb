using System.Globalization;
using TreeScout.MapWriter.Exports;
using TreeScout.MapWriter.Store;
using TreeScout.Orchard;
using TreeScout.Orchard.Calibration;

namespace TreeScout.MapWriter.Calibration;

/// <summary>What `treescout calibrate --counts` did to a run.</summary>
public sealed record CalibrationOutcome(string RunId, StoredCalibration Calibration, CalibrationReport Report, IReadOnlyList<string>? Exports, bool SummaryUpdated);

/// <summary>
/// Hand-count calibration of a run (docs/calibration.md): reads the counts file against the run's trees, fits, and
/// only then stores the calibration with its hand counts, re-prescribes from the calibrated counts, refreshes the run
/// folder's exports/ and run.json. Anything refused (the file, a fit that cannot be made, a poor fit not accepted)
/// leaves the store as it was.
/// </summary>
public static class RunCalibration
{
    public static async Task<CalibrationOutcome> CalibrateAsync(string storePath, string countsPath, bool acceptPoorFit, DateTimeOffset now, MapWriterOptions options, CancellationToken cancellationToken)
    {
        Dictionary<string, int> scanned;
        using (var reader = RunStore.OpenReadOnly(storePath))
        {
            scanned = reader.ReadTrees().ToDictionary(t => t.TreeId, t => t.ClustersTotal, StringComparer.Ordinal);
        }
        var counts = HandCountFile.Load(countsPath, scanned.Keys.ToHashSet(StringComparer.Ordinal));
        CalibrationFit fit;
        try
        {
            fit = CountCalibration.Fit(counts.Select(c => new CalibrationPoint(scanned[c.TreeId], c.Clusters)).ToList());
        }
        catch (CalibrationException ex)
        {
            throw new CalibrationException($"{countsPath}: {ex.Message}", ex);
        }
        if (fit.PoorFit && !acceptPoorFit)
        {
            var r2 = fit.R2 is { } v ? v.ToString("0.00", CultureInfo.InvariantCulture) : "undefined, every hand count the same";
            throw new CalibrationException(
                $"{countsPath}: the calibration fits poorly (R² {r2} < {CountCalibration.PoorFitR2.ToString(CultureInfo.InvariantCulture)}, {CountModel.Name(fit.Model.Kind)}, {fit.Model.Trees} trees): nothing stored. Check that the right trees were counted, each whole tree; or store it anyway with --accept-poor-fit");
        }
        using var store = RunStore.OpenOrCreate(storePath);
        var profile = RunMetadataKeys.ReadProfile(store.ReadMetadata());
        store.SaveCalibration(counts.Select(c => new StoredHandCount(c, scanned[c.TreeId])).ToList(), fit, Path.GetFileName(countsPath), now, profile);
        var snapshot = RunSnapshot.Read(store, options);
        var folder = new RunFolder(Path.GetDirectoryName(store.Path)!);
        // A run still being written has no exports/ yet: the map writer writes them, calibrated, when it finishes.
        var exports = Directory.Exists(folder.ExportsPath) ? await RunExports.RefreshAsync(snapshot, store, folder, options, cancellationToken) : null;
        var report = CalibrationReport.From(snapshot)!;
        var summary = File.Exists(folder.SummaryPath);
        if (summary)
        {
            RunSummary.Recalibrated(folder, report, snapshot.Warnings, exports);
        }
        store.Checkpoint();
        return new CalibrationOutcome(snapshot.RunId, snapshot.Calibration!, report, exports, summary);
    }

    /// <summary>The trees worth counting by hand (<see cref="HandCountSuggestion"/>), in walking order.</summary>
    public static IReadOnlyList<TreeRecord> Suggest(string storePath, int count)
    {
        using var store = RunStore.OpenReadOnly(storePath);
        var trees = store.ReadTrees().Where(t => t.Latitude is not null && t.Longitude is not null).ToList();
        if (trees.Count == 0)
        {
            return [];
        }
        var utm = UtmProjection.For(trees[0].Latitude!.Value, trees[0].Longitude!.Value);
        var candidates = trees.Select(t =>
        {
            var (e, n) = utm.ToUtm(t.Latitude!.Value, t.Longitude!.Value);
            return new SuggestionCandidate(t.TreeId, t.RowId, t.TreeIndex, t.ClustersTotal, e, n);
        }).ToList();
        var byId = trees.ToDictionary(t => t.TreeId, StringComparer.Ordinal);
        return HandCountSuggestion.Suggest(candidates, count).Select(c => byId[c.TreeId]).ToList();
    }
}
