using Microsoft.AspNetCore.Mvc.RazorPages;
using TreeScout.MapWriter.Prescription;

namespace TreeScout.WebConsole.Pages.Runs;

/// <summary>A run's map page: its detail, the varieties to preview with, and the other runs of its block to compare with.</summary>
public sealed class RunModel(RunMaps maps, RunCatalog catalog, PrescriptionPreview preview) : PageModel
{
    public RunDetail Detail { get; private set; } = null!;

    public IReadOnlyList<string> Varieties { get; private set; } = [];

    public IReadOnlyList<RunEntry> SameBlock { get; private set; } = [];

    public void OnGet(string runId)
    {
        Detail = maps.Detail(ConsoleRunControl.CheckedRunId(runId), null, null);
        Varieties = [.. preview.Varieties.Profiles.Select(p => p.Variety).Where(v => v != VarietyCatalog.DefaultVariety)];
        SameBlock = [.. catalog.List().Where(r => r.RunId != Detail.Run.RunId && r.Damaged is null && string.Equals(r.Block, Detail.Run.Block, StringComparison.OrdinalIgnoreCase))];
    }

    public static string FormatLabel(string format) => format switch
    {
        "geojson" => "GeoJSON (trees and zones, zipped)",
        "shp" => "Shapefile zones (zipped)",
        "gpkg" => "GeoPackage",
        "geoparquet" => "GeoParquet",
        "isoxml" => "ISOXML task data (TASKDATA, zipped)",
        "csv" => "Trees table (CSV)",
        "png" => "Map picture (PNG)",
        _ => format,
    };
}
