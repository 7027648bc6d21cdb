using System.Globalization;
using TreeScout.Contracts;

namespace TreeScout.Simulation;

/// <summary>Kind of GNSS solution the simulated receiver delivers most of the time (with occasional degradations).</summary>
public enum GnssFixType
{
    Rtk,
    Float,
    Dgps,
    Autonomous,
}

/// <summary>Which side-looking cameras the simulated tractor carries.</summary>
public enum CameraSetup
{
    Left,
    Right,
    Both,
}

/// <summary>
/// Which real blossom crops may be composited: the stage classifier holds out two cameras for evaluation, so runs
/// that evaluate the pipeline use only those (<see cref="HeldOut"/>) and detector training uses the rest.
/// </summary>
public enum CropCameras
{
    HeldOut,
    Train,
    All,
}

/// <summary>A GNSS outage forced by the caller: no solution from <see cref="StartS"/> for <see cref="DurationS"/> seconds after the run start.</summary>
public sealed record GnssOutage(double StartS, double DurationS);

/// <summary>A bad simulator setting; the message names the option and the accepted values.</summary>
public sealed class SimulationOptionsException : Exception
{
    public SimulationOptionsException(string message)
        : base(message)
    {
    }

    public SimulationOptionsException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public SimulationOptionsException()
    {
    }
}

/// <summary>Everything that defines a simulated scan run; the same options and seed give byte-identical output.</summary>
public sealed record SimulationOptions
{
    /// <summary>The stage classifier's evaluation cameras (models/bbch-stage.json: evaluation.heldOutCameras).</summary>
    public static readonly IReadOnlyList<string> HeldOutCropCameras = ["blink-04-00-02", "blink-04-01-08"];

    public int Seed { get; init; } = 1;

    public int Rows { get; init; } = 2;

    public int TreesPerRow { get; init; } = 40;

    public double RowSpacingM { get; init; } = 3.5;

    public double TreeSpacingM { get; init; } = 1.0;

    /// <summary>Direction of the rows from their first end, degrees clockwise from true north.</summary>
    public double RowBearingDeg { get; init; } = 4.0;

    /// <summary>First end of row 1 (a Dutch orchard in the Betuwe by default).</summary>
    public double OriginLatitude { get; init; } = 51.93;

    public double OriginLongitude { get; init; } = 5.70;

    public bool CurvedRows { get; init; }

    /// <summary>Share of planted positions where the tree is missing (dead, removed).</summary>
    public double MissingTreeFraction { get; init; } = 0.03;

    public int MinClustersPerTree { get; init; } = 25;

    public int MaxClustersPerTree { get; init; } = 60;

    /// <summary>Relative weights of the BBCH stages of the clusters; default: a full-bloom mix centred on 61–67 with tails.</summary>
    public IReadOnlyDictionary<BbchStage, double> StageMix { get; init; } = DefaultStageMix;

    public static readonly IReadOnlyDictionary<BbchStage, double> DefaultStageMix = new Dictionary<BbchStage, double>
    {
        [BbchStage.Bbch53] = 0.01,
        [BbchStage.Bbch54] = 0.01,
        [BbchStage.Bbch56] = 0.02,
        [BbchStage.Bbch57] = 0.05,
        [BbchStage.Bbch59] = 0.10,
        [BbchStage.Bbch61] = 0.20,
        [BbchStage.Bbch65] = 0.30,
        [BbchStage.Bbch67] = 0.17,
        [BbchStage.Bbch69] = 0.09,
        [BbchStage.Bbch71] = 0.05,
    };

    public double SpeedKmh { get; init; } = 6.0;

    public GnssFixType Gnss { get; init; } = GnssFixType.Rtk;

    public double GnssRateHz { get; init; } = 10;

    /// <summary>NMEA talker id: GN (multi-constellation) or GP.</summary>
    public string Talker { get; init; } = "GN";

    /// <summary>Emit HDT (dual-antenna true heading).</summary>
    public bool Heading { get; init; }

    /// <summary>Random fix-type changes and dropouts (off for clean statistics).</summary>
    public bool GnssEvents { get; init; } = true;

    public IReadOnlyList<GnssOutage> GnssOutages { get; init; } = [];

    public double Fps { get; init; } = 10;

    public CameraSetup Cameras { get; init; } = CameraSetup.Right;

    /// <summary>Scan every row from both its sides (both cameras: every alley; one camera: two passes per row), not from one.</summary>
    public bool BothSides { get; init; }

    public int ImageWidth { get; init; } = 1280;

    public int ImageHeight { get; init; } = 720;

    /// <summary>How the camera body is really rotated: the frames are rendered rotated by this (0 or 180).</summary>
    public int CameraRotationDeg { get; init; }

    /// <summary>What camera.json claims (mountRotationDeg); null = the truth (<see cref="CameraRotationDeg"/>).</summary>
    public int? MountRotationDeg { get; init; }

    public int JpegQuality { get; init; } = 85;

    public CropCameras CropCameras { get; init; } = CropCameras.HeldOut;

    /// <summary>Render no images (GNSS, plan and truth only): for GNSS and fusion tests that do not need pixels.</summary>
    public bool RenderFrames { get; init; } = true;

    /// <summary>GNSS time of the run start.</summary>
    public DateTimeOffset StartUtc { get; init; } = new(2026, 4, 21, 9, 30, 0, TimeSpan.Zero);

    public string BlockName { get; init; } = "Betuwe demo block";

    public string Variety { get; init; } = "Elstar";

    /// <summary>../shared/data/bbch: one folder per stage with the real crops.</summary>
    public string CropDirectory { get; init; } = "";

