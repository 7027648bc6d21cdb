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

    /// <summary>The console (cab screen and run maps in a browser): run control, and listening to status, maps and GNSS.</summary>
    Console,
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
    /// <summary>
    /// The broker's x-delivery-limit (every delivery counts, crashes included); see <see cref="TopologyOptions.BrokerDeliveryLimit"/>.
    /// Null: none (the uplink queue, whose only consumer is the broker's own shovel).
    /// </summary>
    public int? BrokerDeliveryLimit { get; init; } = DeliveryLimit;

    public string DeadLetterExchange => $"{Name}.dlx";

    public string DeadLetterQueue => $"{Name}.dlq";
}

/// <summary>Where one message type is published: its stage's exchange and a routing key.</summary>
public sealed record Route(string Exchange, string RoutingKey);

/// <summary>
/// What a worker consumes and where it publishes; also the source of its broker permissions (deploy/). Every role also
/// reads the run ledger (<see cref="Topology.RunLedgerStream"/>) and appends its read markers to <see cref="Topology.RunLedgerExchange"/>.
/// </summary>
public sealed record WorkerEndpoints(WorkerRole Role, IReadOnlyList<string> ConsumedQueues, IReadOnlyList<string> PublishedExchanges)
{
    /// <summary>Exchanges it listens to on exclusive, server-named queues (amq.gen-*) via <see cref="IMessageBus.ListenAsync"/>.</summary>
    public IReadOnlyList<string> ListenedExchanges { get; init; } = [];
}

