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
