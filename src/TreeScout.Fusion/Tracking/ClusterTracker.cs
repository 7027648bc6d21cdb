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

    /// <summary>Largest matching cost (normalised distance to the prediction, ~3 sigma) a track seen in the previous frame accepts.</summary>
    public const double MatchGate = 3;

    /// <summary>
    /// Largest matching cost (normalised distance to the prediction; <see cref="MatchGate"/> for a track seen in the previous frame) a track
    /// that missed its cluster in the previous frame accepts. Its cluster is usually hidden behind a neighbour a few
    /// centimetres away, whose box then turns up near the prediction: on the simulator's RTK runs, 60 of the 74 such
    /// matches above 2 and 35 of 58 between 1.5 and 2 were another cluster (docs/fusion.md, "Tracking").
    /// </summary>
    public double AfterMissGate { get; init; } = 2;

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

    /// <summary>Largest image shift of a whole frame against its prediction that is looked for (heading error × focal length).</summary>
    public double MaxCommonShiftPx { get; init; } = 80;

    /// <summary>Offsets closer than this support the same common shift.</summary>
    public double CommonShiftTolerancePx { get; init; } = 3;

    /// <summary>Settled tracks that must agree before a common shift is applied.</summary>
    public int MinCommonShiftTracks { get; init; } = 8;

    /// <summary>
    /// Share, per frame, of the drift between the tracks' match points and their reported points that is taken out of
    /// the common shift the new rays are corrected by. Without it the shift drifted along every pass (to −50..−78 px on the
    /// simulator's RTK runs, where the search limit made every track lose its boxes at once); 0.3 and more also pull
    /// float passes onto their drifting fixes (docs/fusion.md, "common shift's drift").
    /// </summary>
    public double MatchFrameAnchoring { get; init; } = 0.05;

    /// <summary>A track whose boxes sit farther than this (RMS, pixels) from its point is checked for being two clusters.</summary>
    public double SplitMinRmsPx { get; init; } = 4;

    /// <summary>Two clusters explain the boxes when their squared residuals are at most this share of one cluster's.</summary>
    public double SplitMaxResidualShare { get; init; } = 0.25;

    /// <summary>Tracks longer than this are ended (bounds how long a frame's acknowledgement can wait).</summary>
    public int MaxTrackFrames { get; init; } = 150;
}

/// <summary>A frame as the tracker sees it; <see cref="OpenTracks"/> counts its tracks not yet reported (acknowledgement waits for 0).</summary>
public sealed class FrameTicket(long sequence, Guid messageId, DateTimeOffset capturedAtUtc)
{
    public long Sequence { get; } = sequence;

    public Guid MessageId { get; } = messageId;

    /// <summary>Capture time on the camera host's clock.</summary>
    public DateTimeOffset CapturedAtUtc { get; } = capturedAtUtc;

    public int OpenTracks { get; set; }
}

/// <summary>
/// One detection of a cluster: the frame, the box, the viewing ray through its centre (<paramref name="Direction"/>), the
/// frame's common image shift (the pose error all its tracks see; see <see cref="ClusterTracker"/>) and the ray through
/// the centre with that shift taken out (<paramref name="MatchDirection"/>), which matching uses.
/// </summary>
public sealed record Sighting(FrameTicket Frame, int DetectionIndex, BlossomDetection Detection, Pose Pose, Vec3 Origin, Vec3 Direction, (double U, double V) FrameShift, Vec3 MatchDirection)
{
    /// <summary>The box centre with the frame's common shift taken out.</summary>
    public (double U, double V) MatchCentre => (Centre.U - FrameShift.U, Centre.V - FrameShift.V);

    public (double U, double V) Centre => CentreOf(Detection);

