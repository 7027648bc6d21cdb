using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.Extensions.Options;
using TreeScout.Central;

namespace TreeScout.WebConsole.Pages.Season;

/// <summary>
/// The central console's home: the season store's farms and tractors, every block's latest run of the season per farm
/// (the season view, as `treescout central season`), and the runs, filtered by season, farm, tractor and block.
/// Only in central mode; a tractor's console has no season store (404).
/// </summary>
public sealed class SeasonModel(IOptions<ConsoleOptions> options, IServiceProvider services) : PageModel
{
    public IReadOnlyList<SeasonTractor> Tractors { get; private set; } = [];

    public IReadOnlyList<int> Seasons { get; private set; } = [];

    public IReadOnlyList<string> Farms { get; private set; } = [];

    public IReadOnlyList<string> Blocks { get; private set; } = [];

    /// <summary>Per farm (the farm filter's, or every farm), its blocks' latest runs of the season.</summary>
    public IReadOnlyList<(string Farm, IReadOnlyList<BlockSeason> Blocks)> LatestByFarm { get; private set; } = [];

    public IReadOnlyList<RunEntry> Runs { get; private set; } = [];

    public SeasonFilter Filter { get; private set; } = new();

    public string Origin { get; private set; } = "";

    public async Task<IActionResult> OnGetAsync(int? season, string? farm, string? tractor, string? block, CancellationToken cancellationToken)
    {
        if (!options.Value.Central)
        {
            return NotFound("the season page is the central console's (Console:Mode central); this console shows its own run folders under /runs");
        }
        var store = services.GetRequiredService<SeasonRuns>();
        Origin = store.Origin;
        Tractors = await store.TractorsAsync(cancellationToken);
        Seasons = await store.SeasonsAsync(cancellationToken);
        Farms = [.. Tractors.Select(t => t.FarmId).OfType<string>().Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
        var chosenSeason = season ?? (Seasons.Count > 0 ? Seasons[0] : DateTimeOffset.UtcNow.Year);
        Filter = new SeasonFilter(Blank(farm), Blank(tractor), Blank(block), chosenSeason);
        Blocks = [.. (await store.ListAsync(Filter with { Block = null }, cancellationToken)).Select(r => r.Block).OfType<string>().Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
        var latest = new List<(string, IReadOnlyList<BlockSeason>)>();
        foreach (var f in Filter.FarmId is { } one ? [one] : Farms)
        {
            var blocks = (await store.BlocksAsync(f, chosenSeason, cancellationToken))
                .Where(b => (Filter.Block is null || b.Run.Block == Filter.Block) && (Filter.TractorId is null || b.Run.TractorId == Filter.TractorId)).ToList();
            latest.Add((f, blocks));
        }
        LatestByFarm = latest;
        Runs = await store.ListAsync(Filter, cancellationToken);
        return Page();
    }

    private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
}
