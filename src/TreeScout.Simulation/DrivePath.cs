using TreeScout.Contracts;

namespace TreeScout.Simulation;

/// <summary>A row face a camera scans during a pass.</summary>
/// <param name="Side">The side of the row the camera sees it from: "left" or "right" of the row, looking along it from its first end.</param>
public sealed record ScannedFace(string CameraId, int Row, string Face, string? Side = null);

/// <summary>One drive along an alley between headland turns.</summary>
public sealed record DrivePass(int Index, int Alley, bool Forward, double StartTimeS, double EndTimeS, IReadOnlyList<ScannedFace> Faces);

/// <summary>Where the tractor is at a moment: antenna phase centre (height above ground), heading, speed.</summary>
public readonly record struct VehiclePose(double TimeS, Enu Antenna, double HeadingRad, double SpeedMps, int Pass)
{
    public double HeadingDeg => (HeadingRad * 180 / Math.PI % 360 + 360) % 360;
}

/// <summary>
/// The tractor's true drive: serpentine passes along the alley centres with a smooth lateral wander (the track is
/// never straight), speed changes at row ends, and headland turns (U-turn, or a bulb turn back into the same or a
/// near alley when the turning circle is wider than the shift). Sampled every 5 cm and timed by the speed profile.
/// </summary>
public sealed class DrivePath
{
    public const double TurnRadiusM = 3.0;
    public const double RunInM = 5.0;
    public const double HeadlandSpeedMps = 1.1;
    public const double AccelerationMps2 = 0.3;
    private const double Step = 0.05;

    private readonly double[] _e;
    private readonly double[] _n;
    private readonly double[] _t;
    private readonly double[] _v;
    private readonly int[] _pass;

    private DrivePath(List<(double E, double N, int Pass)> samples, double[] speed, double antennaHeight, IReadOnlyList<DrivePass> passes)
    {
        _e = [.. samples.Select(s => s.E)];
        _n = [.. samples.Select(s => s.N)];
        _pass = [.. samples.Select(s => s.Pass)];
        _v = speed;
        _t = new double[_e.Length];
        for (var i = 1; i < _e.Length; i++)
        {
            var ds = Math.Sqrt(Sq(_e[i] - _e[i - 1]) + Sq(_n[i] - _n[i - 1]));
            _t[i] = _t[i - 1] + ds / (0.5 * (_v[i] + _v[i - 1]));
        }
        AntennaHeightM = antennaHeight;
        Passes = [.. passes.Select(p => p with { StartTimeS = _t[Array.IndexOf(_pass, p.Index)], EndTimeS = _t[Array.LastIndexOf(_pass, p.Index)] })];
    }

    public double Duration => _t[^1];

    public double AntennaHeightM { get; }

    public IReadOnlyList<DrivePass> Passes { get; }

    public VehiclePose At(double time)
    {
        var i = Array.BinarySearch(_t, time);
        if (i < 0)
        {
            i = ~i - 1;
        }
        i = Math.Clamp(i, 0, _t.Length - 2);
        var k = Math.Clamp((time - _t[i]) / (_t[i + 1] - _t[i]), 0, 1);
        var e = _e[i] + k * (_e[i + 1] - _e[i]);
        var n = _n[i] + k * (_n[i + 1] - _n[i]);
        // Heading from a 0.5 m chord: the wander is smooth at that scale, the 5 cm sampling is not noise-free.
        var a = Math.Max(0, i - 5);
        var b = Math.Min(_t.Length - 1, i + 6);
        var heading = Math.Atan2(_e[b] - _e[a], _n[b] - _n[a]);
        return new VehiclePose(time, new Enu(e, n, AntennaHeightM), heading, _v[i] + k * (_v[i + 1] - _v[i]), _pass[k < 0.5 ? i : i + 1]);
    }

