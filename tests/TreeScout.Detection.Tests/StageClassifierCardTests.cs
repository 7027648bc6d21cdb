using System.Text.Json;
using OpenCvSharp;
using TreeScout.Contracts;
using TreeScout.Detection.Inference;
using TreeScout.Detection.Models;
using TreeScout.Tests;

namespace TreeScout.Detection.Tests;

/// <summary>The stage card's held-out numbers, recomputed from the committed model with the worker's own preprocessing.</summary>
[Trait("Category", "Unit")]
public class StageClassifierCardTests
{
    private const double Tolerance = 0.005;

    [Theory]
    [InlineData("bbch-stage.json")]
    [InlineData("bbch-stage-int8.json")]
    public void Held_out_camera_metrics_match_the_card(string cardFile)
    {
        using var model = VerifiedModel.Open(TestModels.Card(cardFile), 2);
        using var classifier = new StageClassifier(model, 64);
        using var card = JsonDocument.Parse(File.ReadAllText(TestModels.Card(cardFile)));
        var evaluation = card.RootElement.GetProperty("evaluation");
        var cameras = evaluation.GetProperty("heldOutCameras").EnumerateArray().Select(c => c.GetString()!).ToArray();
        Assert.NotEmpty(cameras);

        var crops = BbchStages.Ordered
            .SelectMany(s => Directory.EnumerateFiles(RepoPaths.SharedData("bbch", BbchStages.Label(s)), "*.jpg").Select(f => (File: f, Stage: s)))
            .Where(c => cameras.Any(cam => Path.GetFileName(c.File).StartsWith(cam + "_", StringComparison.Ordinal)))
            .OrderBy(c => c.File, StringComparer.Ordinal)
            .ToList();
        var metrics = new StageMetrics();
        foreach (var chunk in crops.Chunk(256))
        {
            var mats = chunk.Select(c => Cv2.ImRead(c.File, ImreadModes.Color)).ToList();
            try
            {
                var probabilities = classifier.Classify(mats);
                for (var i = 0; i < chunk.Length; i++)
                {
                    Assert.Equal(1.0, probabilities[i].Sum(), 3);
                    metrics.Add(chunk[i].Stage, BbchStages.Ordered[BlossomPipeline.ArgMax(probabilities[i])]);
                }
            }
            finally
            {
                mats.ForEach(m => m.Dispose());
            }
        }

        Assert.Equal(evaluation.GetProperty("crops").GetInt32(), metrics.Count);
        Assert.InRange(metrics.Top1, evaluation.GetProperty("top1").GetDouble() - Tolerance, evaluation.GetProperty("top1").GetDouble() + Tolerance);
        Assert.InRange(metrics.WithinOne, evaluation.GetProperty("withinOne").GetDouble() - Tolerance, evaluation.GetProperty("withinOne").GetDouble() + Tolerance);
        Assert.InRange(metrics.Flowering, evaluation.GetProperty("flowering").GetDouble() - Tolerance, evaluation.GetProperty("flowering").GetDouble() + Tolerance);
        var recall = evaluation.GetProperty("perClassRecall");
        for (var k = 0; k < BbchStages.Count; k++)
        {
            var expected = recall.GetProperty(BbchStages.Label(BbchStages.Ordered[k])).GetDouble();
            Assert.InRange(metrics.Recall(k), expected - (2 * Tolerance), expected + (2 * Tolerance));
        }
    }

    [Fact]
    public void Metrics_count_top1_within_one_and_flowering()
    {
        var m = new StageMetrics();
        m.Add(BbchStage.Bbch65, BbchStage.Bbch65); // right
        m.Add(BbchStage.Bbch65, BbchStage.Bbch67); // one off, both flowering
        m.Add(BbchStage.Bbch59, BbchStage.Bbch61); // one off, flowering differs
        m.Add(BbchStage.Bbch53, BbchStage.Bbch71); // far off, both not flowering
        Assert.Equal(0.25, m.Top1);
        Assert.Equal(0.75, m.WithinOne);
        Assert.Equal(0.75, m.Flowering);
        Assert.Equal(0.5, m.Recall(BbchStages.IndexOf(BbchStage.Bbch65)));
        Assert.True(double.IsNaN(m.Recall(BbchStages.IndexOf(BbchStage.Bbch54))));
        Assert.Equal(1, m[BbchStages.IndexOf(BbchStage.Bbch53), BbchStages.IndexOf(BbchStage.Bbch71)]);
    }
}
