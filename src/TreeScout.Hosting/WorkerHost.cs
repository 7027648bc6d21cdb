using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
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
/// the RabbitMQ bus, status heartbeats, and /healthz, /readyz (<see cref="WorkerHealth"/>), /metrics on a small Kestrel listener.
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
        // A process-wide meter, not one from the host's IMeterFactory: prometheus-net's adapter did not export the latter (measured by WorkerProcessTests).
        services.AddSingleton(_ => new MessagingMetrics());
        services.AddSingleton<WorkerGnssStatus>();

        services.AddValidatedOptions<BrokerOptions>(builder.Configuration, BrokerOptions.Section)
            .Validate(o => !o.IsEmbedded, "Broker:Uri (env TREESCOUT__Broker__Uri) is required for a worker process; the embedded single-process mode is `treescout scan`.");
        services.AddHealthListener(builder.Configuration);
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
        services.AddHostedService<BrokerWaitLogService>();
        services.AddWorkerHealthChecks();

        // Leave time for the in-flight message to finish and be acknowledged (k8s terminationGracePeriodSeconds is longer).
        services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(25));

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
        // Defaults first, so a Serilog section in appsettings or TREESCOUT__Serilog__MinimumLevel__Default=Debug can change them.
        log.MinimumLevel.Information()
            .MinimumLevel.Override("Microsoft.AspNetCore", Serilog.Events.LogEventLevel.Warning)
            .ReadFrom.Configuration(configuration)
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

    /// <summary>
    /// Validates the configuration, maps the health, readiness and metrics endpoints and runs until SIGTERM. Exit codes:
    /// 0 after a graceful stop; 2 for invalid configuration (one line naming the setting, also written to
    /// /dev/termination-log so Kubernetes shows it; retrying cannot fix it, so the process does not keep trying); 1 when
    /// the host cannot start for another reason (e.g. the health port is taken).
    /// </summary>
    public static async Task<int> RunAsync(WebApplicationBuilder builder)
    {
        var worker = WorkerName(builder);
        if (await BuildValidatedAsync(builder) is not { } app)
        {
            return ConfigurationError;
        }
        app.MapWorkerHealthEndpoints();
        app.MapMetrics("/metrics");
        try
        {
            await app.RunAsync();
            return 0;
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException)
        {
            await ReportFatalAsync($"{worker}: cannot start: {ex.Message}");
            return 1;
        }
    }

    /// <summary>
    /// Builds the process with every validated option checked now, before anything resolves one and fails half-way
    /// through starting; null after reporting an invalid one (one line naming the setting, on stderr and in
    /// /dev/termination-log).
    /// </summary>
    public static async Task<WebApplication?> BuildValidatedAsync(WebApplicationBuilder builder)
    {
        try
        {
            var app = builder.Build();
            foreach (var validator in app.Services.GetServices<IStartupValidator>())
            {
                validator.Validate();
            }
            return app;
        }
        catch (Exception ex) when (ex is OptionsValidationException or InvalidOperationException)
        {
            var failures = ex is OptionsValidationException v ? string.Join("; ", v.Failures) : ex.Message;
            await ReportFatalAsync($"{WorkerName(builder)}: invalid configuration: {failures}");
            return null;
        }
    }

    private static string WorkerName(WebApplicationBuilder builder) =>
        builder.Services.Where(d => !d.IsKeyedService).Select(d => d.ImplementationInstance).OfType<WorkerIdentity>().FirstOrDefault()?.Worker ?? "worker";

    /// <summary>Exit code of a worker whose configuration is invalid.</summary>
    public const int ConfigurationError = 2;

    private static async Task ReportFatalAsync(string line)
    {
        await Console.Error.WriteLineAsync(line);
        const string TerminationLog = "/dev/termination-log";
        if (File.Exists(TerminationLog))
        {
            try
            {
                await File.WriteAllTextAsync(TerminationLog, line);
            }
            catch (UnauthorizedAccessException)
            {
                // Not in a pod that provides it: stderr is enough.
            }
        }
    }
}
