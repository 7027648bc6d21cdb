using TreeScout.Contracts;
using TreeScout.Fusion.Attribution;
using TreeScout.Fusion.Geometry;

namespace TreeScout.Fusion.Tracking;

/// <summary>How clusters are followed from frame to frame.</summary>
public sealed record TrackerOptions
{
    /// <summary>
    /// A track seen in fewer frames is not reported (a box seen once or twice is most likely a false detection). 3, not 2:
    /// with the committed detector it halves the false clusters of the bundled sample (1,122 → 530; per-tree count MAPE
    /// 234 % → 113 %) for 8 points of recall; on the simulator's truth boxes it costs under 1 point (docs/fusion.md).
    /// </summary>
    public int MinSightings { get; init; } = 3;

    /// <summary>Frames a visible track may go undetected before it ends.</summary>
    public int MaxMisses { get; init; } = 3;

    /// <summary>
    /// Frames a well-triangulated track (see <see cref="SettledSigmaM"/>) may stay undetected while it is predicted in view:
    /// clusters hide behind leaves for a while, and its position predicts where it reappears.
    /// </summary>
    public int MaxOccludedFrames { get; init; } = 15;

    public double SettledSigmaM { get; init; } = 0.1;

    /// <summary>
    /// An ended track is kept this many frames: if a new track turns out to be the same cluster (its rays and the old
    /// track's meet in one point), they are joined, so a cluster that was hidden for a while is still counted once.
    /// </summary>
    public int ReacquireFrames { get; init; } = 40;

    /// <summary>Matching gate around the predicted box centre, pixels (at least; larger boxes get a larger gate).</summary>
    public double GatePx { get; init; } = 8;

    /// <summary>Gate as a share of the box size: a cluster's box moves by less than its size between predictions.</summary>
    public double GateBoxFactor { get; init; } = 1.0;

    /// <summary>1-sigma error of a box centre, pixels: weighs the rays in triangulation.</summary>
    public double PixelSigma { get; init; } = 2;

    /// <summary>How far clusters hang in front of or behind the row line (canopy half depth): the depth prior's sigma.</summary>
    public double CanopyHalfDepthM { get; init; } = 0.35;

    /// <summary>Rows farther along the ray than this are not the row the camera faces.</summary>
    public double MaxRangeM { get; init; } = 8;

    /// <summary>Depth prior when no row is known yet (no plan, first clusters of a pass).</summary>
    public double DefaultRowDistanceM { get; init; } = 2.0;

    /// <summary>Typical blossom cluster diameter: with the box size it tells how far away a cluster is.</summary>
    public double ClusterDiameterM { get; init; } = 0.09;

    /// <summary>
    /// A box whose size puts its cluster more than this beyond the row the camera faces shows a farther row (seen through
    /// the scanned one): that row's face is counted on its own pass, so such boxes are not tracked.
    /// </summary>
    public double FarRowMarginM { get; init; } = 2.0;

    /// <summary>Tracks longer than this are ended (bounds how long a frame's acknowledgement can wait).</summary>
    public int MaxTrackFrames { get; init; } = 150;
}

/// <summary>A frame as the tracker sees it; <see cref="OpenTracks"/> counts its tracks not yet reported (acknowledgement waits for 0).</summary>
public sealed class FrameTicket(long sequence, Guid messageId)
{
    public long Sequence { get; } = sequence;

    public Guid MessageId { get; } = messageId;

    public int OpenTracks { get; set; }
}

/// <summary>One detection of a cluster: the frame, the box and the viewing ray through its centre.</summary>
public sealed record Sighting(FrameTicket Frame, int DetectionIndex, BlossomDetection Detection, Pose Pose, Vec3 Origin, Vec3 Direction);

/// <summary>A physical cluster followed across frames, with its triangulated position.</summary>
public sealed class ClusterTrack
{
    public List<Sighting> Sightings { get; } = [];

    public Vec3 Estimate { get; set; }

    public double TriangulationSigmaM { get; set; }

    public int Misses { get; set; }

    /// <summary>Deterministic id: from the first frame that saw it and the detection's index there.</summary>
    public Guid Id => IdFor(Sightings[0].Frame.MessageId, Sightings[0].DetectionIndex);

    /// <summary>The id of a track that starts on detection <paramref name="detectionIndex"/> of a frame's detections message.</summary>
    public static Guid IdFor(Guid frameDetectionsMessageId, int detectionIndex) => MessageIds.Derive(frameDetectionsMessageId, $"cluster/{detectionIndex}");
}