    public static DrivePath Plan(SimBlock block, IReadOnlyList<CameraMounting> cameras, int seed)
    {
        var o = block.Options;
        var plan = Alleys(o.Rows, cameras, o.BothSides);
        var (rowStart, rowEnd) = block.RowSpan;
        var sIn = rowStart - RunInM;
        var sOut = rowEnd + RunInM;
        var vRow = o.SpeedKmh / 3.6;
        var vTurn = Math.Min(vRow, HeadlandSpeedMps);
        var samples = new List<(double E, double N, int Pass)>();
        var target = new List<double>();
        var passes = new List<DrivePass>();

        for (var j = 0; j < plan.Count; j++)
        {
            var (alley, forward) = plan[j];
            var random = SimRandom.For(seed, "wander", j);
            var waves = Enumerable.Range(0, 3).Select(k => (
                Amplitude: k switch { 0 => random.Uniform(0.06, 0.10), 1 => random.Uniform(0.03, 0.06), _ => random.Uniform(0.01, 0.03) },
                Wavelength: k switch { 0 => random.Uniform(15, 25), 1 => random.Uniform(7, 12), _ => random.Uniform(3, 5) },
                Phase: random.Uniform(0, 2 * Math.PI))).ToArray();
            var speedPhase = random.Uniform(0, 2 * Math.PI);
            var offset = block.AlleyOffset(alley);
            var count = (int)Math.Ceiling((sOut - sIn) / Step);
            if (j > 0)
            {
                var last = samples[^1];
                var (ex, ey) = EndFrame(samples);
                var start = block.LineAt(offset, forward ? sIn : sOut);
                AppendTurn(samples, target, (last.E, last.N), ex, ey, (start.E, start.N), vTurn);
            }
            for (var k = 0; k <= count; k++)
            {
                var travelled = k * (sOut - sIn) / count;
                var s = forward ? sIn + travelled : sOut - travelled;
                // Smooth lateral wander, tapered to zero over the first and last 4 m so turns join exactly.
                var taper = SmoothStep(travelled / 4.0) * SmoothStep((sOut - sIn - travelled) / 4.0);
                var wander = taper * waves.Sum(w => w.Amplitude * Math.Sin(2 * Math.PI * travelled / w.Wavelength + w.Phase));
                var p = block.LineAt(offset + (forward ? wander : -wander), s);
                samples.Add((p.E, p.N, j));
                // Slower on the headland, up to row speed within the row with a few % of governor/terrain fluctuation.
                var inRow = s >= rowStart && s <= rowEnd;
                target.Add(inRow ? vRow * (1 + 0.03 * Math.Sin(2 * Math.PI * travelled / 17 + speedPhase)) : vTurn);
            }
            passes.Add(new DrivePass(j, alley, forward, 0, 0, FacesSeen(block, alley, forward, cameras)));
        }
        return new DrivePath(samples, LimitAcceleration([.. target], samples), cameras[0].AntennaHeightM, passes);
    }

    /// <summary>
    /// Alleys to drive (0 = left of row 1 ... Rows = right of the last row, "left/right" seen along the rows' direction).
    /// Every row from one side: one camera → each row from one face, alternating alleys; both → every other alley.
    /// <paramref name="bothSides"/>, every row from both sides: both cameras → every alley; one camera → two passes per
    /// row, one in each of its alleys, driving the way that turns the camera to the row.
    /// </summary>
    public static IReadOnlyList<(int Alley, bool Forward)> Alleys(int rows, IReadOnlyList<CameraMounting> cameras, bool bothSides = false)
    {
        var plan = new List<(int, bool)>();
        if (cameras.Count > 1)
        {
            for (var a = bothSides ? 0 : 1; a <= rows; a += bothSides ? 1 : 2)
            {
                plan.Add((a, plan.Count % 2 == 0));
            }
            if (!bothSides && rows % 2 == 1 && rows > 1)
            {
                // Odd row count: the last row is only reachable from its own outer alley.
                plan[^1] = (rows, plan[^1].Item2);
            }
            return plan;
        }
        var looksRight = cameras[0].Side == CameraSide.Right;
        for (var row = 1; row <= rows; row++)
        {
            if (bothSides)
            {
                // A right camera driving forward looks at the row on the alley's right: from the alley left of the row.
                plan.Add((row - 1, looksRight));
                plan.Add((row, !looksRight));
                continue;
            }
            var forward = (row - 1) % 2 == 0;
            // Seen from the alley on the side the camera looks from: a right camera driving forward is left of the row.
            var alley = forward == looksRight ? row - 1 : row;
            plan.Add((alley, forward));
        }
        return plan;
    }

    private static List<ScannedFace> FacesSeen(SimBlock block, int alley, bool forward, IReadOnlyList<CameraMounting> cameras)
    {
        var faces = new List<ScannedFace>();
        foreach (var camera in cameras)
        {
            var looksToRowRight = (camera.Side == CameraSide.Right) == forward;
            var row = looksToRowRight ? alley + 1 : alley;
            if (row >= 1 && row <= block.Options.Rows)
            {
                faces.Add(new ScannedFace(camera.CameraId, row, block.FaceName(looksToRowRight ? -1 : 1), looksToRowRight ? RowSides.Left : RowSides.Right));
            }
        }
        return faces;
    }

