using TreeScout.Contracts;

namespace TreeScout.Labelling;

/// <summary>What the reviewer decided about a frame.</summary>
public enum ReviewStatus
{
    /// <summary>Every cluster in the frame is boxed (an empty box list means: no clusters in this frame).</summary>
    Labelled,

    /// <summary>Not worth labelling (blurred, unclear); never goes into a dataset.</summary>
    Skipped,
}

/// <summary>How a labelled box came to be.</summary>
public enum BoxOrigin
{
    /// <summary>A proposal accepted as it was.</summary>
    Accepted,

    /// <summary>A proposal whose box the reviewer moved or resized.</summary>
    Redrawn,

    /// <summary>A cluster the detector missed, boxed by the reviewer.</summary>
    Added,
}

/// <summary>One cluster as the reviewer labelled it, pixels of the upright frame. Stage null: not judged.</summary>
public sealed record LabelledBox(float X, float Y, float W, float H, BbchStage? Stage, BoxOrigin Origin, int? ProposalIndex = null);

/// <summary>
/// A reviewer's labels for one frame, as saved (<c>review/labels/{sample id}.json</c>). Proposals not among
/// <see cref="Boxes"/> (by <see cref="LabelledBox.ProposalIndex"/>) were rejected.
/// </summary>
public sealed record FrameLabels
{
    public const int CurrentSchemaVersion = 1;

    public int SchemaVersion { get; init; } = CurrentSchemaVersion;

    public required ReviewStatus Status { get; init; }

    public required IReadOnlyList<LabelledBox> Boxes { get; init; }

    public required string Reviewer { get; init; }

    public required DateTimeOffset SavedAtUtc { get; init; }

    /// <summary>1 for the first save, +1 for each save after it; a save names the revision it was based on.</summary>
    public required int Revision { get; init; }

    /// <summary>Set when this save overwrote another reviewer's revision the saver had not seen (kept in the history).</summary>
    public int? OverwroteRevision { get; init; }
}