    /// <summary>Worker threads for rendering (0 = all cores).</summary>
    public int Parallelism { get; init; }

    /// <summary>Throws <see cref="SimulationOptionsException"/> naming the first bad setting.</summary>
    public void Validate()
    {
        Require(Rows is >= 1 and <= 200, $"--rows must be 1..200 (got {Rows})");
        Require(TreesPerRow is >= 2 and <= 2000, $"--trees-per-row must be 2..2000 (got {TreesPerRow})");
        Require(RowSpacingM is >= 2.0 and <= 8.0, $"--row-spacing must be 2..8 m (got {F(RowSpacingM)})");
        Require(TreeSpacingM is >= 0.4 and <= 6.0, $"--tree-spacing must be 0.4..6 m (got {F(TreeSpacingM)})");
        Require(SpeedKmh is >= 1 and <= 15, $"--speed-kmh must be 1..15 (got {F(SpeedKmh)})");
        Require(GnssRateHz is >= 1 and <= 20, $"--gnss-rate must be 1..20 Hz (got {F(GnssRateHz)})");
        Require(Fps is >= 1 and <= 60, $"--fps must be 1..60 (got {F(Fps)})");
        Require(ImageWidth is >= 320 and <= 4096 && ImageHeight is >= 240 and <= 4096, $"--resolution must be between 320x240 and 4096x4096 (got {ImageWidth}x{ImageHeight})");
        Require(CameraRotationDeg is 0 or 180, $"--camera-rotation must be 0 or 180 (got {CameraRotationDeg})");
        Require(MountRotationDeg is null or 0 or 90 or 180 or 270, $"--mount-rotation must be 0, 90, 180 or 270 (got {MountRotationDeg})");
        Require(JpegQuality is >= 30 and <= 100, $"--jpeg-quality must be 30..100 (got {JpegQuality})");
        Require(MissingTreeFraction is >= 0 and <= 0.5, $"--missing-trees must be 0..0.5 (got {F(MissingTreeFraction)})");
        Require(MinClustersPerTree >= 0 && MaxClustersPerTree >= MinClustersPerTree && MaxClustersPerTree <= 400,
            $"--clusters-per-tree must be MIN-MAX with 0 <= MIN <= MAX <= 400 (got {MinClustersPerTree}-{MaxClustersPerTree})");
        Require(OriginLatitude is > -80 and < 84 && OriginLongitude is >= -180 and <= 180, "--origin must be a WGS84 latitude,longitude inside the UTM range");
        Require(Talker is "GN" or "GP", $"--talker must be GN or GP (got {Talker})");
        Require(StageMix.Count > 0 && StageMix.Values.All(w => w >= 0) && StageMix.Values.Sum() > 0, "--stage-mix needs at least one stage with a positive weight");
        foreach (var outage in GnssOutages)
        {
            Require(outage.StartS >= 0 && outage.DurationS > 0, $"--gnss-outage START:DURATION needs START >= 0 and DURATION > 0 (got {F(outage.StartS)}:{F(outage.DurationS)})");
        }
        Require(Parallelism >= 0, "parallelism must be >= 0");
    }

    private static void Require(bool ok, string message)
    {
        if (!ok)
        {
            throw new SimulationOptionsException(message);
        }
    }

    private static string F(double v) => v.ToString(CultureInfo.InvariantCulture);

    public static GnssFixType ParseGnss(string text) => text.ToLowerInvariant() switch
    {
        "rtk" => GnssFixType.Rtk,
        "float" => GnssFixType.Float,
        "dgps" => GnssFixType.Dgps,
        "autonomous" => GnssFixType.Autonomous,
        _ => throw new SimulationOptionsException($"--gnss '{text}' is not a fix type; use rtk, float, dgps or autonomous"),
    };

    public static CameraSetup ParseCameras(string text) => text.ToLowerInvariant() switch
    {
        "left" => CameraSetup.Left,
        "right" => CameraSetup.Right,
        "both" => CameraSetup.Both,
        _ => throw new SimulationOptionsException($"--camera-side '{text}' is not a camera setup; use left, right or both"),
    };

    public static CropCameras ParseCropCameras(string text) => text.ToLowerInvariant() switch
    {
        "heldout" => CropCameras.HeldOut,
        "train" => CropCameras.Train,
        "all" => CropCameras.All,
        _ => throw new SimulationOptionsException($"--crop-cameras '{text}' is not a crop set; use heldout, train or all"),
    };

    /// <summary>"120:5" = no GNSS solution from 120 s after the start for 5 s.</summary>
    public static GnssOutage ParseOutage(string text)
    {
        var parts = text.Split(':');
        if (parts.Length == 2
            && double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var start)
            && double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var duration))
        {
            return new GnssOutage(start, duration);
        }
        throw new SimulationOptionsException($"--gnss-outage '{text}' must be START:DURATION in seconds, e.g. 20:5");
    }

    /// <summary>"61=0.3,65=0.5,67=0.2" (stage numbers or bbchNN labels).</summary>
    public static IReadOnlyDictionary<BbchStage, double> ParseStageMix(string text)
    {
        var mix = new Dictionary<BbchStage, double>();
        foreach (var item in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var kv = item.Split('=');
            if (kv.Length != 2 || !BbchStages.TryParse(kv[0], out var stage)
                || !double.TryParse(kv[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var weight) || weight < 0)
            {
                throw new SimulationOptionsException($"--stage-mix item '{item}' must be STAGE=WEIGHT with a BBCH stage ({string.Join(", ", BbchStages.Ordered.Select(s => (int)s))}) and a weight >= 0");
            }
            mix[stage] = weight;
        }
        return mix;
    }
}
