using System.Text.Json;
using System.Text.Json.Serialization;

namespace TreeScout.Detection.Models;

/// <summary>
/// A model's card (models/&lt;name&gt;.json): what the .onnx file must be (sha256, input and output tensors) and how to
/// feed it. The worker trusts a model only after <see cref="VerifiedModel.Open"/> checked the file against its card.
/// </summary>
public sealed record ModelCard
{
    public required string Name { get; init; }

    public required string Version { get; init; }

    public string? Task { get; init; }

    /// <summary>The .onnx file, relative to the card.</summary>
    public required string File { get; init; }

    public required string Sha256 { get; init; }

    public required ModelInput Input { get; init; }

    /// <summary>Single-output models (the stage classifier).</summary>
    public ModelTensor? Output { get; init; }

    /// <summary>Multi-output models (the detector: heatmap, size, offset).</summary>
    public IReadOnlyList<ModelTensor>? Outputs { get; init; }

    public IReadOnlyList<string> Classes { get; init; } = [];

    public Dictionary<string, double> Thresholds { get; init; } = new(StringComparer.Ordinal);

    /// <summary>Detector only: how a frame becomes the network input and how the heads map back.</summary>
    public DetectorGeometry? Detector { get; init; }

    /// <summary>Where the card was read from; the model file is resolved next to it.</summary>
    [JsonIgnore]
    public string CardPath { get; init; } = "";

    [JsonIgnore]
    public string ModelPath => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(CardPath) ?? ".", File));

    public IReadOnlyList<ModelTensor> AllOutputs => Outputs ?? (Output is null ? [] : [Output]);

    public double Threshold(string name, double fallback) => Thresholds.TryGetValue(name, out var v) ? v : fallback;

    private static readonly JsonSerializerOptions Json = new() { PropertyNameCaseInsensitive = true, ReadCommentHandling = JsonCommentHandling.Skip };

    /// <exception cref="ModelCardException">The card is missing, not JSON, or lacks a required field.</exception>
    public static ModelCard Load(string cardPath)
    {
        var full = Path.GetFullPath(cardPath);
        if (!System.IO.File.Exists(full))
        {
            throw new ModelCardException($"model card {full} does not exist");
        }
        ModelCard? card;
        try
        {
            card = JsonSerializer.Deserialize<ModelCard>(System.IO.File.ReadAllText(full), Json);
        }
        catch (JsonException ex)
        {
            throw new ModelCardException($"model card {full} is not a valid card: {ex.Message}", ex);
        }
        if (card is null)
        {
            throw new ModelCardException($"model card {full} is empty");
        }
        if (card.AllOutputs.Count == 0)
        {
            throw new ModelCardException($"model card {full} names no output tensor (\"output\" or \"outputs\")");
        }
        return card with { CardPath = full };
    }
}

/// <summary>The input tensor and its preprocessing, as the card states it.</summary>
public sealed record ModelInput
{
    public required string Name { get; init; }

    public string Layout { get; init; } = "NCHW";

    /// <summary>Dimensions; a string (e.g. "N", "H") or -1 is a dynamic axis, any other number must match the ONNX graph exactly.</summary>
    public required IReadOnlyList<JsonElement> Shape { get; init; }

    public string ColorOrder { get; init; } = "RGB";

    public string Resize { get; init; } = "INTER_AREA";

    /// <summary>Multiplier applied to 0..255 pixel values before mean/std (1/255).</summary>
    public double Scale { get; init; } = 1.0 / 255.0;

    public required IReadOnlyList<float> Mean { get; init; }

    public required IReadOnlyList<float> Std { get; init; }

    /// <summary>Fixed size of a dimension, or null when the card declares it dynamic.</summary>
    public long? FixedDim(int axis) => Shape[axis].ValueKind == JsonValueKind.Number && Shape[axis].GetInt64() >= 0 ? Shape[axis].GetInt64() : null;
}

public sealed record ModelTensor
{
    public required string Name { get; init; }

    public required IReadOnlyList<JsonElement> Shape { get; init; }
}

/// <summary>How the detector sees a frame: scaled by <see cref="InputScale"/>, padded to <see cref="PadMultiple"/>, heads at 1/<see cref="OutputStride"/>.</summary>
public sealed record DetectorGeometry
{
    public required double InputScale { get; init; }

    public required int PadMultiple { get; init; }

    public required int OutputStride { get; init; }
}

/// <summary>A model file and its card do not agree, or the card cannot be used: the worker refuses to start.</summary>
public sealed class ModelCardException : Exception
{
    public ModelCardException(string message)
        : base(message)
    {
    }

    public ModelCardException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public ModelCardException()
    {
    }
}
