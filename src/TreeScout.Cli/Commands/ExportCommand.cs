using System.CommandLine;
using TreeScout.MapWriter;
using TreeScout.MapWriter.Exports;
using TreeScout.MapWriter.Prescription;
using TreeScout.MapWriter.Store;

namespace TreeScout.Cli.Commands;

/// <summary>`treescout export`: writes a run's map in the formats GIS tools and sprayers load, reading the run's store only.</summary>
public static class ExportCommand
{
    public static Command Create()
    {
        var run = new Option<string>("--run") { Description = "Run id under the store root, or a run folder, or a store.gpkg path", Required = true };
        var formats = new Option<string[]>("--format")
        {
            Description = "geojson|shp|gpkg|geoparquet|isoxml|csv|png; repeat or separate with commas (default: all)",
            AllowMultipleArgumentsPerToken = true,
        };
        var output = new Option<string>("--out") { Description = "Output folder (created if missing)", Required = true };
        var storeRoot = new Option<string?>("--store-root") { Description = "Folder of run folders (default: $TREESCOUT__MapWriter__StoreRoot or /var/lib/treescout/runs)" };
        var prescription = new Option<string?>("--prescription")
        {
            Description = "Variety profile (YAML/JSON, docs/prescription.md) to compute the rates with instead of the run's own; the store is not changed",
        };
        var gridCell = new Option<double?>("--grid-cell-m") { Description = "ISOXML grid cell size in metres (default 0.5)" };
        var command = new Command("export", "Export a run's blossom-density map and thinning prescription (GeoJSON, Shapefile, GeoPackage, GeoParquet, ISOXML, CSV, PNG)")
        {
            run, formats, output, storeRoot, prescription, gridCell,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var selected = ParseFormats(parse.GetValue(formats));
            var options = new MapWriterOptions { IsoGridCellM = parse.GetValue(gridCell) ?? new MapWriterOptions().IsoGridCellM };
            if (options.IsoGridCellM is < 0.05 or > 50)
            {
                throw new CliException($"--grid-cell-m {options.IsoGridCellM}: must be between 0.05 and 50 metres", Cli.UsageError);
            }
            var root = parse.GetValue(storeRoot) ?? Environment.GetEnvironmentVariable("TREESCOUT__MapWriter__StoreRoot") ?? new MapWriterOptions().StoreRoot;
            try
            {
                var profile = parse.GetValue(prescription) is { } file ? VarietyCatalog.LoadFile(file) : null;
                var storePath = RunLocator.StorePath(parse.GetValue(run)!, root);
                // A crashed or running writer's commits may be in store.gpkg-wal only: folded in, a copy of store.gpkg alone is the whole run.
                if (RunStore.FoldWal(storePath) is { } reason)
                {
                    await Console.Error.WriteLineAsync($"treescout: note: {storePath}-wal could not be folded into {RunFolder.StoreFileName} ({reason}); the export reads it, but copy both files to keep the whole run");
                }
                using var store = RunStore.OpenReadOnly(storePath);
                var written = await MapExporter.ExportAsync(store, selected, Path.GetFullPath(parse.GetValue(output)!), options, profile, cancellationToken);
                foreach (var path in written)
                {
                    Console.WriteLine(path);
                }
                return 0;
            }
            catch (Exception ex) when (ex is ExportException or RunStoreException or VarietyConfigException)
            {
                throw new CliException(ex.Message);
            }
        });
        return command;
    }

    private static List<ExportFormat> ParseFormats(string[]? values)
    {
        var names = (values ?? []).SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList();
        if (names.Count == 0)
        {
            return [.. MapExporter.AllFormats];
        }
        return names.Select(n => MapExporter.TryParseFormat(n, out var f)
            ? f
            : throw new CliException($"--format {n}: unknown format; use geojson, shp, gpkg, geoparquet, isoxml, csv or png", Cli.UsageError)).ToList();
    }
}
