using TreeScout.Contracts;
using TreeScout.Fusion.Geometry;

namespace TreeScout.Fusion.Tracking;

/// <summary>
/// One detection of a cluster: the frame, the box, the viewing ray through its centre (<paramref name="Direction"/>), the
/// frame's common image shift (the pose error all its tracks see; see <see cref="ClusterTracker"/>) and the ray through
/// the centre with that shift taken out (<paramref name="MatchDirection"/>), which matching uses.
/// <paramref name="AfterSequence"/> is the sequence of the frame the tracker was given before this one (null for its
/// first): frames between the two were decimated by capture's frame plan or shed (<see cref="ClusterTrack.FramesCovered"/>).
/// </summary>
public sealed record Sighting(FrameTicket Frame, int DetectionIndex, BlossomDetection Detection, Pose Pose, Vec3 Origin, Vec3 Direction, (double U, double V) FrameShift, Vec3 MatchDirection, long? AfterSequence)
{
    /// <summary>The box centre with the frame's common shift taken out.</summary>
    public (double U, double V) MatchCentre => (Centre.U - FrameShift.U, Centre.V - FrameShift.V);

    public (double U, double V) Centre => CentreOf(Detection);

    public static (double U, double V) CentreOf(BlossomDetection box) => (box.X + box.W / 2.0, box.Y + box.H / 2.0);
}
