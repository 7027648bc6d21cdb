using TreeScout.Contracts;
using TreeScout.Fusion.Geometry;
using TreeScout.Orchard;

namespace TreeScout.Fusion.Attribution;

/// <summary>The rows and trees clusters are attributed to: the block plan's, or rows inferred from the drive passes.</summary>
public abstract class RowMap
{
    protected List<MappedRow> MutableRows { get; } = [];

    public IReadOnlyList<MappedRow> Rows => MutableRows;

    /// <summary>True when rows and trees come from a block plan.</summary>
    public abstract bool FromPlan { get; }

    /// <summary>Horizontal distance along a camera ray to the first row it crosses (the row it faces), when one is within range.</summary>
    public double? RowDistance(Vec3 origin, Vec3 direction, double maxRangeM)
    {
        var h = direction.HorizontalLength;
        if (h < 1e-6)
        {
            return null;
        }
        double? nearest = null;
        foreach (var row in MutableRows)
        {
            if (row.Crossing(origin.X, origin.Y, direction.X / h, direction.Y / h, maxRangeM) is { } t && (nearest is null || t < nearest))
            {
                nearest = t;
            }
        }
        return nearest;
    }

    /// <summary>
    /// The row the camera is driving alongside and looking at: the nearest row in front of it, by perpendicular distance to
    /// the row line (extended past its ends, so on the headland the row about to be scanned counts). Clusters of any other
    /// row are seen through or past it and are counted on that row's own pass.
    /// </summary>
    public MappedRow? AlongsideRow(Vec3 camera, Vec3 axis)
    {
        MappedRow? best = null;
        var bestDistance = double.MaxValue;
        foreach (var row in MutableRows)
        {
            var p = row.Project(camera.X, camera.Y);
            var (sin, cos) = Math.SinCos(p.DirectionRad);
            // The foot of the perpendicular: camera minus lateral × (row's right-hand normal (cos, −sin)).
            var (footX, footY) = (camera.X - p.LateralM * cos, camera.Y + p.LateralM * sin);
            var inFront = (footX - camera.X) * axis.X + (footY - camera.Y) * axis.Y > 0;
            if (inFront && Math.Abs(p.LateralM) < bestDistance)
            {
                (best, bestDistance) = (row, Math.Abs(p.LateralM));
            }
        }
        return best;
    }

    /// <summary>The nearest known row to a point: distance along it and lateral offset; null when no row is near.</summary>
    public abstract RowPoint? Nearest(Vec3 point);

    /// <summary>
    /// Notes where a camera was, how much canopy it saw near it and where its settled clusters are; an inferred map learns
    /// its rows and where their trees start from these.
    /// </summary>
    public virtual void FollowPath(in Pose pose, Vec3 cameraAxis, int canopyDetections, IEnumerable<Vec3> settledClusters)
    {
    }

    /// <summary>
    /// The tree a point on a row belongs to. A <paramref name="provisional"/> assignment (a provisional observation,
    /// docs/adr/0073) leaves the map as it is, so the final observations are numbered as if it had not been made.
    /// </summary>
    public abstract TreeAssignment AssignTree(RowPoint point, bool provisional = false);
}

/// <summary>Rows and trees of a block plan in the block's UTM zone.</summary>
public sealed class PlanRowMap : RowMap
{
    private readonly double _fallbackSpacing;
    private readonly double _maxLateral;

    public PlanRowMap(BlockPlan plan, UtmProjection projection, double? treeSpacingM, double? rowSpacingM)
    {
        var spacing = plan.TreeSpacingM ?? treeSpacingM;
        foreach (var row in plan.Rows)
        {
            var mapped = new MappedRow(row.Id, row.Line.Select(p => projection.ToUtm(p.Latitude, p.Longitude)), spacing);
            foreach (var tree in plan.Trees.Where(t => t.RowId == row.Id))
            {
                var (e, n) = projection.ToUtm(tree.Latitude, tree.Longitude);
                mapped.Trees.Add(new PlantedTree(tree.Id, tree.Index, mapped.Project(e, n).AlongM));
            }
            mapped.Trees.Sort((a, b) => a.AlongM.CompareTo(b.AlongM));
            MutableRows.Add(mapped);
        }
        var gaps = MutableRows.SelectMany(r => r.Trees.Zip(r.Trees.Skip(1), (a, b) => b.AlongM - a.AlongM)).Order().ToList();
        _fallbackSpacing = spacing ?? (gaps.Count > 0 ? gaps[gaps.Count / 2] : 1.0);
        _maxLateral = Math.Min(1.5, (rowSpacingM ?? plan.RowSpacingM ?? 3.5) / 2);
    }

    public override bool FromPlan => true;

    public override RowPoint? Nearest(Vec3 point)
    {
        RowPoint? best = null;
        foreach (var row in MutableRows)
        {
            var p = row.Project(point.X, point.Y);
            if (best is null || Math.Abs(p.LateralM) < Math.Abs(best.Value.LateralM))
            {
                best = p;
            }
        }
        return best;
    }

    /// <summary>Horizontal distance from (e, n) to the nearest row of the plan (its line, ends included), metres.</summary>
    public double DistanceM(double e, double n) => MutableRows.Min(row =>
    {
        var p = row.Project(e, n);
        var beyond = p.AlongM < 0 ? -p.AlongM : Math.Max(0, p.AlongM - row.LengthM);
        return Math.Sqrt(p.LateralM * p.LateralM + beyond * beyond);
    });