/// <summary>
/// Follows blossom clusters through one camera's frames (in sequence order): each track's 3-D estimate is projected into
/// the new frame with the new pose (so the prediction follows the tractor's motion, curves and reversing included), the
/// detections are matched greedily by distance inside a gate, and the estimate is re-triangulated from all sightings
/// with the row plane as a depth prior. Tracks end when their cluster leaves the view or goes unseen.
/// </summary>
public sealed class ClusterTracker(CameraModel camera, RowMap rows, TrackerOptions options)
{
    private readonly List<ClusterTrack> _active = [];
    private readonly List<(ClusterTrack Track, long EndedAt)> _dormant = [];
    private readonly List<(double Cost, int Track, int Detection)> _pairs = [];
    private readonly double _angleSigma = options.PixelSigma / Math.Max(camera.Mounting.Fx, camera.Mounting.Fy);

    public IReadOnlyList<ClusterTrack> Active => _active;

    public CameraModel Camera => camera;

    /// <summary>Feeds one frame; tracks that ended are added to <paramref name="ended"/> (confirmed or not).</summary>
    public void Step(FrameTicket frame, in Pose pose, IReadOnlyList<BlossomDetection> all, List<ClusterTrack> ended)
    {
        var detections = NearRow(pose, all);
        var rays = new (Vec3 Origin, Vec3 Direction, double U, double V)[detections.Count];
        for (var i = 0; i < detections.Count; i++)
        {
            var d = detections[i].Detection;
            var (u, v) = (d.X + d.W / 2.0, d.Y + d.H / 2.0);
            var (origin, direction) = camera.Ray(pose, u, v);
            rays[i] = (origin, direction, u, v);
        }

        var matchedTrack = new bool[_active.Count];
        var matchedDetection = new bool[detections.Count];
        var visible = new bool[_active.Count];
        _pairs.Clear();
        for (var t = 0; t < _active.Count; t++)
        {
            var track = _active[t];
            var (pu, pv, depth) = camera.Project(pose, track.Estimate);
            visible[t] = depth > 0 && camera.InImage(pu, pv, 0);
            if (depth <= 0)
            {
                continue;
            }
            // The estimate is least sure along the viewing ray (depth): the cluster appears somewhere on the image segment
            // between the projections of the estimate moved ± 2 sigma along its last ray (the epipolar segment).
            var along = track.Sightings[^1].Direction * (2 * track.TriangulationSigmaM);
            var (au, av, ad) = camera.Project(pose, track.Estimate + along);
            var (bu, bv, bd) = camera.Project(pose, track.Estimate - along);
            if (ad <= 0 || bd <= 0)
            {
                (au, av, bu, bv) = (pu, pv, pu, pv);
            }
            // Normalised innovation: across the segment the prediction is as good as a box centre; along it the depth
            // uncertainty adds a quarter of the segment (it spans ± 2 sigma). A settled track therefore claims its
            // detection before a young track whose long segment happens to pass over it.
            var last = track.Sightings[^1];
            var lastDepth = (track.Estimate - last.Origin).Dot(camera.Axes(last.Pose).Forward);
            var expectedSize = Math.Max(last.Detection.W, last.Detection.H) * (lastDepth > 0.1 ? lastDepth / depth : 1);
            var (su, sv) = (au - bu, av - bv);
            var length = Math.Sqrt(su * su + sv * sv);
            var (eu, ev) = length > 1e-6 ? (su / length, sv / length) : (1.0, 0.0);
            for (var i = 0; i < detections.Count; i++)
            {
                var d = detections[i].Detection;
                var size = Math.Max(d.W, d.H);
                var across = Math.Max(options.GatePx / 3, options.GateBoxFactor * 0.15 * size + options.PixelSigma);
                var alongSigma = across + length / 4;
                var (du, dv) = (rays[i].U - pu, rays[i].V - pv);
                var alongOffset = du * eu + dv * ev;
                var acrossOffset = -du * ev + dv * eu;
                // The box size follows the depth: a box much larger or smaller than the track's last one is another cluster.
                var sizeRatio = Math.Log(size / Math.Max(1, expectedSize));
                var cost = Math.Sqrt((acrossOffset / across) * (acrossOffset / across) + (alongOffset / alongSigma) * (alongOffset / alongSigma)
                    + (sizeRatio / SizeLogSigma) * (sizeRatio / SizeLogSigma));
                if (cost < 3)
                {
                    _pairs.Add((cost, t, i));
                }
            }
        }

        _pairs.Sort((a, b) => a.Cost.CompareTo(b.Cost));
        foreach (var (_, t, i) in _pairs)
        {
            if (matchedTrack[t] || matchedDetection[i])
            {
                continue;
            }
            matchedTrack[t] = matchedDetection[i] = true;
            AddSighting(_active[t], new Sighting(frame, detections[i].Index, detections[i].Detection, pose, rays[i].Origin, rays[i].Direction));
        }

        var survivors = new List<ClusterTrack>(_active.Count + detections.Count);
        for (var t = 0; t < _active.Count; t++)
        {
            var track = _active[t];
            if (!matchedTrack[t])
            {
                track.Misses++;
            }
            else
            {
                track.Misses = 0;
            }
            var patience = track.Sightings.Count >= 3 && track.TriangulationSigmaM <= options.SettledSigmaM ? options.MaxOccludedFrames : options.MaxMisses;
            var gone = !matchedTrack[t] && (!visible[t] || track.Misses > patience);
            if (track.Sightings.Count >= options.MaxTrackFrames)
            {
                ended.Add(track);
            }
            else if (gone)
            {
                _dormant.Add((track, frame.Sequence));
            }
            else
            {
                survivors.Add(track);
            }
        }
        for (var i = 0; i < detections.Count; i++)
        {
            if (!matchedDetection[i])
            {
                var track = new ClusterTrack();
                AddSighting(track, new Sighting(frame, detections[i].Index, detections[i].Detection, pose, rays[i].Origin, rays[i].Direction));
                survivors.Add(track);
            }
        }
        _active.Clear();
        _active.AddRange(survivors);
        Reacquire(frame.Sequence, ended);
    }