/// <summary>
/// The complete broker topology, transport-neutral (the in-memory broker uses it as is); <see cref="RabbitMqTopology"/>
/// turns it into RabbitMQ's declarations. An exchange per stage; every consumed queue is a durable quorum queue with
/// its own dead-letter exchange and queue.
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

    /// <summary>
    /// Frames detection keeps for the reviewers (<see cref="ReviewFrameSampled"/>), bound into the map writer's queue, which
    /// owns the run folder; an exchange of its own so that neither fusion nor the uplink gets the images (docs/adr/0068).
    /// </summary>
    public const string ReviewExchange = "treescout.review";

    /// <summary>
    /// Where readers append their <see cref="RunLedgerMark"/>, fusion its <see cref="RunFusionProgress"/> and capture its
    /// <see cref="RunCaptureProgress"/> and <see cref="RunInterrupted"/>.
    /// </summary>
    public const string RunLedgerExchange = "treescout.ledger";

    public const string CaptureControlQueue = "treescout.capture.control";
    public const string DetectionFramesQueue = "treescout.detection.frames";
    public const string FusionDetectionsQueue = "treescout.fusion.detections";
    public const string FusionGnssQueue = "treescout.fusion.gnss";
    public const string MapWriterObservationsQueue = "treescout.mapwriter.observations";

    /// <summary>
    /// What the central site gets of every run (store-and-forward, docs/adr/0057): the broker's shovel forwards it to
    /// the central broker whenever the tractor has a link. Only in a topology with <see cref="TopologyOptions.Uplink"/>.
    /// </summary>
    public const string UplinkQueue = "treescout.uplink";

    /// <summary>
    /// The run ledger: a stream (append-only, read without consuming) of every run's lifecycle facts — RunStarted,
    /// RunStopRequested, RunStopped, RunFused — that any worker re-reads after a crash or power cut (docs/adr/0007).
    /// </summary>
    public const string RunLedgerStream = "treescout.runs";

    public static readonly IReadOnlyList<string> Exchanges =
        [ControlExchange, FramesExchange, GnssExchange, DetectionsExchange, ObservationsExchange, MapsExchange, StatusExchange, RunLedgerExchange, ReviewExchange];

    /// <summary>What the run ledger records: the lifecycle routes and the readers' markers.</summary>
    public static readonly IReadOnlyList<Binding> RunLedgerBindings =
    [
        new(ControlExchange, "run.started"),
        new(ControlExchange, "run.stop-requested"),
        new(ControlExchange, "run.stopped"),
        new(ObservationsExchange, "run.fused"),
        new(RunLedgerExchange, "mark"),
        new(RunLedgerExchange, "progress"),
    ];

    /// <summary>
    /// What the uplink forwards: the run's lifecycle (start, stop, fused), its tree observations, the map writer's
    /// notices (the final one says the run's map is complete) and the ledger's progress (how far an interrupted run
    /// got). Not frames, detections, fixes or status: the central store is built from observations.
    /// </summary>
    public static readonly IReadOnlyList<Binding> UplinkBindings =
    [
        new(ControlExchange, "run.started"),
        new(ControlExchange, "run.stopped"),
        new(ObservationsExchange, "#"),
        new(MapsExchange, "map.updated"),
        new(RunLedgerExchange, "progress"),
    ];

    public Topology(TopologyOptions options)
    {
        Options = options;
        QueueSpec Quorum(string name, IReadOnlyList<Binding> bindings, OverflowPolicy overflow = OverflowPolicy.None, long? maxLength = null, long? maxLengthBytes = null) =>
            WorkQueue(name, bindings, options, overflow, maxLength, maxLengthBytes);
        Queues =
        [
            Quorum(CaptureControlQueue, [new(ControlExchange, "run.started"), new(ControlExchange, "run.stop-requested")]),
            Quorum(DetectionFramesQueue, [new(FramesExchange, "#")], OverflowPolicy.RejectPublish, options.FramesMaxLength, options.FramesMaxLengthBytes),
            Quorum(FusionDetectionsQueue, [new(ControlExchange, "run.started"), new(ControlExchange, "run.stopped"), new(DetectionsExchange, "#")]),
            Quorum(FusionGnssQueue, [new(GnssExchange, "#")]),
            // Samples share the queue with the observations: detection publishes a frame's sample before its detections,
            // so it is queued ahead of the run's RunFused (fusion publishes that after the last detections).
            Quorum(MapWriterObservationsQueue, [new(ControlExchange, "run.started"), new(ObservationsExchange, "#"), new(ReviewExchange, "#")]),
            // No broker delivery limit: on RabbitMQ 3.x every return counts as a delivery, so the shovel's unconfirmed
            // window, returned at each drop of a flaky LTE link, would reach any limit and be dead-lettered unsent.
            .. options.Uplink ? [Quorum(UplinkQueue, UplinkBindings) with { BrokerDeliveryLimit = null }] : Array.Empty<QueueSpec>(),
        ];
    }

    /// <summary>A durable quorum work queue with the options' delivery limits (the broker's at least the handler's).</summary>
    public static QueueSpec WorkQueue(string name, IReadOnlyList<Binding> bindings, TopologyOptions options,
        OverflowPolicy overflow = OverflowPolicy.None, long? maxLength = null, long? maxLengthBytes = null) =>
        new(name, bindings, options.DeliveryLimit, overflow, maxLength, maxLengthBytes) { BrokerDeliveryLimit = Math.Max(options.DeliveryLimit, options.BrokerDeliveryLimit) };

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
        nameof(ReviewFrameSampled) => new(ReviewExchange, "sample"),
        nameof(ReviewFramePose) => new(ReviewExchange, "pose"),
        nameof(TreeObservations) => new(ObservationsExchange, "observations"),
        nameof(RunFused) => new(ObservationsExchange, "run.fused"),
        nameof(MapUpdated) => new(MapsExchange, "map.updated"),
        nameof(WorkerStatus) => new(StatusExchange, "status"),
        nameof(RunLedgerMark) => new(RunLedgerExchange, "mark"),
        nameof(RunFusionProgress) or nameof(RunCaptureProgress) or nameof(RunInterrupted) => new(RunLedgerExchange, "progress"),
        _ => throw new ArgumentException($"{messageType.Name} has no route.", nameof(messageType)),
    };

    /// <summary>Per worker: queues it consumes and exchanges it publishes to. Deployment derives broker permissions from this.</summary>
    public static WorkerEndpoints EndpointsOf(WorkerRole role) => role switch
    {
        // Capture hears GNSS fixes for the ground speed its frame plan decimates by (docs/adr/0065).
        WorkerRole.Capture => new(role, [CaptureControlQueue], [FramesExchange, ControlExchange, StatusExchange, RunLedgerExchange]) { ListenedExchanges = [GnssExchange] },
        WorkerRole.Detection => new(role, [DetectionFramesQueue], [DetectionsExchange, ReviewExchange, StatusExchange, RunLedgerExchange]),
        WorkerRole.Fusion => new(role, [FusionDetectionsQueue, FusionGnssQueue], [GnssExchange, ObservationsExchange, ReviewExchange, StatusExchange, RunLedgerExchange]),
        WorkerRole.MapWriter => new(role, [MapWriterObservationsQueue], [MapsExchange, StatusExchange, RunLedgerExchange]),
        // The CLI feeds recordings (frames, fixes, control) and listens to maps and status on exclusive server-named queues.
        WorkerRole.Cli => new(role, [], [ControlExchange, FramesExchange, GnssExchange, RunLedgerExchange]) { ListenedExchanges = [MapsExchange, StatusExchange] },
        // The console publishes run control only (and its ledger read markers); GNSS fixes give the cab screen the
        // tractor's position, speed and fix age, which no status message carries.
        WorkerRole.Console => new(role, [], [ControlExchange, RunLedgerExchange]) { ListenedExchanges = [MapsExchange, StatusExchange, GnssExchange] },
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
