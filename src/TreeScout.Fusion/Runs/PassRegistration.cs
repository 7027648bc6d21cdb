using TreeScout.Fusion.Attribution;
using TreeScout.Fusion.Tracking;

namespace TreeScout.Fusion.Runs;

/// <summary>How a pass's GNSS offset, along and across the row, is measured against the block plan (docs/fusion.md, "Row-end registration", "Registered across the row").</summary>
public sealed record RegistrationOptions
{
    /// <summary>Off: every track is reported as soon as it ends, at the position GNSS gives.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>Passes whose poses are at least this uncertain (GNSS sigma, metres) are registered; RTK fixed is left alone.</summary>
    public double MinGnssSigmaM { get; init; } = 0.1;

    /// <summary>
    /// Nor are passes worse than this (DGPS, autonomous): their error drifts too much within a pass for one offset to hold,
    /// and their observations stay flagged low-confidence.
    /// </summary>
    public double MaxGnssSigmaM { get; init; } = 0.35;

    /// <summary>
    /// 1-sigma of the offset measured against the planted trees (docs/fusion.md: what is left after registration on the
    /// simulator's float runs; 0.1 m with the row ends alone, whose canopies are not exactly alike).
    /// </summary>
    public double SigmaM { get; init; } = 0.05;

    /// <summary>
    /// Clusters cut at each end of a pass before its extent is taken (a stray box must not move it). A count, not a share:
    /// a share of a 200-tree row's clusters is two whole trees, and the ends would no longer look like canopy edges.
    /// </summary>
    public int EndOutliers { get; init; } = 4;

    /// <summary>Tracks triangulated worse than this (metres, 1-sigma) do not mark the row's ends.</summary>
    public double MaxTrackSigmaM { get; init; } = 0.15;

    /// <summary>Rounds of refining the row ends' offset against every planted tree of the row (0: the row ends alone).</summary>
    public int TreeFitRounds { get; init; } = 5;

    /// <summary>Trees on each side of a tree whose clusters give the offset at that tree (GNSS drifts along a row); 0: one offset per pass.</summary>
    public int TreeFitWindowTrees { get; init; } = 3;

    /// <summary>A window with fewer clusters takes the pass's offset.</summary>
    public int TreeFitMinClusters { get; init; } = 40;

    /// <summary>
    /// How far in front of the trunk line, toward the camera, the clusters a camera sees lie on average (metres): the
    /// canopy face. A float pass's offset across the row is what its clusters' mean lies beyond that. RTK-fixed passes of
    /// the run measure it (their mean replaces this value once one has been seen).
    /// </summary>
    public double FaceDepthM { get; init; }

    /// <summary>Also register float passes across the row (against the canopy face), not only along it.</summary>
    public bool Across { get; init; } = true;

    /// <summary>A pass longer than this many frames is reported unregistered as it goes, so the held window never fills.</summary>
    public int MaxPassFrames { get; init; } = 600;
}

/// <summary>
/// A held track's place along its pass's row, how far it lies from the row's line toward the camera that saw it, which
/// side of the row that camera was on (+1: right of the row's direction), and the GNSS sigma of its poses.
/// </summary>
public readonly record struct PassPoint(double AlongM, double TowardCameraM, int CameraSide, double GnssSigmaM);

/// <summary>The offset GNSS had at one place along a pass: along the row and across it (+ right of the row's direction).</summary>
public readonly record struct PassKnot(double AlongM, double ShiftM, double AcrossM);

/// <summary>
/// What a finished pass's tracks are reported with: the along-row shift and the across-row offset to subtract, and the
/// GNSS sigma after them (null: not registered). <paramref name="Local"/>: offsets measured along the row (at GNSS
/// along-row positions), interpolated between; the pass-wide ones where there are none.
/// </summary>
public readonly record struct PassOffset(double ShiftM, double? GnssSigmaM, IReadOnlyList<PassKnot>? Local = null, double AcrossM = 0)
{
    /// <summary>The along-row and across-row offsets at a GNSS along-row position.</summary>
    public (double Along, double Across) At(double alongM)
    {
        if (Local is not { Count: > 0 } knots)
        {
            return (ShiftM, AcrossM);
        }
        if (alongM <= knots[0].AlongM)
        {
            return (knots[0].ShiftM, knots[0].AcrossM);
        }
        for (var i = 1; i < knots.Count; i++)
        {
            if (alongM <= knots[i].AlongM)
            {
                var (a, b) = (knots[i - 1], knots[i]);
                var k = (alongM - a.AlongM) / (b.AlongM - a.AlongM);
                return (a.ShiftM + (b.ShiftM - a.ShiftM) * k, a.AcrossM + (b.AcrossM - a.AcrossM) * k);
            }
        }
        return (knots[^1].ShiftM, knots[^1].AcrossM);
    }
}