    /// <summary>Joins settled young tracks to dormant tracks of the same cluster; dormant tracks past the window end for good.</summary>
    private void Reacquire(long sequence, List<ClusterTrack> ended)
    {
        for (var a = 0; a < _active.Count; a++)
        {
            var track = _active[a];
            if (track.Sightings.Count < 3 || track.Sightings.Count > 6 || track.TriangulationSigmaM > options.SettledSigmaM * 2)
            {
                continue;
            }
            var first = track.Sightings[0].Frame.Sequence;
            for (var d = 0; d < _dormant.Count; d++)
            {
                var old = _dormant[d].Track;
                if (old.Sightings[^1].Frame.Sequence >= first || (old.Estimate - track.Estimate).Length > 0.5 || !SamePoint(old, track))
                {
                    continue;
                }
                foreach (var sighting in track.Sightings)
                {
                    old.Sightings.Add(sighting);
                }
                old.Misses = 0;
                Estimate(old);
                _active[a] = old;
                _dormant.RemoveAt(d);
                break;
            }
        }
        for (var d = _dormant.Count - 1; d >= 0; d--)
        {
            if (sequence - _dormant[d].EndedAt > options.ReacquireFrames)
            {
                ended.Add(_dormant[d].Track);
                _dormant.RemoveAt(d);
            }
        }
    }

