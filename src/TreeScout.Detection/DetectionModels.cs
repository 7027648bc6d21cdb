using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TreeScout.Detection.Models;
using TreeScout.Hosting;

namespace TreeScout.Detection;

/// <summary>
/// The process's one <see cref="BlossomPipeline"/> (one ONNX session per model). Opened by the start-time validation,
/// so a model that does not match its card stops the worker before it consumes anything. A GPU asked for and not
/// usable is a warning in the worker's status (the cab screen shows it), not a stop: detection runs on the CPU.
/// </summary>
public sealed class DetectionModels(WorkerWarnings warnings, ILogger<DetectionModels> logger) : IDisposable
{
    public const string AcceleratorWarning = "detection-accelerator";

    private readonly Lock _gate = new();
    private BlossomPipeline? _pipeline;

    public BlossomPipeline Open(DetectionOptions options)
    {
        lock (_gate)
        {
            if (_pipeline is null)
            {
                _pipeline = BlossomPipeline.Open(options);
                if (_pipeline.AcceleratorProblem is { } problem)
                {
                    warnings.Raise(AcceleratorWarning, $"Detection asked for {options.Accelerator}: {problem}; frames per second drop accordingly");
                    logger.LogWarning("Detection asked for {Accelerator}: {Problem}", options.Accelerator, problem);
                }
                else
                {
                    logger.LogInformation("Detection models run on {Accelerator}", _pipeline.RunsOn);
                }
            }
            return _pipeline;
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
