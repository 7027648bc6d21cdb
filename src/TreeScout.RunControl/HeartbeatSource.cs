using TreeScout.Contracts;

namespace TreeScout.RunControl;

/// <summary>
/// The workers' latest heartbeats (one per worker instance): what run control decides from. The CLI listens for one
/// window per command; the console keeps listening and answers from what it has heard within the window.
/// </summary>
public interface IHeartbeatSource
{
    /// <summary>How far back a heartbeat still counts (a bit more than one heartbeat interval).</summary>
    TimeSpan Window { get; }

    /// <summary>The latest heartbeat of each worker instance heard within <see cref="Window"/>, by worker then instance.</summary>
    Task<IReadOnlyList<WorkerStatus>> LatestAsync(CancellationToken cancellationToken);
}
