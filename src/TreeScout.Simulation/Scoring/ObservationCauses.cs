namespace TreeScout.Simulation.Scoring;

/// <summary>
/// What an observation that is not a visible cluster's own match was a sighting of, by the first rule that applies
/// (docs/simulator.md, "False positives by cause").
/// </summary>
public enum ObservationCause
{
    /// <summary>No true cluster lies on its lines of sight: the detector boxed leaves, wood or sky.</summary>
    NoCluster,

    /// <summary>Its cluster hangs in another row than the one it was placed in (seen through the faced row).</summary>
    FarRow,

    /// <summary>
    /// Its cluster is matched to an observation seen from the other side of the row: a cluster both alleys saw. The
    /// whole-tree count takes these out by estimate (ADR 0074), so they are false positives of the one-to-one match only.
    /// </summary>
    OtherSide,

    /// <summary>Its cluster is already matched to another observation from the same side: one cluster, several tracks.</summary>
    SplitTrack,

    /// <summary>Its cluster is one the visibility rule does not count (under 40 % visible, or in fewer than 2 frames).</summary>
    HiddenCluster,

    /// <summary>Its cluster is visible and unmatched but hangs on another tree of the row than the one it was attributed to.</summary>
    BetweenTrees,

    /// <summary>Its cluster is visible, unmatched and on the tree it was attributed to, but placed beyond the match tolerance.</summary>
    Misplaced,
}

/// <summary>Observations per cause (they add up to <see cref="Total"/>); how many were identified by position for want of their frames.</summary>
public sealed record CauseBreakdown(int Total, int NoCluster, int FarRow, int OtherSide, int SplitTrack, int HiddenCluster, int BetweenTrees, int Misplaced, int IdentifiedByPosition)
{
    /// <summary>The observations that add to a tree's count: all but <see cref="OtherSide"/>.</summary>
    public int CountedTotal => Total - OtherSide;

    public static CauseBreakdown Of(IReadOnlyCollection<(ObservationCause Cause, bool ByPosition)> causes)
    {
        int Count(ObservationCause cause) => causes.Count(c => c.Cause == cause);
        return new CauseBreakdown(causes.Count, Count(ObservationCause.NoCluster), Count(ObservationCause.FarRow), Count(ObservationCause.OtherSide), Count(ObservationCause.SplitTrack),
            Count(ObservationCause.HiddenCluster), Count(ObservationCause.BetweenTrees), Count(ObservationCause.Misplaced), causes.Count(c => c.ByPosition));
    }
}

/// <summary>
/// Finds which true cluster an observation's track was looking at and why it is not a visible cluster's own match. The
/// cluster is identified by the lines of sight, not by position: in each truth frame of the middle third of the track's
/// frames (its camera, first to last frame) the ray from the true camera centre through the observation is compared with
/// the rays to the clusters boxed in that frame; the cluster within its own angular radius plus <see cref="MarginDeg"/>
/// of it, closest in angle, takes that frame's vote, and the cluster with most votes is the one seen (ties: the smaller
/// summed angle). A far-row cluster placed on the faced row's depth, or a cluster placed half a metre too deep, still
/// lies on its rays from the middle of the track, where the triangulated point sits on the track's central ray; from
/// its first and last frames parallax turns the rays of a point at the wrong depth away from its cluster.
/// An observation without frames in the truth is identified by position: the nearest cluster within the match tolerances.
/// </summary>
public sealed class ObservationCauses
{
    /// <summary>How far outside a cluster's disc a line of sight may pass and still be on it, degrees (≈ 9 px at the simulator's 1280-wide lens).</summary>
    public const double MarginDeg = 1.0;

    private readonly LocalTangentPlane _plane;
    private readonly ScoreOptions _options;
    private readonly Dictionary<string, TruthCluster> _clusters;
    private readonly Dictionary<(string Camera, long Sequence), TruthFrame> _frames;
    private readonly List<(TruthTree Tree, double E, double N)> _standing;
    private readonly Dictionary<string, string> _trueTreeOfResult;
    private readonly Dictionary<string, string> _rowOfTree;
    private readonly Dictionary<string, string?> _rowSideOf;

    /// <param name="treeOf">Each found true tree's result tree (the scorer's tree match).</param>
    /// <param name="observations">The run's observations (the side of the row each was seen from).</param>
    public ObservationCauses(GroundTruth truth, LocalTangentPlane plane, ScoreOptions options, IReadOnlyDictionary<string, ResultTree> treeOf, IEnumerable<ResultObservation> observations)
    {
        _rowSideOf = observations.ToDictionary(o => o.ObservationId, o => o.RowSide, StringComparer.Ordinal);
        _plane = plane;
        _options = options;
        _clusters = truth.Clusters.ToDictionary(c => c.ClusterId, StringComparer.Ordinal);
        _frames = truth.Frames.ToDictionary(f => (f.CameraId, f.Sequence));
        _standing = [.. truth.Trees.Where(t => t.Present).Select(t =>
        {
            var (e, n) = plane.ToLocal(t.Latitude, t.Longitude);
            return (t, e, n);
        })];
        _rowOfTree = truth.Trees.ToDictionary(t => t.TreeId, t => t.RowId, StringComparer.Ordinal);
        _trueTreeOfResult = treeOf.ToDictionary(p => p.Value.TreeId, p => p.Key, StringComparer.Ordinal);
    }

