using System.CommandLine;
using System.Text.Json;
using OpenCvSharp;
using TreeScout.Contracts;
using TreeScout.Detection;
using TreeScout.Detection.Models;

namespace TreeScout.Cli.Commands;

/// <summary>
/// `treescout detect IMAGE|DIR [--out DIR] [--json]`: runs the worker's detector + stage classifier on image files,
/// draws boxes and stage labels onto PNGs, prints counts per stage (or one JSON object per image, boxes in pixels of
/// the original image).
/// </summary>
public static class DetectCommand
{
    private static readonly string[] ImageExtensions = [".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"];

    public static Command Create()
    {
        var input = new Argument<string>("IMAGE|DIR") { Description = "An image, or a folder whose images (recursively) are processed in name order." };
        var output = new Option<string?>("--out") { Description = "Folder for annotated PNGs (boxes + stage labels)." };
        var json = new Option<bool>("--json") { Description = "One JSON object per image on stdout: file, width, height, detections (x, y, w, h, score, stage)." };
        var detector = new Option<string>("--detector") { Description = "Detector model card.", DefaultValueFactory = _ => new DetectionOptions().DetectorCardPath() };
        var stage = new Option<string>("--stage-model") { Description = "Stage classifier model card.", DefaultValueFactory = _ => new DetectionOptions().StageCardPath() };
        var score = new Option<double?>("--score") { Description = "Minimum detector score (default: the card's threshold)." };
        var rotation = new Option<int>("--mount-rotation") { Description = "Camera mount rotation of the images (0/90/180/270 clockwise); detection runs upright, boxes are reported in the original image.", DefaultValueFactory = _ => 0 };
        var threads = new Option<int>("--threads") { Description = "ONNX Runtime intra-op threads.", DefaultValueFactory = _ => 2 };
        var command = new Command("detect", "Detect blossom clusters and their BBCH stage in images.") { input, output, json, detector, stage, score, rotation, threads };
        command.SetAction(parse =>
        {
            var files = ListImages(parse.GetRequiredValue(input));
            if (parse.GetValue(rotation) is not (0 or 90 or 180 or 270))
            {
                throw new CliException($"--mount-rotation {parse.GetValue(rotation)} is not 0, 90, 180 or 270", Cli.UsageError);
            }
            var outDir = parse.GetValue(output);
            if (outDir is not null)
            {
                Directory.CreateDirectory(outDir);
            }
            using var pipeline = OpenPipeline(new DetectionOptions
            {
                DetectorCard = parse.GetRequiredValue(detector),
                StageCard = parse.GetRequiredValue(stage),
                ScoreThreshold = parse.GetValue(score),
                IntraOpThreads = parse.GetValue(threads),
            });
            var stdout = parse.InvocationConfiguration.Output;
            var totals = new long[BbchStages.Count];
            foreach (var file in files)
            {
                using var image = Cv2.ImRead(file, ImreadModes.Color);
                if (image.Empty())
                {
                    throw new CliException($"{file}: not a readable image");
                }
                var mount = parse.GetValue(rotation);
                var upright = FrameImage.Upright(image, mount);
                try
                {
                    var analysis = pipeline.Analyze(upright);
                    // Boxes back in the original image's pixels.
                    var boxes = analysis.Detections
                        .Select(d => (Box: FrameImage.ToSensorBox(d, mount, upright.Cols, upright.Rows), d.Score, d.Stage))
                        .ToList();
                    var perStage = new long[BbchStages.Count];
                    foreach (var b in boxes)
                    {
                        perStage[BbchStages.IndexOf(b.Stage)]++;
                        totals[BbchStages.IndexOf(b.Stage)]++;
                    }
                    if (parse.GetValue(json))
                    {
                        stdout.WriteLine(JsonSerializer.Serialize(new DetectOutput(file, image.Cols, image.Rows,
                            [.. boxes.Select(b => new DetectOutputBox(Round(b.Box.X), Round(b.Box.Y), Round(b.Box.W), Round(b.Box.H), Math.Round(b.Score, 4), BbchStages.Label(b.Stage)))]),
                            DetectJson.Options));
                    }
                    else
                    {
                        stdout.WriteLine($"{file}: {boxes.Count} clusters ({FormatCounts(perStage)}) in {analysis.InferenceMs:F0} ms");
                    }
                    if (outDir is not null)
                    {
                        var target = Path.Combine(outDir, Path.GetFileNameWithoutExtension(file) + ".png");
                        Annotate(image, boxes.Select(b => (b.Box, b.Score, b.Stage)));
                        Cv2.ImWrite(target, image);
                    }
                }
                finally
                {
                    if (!ReferenceEquals(upright, image))
                    {
                        upright.Dispose();
                    }
                }
            }
            if (!parse.GetValue(json))
            {
                stdout.WriteLine($"total: {totals.Sum()} clusters in {files.Count} image(s) ({FormatCounts(totals)})");
            }
            return 0;
        });
        return command;
    }

