using System.ComponentModel.DataAnnotations;
using System.Globalization;
using TreeScout.Contracts;
using TreeScout.Orchard;

namespace TreeScout.Capture;

/// <summary>
/// Which frames and which part of each frame the detector needs (section "FramePlan", env TREESCOUT__FramePlan__...;
/// docs/adr/0065). Read by the capture worker and by `treescout scan`, which both publish frames.
/// </summary>
public sealed class FramePlanOptions : IValidatableObject
{
    public const string Section = "FramePlan";

    /// <summary>Skip frames beyond <see cref="SightingsPerCluster"/> per cluster at the ground speed GNSS reports.</summary>
    public bool Decimate { get; set; }

    /// <summary>
    /// Frames each cluster should be seen in while it crosses the view. Fusion confirms a track from 3 sightings
    /// (Fusion:Tracker:MinSightings); boxes are missed and hidden behind leaves in part of the frames, hence more.
    /// </summary>
    [Range(3, 1000)]
    public int SightingsPerCluster { get; set; } = 6;

    /// <summary>Run the detector only on the rows of the frame where the canopy can be, by the camera's geometry.</summary>
    public bool CanopyBand { get; set; } = true;

    /// <summary>Lowest blossom cluster above the ground, metres.</summary>
    [Range(0.0, 10.0)]
    public double CanopyBottomM { get; set; } = 0.4;

    /// <summary>Highest blossom cluster above the ground, metres.</summary>
    [Range(0.0, 10.0)]
    public double CanopyTopM { get; set; } = 3.4;

    /// <summary>How far clusters hang in front of and behind the trunk line, metres (as Fusion:Tracker:CanopyHalfDepthM).</summary>
    [Range(0.0, 3.0)]
    public double CanopyHalfDepthM { get; set; } = 0.35;

    /// <summary>Row spacing when the run does not give one (RunStarted.RowSpacingM), metres.</summary>
    [Range(1.0, 20.0)]
    public double DefaultRowSpacingM { get; set; } = 3.5;

    /// <summary>Rows added above and below the computed band (tractor roll and pitch are not measured).</summary>
    [Range(0, 1000)]
    public int BandMarginPx { get; set; } = 24;

    /// <summary>A ground speed older than this is not used: without it every frame is kept.</summary>
    [Range(typeof(TimeSpan), "00:00:00.1", "00:01:00")]
    public TimeSpan MaxSpeedAge { get; set; } = TimeSpan.FromSeconds(2);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (CanopyTopM <= CanopyBottomM)
        {
            yield return new ValidationResult(
                string.Create(CultureInfo.InvariantCulture, $"FramePlan:CanopyTopM ({CanopyTopM} m) must be above FramePlan:CanopyBottomM ({CanopyBottomM} m)"),
                [nameof(CanopyTopM), nameof(CanopyBottomM)]);
        }
    }

    /// <summary>Every problem of these settings, one line each (what a worker's start-time validation reports).</summary>
    public IReadOnlyList<string> Problems()
    {
        var results = new List<ValidationResult>();
        Validator.TryValidateObject(this, new ValidationContext(this), results, validateAllProperties: true);
        return [.. results.Select(r => r.ErrorMessage is { } m && m.StartsWith(Section + ":", StringComparison.Ordinal) ? m : $"{Section}: {r.ErrorMessage}")];
    }
}

/// <summary>
/// The tractor's ground speed from the newest GNSS fix: the receiver's speed over ground, else the distance from the
/// previous fix. Fed from the fixes the run publishes (a replay) or hears on the gnss exchange (live); thread-safe.
/// </summary>
public sealed class GroundSpeed
{
    private readonly Lock _gate = new();
    private UtmProjection? _utm;
    private GnssFix? _last;
    private double? _speed;

    public void Observe(GnssFix fix)
    {
        lock (_gate)
        {
            if (_last is { } previous && fix.TimeUtc <= previous.TimeUtc)
            {
                return;
            }
            _speed = fix.SpeedMps ?? (_last is { } p ? Distance(p, fix) / (fix.TimeUtc - p.TimeUtc).TotalSeconds : null);
            _last = fix;
        }
    }

    /// <summary>Metres per second at <paramref name="hostTime"/>, or null with no fix received within <paramref name="maxAge"/> of it.</summary>
    public double? At(DateTimeOffset hostTime, TimeSpan maxAge)
    {
        lock (_gate)
        {
            return _last is { } fix && (hostTime - fix.ReceivedAtUtc).Duration() <= maxAge ? _speed : null;
        }
    }

    // Metres in the UTM zone of the first fix, as the block's geometry is done (Orchard): the grid's scale error, under
    // 0.1 % within a zone, is far below a fix's noise.
    private double Distance(GnssFix a, GnssFix b)
    {
        var utm = _utm ??= UtmProjection.For(a.Latitude, a.Longitude);
        var (e1, n1) = utm.ToUtm(a.Latitude, a.Longitude);
        var (e2, n2) = utm.ToUtm(b.Latitude, b.Longitude);
        return Math.Sqrt(((e2 - e1) * (e2 - e1)) + ((n2 - n1) * (n2 - n1)));
    }
}

/// <summary>What capture does with one frame: publish it whole, on a band of rows, or as decimated (no image).</summary>
public readonly record struct FrameDecision(bool Decimated, ImageRows? CanopyBand);

