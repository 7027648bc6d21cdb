using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using TreeScout.MapWriter;
using TreeScout.MapWriter.Calibration;
using TreeScout.MapWriter.Exports;
using TreeScout.MapWriter.Store;
using TreeScout.Orchard.Calibration;

namespace TreeScout.Cli.Commands;

/// <summary>`treescout calibrate`: fit a run's per-tree counts to an agronomist's hand counts, or list the trees worth counting (docs/calibration.md).</summary>
public static class CalibrateCommand
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static Command Create()
    {
        var run = new Option<string>("--run") { Description = "Run id under the store root, or a run folder, or a store.gpkg path", Required = true };
        var counts = new Option<string?>("--counts") { Description = "Hand counts: CSV with a header tree_id,clusters (optional per-stage columns bbch53 … bbch71)" };
        var suggest = new Option<int?>("--suggest") { Description = "List N trees worth counting by hand, as a counts file to fill in" };
        var json = new Option<bool>("--json") { Description = "Print the result as JSON" };
        var acceptPoorFit = new Option<bool>("--accept-poor-fit") { Description = $"Store a calibration whose R² is below {CountCalibration.PoorFitR2.ToString(CultureInfo.InvariantCulture)} (it is flagged in every output)" };
        var storeRoot = new Option<string?>("--store-root") { Description = "Folder of run folders (default: $TREESCOUT__MapWriter__StoreRoot or /var/lib/treescout/runs)" };
        var command = new Command("calibrate", "Calibrate a run's per-tree blossom counts on hand counts of a few trees; the prescription then uses the calibrated counts")
        {
            run, counts, suggest, json, acceptPoorFit, storeRoot,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var countsFile = parse.GetValue(counts);
            var suggested = parse.GetValue(suggest);
            if ((countsFile is null) == (suggested is null))
            {
                throw new CliException("give either --counts FILE (hand counts to calibrate with) or --suggest N (trees worth counting)", Cli.UsageError);
            }
            if (suggested is < CountCalibration.MinTrees)
            {
                throw new CliException($"--suggest {suggested}: a calibration needs at least {CountCalibration.MinTrees} trees (10 is a good number)", Cli.UsageError);
            }
            if (suggested is not null && parse.GetValue(acceptPoorFit))
            {
                throw new CliException("--accept-poor-fit goes with --counts", Cli.UsageError);
            }
            var root = parse.GetValue(storeRoot) ?? Environment.GetEnvironmentVariable("TREESCOUT__MapWriter__StoreRoot") ?? new MapWriterOptions().StoreRoot;
            try
            {
                var storePath = RunLocator.StorePath(parse.GetValue(run)!, root);
                if (suggested is { } n)
                {
                    PrintSuggestion(RunCalibration.Suggest(storePath, n), n, parse.GetValue(json));
                    return 0;
                }
                var outcome = await RunCalibration.CalibrateAsync(storePath, countsFile!, parse.GetValue(acceptPoorFit), DateTimeOffset.UtcNow, new MapWriterOptions(), cancellationToken);
                Console.WriteLine(parse.GetValue(json) ? JsonSerializer.Serialize(outcome.Report, Json) : Describe(outcome));
                return 0;
            }
            catch (Exception ex) when (ex is HandCountException or CalibrationException)
            {
                throw new CliException(ex.Message, Cli.UsageError);
            }
            catch (Exception ex) when (ex is ExportException or RunStoreException)
            {
                throw new CliException(ex.Message);
            }
        });
        return command;
    }

    /// <summary>A counts file to fill in on stdout (so `> hand.csv` gives the agronomist the template); the rule on stderr.</summary>
    private static void PrintSuggestion(IReadOnlyList<TreeRecord> trees, int asked, bool json)
    {
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(trees.Select(t => new { t.TreeId, t.RowId, t.TreeIndex, t.Latitude, t.Longitude }), Json));
        }
        else
        {
            Console.WriteLine($"{HandCountFile.TreeIdColumn},{HandCountFile.ClustersColumn}");
            foreach (var t in trees)
            {
                Console.WriteLine($"{t.TreeId},");
            }
        }
        Console.Error.WriteLine(trees.Count < asked
            ? $"{trees.Count} trees (of {asked} asked): the run has no more trees with clusters"
            : $"{trees.Count} trees spread over the range of scanned counts and along the rows (docs/calibration.md); count every cluster on each whole tree, both sides, and fill in the clusters column");
    }

    private static string Describe(CalibrationOutcome outcome)
    {
        var r = outcome.Report;
        var lines = new List<string>
        {
            string.Create(CultureInfo.InvariantCulture, $"{(r.PoorFit ? "POOR FIT (stored with --accept-poor-fit) " : "")}calibration of run {outcome.RunId}: {r.Model}, {r.Trees} trees, {r.Formula}"),
            string.Create(CultureInfo.InvariantCulture,
                $"  R² {Format(r.R2, "0.000")}, RMSE {r.Rmse:0.0} clusters, leave-one-out MAPE {Format(r.Mape, "0.0")} % (leave-one-out RMSE: proportional {Format(r.LooRmseProportional, "0.0")}, linear {Format(r.LooRmseLinear, "0.0")})"),
            r.UsedForPrescription ? "  the prescription now uses the calibrated counts; raw counts are unchanged" : "  the run has no variety profile, so no prescription; raw counts are unchanged",
            outcome.Exports is null ? "  no exports/ in the run folder yet: the map writer writes them, calibrated, when the run ends" : $"  exports/ refreshed ({outcome.Exports.Count} files){(outcome.SummaryUpdated ? ", run.json updated" : "")}",
        };
        if (outcome.Calibration.Warning is { } warning)
        {
            lines.Add($"  warning: {warning}");
        }
        return string.Join('\n', lines);
    }

    private static string Format(double? value, string format) => value is { } v ? v.ToString(format, CultureInfo.InvariantCulture) : "n/a";
}
