using TreeScout.Contracts;
using TreeScout.Fusion.Attribution;
using TreeScout.Fusion.Geometry;

namespace TreeScout.Fusion.Tracking;

/// <summary>
/// Follows blossom clusters through one camera's frames (in sequence order): each track's 3-D estimate is projected into
/// the new frame with the new pose (so the prediction follows the tractor's motion, curves and reversing included), the
/// detections are matched greedily by distance inside a gate, and the estimate is re-triangulated from all sightings
/// with the row plane as a depth prior. Tracks end when their cluster leaves the view or goes unseen.
/// </summary>
public sealed class ClusterTracker(CameraModel camera, RowMap rows, TrackerOptions options)
{
    // Fixed tuning: these describe the detector's boxes, the triangulation or the tracker's own bookkeeping rather than
    // an orchard, camera or pose source, so no site has a reason to set them (the site settings are on TrackerOptions).
    // The remaining literals (1e-9, 1e-6, 0.1 m, 0.2) only guard divisions by near-zero lengths and depths.

    /// <summary>Spread of box size between frames of one cluster (log scale): detector boxes wobble by about a fifth.</summary>
    private const double SizeLogSigma = 0.25;

    /// <summary>A box centre's 1-sigma wobble as a share of the box size (scaled by <see cref="TrackerOptions.GateBoxFactor"/>).</summary>
    private const double BoxCentreWobble = 0.15;

    /// <summary>
    /// The epipolar segment a prediction spans reaches this many sigma of the triangulation each way along the last ray
    /// (so a quarter of its length is one sigma).
    /// </summary>
    private const double SegmentSigmas = 2;

    /// <summary>Rays a track needs before its position is trusted to predict (with <see cref="TrackerOptions.SettledSigmaM"/>): three rays fix a point and check it.</summary>
    private const int SettledSightings = 3;

    /// <summary>A young track is compared with older ones until it has this many sightings: later it has kept its own cluster long enough.</summary>
    private const int JoinMaxSightings = 6;

    /// <summary>A young track may be joined while its sigma is up to this multiple of <see cref="TrackerOptions.SettledSigmaM"/>: joining re-triangulates from both tracks' rays.</summary>
    private const double JoinSigmaFactor = 2;

    /// <summary>Match points of two tracks farther apart than this (metres) are never the same cluster, whatever their rays say.</summary>
    private const double JoinMaxDistanceM = 0.5;

    /// <summary>A joined point must project within this share of each box's size (at least 2 pixel sigma) onto every box.</summary>
    private const double JoinBoxShare = 0.25;

    /// <summary>Rounds of the two-means split: it settles in two or three; the bound only stops a sighting flipping back and forth.</summary>
    private const int SplitRounds = 5;

    /// <summary>Rays are weighted as if at least this far (metres): keeps a ray from a near-zero range from outweighing the rest.</summary>
    private const double MinRayRangeM = 0.5;

    /// <summary>A cluster this many canopy half depths or less from a row hangs on it (its plane is the depth prior).</summary>
    private const double RowMembershipDepths = 3;

    /// <summary>Weight of the previous position in a triangulation: only keeps the system solvable, too small to move the point.</summary>
    private const double PreviousPointWeight = 1e-6;

    private readonly List<ClusterTrack> _active = [];
    private readonly List<(ClusterTrack Track, long EndedAt)> _dormant = [];
    private readonly List<(Guid Root, List<ClusterTrack> Parts)> _provisional = [];
    private readonly List<(double Cost, int Track, int Detection)> _pairs = [];
    private readonly CommonShift _commonShift = new(options);
    private readonly List<double> _frameOffsetsU = [];
    private readonly List<double> _frameOffsetsV = [];
    private readonly double _angleSigma = options.PixelSigma / Math.Max(camera.Mounting.Fx, camera.Mounting.Fy);
    private long? _previousSequence;

    public IReadOnlyList<ClusterTrack> Active => _active;

    public CameraModel Camera => camera;

    /// <summary>Feeds one frame; tracks that ended are added to <paramref name="ended"/> (confirmed or not).</summary>
    public void Step(FrameTicket frame, in Pose pose, IReadOnlyList<BlossomDetection> all, List<ClusterTrack> ended)
    {
        var detections = NearRow(pose, all);
        var predictions = PredictAll(pose);
        var boxes = Observe(frame, pose, detections, predictions);
        _previousSequence = frame.Sequence;
        var visible = Gate(predictions, boxes);
        var (matchedTrack, matchedDetection) = Match(boxes);
        var survivors = AgeTracks(frame.Sequence, matchedTrack, visible, boxes.Detections.Count, ended);
        StartTracks(boxes, matchedDetection, survivors);
        _active.Clear();
        _active.AddRange(survivors);
        Reacquire(frame.Sequence, ended);
    }

