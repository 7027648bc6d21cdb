using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Antiforgery;
using TreeScout.Hosting;
using TreeScout.MapWriter.Exports;
using TreeScout.MapWriter.Store;
using TreeScout.RunControl;
using TreeScout.WebConsole.Security;

namespace TreeScout.WebConsole;

/// <summary>
/// The console's JSON API (docs/console.md): what the pages use and users' scripts may use. Reading needs what the pages
/// need (<see cref="ReadAccess"/>); run control and plan uploads need the operator PIN, and, from a browser, the
/// antiforgery token. Every refusal is one line in {"error": "..."} with a status code, never a server error.
/// </summary>
public static class ConsoleApi
{
    public static void Map(WebApplication app)
    {
        app.MapWorkerHealthEndpoints().AllowAnonymous();

        var api = app.MapGroup("/api");
        api.MapGet("/runs", async (IRunSource runs, LiveStatusService live, CancellationToken ct) => Results.Json(WithLiveState(await runs.ListAsync(ct), live.Latest), ConsoleHost.Json));
        api.MapGet("/runs/{runId}", async (string runId, string? profile, double? target, IRunSource runs, CancellationToken ct) =>
            Results.Json(await runs.DetailAsync(ConsoleRunControl.CheckedRunId(runId), profile, target, ct), ConsoleHost.Json));
        api.MapGet("/runs/{runId}/trees", async (string runId, string? profile, double? target, string? since, IRunSource runs, LiveStatusService live, CancellationToken ct) =>
        {
            var id = ConsoleRunControl.CheckedRunId(runId);
            try
            {
                return Results.Bytes(await runs.TreesAsync(id, profile, target, since, ct), "application/geo+json");
            }
            catch (UnknownRunException) when (live.Latest.Run?.RunId == id)
            {
                // The run the cab shows has no folder until the map writer has its start: its map is empty, not missing.
                return Results.Bytes(NoTreesYet, "application/geo+json");
            }
        });
        api.MapGet("/runs/{runId}/exports/{format}", async (string runId, string format, string? profile, double? target, IRunSource runs, CancellationToken ct) =>
        {
            var file = await runs.ExportAsync(ConsoleRunControl.CheckedRunId(runId), format, profile, target, ct);
            return Results.File(file.Content, file.ContentType, file.FileName);
        });
        api.MapGet("/runs/{runId}/compare/{otherId}", async (string runId, string otherId, IRunSource runs, CancellationToken ct) =>
            Results.Json(await runs.CompareAsync(ConsoleRunControl.CheckedRunId(otherId), ConsoleRunControl.CheckedRunId(runId), ct), ConsoleHost.Json));
        api.MapGet("/varieties", (PrescriptionPreview preview) => Results.Json(preview.Varieties.Profiles.Select(p => new { p.Variety, p.Agent, p.TargetClustersPerTree, p.FullDoseLPerHa }), ConsoleHost.Json));
        api.MapGet("/plans", (BlockPlans plans, ConsoleRunControl control) =>
        {
            control.EnsureTractor();
            return Results.Json(plans.List(), ConsoleHost.Json);
        });
        api.MapGet("/status", (LiveStatusService live, ConsoleRunControl control) =>
        {
            control.EnsureTractor();
            return Results.Json(live.Latest, ConsoleHost.Json);
        });
        api.MapGet("/status/stream", StreamAsync);
        ReviewApi.Map(api);

        api.MapPost("/runs", async (HttpContext context, ConsoleRunControl control, CancellationToken ct) =>
        {
            control.EnsureAvailable();
            var form = await ConsoleForms.ReadAsync(context);
            var started = await control.StartAsync(context, form["block"], form["variety"], form["pin"], ct);
            return Results.Json(started, ConsoleHost.Json, statusCode: StatusCodes.Status201Created);
        }).DisableAntiforgery();
        api.MapPost("/runs/{runId}/stop", async (string runId, HttpContext context, ConsoleRunControl control, CancellationToken ct) =>
        {
            control.EnsureAvailable();
            var form = await ConsoleForms.ReadAsync(context);
            var stopped = await control.StopAsync(context, runId == "active" ? null : ConsoleRunControl.CheckedRunId(runId), form["pin"], ct);
            return Results.Json(stopped, ConsoleHost.Json, statusCode: StatusCodes.Status202Accepted);
        }).DisableAntiforgery();
        api.MapPost("/plans", async (HttpContext context, ConsoleRunControl control) =>
        {
            control.EnsureTractor();
            var form = await ConsoleForms.ReadAsync(context);
            var file = form.Files.GetFile("plan") ?? throw new RunControlException("choose a block plan file (GeoJSON) to upload", isUsageError: true);
            if (file.Length > BlockPlans.MaxBytes)
            {
                throw new RunControlException($"block plan {file.FileName}: {file.Length / 1024} KiB is larger than any block's plan ({BlockPlans.MaxBytes / 1024 / 1024} MiB at most)", isUsageError: true);
            }
            using var reader = new StreamReader(file.OpenReadStream(), Encoding.UTF8);
            var saved = control.Upload(context, Path.GetFileName(file.FileName), await reader.ReadToEndAsync(), form["pin"]);
            return Results.Json(saved, ConsoleHost.Json, statusCode: StatusCodes.Status201Created);
        }).DisableAntiforgery();
    }

