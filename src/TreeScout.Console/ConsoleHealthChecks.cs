using Microsoft.Extensions.Diagnostics.HealthChecks;

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