    public static (double U, double V) CentreOf(BlossomDetection box) => (box.X + box.W / 2.0, box.Y + box.H / 2.0);
}

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
    private readonly List<(double U, double V, int Track)> _offsets = [];
    private readonly Dictionary<(int U, int V), List<int>> _cells = [];
    private readonly Dictionary<int, (double U, double V, double D2)> _nearest = [];
    private readonly List<double> _frameOffsetsU = [];
    private readonly List<double> _frameOffsetsV = [];
    private readonly double _angleSigma = options.PixelSigma / Math.Max(camera.Mounting.Fx, camera.Mounting.Fy);

    public IReadOnlyList<ClusterTrack> Active => _active;

    public CameraModel Camera => camera;

    /// <summary>Feeds one frame; tracks that ended are added to <paramref name="ended"/> (confirmed or not).</summary>
    public void Step(FrameTicket frame, in Pose pose, IReadOnlyList<BlossomDetection> all, List<ClusterTrack> ended)
    {
        var detections = NearRow(pose, all);
        var predictions = new Prediction[_active.Count];
        for (var t = 0; t < _active.Count; t++)
        {
            predictions[t] = Predict(_active[t], pose);
        }
        var centres = new (double U, double V)[detections.Count];
        for (var i = 0; i < detections.Count; i++)
        {
            centres[i] = Sighting.CentreOf(detections[i].Detection);
        }
        // The pose's small heading and position errors move every cluster of the frame by about the same amount in the
        // image (1° of heading is ~10 px at 640 px wide): that shared shift, measured on settled tracks, is taken out
        // for matching (MatchEstimate). Reported positions keep the raw rays: aligning every frame to the tracks would
        // let them drift away from GNSS.
        var (shiftU, shiftV) = CommonShift(predictions, centres);
        // Shift and match points moving together along the row look the same to the vote, so a small bias (the box of a
        // partly hidden cluster moves against the cluster as the view changes) builds up frame after frame; a share of how
        // far the match points have moved from the reported ones is taken out of the rays they are built from.
        var (driftU, driftV) = options.MatchFrameAnchoring > 0 ? MatchFrameOffset(pose, predictions) : (0, 0);
        var (corrU, corrV) = (shiftU + options.MatchFrameAnchoring * driftU, shiftV + options.MatchFrameAnchoring * driftV);
        var rays = new (Vec3 Origin, Vec3 Direction, Vec3 MatchDirection)[detections.Count];
        for (var i = 0; i < detections.Count; i++)
        {
            var (origin, direction) = camera.Ray(pose, centres[i].U, centres[i].V);
            rays[i] = (origin, direction, camera.Ray(pose, centres[i].U - corrU, centres[i].V - corrV).Direction);
        }

        var matchedTrack = new bool[_active.Count];
        var matchedDetection = new bool[detections.Count];
        var visible = new bool[_active.Count];
        _pairs.Clear();
        for (var t = 0; t < _active.Count; t++)
        {
            var p = predictions[t];
            var gate = _active[t].Misses > 0 ? options.AfterMissGate : TrackerOptions.MatchGate;
            visible[t] = p.Depth > 0 && camera.InImage(p.U + shiftU, p.V + shiftV, 0);
            if (p.Depth <= 0)
            {
                continue;
            }
            for (var i = 0; i < detections.Count; i++)
            {
                var d = detections[i].Detection;
                var size = Math.Max(d.W, d.H);
                var across = Math.Max(options.GatePx / 3, options.GateBoxFactor * 0.15 * size + options.PixelSigma);
                var alongSigma = across + p.SegmentLength / 4;
                var (du, dv) = (centres[i].U - shiftU - p.U, centres[i].V - shiftV - p.V);
                var alongOffset = du * p.AlongU + dv * p.AlongV;
                var acrossOffset = -du * p.AlongV + dv * p.AlongU;
                // The box size follows the depth: a box much larger or smaller than the track's last one is another cluster.
                var sizeRatio = Math.Log(size / Math.Max(1, p.ExpectedSize));
                var cost = Math.Sqrt((acrossOffset / across) * (acrossOffset / across) + (alongOffset / alongSigma) * (alongOffset / alongSigma)
                    + (sizeRatio / SizeLogSigma) * (sizeRatio / SizeLogSigma));
                if (cost < gate)
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
            AddSighting(_active[t], new Sighting(frame, detections[i].Index, detections[i].Detection, pose, rays[i].Origin, rays[i].Direction, (corrU, corrV), rays[i].MatchDirection));
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
            var patience = IsSettled(track) ? options.MaxOccludedFrames : options.MaxMisses;
            var gone = !matchedTrack[t] && (!visible[t] || track.Misses > patience);
            if (track.Sightings.Count >= options.MaxTrackFrames)
            {
                End(track, ended);
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
                AddSighting(track, new Sighting(frame, detections[i].Index, detections[i].Detection, pose, rays[i].Origin, rays[i].Direction, (corrU, corrV), rays[i].MatchDirection));
                survivors.Add(track);
            }
        }
        _active.Clear();
        _active.AddRange(survivors);
        Reacquire(frame.Sequence, ended);
    }

    /// <summary>
    /// Joins settled young tracks to older tracks of the same cluster: dormant ones, and active ones that have not been
    /// seen since before the young track started (the after-miss gate sent their cluster's returning box to a new track;
    /// once that has a few sightings, its rays tell whether it is the same point). Dormant tracks past the window end for good.
    /// </summary>
    private void Reacquire(long sequence, List<ClusterTrack> ended)
    {
        for (var a = 0; a < _active.Count; a++)
        {
            var track = _active[a];
            if (track.Sightings.Count < 3 || track.Sightings.Count > 6 || track.TriangulationSigmaM > options.SettledSigmaM * 2)
            {
                continue;
            }
            var d = _dormant.FindIndex(x => SameCluster(x.Track, track));
            if (d >= 0)
            {
                Join(_dormant[d].Track, track);
                _active[a] = _dormant[d].Track;
                _dormant.RemoveAt(d);
                continue;
            }
            var b = _active.FindIndex(old => old != track && old.Misses > 0 && SameCluster(old, track));
            if (b >= 0)
            {
                Join(_active[b], track);
                _active.RemoveAt(a--);
            }
        }
        for (var d = _dormant.Count - 1; d >= 0; d--)
        {
            if (sequence - _dormant[d].EndedAt > options.ReacquireFrames)
            {
                End(_dormant[d].Track, ended);
                _dormant.RemoveAt(d);
            }
        }
    }

    /// <summary>An older track, last seen before <paramref name="young"/> started, whose cluster is the same point.</summary>
    private bool SameCluster(ClusterTrack old, ClusterTrack young) =>
        old.Sightings[^1].Frame.Sequence < young.Sightings[0].Frame.Sequence
        && (old.MatchEstimate - young.MatchEstimate).Length <= 0.5
        && SamePoint(old, young);

    private void Join(ClusterTrack old, ClusterTrack young)
    {
        old.Sightings.AddRange(young.Sightings);
        old.Misses = 0;
        Estimate(old);
    }

    /// <summary>True when one point explains both tracks' sightings: re-triangulated from all rays, it projects onto every box.</summary>
    private bool SamePoint(ClusterTrack a, ClusterTrack b)
    {
        var triangulation = new Triangulation();
        foreach (var s in a.Sightings.Concat(b.Sightings))
        {
            var range = Math.Max(0.5, (b.MatchEstimate - s.Origin).Length);
            triangulation.AddRay(s.Origin, s.MatchDirection, 1 / (_angleSigma * _angleSigma * range * range));
        }
        triangulation.AddAnchor(b.MatchEstimate, 1e-6);
        if (triangulation.Solve() is not { } solution)
        {
            return false;
        }
        foreach (var s in a.Sightings.Concat(b.Sightings))
        {
            var (u, v, depth) = camera.Project(s.Pose, solution.Point);
            var tolerance = Math.Max(2 * options.PixelSigma, 0.25 * Math.Max(s.Detection.W, s.Detection.H));
            var (cu, cv) = s.MatchCentre;
            if (depth <= 0 || Math.Abs(u - cu) > tolerance || Math.Abs(v - cv) > tolerance)
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>First frame of the oldest track still open (active or hidden): a pass that ended before it has all its tracks ended.</summary>
    public long? OldestOpenTrackStart
    {
        get
        {
            long? oldest = null;
            foreach (var track in _active.Concat(_dormant.Select(d => d.Track)))
            {
                var start = track.Sightings[0].Frame.Sequence;
                if (oldest is null || start < oldest)
                {
                    oldest = start;
                }
            }
            return oldest;
        }
    }

    /// <summary>A frame that cannot be placed (no pose): visible tracks count it as a miss.</summary>
    public void Skip(List<ClusterTrack> ended)
    {
        _dormant.ForEach(d => End(d.Track, ended));
        _dormant.Clear();
        for (var t = _active.Count - 1; t >= 0; t--)
        {
            if (++_active[t].Misses > options.MaxMisses)
            {
                End(_active[t], ended);
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
                End(_dormant[d].Track, ended);
                _dormant.RemoveAt(d);
            }
        }
        for (var t = _active.Count - 1; t >= 0; t--)
        {
            if (startedBeforeSequence is null || _active[t].Sightings[0].Frame.Sequence < startedBeforeSequence)
            {
                End(_active[t], ended);
                _active.RemoveAt(t);
            }
        }
    }

    /// <summary>Where a track's cluster should appear in the frame, and how its depth uncertainty stretches that along a segment.</summary>
    private readonly record struct Prediction(double U, double V, double Depth, double AlongU, double AlongV, double SegmentLength, double ExpectedSize, bool Settled);

    private Prediction Predict(ClusterTrack track, in Pose pose)
    {
        var (pu, pv, depth) = camera.Project(pose, track.MatchEstimate);
        if (depth <= 0)
        {
            return new Prediction(pu, pv, depth, 1, 0, 0, 0, false);
        }
        // The estimate is least sure along the viewing ray (depth): the cluster appears somewhere on the image segment
        // between the projections of the estimate moved ± 2 sigma along its last ray (the epipolar segment).
        var along = track.Sightings[^1].MatchDirection * (2 * track.TriangulationSigmaM);
        var (au, av, ad) = camera.Project(pose, track.MatchEstimate + along);
        var (bu, bv, bd) = camera.Project(pose, track.MatchEstimate - along);
        if (ad <= 0 || bd <= 0)
        {
            (au, av, bu, bv) = (pu, pv, pu, pv);
        }
        // Normalised innovation: across the segment the prediction is as good as a box centre; along it the depth
        // uncertainty adds a quarter of the segment (it spans ± 2 sigma). A settled track therefore claims its
        // detection before a young track whose long segment happens to pass over it.
        var last = track.Sightings[^1];
        var lastDepth = (track.MatchEstimate - last.Origin).Dot(camera.Axes(last.Pose).Forward);
        var expectedSize = Math.Max(last.Detection.W, last.Detection.H) * (lastDepth > 0.1 ? lastDepth / depth : 1);
        var (su, sv) = (au - bu, av - bv);
        var length = Math.Sqrt(su * su + sv * sv);
        var (eu, ev) = length > 1e-6 ? (su / length, sv / length) : (1.0, 0.0);
        return new Prediction(pu, pv, depth, eu, ev, length, expectedSize, IsSettled(track));
    }

    /// <summary>Seen often enough and well enough triangulated that its position predicts where it appears.</summary>
    private bool IsSettled(ClusterTrack track) => track.Sightings.Count >= 3 && track.TriangulationSigmaM <= options.SettledSigmaM;

    /// <summary>
    /// The image shift most settled tracks agree on: every offset from a settled track's prediction to a detection within
    /// <see cref="TrackerOptions.MaxCommonShiftPx"/> votes, and the offset with the most votes within
    /// <see cref="TrackerOptions.CommonShiftTolerancePx"/> wins (wrong pairings scatter, the true shift piles up); the result
    /// is the mean of one supporting offset per track. Zero unless at least <see cref="TrackerOptions.MinCommonShiftTracks"/> agree.
    /// </summary>
    private (double U, double V) CommonShift(Prediction[] predictions, (double U, double V)[] centres)
    {
        _offsets.Clear();
        var radius2 = options.MaxCommonShiftPx * options.MaxCommonShiftPx;
        for (var t = 0; t < predictions.Length; t++)
        {
            var p = predictions[t];
            if (!p.Settled || p.Depth <= 0)
            {
                continue;
            }
            for (var i = 0; i < centres.Length; i++)
            {
                var (du, dv) = (centres[i].U - p.U, centres[i].V - p.V);
                if (du * du + dv * dv <= radius2)
                {
                    _offsets.Add((du, dv, t));
                }
            }
        }
        // Each offset counts the offsets within the tolerance of it; a grid of the tolerance limits the comparisons to
        // neighbouring cells (a dense canopy gives thousands of offsets per frame).
        var tolerance = options.CommonShiftTolerancePx;
        var tolerance2 = tolerance * tolerance;
        // The cells' lists are kept from frame to frame (emptied, not dropped): offsets lie within MaxCommonShiftPx, so
        // there are at most (2 × MaxCommonShiftPx / tolerance)² cells, and the vote allocates nothing once they exist.
        foreach (var members in _cells.Values)
        {
            members.Clear();
        }
        for (var i = 0; i < _offsets.Count; i++)
        {
            var key = CellOf(_offsets[i].U, _offsets[i].V, tolerance);
            if (!_cells.TryGetValue(key, out var members))
            {
                _cells[key] = members = [];
            }
            members.Add(i);
        }
        var (bestVotes, best) = (0, -1);
        for (var a = 0; a < _offsets.Count; a++)
        {
            var (au, av, _) = _offsets[a];
            var (cu, cv) = CellOf(au, av, tolerance);
            var votes = 0;
            for (var du = -1; du <= 1; du++)
            {
                for (var dv = -1; dv <= 1; dv++)
                {
                    if (!_cells.TryGetValue((cu + du, cv + dv), out var members))
                    {
                        continue;
                    }
                    foreach (var b in members)
                    {
                        var (eu, ev) = (_offsets[b].U - au, _offsets[b].V - av);
                        votes += eu * eu + ev * ev <= tolerance2 ? 1 : 0;
                    }
                }
            }
            if (votes > bestVotes)
            {
                (bestVotes, best) = (votes, a);
            }
        }
        if (bestVotes < options.MinCommonShiftTracks)
        {
            return (0, 0);
        }
        var centre = _offsets[best];
        // One offset per track (the one nearest the winner), averaged.
        var nearest = _nearest;
        nearest.Clear();
        foreach (var (u, v, t) in _offsets)
        {
            var d2 = (u - centre.U) * (u - centre.U) + (v - centre.V) * (v - centre.V);
            if (d2 <= tolerance2 && (!nearest.TryGetValue(t, out var n) || d2 < n.D2))
            {
                nearest[t] = (u, v, d2);
            }
        }
        return nearest.Count < options.MinCommonShiftTracks ? (0, 0) : (nearest.Values.Average(n => n.U), nearest.Values.Average(n => n.V));
    }

    /// <summary>
    /// Where the settled tracks' match points project (their predictions) against their reported points (median,
    /// pixels): how far the frame the common shift works in has moved away from the one GNSS gives (zero unless it drifted).
    /// </summary>
    private (double U, double V) MatchFrameOffset(in Pose pose, Prediction[] predictions)
    {
        _frameOffsetsU.Clear();
        _frameOffsetsV.Clear();
        for (var t = 0; t < predictions.Length; t++)
        {
            var p = predictions[t];
            if (!p.Settled || p.Depth <= 0)
            {
                continue;
            }
            var (u, v, depth) = camera.Project(pose, _active[t].Estimate);
            if (depth > 0)
            {
                _frameOffsetsU.Add(p.U - u);
                _frameOffsetsV.Add(p.V - v);
            }
        }
        if (_frameOffsetsU.Count < options.MinCommonShiftTracks)
        {
            return (0, 0);
        }
        _frameOffsetsU.Sort();
        _frameOffsetsV.Sort();
        return (_frameOffsetsU[_frameOffsetsU.Count / 2], _frameOffsetsV[_frameOffsetsV.Count / 2]);
    }

    /// <summary>Boxes of clusters on the faced row (by apparent size: a far cluster looks small); far ones are counted in <see cref="FarDetections"/>.</summary>
    private List<(int Index, BlossomDetection Detection)> NearRow(in Pose pose, IReadOnlyList<BlossomDetection> detections)
    {
        var near = new List<(int, BlossomDetection)>(detections.Count);
        var (origin, axis) = camera.Ray(pose, camera.Mounting.Cx, camera.Mounting.Cy);
        var focal = (camera.Mounting.Fx + camera.Mounting.Fy) / 2;
        double DepthFromSize(BlossomDetection d) => focal * options.ClusterDiameterM / Math.Max(1, Math.Max(d.W, d.H));
        if (!rows.FromPlan)
        {
            var canopy = 0;
            foreach (var d in detections)
            {
                canopy += DepthFromSize(d) <= options.DefaultRowDistanceM + options.FarRowMarginM ? 1 : 0;
            }
            rows.FollowPath(pose, axis, canopy, _active.Where(IsSettled).Select(t => t.Estimate));
        }
        FacedRow = rows.AlongsideRow(origin, axis);
        var rowDistance = FacedRow is { } faced
            ? Math.Abs(faced.Project(origin.X, origin.Y).LateralM) / Math.Max(0.2, new Vec3(axis.X, axis.Y, 0).Length)
            : options.DefaultRowDistanceM;
        for (var i = 0; i < detections.Count; i++)
        {
            var d = detections[i];
            if (DepthFromSize(d) > rowDistance + options.FarRowMarginM)
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

    /// <summary>The row the camera faced in the last frame stepped (null: none, e.g. on a headland).</summary>
    public MappedRow? FacedRow { get; private set; }

    /// <summary>Spread of box size between frames of one cluster (log scale): detector boxes wobble by about a fifth.</summary>
    private const double SizeLogSigma = 0.25;

    private void AddSighting(ClusterTrack track, Sighting sighting)
    {
        track.Sightings.Add(sighting);
        sighting.Frame.OpenTracks++;
        Estimate(track);
    }

    private static (int U, int V) CellOf(double u, double v, double size) => ((int)Math.Floor(u / size), (int)Math.Floor(v / size));

    /// <summary>
    /// Ends a track; a track that followed two clusters is ended as two. Neighbouring clusters a few centimetres apart
    /// take turns hiding behind each other, so one track can collect both: its sightings then do not meet in one point
    /// (after each frame's common shift is taken out) but in two. A two-means split of the sightings is kept when each
    /// part has <see cref="TrackerOptions.MinSightings"/> and the split explains the boxes markedly better.
    /// </summary>
    private void End(ClusterTrack track, List<ClusterTrack> ended)
    {
        var n = track.Sightings.Count;
        var splittable = n >= 2 * options.MinSightings;
        var residuals = splittable ? new (double U, double V)[n] : null;
        var sum = Residuals(track.MatchEstimate, track.Sightings, residuals);
        if (splittable && sum / n >= options.SplitMinRmsPx * options.SplitMinRmsPx && Split(track, residuals!, sum) is ({ } a, { } b))
        {
            SplitTracks++;
            End(a, ended);
            End(b, ended);
            return;
        }
        // A posteriori variance factor: boxes that do not meet in one point (beyond the pixel noise) widen the position's
        // uncertainty, so a track that mixed up clusters is flagged instead of counted on the wrong tree.
        track.TriangulationSigmaM *= Math.Max(1, Math.Sqrt(sum / n) / options.PixelSigma);
        ended.Add(track);
    }

    /// <summary>Tracks ended as two (see <see cref="End"/>).</summary>
    public long SplitTracks { get; private set; }

    /// <summary>Two-means split of a track's sightings, given their residuals against its point and their sum of squares.</summary>
    private (ClusterTrack, ClusterTrack)? Split(ClusterTrack track, (double U, double V)[] residuals, double before)
    {
        // First guess: the two sides of the residuals' principal axis.
        double suu = 0, suv = 0, svv = 0;
        foreach (var (u, v) in residuals)
        {
            (suu, suv, svv) = (suu + u * u, suv + u * v, svv + v * v);
        }
        var angle = 0.5 * Math.Atan2(2 * suv, suu - svv);
        var (cos, sin) = (Math.Cos(angle), Math.Sin(angle));
        var meanAlong = residuals.Average(r => r.U * cos + r.V * sin);
        var side = residuals.Select(r => r.U * cos + r.V * sin > meanAlong).ToArray();
        for (var iteration = 0; ; iteration++)
        {
            if (Part(track, side, false) is not { } a || Part(track, side, true) is not { } b)
            {
                return null;
            }
            // Each sighting moves to the part whose point explains it better, until none moves (or 5 rounds).
            var changed = false;
            for (var i = 0; i < side.Length && iteration < 5; i++)
            {
                var s = track.Sightings[i];
                var toSecond = Residual(b.MatchEstimate, s) < Residual(a.MatchEstimate, s);
                changed |= toSecond != side[i];
                side[i] = toSecond;
            }
            if (!changed)
            {
                var after = Residuals(a.MatchEstimate, a.Sightings, null) + Residuals(b.MatchEstimate, b.Sightings, null);
                return after <= options.SplitMaxResidualShare * before ? (a, b) : null;
            }
        }
    }

    private ClusterTrack? Part(ClusterTrack track, bool[] side, bool which)
    {
        var part = new ClusterTrack { Estimate = track.Estimate, MatchEstimate = track.MatchEstimate };
        for (var i = 0; i < side.Length; i++)
        {
            if (side[i] == which)
            {
                part.Sightings.Add(track.Sightings[i]);
            }
        }
        if (part.Sightings.Count < options.MinSightings)
        {
            return null;
        }
        Estimate(part);
        return part;
    }

    /// <summary>Sum of squared reprojection residuals (pixels², each frame's common shift taken out).</summary>
    private double Residuals(Vec3 point, List<Sighting> sightings, (double U, double V)[]? residuals)
    {
        var sum = 0.0;
        for (var i = 0; i < sightings.Count; i++)
        {
            var r = ResidualOf(point, sightings[i]);
            if (residuals is not null)
            {
                residuals[i] = r;
            }
            sum += r.U * r.U + r.V * r.V;
        }
        return sum;
    }

    private double Residual(Vec3 point, Sighting s)
    {
        var (u, v) = ResidualOf(point, s);
        return u * u + v * v;
    }

    private (double U, double V) ResidualOf(Vec3 point, Sighting s)
    {
        var (u, v, _) = camera.Project(s.Pose, point);
        var (cu, cv) = s.MatchCentre;
        return (cu - u, cv - v);
    }

    private void Estimate(ClusterTrack track)
    {
        (track.Estimate, track.TriangulationSigmaM) = Solve(track.Sightings, s => s.Direction, track.Estimate);
        (track.MatchEstimate, _) = Solve(track.Sightings, s => s.MatchDirection, track.MatchEstimate);
    }

    /// <summary>The point nearest the sightings' rays (chosen by <paramref name="direction"/>), held to the row plane while they are nearly parallel.</summary>
    private (Vec3 Point, double SigmaM) Solve(List<Sighting> sightings, Func<Sighting, Vec3> direction, Vec3 previous)
    {
        var first = sightings[0];
        var prior = sightings.Count == 1 ? RowPlanePoint(first.Origin, direction(first)) : previous;
        var triangulation = new Triangulation();
        foreach (var s in sightings)
        {
            var range = Math.Max(0.5, (prior - s.Origin).Length);
            triangulation.AddRay(s.Origin, direction(s), 1 / (_angleSigma * _angleSigma * range * range));
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
            var h = new Vec3(direction(first).X, direction(first).Y, 0);
            normal = h * (1 / Math.Max(1e-9, h.Length));
            planePoint = first.Origin + normal * options.DefaultRowDistanceM;
        }
        var canopy = options.CanopyHalfDepthM;
        triangulation.AddPlane(planePoint, normal, 1 / (canopy * canopy));
        triangulation.AddAnchor(prior, 1e-6);
        return triangulation.Solve() is { } solution ? (solution.Point, solution.HorizontalSigmaM) : (prior, canopy);
    }

    /// <summary>Where a ray meets the first row it crosses (or the default distance): the first guess of a new track's position.</summary>
    private Vec3 RowPlanePoint(Vec3 origin, Vec3 direction)
    {
        var h = direction.HorizontalLength;
        var distance = rows.RowDistance(origin, direction, options.MaxRangeM) ?? options.DefaultRowDistanceM;
        return origin + direction * (distance / Math.Max(h, 1e-6));
    }
}
