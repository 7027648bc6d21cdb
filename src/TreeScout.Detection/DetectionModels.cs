using Microsoft.Extensions.Options;
using TreeScout.Detection.Models;

namespace TreeScout.Detection;

/// <summary>
/// The process's one <see cref="BlossomPipeline"/> (one ONNX session per model). Opened by the start-time validation,
/// so a model that does not match its card stops the worker before it consumes anything.
/// </summary>
public sealed class DetectionModels : IDisposable
{
    private readonly Lock _gate = new();
    private BlossomPipeline? _pipeline;

    public BlossomPipeline Open(DetectionOptions options)
    {
        lock (_gate)
        {
            return _pipeline ??= BlossomPipeline.Open(options);
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _pipeline?.Dispose();
            _pipeline = null;
        }
    }
}

/// <summary>Start-time check: both cards exist and their models match them (sha256, tensors); otherwise one clear error and no start.</summary>
public sealed class ModelCardValidation(DetectionModels models) : IValidateOptions<DetectionOptions>
{
    public ValidateOptionsResult Validate(string? name, DetectionOptions options)
    {
        try
        {
            models.Open(options);
            return ValidateOptionsResult.Success;
        }
        catch (ModelCardException ex)
        {
            return ValidateOptionsResult.Fail($"Detection: {ex.Message}");
        }
    }
}
