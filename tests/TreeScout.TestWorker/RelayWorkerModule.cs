using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TreeScout.Contracts;
using TreeScout.Hosting;
using TreeScout.Messaging;

namespace TreeScout.TestWorker;

/// <summary>What the relay does besides relaying, so tests can put it in the situations they examine.</summary>
public sealed class RelayOptions
{
    public const string Section = "Relay";

    /// <summary>Time each frame takes to handle (a graceful stop must wait for it).</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:05:00")]
    public TimeSpan HandleTime { get; set; } = TimeSpan.Zero;

    /// <summary>After publishing downstream, log "Relayed frame" and hang before returning (so the test can SIGKILL it before the ack).</summary>
    public bool HangAfterPublish { get; set; }
}

/// <summary>Consumes frames (as a detection replica would) and publishes one empty <see cref="FrameDetections"/> per frame.</summary>
public sealed class RelayWorkerModule : IWorkerModule
{
    public WorkerRole Role => WorkerRole.Detection;

    public void ConfigureServices(IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<RelayOptions>(configuration, RelayOptions.Section);
        services.AddSingleton<FrameRelay>();
        services.AddSubscription(Topology.DetectionFramesQueue, sp => new MessageDispatcher().On(sp.GetRequiredService<FrameRelay>()));
    }
}

public sealed class FrameRelay(WorkerCounters counters, ActiveRun activeRun, IOptions<RelayOptions> options, ILogger<FrameRelay> logger) : IMessageHandler<FrameCaptured>
{
    private static readonly ModelIdentity None = new("relay", "0", "none");

    public async Task HandleAsync(FrameCaptured message, MessageContext context, CancellationToken cancellationToken)
    {
        activeRun.Started(message.RunId);
        logger.LogInformation("Relaying frame {FrameId} (delivery {DeliveryCount})", message.MessageId, context.DeliveryCount);
        await Task.Delay(options.Value.HandleTime, cancellationToken);
        await context.Publisher.PublishAsync(new FrameDetections
        {
            MessageId = MessageIds.Derive(message.MessageId, "detections"),
            RunId = message.RunId,
            FrameMessageId = message.MessageId,
            Sequence = message.Sequence,
            CameraId = message.CameraId,
            CapturedAtUtc = message.CapturedAtUtc,
            MonotonicNs = message.MonotonicNs,
            Width = message.Width,
            Height = message.Height,
            Detector = None,
            StageClassifier = None,
            Detections = [],
            Orientation = new OrientationCheck { AppliedRotationDeg = 0 },
        }, cancellationToken);
        counters.Add("frames_relayed");
        logger.LogInformation("Relayed frame {FrameId}", message.MessageId);
        if (options.Value.HangAfterPublish)
        {
            await Task.Delay(Timeout.Infinite, CancellationToken.None);
        }
    }
}
