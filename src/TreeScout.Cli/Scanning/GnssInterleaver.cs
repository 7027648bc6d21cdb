using TreeScout.Capture;
using TreeScout.Contracts;
using TreeScout.Messaging;

namespace TreeScout.Cli.Scanning;

/// <summary>
/// Replays a recording's GNSS fixes in step with its frames, as they arrived on the tractor: before each frame, every
/// fix the host had received by that frame's capture time; before <see cref="RunStopped"/>, the rest. Fusion thus sees
/// the same interleaving live and replayed runs have, and never has to buffer a whole run's fixes ahead of its frames.
/// <see cref="RunStopped"/> carries the number of fixes, so fusion knows when the last one has arrived, and the number of
/// malformed NMEA lines the replay decoded past, which fusion reports for the run (live, its own reader counts them).
/// Each fix published also goes to <paramref name="groundSpeed"/>, which the frame plan decimates by.
/// </summary>
public sealed class GnssInterleaver(IMessagePublisher inner, IReadOnlyList<GnssFix> fixesInReceiveOrder, long malformedNmeaLines, GroundSpeed? groundSpeed = null) : IMessagePublisher
{
    private int _next;

    public int FixesPublished => _next;

    public async Task PublishAsync(IMessage message, CancellationToken cancellationToken = default)
    {
        var until = message switch
        {
            FrameCaptured frame => frame.CapturedAtUtc,
            RunStopped => DateTimeOffset.MaxValue,
            _ => DateTimeOffset.MinValue,
        };
        while (_next < fixesInReceiveOrder.Count && fixesInReceiveOrder[_next].ReceivedAtUtc <= until)
        {
            await inner.PublishAsync(fixesInReceiveOrder[_next], cancellationToken);
            groundSpeed?.Observe(fixesInReceiveOrder[_next]);
            _next++;
        }
        await inner.PublishAsync(message is RunStopped stopped ? stopped with { GnssFixesPublished = _next, MalformedNmeaLines = malformedNmeaLines } : message, cancellationToken);
    }
}
