using Microsoft.AspNetCore.Mvc.RazorPages;

namespace TreeScout.WebConsole.Pages;

/// <summary>The cab screen: the blocks (uploaded plans) and varieties to start a run with; the live part comes over server-sent events.</summary>
public sealed class CabModel(BlockPlans plans, PrescriptionPreview preview) : PageModel
{
    public IReadOnlyList<PlanEntry> Plans { get; private set; } = [];

    public IReadOnlyList<string> Varieties { get; private set; } = [];

    public void OnGet()
    {
        Plans = plans.List();
        Varieties = [.. preview.Varieties.Profiles.Select(p => p.Variety).Where(v => v != MapWriter.Prescription.VarietyCatalog.DefaultVariety)];
    }
}