    /// <summary>
    /// One frame's near-row boxes with their centres, their rays, the frame's common shift (<see cref="Shift"/>, what
    /// gating takes out) and the correction its match rays are built with (<see cref="Correction"/>: the shift less a
    /// share of the match frame's drift).
    /// </summary>
    private sealed record FrameBoxes(
        FrameTicket Frame,
        Pose Pose,
        List<(int Index, BlossomDetection Detection)> Detections,
        (double U, double V)[] Centres,
        (Vec3 Origin, Vec3 Direction, Vec3 MatchDirection)[] Rays,
        (double U, double V) Shift,
        (double U, double V) Correction,
        long? AfterSequence)
    {
        public Sighting SightingOf(int i) =>
            new(Frame, Detections[i].Index, Detections[i].Detection, Pose, Rays[i].Origin, Rays[i].Direction, Correction, Rays[i].MatchDirection, AfterSequence);
    }

    private Prediction[] PredictAll(in Pose pose)
    {
        var predictions = new Prediction[_active.Count];
        for (var t = 0; t < _active.Count; t++)
        {
            predictions[t] = Predict(_active[t], pose);
        }
        return predictions;
    }

    /// <summary>The frame's boxes with the common shift voted on them and the rays built with it taken out.</summary>
    private FrameBoxes Observe(FrameTicket frame, in Pose pose, List<(int Index, BlossomDetection Detection)> detections, Prediction[] predictions)
    {
        var centres = new (double U, double V)[detections.Count];
        for (var i = 0; i < detections.Count; i++)
        {
            centres[i] = Sighting.CentreOf(detections[i].Detection);
        }
        // The shift all the frame's clusters share is taken out for matching (MatchEstimate). Reported positions keep the
        // raw rays: aligning every frame to the tracks would let them drift away from GNSS.
        var (shiftU, shiftV) = _commonShift.Vote(predictions, centres);
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
        return new FrameBoxes(frame, pose, detections, centres, rays, (shiftU, shiftV), (corrU, corrV), _previousSequence);
    }

    /// <summary>Collects the track–box pairs inside each track's gate in <see cref="_pairs"/>; returns which tracks are predicted in view.</summary>
    private bool[] Gate(Prediction[] predictions, FrameBoxes boxes)
    {
        var visible = new bool[_active.Count];
        _pairs.Clear();
        for (var t = 0; t < _active.Count; t++)
        {
            var p = predictions[t];
            var gate = _active[t].Misses > 0 ? options.AfterMissGate : TrackerOptions.MatchGate;
            visible[t] = p.Depth > 0 && camera.InImage(p.U + boxes.Shift.U, p.V + boxes.Shift.V, 0);
            if (p.Depth <= 0)
            {
                continue;
            }
            for (var i = 0; i < boxes.Detections.Count; i++)
            {
                var cost = MatchCost(p, boxes.Detections[i].Detection, boxes.Centres[i].U - boxes.Shift.U - p.U, boxes.Centres[i].V - boxes.Shift.V - p.V);
                if (cost < gate)
                {
                    _pairs.Add((cost, t, i));
                }
            }
        }
        return visible;
    }

    /// <summary>Normalised distance of a box (centre offset <paramref name="du"/>, <paramref name="dv"/> from the prediction, shift taken out) to a track's prediction.</summary>
    private double MatchCost(in Prediction p, BlossomDetection d, double du, double dv)
    {
        var size = Math.Max(d.W, d.H);
        // With the gate at MatchGate sigma, an across sigma of at least GatePx / MatchGate keeps the gate at least GatePx wide.
        var across = Math.Max(options.GatePx / TrackerOptions.MatchGate, options.GateBoxFactor * BoxCentreWobble * size + options.PixelSigma);
        var alongSigma = across + p.SegmentLength / (2 * SegmentSigmas);
        var alongOffset = du * p.AlongU + dv * p.AlongV;
        var acrossOffset = -du * p.AlongV + dv * p.AlongU;
        // The box size follows the depth: a box much larger or smaller than the track's last one is another cluster.
        var sizeRatio = Math.Log(size / Math.Max(1, p.ExpectedSize));
        return Math.Sqrt((acrossOffset / across) * (acrossOffset / across) + (alongOffset / alongSigma) * (alongOffset / alongSigma)
            + (sizeRatio / SizeLogSigma) * (sizeRatio / SizeLogSigma));
    }

