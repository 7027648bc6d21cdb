namespace TreeScout.Detection.Models;

/// <summary>
/// The numeric precision of the shipped models: each ships as fp32 (models/NAME.json) and as an int8 QDQ copy
/// calibrated on training-camera images (models/NAME-int8.json; docs/adr/0067).
/// </summary>
public static class ModelPrecision
{
    public const string Fp32 = "fp32";

    public const string Int8 = "int8";

    /// <summary>The shipped card of model <paramref name="name"/> at <paramref name="precision"/> (fp32 or int8, any case).</summary>
    /// <exception cref="ModelCardException">Any other precision.</exception>
    public static string ShippedCard(string name, string precision) => precision.Trim().ToLowerInvariant() switch
    {
        Fp32 => $"models/{name}.json",
        Int8 => $"models/{name}-int8.json",
        _ => throw new ModelCardException($"Precision '{precision}' is neither {Fp32} nor {Int8}"),
    };
}