    public override TreeAssignment AssignTree(RowPoint point, bool provisional = false) =>
        Math.Abs(point.LateralM) > _maxLateral
            ? new TreeAssignment(null, _fallbackSpacing, $"{Math.Abs(point.LateralM):F1} m off row {point.Row.Id}: not on a planted row")
            : point.Row.AssignTree(point.AlongM, _fallbackSpacing);
}

/// <summary>
/// Without a plan: rows inferred from the drive passes. While a camera sees canopy near it, the row it faces runs half a
/// row spacing from the tractor's path on the camera's side (the tractor drives the middle of the alley): that point,
/// frame by frame, starts a row or extends the one it lies on, so rows follow curves and exist before their first
/// cluster is tracked (the faced row keeps far rows out and gives triangulation its depth prior, as a plan's rows do).
/// Trees are numbered by spacing from where the row's canopy starts: the third-smallest of the along-row positions its
/// settled clusters took, frame by frame, until its first observation (the pass has seen the canopy's start by then; every
/// frame adds each settled cluster's position, so a position counts once held in three frames or by three clusters, and a
/// stray sighting does not move it). Row ids are R01, R02, ... in the order rows were found.
/// </summary>
public sealed class InferredRowMap(double treeSpacingM, double rowSpacingM) : RowMap
{
    /// <summary>Detections near the camera in a frame that mean canopy in front of it (fewer: a headland or a gap).</summary>
    public const int MinCanopyDetections = 3;

    private const int OriginRank = 3;

    private readonly Dictionary<MappedRow, double> _treeOrigin = [];

    /// <summary>The smallest distances along each row (at most <see cref="OriginRank"/>) of clusters settled on it before its trees were numbered.</summary>
    private readonly Dictionary<MappedRow, List<double>> _canopyStart = [];

    public override bool FromPlan => false;

    public override void FollowPath(in Pose pose, Vec3 cameraAxis, int canopyDetections, IEnumerable<Vec3> settledClusters)
    {
        if (canopyDetections < MinCanopyDetections)
        {
            return;
        }
        var (sin, cos) = Math.SinCos(pose.HeadingRad);
        // The heading's right-hand normal is (cos, −sin); the camera looks to the side its axis points to.
        var side = cameraAxis.X * cos - cameraAxis.Y * sin >= 0 ? 1 : -1;
        var half = side * rowSpacingM / 2;
        var point = new Vec3(pose.Easting + cos * half, pose.Northing - sin * half, 0);
        MappedRow row;
        if (Nearest(point) is not { } found)
        {
            row = new MappedRow(BlockPlan.RowId(MutableRows.Count + 1), [(point.X, point.Y), (point.X + sin * 0.01, point.Y + cos * 0.01)], treeSpacingM);
            MutableRows.Add(row);
        }
        else
        {
            row = found.Row;
            if (found.AlongM > row.LengthM + 0.5)
            {
                row.Append((point.X, point.Y));
            }
        }
        if (_treeOrigin.ContainsKey(row))
        {
            return;
        }
        if (!_canopyStart.TryGetValue(row, out var smallest))
        {
            _canopyStart[row] = smallest = [];
        }
        foreach (var cluster in settledClusters)
        {
            var p = row.Project(cluster.X, cluster.Y);
            if (Math.Abs(p.LateralM) > rowSpacingM / 3 || (smallest.Count == OriginRank && p.AlongM >= smallest[^1]))
            {
                continue;
            }
            var at = smallest.BinarySearch(p.AlongM);
            smallest.Insert(at < 0 ? ~at : at, p.AlongM);
            if (smallest.Count > OriginRank)
            {
                smallest.RemoveAt(OriginRank);
            }
        }
    }

    public override RowPoint? Nearest(Vec3 point)
    {
        RowPoint? best = null;
        foreach (var candidate in MutableRows)
        {
            var p = candidate.Project(point.X, point.Y);
            if (Math.Abs(p.LateralM) <= rowSpacingM / 3 && (best is null || Math.Abs(p.LateralM) < Math.Abs(best.Value.LateralM)))
            {
                best = p;
            }
        }
        return best;
    }

    public override TreeAssignment AssignTree(RowPoint point, bool provisional = false)
    {
        if (!_treeOrigin.TryGetValue(point.Row, out var origin))
        {
            if (!_canopyStart.TryGetValue(point.Row, out var smallest) || smallest.Count < OriginRank)
            {
                // No settled cluster has shown where the canopy starts (a row begun in a headland turn): numbering from
                // this cluster would shift every tree of the row, so it is reported without a tree instead.
                return new TreeAssignment(null, treeSpacingM, $"row {point.Row.Id}'s trees are not numbered yet (no settled cluster on it)");
            }
            // Numbered once, at the row's first final cluster: ids already published as final must not change (a
            // provisional one is numbered from what is seen so far and corrected if the final numbering differs).
            origin = Math.Min(smallest[^1], point.AlongM);
            if (!provisional)
            {
                _treeOrigin[point.Row] = origin;
                _canopyStart.Remove(point.Row);
            }
        }
        var index = (int)Math.Floor((point.AlongM - origin) / treeSpacingM) + 1;
        if (index < 1 && point.AlongM >= origin - treeSpacingM / 2)
        {
            // Positions below the third-smallest are the same canopy's start.
            index = 1;
        }
        return index < 1
            ? new TreeAssignment(null, treeSpacingM, $"{point.AlongM - origin:F1} m along row {point.Row.Id} is before its first tree")
            : new TreeAssignment(MappedRow.TreeIdOf(point.Row.Id, index), treeSpacingM, null);
    }
}
