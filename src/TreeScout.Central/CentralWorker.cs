using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Prometheus;
using TreeScout.Hosting;
using TreeScout.MapWriter;
using TreeScout.Messaging;
using TreeScout.MapWriter.Prescription;

namespace TreeScout.Central;

/// <summary>
/// The central ingest worker's services: settings, the season store (migrated at start), the ingest and its consumer,
/// and the tractor workers' /healthz, /readyz (<see cref="WorkerHealth"/>) and /metrics (prometheus-net: the bus's
/// <see cref="MessagingMetrics"/> and the ingest's <see cref="IngestMetrics"/>) on Health:BindAddress:Health:Port.
/// </summary>
public static class CentralWorker
{
    /// <summary>
    /// Runs the worker until SIGTERM: configuration from TREESCOUT__ variables, every setting validated before anything
    /// starts. Exit codes: 0 after a graceful stop, 2 (one line naming the settings) for invalid configuration.
    /// </summary>
    public static async Task<int> RunAsync(string[] args)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.AddEnvironmentVariables(WorkerHost.EnvironmentPrefix);
        // A line per probe and per not-ready check would drown the worker's own lines (it logs its waits itself).
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning)
            .AddFilter("Microsoft.Extensions.Diagnostics.HealthChecks", LogLevel.Error);
        ConfigureServices(builder.Services, builder.Configuration);
        if (await WorkerHost.BuildValidatedAsync(builder) is not { } host)
        {
            return WorkerHost.ConfigurationError;
        }
        host.MapWorkerHealthEndpoints();
        host.MapMetrics("/metrics");
        await host.RunAsync();
        return 0;
    }

    public static void ConfigureServices(IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<CentralOptions>(configuration, CentralOptions.Section)
            .Validate(o => Uri.TryCreate(o.Broker, UriKind.Absolute, out var u) && u.Scheme is "amqp" or "amqps", "Central:Broker must be an amqp:// or amqps:// URI of the central vhost");
        services.AddHealthListener(configuration);
        services.AddSingleton(WorkerIdentity.Named(Worker));
        services.TryAddSingletonTimeProvider();
        services.AddSingleton(sp => SeasonStore.Open(sp.GetRequiredService<IOptions<CentralOptions>>().Value.Database));
        services.AddSingleton(sp => new SeasonStore(
            sp.GetRequiredService<Npgsql.NpgsqlDataSource>(),
            VarietyCatalog.Load(VarietyProfilesValidation.Resolve(sp.GetRequiredService<IOptions<CentralOptions>>().Value.Varieties)),
            new MapWriterOptions()));
        services.AddSingleton<CentralIngest>();
        // Process-wide meters, as the tractor workers' (WorkerHost): prometheus-net exports them.
        services.AddSingleton(_ => new MessagingMetrics());
        services.AddSingleton<IngestMetrics>();
        services.AddSingleton<SeasonStoreReadiness>();
        services.AddSingleton<IngestConsumer>();
        services.AddHostedService(sp => sp.GetRequiredService<IngestConsumer>());
        services.AddHealthChecks()
            .AddWaitedOutCheck<IngestConsumer>("broker")
            .AddWaitedOutCheck<SeasonStoreReadiness>("seasonStore");
    }

    /// <summary>The worker's name in /healthz, /readyz and its error lines.</summary>
    public const string Worker = "central-ingest";

    private static void TryAddSingletonTimeProvider(this IServiceCollection services)
    {
        if (!services.Any(d => d.ServiceType == typeof(TimeProvider)))
        {
            services.AddSingleton(TimeProvider.System);
        }
    }
}
