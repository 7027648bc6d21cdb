namespace TreeScout.Fusion.Tracking;

/// <summary>
/// The image shift most settled tracks agree on: every offset from a settled track's prediction to a detection within
/// <see cref="TrackerOptions.MaxCommonShiftPx"/> votes, and the offset with the most votes within
/// <see cref="TrackerOptions.CommonShiftTolerancePx"/> wins (wrong pairings scatter, the true shift piles up); the result
/// is the mean of one supporting offset per track. Zero unless at least <see cref="TrackerOptions.MinCommonShiftTracks"/> agree.
/// The pose's small heading and position errors move every cluster of a frame by about the same amount in the image
/// (1° of heading is ~10 px at 640 px wide): that is the shift (see <see cref="ClusterTracker"/>).
/// </summary>
internal sealed class CommonShift(TrackerOptions options)
{
    private readonly List<(double U, double V, int Track)> _offsets = [];
    private readonly Dictionary<(int U, int V), List<int>> _cells = [];
    private readonly Dictionary<int, (double U, double V, double D2)> _nearest = [];

    /// <summary>The frame's common shift from the tracks' predictions and the detections' box centres (pixels).</summary>
    public (double U, double V) Vote(Prediction[] predictions, (double U, double V)[] centres)
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

    private static (int U, int V) CellOf(double u, double v, double size) => ((int)Math.Floor(u / size), (int)Math.Floor(v / size));
}
