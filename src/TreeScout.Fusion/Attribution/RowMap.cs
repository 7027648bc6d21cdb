using System.Globalization;
using TreeScout.Fusion.Geometry;

namespace TreeScout.Fusion.Attribution;

/// <summary>A planted tree at a distance along its row.</summary>
public sealed record PlantedTree(string Id, int Index, double AlongM);

/// <summary>Where a point lies relative to a row: distance along it from its first end, signed offset (+ right of the row's direction).</summary>
public readonly record struct RowPoint(MappedRow Row, double AlongM, double LateralM, double DirectionRad);

/// <summary>Which tree a point belongs to, the spacing that decides how sure that can be, or why there is no tree.</summary>
public readonly record struct TreeAssignment(string? TreeId, double LocalSpacingM, string? Problem);

/// <summary>A row as a polyline in UTM (first end to last), with its trees by distance along it.</summary>
public sealed class MappedRow
{
    private readonly List<(double E, double N)> _points;
    private readonly List<double> _along;

    public MappedRow(string id, IEnumerable<(double E, double N)> points, double? treeSpacingM)
    {
        Id = id;
        _points = [.. points];
        _along = [0];
        for (var i = 1; i < _points.Count; i++)
        {
            _along.Add(_along[^1] + Distance(_points[i - 1], _points[i]));
        }
        TreeSpacingM = treeSpacingM;
    }

    public string Id { get; }

    public IReadOnlyList<(double E, double N)> Points => _points;

    public double LengthM => _along[^1];

    /// <summary>Trees sorted by distance along the row; empty when trees follow from <see cref="TreeSpacingM"/>.</summary>
    public List<PlantedTree> Trees { get; } = [];

    public double? TreeSpacingM { get; }

    public void Append((double E, double N) point)
    {
        _along.Add(_along[^1] + Distance(_points[^1], point));
        _points.Add(point);
    }

    /// <summary>Nearest point of the polyline to (e, n).</summary>
    public RowPoint Project(double e, double n)
    {
        var best = (Distance: double.MaxValue, Along: 0.0, Lateral: 0.0, Direction: 0.0);
        for (var i = 1; i < _points.Count; i++)
        {
            var (ax, ay) = _points[i - 1];
            var (bx, by) = _points[i];
            var (dx, dy) = (bx - ax, by - ay);
            var len2 = dx * dx + dy * dy;
            if (len2 <= 0)
            {
                continue;
            }
            // Clamp to the segment, except beyond the row's ends (so points past the end get an along outside 0..length).
            var t = ((e - ax) * dx + (n - ay) * dy) / len2;
            var tc = i == 1 && t < 0 ? t : i == _points.Count - 1 && t > 1 ? t : Math.Clamp(t, 0, 1);
            var (px, py) = (ax + tc * dx, ay + tc * dy);
            var distance = Math.Sqrt((e - px) * (e - px) + (n - py) * (n - py));
            if (distance < best.Distance)
            {
                var len = Math.Sqrt(len2);
                // Cross product sign: positive when the point is to the right of the row's direction.
                var lateral = (dy * (e - ax) - dx * (n - ay)) / len;
                best = (distance, _along[i - 1] + tc * len, lateral, Angles.Azimuth(dx, dy));
            }
        }
        return new RowPoint(this, best.Along, best.Lateral, best.Direction);
    }

    /// <summary>Horizontal distance along a ray from (oe, on) in direction (de, dn) (unit) to the first crossing of this row, if within range.</summary>
    public double? Crossing(double oe, double on, double de, double dn, double maxRange)
    {
        double? nearest = null;
        for (var i = 1; i < _points.Count; i++)
        {
            var (ax, ay) = _points[i - 1];
            var (bx, by) = _points[i];
            var (sx, sy) = (bx - ax, by - ay);
            var denominator = de * sy - dn * sx;
            if (Math.Abs(denominator) < 1e-12)
            {
                continue;
            }
            var (wx, wy) = (ax - oe, ay - on);
            var t = (wx * sy - wy * sx) / denominator;
            var u = (wx * dn - wy * de) / denominator;
            if (t > 0 && t <= maxRange && u >= 0 && u <= 1 && (nearest is null || t < nearest))
            {
                nearest = t;
            }
        }
        return nearest;
    }

    /// <summary>The tree nearest along the row, with the distance to its neighbours as the spacing that matters.</summary>
    public TreeAssignment AssignTree(double alongM, double fallbackSpacingM)
    {
        if (Trees.Count == 0)
        {
            var spacing = TreeSpacingM ?? fallbackSpacingM;
            var index = (int)Math.Round(alongM / spacing) + 1;
            var lastIndex = (int)Math.Floor(LengthM / spacing + 1e-9) + 1;
            return index < 1 || index > lastIndex
                ? new TreeAssignment(null, spacing, $"{alongM:F1} m along row {Id} is beyond its trees")
                : new TreeAssignment(TreeIdOf(Id, index), spacing, null);
        }
        var nearest = NearestTree(alongM);
        var previousGap = nearest > 0 ? Trees[nearest].AlongM - Trees[nearest - 1].AlongM : double.PositiveInfinity;
        var nextGap = nearest < Trees.Count - 1 ? Trees[nearest + 1].AlongM - Trees[nearest].AlongM : double.PositiveInfinity;
        var local = Math.Min(previousGap, nextGap);
        if (double.IsInfinity(local))
        {
            local = TreeSpacingM ?? fallbackSpacingM;
        }
        var tree = Trees[nearest];
        return Math.Abs(alongM - tree.AlongM) > local
            ? new TreeAssignment(null, local, $"{alongM:F1} m along row {Id} is beyond its planted trees")
            : new TreeAssignment(tree.Id, local, null);
    }

    /// <summary>Index in <see cref="Trees"/> (not empty) of the planted tree nearest to a distance along the row.</summary>
    public int NearestTree(double alongM)
    {
        int lo = 0, hi = Trees.Count - 1;
        while (lo < hi)
        {
            var mid = (lo + hi) / 2;
            if (Trees[mid].AlongM < alongM)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }
        return lo > 0 && alongM - Trees[lo - 1].AlongM < Trees[lo].AlongM - alongM ? lo - 1 : lo;
    }

    public static string TreeIdOf(string rowId, int index) => string.Create(CultureInfo.InvariantCulture, $"{rowId}-T{index:000}");

    private static double Distance((double E, double N) a, (double E, double N) b) => Math.Sqrt((a.E - b.E) * (a.E - b.E) + (a.N - b.N) * (a.N - b.N));
}
