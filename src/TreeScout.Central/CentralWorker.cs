using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using TreeScout.Hosting;
using TreeScout.MapWriter;
using TreeScout.MapWriter.Prescription;

namespace TreeScout.Central;

/// <summary>The central ingest worker's services: settings, the season store (migrated at start), the ingest and its consumer.</summary>
public static class CentralWorker
{
    /// <summary>
    /// Runs the worker until SIGTERM: configuration from TREESCOUT__ variables, every setting validated before anything
    /// starts. Exit codes: 0 after a graceful stop, 2 (one line naming the settings) for invalid configuration.
    /// </summary>
    public static async Task<int> RunAsync(string[] args)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.AddEnvironmentVariables(WorkerHost.EnvironmentPrefix);
        ConfigureServices(builder.Services, builder.Configuration);
        var host = builder.Build();
        try
        {
            foreach (var validator in host.Services.GetServices<IStartupValidator>())
            {
                validator.Validate();
            }
        }
        catch (OptionsValidationException ex)
        {
            await Console.Error.WriteLineAsync($"central-ingest: invalid configuration: {string.Join("; ", ex.Failures)}");
            return WorkerHost.ConfigurationError;
        }
        await host.RunAsync();
        return 0;
    }

    public static void ConfigureServices(IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<CentralOptions>(configuration, CentralOptions.Section)
            .Validate(o => Uri.TryCreate(o.Broker, UriKind.Absolute, out var u) && u.Scheme is "amqp" or "amqps", "Central:Broker must be an amqp:// or amqps:// URI of the central vhost");
        services.TryAddSingletonTimeProvider();
        services.AddSingleton(sp => SeasonStore.Open(sp.GetRequiredService<IOptions<CentralOptions>>().Value.Database));
        services.AddSingleton(sp => new SeasonStore(
            sp.GetRequiredService<Npgsql.NpgsqlDataSource>(),
            VarietyCatalog.Load(VarietyProfilesValidation.Resolve(sp.GetRequiredService<IOptions<CentralOptions>>().Value.Varieties)),
            new MapWriterOptions()));
        services.AddSingleton<CentralIngest>();
        // Registered first: hosts start services in order, so the schema exists before the first delivery.
        services.AddHostedService<SchemaMigration>();
        services.AddSingleton<IngestConsumer>();
        services.AddHostedService(sp => sp.GetRequiredService<IngestConsumer>());
    }

    private static void TryAddSingletonTimeProvider(this IServiceCollection services)
    {
        if (!services.Any(d => d.ServiceType == typeof(TimeProvider)))
        {
            services.AddSingleton(TimeProvider.System);
        }
    }

    private sealed class SchemaMigration(Npgsql.NpgsqlDataSource db) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => SeasonSchema.MigrateAsync(db, cancellationToken);

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
