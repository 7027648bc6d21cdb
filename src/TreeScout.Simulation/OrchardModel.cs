using TreeScout.Contracts;
using TreeScout.Orchard;

namespace TreeScout.Simulation;

/// <summary>A woody part of a tree (trunk, leader, branch) as a tapered cylinder between two points.</summary>
public readonly record struct WoodSegment(Enu A, Enu B, double RadiusA, double RadiusB, float Shade);

/// <summary>A clump of leaves drawn as one leaf sprite of <see cref="SizeM"/> metres.</summary>
public readonly record struct LeafClump(Enu Centre, double SizeM, int Variant, float Gain);

/// <summary>One blossom cluster hanging in a tree's canopy: the unit the product counts.</summary>
public sealed record SimCluster(
    string Id,
    int Number,
    SimTree Tree,
    Enu Position,
    double AlongRowM,
    double AcrossRowM,
    double DiameterM,
    BbchStage Stage,
    int CropIndex,
    string Face,
    float Gain);

/// <summary>A planted position of a row: the plan's point, the true trunk, and (when the tree is present) its canopy.</summary>
public sealed class SimTree
{
    public required string Id { get; init; }

    public required int Row { get; init; }

    public required int Index { get; init; }

    public required bool Present { get; init; }

    public required Enu PlanPosition { get; init; }

    public required Enu TrunkPosition { get; init; }

    /// <summary>Unit vector along the row (first end to last) and to its right, at this tree.</summary>
    public required Enu Along { get; init; }

    public required Enu Right { get; init; }

    /// <summary>Distance along the row line from its first end to the planned position, metres.</summary>
    public required double AlongRowM { get; init; }

    public List<WoodSegment> Wood { get; } = [];

    public List<LeafClump> Leaves { get; } = [];

    public List<SimCluster> Clusters { get; } = [];

    public string RowId => BlockPlan.RowId(Row);
}

/// <summary>A planted row: a polyline in the local frame from its first end to its last, with arc length.</summary>
public sealed class SimRow
{
    private readonly Enu[] _points;
    private readonly double[] _arc;

    public SimRow(int number, Enu[] points)
    {
        Number = number;
        _points = points;
        _arc = new double[points.Length];
        for (var i = 1; i < points.Length; i++)
        {
            _arc[i] = _arc[i - 1] + (points[i] - points[i - 1]).HorizontalLength;
        }
    }

    public int Number { get; }

    public string Id => BlockPlan.RowId(Number);

    public double Length => _arc[^1];

    public IReadOnlyList<Enu> Points => _points;

    /// <summary>Point and unit tangent at arc length <paramref name="arc"/> from the first end.</summary>
    public (Enu Point, Enu Tangent) At(double arc)
    {
        var i = Array.BinarySearch(_arc, arc);
        if (i < 0)
        {
            i = Math.Clamp(~i, 1, _arc.Length - 1);
        }
        else
        {
            i = Math.Clamp(i, 1, _arc.Length - 1);
        }
        var a = _points[i - 1];
        var b = _points[i];
        var seg = _arc[i] - _arc[i - 1];
        var k = seg > 0 ? (arc - _arc[i - 1]) / seg : 0;
        var d = b - a;
        var len = d.HorizontalLength;
        return (a + k * d, new Enu(d.E / len, d.N / len, 0));
    }
}

/// <summary>
/// The orchard block as it really is: rows (straight or gently curved, all following the same curve), trees with
/// planting error and gaps, canopies (trunk, leader, branches, leaf clumps) and blossom clusters with their stages.
/// Local frame: metres east/north of row 1's first end, height above (flat) ground.
/// </summary>
public sealed class SimBlock
{
    public required SimulationOptions Options { get; init; }

    public required LocalTangentPlane Plane { get; init; }

    public required IReadOnlyList<SimRow> Rows { get; init; }

    public required IReadOnlyList<SimTree> Trees { get; init; }

    /// <summary>Unit vectors of the nominal row direction and its right-hand side.</summary>
    public required Enu Along { get; init; }

    public required Enu Right { get; init; }

    public IEnumerable<SimCluster> Clusters => Trees.SelectMany(t => t.Clusters);

    /// <summary>Curve offset (metres to the right of the nominal direction) shared by every row and alley at parameter s.</summary>
    public required Func<double, double> Bend { get; init; }

    /// <summary>Lateral position of alley <paramref name="alley"/> (0 = left of row 1, N = right of row N) relative to row 1, metres.</summary>
    public double AlleyOffset(int alley) => (alley - 0.5) * Options.RowSpacingM;

    /// <summary>Point of a line parallel to the rows (offset metres right of row 1) at row parameter s.</summary>
    public Enu LineAt(double offset, double s) => s * Along + (offset + Bend(s)) * Right;

    /// <summary>Row parameter s of the first and last end of the rows.</summary>
    public (double Start, double End) RowSpan => (-0.5 * Options.TreeSpacingM, (Options.TreesPerRow - 0.5) * Options.TreeSpacingM);

