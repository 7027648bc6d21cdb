using System.Text.Json;
using System.Text.Json.Nodes;

namespace TreeScout.Bench;

/// <summary>Writes a measured section into a model card (the model file, and so its sha256, is untouched).</summary>
internal static class CardFile
{
    public static void Update(string cardPath, string key, JsonNode value)
    {
        var card = JsonNode.Parse(File.ReadAllText(cardPath))!.AsObject();
        card[key] = value;
        File.WriteAllText(cardPath, card.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        Console.WriteLine($"updated {key} in {cardPath}");
    }
}
