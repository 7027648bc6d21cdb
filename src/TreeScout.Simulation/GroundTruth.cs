using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using TreeScout.Contracts;

namespace TreeScout.Simulation;

/// <summary>
/// Ground truth of a simulated run (truth.json): the orchard as it is, what the cameras could see, the true poses
/// and clocks and the GNSS error per fix. Format and definitions: docs/simulator.md.
/// </summary>
public sealed record GroundTruth
{
    public const int CurrentSchemaVersion = 1;

    public int SchemaVersion { get; init; } = CurrentSchemaVersion;

    public required string Tool { get; init; }

    public required int Seed { get; init; }

    public required string Block { get; init; }

    public required double TreeSpacingM { get; init; }

    public required double RowSpacingM { get; init; }

    public required TruthClock Clock { get; init; }

    public required TruthVisibilityRule Visibility { get; init; }

    public required IReadOnlyList<TruthPass> Passes { get; init; }

    public required IReadOnlyList<TruthTree> Trees { get; init; }

    public required IReadOnlyList<TruthCluster> Clusters { get; init; }

    public required IReadOnlyList<TruthFrame> Frames { get; init; }

    public required IReadOnlyList<TruthFix> Gnss { get; init; }

    /// <summary>The sides of the rows the passes scanned a row from, when some row was scanned from both (else empty): a both-sides run.</summary>
    [JsonIgnore]
    public IReadOnlyList<string> BothSides => Passes.SelectMany(p => p.Faces).Where(f => f.Side is not null).GroupBy(f => f.Row)
        .Any(row => row.Select(f => f.Side).Distinct().Count() > 1) ? [RowSides.Left, RowSides.Right] : [];

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static GroundTruth Load(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            var truth = JsonSerializer.Deserialize<GroundTruth>(stream, Json) ?? throw new InvalidDataException($"{path}: empty truth file");
            if (truth.SchemaVersion != CurrentSchemaVersion)
            {
                throw new InvalidDataException($"{path}: truth schema version {truth.SchemaVersion}, this build reads {CurrentSchemaVersion}");
            }
            return truth;
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{path}: not a simulator truth file: {ex.Message}", ex);
        }
    }

    public void Save(string path)
    {
        using var stream = File.Create(path);
        JsonSerializer.Serialize(stream, this, Json);
    }

    /// <summary>truth.csv: one row per planted position with true position and per-stage counts (total and visible).</summary>
    public string ToCsv()
    {
        var labels = BbchStages.Ordered.Select(BbchStages.Label).ToList();
        var sb = new StringBuilder();
        sb.Append("tree_id,row_id,tree_index,present,latitude,longitude,plan_latitude,plan_longitude,clusters_total,visible_total,")
            .Append(string.Join(',', labels.Select(l => "visible_" + l))).Append(',')
            .Append(string.Join(',', labels.Select(l => "total_" + l))).Append('\n');
        foreach (var t in Trees)
        {
            sb.Append(CultureInfo.InvariantCulture,
                $"{t.TreeId},{t.RowId},{t.Index},{(t.Present ? 1 : 0)},{t.Latitude:F9},{t.Longitude:F9},{t.PlanLatitude:F9},{t.PlanLongitude:F9},{t.ClustersTotal},{t.VisibleTotal},");
            sb.Append(string.Join(',', labels.Select(l => t.VisibleByStage.GetValueOrDefault(l).ToString(CultureInfo.InvariantCulture)))).Append(',');
            sb.Append(string.Join(',', labels.Select(l => t.ClustersByStage.GetValueOrDefault(l).ToString(CultureInfo.InvariantCulture)))).Append('\n');
        }
        return sb.ToString();
    }
}

/// <summary>
/// Clocks: host clock = GNSS time + <see cref="HostOffsetMs"/> (+ drift); frame stamps add jitter; each NMEA line is
/// read <see cref="ReceiverLatencyMs"/> after its epoch (+ transmission time of the lines before it).
/// </summary>
public sealed record TruthClock(double HostOffsetMs, double HostDriftPpm, double ReceiverLatencyMs, double FrameJitterSigmaMs, long MonotonicBaseNs);

