using System.Text.Json;
using TreeScout.Detection.Evaluation;
using TreeScout.Tests;

namespace TreeScout.Detection.Tests;

/// <summary>The detector card's numbers, recomputed from the committed model (same code as the card generator).</summary>
[Trait("Category", "Unit")]
public class DetectorCardTests
{
    private static JsonElement Evaluation(string card)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(TestModels.Card(card)));
        return doc.RootElement.GetProperty("evaluation").Clone();
    }

    [Theory]
    [InlineData("blossom-detector.json")]
    [InlineData("blossom-detector-int8.json")]
    public void Recall_on_the_labelled_blossoms_of_the_real_orchard_photos_matches_the_card(string card)
    {
        using var pipeline = BlossomPipeline.Open(TestModels.Options(o => o.DetectorCard = TestModels.Card(card)));
        var images = DetectorEvaluation.ReadViaPolygons(RepoPaths.SharedData("orchard-frames", "via_region_data.json"));
        Assert.Equal(50, images.Sum(i => i.Labels.Count));
        var counts = DetectorEvaluation.Evaluate(images, m => DetectorEvaluationRun.Boxes(pipeline, m), DetectorEvaluationRun.RealFrameIou, centroidRule: true);
        var expected = Evaluation(card).GetProperty("realFrames");
        Assert.Equal(expected.GetProperty("labelled").GetInt32(), counts.Labels);
        Assert.Equal(expected.GetProperty("found").GetInt32(), counts.Found);
        Assert.Equal(expected.GetProperty("recall").GetDouble(), counts.Recall, 3);
    }

    [Theory]
    [InlineData("blossom-detector.json")]
    [InlineData("blossom-detector-int8.json")]
    public void Precision_and_recall_on_held_out_composites_match_the_card(string card)
    {
        using var pipeline = BlossomPipeline.Open(TestModels.Options(o => o.DetectorCard = TestModels.Card(card)));
        var images = DetectorEvaluation.ReadCompositeTruth(Path.Combine(RepoPaths.Samples, "detector-heldout", "truth.json"));
        var expected = Evaluation(card).GetProperty("heldOutComposites");
        var counts = DetectorEvaluation.Evaluate(images, m => DetectorEvaluationRun.Boxes(pipeline, m), expected.GetProperty("minIou").GetDouble(), centroidRule: false);
        Assert.Equal(expected.GetProperty("required").GetInt32(), counts.Labels);
        Assert.Equal(expected.GetProperty("detections").GetInt32(), counts.Detections);
        // The card rounds to 4 decimals; rounding both sides to 3 would fail on a value like 0.65747 vs 0.6575.
        Assert.Equal(expected.GetProperty("recall").GetDouble(), counts.Recall, 0.0001);
        Assert.Equal(expected.GetProperty("precision").GetDouble(), counts.Precision, 0.0001);
    }

    [Fact]
    public void Matching_counts_each_label_once_and_ignores_may_find_labels()
    {
        var labels = new[]
        {
            new LabelledBox(new(0, 0, 10, 10, 1), true, 5, 5),
            new LabelledBox(new(100, 100, 10, 10, 1), false, 105, 105),
        };
        var detections = new[]
        {
            new Inference.ClusterBox(1, 1, 10, 10, 0.9f),     // finds label 0
            new Inference.ClusterBox(0, 0, 10, 10, 0.8f),     // label 0 already taken: false positive
            new Inference.ClusterBox(100, 100, 10, 10, 0.7f), // "may find" label: neither found nor false
            new Inference.ClusterBox(3, 3, 14, 14, 0.6f),     // contains the centroid, area 1.96x: no IoU>=0.5 label left
        };
        var counts = DetectorEvaluation.Match(detections, labels, 0.5, centroidRule: false);
        Assert.Equal(new MatchCounts(1, 1, 4, 2), counts);
        Assert.Equal(0.5, counts.Precision);
        Assert.Equal(1.0, counts.Recall);
        var byCentroid = DetectorEvaluation.Match([new Inference.ClusterBox(2, 2, 18, 18, 0.9f)], labels, 0.5, centroidRule: true);
        Assert.Equal(1, byCentroid.Found);
        var tooBig = DetectorEvaluation.Match([new Inference.ClusterBox(0, 0, 30, 30, 0.9f)], labels, 0.5, centroidRule: true);
        Assert.Equal(0, tooBig.Found);
    }

    [Fact]
    public void A_may_find_label_does_not_take_the_detection_of_a_required_one_it_overlaps()
    {
        // A mostly hidden cluster (may find) just behind a visible one: the box overlaps the hidden one's box more
        // (IoU 0.90) than the visible one's (0.74); by IoU alone the visible cluster would count as missed.
        var labels = new[]
        {
            new LabelledBox(new(0, 0, 10, 10, 1), true, 5, 5),
            new LabelledBox(new(2, 0, 10, 10, 1), false, 7, 5),
        };
        var counts = DetectorEvaluation.Match([new Inference.ClusterBox(1.5f, 0, 10, 10, 0.9f)], labels, 0.5, centroidRule: false);
        Assert.Equal(new MatchCounts(1, 1, 1, 0), counts);
    }
}
