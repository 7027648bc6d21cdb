using System.Globalization;
using TreeScout.Contracts;
using TreeScout.Detection;
using TreeScout.Labelling;
using TreeScout.MapWriter;
using TreeScout.Tests;

namespace TreeScout.WebConsole.Tests;

/// <summary>
/// A run folder with frames kept for review, as the pipeline keeps them: the scanned sample run of
/// <see cref="SampleRuns"/> (its store and summary, copied) and, in its review/samples, frames of the sample's recording (the simulator's
/// 1280×720 frames of the Betuwe demo block) with the real detector's and stage classifier's proposals on them
/// (BlossomPipeline with the repository's models). Frames with the most proposals scoring 0.3–0.6 are kept as uncertain,
/// the others as every-nth. Each test gets its own copy (<see cref="NewRunsFolder"/>), so saves never meet. Made once per
/// <see cref="SampleRuns"/> (whose temporary folder holds it) and shared by the tests of its collection.
/// </summary>
public sealed class ReviewRuns
{
    /// <summary>Recording frames kept: every 20th of the first pass, where the camera sees row 1's trees.</summary>
    public static readonly IReadOnlyList<long> Sequences = [20, 40, 60, 80, 100, 120];

    private static readonly Lock Gate = new();
    private static (SampleRuns Runs, ReviewRuns Review)? _made;

    private readonly string _root;
    private readonly string _template;

    private ReviewRuns(SampleRuns sample)
    {
        RunId = sample.SampleRunId;
        _root = Path.Combine(sample.Root, "review-copies");
        _template = Path.Combine(_root, "template", RunId);
        Directory.CreateDirectory(_template);
        foreach (var file in Directory.EnumerateFiles(sample.SampleFolder.Path))
        {
            File.Copy(file, Path.Combine(_template, Path.GetFileName(file)));
        }
        var recording = Path.Combine(RepoPaths.Samples, "betuwe-rtk-2x12");
        using var pipeline = BlossomPipeline.Open(new DetectionOptions
        {
            DetectorCard = Path.Combine(RepoPaths.Models, "blossom-detector.json"),
            StageCard = Path.Combine(RepoPaths.Models, "bbch-stage.json"),
            IntraOpThreads = 1,
        });
        var analysed = Sequences.Select(sequence =>
        {
            var jpeg = File.ReadAllBytes(Path.Combine(recording, "frames", Camera, sequence.ToString("D6", CultureInfo.InvariantCulture) + ".jpg"));
            using var image = FrameImage.Decode(jpeg) ?? throw new InvalidOperationException($"frame {sequence} of the sample does not decode");
            var detections = pipeline.Analyze(image).Detections;
            var proposals = detections.Select(d => new ProposedBox(d.X, d.Y, d.W, d.H, d.Score, d.Stage)).ToList();
            var unsure = proposals.Count == 0 ? 0 : proposals.Count(p => p.Score is >= 0.3f and < 0.6f) / (double)proposals.Count;
            return (Sequence: sequence, Jpeg: jpeg, Width: image.Cols, Height: image.Rows, Proposals: proposals, Unsure: unsure);
        }).ToList();
        var uncertain = analysed.OrderByDescending(a => a.Unsure).Take(2).Select(a => a.Sequence).ToHashSet();
        var folder = new ReviewFolder(_template);
        foreach (var a in analysed)
        {
            folder.AddSample(new ReviewSample
            {
                RunId = RunId,
                CameraId = Camera,
                Sequence = a.Sequence,
                CapturedAtUtc = DateTimeOffset.Parse("2026-04-21T09:30:00Z", CultureInfo.InvariantCulture).AddSeconds(a.Sequence / 4.0),
                Width = a.Width,
                Height = a.Height,
                Detector = pipeline.Detector,
                StageClassifier = pipeline.StageClassifier,
                Reason = uncertain.Contains(a.Sequence) ? SampleReason.Uncertain : SampleReason.EveryNth,
                Uncertainty = a.Unsure,
                Proposals = a.Proposals,
                BlockId = SampleRuns.Block,
            }, a.Jpeg);
        }
        Samples = [.. folder.SampleIds().Select(id => folder.Sample(id)!)];
    }

    public const string Camera = "cam-right";

    public static ReviewRuns Of(SampleRuns runs)
    {
        lock (Gate)
        {
            if (_made is not { } made || made.Runs != runs)
            {
                made = (runs, new ReviewRuns(runs));
                _made = made;
            }
            return made.Review;
        }
    }

    public string RunId { get; }

    /// <summary>The kept frames as stored (camera then frame order).</summary>
    public IReadOnlyList<ReviewSample> Samples { get; }

    /// <summary>A fresh runs folder holding one copy of the run with its review folder; returns the runs folder.</summary>
    public string NewRunsFolder()
    {
        var runs = Directory.CreateDirectory(Path.Combine(_root, Guid.NewGuid().ToString("N"))).FullName;
        FolderCopy.Into(_template, Path.Combine(runs, RunId));
        return runs;
    }

    public static ReviewFolder Folder(string runsFolder, string runId) => new(Path.Combine(runsFolder, runId));
}
