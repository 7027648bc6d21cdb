using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using TreeScout.Hosting;
using TreeScout.Tests;
using Xunit.Abstractions;

namespace TreeScout.Capture.Tests;

/// <summary>Broken frames and camera files of a recording are named for what they are, counted, and never a crash (issue 19).</summary>
[Trait("Category", "Unit")]
public sealed class RecordingInputTests(ITestOutputHelper output)
{
    [Fact]
    public void A_whole_jpeg_has_no_problem_and_its_size_is_read_from_the_header()
    {
        using var recording = new TestRecording(1, TimeSpan.FromMilliseconds(100));

        Assert.Null(JpegHeader.Problem(File.ReadAllBytes(recording.FramePath(0)), out var width, out var height));
        Assert.Equal((320, 240), (width, height));
    }

    [Fact]
    public void A_cut_jpeg_is_named_truncated_and_garbage_is_not_a_jpeg()
    {
        using var recording = new TestRecording(1, TimeSpan.FromMilliseconds(100));
        var jpeg = File.ReadAllBytes(recording.FramePath(0));

        // Cut in the compressed image (a power cut while the recorder wrote the file), and cut inside the header.
        Assert.Equal("truncated JPEG image (no end-of-image marker)", JpegHeader.Problem(jpeg.AsSpan(0, jpeg.Length / 2), out _, out _));
        Assert.Equal("truncated JPEG image (no end-of-image marker)", JpegHeader.Problem(jpeg.AsSpan(..^1), out _, out _));
        Assert.Equal("truncated JPEG image (the file ends inside its header)", JpegHeader.Problem(jpeg.AsSpan(0, 40), out _, out _));
        Assert.Equal("truncated JPEG image (the file ends inside its header)", JpegHeader.Problem(jpeg.AsSpan(0, 2), out _, out _));
        Assert.Equal("empty file, not a JPEG image", JpegHeader.Problem([], out _, out _));
        Assert.Equal("not a JPEG image (no start-of-image marker)", JpegHeader.Problem("frame 42 was here"u8, out _, out _));
        var png = new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13 };
        Assert.Equal("not a JPEG image (no start-of-image marker)", JpegHeader.Problem(png, out _, out _));
        // A start-of-image marker followed by noise.
        var noise = new byte[600];
        new Random(19).NextBytes(noise);
        noise[0] = 0xFF;
        noise[1] = 0xD8;
        noise[2] = 0x12;
        Assert.Equal("not a JPEG image (damaged header)", JpegHeader.Problem(noise, out _, out _));
    }

    [Fact]
    public void A_recording_reports_each_broken_frame_by_file_and_problem_and_goes_on()
    {
        using var recording = new TestRecording(4, TimeSpan.FromMilliseconds(100));
        var jpeg = File.ReadAllBytes(recording.FramePath(1));
        File.WriteAllBytes(recording.FramePath(1), jpeg[..(jpeg.Length / 2)]);
        File.WriteAllText(recording.FramePath(2), "not an image");
        using var source = new RecordingFrameSource(recording.Recording);

        var frames = source.Frames(CancellationToken.None).ToList();

        Assert.Equal([true, false, false, true], frames.Select(f => f.IsReadable));
        Assert.Equal($"{recording.FramePath(1)}: truncated JPEG image (no end-of-image marker) ({jpeg.Length / 2} bytes)", frames[1].Problem);
        Assert.Equal($"{recording.FramePath(2)}: not a JPEG image (no start-of-image marker) (12 bytes)", frames[2].Problem);
    }

    private static void BreakCameraFile(TestRecording recording) =>
        File.WriteAllText(recording.Recording.PathOf("camera.json"), File.ReadAllText(recording.Recording.PathOf("camera.json")).Replace("\"fx\": 125", "\"fx\": 0", StringComparison.Ordinal));

    [Fact]
    public async Task The_worker_refuses_a_recording_source_whose_camera_file_is_bad_at_start()
    {
        using var recording = new TestRecording(2, TimeSpan.FromMilliseconds(100));
        BreakCameraFile(recording);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Capture:Source"] = recording.Directory }).Build();

        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() =>
            EmbeddedWorkers.StartAsync([new CaptureWorkerModule()], configuration, NullLoggerFactory.Instance, CancellationToken.None));

        Assert.Equal($"{recording.Recording.PathOf("camera.json")}: camera \"cam-right\": fx must be > 0 (got 0)", Assert.Single(ex.Failures));
    }

    [Fact]
    public async Task The_worker_process_exits_2_with_the_camera_files_problem_as_its_one_line()
    {
        using var recording = new TestRecording(2, TimeSpan.FromMilliseconds(100));
        BreakCameraFile(recording);

        await using var worker = WorkerProcess.Start(WorkerProcess.ProjectDll("src", "TreeScout.Capture"), new Dictionary<string, string>
        {
            ["TREESCOUT__Broker__Uri"] = "amqp://guest:guest@127.0.0.1:5672/",
            ["TREESCOUT__Health__BindAddress"] = "127.0.0.1",
            ["TREESCOUT__Health__Port"] = WorkerProcess.FreePort().ToString(CultureInfo.InvariantCulture),
            ["TREESCOUT__Capture__Source"] = recording.Directory,
        }, echo: l => output.WriteLine("[capture] " + l));

        Assert.Equal(2, await worker.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        await Task.Delay(200); // the last lines
        Assert.Equal($"capture: invalid configuration: {recording.Recording.PathOf("camera.json")}: camera \"cam-right\": fx must be > 0 (got 0)", Assert.Single(worker.Lines, l => l.Trim().Length > 0));
    }
}
