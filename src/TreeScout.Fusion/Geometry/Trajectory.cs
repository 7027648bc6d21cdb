using TreeScout.Contracts;
using TreeScout.Fusion.Gnss;
using TreeScout.Orchard;
using LocalFitResult = (double E, double N, double VE, double VN, double VelocitySigma);

namespace TreeScout.Fusion.Geometry;

/// <summary>How poses are interpolated between fixes and how far they may be stretched.</summary>
public sealed record TrajectoryLimits
{
    /// <summary>Frames inside a longer fix gap are flagged (their pose is still the best estimate, with inflated uncertainty).</summary>
    public TimeSpan MaxInterpolationGap { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Beyond the last fix (or before the first) a pose is stretched at most this far without a flag.</summary>
    public TimeSpan MaxExtrapolation { get; init; } = TimeSpan.FromMilliseconds(300);

    /// <summary>Beyond this, no pose at all: the frame cannot be placed.</summary>
    public TimeSpan DeadReckonLimit { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Half-width of the window of fixes a local quadratic is fitted to for the pose (position, velocity, heading): it
    /// grows with the fixes' uncertainty (0.5 s + 4 s per metre of sigma), short enough to follow a wandering track with RTK,
    /// long enough to average noisier fixes.
    /// </summary>
    public TimeSpan MinFitWindow { get; init; } = TimeSpan.FromSeconds(0.5);

    public TimeSpan MaxFitWindow { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>Shortest distance travelled across the fit window (a crawl widens the window up to <see cref="MaxFitWindow"/>).</summary>
    public double MinHeadingBaselineM { get; init; } = 1.0;

    /// <summary>Below this the tractor counts as stopped; a course reversal across a stop means it is reversing.</summary>
    public double StopSpeedMps { get; init; } = 0.3;

    /// <summary>Position uncertainty added per second of distance to the nearest fix (interpolation across gaps).</summary>
    public double GapSigmaPerSecondM { get; init; } = 0.1;

    /// <summary>Fix-to-fix noise of the receiver's position (much smaller than its absolute error), for the heading uncertainty.</summary>
    public double RelativeNoiseM { get; init; } = 0.02;
}

public enum PoseStatus
{
    /// <summary>Interpolated between fixes (flagged when across a gap longer than the limit or dead-reckoned).</summary>
    Ok,

    /// <summary>No fix after the instant yet: hold the frame.</summary>
    Awaiting,

    /// <summary>No fix near enough to say anything.</summary>
    NoFix,
}

/// <summary>
/// The tractor's path in the block's UTM zone from its GNSS fixes, queried for the pose at any instant: a local quadratic
/// fitted to the fixes around it (cubic Hermite interpolation across gaps), heading from the fitted velocity (true heading
/// when the receiver sends HDT/THS), held while stopped, and turned by 180° while reversing (a reversing tractor's course is opposite to
/// its heading; a course flip across a stop is a reversal, a turn at speed is a turn).
/// </summary>
public sealed class Trajectory(UtmProjection? projection, TrajectoryLimits limits)
{
    private readonly List<Sample> _samples = [];
    private UtmProjection? _projection = projection;

    public int Count => _samples.Count;

    public DateTimeOffset? FirstTime => _samples.Count == 0 ? null : _samples[0].Time;

    public DateTimeOffset? LastTime => _samples.Count == 0 ? null : _samples[^1].Time;

    /// <summary>The UTM zone all geometry is done in: the block plan's, or (without a plan) the zone of the first fix.</summary>
    public UtmProjection? Projection => _projection;

    /// <summary>Adds a fix; false when a fix with the same time is already there (redelivery).</summary>
    public bool Add(GnssFix fix)
    {
        _projection ??= UtmProjection.For(fix.Latitude, fix.Longitude);
        var (e, n) = _projection.ToUtm(fix.Latitude, fix.Longitude);
        // The receiver's heading (HDT/THS) and course (RMC/VTG) are from true north; positions are in the UTM grid, whose
        // north differs by the meridian convergence (~1.9° in the Betuwe, zone 31): a camera turned by that misplaces
        // clusters by ~7 cm at 2 m and breaks frame-to-frame prediction.
        var trueNorth = fix.HeadingDeg is null && fix.CourseDeg is null ? 0 : _projection.TrueNorthGridAzimuth(fix.Latitude, fix.Longitude, (e, n));
        var sample = new Sample(fix.TimeUtc, e, n, fix.HorizontalSigmaM, fix.Quality,
            fix.HeadingDeg is { } h ? Angles.Wrap(Angles.Radians(h) + trueNorth) : null,
            fix.CourseDeg is { } c ? Angles.Wrap(Angles.Radians(c) + trueNorth) : null);
        var index = IndexAtOrAfter(fix.TimeUtc);
        if (index < _samples.Count && _samples[index].Time == fix.TimeUtc)
        {
            return false;
        }
        _samples.Insert(index, sample);
        UpdateDirections(index);
        return true;
    }

    /// <summary>Forgets fixes older than <paramref name="time"/> (keeping one before it for interpolation).</summary>
    public void PruneBefore(DateTimeOffset time)
    {
        var index = IndexAtOrAfter(time) - 1;
        if (index > 0)
        {
            _samples.RemoveRange(0, index);
        }
    }

    /// <summary>
    /// The pose at GNSS time <paramref name="time"/>. Without <paramref name="force"/> an instant not yet covered by fixes
    /// (including the heading window after it) is <see cref="PoseStatus.Awaiting"/>; with it, the pose is extrapolated
    /// or dead-reckoned as far as the limits allow, and flagged.
    /// </summary>
    public (PoseStatus Status, Pose Pose) PoseAt(DateTimeOffset time, bool force)
    {
        if (_samples.Count == 0)
        {
            return (force ? PoseStatus.NoFix : PoseStatus.Awaiting, default);
        }
        var last = _samples[^1].Time;
        var first = _samples[0].Time;
        var distance = time < first ? first - time : time > last ? time - last : TimeSpan.Zero;
        if (distance > limits.DeadReckonLimit)
        {
            return time > last && !force ? (PoseStatus.Awaiting, default) : (PoseStatus.NoFix, default);
        }
        if (time > last && !force)
        {
            return (PoseStatus.Awaiting, default);
        }
        var bracket = Bracket(time);
        var window = FitWindow(time, bracket);
        if (!force && bracket.After.Time + window > last)
        {
            // The fit needs the path a little beyond the frame (the first fix at or after it is not before the frame), and
            // across a gap the velocity at the first fix after it needs that fix's successors: wait for them unless told
            // not to (otherwise the pose would depend on how far the fixes had got when the frame was processed).
            return (PoseStatus.Awaiting, default);
        }
        var (e, n, gap) = PositionAt(time);
        // One fit serves the position and the course at the frame's time.
        var fitAtTime = LocalFit(time, window);
        if (gap < TimeSpan.FromSeconds(0.5) && fitAtTime is { } fit)
        {
            (e, n) = (fit.E, fit.N);
        }
        var (heading, headingSigma) = HeadingAt(time, window, fitAtTime);
        var sigma = Math.Max(bracket.Before.SigmaM, bracket.After.SigmaM) + limits.GapSigmaPerSecondM * gap.TotalSeconds;
        var quality = GnssFixes.Rank(bracket.Before.Quality) <= GnssFixes.Rank(bracket.After.Quality) ? bracket.Before.Quality : bracket.After.Quality;
        string? flag = null;
        if (distance > limits.MaxExtrapolation)
        {
            flag = $"no GNSS fix within {distance.TotalSeconds:F1} s: position dead-reckoned";
        }
        else if (bracket.After.Time - bracket.Before.Time > limits.MaxInterpolationGap)
        {
            flag = $"GNSS gap of {(bracket.After.Time - bracket.Before.Time).TotalSeconds:F1} s: position interpolated across it";
        }
        else if (headingSigma >= Math.PI / 2)
        {
            flag = "heading unknown (tractor has not moved)";
        }
        return (PoseStatus.Ok, new Pose(time, e, n, heading, headingSigma, sigma, SpeedAt(time), quality, flag));
    }

    private TimeSpan FitWindow(DateTimeOffset time, (Sample Before, Sample After) bracket)
    {
        var (before, after) = bracket;
        var seconds = 0.5 + 4 * Math.Max(before.SigmaM, after.SigmaM);
        // A course is only as good as the distance it is measured over: at a crawl the window widens until it spans the
        // heading baseline (at 0.4 m/s, 1 cm fix noise turned the heading by up to 2.5° over the 1.2 s window).
        var half = limits.MinFitWindow;
        var (e1, n1, _) = PositionAt(Clamp(time - half));
        var (e2, n2, _) = PositionAt(Clamp(time + half));
        var speed = Math.Sqrt((e2 - e1) * (e2 - e1) + (n2 - n1) * (n2 - n1)) / (2 * half.TotalSeconds);
        if (speed >= limits.StopSpeedMps)
        {
            seconds = Math.Max(seconds, limits.MinHeadingBaselineM / (2 * speed));
        }
        return TimeSpan.FromSeconds(Math.Clamp(seconds, limits.MinFitWindow.TotalSeconds, limits.MaxFitWindow.TotalSeconds));
    }

    /// <summary>
    /// Least-squares quadratic in time through the fixes within ± <paramref name="window"/> of <paramref name="time"/>:
    /// position and velocity there, and the velocity's 1-sigma. Null when the window is not covered densely on both sides.
    /// </summary>
    private LocalFitResult? LocalFit(DateTimeOffset time, TimeSpan window)
    {
        var from = IndexAtOrAfter(time - window);
        var to = IndexAtOrAfter(time + window + TimeSpan.FromTicks(1));
        var count = to - from;
        if (count < 5 || _samples[from].Time > time || _samples[to - 1].Time < time)
        {
            return null;
        }
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, e0 = 0, e1 = 0, e2 = 0, n0 = 0, n1 = 0, n2 = 0;
        var largestStep = 0.0;
        for (var i = from; i < to; i++)
        {
            var x = (_samples[i].Time - time).TotalSeconds;
            if (i > from)
            {
                largestStep = Math.Max(largestStep, (_samples[i].Time - _samples[i - 1].Time).TotalSeconds);
            }
            var x2 = x * x;
            s0 += 1;
            s1 += x;
            s2 += x2;
            s3 += x2 * x;
            s4 += x2 * x2;
            e0 += _samples[i].E;
            e1 += _samples[i].E * x;
            e2 += _samples[i].E * x2;
            n0 += _samples[i].N;
            n1 += _samples[i].N * x;
            n2 += _samples[i].N * x2;
        }
        if (largestStep > window.TotalSeconds)
        {
            return null;
        }
        // Normal equations [s0 s1 s2; s1 s2 s3; s2 s3 s4]·[c0 c1 c2] = rhs, solved by Cramer's rule for c0 (value) and c1 (slope).
        var det = s0 * (s2 * s4 - s3 * s3) - s1 * (s1 * s4 - s3 * s2) + s2 * (s1 * s3 - s2 * s2);
        if (Math.Abs(det) < 1e-12)
        {
            return null;
        }
        double Value(double r0, double r1, double r2) => (r0 * (s2 * s4 - s3 * s3) - s1 * (r1 * s4 - s3 * r2) + s2 * (r1 * s3 - s2 * r2)) / det;
        double Slope(double r0, double r1, double r2) => (s0 * (r1 * s4 - r2 * s3) - r0 * (s1 * s4 - s3 * s2) + s2 * (s1 * r2 - r1 * s2)) / det;
        // Fix-to-fix noise is a fraction of the absolute uncertainty (most of that is a slowly varying bias).
        var relative = Math.Clamp(_samples[from + count / 2].SigmaM / 2, limits.RelativeNoiseM / 4, limits.RelativeNoiseM * 10);
        var slopeVariance = relative * relative * (s0 * s4 - s2 * s2) / det;
        return (Value(e0, e1, e2), Value(n0, n1, n2), Slope(e0, e1, e2), Slope(n0, n1, n2), Math.Sqrt(Math.Max(0, slopeVariance)));
    }

    /// <summary>Position (Hermite between the bracketing fixes; linear extrapolation outside) and the time to the nearest fix.</summary>
    private (double E, double N, TimeSpan ToNearestFix) PositionAt(DateTimeOffset time)
    {
        var (i, k) = BracketIndices(time);
        var a = _samples[i];
        var b = _samples[k];
        if (i == k)
        {
            var (ve, vn) = Velocity(i);
            var dt = (time - a.Time).TotalSeconds;
            return (a.E + ve * dt, a.N + vn * dt, (time - a.Time).Duration());
        }
        var h = (b.Time - a.Time).TotalSeconds;
        var s = (time - a.Time).TotalSeconds / h;
        var (va, vna) = Velocity(i);
        var (vb, vnb) = Velocity(k);
        var h00 = (1 + 2 * s) * (1 - s) * (1 - s);
        var h10 = s * (1 - s) * (1 - s);
        var h01 = s * s * (3 - 2 * s);
        var h11 = s * s * (s - 1);
        var e = h00 * a.E + h10 * h * va + h01 * b.E + h11 * h * vb;
        var n = h00 * a.N + h10 * h * vna + h01 * b.N + h11 * h * vnb;
        return (e, n, TimeSpan.FromSeconds(Math.Min(time.Subtract(a.Time).TotalSeconds, b.Time.Subtract(time).TotalSeconds)));
    }

    /// <summary>Velocity at a fix from its neighbours; across a long gap only from the side that has fixes close by.</summary>
    private (double E, double N) Velocity(int i)
    {
        if (_samples.Count < 2)
        {
            return (0, 0);
        }
        var gap = limits.MaxExtrapolation.TotalSeconds * 2;
        var prev = i > 0 && (_samples[i].Time - _samples[i - 1].Time).TotalSeconds <= gap ? i - 1 : i;
        var next = i < _samples.Count - 1 && (_samples[i + 1].Time - _samples[i].Time).TotalSeconds <= gap ? i + 1 : i;
        if (prev == next)
        {
            // Isolated fix: fall back to whichever neighbour exists.
            prev = Math.Max(0, i - 1);
            next = Math.Min(_samples.Count - 1, i + 1);
            if (prev == next)
            {
                return (0, 0);
            }
        }
        var dt = (_samples[next].Time - _samples[prev].Time).TotalSeconds;
        return ((_samples[next].E - _samples[prev].E) / dt, (_samples[next].N - _samples[prev].N) / dt);
    }

    public double SpeedAt(DateTimeOffset time)
    {
        var (i, k) = BracketIndices(time);
        var a = _samples[i];
        var b = _samples[k];
        if (i == k || (b.Time - a.Time) > limits.MaxInterpolationGap)
        {
            var (ve, vn) = Velocity(i);
            return Math.Sqrt(ve * ve + vn * vn);
        }
        var dt = (b.Time - a.Time).TotalSeconds;
        return Math.Sqrt((b.E - a.E) * (b.E - a.E) + (b.N - a.N) * (b.N - a.N)) / dt;
    }

    private (double Heading, double Sigma) HeadingAt(DateTimeOffset time, TimeSpan window, LocalFitResult? fitAtTime)
    {
        var (i, k) = BracketIndices(time);
        if (_samples[i].Heading is { } hi && _samples[k].Heading is { } hk)
        {
            var f = i == k ? 0 : (time - _samples[i].Time) / (_samples[k].Time - _samples[i].Time);
            return (Angles.Lerp(hi, hk, f), Angles.Radians(0.2));
        }
        var direction = _samples[i].Direction;
        // Moving: the direction of the fitted velocity. Stopped: the last direction while moving (heading is held).
        for (var back = TimeSpan.Zero; back <= TimeSpan.FromSeconds(30); back += TimeSpan.FromSeconds(0.5))
        {
            if (Course(time - back, window, back == TimeSpan.Zero ? fitAtTime : LocalFit(time - back, window)) is { } moving)
            {
                return (Angles.Wrap(moving.Course + (direction < 0 ? Math.PI : 0)), moving.Sigma);
            }
        }
        if (_samples[i].Course is { } reported)
        {
            return (reported, Angles.Radians(20));
        }
        return (0, Math.PI);
    }

    private (double Course, double Sigma)? Course(DateTimeOffset time, TimeSpan window, LocalFitResult? fitThere)
    {
        double ve, vn, sigma;
        if (fitThere is { } fit)
        {
            (ve, vn, sigma) = (fit.VE, fit.VN, fit.VelocitySigma);
        }
        else
        {
            // Across a gap: the chord of the interpolated path.
            var (e1, n1, _) = PositionAt(Clamp(time - window));
            var (e2, n2, _) = PositionAt(Clamp(time + window));
            var dt = 2 * window.TotalSeconds;
            (ve, vn, sigma) = ((e2 - e1) / dt, (n2 - n1) / dt, limits.RelativeNoiseM / dt);
        }
        var speed = Math.Sqrt(ve * ve + vn * vn);
        if (speed < limits.StopSpeedMps)
        {
            return null;
        }
        return (Angles.Azimuth(ve, vn), Math.Atan(sigma / speed));
    }

    private DateTimeOffset Clamp(DateTimeOffset time) =>
        time < _samples[0].Time ? _samples[0].Time : time > _samples[^1].Time ? _samples[^1].Time : time;

    private (Sample Before, Sample After) Bracket(DateTimeOffset time)
    {
        var (i, k) = BracketIndices(time);
        return (_samples[i], _samples[k]);
    }

    private (int Before, int After) BracketIndices(DateTimeOffset time)
    {
        var k = IndexAtOrAfter(time);
        if (k >= _samples.Count)
        {
            return (_samples.Count - 1, _samples.Count - 1);
        }
        if (_samples[k].Time == time || k == 0)
        {
            return (k, k);
        }
        return (k - 1, k);
    }

    private int IndexAtOrAfter(DateTimeOffset time)
    {
        int lo = 0, hi = _samples.Count;
        while (lo < hi)
        {
            var mid = (lo + hi) / 2;
            if (_samples[mid].Time < time)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }
        return lo;
    }

    /// <summary>Forward/reverse per fix: a course flip of more than 135° across a stop toggles it; a true heading decides outright.</summary>
    private void UpdateDirections(int from)
    {
        var start = Math.Max(0, from - 1);
        var direction = start > 0 ? _samples[start - 1].Direction : 1;
        var state = start > 0 ? _samples[start - 1].Motion : default;
        for (var i = start; i < _samples.Count; i++)
        {
            var s = _samples[i];
            var j = i;
            while (j > 0 && (s.Time - _samples[j].Time).TotalSeconds < 1.0)
            {
                j--;
            }
            var dt = (s.Time - _samples[j].Time).TotalSeconds;
            if (dt > 0 && dt <= 3)
            {
                var (de, dn) = (s.E - _samples[j].E, s.N - _samples[j].N);
                var speed = Math.Sqrt(de * de + dn * dn) / dt;
                if (speed < limits.StopSpeedMps)
                {
                    state = state with { Stopped = true };
                }
                else
                {
                    var course = Angles.Azimuth(de, dn);
                    if (s.Heading is { } heading)
                    {
                        direction = Math.Cos(course - heading) >= 0 ? 1 : -1;
                    }
                    else if (state.Stopped && state.LastCourse is { } before && Math.Abs(Angles.Wrap(course - before)) > Angles.Radians(135))
                    {
                        direction = -direction;
                    }
                    state = new MotionState(course, false);
                }
            }
            s.Direction = direction;
            s.Motion = state;
        }
    }

    private readonly record struct MotionState(double? LastCourse, bool Stopped);

    /// <summary>A fix in the grid; <paramref name="heading"/> and <paramref name="course"/> are grid azimuths (radians) of what the receiver sent.</summary>
    private sealed class Sample(DateTimeOffset time, double e, double n, double sigmaM, GnssQuality quality, double? heading, double? course)
    {
        public DateTimeOffset Time { get; } = time;

        public double E { get; } = e;

        public double N { get; } = n;

        public double SigmaM { get; } = sigmaM;

        public GnssQuality Quality { get; } = quality;

        public double? Heading { get; } = heading;

        public double? Course { get; } = course;

        /// <summary>+1 driving forward, −1 reversing.</summary>
        public int Direction { get; set; } = 1;

        public MotionState Motion { get; set; }
    }
}
