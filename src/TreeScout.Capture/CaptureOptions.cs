using System.ComponentModel.DataAnnotations;

namespace TreeScout.Capture;

/// <summary>Capture worker settings (section "Capture", env TREESCOUT__Capture__Source etc.).</summary>
public sealed class CaptureOptions
{
    public const string Section = "Capture";

    /// <summary>V4L2 device index ("0"), stream URL (rtsp://, http://), video file, or recording folder (frames.csv + frames/).</summary>
    [Required(ErrorMessage = "Capture:Source (env TREESCOUT__Capture__Source) is required: a V4L2 device index, an rtsp:// or http:// URL, a video file or a recording folder")]
    public string Source { get; set; } = "";

    /// <summary>Camera id stamped on frames of a single-camera source (a recording names its own cameras).</summary>
    [RegularExpression(Orchard.CameraRig.CameraIdRule)]
    public string CameraId { get; set; } = "cam-right";

    /// <summary>Frame rate requested from a live camera.</summary>
    [Range(1, 60)]
    public double Fps { get; set; } = 10;

    [Range(50, 100)]
    public int JpegQuality { get; set; } = 90;

    /// <summary>Replay speed of a recorded source relative to its timing; 0 = as fast as the broker accepts.</summary>
    [Range(0, 1000)]
    public double Speedup { get; set; } = 1;

    /// <summary>
    /// How often capture appends its progress to the run ledger while filming: after a power cut the interruption is
    /// known to within this much.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")]
    public TimeSpan ProgressInterval { get; set; } = TimeSpan.FromSeconds(10);

    public ReplayPace Pace => Speedup == 0 ? ReplayPace.AsFastAsAccepted : ReplayPace.Faster(Speedup);

    /// <summary>A recording folder or video file: played from its start, so an interrupted run cannot continue from it.</summary>
    public bool IsRecordedSource => Directory.Exists(Source) || File.Exists(Source);

    /// <summary>Opens the configured source; throws <see cref="IOException"/> naming it when it cannot be opened.</summary>
    public IFrameSource OpenSource()
    {
        if (Directory.Exists(Source))
        {
            var recording = new Orchard.Recording(Source);
            try
            {
                recording.Validate();
            }
            catch (InvalidDataException ex)
            {
                throw new IOException(ex.Message, ex);
            }
            return new RecordingFrameSource(recording, JpegQuality);
        }
        return new OpenCvFrameSource(Source, CameraId, Fps, JpegQuality);
    }
}