    /// <summary>Unit vectors of the exit heading (y) and its right (x) from the last samples.</summary>
    private static ((double E, double N) X, (double E, double N) Y) EndFrame(List<(double E, double N, int Pass)> samples)
    {
        var a = samples[^11];
        var b = samples[^1];
        var len = Math.Sqrt(Sq(b.E - a.E) + Sq(b.N - a.N));
        var y = ((b.E - a.E) / len, (b.N - a.N) / len);
        return ((y.Item2, -y.Item1), y);
    }

    /// <summary>Headland turn from the last sample (heading y) to <paramref name="target"/> heading −y, at headland speed.</summary>
    private static void AppendTurn(
        List<(double E, double N, int Pass)> samples,
        List<double> speed,
        (double E, double N) from,
        (double E, double N) x,
        (double E, double N) y,
        (double E, double N) target,
        double vTurn)
    {
        var dx = (target.E - from.E) * x.E + (target.N - from.N) * x.N;
        var dy = (target.E - from.E) * y.E + (target.N - from.N) * y.N;
        var mirror = dx < 0 ? -1.0 : 1.0;
        var d = Math.Abs(dx);
        var r = TurnRadiusM;
        var local = new List<(double X, double Y)>();
        void Straight((double X, double Y) a, (double X, double Y) b)
        {
            var len = Math.Sqrt(Sq(b.X - a.X) + Sq(b.Y - a.Y));
            var n = Math.Max(1, (int)Math.Ceiling(len / Step));
            for (var k = 1; k <= n; k++)
            {
                local.Add((a.X + (b.X - a.X) * k / n, a.Y + (b.Y - a.Y) * k / n));
            }
        }
        void Arc((double X, double Y) centre, double from, double to)
        {
            var n = Math.Max(1, (int)Math.Ceiling(Math.Abs(to - from) * r / Step));
            for (var k = 1; k <= n; k++)
            {
                var a = from + (to - from) * k / n;
                local.Add((centre.X + r * Math.Cos(a), centre.Y + r * Math.Sin(a)));
            }
        }

        // Turns are built for a shift to the right at y = 0, then mirrored; a longitudinal mismatch becomes a straight.
        var y0 = Math.Max(0, dy);
        if (y0 > 0)
        {
            Straight((0, 0), (0, y0));
        }
        if (d >= 2 * r)
        {
            Arc((r, y0), Math.PI, Math.PI / 2);
            Straight((r, y0 + r), (d - r, y0 + r));
            Arc((d - r, y0), Math.PI / 2, 0);
        }
        else
        {
            // Bulb turn: left by α, right by 180° + 2α around a centre halfway across, left by α.
            var alpha = Math.Acos(0.5 + d / (4 * r));
            Arc((-r, y0), 0, alpha);
            var c2 = (X: d / 2, Y: y0 + 2 * r * Math.Sin(alpha));
            Arc(c2, alpha - Math.PI, -alpha - 2 * Math.PI);
            Arc((d + r, y0), Math.PI - alpha, Math.PI);
        }
        var end = local.Count > 0 ? local[^1] : (0.0, y0);
        if (end.Item2 > dy + 1e-6)
        {
            Straight(end, (end.Item1, dy));
        }
        // The join sample itself is the next pass's first sample.
        local.RemoveAt(local.Count - 1);
        foreach (var (lx, ly) in local)
        {
            var mx = mirror * lx;
            samples.Add((from.E + mx * x.E + ly * y.E, from.N + mx * x.N + ly * y.N, -1));
            speed.Add(vTurn);
        }
    }

    /// <summary>Forward and backward passes so the tractor never accelerates or brakes harder than <see cref="AccelerationMps2"/>.</summary>
    private static double[] LimitAcceleration(double[] v, List<(double E, double N, int Pass)> samples)
    {
        double Ds(int i) => Math.Sqrt(Sq(samples[i].E - samples[i - 1].E) + Sq(samples[i].N - samples[i - 1].N));
        for (var i = 1; i < v.Length; i++)
        {
            v[i] = Math.Min(v[i], Math.Sqrt(v[i - 1] * v[i - 1] + 2 * AccelerationMps2 * Ds(i)));
        }
        for (var i = v.Length - 2; i >= 0; i--)
        {
            v[i] = Math.Min(v[i], Math.Sqrt(v[i + 1] * v[i + 1] + 2 * AccelerationMps2 * Ds(i + 1)));
        }
        return v;
    }

    private static double SmoothStep(double x)
    {
        x = Math.Clamp(x, 0, 1);
        return x * x * (3 - 2 * x);
    }

    private static double Sq(double x) => x * x;
}
