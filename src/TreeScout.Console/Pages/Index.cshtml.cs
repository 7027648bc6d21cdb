using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.Extensions.Options;

namespace TreeScout.WebConsole.Pages;

/// <summary>
/// The cab screen: the blocks (uploaded plans) and varieties to start a run with; the live part comes over server-sent
/// events. The central console has no cab: its home is the season page.
/// </summary>
public sealed class CabModel(BlockPlans plans, PrescriptionPreview preview, IOptions<ConsoleOptions> options) : PageModel
{
    public IReadOnlyList<PlanEntry> Plans { get; private set; } = [];

    public IReadOnlyList<string> Varieties { get; private set; } = [];

    public IActionResult OnGet()
    {
        if (options.Value.Central)
        {
            return Redirect("/season");
        }
        Plans = plans.List();
        Varieties = [.. preview.Varieties.Profiles.Select(p => p.Variety).Where(v => v != MapWriter.Prescription.VarietyCatalog.DefaultVariety)];
        return Page();
    }
}
