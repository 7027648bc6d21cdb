using System.Diagnostics;
using OpenCvSharp;
using TreeScout.Contracts;
using TreeScout.Orchard;

namespace TreeScout.Capture;

/// <summary>
/// One frame as a source delivered it: JPEG bytes and the capture stamps, or — when it could not be read — the
/// reason (<see cref="Problem"/>), so the frame is counted and reported instead of crashing the capture.
/// </summary>
public sealed record SourceFrame(long Sequence, string CameraId, DateTimeOffset CapturedAtUtc, long MonotonicNs, byte[]? Jpeg, int Width, int Height, string? Problem = null)
{
    public bool IsReadable => Problem is null && Jpeg is not null;
}

/// <summary>Where frames come from: a recording, a video file, a V4L2 device or a network stream.</summary>
public interface IFrameSource : IDisposable
{
    /// <summary>Human-readable description for logs ("recording /data/run7", "rtsp://cam1/stream").</summary>
    string Description { get; }

    /// <summary>Frames carry recorded stamps (replay them at their timing) rather than being stamped as they arrive (live).</summary>
    bool IsRecorded { get; }

    /// <summary>Frames in capture order; ends when the source ends (files) or is cancelled (live).</summary>
    IEnumerable<SourceFrame> Frames(CancellationToken cancellationToken);
}

/// <summary>
/// A recorded run (docs/recording-format.md): frames.csv rows in order; JPEG files are passed through as they are
/// (no decode, no re-encode), frames of a camera stored as a video file are decoded and JPEG-encoded.
/// </summary>
public sealed class RecordingFrameSource(Recording recording, int jpegQuality = 90) : IFrameSource
{
    private static readonly string[] VideoExtensions = [".mp4", ".avi", ".mkv"];
    private readonly Dictionary<string, VideoCapture> _videos = new(StringComparer.Ordinal);

    public string Description => $"recording {recording.Directory}";

    public bool IsRecorded => true;

    public IEnumerable<SourceFrame> Frames(CancellationToken cancellationToken)
    {
        foreach (var row in recording.ReadFrames())
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return row.File is null ? FromVideo(row) : FromJpegFile(row);
        }
    }

    private SourceFrame FromJpegFile(RecordedFrame row)
    {
        var path = recording.PathOf(row.File!);
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return Unreadable(row, $"{path}: cannot read: {ex.Message}");
        }
        return JpegHeader.Problem(bytes, out var width, out var height) is { } problem
            ? Unreadable(row, $"{path}: {problem} ({bytes.Length} bytes)")
            : new SourceFrame(row.Sequence, row.CameraId, row.HostTimeUtc, row.MonotonicNs, bytes, width, height);
    }

    private SourceFrame FromVideo(RecordedFrame row)
    {
        if (!_videos.TryGetValue(row.CameraId, out var video))
        {
            var path = VideoExtensions.Select(e => recording.PathOf(row.CameraId + e)).FirstOrDefault(File.Exists);
            if (path is null)
            {
                return Unreadable(row, $"{recording.Directory}: frames.csv row {row.Sequence} of {row.CameraId} names no file and there is no {row.CameraId}.mp4/.avi/.mkv");
            }
            video = new VideoCapture(path);
            _videos[row.CameraId] = video;
        }
        using var image = new Mat();
        if (!video.Read(image) || image.Empty())
        {
            return Unreadable(row, $"{row.CameraId} video: frame {row.Sequence} cannot be decoded (file shorter than frames.csv?)");
        }
        return new SourceFrame(row.Sequence, row.CameraId, row.HostTimeUtc, row.MonotonicNs, JpegHeader.Encode(image, jpegQuality), image.Width, image.Height);
    }

    private static SourceFrame Unreadable(RecordedFrame row, string problem) =>
        new(row.Sequence, row.CameraId, row.HostTimeUtc, row.MonotonicNs, null, 0, 0, problem);

    public void Dispose()
    {
        foreach (var video in _videos.Values)
        {
            video.Dispose();
        }
        _videos.Clear();
    }
}

