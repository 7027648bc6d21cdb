using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace TreeScout.Orchard;

/// <summary>One row of frames.csv: a frame and when the camera host captured it.</summary>
public sealed record RecordedFrame(long Sequence, string CameraId, string? File, DateTimeOffset HostTimeUtc, long MonotonicNs);

/// <summary>Host receive time of one line of gnss.nmea (1-based line number).</summary>
public sealed record NmeaLineTime(int Line, DateTimeOffset HostTimeUtc);

/// <summary>
/// A recorded scan run on disk (docs/recording-format.md). The simulator writes this layout; a tractor's
/// recorder writes the same minus the truth files; `treescout scan` and the capture worker's replay read it.
/// </summary>
public sealed class Recording
{
    public const string BlockFile = "block.geojson";
    public const string CameraFile = "camera.json";
    public const string FramesFile = "frames.csv";
    public const string FramesDirectory = "frames";
    public const string NmeaFile = "gnss.nmea";
    public const string NmeaTimesFile = "gnss-times.csv";
    public const string TruthJsonFile = "truth.json";
    public const string TruthCsvFile = "truth.csv";

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    public Recording(string directory)
    {
        Directory = Path.GetFullPath(directory);
    }

    public string Directory { get; }

    public string PathOf(string file) => Path.Combine(Directory, file);

    public bool HasTruth => File.Exists(PathOf(TruthJsonFile));

    /// <summary>Throws <see cref="InvalidDataException"/> naming the first missing piece.</summary>
    public void Validate()
    {
        if (!System.IO.Directory.Exists(Directory))
        {
            throw new InvalidDataException($"{Directory}: recording folder does not exist");
        }
        foreach (var required in new[] { FramesFile, NmeaFile, CameraFile })
        {
            if (!File.Exists(PathOf(required)))
            {
                throw new InvalidDataException($"{Directory}: recording has no {required} (expected: frames/ + frames.csv + gnss.nmea + camera.json [+ block.geojson]; see docs/recording-format.md)");
            }
        }
    }

    /// <summary>camera.json, every camera checked; throws <see cref="CameraRigException"/> naming the file, camera and field.</summary>
    public CameraRig ReadCameras() => CameraRig.Load(PathOf(CameraFile));

    public void WriteCameras(CameraRig rig) => File.WriteAllText(PathOf(CameraFile), JsonSerializer.Serialize(rig, Json));

    public BlockPlan? ReadBlockPlan() => File.Exists(PathOf(BlockFile)) ? BlockPlan.Load(PathOf(BlockFile)) : null;

    public const string FramesHeader = "sequence,camera_id,file,host_time_utc,monotonic_ns";

    public IEnumerable<RecordedFrame> ReadFrames()
    {
        var path = PathOf(FramesFile);
        var lineNo = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNo++;
            if (lineNo == 1)
            {
                if (line.Trim() != FramesHeader)
                {
                    throw new InvalidDataException($"{path}:1: header must be '{FramesHeader}'");
                }
                continue;
            }
            if (line.Length == 0)
            {
                continue;
            }
            var f = line.Split(',');
            if (f.Length != 5
                || !long.TryParse(f[0], NumberStyles.None, CultureInfo.InvariantCulture, out var seq)
                || !DateTimeOffset.TryParse(f[3], CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)
                || !long.TryParse(f[4], NumberStyles.None, CultureInfo.InvariantCulture, out var mono))
            {
                throw new InvalidDataException($"{path}:{lineNo}: expected '{FramesHeader}', got '{line}'");
            }
            yield return new RecordedFrame(seq, f[1], f[2].Length == 0 ? null : f[2], at, mono);
        }
    }

    public static string FramesLine(RecordedFrame f) => string.Create(CultureInfo.InvariantCulture,
        $"{f.Sequence},{f.CameraId},{f.File},{f.HostTimeUtc.UtcDateTime:yyyy-MM-ddTHH:mm:ss.ffffffZ},{f.MonotonicNs}");

    public IReadOnlyList<NmeaLineTime> ReadNmeaTimes()
    {
        var path = PathOf(NmeaTimesFile);
        if (!File.Exists(path))
        {
            return [];
        }
        var result = new List<NmeaLineTime>();
        var lineNo = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNo++;
            if (lineNo == 1 || line.Length == 0)
            {
                continue;
            }
            var f = line.Split(',');
            if (f.Length != 2
                || !int.TryParse(f[0], NumberStyles.None, CultureInfo.InvariantCulture, out var n)
                || !DateTimeOffset.TryParse(f[1], CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
            {
                throw new InvalidDataException($"{path}:{lineNo}: expected 'line,host_time_utc', got '{line}'");
            }
            result.Add(new NmeaLineTime(n, at));
        }
        return result;
    }

    public const string NmeaTimesHeader = "line,host_time_utc";

    public static string NmeaTimeLine(NmeaLineTime t) => string.Create(CultureInfo.InvariantCulture, $"{t.Line},{t.HostTimeUtc.UtcDateTime:yyyy-MM-ddTHH:mm:ss.ffffffZ}");
}
