using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using TreeScout.Hosting;
using TreeScout.Messaging;
using TreeScout.Orchard;

namespace TreeScout.Capture;

/// <summary>Registers the Capture worker's options, handlers and subscriptions (process and embedded mode alike).</summary>
public sealed class CaptureWorkerModule : IWorkerModule
{
    public WorkerRole Role => WorkerRole.Capture;

    public void ConfigureServices(IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<CaptureOptions>(configuration, CaptureOptions.Section);
        services.AddSingleton<IValidateOptions<CaptureOptions>, RecordingSourceValidation>();
        services.AddValidatedOptions<FramePlanOptions>(configuration, FramePlanOptions.Section);
        services.AddSingleton<CaptureController>();
        services.AddSingleton<RunStartedHandler>();
        services.AddSingleton<RunStopRequestedHandler>();
        services.AddHostedService<CaptureLoopService>();
        services.AddSubscription(Topology.CaptureControlQueue, sp => new MessageDispatcher()
            .On(sp.GetRequiredService<RunStartedHandler>())
            .On(sp.GetRequiredService<RunStopRequestedHandler>()));
    }
}

/// <summary>
/// A recording folder as the source is checked at start like any other setting (ADR 0005): its files, and its camera.json
/// field by field, so a bad camera file stops the worker with one line instead of a run that maps nothing.
/// </summary>
public sealed class RecordingSourceValidation : IValidateOptions<CaptureOptions>
{
    public ValidateOptionsResult Validate(string? name, CaptureOptions options)
    {
        if (!Directory.Exists(options.Source))
        {
            return ValidateOptionsResult.Success;
        }
        try
        {
            var recording = new Recording(options.Source);
            recording.Validate();
            recording.ReadCameras();
            return ValidateOptionsResult.Success;
        }
        catch (Exception ex) when (ex is InvalidDataException or CameraRigException)
        {
            return ValidateOptionsResult.Fail(ex.Message);
        }
    }
}
