using System.Text.Json;
using System.Text.Json.Serialization;

namespace TreeScout.Labelling;

/// <summary>The review files' JSON: camelCase, enums as names, like the wire format (docs/wire-format.md).</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UseStringEnumConverter = true,
    WriteIndented = true)]
[JsonSerializable(typeof(ReviewSample))]
[JsonSerializable(typeof(FrameLabels))]
[JsonSerializable(typeof(ExportMark))]
public sealed partial class LabellingJsonContext : JsonSerializerContext;

internal static class LabellingJson
{
    /// <summary>History lines are one JSON document each.</summary>
    public static readonly LabellingJsonContext Compact = new(new JsonSerializerOptions(LabellingJsonContext.Default.Options) { WriteIndented = false });
}
