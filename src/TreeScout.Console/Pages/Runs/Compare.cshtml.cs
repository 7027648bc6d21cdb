using Microsoft.AspNetCore.Mvc.RazorPages;

namespace TreeScout.WebConsole.Pages.Runs;

/// <summary>Two runs of one block: the older one is "before".</summary>
public sealed class CompareModel(IRunSource source) : PageModel
{
    public RunComparison Comparison { get; private set; } = null!;

    public async Task OnGetAsync(string runId, string with, CancellationToken cancellationToken)
    {
        var (a, b) = (await source.FindAsync(ConsoleRunControl.CheckedRunId(runId), cancellationToken), await source.FindAsync(ConsoleRunControl.CheckedRunId(with), cancellationToken));
        var (before, after) = (a.Date ?? DateTimeOffset.MinValue) <= (b.Date ?? DateTimeOffset.MinValue) ? (a, b) : (b, a);
        Comparison = await source.CompareAsync(before.RunId, after.RunId, cancellationToken);
    }
}
