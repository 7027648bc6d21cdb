using System.Text.Json;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.Extensions.Options;
using TreeScout.WebConsole.Security;

namespace TreeScout.WebConsole;

/// <summary>
/// The review page's JSON API (docs/console.md, "Review"): a run's queue and progress, a frame with its labels and
/// revision, the frame's image, the stage picker's choices and reference crops, and saving labels. Reading needs what
/// the other pages need; saving needs an agronomist account (or, on a console without accounts, the person at this
/// machine) and, from a browser, the antiforgery token in the X-CSRF-Token header.
/// </summary>
public static class ReviewApi
{
    public static void Map(RouteGroupBuilder api)
    {
        api.MapGet("/runs/{runId}/review", (string runId, RunReview review) =>
            Results.Json(review.Queue(ConsoleRunControl.CheckedRunId(runId)), ConsoleHost.Json));
        api.MapGet("/runs/{runId}/review/{sampleId}", (string runId, string sampleId, RunReview review) =>
            Results.Json(review.Frame(ConsoleRunControl.CheckedRunId(runId), sampleId), ConsoleHost.Json));
        api.MapGet("/runs/{runId}/review/{sampleId}/image", (string runId, string sampleId, HttpContext context, RunReview review) =>
        {
            var path = review.ImagePath(ConsoleRunControl.CheckedRunId(runId), sampleId);
            // A kept frame never changes (samples are written once): the browser keeps it while the reviewer goes back and forth.
            context.Response.Headers.CacheControl = "private, max-age=86400, immutable";
            return Results.File(path, "image/jpeg", lastModified: File.GetLastWriteTimeUtc(path), entityTag: new Microsoft.Net.Http.Headers.EntityTagHeaderValue($"\"{sampleId}\""));
        });
        api.MapPut("/runs/{runId}/review/{sampleId}/labels", async (string runId, string sampleId, HttpContext context, RunReview review, IOptions<ConsoleOptions> options) =>
        {
            var reviewer = Reviewer(context, options.Value);
            if (!BasicAuthentication.Carries(context.Request))
            {
                await context.RequestServices.GetRequiredService<IAntiforgery>().ValidateRequestAsync(context);
            }
            var request = await ReadAsync(context);
            var id = ConsoleRunControl.CheckedRunId(runId);
            var saved = review.Save(id, sampleId, request, reviewer);
            return Results.Json(new { labels = saved, progress = review.Folder(id).Progress() }, ConsoleHost.Json);
        }).DisableAntiforgery();
        api.MapGet("/stages", (StageReferences stages) => Results.Json(stages.Choices(), ConsoleHost.Json));
        api.MapGet("/stages/{stage}/references/{index:int}", (string stage, int index, HttpContext context, StageReferences stages) =>
        {
            var file = stages.File(stage, index) ?? throw new UnknownRunException($"no reference crop {index} of stage '{stage}' (Console:StageReferences)");
            context.Response.Headers.CacheControl = "private, max-age=86400";
            return Results.File(file, Path.GetExtension(file).Equals(".png", StringComparison.OrdinalIgnoreCase) ? "image/png" : "image/jpeg",
                lastModified: File.GetLastWriteTimeUtc(file));
        });
    }

    /// <summary>
    /// The name saves are made under: a signed-in agronomist's; on a console without accounts (bound to this machine
    /// only) the person at this machine, by the system's user name. Ops and the operator may look but not label.
    /// </summary>
    public static string Reviewer(HttpContext context, ConsoleOptions options)
    {
        if (!MaySave(context, options))
        {
            throw new ReviewForbiddenException("only an agronomist account may save labels (this one may look)");
        }
        return options.RequiresSignIn ? context.User.Identity!.Name! : Environment.UserName is { Length: > 0 } name ? name : "local";
    }

    /// <summary>Whether the user may save labels (what the page offers).</summary>
    public static bool MaySave(HttpContext context, ConsoleOptions options) =>
        !options.RequiresSignIn || (context.User.IsInRole(ConsoleRoles.Agronomist) && context.User.Identity?.Name is { Length: > 0 });

    private static async Task<LabelsRequest> ReadAsync(HttpContext context)
    {
        if (!context.Request.HasJsonContentType())
        {
            throw new BadRequestException("send the labels as JSON (Content-Type: application/json)");
        }
        try
        {
            return await context.Request.ReadFromJsonAsync<LabelsRequest>(ConsoleHost.Json, context.RequestAborted)
                   ?? throw new BadRequestException("labels: the request body is empty (null)");
        }
        catch (JsonException ex)
        {
            throw new BadRequestException($"labels: not a labels request ({ex.Message})");
        }
    }
}
