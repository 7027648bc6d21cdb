using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using TreeScout.Central;

namespace TreeScout.WebConsole;

/// <summary>
/// Liveness: the console serves whatever the broker does (an outage is shown on the screens, not a reason to restart
/// it), so it is always healthy and reports the broker link's state.
/// </summary>
public sealed class BrokerLinkHealthCheck(PipelineLink link) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(HealthCheckResult.Healthy(data: new Dictionary<string, object> { ["broker"] = link.State }));
}

/// <summary>Readiness: the runs folder the console shows is there.</summary>
public sealed class RunFolderHealthCheck(RunCatalog catalog) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(Directory.Exists(catalog.Root)
            ? HealthCheckResult.Healthy()
            : HealthCheckResult.Unhealthy(data: new Dictionary<string, object> { ["runs"] = $"{catalog.Root} is not there" }));
}

/// <summary>Readiness of the runs the console shows: the runs folder (tractor mode), or the season store answering with its schema (central mode).</summary>
public static class RunSourceHealth
{
    public static IHealthCheck Of(IServiceProvider services) =>
        services.GetRequiredService<IOptions<ConsoleOptions>>().Value.Central
            ? services.GetRequiredService<SeasonStoreReadiness>()
            : ActivatorUtilities.CreateInstance<RunFolderHealthCheck>(services);
}

/// <summary>
/// Central mode: waits (writing nothing) until the season store answers with its schema, so /readyz says what it waits
/// for while PostgreSQL is away or refuses the console's role, and the pod is not restarted for it.
/// </summary>
public sealed class SeasonStoreWatch(IOptions<ConsoleOptions> options, IServiceProvider services) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.Central)
        {
            return;
        }
        try
        {
            await services.GetRequiredService<SeasonStoreReadiness>().WaitForSchemaAsync(stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down.
        }
    }
}
