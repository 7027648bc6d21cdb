namespace TreeScout.Contracts;

/// <summary>The closed set of message types with their wire names and the schema versions this build understands.</summary>
public static class MessageTypes
{
    public sealed record Info(Type Type, string Name, int CurrentSchemaVersion);

    public static readonly IReadOnlyList<Info> All =
    [
        new(typeof(RunStarted), "run-started", RunStarted.CurrentSchemaVersion),
        new(typeof(RunStopRequested), "run-stop-requested", RunStopRequested.CurrentSchemaVersion),
        new(typeof(RunStopped), "run-stopped", RunStopped.CurrentSchemaVersion),
        new(typeof(FrameCaptured), "frame-captured", FrameCaptured.CurrentSchemaVersion),
        new(typeof(GnssFix), "gnss-fix", GnssFix.CurrentSchemaVersion),
        new(typeof(FrameDetections), "frame-detections", FrameDetections.CurrentSchemaVersion),
        new(typeof(TreeObservations), "tree-observations", TreeObservations.CurrentSchemaVersion),
        new(typeof(RunFused), "run-fused", RunFused.CurrentSchemaVersion),
        new(typeof(MapUpdated), "map-updated", MapUpdated.CurrentSchemaVersion),
        new(typeof(WorkerStatus), "worker-status", WorkerStatus.CurrentSchemaVersion),
        new(typeof(RunLedgerMark), "run-ledger-mark", RunLedgerMark.CurrentSchemaVersion),
        new(typeof(RunFusionProgress), "run-fusion-progress", RunFusionProgress.CurrentSchemaVersion),
        new(typeof(RunCaptureProgress), "run-capture-progress", RunCaptureProgress.CurrentSchemaVersion),
        new(typeof(RunInterrupted), "run-interrupted", RunInterrupted.CurrentSchemaVersion),
        new(typeof(ReviewFrameSampled), "review-frame-sampled", ReviewFrameSampled.CurrentSchemaVersion),
        new(typeof(ReviewFramePose), "review-frame-pose", ReviewFramePose.CurrentSchemaVersion),
    ];

    private static readonly Dictionary<Type, Info> ByType = All.ToDictionary(i => i.Type);
    private static readonly Dictionary<string, Info> ByName = All.ToDictionary(i => i.Name, StringComparer.Ordinal);

    public static Info Of(Type type) =>
        ByType.TryGetValue(type, out var info) ? info : throw new ArgumentException($"{type.Name} is not a TreeScout message type.", nameof(type));

    public static Info Of<T>() where T : IMessage => Of(typeof(T));

    public static bool TryGet(string? name, out Info info)
    {
        info = null!;
        return name is not null && ByName.TryGetValue(name, out info!);
    }
}
