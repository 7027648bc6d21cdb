using Microsoft.AspNetCore.Mvc.RazorPages;

namespace TreeScout.WebConsole.Pages.Runs;

/// <summary>Every run: on a tractor its run folders (the one being scanned marked as such, damaged ones with their reason); centrally, the season store's runs with their tractor and farm.</summary>
public sealed class RunsModel(IRunSource source, LiveStatusService live) : PageModel
{
    public IReadOnlyList<RunEntry> Runs { get; private set; } = [];

    public string Origin => source.Origin;

    /// <summary>Runs from the season store carry their tractor and farm: the list shows those columns then.</summary>
    public bool ShowsTractors => Runs.Any(r => r.Tractor is not null);

    public async Task OnGetAsync(CancellationToken cancellationToken) => Runs = [.. ConsoleApi.WithLiveState(await source.ListAsync(cancellationToken), live.Latest)];
}