/// <summary>
/// One camera's passes along the rows and the tracks held until their pass's along-row offset is known. A pass is the
/// frames during which the camera faces one planted row; when it is over (the camera faces another row or none) and no
/// open track started in it, the extent of its clusters along the row, against the plan's trees at its ends, gives the
/// offset GNSS had along that row during the pass: the cloud starts a canopy half-width before its first standing trunk
/// and ends as far beyond its last, so the mean of both ends' offsets cancels the half-width. That offset is then refined
/// against every planted tree of the row, pass-wide and around each tree (GNSS drifts along a pass): clusters hang around
/// their trunks evenly on average, while the two end trees' canopies may differ by a decimetre. Across the row, the clusters'
/// mean beyond the canopy face (<see cref="FaceDepthM"/>) is the offset there.
/// </summary>
public sealed class PassRegistration(RegistrationOptions options)
{
    private readonly List<Pass> _passes = [];
    private readonly List<double> _faceDepths = [];

    /// <summary>Notes the row the camera faces in a processed frame; a different row (or none) starts a new pass.</summary>
    public void Frame(long sequence, MappedRow? faced)
    {
        var current = _passes.Count > 0 ? _passes[^1] : null;
        if (current is null || current.Row != faced)
        {
            _passes.Add(current = new Pass(faced, sequence));
        }
        current.LastFrame = sequence;
        current.Frames++;
    }

    /// <summary>Holds a finished track while its pass can still be registered; false: report it now, unregistered.</summary>
    public bool Hold(ClusterTrack track)
    {
        var first = track.Sightings[0].Frame.Sequence;
        var pass = _passes.LastOrDefault(p => p.FirstFrame <= first);
        if (!options.Enabled || pass is null || pass.Row is not { Trees.Count: >= 3 } || pass.Frames > options.MaxPassFrames)
        {
            return false;
        }
        pass.Tracks.Add(track);
        return true;
    }

    /// <summary>
    /// Passes that are over with no open track starting in them (all of them when <paramref name="ending"/>), or that grew
    /// too long to hold, with their offset; their held tracks are released to the caller.
    /// </summary>
    public IEnumerable<(IReadOnlyList<ClusterTrack> Tracks, PassOffset Offset)> Completed(long? oldestOpenTrackStart, bool ending, Func<ClusterTrack, MappedRow, PassPoint?> place)
    {
        for (var i = 0; i < _passes.Count; i++)
        {
            var pass = _passes[i];
            var over = ending || (i < _passes.Count - 1 && (oldestOpenTrackStart is not { } open || open > pass.LastFrame));
            var tooLong = pass.Frames > options.MaxPassFrames;
            if (!over && !tooLong)
            {
                continue;
            }
            List<ClusterTrack> tracks = [.. pass.Tracks];
            pass.Tracks.Clear();
            if (over)
            {
                _passes.RemoveAt(i--);
            }
            if (tracks.Count > 0)
            {
                yield return (tracks, tooLong || pass.Row is null ? new PassOffset(0, null)
                    : Offset(pass.Row, [.. tracks.Select(t => place(t, pass.Row)).Where(p => p is not null).Select(p => p!.Value)]));
            }
        }
    }