    /// <summary>
    /// The cause of an observation that is a false positive or matched a hidden cluster; <paramref name="matchedBy"/> says
    /// which observation each matched cluster went to. Precedence: no cluster, far row, other side, split track, hidden cluster,
    /// between trees, misplaced.
    /// </summary>
    public (ObservationCause Cause, bool ByPosition) Classify(ResultObservation observation, IReadOnlyDictionary<string, string> matchedBy)
    {
        var byPosition = !TryIdentifyBySight(observation, out var seen);
        if (byPosition)
        {
            seen = NearestWithinTolerance(observation);
        }
        var (e, n) = _plane.ToLocal(observation.Latitude, observation.Longitude);
        var placedIn = Nearest(e, n);
        if (seen is null)
        {
            return (ObservationCause.NoCluster, byPosition);
        }
        if (placedIn is null || _rowOfTree[seen.TreeId] != placedIn.RowId)
        {
            return (ObservationCause.FarRow, byPosition);
        }
        if (matchedBy.TryGetValue(seen.ClusterId, out var other) && other != observation.ObservationId)
        {
            var otherSide = observation.RowSide is { } side && _rowSideOf.TryGetValue(other, out var its) && its is not null && its != side;
            return (otherSide ? ObservationCause.OtherSide : ObservationCause.SplitTrack, byPosition);
        }
        if (!seen.Visible)
        {
            return (ObservationCause.HiddenCluster, byPosition);
        }
        var attributedTo = observation.TreeId is { } id && _trueTreeOfResult.TryGetValue(id, out var tree) ? tree : placedIn.TreeId;
        return (seen.TreeId == attributedTo ? ObservationCause.Misplaced : ObservationCause.BetweenTrees, byPosition);
    }

    private TruthTree? Nearest(double e, double n) =>
        _standing.Count == 0 ? null : _standing.MinBy(s => (s.E - e) * (s.E - e) + (s.N - n) * (s.N - n)).Tree;

    private bool TryIdentifyBySight(ResultObservation observation, out TruthCluster? seen)
    {
        seen = null;
        if (observation.Sightings is not { } sightings)
        {
            return false;
        }
        var (e, n) = _plane.ToLocal(observation.Latitude, observation.Longitude);
        var votes = new Dictionary<string, (int Votes, double Angle)>(StringComparer.Ordinal);
        var frames = 0;
        var third = (sightings.LastFrame - sightings.FirstFrame + 1) / 3;
        for (var sequence = sightings.FirstFrame + third; sequence <= sightings.LastFrame - third; sequence++)
        {
            if (!_frames.TryGetValue((sightings.CameraId, sequence), out var frame))
            {
                continue;
            }
            frames++;
            var (ce, cn) = _plane.ToLocal(frame.Camera.Latitude, frame.Camera.Longitude);
            var camera = new Enu(ce, cn, frame.Camera.HeightM);
            var best = (Id: (string?)null, Angle: double.MaxValue);
            foreach (var box in frame.Boxes)
            {
                if (!_clusters.TryGetValue(box.ClusterId, out var c))
                {
                    continue;
                }
                var (ke, kn) = _plane.ToLocal(c.Latitude, c.Longitude);
                var toCluster = new Enu(ke, kn, c.HeightM) - camera;
                var toObservation = new Enu(e, n, observation.HeightM ?? c.HeightM) - camera;
                var angle = Math.Acos(Math.Clamp(toCluster.Dot(toObservation) / (toCluster.Length * toObservation.Length), -1, 1));
                var radius = Math.Atan2(c.DiameterM / 2, toCluster.Length) + MarginDeg * Math.PI / 180;
                if (angle <= radius && angle < best.Angle)
                {
                    best = (c.ClusterId, angle);
                }
            }
            if (best.Id is { } id)
            {
                var (count, sum) = votes.GetValueOrDefault(id);
                votes[id] = (count + 1, sum + best.Angle);
            }
        }
        if (frames == 0)
        {
            return false;
        }
        seen = votes.Count == 0 ? null
            : _clusters[votes.OrderByDescending(v => v.Value.Votes).ThenBy(v => v.Value.Angle).ThenBy(v => v.Key, StringComparer.Ordinal).First().Key];
        return true;
    }

    private TruthCluster? NearestWithinTolerance(ResultObservation observation)
    {
        var (e, n) = _plane.ToLocal(observation.Latitude, observation.Longitude);
        TruthCluster? nearest = null;
        var best = double.MaxValue;
        foreach (var c in _clusters.Values)
        {
            var (ke, kn) = _plane.ToLocal(c.Latitude, c.Longitude);
            var h = Math.Sqrt((ke - e) * (ke - e) + (kn - n) * (kn - n));
            double? dh = observation.HeightM is { } height ? Math.Abs(height - c.HeightM) : null;
            var cost = Math.Sqrt(h * h + (dh ?? 0) * (dh ?? 0));
            if (h <= _options.ClusterHorizontalToleranceM && (dh ?? 0) <= _options.ClusterHeightToleranceM && cost < best)
            {
                (nearest, best) = (c, cost);
            }
        }
        return nearest;
    }
}
