using Microsoft.Extensions.Options;
using TreeScout.Contracts;
using TreeScout.RunControl;
using TreeScout.WebConsole.Security;

namespace TreeScout.WebConsole;

/// <summary>The operator's PIN is missing or wrong; the API answers 403 with this message.</summary>
public sealed class WrongPinException(string message) : Exception(message);

/// <summary>Run control asked of the central console; the API answers 403 with this message.</summary>
public sealed class ReadOnlyConsoleException(string message) : Exception(message);

/// <summary>What a start or stop did, and the notes run control gave (no capture worker yet, stopped on capture's behalf).</summary>
public sealed record RunControlResult(string RunId, string? Block, string? Variety, IReadOnlyList<string> Notes);

/// <summary>
/// The console's run control: the same <see cref="RunController"/> as `treescout run start|stop`, on the console's
/// broker connection and heartbeats, behind the operator PIN. Uploading a block plan needs the PIN too.
/// </summary>
public sealed class ConsoleRunControl(PipelineLink link, BlockPlans plans, ConsoleAccounts accounts, SignInThrottle throttle, IOptions<ConsoleOptions> options, TimeProvider time)
{
    public const string Unavailable = "run control is unavailable: the console has no broker (start it with --broker or TREESCOUT__Broker__Uri)";

    public const string ReadOnly = "this console shows the central season store (Console:Mode central) and is read-only: runs are started and stopped, and watched live, on each tractor's own console";

    public bool Available => link.Bus is not null && !options.Value.Central;

    /// <summary>Refuses what only a tractor's console does (run control, plans, live status) in central mode.</summary>
    public void EnsureTractor()
    {
        if (options.Value.Central)
        {
            throw new ReadOnlyConsoleException(ReadOnly);
        }
    }

    /// <summary>Refuses run control at once in central mode or when the console has no broker (before anything else is checked).</summary>
    public void EnsureAvailable()
    {
        EnsureTractor();
        if (!Available)
        {
            throw new RunControlException(Unavailable);
        }
    }

    public async Task<RunControlResult> StartAsync(HttpContext context, string? planKey, string? variety, string? pin, CancellationToken cancellationToken)
    {
        EnsureAvailable();
        CheckPin(context, pin);
        if (string.IsNullOrWhiteSpace(planKey))
        {
            throw new RunControlException("choose the block to scan", isUsageError: true);
        }
        var (json, plan) = plans.Read(planKey);
        var cameras = RunController.ReadCameras(options.Value.Cameras);
        var notes = new StringWriter();
        var block = string.IsNullOrWhiteSpace(plan.Name) ? planKey : plan.Name;
        var started = await Controller(notes).StartAsync(new RunStartRequest(block, string.IsNullOrWhiteSpace(variety) ? null : variety, json, plan, cameras), time.GetUtcNow(), cancellationToken);
        return new RunControlResult(started.RunId, started.Block, started.Variety, Lines(notes));
    }

    public async Task<RunControlResult> StopAsync(HttpContext context, string? runId, string? pin, CancellationToken cancellationToken)
    {
        EnsureAvailable();
        CheckPin(context, pin);
        var notes = new StringWriter();
        var by = context.User.Identity?.Name is { Length: > 0 } name ? $"{name} (console)" : "operator (console)";
        var stop = await Controller(notes).StopAsync(string.IsNullOrWhiteSpace(runId) ? null : runId, time.GetUtcNow(), cancellationToken, by);
        return new RunControlResult(stop.RunId, null, null, Lines(notes));
    }

    public PlanEntry Upload(HttpContext context, string fileName, string json, string? pin)
    {
        CheckPin(context, pin);
        return plans.Save(fileName, json);
    }

    private RunController Controller(TextWriter notes) =>
        new(link.Bus ?? throw new RunControlException(Unavailable), link, notes);

    /// <summary>Throttled like a sign-in: the PIN is four to eight digits, so guessing must be slow.</summary>
    private void CheckPin(HttpContext context, string? pin)
    {
        if (!accounts.HasPin)
        {
            throw new WrongPinException("no operator PIN is set on this console (Console:Pin, docs/operations.md): run control is locked");
        }
        throttle.Attempt(context);
        if (!accounts.IsPin(pin))
        {
            throw new WrongPinException("wrong PIN");
        }
    }

    private static List<string> Lines(StringWriter notes) =>
        [.. notes.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];

    /// <summary>A run id from the route, checked before it reaches a path or the broker.</summary>
    public static string CheckedRunId(string runId) =>
        RunIds.IsValid(runId) ? runId : throw new RunControlException($"'{runId}' is not a run id", isUsageError: true);
}
