using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using TreeScout.Contracts;
using TreeScout.Hosting;
using TreeScout.MapWriter.Prescription;
using TreeScout.Messaging;

namespace TreeScout.MapWriter;

/// <summary>
/// Registers the MapWriter worker's options, handlers and subscriptions (process and embedded mode alike).
/// <paramref name="runFolder"/>: write every run directly into this folder (`treescout scan --out OUT`) instead of {StoreRoot}/{runId}.
/// </summary>
public sealed class MapWriterWorkerModule(string? runFolder = null) : IWorkerModule
{
    public WorkerRole Role => WorkerRole.MapWriter;

    public void ConfigureServices(IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<MapWriterOptions>(configuration, MapWriterOptions.Section);
        // Variety profiles are validated when the worker starts: a broken file stops it with the file and field named.
        services.AddSingleton<IValidateOptions<MapWriterOptions>, VarietyProfilesValidation>();
        services.AddSingleton(sp => VarietyCatalog.Load(VarietyProfilesValidation.Resolve(sp.GetRequiredService<IOptions<MapWriterOptions>>().Value.Varieties)));
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IRunFolders, StoreRootRunFolders>();
        if (runFolder is not null)
        {
            services.UseRunFolder(runFolder);
        }
        services.AddSingleton<StoreDiskSpace>();
        services.AddHostedService(sp => sp.GetRequiredService<StoreDiskSpace>());
        services.AddSingleton<MapWriterHandler>();
        services.AddSubscription(Topology.MapWriterObservationsQueue, sp =>
        {
            var handler = sp.GetRequiredService<MapWriterHandler>();
            return new MessageDispatcher().On<RunStarted>(handler).On<TreeObservations>(handler).On<RunFused>(handler).On<ReviewFrameSampled>(handler).On<ReviewFramePose>(handler);
        });
    }
}

/// <summary>Loads the configured variety profiles once at start; every problem becomes an options validation failure.</summary>
public sealed class VarietyProfilesValidation : IValidateOptions<MapWriterOptions>
{
    public ValidateOptionsResult Validate(string? name, MapWriterOptions options)
    {
        try
        {
            VarietyCatalog.Load(Resolve(options.Varieties));
            return ValidateOptionsResult.Success;
        }
        catch (VarietyConfigException ex)
        {
            return ValidateOptionsResult.Fail($"MapWriter:Varieties: {ex.Message}");
        }
    }

    /// <summary>Relative paths are taken from the application folder, where the shipped profiles are copied.</summary>
    public static string Resolve(string path) => Path.IsPathRooted(path) ? path : Path.Combine(AppContext.BaseDirectory, path);
}
