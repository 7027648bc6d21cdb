using System.Collections.Concurrent;
using TreeScout.Contracts;

namespace TreeScout.Messaging.Tests.Infrastructure;

public static class TestMessages
{
    public const string RunId = "20260421-091200-test-0001";

    public static GnssFix Fix(long sequence, string runId = RunId) => new()
    {
        MessageId = MessageIds.For(runId, "gnss", sequence),
        RunId = runId,
        Sequence = sequence,
        TimeUtc = new DateTimeOffset(2026, 4, 21, 9, 12, 0, TimeSpan.Zero).AddMilliseconds(100 * sequence),
        ReceivedAtUtc = new DateTimeOffset(2026, 4, 21, 9, 12, 0, 40, TimeSpan.Zero).AddMilliseconds(100 * sequence),
        Latitude = 51.9873 + sequence * 1e-6,
        Longitude = 5.6612,
        Mode = 3,
        Quality = GnssQuality.RtkFixed,
        HorizontalSigmaM = 0.02,
    };

    public static FrameCaptured Frame(long sequence, int jpegBytes = 2048, string runId = RunId)
    {
        var jpeg = new byte[jpegBytes];
        new Random((int)sequence).NextBytes(jpeg);
        jpeg[0] = 0xFF;
        jpeg[1] = 0xD8;
        return new FrameCaptured
        {
            MessageId = MessageIds.For(runId, "frame", sequence),
            RunId = runId,
            Sequence = sequence,
            CameraId = "cam-right",
            CapturedAtUtc = new DateTimeOffset(2026, 4, 21, 9, 12, 0, TimeSpan.Zero).AddMilliseconds(66.6 * sequence),
            MonotonicNs = 1_000_000_000 + sequence * 66_600_000,
            Width = 1280,
            Height = 720,
            Jpeg = jpeg,
        };
    }

    public static TreeObservations Observations(long sequence, string runId = RunId) => new()
    {
        MessageId = MessageIds.For(runId, "observations", sequence),
        RunId = runId,
        Observations = [],
    };
}

/// <summary>A handler that records what it was given and runs a test-supplied behaviour.</summary>
public sealed class RecordingHandler<T>(Func<T, MessageContext, Task>? behaviour = null) : IMessageHandler<T>
    where T : class, IMessage
{
    public ConcurrentQueue<(T Message, int DeliveryCount)> Calls { get; } = new();

    public int Count => Calls.Count;

    public async Task HandleAsync(T message, MessageContext context, CancellationToken cancellationToken)
    {
        Calls.Enqueue((message, context.DeliveryCount));
        if (behaviour is not null)
        {
            await behaviour(message, context);
        }
    }
}
