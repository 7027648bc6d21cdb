using TreeScout.Fusion.Nmea;

namespace TreeScout.Fusion.Gnss;

/// <summary>
/// Decides which run a live fix belongs to. Fusion's run handling calls <see cref="Started"/> and <see cref="Stopped"/>;
/// the reader asks <see cref="Accept"/> per fix. Fixes from just before a run starts are kept in a short ring and
/// published with it, and fixes keep flowing for a short tail after it stopped, so every frame has a fix on both sides.
/// Thread-safe: the reader loop and the message handlers call it concurrently.
/// </summary>
public sealed class GnssRunTagger(TimeSpan preRunBuffer, TimeSpan postRunTail)
{
    private readonly Lock _gate = new();
    private readonly LinkedList<ReceiverFix> _recent = new();
    private string? _run;
    private DateTimeOffset? _stoppedAt;
    private bool _flushed;

    public string? CurrentRun
    {
        get
        {
            lock (_gate)
            {
                return _run;
            }
        }
    }

    /// <summary>Raised once per run start (outside the lock): a recording replay publishes that run's fixes then.</summary>
    public event Action<string>? RunBegan;

    public void Started(string runId)
    {
        lock (_gate)
        {
            if (_run == runId && _stoppedAt is null)
            {
                return;
            }
            (_run, _stoppedAt, _flushed) = (runId, null, false);
        }
        RunBegan?.Invoke(runId);
    }

    public void Stopped(string runId, DateTimeOffset at)
    {
        lock (_gate)
        {
            if (_run == runId)
            {
                _stoppedAt ??= at;
            }
        }
    }

    /// <summary>The fixes to publish now for a fix read at <paramref name="now"/> (host clock), with their run: the pre-run ring first when a run just began.</summary>
    public IReadOnlyList<(string RunId, ReceiverFix Fix)> Accept(ReceiverFix fix, DateTimeOffset now)
    {
        lock (_gate)
        {
            _recent.AddLast(fix);
            while (_recent.First!.Value.TimeUtc is { } oldest && fix.TimeUtc is { } newest && newest - oldest > preRunBuffer)
            {
                _recent.RemoveFirst();
            }
            if (_run is null || (_stoppedAt is { } stopped && now - stopped > postRunTail))
            {
                return [];
            }
            if (_flushed)
            {
                return [(_run, fix)];
            }
            _flushed = true;
            return _recent.Select(f => (_run, f)).ToList();
        }
    }
}
