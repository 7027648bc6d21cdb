using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using TreeScout.Messaging;

namespace TreeScout.Hosting;

/// <summary>
/// The bus: ready (connected, topology in place, every consumer registered), or what it is waiting for ("waiting for the
/// broker at … (connection refused), 12 s so far"). Not ready reports the registration's failure status.
/// </summary>
public sealed class BusHealthCheck(IMessageBus bus) : IHealthCheck
{
    public const string DataKey = "bus";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var ready = bus.IsReady;
        return Task.FromResult(WorkerHealth.Readiness(context, ready, DataKey, bus.State));
    }
}

/// <summary>The worker's raised warnings (an upside-down camera, low disk, disk full…): degraded while there is any.</summary>
public sealed class WorkerWarningsHealthCheck(WorkerWarnings warnings) : IHealthCheck
{
    public const string DataKey = "warnings";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var raised = warnings.Snapshot();
        var data = new Dictionary<string, object> { [DataKey] = raised };
        return Task.FromResult(raised.Count == 0 ? HealthCheckResult.Healthy("no warnings", data) : HealthCheckResult.Degraded(string.Join("; ", raised), data: data));
    }
}

/// <summary>
/// A worker's liveness (/healthz) and readiness (/readyz) on ASP.NET Core health checks: checks tagged
/// <see cref="LiveTag"/> and <see cref="ReadyTag"/>, answered as one JSON object — status, worker, version, then each
/// check's data (<c>bus</c>, <c>warnings</c>). A process that adds checks of its own tags them to join either endpoint.
/// </summary>
public static class WorkerHealth
{
    public const string LiveTag = "live";
    public const string ReadyTag = "ready";
    public const string LivenessPath = "/healthz";
    public const string ReadinessPath = "/readyz";

    /// <summary>The bus check (live and ready) and the warnings check (live). Needs <see cref="IMessageBus"/> and <see cref="WorkerWarnings"/>.</summary>
    public static IHealthChecksBuilder AddWorkerHealthChecks(this IServiceCollection services) =>
        services.AddHealthChecks()
            .AddWaitedOutCheck<BusHealthCheck>("bus")
            .AddCheck<WorkerWarningsHealthCheck>("warnings", HealthStatus.Degraded, [LiveTag]);

    /// <summary>
    /// A check of something the process waits for (a broker, a database), on both endpoints. Degraded, not Unhealthy,
    /// while it is away: liveness stays 200 because an outage is waited out and a restarted pod would only wait again
    /// (docs/adr/0006); readiness maps Degraded to 503.
    /// </summary>
    public static IHealthChecksBuilder AddWaitedOutCheck<T>(this IHealthChecksBuilder checks, string name)
        where T : class, IHealthCheck =>
        checks.AddCheck<T>(name, HealthStatus.Degraded, [LiveTag, ReadyTag]);

    /// <summary>A check's result with its state under <paramref name="key"/>: healthy when ready, else the registration's failure status.</summary>
    public static HealthCheckResult Readiness(HealthCheckContext context, bool ready, string key, string state)
    {
        var data = new Dictionary<string, object> { [key] = state };
        return ready ? HealthCheckResult.Healthy(state, data) : new HealthCheckResult(context.Registration.FailureStatus, state, data: data);
    }

    /// <summary>
    /// The validated <see cref="HealthOptions"/> (section Health) and the Kestrel listener on them that serves these
    /// endpoints, bound when the server starts (a bad value is a validation error, not a crash).
    /// </summary>
    public static void AddHealthListener(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<HealthOptions>(configuration, HealthOptions.Section)
            .Validate(o => IPAddress.TryParse(o.BindAddress, out _), "Health:BindAddress must be an IP address (0.0.0.0 in a pod, 127.0.0.1 on a workstation)");
        services.AddOptions<KestrelServerOptions>().Configure<IOptions<HealthOptions>>((kestrel, health) =>
            kestrel.Listen(IPAddress.Parse(health.Value.BindAddress), health.Value.Port));
    }

    /// <summary>
    /// /healthz: 200 "alive" unless a live check is Unhealthy (503). /readyz: 200 "ready" only when every ready check is
    /// Healthy, else 503 "not ready".
    /// </summary>
    /// <returns>Both endpoints, for conventions such as AllowAnonymous behind an authorization fallback policy.</returns>
    public static IEndpointConventionBuilder MapWorkerHealthEndpoints(this IEndpointRouteBuilder endpoints)
    {
        var health = endpoints.MapGroup("");
        health.MapHealthChecks(LivenessPath, new HealthCheckOptions
        {
            Predicate = r => r.Tags.Contains(LiveTag),
            ResponseWriter = (http, report) => WriteAsync(http, report, "alive", "not alive"),
        });
        health.MapHealthChecks(ReadinessPath, new HealthCheckOptions
        {
            Predicate = r => r.Tags.Contains(ReadyTag),
            ResultStatusCodes = { [HealthStatus.Degraded] = StatusCodes.Status503ServiceUnavailable },
            ResponseWriter = (http, report) => WriteAsync(http, report, "ready", "not ready"),
        });
        return health;
    }

    private static async Task WriteAsync(HttpContext http, HealthReport report, string passing, string failing)
    {
        http.Response.ContentType = "application/json";
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            // The middleware has set the status code from the report before it calls the writer.
            json.WriteString("status", http.Response.StatusCode == StatusCodes.Status200OK ? passing : failing);
            if (http.RequestServices.GetService<WorkerIdentity>() is { } identity)
            {
                json.WriteString("worker", identity.Worker);
                json.WriteString("version", identity.Version);
            }
            foreach (var (name, entry) in report.Entries)
            {
                foreach (var (key, value) in entry.Data)
                {
                    json.WritePropertyName(key);
                    JsonSerializer.Serialize(json, value, value.GetType());
                }
                if (entry.Data.Count == 0 && entry.Status != HealthStatus.Healthy)
                {
                    // A check that threw or reported no data: its reason under its name.
                    json.WriteString(name, entry.Description ?? entry.Exception?.Message ?? entry.Status.ToString());
                }
            }
            json.WriteEndObject();
        }
        await http.Response.Body.WriteAsync(buffer.ToArray(), http.RequestAborted);
    }
}