    public BlockPlan ToPlan()
    {
        var rows = Rows.Select(r => new Row(r.Id, r.Points.Select(p => Plane.ToWgs84(p.E, p.N)).ToList())).ToList();
        var trees = Trees.Select(t =>
        {
            var (lat, lon) = Plane.ToWgs84(t.PlanPosition.E, t.PlanPosition.N);
            return new Tree(t.Id, t.RowId, t.Index, lat, lon);
        }).ToList();
        return new BlockPlan(Options.BlockName, rows, trees, Options.TreeSpacingM, Options.RowSpacingM, Options.Variety);
    }

    /// <summary>Compass name (N, NE, E, ...) of the outward normal of a row face: +1 = the row's right side, −1 = its left.</summary>
    public string FaceName(int side)
    {
        var n = side * Right;
        var azimuth = (Math.Atan2(n.E, n.N) * 180 / Math.PI + 360) % 360;
        string[] names = ["N", "NE", "E", "SE", "S", "SW", "W", "NW"];
        return names[(int)Math.Round(azimuth / 45) % 8];
    }
}

/// <summary>Builds a <see cref="SimBlock"/> from the options and seed.</summary>
public static class OrchardGenerator
{
    /// <summary>Planting error of the true trunk against the plan, per axis (σ, truncation), metres.</summary>
    public const double PlantingErrorSigmaM = 0.03;

    public const double PlantingErrorLimitM = 0.08;

    public static SimBlock Generate(SimulationOptions options, CropLibrary crops)
    {
        var bearing = options.RowBearingDeg * Math.PI / 180;
        var along = new Enu(Math.Sin(bearing), Math.Cos(bearing), 0);
        var right = new Enu(Math.Cos(bearing), -Math.Sin(bearing), 0);
        var rowLength = options.TreesPerRow * options.TreeSpacingM;
        var s0 = -0.5 * options.TreeSpacingM;
        // One smooth arc (contour planting): every row and alley follows the same offset curve.
        var amplitude = options.CurvedRows ? Math.Min(2.5, 0.06 * rowLength) : 0.0;
        Func<double, double> bend = s => amplitude * Math.Sin(Math.PI * (s - s0) / rowLength);

        var rows = new List<SimRow>();
        var trees = new List<SimTree>();
        var block = new SimBlock
        {
            Options = options,
            Plane = new LocalTangentPlane(options.OriginLatitude, options.OriginLongitude),
            Rows = rows,
            Trees = trees,
            Along = along,
            Right = right,
            Bend = bend,
        };

        for (var r = 1; r <= options.Rows; r++)
        {
            var offset = (r - 1) * options.RowSpacingM;
            var points = new List<Enu>();
            var step = options.CurvedRows ? 0.05 : rowLength;
            // Extend the parameter until the arc length covers all trees plus half a spacing at each end.
            var arc = 0.0;
            var previous = block.LineAt(offset, s0);
            points.Add(previous);
            for (var s = s0 + step; arc < rowLength - 1e-9; s += step)
            {
                var p = block.LineAt(offset, s);
                arc += (p - previous).HorizontalLength;
                points.Add(p);
                previous = p;
            }
            var dense = new SimRow(r, [.. points]);
            // Trees by arc length; the stored row line is thinned to ~1 m vertices (curved) or its two ends.
            var line = options.CurvedRows ? Thin(dense, 1.0) : [dense.At(0).Point, dense.At(rowLength).Point];
            var row = new SimRow(r, line);
            rows.Add(row);
            var rowRandom = SimRandom.For(options.Seed, "row", r);
            for (var i = 1; i <= options.TreesPerRow; i++)
            {
                var treeArc = (i - 0.5) * options.TreeSpacingM;
                var (plan, tangent) = dense.At(treeArc);
                var normal = new Enu(tangent.N, -tangent.E, 0);
                var trunk = plan
                    + rowRandom.TruncatedGaussian(PlantingErrorSigmaM, PlantingErrorLimitM) * tangent
                    + rowRandom.TruncatedGaussian(PlantingErrorSigmaM, PlantingErrorLimitM) * normal;
                var present = rowRandom.NextDouble() >= options.MissingTreeFraction;
                var tree = new SimTree
                {
                    Id = BlockPlan.TreeId(r, i),
                    Row = r,
                    Index = i,
                    Present = present,
                    PlanPosition = plan,
                    TrunkPosition = trunk,
                    Along = tangent,
                    Right = normal,
                    AlongRowM = treeArc,
                };
                if (present)
                {
                    GrowCanopy(block, tree, crops);
                }
                trees.Add(tree);
            }
        }
        return block;
    }

    private static Enu[] Thin(SimRow dense, double spacing)
    {
        var n = (int)Math.Ceiling(dense.Length / spacing);
        return [.. Enumerable.Range(0, n + 1).Select(k => dense.At(Math.Min(dense.Length, k * dense.Length / n)).Point)];
    }

