using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.Extensions.Options;
using TreeScout.MapWriter.Prescription;

namespace TreeScout.WebConsole.Pages.Runs;

/// <summary>A run's map page: its detail, the varieties to preview with, and the other runs of its block to compare with.</summary>
public sealed class RunModel(IRunSource source, PrescriptionPreview preview, IOptions<ConsoleOptions> options) : PageModel
{
    public RunDetail Detail { get; private set; } = null!;

    public IReadOnlyList<string> Varieties { get; private set; } = [];

    public IReadOnlyList<RunEntry> SameBlock { get; private set; } = [];

    /// <summary>The page follows the run's map updates while it is scanned; the central console has no live feed (reload for newer data).</summary>
    public bool Live => Detail.Run.State != RunEntry.Complete && !options.Value.Central;

    public async Task OnGetAsync(string runId, CancellationToken cancellationToken)
    {
        Detail = await source.DetailAsync(ConsoleRunControl.CheckedRunId(runId), null, null, cancellationToken);
        Varieties = [.. preview.Varieties.Profiles.Select(p => p.Variety).Where(v => v != VarietyCatalog.DefaultVariety)];
        SameBlock = [.. (await source.ListAsync(cancellationToken)).Where(r => r.RunId != Detail.Run.RunId && r.Damaged is null && string.Equals(r.Block, Detail.Run.Block, StringComparison.OrdinalIgnoreCase))];
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
