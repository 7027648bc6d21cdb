using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using TreeScout.Contracts;
using TreeScout.Hosting;
using TreeScout.Messaging;

namespace TreeScout.RunControl;

public sealed record WorkerHealth(
    string Worker,
    string Instance,
    string Version,
    bool Ready,
    string RunId,
    double AgeSeconds,
    IReadOnlyDictionary<string, long> Counters,
    IReadOnlyList<string> Warnings,
    GnssQuality? GnssQuality);

/// <summary>What `treescout run status` shows: per-worker health, pipeline progress, queue depths, GNSS quality, warnings.</summary>
public sealed record RunStatusReport(
    string Broker,
    DateTimeOffset AtUtc,
    IReadOnlyList<string> ActiveRuns,
    IReadOnlyList<WorkerHealth> Workers,
    IReadOnlyDictionary<string, long> Totals,
    IReadOnlyList<QueueDepth> Queues,
    GnssQuality? GnssQuality,
    IReadOnlyList<string> Warnings)
{
    /// <summary>The pipeline's progress in the agreed counter names: (label, counter) in pipeline order.</summary>
    public static readonly IReadOnlyList<(string Label, string Counter)> Progress =
    [
        ("frames captured", "frames_captured"), ("shed", "frames_shed"), ("unreadable", "frames_unreadable"),
        ("detected", "frames_detected"), ("clusters", "clusters_detected"), ("undecodable", "frames_undecodable"),
        ("fused", "frames_fused"), ("without pose", "frames_without_pose"), ("observations", "observations_published"),
        ("GNSS fixes", "gnss_fixes"), ("NMEA malformed", "nmea_malformed"),
        ("written", "observations_written"), ("duplicates", "observations_duplicate"), ("maps", "maps_written"),
        ("dead-lettered", StatusHeartbeatService.DeadLetteredCounter),
    ];

    /// <summary>
    /// Listens to <paramref name="heartbeats"/> and asks the broker for every queue's depth. With <paramref name="runId"/>,
    /// succeeds only while a worker reports that run active.
    /// </summary>
    public static async Task<RunStatusReport> CollectAsync(IMessageBus bus, string broker, IHeartbeatSource heartbeats, string? runId, CancellationToken cancellationToken)
    {
        var latest = await heartbeats.LatestAsync(cancellationToken);
        var now = DateTimeOffset.UtcNow;
        var ledger = await RunBook.ReadAsync(bus, cancellationToken);
        var active = ActiveRunsOf(latest, ledger);
        if (runId is not null && !active.Contains(runId, StringComparer.Ordinal))
        {
            throw new RunControlException(latest.Count == 0
                ? $"unknown run {runId}: no worker reported within {heartbeats.Window.TotalSeconds:0.#}s"
                : $"unknown run {runId}: the workers and the run ledger show {(active.Count == 0 ? "no active run" : "active run " + string.Join(", ", active))}");
        }
        return From(broker, now, latest, await QueueDepthsAsync(bus, cancellationToken), heartbeats.Window, ledger, runId);
    }

    /// <summary>Every consumed queue's depth the broker reports now (none while it is unreachable).</summary>
    public static async Task<IReadOnlyList<QueueDepth>> QueueDepthsAsync(IMessageBus bus, CancellationToken cancellationToken)
    {
        var queues = new List<QueueDepth>();
        foreach (var queue in Pipeline.Queues)
        {
            if (await bus.GetQueueDepthAsync(queue.Name, cancellationToken) is { } depth)
            {
                queues.Add(depth);
            }
        }
        return queues;
    }

    /// <summary>
    /// The report of these heartbeats and queue depths: totals, the latest GNSS quality, and every warning (workers', not
    /// ready, missing, dead letters). With the run <paramref name="ledger"/>: its unfinished runs count as active (an
    /// interrupted run no worker films any more) and each interruption of them (of <paramref name="runId"/> only, when
    /// given) is a warning.
    /// </summary>
    public static RunStatusReport From(string broker, DateTimeOffset now, IReadOnlyList<WorkerStatus> heartbeats, IReadOnlyList<QueueDepth> queues, TimeSpan window,
        RunBook? ledger = null, string? runId = null)
    {
        var workers = heartbeats.Select(h => new WorkerHealth(h.Worker, h.Instance, h.Version, h.Ready, h.RunId, Math.Max(0, (now - h.AtUtc).TotalSeconds), h.Counters, h.Warnings, h.GnssQuality)).ToList();
        var totals = heartbeats.SelectMany(h => h.Counters)
            .GroupBy(c => c.Key, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Sum(c => c.Value), StringComparer.Ordinal);
        // An interruption from the ledger once, not again as capture's warning of it.
        var interruptions = (ledger?.Unfinished ?? []).Where(r => runId is null || r.Started.RunId == runId)
            .SelectMany(r => r.Interruptions).Select(RunInterruptions.Describe).ToList();
        var warnings = new List<string>(interruptions);
        warnings.AddRange(heartbeats.SelectMany(h => h.Warnings.Select(w => $"{h.Worker}: {w}")).Where(w => !interruptions.Any(w.EndsWith)));
        warnings.AddRange(heartbeats.Where(h => !h.Ready).Select(h => $"{h.Instance} is not ready"));
        warnings.AddRange(queues.Where(q => q.DeadLettered > 0).Select(q => $"{q.DeadLettered} message(s) in {Pipeline.Queue(q.Queue).DeadLetterQueue}: inspect before replaying"));
        foreach (var worker in PipelineWorkers.Where(w => heartbeats.All(h => h.Worker != w)))
        {
            warnings.Add($"no {worker} worker reported within {window.TotalSeconds:0.#}s");
        }
        var gnss = heartbeats.Where(h => h.GnssQuality is not null).OrderByDescending(h => h.AtUtc).Select(h => h.GnssQuality).FirstOrDefault();
        return new RunStatusReport(broker, now, ActiveRunsOf(heartbeats, ledger), workers, totals, queues, gnss, warnings);
    }

    private static readonly Topology Pipeline = new(new TopologyOptions());

    /// <summary>The pipeline's workers, in pipeline order.</summary>
    public static readonly IReadOnlyList<string> PipelineWorkers = [.. new[] { WorkerRole.Capture, WorkerRole.Detection, WorkerRole.Fusion, WorkerRole.MapWriter }.Select(WorkerIdentity.NameOf)];

    private static List<string> ActiveRunsOf(IEnumerable<WorkerStatus> heartbeats, RunBook? ledger) =>
        heartbeats.Select(h => h.RunId).Where(r => r != WorkerStatus.IdleRunId).Concat((ledger?.Unfinished ?? []).Select(r => r.Started.RunId))
            .Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();

    public string ToJson() => JsonSerializer.Serialize(this, Options);

    public string ToText()
    {
        var text = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        text.AppendLine(inv, $"broker {Broker}   {(ActiveRuns.Count == 0 ? "no active run" : "run " + string.Join(", ", ActiveRuns))}");
        text.AppendLine();
        text.AppendLine(inv, $"{"WORKER",-10} {"INSTANCE",-36} {"READY",-5} {"VERSION",-12} {"RUN",-34} AGE");
        foreach (var w in Workers)
        {
            text.AppendLine(inv, $"{w.Worker,-10} {Shorten(w.Instance, 36),-36} {(w.Ready ? "yes" : "NO"),-5} {Shorten(w.Version.Split('+')[0], 12),-12} {Shorten(w.RunId, 34),-34} {w.AgeSeconds:0.0}s");
        }
        if (Workers.Count == 0)
        {
            text.AppendLine("(no worker heartbeats)");
        }
        text.AppendLine();
        text.AppendLine("progress: " + string.Join(" · ", Progress.Select(p => $"{p.Label} {Totals.GetValueOrDefault(p.Counter)}")));
        text.AppendLine(inv, $"GNSS fix quality: {GnssQuality?.ToString() ?? "unknown"}");
        text.AppendLine();
        text.AppendLine(inv, $"{"QUEUE",-34} {"READY",8} {"DLQ",8} {"CONSUMERS",9}");
        foreach (var q in Queues)
        {
            text.AppendLine(inv, $"{q.Queue,-34} {q.Ready,8} {q.DeadLettered,8} {q.Consumers,9}");
        }
        if (Warnings.Count > 0)
        {
            text.AppendLine();
            foreach (var warning in Warnings)
            {
                text.AppendLine("warning: " + warning);
            }
        }
        return text.ToString();
    }

    private static string Shorten(string s, int max) => s.Length <= max ? s : s[..(max - 1)] + "…";

    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
    };
}