    private static void GrowCanopy(SimBlock block, SimTree tree, CropLibrary crops)
    {
        var o = block.Options;
        var random = SimRandom.For(o.Seed, "tree:" + tree.Id);
        var sp = o.TreeSpacingM;
        Enu Local(double along, double across, double height) => tree.TrunkPosition + along * tree.Along + across * tree.Right + new Enu(0, 0, height);

        var bark = (float)random.Uniform(0.8, 1.15);
        var lean = random.Uniform(-0.06, 0.06);
        var top = random.Uniform(2.8, 3.2);
        var crotch = random.Uniform(0.6, 0.75);
        tree.Wood.Add(new WoodSegment(Local(0, 0, 0), Local(lean * 0.3, 0, crotch), 0.055, 0.045, bark));
        tree.Wood.Add(new WoodSegment(Local(lean * 0.3, 0, crotch), Local(lean, random.Uniform(-0.04, 0.04), top), 0.04, 0.012, bark));

        // Spindle: scaffold branches spread mostly along the row (a fruit wall), some into the alleys.
        var branches = new List<(Enu Start, Enu End, double Length)>();
        var count = random.Next(9, 15);
        for (var k = 0; k < count; k++)
        {
            var h0 = crotch + (top - 0.3 - crotch) * (k + random.NextDouble()) / count;
            var side = k % 2 == 0 ? 1 : -1;
            var reach = random.Uniform(0.25, 0.45) * sp * (1.1 - 0.35 * (h0 - crotch) / (top - crotch));
            var across = random.Uniform(-0.3, 0.3);
            var start = Local(lean * h0 / top, 0, h0);
            var end = Local(side * reach, across, Math.Clamp(h0 + random.Uniform(-0.2, 0.25), 0.55, 2.85));
            branches.Add((start, end, (end - start).Length));
            tree.Wood.Add(new WoodSegment(start, end, 0.018, 0.006, bark));
        }

        var leafCount = random.Next(150, 191);
        for (var k = 0; k < leafCount; k++)
        {
            var (start, end, _) = branches[random.Next(branches.Count)];
            var t = random.Uniform(0.0, 1.1);
            var p = start + t * (end - start) + new Enu(random.Gaussian() * 0.1, random.Gaussian() * 0.1, random.Gaussian() * 0.1);
            tree.Leaves.Add(new LeafClump(p, random.Uniform(0.12, 0.26), random.Next(LeafSprites.Variants), (float)random.Uniform(0.75, 1.2)));
        }

        var clusters = ClustersFor(o, random);
        var totalLength = branches.Sum(b => b.Length);
        var stageWeights = BbchStages.Ordered.Select(s => o.StageMix.TryGetValue(s, out var w) ? w : 0).ToArray();
        for (var k = 0; k < clusters; k++)
        {
            // A cluster hangs on a branch (longer branches carry more), jittered, kept in the canopy envelope.
            var pick = random.NextDouble() * totalLength;
            var b = branches[^1];
            foreach (var candidate in branches)
            {
                if ((pick -= candidate.Length) <= 0)
                {
                    b = candidate;
                    break;
                }
            }
            var p = b.Start + random.Uniform(0.35, 1.0) * (b.End - b.Start);
            var rel = p - tree.TrunkPosition;
            var along = Math.Clamp(rel.Dot(tree.Along) + random.Gaussian() * 0.05, -0.45 * sp, 0.45 * sp);
            var across = Math.Clamp(rel.Dot(tree.Right) + random.Gaussian() * 0.05, -0.3, 0.3);
            var height = Math.Clamp(rel.U + random.Gaussian() * 0.05, 0.6, 2.8);
            var stage = BbchStages.Ordered[Pick(stageWeights, random)];
            tree.Clusters.Add(new SimCluster(
                $"{tree.Id}-C{k + 1:000}",
                k + 1,
                tree,
                Local(along, across, height),
                tree.AlongRowM + along,
                across,
                random.Uniform(0.06, 0.12),
                stage,
                crops.Pick(stage, random),
                block.FaceName(across >= 0 ? 1 : -1),
                (float)random.Uniform(0.85, 1.15)));
        }
    }

    /// <summary>Per-tree bloom density: most trees within MIN..MAX, some sparse, some heavy, so densities differ meaningfully.</summary>
    private static int ClustersFor(SimulationOptions o, Random random)
    {
        var u = random.NextDouble();
        double n = u switch
        {
            < 0.15 => random.Uniform(0.3, 0.7) * o.MinClustersPerTree,
            > 0.85 => random.Uniform(1.0, 1.3) * o.MaxClustersPerTree,
            _ => random.Uniform(o.MinClustersPerTree, o.MaxClustersPerTree),
        };
        return (int)Math.Round(n);
    }

    private static int Pick(double[] weights, Random random)
    {
        var x = random.NextDouble() * weights.Sum();
        for (var i = 0; i < weights.Length; i++)
        {
            if ((x -= weights[i]) < 0)
            {
                return i;
            }
        }
        return Array.FindLastIndex(weights, w => w > 0);
    }
}
