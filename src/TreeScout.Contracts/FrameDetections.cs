namespace TreeScout.Contracts;

/// <summary>Which model produced a result; carried in every detection message so a map can be traced to its model.</summary>
public sealed record ModelIdentity(string Name, string Version, string Sha256);

/// <summary>One blossom cluster found in a frame.</summary>
public sealed record BlossomDetection
{
    /// <summary>Box in pixels of the upright frame (after the mount rotation has been undone): left, top, width, height.</summary>
    public required float X { get; init; }

    public required float Y { get; init; }

    public required float W { get; init; }

    public required float H { get; init; }

    /// <summary>Detector confidence 0..1.</summary>
    public required float Score { get; init; }

    /// <summary>Most likely stage.</summary>
    public required BbchStage Stage { get; init; }

    /// <summary>Stage probabilities in <see cref="BbchStages.Ordered"/> order.</summary>
    public required float[] StageProbabilities { get; init; }
}

/// <summary>What the detection worker concluded about how the camera is mounted, from the frame itself.</summary>
public sealed record OrientationCheck
{
    /// <summary>Rotation (degrees clockwise) the worker undid before detection, from configuration.</summary>
    public required int AppliedRotationDeg { get; init; }

    /// <summary>Extra rotation the image content suggests (0 = looks upright), or null when not checked on this frame.</summary>
    public int? SuspectedRotationDeg { get; init; }

    /// <summary>0..1 confidence in <see cref="SuspectedRotationDeg"/>.</summary>
    public double Confidence { get; init; }
}

/// <summary>All blossom clusters detected in one frame.</summary>
public sealed record FrameDetections : IMessage
{
    public const int CurrentSchemaVersion = 1;

    public required Guid MessageId { get; init; }

    public required string RunId { get; init; }

    public int SchemaVersion { get; init; } = CurrentSchemaVersion;

    public required Guid FrameMessageId { get; init; }

    public required long Sequence { get; init; }

    public required string CameraId { get; init; }

    public required DateTimeOffset CapturedAtUtc { get; init; }

    public required long MonotonicNs { get; init; }

    /// <summary>Size of the upright frame the boxes refer to.</summary>
    public required int Width { get; init; }

    public required int Height { get; init; }

    public required ModelIdentity Detector { get; init; }

    public required ModelIdentity StageClassifier { get; init; }

    public required IReadOnlyList<BlossomDetection> Detections { get; init; }

    public required OrientationCheck Orientation { get; init; }

    public double InferenceMs { get; init; }

    /// <summary>
    /// The frame was skipped by capture's frame plan and never looked at: not "no clusters", so fusion accounts for it
    /// without feeding it to the tracker (docs/adr/0065). <see cref="Detections"/> is empty.
    /// </summary>
    public bool Decimated { get; init; }

    /// <summary>Detection kept this frame for review (<see cref="ReviewFrameSampled"/>): fusion sends its pose (<see cref="ReviewFramePose"/>).</summary>
    public bool KeptForReview { get; init; }
}