    /// <summary>
    /// The along-row offset of one pass from where its clusters start and stop against the row's trees. An end tree may be
    /// missing (the plan still lists it): the first pairing of end trees, fewest missing first, whose implied canopy
    /// half-width is plausible (5-70 % of the spacing) and whose offset is within 3 GNSS sigmas wins.
    /// </summary>
    public PassOffset Offset(MappedRow row, IReadOnlyList<PassPoint> points)
    {
        if (points.Count < 20)
        {
            return new PassOffset(0, null);
        }
        var gnss = points.Select(p => p.GnssSigmaM).Order().ElementAt(points.Count / 2);
        if (gnss < options.MinGnssSigmaM)
        {
            // RTK fixed: where the clusters lie across the row is where the canopy face is.
            _faceDepths.Add(points.Average(p => p.TowardCameraM));
            return new PassOffset(0, null);
        }
        if (gnss > options.MaxGnssSigmaM)
        {
            return new PassOffset(0, null);
        }
        var positions = points.Select(p => p.AlongM).Order().ToList();
        var (start, end) = (positions[options.EndOutliers], positions[^(options.EndOutliers + 1)]);
        var trees = row.Trees;
        var spacing = (trees[^1].AlongM - trees[0].AlongM) / (trees.Count - 1);
        // Fewest missing end trees first: a standing end tree is the rule, a missing one the exception.
        double? best = null;
        foreach (var (k, m) in new[] { (0, 0), (1, 0), (0, 1), (1, 1) })
        {
            var (fromStart, fromEnd) = (start - trees[k].AlongM, end - trees[^(m + 1)].AlongM);
            // fromStart = offset − half-width, fromEnd = offset + half-width.
            var (offset, halfWidth) = ((fromStart + fromEnd) / 2, (fromEnd - fromStart) / 2);
            if (halfWidth >= 0.05 * spacing && halfWidth <= 0.7 * spacing && Math.Abs(offset) <= 3 * gnss)
            {
                best = offset;
                break;
            }
        }
        if (best is not { } ends)
        {
            return new PassOffset(0, null);
        }
        var measured = Near(FitToTrees(row, positions, ends, spacing), ends, spacing);
        // Weighted by the two uncertainties: a good fix moves little, a poor one takes the row's word.
        var (g2, r2) = (gnss * gnss, options.SigmaM * options.SigmaM);
        var weight = g2 / (g2 + r2);
        var faceDepth = FaceDepthM;
        var side = points.Sum(p => p.CameraSide) >= 0 ? 1 : -1;
        // Across the row: how far the clusters' mean lies beyond the canopy face, toward or away from the camera.
        double AcrossOf(IReadOnlyList<PassPoint> near)
        {
            if (!options.Across || near.Count == 0)
            {
                return 0;
            }
            var beyond = near.Average(p => p.TowardCameraM) - faceDepth;
            return Math.Abs(beyond) <= 3 * gnss ? side * beyond * weight : 0;
        }
        var across = AcrossOf(points);
        List<PassKnot>? local = null;
        if (options.TreeFitRounds > 0 && options.TreeFitWindowTrees > 0)
        {
            // GNSS drifts along a pass (float: ±0.08 m over 15 m, 0.18 m over 200 m): the trees around each tree give the
            // offsets there, starting from the pass's.
            local = [];
            var reach = options.TreeFitWindowTrees * spacing;
            foreach (var tree in trees)
            {
                var window = points.Where(p => Math.Abs(p.AlongM - measured - tree.AlongM) <= reach).ToList();
                var enough = window.Count >= options.TreeFitMinClusters;
                var shift = enough ? Near(FitToTrees(row, [.. window.Select(p => p.AlongM)], measured, spacing), measured, spacing) : measured;
                local.Add(new PassKnot(tree.AlongM + shift, shift * weight, enough ? AcrossOf(window) : across));
            }
        }
        return new PassOffset(measured * weight, Math.Sqrt(g2 * r2 / (g2 + r2)), local, across);
    }

    /// <summary>The canopy face's depth: measured on this camera's RTK-fixed passes when it has had one, else configured.</summary>
    public double FaceDepthM => _faceDepths.Count > 0 ? _faceDepths.Average() : options.FaceDepthM;

    /// <summary>
    /// A fit that moved more than 0.4 spacing from where it started has likely locked onto the neighbouring trees
    /// (the fit is ambiguous by a whole spacing): the start is kept.
    /// </summary>
    private static double Near(double fitted, double start, double spacing) => Math.Abs(fitted - start) <= 0.4 * spacing ? fitted : start;

    /// <summary>
    /// Refines an offset against the planted trees: each cluster, moved back by the offset, belongs to its nearest tree, and
    /// clusters hang around their trunk evenly on average (the row ends' canopies need not), so the mean distance from
    /// their trees is what the offset is still off by. The start must be within half a spacing (the row ends give that).
    /// </summary>
    private double FitToTrees(MappedRow row, List<double> positions, double start, double spacing)
    {
        var offset = start;
        for (var i = 0; i < options.TreeFitRounds; i++)
        {
            var (sum, n) = (0.0, 0);
            foreach (var along in positions)
            {
                var x = along - offset;
                var r = x - row.Trees[row.NearestTree(x)].AlongM;
                if (Math.Abs(r) <= 0.5 * spacing)
                {
                    (sum, n) = (sum + r, n + 1);
                }
            }
            offset += n > 0 ? sum / n : 0;
        }
        return offset;
    }

    /// <summary>A stretch of frames facing one row, and the tracks it holds.</summary>
    private sealed class Pass(MappedRow? row, long firstFrame)
    {
        public MappedRow? Row { get; } = row;

        public long FirstFrame { get; } = firstFrame;

        public long LastFrame { get; set; }

        public int Frames { get; set; }

        public List<ClusterTrack> Tracks { get; } = [];
    }
}
