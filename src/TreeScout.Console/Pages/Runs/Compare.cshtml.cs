using Microsoft.AspNetCore.Mvc.RazorPages;

namespace TreeScout.WebConsole.Pages.Runs;

/// <summary>Two runs of one block: the older one is "before".</summary>
public sealed class CompareModel(RunMaps maps, RunCatalog catalog) : PageModel
{
    public RunComparison Comparison { get; private set; } = null!;

    public void OnGet(string runId, string with)
    {
        var (a, b) = (catalog.Find(ConsoleRunControl.CheckedRunId(runId)), catalog.Find(ConsoleRunControl.CheckedRunId(with)));
        var (before, after) = (a.Date ?? DateTimeOffset.MinValue) <= (b.Date ?? DateTimeOffset.MinValue) ? (a, b) : (b, a);
        Comparison = maps.Compare(before.RunId, after.RunId);
    }
}
