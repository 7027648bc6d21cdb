using OpenCvSharp;
using TreeScout.Contracts;
using TreeScout.Orchard;

namespace TreeScout.Capture.Tests;

/// <summary>A small recording folder written for a test: JPEG frames (or a video), frames.csv, camera.json, an empty gnss.nmea.</summary>
public sealed class TestRecording : IDisposable
{
    public const string CameraId = "cam-right";

    public TestRecording(int frames, TimeSpan interval, bool asVideo = false)
    {
        Directory = Path.Combine(Path.GetTempPath(), "treescout-capture-tests", Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Path.Combine(Directory, Recording.FramesDirectory, CameraId));
        Recording = new Recording(Directory);
        Start = new DateTimeOffset(2026, 4, 21, 9, 30, 0, TimeSpan.Zero);
        var rows = new List<string> { Recording.FramesHeader };
        VideoWriter? video = asVideo ? new VideoWriter(Recording.PathOf(CameraId + ".avi"), FourCC.MJPG, 10, new Size(320, 240)) : null;
        for (var i = 0; i < frames; i++)
        {
            // Each frame's brightness encodes its sequence number, so order can be checked from the pixels.
            using var image = new Mat(240, 320, MatType.CV_8UC3, Scalar.All(Brightness(i)));
            string? file = null;
            if (video is not null)
            {
                video.Write(image);
            }
            else
            {
                file = $"{Recording.FramesDirectory}/{CameraId}/{i:000000}.jpg";
                Cv2.ImWrite(Recording.PathOf(file), image);
            }
            rows.Add(Recording.FramesLine(new RecordedFrame(i, CameraId, file, Start + i * interval, 1_000_000_000L + i * interval.Ticks * 100)));
        }
        video?.Dispose();
        File.WriteAllLines(Recording.PathOf(Recording.FramesFile), rows);
        File.WriteAllText(Recording.PathOf(Recording.NmeaFile), "");
        Recording.WriteCameras(new CameraRig([new CameraMounting
        {
            CameraId = CameraId, Side = CameraSide.Right, LeverArm = new LeverArm(0, 0.25, -1.1), AntennaHeightM = 2.7, YawDeg = 90,
            MountRotationDeg = MountRotationDeg,
            ImageWidth = 320, ImageHeight = 240, Fx = 125, Fy = 125, Cx = 160, Cy = 120,
        }]));
    }

    /// <summary>The camera is mounted upside down in these tests, so frames must carry the rotation for detection.</summary>
    public const int MountRotationDeg = 180;

    public string Directory { get; }

    public Recording Recording { get; }

    public DateTimeOffset Start { get; }

    public static int Brightness(long sequence) => (int)(20 + sequence * 10 % 220);

    public string FramePath(int sequence) => Recording.PathOf($"{Recording.FramesDirectory}/{CameraId}/{sequence:000000}.jpg");

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}
