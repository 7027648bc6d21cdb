using TreeScout.Contracts;
using TreeScout.Fusion.Geometry;

namespace TreeScout.Fusion.Tracking;

/// <summary>A physical cluster followed across frames, with its triangulated position.</summary>
public sealed class ClusterTrack
{
    public List<Sighting> Sightings { get; } = [];

    /// <summary>Position from the rays as the poses give them: what is reported.</summary>
    public Vec3 Estimate { get; set; }

    /// <summary>
    /// Position from the rays with each frame's common shift taken out: consistent with the other tracks from frame to
    /// frame, so it predicts where the cluster appears next; it may drift from GNSS along a pass, so it is never reported.
    /// </summary>
    public Vec3 MatchEstimate { get; set; }

    public double TriangulationSigmaM { get; set; }

    public int Misses { get; set; }

    /// <summary>
    /// Frames of its camera the track was seen over: each sighting stands for its frame and, when the track was also seen
    /// in the frame the tracker was given just before, for the frames between the two that the tracker never got
    /// (decimated by capture's frame plan, docs/adr/0065, or shed by capture): the cluster was in view through them.
    /// When every frame reaches the tracker this is the number of sightings.
    /// </summary>
    public int FramesCovered
    {
        get
        {
            var frames = 0;
            for (var i = 0; i < Sightings.Count; i++)
            {
                var s = Sightings[i];
                frames += i > 0 && s.AfterSequence == Sightings[i - 1].Frame.Sequence ? (int)(s.Frame.Sequence - Sightings[i - 1].Frame.Sequence) : 1;
            }
            return frames;
        }
    }

    /// <summary>Deterministic id: from the first frame that saw it and the detection's index there.</summary>
    public Guid Id => IdFor(Sightings[0].Frame.MessageId, Sightings[0].DetectionIndex);

    /// <summary>
    /// The id of the track this one was split from when it ended (its own while it is not a part of one): a track's
    /// provisional observations are reconciled with the observations it ends as by this id.
    /// </summary>
    public Guid RootId
    {
        get => _rootId ?? Id;
        init => _rootId = value;
    }

    private readonly Guid? _rootId;

    /// <summary>The id of a track that starts on detection <paramref name="detectionIndex"/> of a frame's detections message.</summary>
    public static Guid IdFor(Guid frameDetectionsMessageId, int detectionIndex) => MessageIds.Derive(frameDetectionsMessageId, $"cluster/{detectionIndex}");
}
