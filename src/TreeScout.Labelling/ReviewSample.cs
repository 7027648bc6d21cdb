using TreeScout.Contracts;

namespace TreeScout.Labelling;

/// <summary>Why a frame was kept for review.</summary>
public enum SampleReason
{
    /// <summary>Every Nth analysed frame of a camera: an unbiased picture of the run.</summary>
    EveryNth,

    /// <summary>The frame with the most uncertain detections of its window: where a label teaches the detector most.</summary>
    Uncertain,
}

/// <summary>A box the detector proposed, in pixels of the upright frame (left, top, width, height).</summary>
public sealed record ProposedBox(float X, float Y, float W, float H, float Score, BbchStage Stage);

/// <summary>
/// Where the tractor was when the frame was taken: fusion's pose of the GNSS antenna at the frame's time (WGS84 degrees,
/// heading clockwise from grid north), its 1-sigma position uncertainty in metres, and why it is doubtful (a pose stretched
/// over a GNSS gap), if it is.
/// </summary>
public sealed record FramePose(double Latitude, double Longitude, double? HeadingDeg, GnssQuality Quality, double? PositionSigmaM = null, string? Flag = null);

/// <summary>
/// One frame kept for review: the frame's identity, what the models proposed on it, and where it was taken.
/// Stored as <c>review/samples/{Id}.json</c> next to <c>{Id}.jpg</c> (the upright frame the boxes refer to).
/// </summary>
public sealed record ReviewSample
{
    public const int CurrentSchemaVersion = 1;

    public int SchemaVersion { get; init; } = CurrentSchemaVersion;

    public required string RunId { get; init; }

    public required string CameraId { get; init; }

    public required long Sequence { get; init; }

    public required DateTimeOffset CapturedAtUtc { get; init; }

    /// <summary>Size of the upright frame (the stored JPEG) the boxes refer to.</summary>
    public required int Width { get; init; }

    public required int Height { get; init; }

    public required ModelIdentity Detector { get; init; }

    public required ModelIdentity StageClassifier { get; init; }

    public required SampleReason Reason { get; init; }

    /// <summary>0..1: how unsure the detector was on this frame (the measure is in docs/labelling.md).</summary>
    public required double Uncertainty { get; init; }

    public required IReadOnlyList<ProposedBox> Proposals { get; init; }

    public string? BlockId { get; init; }

    public FramePose? Pose { get; init; }

    /// <summary>Trees whose clusters fusion saw in this frame, when known.</summary>
    public IReadOnlyList<string> TreeIds { get; init; } = [];

    /// <summary>The file-name-safe id of a camera's frame: <c>{camera}-{sequence:D8}</c>.</summary>
    public string Id => SampleId.Of(CameraId, Sequence);
}

public static class SampleId
{
    public static string Of(string cameraId, long sequence)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(cameraId);
        ArgumentOutOfRangeException.ThrowIfNegative(sequence);
        foreach (var c in cameraId)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
            {
                throw new ArgumentException($"camera id '{cameraId}' has '{c}': only letters, digits, '-', '_' and '.' make a file name", nameof(cameraId));
            }
        }
        return $"{cameraId}-{sequence:D8}";
    }

    /// <summary>True when <paramref name="id"/> could have come from <see cref="Of"/> (guards file paths built from a request).</summary>
    public static bool IsValid(string? id) =>
        id is { Length: > 9 and <= 128 }
        && id[^9] == '-'
        && id[^8..].All(char.IsAsciiDigit)
        && id[..^9].All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')
        && id[0] != '.';
}