/// <summary>A cluster counts as visible when at least <see cref="MinVisibleFraction"/> of it is unoccluded in at least <see cref="MinFrames"/> frames of a pass that scans its row.</summary>
public sealed record TruthVisibilityRule(double MinVisibleFraction, int MinFrames);

public sealed record TruthPass(int Index, int Alley, string Direction, DateTimeOffset StartUtc, DateTimeOffset EndUtc, IReadOnlyList<ScannedFace> Faces);

public sealed record TruthTree
{
    public required string TreeId { get; init; }

    public required string RowId { get; init; }

    public required int Index { get; init; }

    /// <summary>False for a gap: the plan lists the position, no tree stands there.</summary>
    public required bool Present { get; init; }

    /// <summary>True trunk position (the plan's position plus planting error).</summary>
    public required double Latitude { get; init; }

    public required double Longitude { get; init; }

    public required double PlanLatitude { get; init; }

    public required double PlanLongitude { get; init; }

    public required double AlongRowM { get; init; }

    public required int ClustersTotal { get; init; }

    public required IReadOnlyDictionary<string, int> ClustersByStage { get; init; }

    /// <summary>Clusters visible from the scanned faces (see <see cref="TruthVisibilityRule"/>); what the scorer compares with.</summary>
    public required int VisibleTotal { get; init; }

    public required IReadOnlyDictionary<string, int> VisibleByStage { get; init; }

    /// <summary>
    /// Clusters visible from each scanned side of the row ("left", "right": <see cref="TreeScout.Contracts.RowSides"/>),
    /// by the same rule applied to that side's passes alone; a cluster seen from both sides is in both.
    /// </summary>
    public IReadOnlyDictionary<string, int> VisibleBySide { get; init; } = new Dictionary<string, int>();

    /// <summary>Clusters visible from both sides of the row (in both of <see cref="VisibleBySide"/>, once in <see cref="VisibleTotal"/>).</summary>
    public int VisibleFromBothSides { get; init; }
}

public sealed record TruthCluster
{
    public required string ClusterId { get; init; }

    public required string TreeId { get; init; }

    public required double Latitude { get; init; }

    public required double Longitude { get; init; }

    /// <summary>Height above ground, metres.</summary>
    public required double HeightM { get; init; }

    public required double AlongRowM { get; init; }

    /// <summary>Offset from the row line, metres, positive to the row's right (seen from its first end).</summary>
    public required double AcrossRowM { get; init; }

    public required BbchStage Stage { get; init; }

    /// <summary>Compass face of the row the cluster hangs on (E, W, ...).</summary>
    public required string Face { get; init; }

    public required double DiameterM { get; init; }

    /// <summary>The real crop composited for it, relative to the crop folder.</summary>
    public required string Crop { get; init; }

    public required bool Visible { get; init; }

    public required int FramesVisible { get; init; }

    public required double MaxVisibleFraction { get; init; }
}

public sealed record TruthFrame
{
    public required string CameraId { get; init; }

    public required long Sequence { get; init; }

    public required string File { get; init; }

    public required DateTimeOffset GnssTimeUtc { get; init; }

    public required DateTimeOffset HostTimeUtc { get; init; }

    /// <summary>Pass index, or −1 in a headland turn.</summary>
    public required int Pass { get; init; }

    public required TruthCameraPose Camera { get; init; }

    /// <summary>Clusters at least 10 % visible, boxes in the upright frame.</summary>
    public required IReadOnlyList<TruthBox> Boxes { get; init; }
}

public sealed record TruthCameraPose(
    double Latitude,
    double Longitude,
    double HeightM,
    double AzimuthDeg,
    double PitchDeg,
    double VehicleHeadingDeg,
    double SpeedMps,
    double AntennaLatitude,
    double AntennaLongitude);

public sealed record TruthBox(string ClusterId, BbchStage Stage, int X, int Y, int W, int H, double VisibleFraction);

/// <summary>One receiver epoch: its first line in gnss.nmea, the true antenna position and the error the receiver made.</summary>
public sealed record TruthFix(
    DateTimeOffset TimeUtc,
    int Line,
    GnssQuality Quality,
    double TrueLatitude,
    double TrueLongitude,
    double TrueHeightM,
    double ErrorEastM,
    double ErrorNorthM,
    double ErrorUpM,
    double SigmaM);
