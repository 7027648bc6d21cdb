using TreeScout.Contracts;

namespace TreeScout.WebConsole;

/// <summary>The cab screen's state, refreshed every Console:LiveInterval and pushed to the browsers (server-sent events).</summary>
public sealed record LiveStatus(
    DateTimeOffset AtUtc,
    BrokerLink Broker,
    LiveRun? Run,
    LiveGnss? Gnss,
    IReadOnlyList<CameraRate> Cameras,
    long? Backlog,
    long Shed,
    long DeadLettered,
    IReadOnlyList<WorkerState> Workers,
    LiveDisk Disk,
    IReadOnlyList<OperatorWarning> Warnings);

/// <summary>Whether run control can reach the workers; <see cref="State"/> is the line to show when it cannot.</summary>
public sealed record BrokerLink(bool Configured, bool Connected, string State);

/// <summary>The run being scanned (or finished off by fusion and the map writer): what the operator started, and how far it is.</summary>
public sealed record LiveRun(string RunId, string? Block, string? Variety, DateTimeOffset? StartedAtUtc, double? ElapsedSeconds, string State, int? Trees, int? TreesWithClusters, DateTimeOffset? MapUpdatedAtUtc);

/// <summary>
/// The latest GNSS fix: solution, how long ago the console heard it, speed and where the tractor is; <see cref="Lost"/>
/// when fusion says fixes stopped coming (the same word as the "GNSS lost" warning).
/// </summary>
public sealed record LiveGnss(string Solution, string Quality, double FixAgeSeconds, double? SpeedKmh, double Latitude, double Longitude, double? CourseDeg, int? Satellites, bool Lost);

/// <summary>Frames per second one camera (or one capture worker, when it does not count per camera) delivers.</summary>
public sealed record CameraRate(string Camera, double? FramesPerSecond);

/// <summary>A pipeline worker: up when one of its instances sent a heartbeat within the window.</summary>
public sealed record WorkerState(string Worker, bool Up, bool Ready, int Instances, double? SecondsSinceHeartbeat);

/// <summary>Free space on the runs' disk.</summary>
public sealed record LiveDisk(long? FreeMiB, bool Low);

/// <summary>A condition the operator must act on: a short title, what to do, and the worker's own words.</summary>
public sealed record OperatorWarning(string Kind, string Title, string Action, string Detail);

public static class GnssLabels
{
    /// <summary>The solution as an operator knows it from the receiver's display.</summary>
    public static string Solution(GnssQuality quality) => quality switch
    {
        GnssQuality.RtkFixed => "RTK fixed",
        GnssQuality.RtkFloat => "RTK float",
        GnssQuality.Dgps => "DGPS",
        GnssQuality.Autonomous => "GPS (no correction)",
        GnssQuality.NoFix => "no fix",
        GnssQuality.DeadReckoning => "dead reckoning",
        GnssQuality.Simulation => "simulated",
        _ => quality.ToString(),
    };
}
