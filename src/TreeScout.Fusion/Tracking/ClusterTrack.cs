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

    /// <summary>Deterministic id: from the first frame that saw it and the detection's index there.</summary>
    public Guid Id => IdFor(Sightings[0].Frame.MessageId, Sightings[0].DetectionIndex);

    /// <summary>The id of a track that starts on detection <paramref name="detectionIndex"/> of a frame's detections message.</summary>
    public static Guid IdFor(Guid frameDetectionsMessageId, int detectionIndex) => MessageIds.Derive(frameDetectionsMessageId, $"cluster/{detectionIndex}");
}