    /// <summary>True when one point explains both tracks' sightings: re-triangulated from all rays, it projects onto every box.</summary>
    private bool SamePoint(ClusterTrack a, ClusterTrack b)
    {
        var triangulation = new Triangulation();
        foreach (var s in a.Sightings.Concat(b.Sightings))
        {
            var range = Math.Max(0.5, (b.Estimate - s.Origin).Length);
            triangulation.AddRay(s.Origin, s.Direction, 1 / (_angleSigma * _angleSigma * range * range));
        }
        triangulation.AddAnchor(b.Estimate, 1e-6);
        if (triangulation.Solve() is not { } solution)
        {
            return false;
        }
        foreach (var s in a.Sightings.Concat(b.Sightings))
        {
            var (u, v, depth) = camera.Project(s.Pose, solution.Point);
            var d = s.Detection;
            var tolerance = Math.Max(2 * options.PixelSigma, 0.25 * Math.Max(d.W, d.H));
            if (depth <= 0 || Math.Abs(u - (d.X + d.W / 2.0)) > tolerance || Math.Abs(v - (d.Y + d.H / 2.0)) > tolerance)
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>A frame that cannot be placed (no pose): visible tracks count it as a miss.</summary>
    public void Skip(List<ClusterTrack> ended)
    {
        _dormant.ForEach(d => ended.Add(d.Track));
        _dormant.Clear();
        for (var t = _active.Count - 1; t >= 0; t--)
        {
            if (++_active[t].Misses > options.MaxMisses)
            {
                ended.Add(_active[t]);
                _active.RemoveAt(t);
            }
        }
    }

    /// <summary>Ends every track (end of run, or to bound how long frames stay unacknowledged).</summary>
    public void EndAll(List<ClusterTrack> ended, long? startedBeforeSequence = null)
    {
        for (var d = _dormant.Count - 1; d >= 0; d--)
        {
            if (startedBeforeSequence is null || _dormant[d].Track.Sightings[0].Frame.Sequence < startedBeforeSequence)
            {
                ended.Add(_dormant[d].Track);
                _dormant.RemoveAt(d);
            }
        }
        for (var t = _active.Count - 1; t >= 0; t--)
        {
            if (startedBeforeSequence is null || _active[t].Sightings[0].Frame.Sequence < startedBeforeSequence)
            {
                ended.Add(_active[t]);
                _active.RemoveAt(t);
            }
        }
    }

    /// <summary>Boxes of clusters on the faced row (by apparent size: a far cluster looks small); far ones are counted in <see cref="FarDetections"/>.</summary>
    private List<(int Index, BlossomDetection Detection)> NearRow(in Pose pose, IReadOnlyList<BlossomDetection> detections)
    {
        var near = new List<(int, BlossomDetection)>(detections.Count);
        var (origin, axis) = camera.Ray(pose, camera.Mounting.Cx, camera.Mounting.Cy);
        var rowDistance = rows.AlongsideRow(origin, axis) is { } faced
            ? Math.Abs(faced.Project(origin.X, origin.Y).LateralM) / Math.Max(0.2, new Vec3(axis.X, axis.Y, 0).Length)
            : options.DefaultRowDistanceM;
        var focal = (camera.Mounting.Fx + camera.Mounting.Fy) / 2;
        for (var i = 0; i < detections.Count; i++)
        {
            var d = detections[i];
            var depthFromSize = focal * options.ClusterDiameterM / Math.Max(1, Math.Max(d.W, d.H));
            if (depthFromSize > rowDistance + options.FarRowMarginM)
            {
                FarDetections++;
            }
            else
            {
                near.Add((i, d));
            }
        }
        return near;
    }

    /// <summary>Detections left out because their size puts them on a row beyond the faced one.</summary>
    public long FarDetections { get; private set; }

    /// <summary>Spread of box size between frames of one cluster (log scale): detector boxes wobble by about a fifth.</summary>
    private const double SizeLogSigma = 0.25;

    private void AddSighting(ClusterTrack track, Sighting sighting)
    {
        track.Sightings.Add(sighting);
        sighting.Frame.OpenTracks++;
        Estimate(track);
    }

    private void Estimate(ClusterTrack track)
    {
        var first = track.Sightings[0];
        var prior = track.Sightings.Count == 1 ? RowPlanePoint(first.Origin, first.Direction) : track.Estimate;
        var triangulation = new Triangulation();
        foreach (var s in track.Sightings)
        {
            var range = Math.Max(0.5, (prior - s.Origin).Length);
            triangulation.AddRay(s.Origin, s.Direction, 1 / (_angleSigma * _angleSigma * range * range));
        }
        // Depth prior: the vertical plane of the row the cluster hangs on (or the default distance along the first ray).
        Vec3 planePoint, normal;
        if (rows.Nearest(prior) is { } p && Math.Abs(p.LateralM) < 3 * options.CanopyHalfDepthM)
        {
            var (sin, cos) = Math.SinCos(p.DirectionRad);
            normal = new Vec3(cos, -sin, 0);
            planePoint = prior - normal * p.LateralM;
        }
        else
        {
            var h = new Vec3(first.Direction.X, first.Direction.Y, 0);
            normal = h * (1 / Math.Max(1e-9, h.Length));
            planePoint = first.Origin + normal * options.DefaultRowDistanceM;
        }
        var canopy = options.CanopyHalfDepthM;
        triangulation.AddPlane(planePoint, normal, 1 / (canopy * canopy));
        triangulation.AddAnchor(prior, 1e-6);
        if (triangulation.Solve() is { } solution)
        {
            track.Estimate = solution.Point;
            track.TriangulationSigmaM = solution.HorizontalSigmaM;
        }
        else
        {
            track.Estimate = prior;
            track.TriangulationSigmaM = canopy;
        }
    }

    /// <summary>Where a ray meets the first row it crosses (or the default distance): the first guess of a new track's position.</summary>
    private Vec3 RowPlanePoint(Vec3 origin, Vec3 direction)
    {
        var h = direction.HorizontalLength;
        var distance = rows.RowDistance(origin, direction, options.MaxRangeM) ?? options.DefaultRowDistanceM;
        return origin + direction * (distance / Math.Max(h, 1e-6));
    }
}
