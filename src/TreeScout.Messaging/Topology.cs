using TreeScout.Contracts;

namespace TreeScout.Messaging;

/// <summary>The deployable processes that talk over the bus.</summary>
public enum WorkerRole
{
    Capture,
    Detection,
    Fusion,
    MapWriter,

    /// <summary>The `treescout` command: run control, status, and feeding a recorded run.</summary>
    Cli,
}

/// <summary>How a queue behaves when it is full.</summary>
public enum OverflowPolicy
{
    /// <summary>No length limit: the data is never dropped (observations, control).</summary>
    None,

    /// <summary>New messages are refused (publisher gets a nack and counts them as shed).</summary>
    RejectPublish,
}

public sealed record Binding(string Exchange, string RoutingKey);

public sealed record QueueSpec(
    string Name,
    IReadOnlyList<Binding> Bindings,
    int DeliveryLimit,
    OverflowPolicy Overflow,
    long? MaxLength,
    long? MaxLengthBytes)
{
    public string DeadLetterExchange => $"{Name}.dlx";

    public string DeadLetterQueue => $"{Name}.dlq";
}

/// <summary>Where one message type is published: its stage's exchange and a routing key.</summary>
public sealed record Route(string Exchange, string RoutingKey);

/// <summary>What a worker consumes and where it publishes; also the source of its broker permissions (deploy/).</summary>
public sealed record WorkerEndpoints(WorkerRole Role, IReadOnlyList<string> ConsumedQueues, IReadOnlyList<string> PublishedExchanges)
{
    /// <summary>Exchanges it listens to on exclusive, server-named queues (amq.gen-*) via <see cref="IMessageBus.ListenAsync"/>.</summary>
    public IReadOnlyList<string> ListenedExchanges { get; init; } = [];
}

/// <summary>
/// The complete broker topology, declared once at start by every worker (declarations are idempotent).
/// An exchange per stage; every consumed queue is a durable quorum queue with its own dead-letter exchange and queue.
/// Control messages are bound into the data queues that need them, so a run's RunStarted is always ahead of its data
/// in those queues (one publisher, one queue: FIFO).
/// </summary>
public sealed class Topology
{
    public const string ControlExchange = "treescout.control";
    public const string FramesExchange = "treescout.frames";
    public const string GnssExchange = "treescout.gnss";
    public const string DetectionsExchange = "treescout.detections";
    public const string ObservationsExchange = "treescout.observations";
    public const string MapsExchange = "treescout.maps";
    public const string StatusExchange = "treescout.status";

    public const string CaptureControlQueue = "treescout.capture.control";
    public const string DetectionFramesQueue = "treescout.detection.frames";
    public const string FusionDetectionsQueue = "treescout.fusion.detections";
    public const string FusionGnssQueue = "treescout.fusion.gnss";
    public const string MapWriterObservationsQueue = "treescout.mapwriter.observations";

    public static readonly IReadOnlyList<string> Exchanges =
        [ControlExchange, FramesExchange, GnssExchange, DetectionsExchange, ObservationsExchange, MapsExchange, StatusExchange];

    public Topology(TopologyOptions options)
    {
        Options = options;
        Queues =
        [
            new(CaptureControlQueue, [new(ControlExchange, "run.started"), new(ControlExchange, "run.stop-requested")], options.DeliveryLimit, OverflowPolicy.None, null, null),
            new(DetectionFramesQueue, [new(FramesExchange, "#")], options.DeliveryLimit, OverflowPolicy.RejectPublish, options.FramesMaxLength, options.FramesMaxLengthBytes),
            new(FusionDetectionsQueue, [new(ControlExchange, "run.started"), new(ControlExchange, "run.stopped"), new(DetectionsExchange, "#")], options.DeliveryLimit, OverflowPolicy.None, null, null),
            new(FusionGnssQueue, [new(GnssExchange, "#")], options.DeliveryLimit, OverflowPolicy.None, null, null),
            new(MapWriterObservationsQueue, [new(ControlExchange, "run.started"), new(ObservationsExchange, "#")], options.DeliveryLimit, OverflowPolicy.None, null, null),
        ];
    }

    public TopologyOptions Options { get; }

    public IReadOnlyList<QueueSpec> Queues { get; }

    public QueueSpec Queue(string name) =>
        Queues.FirstOrDefault(q => q.Name == name) ?? throw new ArgumentException($"'{name}' is not a TreeScout queue.", nameof(name));

    public static Route RouteOf(Type messageType) => messageType.Name switch
    {
        nameof(RunStarted) => new(ControlExchange, "run.started"),
        nameof(RunStopRequested) => new(ControlExchange, "run.stop-requested"),
        nameof(RunStopped) => new(ControlExchange, "run.stopped"),
        nameof(FrameCaptured) => new(FramesExchange, "frame"),
        nameof(GnssFix) => new(GnssExchange, "fix"),
        nameof(FrameDetections) => new(DetectionsExchange, "detections"),
        nameof(TreeObservations) => new(ObservationsExchange, "observations"),
        nameof(RunFused) => new(ObservationsExchange, "run.fused"),
        nameof(MapUpdated) => new(MapsExchange, "map.updated"),
        nameof(WorkerStatus) => new(StatusExchange, "status"),
        _ => throw new ArgumentException($"{messageType.Name} has no route.", nameof(messageType)),
    };

    /// <summary>Per worker: queues it consumes and exchanges it publishes to. Deployment derives broker permissions from this.</summary>
    public static WorkerEndpoints EndpointsOf(WorkerRole role) => role switch
    {
        WorkerRole.Capture => new(role, [CaptureControlQueue], [FramesExchange, ControlExchange, StatusExchange]),
        WorkerRole.Detection => new(role, [DetectionFramesQueue], [DetectionsExchange, StatusExchange]),
        WorkerRole.Fusion => new(role, [FusionDetectionsQueue, FusionGnssQueue], [GnssExchange, ObservationsExchange, StatusExchange]),
        WorkerRole.MapWriter => new(role, [MapWriterObservationsQueue], [MapsExchange, StatusExchange]),
        // The CLI feeds recordings (frames, fixes, control) and listens to maps and status on exclusive server-named queues.
        WorkerRole.Cli => new(role, [], [ControlExchange, FramesExchange, GnssExchange]) { ListenedExchanges = [MapsExchange, StatusExchange] },
        _ => throw new ArgumentOutOfRangeException(nameof(role)),
    };

    /// <summary>AMQP topic matching ('*' one word, '#' zero or more words), used by the in-memory bus.</summary>
    public static bool TopicMatches(string pattern, string routingKey)
    {
        var p = pattern.Split('.');
        var k = routingKey.Length == 0 ? [] : routingKey.Split('.');
        return Match(p, 0, k, 0);

        static bool Match(string[] p, int i, string[] k, int j)
        {
            if (i == p.Length)
            {
                return j == k.Length;
            }
            if (p[i] == "#")
            {
                for (var skip = j; skip <= k.Length; skip++)
                {
                    if (Match(p, i + 1, k, skip))
                    {
                        return true;
                    }
                }
                return false;
            }
            return j < k.Length && (p[i] == "*" || p[i] == k[j]) && Match(p, i + 1, k, j + 1);
        }
    }
}
