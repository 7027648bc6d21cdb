namespace TreeScout.Contracts;

/// <summary>Periodic heartbeat of a worker: what `treescout run status` shows operators.</summary>
public sealed record WorkerStatus : IMessage
{
    public const int CurrentSchemaVersion = 1;

    /// <summary>Run id used when a worker has no active run.</summary>
    public const string IdleRunId = "idle";

    public required Guid MessageId { get; init; }

    /// <summary>The worker's active run, or <see cref="IdleRunId"/>.</summary>
    public required string RunId { get; init; }

    public int SchemaVersion { get; init; } = CurrentSchemaVersion;

    public required string Worker { get; init; }

    public required string Instance { get; init; }

    public required string Version { get; init; }

    public required DateTimeOffset AtUtc { get; init; }

    public required bool Ready { get; init; }

    /// <summary>Monotonic counters, e.g. frames_captured, frames_detected, dead_lettered, nmea_malformed.</summary>
    public required IReadOnlyDictionary<string, long> Counters { get; init; }

    /// <summary>Current notable conditions, e.g. "camera cam-left looks upside down (confidence 0.93)".</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    public GnssQuality? GnssQuality { get; init; }
}
