using System.Text.Json.Nodes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using TreeScout.Detection.Models;
using TreeScout.Hosting;

namespace TreeScout.Detection.Tests;

[Trait("Category", "Unit")]
public class ModelCardTests
{
    [Theory]
    [InlineData("blossom-detector.json")]
    [InlineData("bbch-stage.json")]
    [InlineData("blossom-detector-int8.json")]
    [InlineData("bbch-stage-int8.json")]
    public void Committed_model_matches_its_card(string card)
    {
        using var model = VerifiedModel.Open(Path.Combine(TreeScout.Tests.RepoPaths.Models, card), 1);
        Assert.Equal(VerifiedModel.Sha256Of(model.Card.ModelPath), model.Card.Sha256);
        Assert.Equal(model.Card.Name, model.Identity.Name);
        Assert.True(new FileInfo(model.Card.ModelPath).Length <= 20 * 1024 * 1024, "models must stay within 20 MB");
    }

    [Fact]
    public void Wrong_sha256_is_refused_naming_the_file_and_both_hashes()
    {
        var card = TestModels.TamperedCopy(TestModels.DetectorCard, c => c["sha256"] = new string('0', 64));
        var ex = Assert.Throws<ModelCardException>(() => VerifiedModel.Open(card, 1));
        Assert.Contains("blossom-detector.onnx does not match its card", ex.Message, StringComparison.Ordinal);
        Assert.Contains(new string('0', 64), ex.Message, StringComparison.Ordinal);
        Assert.Contains(VerifiedModel.Sha256Of(Path.Combine(Path.GetDirectoryName(card)!, "blossom-detector.onnx")), ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Wrong_input_shape_is_refused_with_both_shapes()
    {
        var card = TestModels.TamperedCopy(TestModels.StageCard, c => c["input"]!["shape"]![2] = 96);
        var ex = Assert.Throws<ModelCardException>(() => VerifiedModel.Open(card, 1));
        Assert.Contains("input 'input' has shape", ex.Message, StringComparison.Ordinal);
        Assert.Contains("96", ex.Message, StringComparison.Ordinal);
        Assert.Contains("axis 2", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Wrong_input_name_and_rank_are_refused()
    {
        var renamed = TestModels.TamperedCopy(TestModels.DetectorCard, c => c["input"]!["name"] = "images");
        Assert.Contains("names input 'images'", Assert.Throws<ModelCardException>(() => VerifiedModel.Open(renamed, 1)).Message, StringComparison.Ordinal);
        var rank = TestModels.TamperedCopy(TestModels.DetectorCard, c => c["input"]!["shape"] = new JsonArray(1, 3, "H"));
        Assert.Contains("has shape [1,3,H,W]", Assert.Throws<ModelCardException>(() => VerifiedModel.Open(rank, 1)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_card_is_a_clear_error()
    {
        var ex = Assert.Throws<ModelCardException>(() => ModelLocator.Resolve("models/no-such-model.json"));
        Assert.Contains("no-such-model.json", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Worker_refuses_to_start_on_a_model_that_does_not_match_its_card()
    {
        var card = TestModels.TamperedCopy(TestModels.DetectorCard, c => c["sha256"] = new string('f', 64));
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Detection:DetectorCard"] = card,
            ["Detection:StageCard"] = TestModels.StageCard,
        }).Build();
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() =>
            EmbeddedWorkers.StartAsync([new DetectionWorkerModule()], configuration, NullLoggerFactory.Instance, CancellationToken.None));
        Assert.Contains("does not match its card", ex.Message, StringComparison.Ordinal);
    }
}
