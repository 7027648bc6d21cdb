using System.Text.Json.Nodes;
using TreeScout.Detection;
using TreeScout.Tests;

namespace TreeScout.Detection.Tests;

/// <summary>The committed models and their cards, and tampered copies of them.</summary>
public static class TestModels
{
    public static string DetectorCard => Card("blossom-detector.json");

    public static string StageCard => Card("bbch-stage.json");

    /// <summary>A committed card by file name (models/NAME.json).</summary>
    public static string Card(string file) => Path.Combine(RepoPaths.Models, file);

    public static DetectionOptions Options(Action<DetectionOptions>? change = null)
    {
        var o = new DetectionOptions { DetectorCard = DetectorCard, StageCard = StageCard, IntraOpThreads = 1 };
        change?.Invoke(o);
        return o;
    }

    /// <summary>Copies a card and its model into a fresh folder, applies <paramref name="edit"/> to the card's JSON, returns the new card's path.</summary>
    public static string TamperedCopy(string cardPath, Action<JsonObject> edit)
    {
        var dir = Directory.CreateTempSubdirectory("treescout-card-").FullName;
        var card = JsonNode.Parse(File.ReadAllText(cardPath))!.AsObject();
        var model = card["file"]!.GetValue<string>();
        File.Copy(Path.Combine(Path.GetDirectoryName(cardPath)!, model), Path.Combine(dir, model));
        edit(card);
        var target = Path.Combine(dir, Path.GetFileName(cardPath));
        File.WriteAllText(target, card.ToJsonString());
        return target;
    }
}
