using TreeScout.Contracts;

namespace TreeScout.Hosting;

/// <summary>The latest GNSS fix quality a worker saw (fusion's reader sets it); reported in status heartbeats.</summary>
public sealed class WorkerGnssStatus
{
    private int _latest = -1;

    public GnssQuality? Latest
    {
        get => Volatile.Read(ref _latest) is var v and >= 0 ? (GnssQuality)v : null;
        set => Volatile.Write(ref _latest, value is { } q ? (int)q : -1);
    }
}