    /// <summary>Loads both models; a card problem becomes one clear CLI error line.</summary>
    internal static BlossomPipeline OpenPipeline(DetectionOptions options)
    {
        try
        {
            return BlossomPipeline.Open(options);
        }
        catch (ModelCardException ex)
        {
            throw new CliException(ex.Message, ex);
        }
    }

    internal static List<string> ListImages(string path)
    {
        if (File.Exists(path))
        {
            return [path];
        }
        if (!Directory.Exists(path))
        {
            throw new CliException($"{path}: no such file or folder");
        }
        var files = Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories)
            .Where(f => ImageExtensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
            .Order(StringComparer.Ordinal)
            .ToList();
        return files.Count > 0 ? files : throw new CliException($"{path}: no images ({string.Join(", ", ImageExtensions)})");
    }

    private static double Round(float v) => Math.Round(v, 1);

    private static string FormatCounts(long[] perStage) =>
        string.Join(", ", perStage.Select((n, i) => (n, i)).Where(x => x.n > 0).Select(x => $"{BbchStages.Label(BbchStages.Ordered[x.i])} {x.n}")) is { Length: > 0 } s ? s : "none";

    private static void Annotate(Mat image, IEnumerable<(Detection.Inference.ClusterBox Box, float Score, BbchStage Stage)> boxes)
    {
        foreach (var (box, score, stage) in boxes)
        {
            var color = StageColor(stage);
            var rect = new Rect((int)box.X, (int)box.Y, Math.Max(1, (int)box.W), Math.Max(1, (int)box.H));
            Cv2.Rectangle(image, rect, color, 2);
            Cv2.PutText(image, $"{(int)stage} {score:F2}", new Point(rect.X, Math.Max(12, rect.Y - 3)), HersheyFonts.HersheySimplex, 0.45, color, 1, LineTypes.AntiAlias);
        }
    }

    /// <summary>Green buds → pink → white bloom → brown fruit set, so a map of colours reads like the season.</summary>
    private static Scalar StageColor(BbchStage stage) => stage switch
    {
        BbchStage.Bbch53 or BbchStage.Bbch54 or BbchStage.Bbch56 => new Scalar(60, 200, 60),
        BbchStage.Bbch57 or BbchStage.Bbch59 => new Scalar(180, 80, 255),
        BbchStage.Bbch61 or BbchStage.Bbch65 => new Scalar(255, 255, 255),
        BbchStage.Bbch67 => new Scalar(0, 220, 255),
        _ => new Scalar(30, 90, 160),
    };
}

internal sealed record DetectOutputBox(double X, double Y, double W, double H, double Score, string Stage);

internal sealed record DetectOutput(string File, int Width, int Height, IReadOnlyList<DetectOutputBox> Detections);

internal static class DetectJson
{
    public static readonly JsonSerializerOptions Options = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase };
}
