using System.CommandLine;
using System.Text.Json;
using OpenCvSharp;
using TreeScout.Contracts;
using TreeScout.Detection;
using TreeScout.Detection.Inference;
using TreeScout.Detection.Models;

namespace TreeScout.Cli.Commands;

/// <summary>
/// `treescout classify-stage DIR [--json]`: classifies every crop under DIR with the stage model. When crops sit in
/// folders named bbchNN, also prints top-1, within-one-stage and flowering accuracy, per-class recall and the confusion
/// table — the model card's numbers can be re-checked with `--cameras` set to the held-out cameras.
/// </summary>
public static class ClassifyStageCommand
{
    private const int DecodeChunk = 64;

    public static Command Create()
    {
        var dir = new Argument<string>("DIR") { Description = "Folder of crops (searched recursively); subfolders named bbchNN give the true stage." };
        var json = new Option<bool>("--json") { Description = "One JSON object per crop on stdout (file, stage, probabilities); the summary goes to stderr." };
        var stage = new Option<string>("--stage-model") { Description = "Stage classifier model card.", DefaultValueFactory = _ => new DetectionOptions().StageCardPath() };
        var cameras = new Option<string?>("--cameras") { Description = "Only crops whose file name starts with one of these comma-separated camera ids (<camera>_<time>_<n>.jpg)." };
        var threads = new Option<int>("--threads") { Description = "ONNX Runtime intra-op threads.", DefaultValueFactory = _ => 2 };
        var batch = new Option<int>("--batch") { Description = "Crops per inference batch.", DefaultValueFactory = _ => 64 };
        var command = new Command("classify-stage", "Classify blossom-cluster crops by BBCH stage; with bbchNN subfolders, report accuracy and the confusion table.") { dir, json, stage, cameras, threads, batch };
        command.SetAction(parse =>
        {
            var root = parse.GetRequiredValue(dir);
            if (!Directory.Exists(root))
            {
                throw new CliException($"{root}: no such folder");
            }
            var cameraFilter = parse.GetValue(cameras)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var files = DetectCommand.ListImages(root)
                .Where(f => cameraFilter is null || cameraFilter.Any(c => Path.GetFileName(f).StartsWith(c + "_", StringComparison.Ordinal)))
                .ToList();
            if (files.Count == 0)
            {
                throw new CliException($"{root}: no crops{(cameraFilter is null ? "" : " of cameras " + string.Join(", ", cameraFilter))}");
            }
            VerifiedModel model;
            try
            {
                model = VerifiedModel.Open(ModelLocator.Resolve(parse.GetRequiredValue(stage)), parse.GetValue(threads));
            }
            catch (ModelCardException ex)
            {
                throw new CliException(ex.Message, ex);
            }
            using (model)
            using (var classifier = new StageClassifier(model, parse.GetValue(batch)))
            {
                var asJson = parse.GetValue(json);
                var stdout = parse.InvocationConfiguration.Output;
                var summaryOut = asJson ? parse.InvocationConfiguration.Error : stdout;
                var metrics = new StageMetrics();
                var predicted = new long[BbchStages.Count];
                foreach (var chunk in files.Chunk(DecodeChunk))
                {
                    var crops = chunk.Select(f => Cv2.ImRead(f, ImreadModes.Color)).ToList();
                    try
                    {
                        if (crops.FindIndex(c => c.Empty()) is var bad and >= 0)
                        {
                            throw new CliException($"{chunk[bad]}: not a readable image");
                        }
                        var probabilities = classifier.Classify(crops);
                        for (var i = 0; i < chunk.Length; i++)
                        {
                            var best = BbchStages.Ordered[BlossomPipeline.ArgMax(probabilities[i])];
                            predicted[BbchStages.IndexOf(best)]++;
                            if (BbchStages.TryParse(Path.GetFileName(Path.GetDirectoryName(chunk[i])), out var truth))
                            {
                                metrics.Add(truth, best);
                            }
                            if (asJson)
                            {
                                stdout.WriteLine(JsonSerializer.Serialize(new StageOutput(chunk[i], BbchStages.Label(best),
                                    BbchStages.Ordered.Select((s, k) => (s, k)).ToDictionary(x => BbchStages.Label(x.s), x => Math.Round(probabilities[i][x.k], 5)))));
                            }
                        }
                    }
                    finally
                    {
                        crops.ForEach(c => c.Dispose());
                    }
                }
                summaryOut.WriteLine($"{files.Count} crops classified with {model.Card.Name} {model.Card.Version}: " +
                    string.Join(", ", predicted.Select((n, k) => (n, k)).Where(x => x.n > 0).Select(x => $"{BbchStages.Label(BbchStages.Ordered[x.k])} {x.n}")));
                if (metrics.Count > 0)
                {
                    summaryOut.Write(metrics.Format());
                }
            }
            return 0;
        });
        return command;
    }
}

internal sealed record StageOutput(
    [property: System.Text.Json.Serialization.JsonPropertyName("file")] string File,
    [property: System.Text.Json.Serialization.JsonPropertyName("stage")] string Stage,
    [property: System.Text.Json.Serialization.JsonPropertyName("probabilities")] IReadOnlyDictionary<string, double> Probabilities);
