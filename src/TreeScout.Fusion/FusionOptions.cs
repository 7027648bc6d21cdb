using System.ComponentModel.DataAnnotations;
using TreeScout.Fusion.Geometry;
using TreeScout.Fusion.Runs;
using TreeScout.Fusion.Tracking;

namespace TreeScout.Fusion;

/// <summary>Fusion settings (section "Fusion"). Defaults suit a tractor at 0.5–3 m/s, 10–20 Hz GNSS, 5–30 fps cameras.</summary>
public sealed class FusionOptions : IValidatableObject
{
    public const string Section = "Fusion";

    /// <summary>Receiver's typical delay from epoch to sending its sentences; subtracted from host-receive offsets.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:02")]
    public TimeSpan NominalReceiverLatency { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Fixes in the sliding window of the camera-clock offset median.</summary>
    [Range(1, 100_000)]
    public int ClockOffsetWindow { get; set; } = 300;

    /// <summary>Frames inside a longer fix gap are fused with an interpolated pose but flagged.</summary>
    [Range(typeof(TimeSpan), "00:00:00.200", "00:10:00")]
    public TimeSpan MaxInterpolationGap { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Largest extrapolation past the first/last fix without flagging the frame.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:05")]
    public TimeSpan MaxExtrapolation { get; set; } = TimeSpan.FromMilliseconds(300);

    /// <summary>Beyond this distance from any fix a frame has no pose at all (counted, its clusters cannot be placed).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan DeadReckonLimit { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Frames held unacknowledged per run (waiting for order, fixes, or their clusters to be reported). Must stay below the
    /// detections queue's prefetch; beyond it the oldest frames are resolved (flagged or their tracks ended) and released.
    /// </summary>
    [Range(10, 60_000)]
    public int MaxHeldFrames { get; set; } = 1500;

    /// <summary>Frames buffered per camera behind a missing sequence number before it is given up as missing.</summary>
    [Range(1, 10_000)]
    public int ReorderWindow { get; set; } = 64;

    /// <summary>After RunStopped, how long without new frames before the run is closed with the missing ones reported.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00")]
    public TimeSpan QuietTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A started run that receives no frame for this long is finished as if stopped (its capture is gone: a replay cut by
    /// a power cut, a camera host that never came back), and its map made from every frame received before.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "7.00:00:00")]
    public TimeSpan RunIdleTimeout { get; set; } = TimeSpan.FromMinutes(20);

    /// <summary>
    /// How often fusion appends a run's account (frames and fixes counted) to the run ledger; frames and fixes are
    /// acknowledged only after the checkpoint that counts them, so this is also how long acknowledgements wait.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:01:00")]
    public TimeSpan ProgressInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Fixes kept (unacknowledged) before the oldest unacknowledged frame, for heading windows and stops.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:30:00")]
    public TimeSpan FixRetention { get; set; } = TimeSpan.FromSeconds(40);

    /// <summary>Fixes held for a run fusion has not seen start (bounded; beyond it the oldest are released and counted).</summary>
    [Range(10, 60_000)]
    public int MaxOrphanFixes { get; set; } = 1500;

    /// <summary>
    /// Least prefetch of fusion's two queues: everything fusion holds unacknowledged must fit in flight, or the broker stops
    /// delivering and the run stalls (frames wait for tracks that wait for frames). Held frames or orphan fixes plus margin.
    /// </summary>
    public int RequiredPrefetch => Math.Max(MaxHeldFrames, MaxOrphanFixes) + 500;

    /// <summary>Observations per TreeObservations message.</summary>
    [Range(1, 10_000)]
    public int MaxBatch { get; set; } = 500;

    /// <summary>Tree spacing when neither the plan nor RunStarted gives one (rows inferred from passes).</summary>
    [Range(0.2, 20)]
    public double DefaultTreeSpacingM { get; set; } = 1.0;

    [Range(1, 20)]
    public double DefaultRowSpacingM { get; set; } = 3.5;

    /// <summary>
    /// Canopy in view this far from every row of the block plan means the plan does not fit the block being scanned
    /// (another block's plan, latitude and longitude swapped): after <see cref="PlanMismatchFrames"/> such frames the worker warns.
    /// </summary>
    [Range(5, 100_000)]
    public double PlanMismatchDistanceM { get; set; } = 50;

    [Range(1, 100_000)]
    public int PlanMismatchFrames { get; set; } = 20;

    /// <summary>Uncertainty of the lever arm and camera calibration, metres (added to every observation).</summary>
    [Range(0, 1)]
    public double CalibrationSigmaM { get; set; } = 0.02;

    public TrackerOptions Tracker { get; set; } = new();

    /// <summary>Along-row registration of each pass against the plan's row ends (docs/fusion.md).</summary>
    public RegistrationOptions Registration { get; set; } = new();

    public TrajectoryLimits Trajectory() => new()
    {
        MaxInterpolationGap = MaxInterpolationGap,
        MaxExtrapolation = MaxExtrapolation,
        DeadReckonLimit = DeadReckonLimit,
    };

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Tracker.MinSightings < 1 || Tracker.MaxMisses < 0 || Tracker.GatePx <= 0 || Tracker.PixelSigma <= 0 || Tracker.CanopyHalfDepthM <= 0 || Tracker.MaxTrackFrames < 2 || Tracker.AfterMissGate is <= 0 or > TrackerOptions.MatchGate || Tracker.MatchFrameAnchoring is < 0 or > 1)
        {
            yield return new ValidationResult($"Fusion:Tracker: MinSightings ≥ 1, MaxMisses ≥ 0, GatePx > 0, PixelSigma > 0, CanopyHalfDepthM > 0, MaxTrackFrames ≥ 2, 0 < AfterMissGate ≤ {TrackerOptions.MatchGate}, 0 ≤ MatchFrameAnchoring ≤ 1", [nameof(Tracker)]);
        }
        if (Registration.SigmaM <= 0 || Registration.MinGnssSigmaM > Registration.MaxGnssSigmaM || Registration.EndOutliers is < 0 or > 8
            || Registration.MaxPassFrames < 1 || Registration.MaxPassFrames >= MaxHeldFrames)
        {
            yield return new ValidationResult($"Fusion:Registration: SigmaM > 0, MinGnssSigmaM ≤ MaxGnssSigmaM, EndOutliers between 0 and 8, MaxPassFrames between 1 and Fusion:MaxHeldFrames ({MaxHeldFrames})", [nameof(Registration)]);
        }
        if (Tracker.MaxTrackFrames >= MaxHeldFrames)
        {
            yield return new ValidationResult($"Fusion:Tracker:MaxTrackFrames ({Tracker.MaxTrackFrames}) must be below Fusion:MaxHeldFrames ({MaxHeldFrames})", [nameof(Tracker)]);
        }
    }
}