/// <summary>
/// Any source OpenCV's VideoCapture opens — a video file, a V4L2 device index, an RTSP/HTTP stream — through one
/// code path. Live sources are stamped with the host clock when the frame arrives; video files with the start time
/// plus the frame's position in the file.
/// </summary>
public sealed class OpenCvFrameSource : IFrameSource
{
    /// <summary>Consecutive failed reads after which a live source counts as lost.</summary>
    public const int MaxConsecutiveFailures = 50;

    private readonly VideoCapture _capture;
    private readonly string _cameraId;
    private readonly int _jpegQuality;
    private readonly bool _isFile;

    public OpenCvFrameSource(string source, string cameraId, double fps, int jpegQuality)
    {
        _cameraId = cameraId;
        _jpegQuality = jpegQuality;
        _isFile = File.Exists(source);
        Description = source;
        _capture = int.TryParse(source, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var index)
            ? new VideoCapture(index, VideoCaptureAPIs.V4L2)
            : new VideoCapture(source);
        if (!_capture.IsOpened())
        {
            _capture.Dispose();
            throw new IOException($"cannot open camera source '{source}' (not a readable video file, V4L2 device index or reachable stream URL)");
        }
        if (!_isFile && fps > 0)
        {
            _capture.Set(VideoCaptureProperties.Fps, fps);
        }
    }

    public string Description { get; }

    public bool IsRecorded => false;

    /// <summary>Frames that failed to read before the source ended or recovered (reported as unreadable).</summary>
    public IEnumerable<SourceFrame> Frames(CancellationToken cancellationToken)
    {
        var start = DateTimeOffset.UtcNow;
        var startTicks = Stopwatch.GetTimestamp();
        var failures = 0;
        long sequence = 0;
        using var image = new Mat();
        while (!cancellationToken.IsCancellationRequested)
        {
            var ok = _capture.Read(image) && !image.Empty();
            var now = Stopwatch.GetTimestamp();
            var monotonic = (long)(now * (1e9 / Stopwatch.Frequency));
            var stamp = _isFile
                ? start.AddMilliseconds(_capture.Get(VideoCaptureProperties.PosMsec))
                : start + Stopwatch.GetElapsedTime(startTicks, now);
            if (!ok)
            {
                if (_isFile)
                {
                    yield break;
                }
                if (++failures >= MaxConsecutiveFailures)
                {
                    throw new IOException($"camera source '{Description}' delivered no frame {failures} times in a row (source lost)");
                }
                yield return new SourceFrame(sequence++, _cameraId, stamp, monotonic, null, 0, 0, $"{Description}: frame could not be read");
                continue;
            }
            failures = 0;
            yield return new SourceFrame(sequence++, _cameraId, stamp, monotonic, JpegHeader.Encode(image, _jpegQuality), image.Width, image.Height);
        }
    }

    public void Dispose() => _capture.Dispose();
}

/// <summary>JPEG helpers: check a recorded file and read its size from the SOF header without decoding, encode a frame.</summary>
public static class JpegHeader
{
    public static byte[] Encode(Mat image, int quality)
    {
        Cv2.ImEncode(".jpg", image, out var jpeg, new ImageEncodingParam(ImwriteFlags.JpegQuality, quality));
        return jpeg;
    }

    /// <summary>
    /// Null when the bytes are a whole JPEG image (its header declares a size and it ends with its EOI marker); otherwise
    /// what is wrong with them, for the frame's report (<see cref="JpegSize.HeaderProblem"/>, or truncated after the header).
    /// </summary>
    public static string? Problem(ReadOnlySpan<byte> jpeg, out int width, out int height) =>
        JpegSize.HeaderProblem(jpeg, out width, out height)
        ?? (jpeg[^2] == 0xFF && jpeg[^1] == 0xD9 ? null : "truncated JPEG image (no end-of-image marker)");
}