    /// <summary>The runs, with the one being scanned (or finished off) marked as such.</summary>
    public static IEnumerable<RunEntry> WithLiveState(IReadOnlyList<RunEntry> runs, LiveStatus live) =>
        runs.Select(r => live.Run is { } run && run.RunId == r.RunId && r.Damaged is null ? r with { State = run.State } : r);

    /// <summary>
    /// Server-sent events: "status" with the live status at every refresh, and "map" as soon as a map writer announces a
    /// map update, so a page reloads its trees at most one refresh behind the store.
    /// </summary>
    private static readonly byte[] NoTreesYet = """{"type":"FeatureCollection","features":[]}"""u8.ToArray();

    private static async Task StreamAsync(HttpContext context, LiveStatusService live, PipelineLink link, ConsoleRunControl control, CancellationToken cancellationToken)
    {
        control.EnsureTractor();
        context.Response.Headers.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-store";
        var events = System.Threading.Channels.Channel.CreateBounded<(string Event, object Data)>(new System.Threading.Channels.BoundedChannelOptions(64)
        {
            FullMode = System.Threading.Channels.BoundedChannelFullMode.DropOldest,
        });
        void OnStatus(LiveStatus status) => events.Writer.TryWrite(("status", status));
        void OnMap(Contracts.MapUpdated map) => events.Writer.TryWrite(("map", new { map.RunId, map.Trees, map.TreesWithClusters, map.Final, map.UpdatedAtUtc }));
        live.Changed += OnStatus;
        link.MapUpdated += OnMap;
        try
        {
            await WriteEventAsync(context, "status", live.Latest, cancellationToken);
            await foreach (var (name, data) in events.Reader.ReadAllAsync(cancellationToken))
            {
                await WriteEventAsync(context, name, data, cancellationToken);
            }
        }
        catch (OperationCanceledException)
        {
            // The page went away.
        }
        finally
        {
            live.Changed -= OnStatus;
            link.MapUpdated -= OnMap;
        }
    }

    private static async Task WriteEventAsync(HttpContext context, string name, object data, CancellationToken cancellationToken)
    {
        await context.Response.WriteAsync($"event: {name}\ndata: {JsonSerializer.Serialize(data, ConsoleHost.Json)}\n\n", cancellationToken);
        await context.Response.Body.FlushAsync(cancellationToken);
    }

    /// <summary>Refusals as one line with a status code (JSON for the API, text for a page's form); anything else is the server's fault and stays a 500.</summary>
    public static async Task Problems(HttpContext context, Func<Task> next)
    {
        try
        {
            await next();
        }
        catch (Exception ex) when (StatusOf(ex) is { } status && !context.Response.HasStarted)
        {
            context.Response.Clear();
            var result = context.Request.Path.StartsWithSegments("/api")
                ? ex is LabelConflictException conflict
                    ? Results.Json(new { error = ex.Message, current = conflict.Current }, ConsoleHost.Json, statusCode: status)
                    : Results.Json(new { error = ex.Message }, ConsoleHost.Json, statusCode: status)
                : Results.Text(ex is AntiforgeryValidationException ? "The form has expired or did not come from this console: go back, reload the page and try again." : ex.Message, "text/plain", statusCode: status);
            await result.ExecuteAsync(context);
        }
    }

    public static int? StatusOf(Exception ex) => ex switch
    {
        ReadOnlyConsoleException => StatusCodes.Status403Forbidden,
        RunControlException { Message: ConsoleRunControl.Unavailable } => StatusCodes.Status503ServiceUnavailable,
        SeasonStoreUnavailableException => StatusCodes.Status503ServiceUnavailable,
        Central.RunReplayException => StatusCodes.Status409Conflict,
        RunControlException { IsUsageError: true } => StatusCodes.Status400BadRequest,
        RunControlException => StatusCodes.Status409Conflict,
        WrongPinException => StatusCodes.Status403Forbidden,
        TooManyAttemptsException => StatusCodes.Status429TooManyRequests,
        UnknownRunException => StatusCodes.Status404NotFound,
        BadRequestException => StatusCodes.Status400BadRequest,
        RunStoreException => StatusCodes.Status409Conflict,
        ExportException => StatusCodes.Status400BadRequest,
        AntiforgeryValidationException => StatusCodes.Status400BadRequest,
        LabelConflictException => StatusCodes.Status409Conflict,
        ReviewForbiddenException => StatusCodes.Status403Forbidden,
        Labelling.ReviewFileException => StatusCodes.Status409Conflict,
        _ => null,
    };
}