/// <summary>
/// One run's frame plan per camera (docs/adr/0065). Decimation: a cluster at the canopy's near face stays in view over
/// the camera's footprint along the row (distance × image width / fx); to be seen in <see cref="FramePlanOptions.SightingsPerCluster"/>
/// frames a camera needs one frame per footprint / sightings metres of travel, and travel is ground speed × time between
/// frames. Canopy band: the rows between the canopy top's and bottom's images at the near and far canopy faces.
/// </summary>
public sealed class FramePlanner
{
    private readonly FramePlanOptions _options;
    private readonly Dictionary<string, CameraPlan> _cameras;

    public FramePlanner(IReadOnlyList<CameraMounting> cameras, double? rowSpacingM, FramePlanOptions options)
    {
        _options = options;
        var spacing = rowSpacingM ?? options.DefaultRowSpacingM;
        _cameras = cameras.ToDictionary(
            c => c.CameraId,
            c => new CameraPlan(options.Decimate ? FrameSpacingM(c, spacing, options) : null, options.CanopyBand ? Band(c, spacing, options) : null),
            StringComparer.Ordinal);
    }

    public GroundSpeed Speed { get; } = new();

    /// <summary>Metres of travel between kept frames of <paramref name="cameraId"/>; null when it keeps every frame.</summary>
    public double? FrameSpacing(string cameraId) => _cameras.GetValueOrDefault(cameraId)?.SpacingM;

    /// <summary>The canopy band of <paramref name="cameraId"/>'s upright frames; null for the whole frame.</summary>
    public ImageRows? CanopyBand(string cameraId) => _cameras.GetValueOrDefault(cameraId)?.Band;

    /// <summary>Decides one frame, in capture order per camera: kept when the travel since the last kept frame reaches the spacing.</summary>
    public FrameDecision Decide(string cameraId, DateTimeOffset capturedAtUtc, long monotonicNs)
    {
        if (!_cameras.TryGetValue(cameraId, out var camera))
        {
            return new FrameDecision(false, null);
        }
        return new FrameDecision(camera.SpacingM is { } spacing && !camera.Keep(spacing, monotonicNs, Speed.At(capturedAtUtc, _options.MaxSpeedAge)), camera.Band);
    }

    /// <summary>Footprint along the row at the canopy's near face over the sightings wanted; null when the geometry gives none.</summary>
    public static double? FrameSpacingM(CameraMounting camera, double rowSpacingM, FramePlanOptions options) =>
        NearFaceM(camera, rowSpacingM, options) is { } near ? near * camera.ImageWidth / camera.Fx / options.SightingsPerCluster : null;

    /// <summary>
    /// The rows of the upright frame where clusters between <see cref="FramePlanOptions.CanopyBottomM"/> and
    /// <see cref="FramePlanOptions.CanopyTopM"/> can appear, at any depth of the canopy, widened by the margin; null
    /// when that is the whole frame or the camera does not look square onto the row (the band then is no straight strip).
    /// </summary>
    public static ImageRows? Band(CameraMounting camera, double rowSpacingM, FramePlanOptions options)
    {
        if (Math.Abs(Math.Abs(camera.YawDeg) - 90) > 15 || NearFaceM(camera, rowSpacingM, options) is not { } near)
        {
            return null;
        }
        var far = near + 2 * options.CanopyHalfDepthM;
        var height = camera.AntennaHeightM + camera.LeverArm.UpM;
        double Row(double z, double depth)
        {
            // Elevation below or above the optical axis, kept short of ±90° where the image row runs off to infinity.
            var angle = Math.Clamp(Math.Atan2(z - height, depth) - double.DegreesToRadians(camera.PitchDeg), -1.5, 1.5);
            return camera.Cy - camera.Fy * Math.Tan(angle);
        }
        var top = (int)Math.Floor(Math.Min(Row(options.CanopyTopM, near), Row(options.CanopyTopM, far))) - options.BandMarginPx;
        var bottom = (int)Math.Ceiling(Math.Max(Row(options.CanopyBottomM, near), Row(options.CanopyBottomM, far))) + options.BandMarginPx;
        top = Math.Clamp(top, 0, camera.ImageHeight);
        bottom = Math.Clamp(bottom, 0, camera.ImageHeight);
        return (top == 0 && bottom == camera.ImageHeight) || bottom - top < 1 ? null : new ImageRows(top, bottom);
    }

    /// <summary>Distance from the camera to the canopy's near face, the tractor in the middle of the alley; null when the camera would be in the canopy.</summary>
    private static double? NearFaceM(CameraMounting camera, double rowSpacingM, FramePlanOptions options)
    {
        var near = rowSpacingM / 2 - Math.Abs(camera.LeverArm.RightM) - options.CanopyHalfDepthM;
        return near > 0.1 ? near : null;
    }

    private sealed class CameraPlan(double? spacingM, ImageRows? band)
    {
        private long? _lastNs;
        private double _travel;

        public double? SpacingM => spacingM;

        public ImageRows? Band => band;

        /// <summary>
        /// The travel since the last kept frame carries over (a frame is kept on average every spacing metres, not every
        /// whole number of frames above it), at most one spacing of it: a frame after a stop or a GNSS gap is kept once.
        /// </summary>
        public bool Keep(double spacing, long monotonicNs, double? speedMps)
        {
            var first = _lastNs is null;
            var seconds = first ? 0 : Math.Max(0, (monotonicNs - _lastNs!.Value) / 1e9);
            _lastNs = monotonicNs;
            if (first || speedMps is not { } speed)
            {
                // The first frame, or no ground speed: keep it, and the next one is counted from here.
                _travel = 0;
                return true;
            }
            _travel = Math.Min(_travel + Math.Abs(speed) * seconds, 2 * spacing);
            if (_travel < spacing)
            {
                return false;
            }
            _travel -= spacing;
            return true;
        }
    }
}