    /// <summary>Greedy matching, cheapest pair first: each track and each box is used once.</summary>
    private (bool[] Tracks, bool[] Detections) Match(FrameBoxes boxes)
    {
        var matchedTrack = new bool[_active.Count];
        var matchedDetection = new bool[boxes.Detections.Count];
        _pairs.Sort((a, b) => a.Cost.CompareTo(b.Cost));
        foreach (var (_, t, i) in _pairs)
        {
            if (matchedTrack[t] || matchedDetection[i])
            {
                continue;
            }
            matchedTrack[t] = matchedDetection[i] = true;
            AddSighting(_active[t], boxes.SightingOf(i));
        }
        return (matchedTrack, matchedDetection);
    }

    /// <summary>
    /// Counts misses and returns the tracks that go on: a track that left the view or stayed unseen past its patience goes
    /// dormant (it may still be rejoined, see <see cref="Reacquire"/>); one at <see cref="TrackerOptions.MaxTrackFrames"/> ends.
    /// </summary>
    private List<ClusterTrack> AgeTracks(long sequence, bool[] matchedTrack, bool[] visible, int newcomers, List<ClusterTrack> ended)
    {
        var survivors = new List<ClusterTrack>(_active.Count + newcomers);
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
            // A settled track's position says where its cluster reappears, so it may wait out longer occlusions.
            var patience = IsSettled(track) ? options.MaxOccludedFrames : options.MaxMisses;
            var gone = !matchedTrack[t] && (!visible[t] || track.Misses > patience);
            if (track.Sightings.Count >= options.MaxTrackFrames)
            {
                End(track, ended);
            }
            else if (gone)
            {
                _dormant.Add((track, sequence));
                _provisional.Add((track.Id, Preview(track)));
            }
            else
            {
                survivors.Add(track);
            }
        }
        return survivors;
    }

    /// <summary>Every box no track claimed starts a track.</summary>
    private void StartTracks(FrameBoxes boxes, bool[] matchedDetection, List<ClusterTrack> survivors)
    {
        for (var i = 0; i < boxes.Detections.Count; i++)
        {
            if (!matchedDetection[i])
            {
                var track = new ClusterTrack();
                AddSighting(track, boxes.SightingOf(i));
                survivors.Add(track);
            }
        }
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
            if (track.Sightings.Count < SettledSightings || track.Sightings.Count > JoinMaxSightings || track.TriangulationSigmaM > options.SettledSigmaM * JoinSigmaFactor)
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

    /// <summary>
    /// What each track shows on the map before it ends (docs/adr/0073), in the order it happened since the last call: a
    /// track that went out of view shows the parts it would end as now (it may still be rejoined); a young track joined to
    /// an older one shows nothing any more (its sightings are the older track's). Fusion publishes these as provisional
    /// observations; when the track ends, its final observations replace them.
    /// </summary>
    public void TakeProvisional(List<(Guid Root, List<ClusterTrack> Parts)> shown)
    {
        shown.AddRange(_provisional);
        _provisional.Clear();
    }

    /// <summary>A track as it would end now (split in two if it followed two clusters); the track itself is left as it is.</summary>
    private List<ClusterTrack> Preview(ClusterTrack track)
    {
        var copy = new ClusterTrack { Estimate = track.Estimate, MatchEstimate = track.MatchEstimate, TriangulationSigmaM = track.TriangulationSigmaM };
        copy.Sightings.AddRange(track.Sightings);
        var parts = new List<ClusterTrack>(1);
        End(copy, parts, preview: true);
        return parts;
    }

    /// <summary>An older track, last seen before <paramref name="young"/> started, whose cluster is the same point.</summary>
    private bool SameCluster(ClusterTrack old, ClusterTrack young) =>
        old.Sightings[^1].Frame.Sequence < young.Sightings[0].Frame.Sequence
        && (old.MatchEstimate - young.MatchEstimate).Length <= JoinMaxDistanceM
        && SamePoint(old, young);

    private void Join(ClusterTrack old, ClusterTrack young)
    {
        _provisional.Add((young.Id, []));
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
            var range = Math.Max(MinRayRangeM, (b.MatchEstimate - s.Origin).Length);
            triangulation.AddRay(s.Origin, s.MatchDirection, 1 / (_angleSigma * _angleSigma * range * range));
        }
        triangulation.AddAnchor(b.MatchEstimate, PreviousPointWeight);
        if (triangulation.Solve() is not { } solution)
        {
            return false;
        }
        foreach (var s in a.Sightings.Concat(b.Sightings))
        {
            var (u, v, depth) = camera.Project(s.Pose, solution.Point);
            var tolerance = Math.Max(2 * options.PixelSigma, JoinBoxShare * Math.Max(s.Detection.W, s.Detection.H));
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
        // Every track missed this frame, so none was seen through it (see ClusterTrack.FramesCovered).
        _previousSequence = null;
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

    private Prediction Predict(ClusterTrack track, in Pose pose)
    {
        var (pu, pv, depth) = camera.Project(pose, track.MatchEstimate);
        if (depth <= 0)
        {
            return new Prediction(pu, pv, depth, 1, 0, 0, 0, false);
        }
        // The estimate is least sure along the viewing ray (depth): the cluster appears somewhere on the image segment
        // between the projections of the estimate moved ± 2 sigma along its last ray (the epipolar segment).
        var along = track.Sightings[^1].MatchDirection * (SegmentSigmas * track.TriangulationSigmaM);
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

    /// <summary>
    /// Seen over enough frames to be reported (<see cref="TrackerOptions.MinSightings"/>), counting the frames capture's
    /// plan decimated between two of its sightings in successive kept frames: a cluster seen in two kept frames 0.5 m
    /// apart was in view as long as one seen in every frame over that travel, which full rate would have confirmed.
    /// </summary>
    public bool IsConfirmed(ClusterTrack track) => track.FramesCovered >= options.MinSightings;

    /// <summary>Seen often enough and well enough triangulated that its position predicts where it appears.</summary>
    private bool IsSettled(ClusterTrack track) => track.Sightings.Count >= SettledSightings && track.TriangulationSigmaM <= options.SettledSigmaM;

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
        if (!rows.FromPlan)
        {
            var canopy = 0;
            foreach (var d in detections)
            {
                canopy += DepthFromSize(d) <= options.DefaultRowDistanceM + options.FarRowMarginM ? 1 : 0;
            }
            rows.FollowPath(pose, camera.Ray(pose, camera.Mounting.Cx, camera.Mounting.Cy).Direction, canopy, _active.Where(IsSettled).Select(t => t.Estimate));
        }
        (var rowDistance, FacedRow) = FacedRowDistance(pose);
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

    /// <summary>
    /// True when the track's rays alone, without the row plane's depth prior that holds every track near the faced row,
    /// meet more than <see cref="TrackerOptions.FarRowRayMarginM"/> beyond the faced row's line (on the far side from the
    /// camera): a farther row's cluster seen through a gap in the faced one.
    /// </summary>
    public bool IsFarByItsRays(ClusterTrack track)
    {
        var triangulation = new Triangulation();
        foreach (var s in track.Sightings)
        {
            var range = Math.Max(MinRayRangeM, (track.MatchEstimate - s.Origin).Length);
            triangulation.AddRay(s.Origin, s.MatchDirection, 1 / (_angleSigma * _angleSigma * range * range));
        }
        triangulation.AddAnchor(track.MatchEstimate, PreviousPointWeight);
        var best = track.Sightings.MaxBy(s => s.Detection.Score)!;
        if (triangulation.Solve() is not { } solution || FacedRowDistance(best.Pose).Faced is not { } faced)
        {
            return false;
        }
        var cameraSide = Math.Sign(faced.Project(best.Origin.X, best.Origin.Y).LateralM);
        return -cameraSide * faced.Project(solution.Point.X, solution.Point.Y).LateralM > options.FarRowRayMarginM;
    }

    /// <summary>
    /// True when a short track's boxes (seen over at most <see cref="TrackerOptions.FarRowTrackMaxTravelM"/> of the
    /// camera's travel), by their median size, put its cluster more than <see cref="TrackerOptions.FarRowTrackMarginM"/>
    /// beyond the row its camera faced: a farther row's cluster glimpsed through a gap in the faced one. A small near
    /// cluster stays in view over more travel, and one small box may be a near cluster half hidden, so single boxes are
    /// only dropped beyond the wider <see cref="TrackerOptions.FarRowMarginM"/>.
    /// </summary>
    public bool IsFarByItsBoxes(ClusterTrack track)
    {
        if ((track.Sightings[^1].Origin - track.Sightings[0].Origin).Length > options.FarRowTrackMaxTravelM)
        {
            return false;
        }
        var beyond = track.Sightings.Select(s => DepthFromSize(s.Detection) - FacedRowDistance(s.Pose).Distance).Order().ToList();
        return beyond[beyond.Count / 2] > options.FarRowTrackMarginM;
    }

    /// <summary>How far a cluster of the typical diameter is that looks this big, metres along the view.</summary>
    private double DepthFromSize(BlossomDetection d) =>
        (camera.Mounting.Fx + camera.Mounting.Fy) / 2 * options.ClusterDiameterM / Math.Max(1, Math.Max(d.W, d.H));

    /// <summary>The row the camera faces at this pose and its distance along the optical axis (the default distance without one).</summary>
    private (double Distance, MappedRow? Faced) FacedRowDistance(in Pose pose)
    {
        var (origin, axis) = camera.Ray(pose, camera.Mounting.Cx, camera.Mounting.Cy);
        return rows.AlongsideRow(origin, axis) is { } faced
            ? (Math.Abs(faced.Project(origin.X, origin.Y).LateralM) / Math.Max(0.2, new Vec3(axis.X, axis.Y, 0).Length), faced)
            : (options.DefaultRowDistanceM, null);
    }

    /// <summary>Detections left out because their size puts them on a row beyond the faced one.</summary>
    public long FarDetections { get; private set; }

    /// <summary>The row the camera faced in the last frame stepped (null: none, e.g. on a headland).</summary>
    public MappedRow? FacedRow { get; private set; }

    private void AddSighting(ClusterTrack track, Sighting sighting)
    {
        track.Sightings.Add(sighting);
        sighting.Frame.OpenTracks++;
        Estimate(track);
    }

    /// <summary>
    /// Ends a track; a track that followed two clusters is ended as two. Neighbouring clusters a few centimetres apart
    /// take turns hiding behind each other, so one track can collect both: its sightings then do not meet in one point
    /// (after each frame's common shift is taken out) but in two. A two-means split of the sightings is kept when each
    /// part has <see cref="TrackerOptions.MinSightings"/> and the split explains the boxes markedly better. A
    /// <paramref name="preview"/> (of a copy, see <see cref="Preview"/>) is not counted in <see cref="SplitTracks"/>.
    /// </summary>
    private void End(ClusterTrack track, List<ClusterTrack> ended, bool preview = false)
    {
        var n = track.Sightings.Count;
        var splittable = n >= 2 * options.MinSightings;
        var residuals = splittable ? new (double U, double V)[n] : null;
        var sum = Residuals(track.MatchEstimate, track.Sightings, residuals);
        if (splittable && sum / n >= options.SplitMinRmsPx * options.SplitMinRmsPx && Split(track, residuals!, sum) is ({ } a, { } b))
        {
            SplitTracks += preview ? 0 : 1;
            End(a, ended, preview);
            End(b, ended, preview);
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
            // Each sighting moves to the part whose point explains it better, until none moves (or SplitRounds rounds).
            var changed = false;
            for (var i = 0; i < side.Length && iteration < SplitRounds; i++)
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
        var part = new ClusterTrack { Estimate = track.Estimate, MatchEstimate = track.MatchEstimate, RootId = track.RootId };
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

    /// <summary>
    /// A point behind (or at) the camera that saw the box explains it not at all: its residual is the image's width and
    /// height, so the track's uncertainty grows and it is flagged. Rays are lines to the triangulation, so a ray almost
    /// parallel to the row plane (looking along a row from a headland) can meet the plane behind the camera.
    /// </summary>
    private (double U, double V) ResidualOf(Vec3 point, Sighting s)
    {
        var (u, v, _) = camera.Project(s.Pose, point);
        if (double.IsNaN(u))
        {
            return (camera.Mounting.ImageWidth, camera.Mounting.ImageHeight);
        }
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
            var range = Math.Max(MinRayRangeM, (prior - s.Origin).Length);
            triangulation.AddRay(s.Origin, direction(s), 1 / (_angleSigma * _angleSigma * range * range));
        }
        // Depth prior: the vertical plane of the row the cluster hangs on (or the default distance along the first ray).
        Vec3 planePoint, normal;
        if (rows.Nearest(prior) is { } p && Math.Abs(p.LateralM) < RowMembershipDepths * options.CanopyHalfDepthM)
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
        triangulation.AddAnchor(prior, PreviousPointWeight);
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
