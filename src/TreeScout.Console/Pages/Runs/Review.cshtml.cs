using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.Extensions.Options;
using TreeScout.Labelling;

namespace TreeScout.WebConsole.Pages.Runs;

/// <summary>
/// The review page of a run: the frames kept for review, one at a time, with the detector's boxes to accept, reject,
/// redraw or add to, and a stage to set per cluster (wwwroot/js/review.js does the editing through the review API).
/// </summary>
public sealed class ReviewModel(RunCatalog catalog, RunReview review, IOptions<ConsoleOptions> options, IAntiforgery antiforgery) : PageModel
{
    public RunEntry Run { get; private set; } = null!;

    public ReviewProgress Progress { get; private set; } = null!;

    public bool MaySave { get; private set; }

    /// <summary>The name saves go under, or null when this user may only look.</summary>
    public string? Reviewer { get; private set; }

    public string Token { get; private set; } = "";

    public void OnGet(string runId)
    {
        Progress = review.Folder(ConsoleRunControl.CheckedRunId(runId)).Progress();
        Run = catalog.Find(runId);
        MaySave = ReviewApi.MaySave(HttpContext, options.Value);
        Reviewer = MaySave ? ReviewApi.Reviewer(HttpContext, options.Value) : null;
        Token = antiforgery.GetAndStoreTokens(HttpContext).RequestToken ?? "";
    }
}
