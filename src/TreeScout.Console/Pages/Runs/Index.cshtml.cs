using Microsoft.AspNetCore.Mvc.RazorPages;

namespace TreeScout.WebConsole.Pages.Runs;

/// <summary>Every run folder, the one being scanned marked as such, damaged ones with their reason.</summary>
public sealed class RunsModel(RunCatalog catalog, LiveStatusService live) : PageModel
{
    public IReadOnlyList<RunEntry> Runs { get; private set; } = [];

    public string Root => catalog.Root;

    public void OnGet() => Runs = [.. ConsoleApi.WithLiveState(catalog.List(), live.Latest)];
}
