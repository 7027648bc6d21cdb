using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;
using TreeScout.Detection.Models;
using TreeScout.Hosting;

namespace TreeScout.Detection.Tests;

/// <summary>Detection:Precision picks the shipped models (docs/adr/0067); the int8 ones run as integer kernels.</summary>
[Trait("Category", "Unit")]
public class ModelPrecisionTests
{
    [Fact]
    public void Int8_is_the_default_and_fp32_picks_the_original_models()
    {
        var byDefault = new DetectionOptions();
        Assert.Equal("models/blossom-detector-int8.json", byDefault.DetectorCardPath());
        Assert.Equal("models/bbch-stage-int8.json", byDefault.StageCardPath());
        var fp32 = new DetectionOptions { Precision = "FP32" };
        Assert.Equal("models/blossom-detector.json", fp32.DetectorCardPath());
        Assert.Equal("models/bbch-stage.json", fp32.StageCardPath());
    }

    [Fact]
    public void A_card_given_explicitly_is_used_whatever_the_precision()
    {
        var options = new DetectionOptions { DetectorCard = "/cards/mine.json", Precision = "int8" };
        Assert.Equal("/cards/mine.json", options.DetectorCardPath());
        Assert.Equal("models/bbch-stage-int8.json", options.StageCardPath());
    }

    [Fact]
    public void The_default_pipeline_runs_both_int8_models()
    {
        using var pipeline = BlossomPipeline.Open(new DetectionOptions { IntraOpThreads = 1 });
        Assert.Equal(("blossom-detector", "2.0.0-int8"), (pipeline.Detector.Name, pipeline.Detector.Version));
        Assert.Equal(("bbch-stage", "1.0.0-int8"), (pipeline.StageClassifier.Name, pipeline.StageClassifier.Version));
    }

    [Fact]
    public async Task An_unknown_precision_stops_the_worker_with_one_line_naming_it()
    {
        Assert.Equal("Precision 'int4' is neither fp32 nor int8",
            Assert.Throws<ModelCardException>(() => new DetectionOptions { Precision = "int4", DetectorCard = TestModels.DetectorCard }.DetectorCardPath()).Message);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Detection:Precision"] = "int4" }).Build();
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() =>
            EmbeddedWorkers.StartAsync([new DetectionWorkerModule()], configuration, NullLoggerFactory.Instance, CancellationToken.None));
        Assert.Equal("Detection: Precision 'int4' is neither fp32 nor int8", ex.Message);
    }

    [Theory]
    [InlineData("blossom-detector-int8.json", 18, 4)]
    [InlineData("bbch-stage-int8.json", 15, 5)]
    public void Onnx_runtime_fuses_the_int8_layers_into_integer_kernels(string card, int integerConvolutions, int integerAdditions)
    {
        // The graph ONNX Runtime runs after its optimisation (what VerifiedModel asks for): every quantized Conv became a
        // QLinearConv and every addition with a quantized output a QLinearAdd, i.e. the QuantizeLinear/DequantizeLinear
        // pairs were fused away rather than run around float kernels.
        var optimized = Path.Combine(Directory.CreateTempSubdirectory("treescout-int8-").FullName, "optimized.onnx");
        using (var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, OptimizedModelFilePath = optimized, IntraOpNumThreads = 1 })
        using (new InferenceSession(ModelCard.Load(TestModels.Card(card)).ModelPath, options))
        {
        }
        var graph = Encoding.Latin1.GetString(File.ReadAllBytes(optimized));
        Assert.Equal((integerConvolutions, integerAdditions), (Occurrences(graph, "QLinearConv"), Occurrences(graph, "QLinearAdd")));
    }

    private static int Occurrences(string text, string word)
    {
        var count = 0;
        for (var i = text.IndexOf(word, StringComparison.Ordinal); i >= 0; i = text.IndexOf(word, i + word.Length, StringComparison.Ordinal))
        {
            count++;
        }
        return count;
    }
}
