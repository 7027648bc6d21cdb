using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Prometheus;
using Serilog;
using Serilog.Formatting.Compact;
using TreeScout.Messaging;

namespace TreeScout.Hosting;

/// <summary>
/// Builds and runs a worker process the same way for every worker (eShop ServiceDefaults style):
/// configuration from appsettings + TREESCOUT__ environment variables, validated options, Serilog,
/// the RabbitMQ bus, status heartbeats, and /healthz, /readyz, /metrics on a small Kestrel listener.
/// </summary>
public static class WorkerHost
{
    public const string EnvironmentPrefix = "TREESCOUT__";

    public static WebApplicationBuilder CreateBuilder(string[] args, IWorkerModule module)
    {
        var role = module.Role;
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.AddEnvironmentVariables(EnvironmentPrefix);
        var identity = WorkerIdentity.For(role);
        var services = builder.Services;

        services.AddSingleton(identity);
        services.AddSingleton<WorkerCounters>();
        services.AddSingleton<WorkerWarnings>();
        services.AddSingleton<ActiveRun>();
        services.AddSingleton<WorkerGnssStatus>();
        services.AddSingleton<MessagingMetrics>();

        services.AddValidatedOptions<BrokerOptions>(builder.Configuration, BrokerOptions.Section)
            .Validate(o => !o.IsEmbedded, "Broker:Uri (env TREESCOUT__Broker__Uri) is required for a worker process; the embedded single-process mode is `treescout scan`.");
        services.AddValidatedOptions<HealthOptions>(builder.Configuration, HealthOptions.Section);
        services.AddValidatedOptions<StatusOptions>(builder.Configuration, StatusOptions.Section);
        services.AddValidatedOptions<LoggingFormatOptions>(builder.Configuration, "Logging");

        services.AddSingleton(sp => new Topology(sp.GetRequiredService<IOptions<BrokerOptions>>().Value.Topology));
        services.AddSingleton<IMessageBus>(sp => new RabbitMqMessageBus(
            sp.GetRequiredService<IOptions<BrokerOptions>>().Value,
            sp.GetRequiredService<Topology>(),
            identity.Worker,
            sp.GetRequiredService<MessagingMetrics>(),
            sp.GetRequiredService<ILogger<RabbitMqMessageBus>>()));
        services.AddHostedService<BusService>();
        services.AddHostedService<StatusHeartbeatService>();

        // Leave time for the in-flight message to finish and be acknowledged (k8s terminationGracePeriodSeconds is longer).
        services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(25));

        var health = builder.Configuration.GetSection(HealthOptions.Section).Get<HealthOptions>() ?? new HealthOptions();
        builder.WebHost.UseUrls($"http://{health.BindAddress}:{health.Port}");

        var format = builder.Configuration.GetValue<string>("Logging:Format") ?? "auto";
        services.AddSerilog((sp, log) => ConfigureSerilog(log, builder.Configuration, identity, sp.GetRequiredService<ActiveRun>(), format));
        module.ConfigureServices(services, builder.Configuration);
        return builder;
    }

    /// <summary>Options bound from a configuration section, validated (data annotations) when the host starts.</summary>
    public static OptionsBuilder<T> AddValidatedOptions<T>(this IServiceCollection services, IConfiguration configuration, string section)
        where T : class =>
        services.AddOptions<T>().Bind(configuration.GetSection(section)).ValidateDataAnnotations().ValidateOnStart();

    public static void ConfigureSerilog(LoggerConfiguration log, IConfiguration configuration, WorkerIdentity identity, ActiveRun activeRun, string format)
    {
        log.ReadFrom.Configuration(configuration)
            .MinimumLevel.Information()
            .MinimumLevel.Override("Microsoft.AspNetCore", Serilog.Events.LogEventLevel.Warning)
            .Enrich.FromLogContext()
            .Enrich.WithProperty("Worker", identity.Worker)
            .Enrich.WithProperty("Version", identity.Version)
            .Enrich.With(new RunIdEnricher(activeRun));
        var json = format == "json" || (format == "auto" && (Console.IsOutputRedirected || Environment.GetEnvironmentVariable("DOTNET_RUNNING_IN_CONTAINER") == "true"));
        if (json)
        {
            log.WriteTo.Console(new RenderedCompactJsonFormatter());
        }
        else
        {
            log.WriteTo.Console(outputTemplate: "{Timestamp:HH:mm:ss.fff} {Level:u3} [{Worker} {RunId}] {Message:lj}{NewLine}{Exception}", formatProvider: System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    /// <summary>Maps the health, readiness and metrics endpoints and runs until SIGTERM.</summary>
    public static async Task<int> RunAsync(WebApplicationBuilder builder)
    {
        WebApplication app;
        try
        {
            app = builder.Build();
        }
        catch (Exception ex)
        {
            await Console.Error.WriteLineAsync($"treescout: cannot start: {ex.Message}");
            return 2;
        }
        MapHealthEndpoints(app);
        try
        {
            await app.RunAsync();
            return 0;
        }
        catch (OptionsValidationException ex)
        {
            // One clear line naming the setting, instead of a stack trace and a crash loop of the same.
            app.Services.GetRequiredService<ILogger<WebApplication>>().LogCritical("Invalid configuration: {Failures}", string.Join("; ", ex.Failures));
            return 2;
        }
    }

    public static void MapHealthEndpoints(WebApplication app)
    {
        var bus = app.Services.GetRequiredService<IMessageBus>();
        var identity = app.Services.GetRequiredService<WorkerIdentity>();
        var warnings = app.Services.GetRequiredService<WorkerWarnings>();
        app.MapGet("/healthz", () => Results.Text(JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["status"] = "alive",
            ["worker"] = identity.Worker,
            ["version"] = identity.Version,
            ["bus"] = bus.State,
            ["warnings"] = warnings.Snapshot(),
        }), "application/json"));
        app.MapGet("/readyz", () => bus.IsReady
            ? Results.Text("{\"status\":\"ready\"}", "application/json")
            : Results.Text(JsonSerializer.Serialize(new Dictionary<string, string> { ["status"] = "not ready", ["bus"] = bus.State }), "application/json", statusCode: StatusCodes.Status503ServiceUnavailable));
        app.MapMetrics("/metrics");
    }
}
