using System.IO.Compression;
using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc.ApplicationParts;
using Microsoft.AspNetCore.ResponseCompression;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Options;
using Serilog;
using TreeScout.Hosting;
using TreeScout.Messaging;
using TreeScout.WebConsole.Security;

namespace TreeScout.WebConsole;

/// <summary>
/// Builds and runs the console the same way from its own process (the container) and from `treescout console`:
/// configuration from TREESCOUT__ environment variables (and the command's options), validated options, Serilog like
/// the workers, Razor Pages and the JSON API, cookie sign-in (and HTTP Basic for scripts), the broker link when a broker
/// is configured, and /healthz and /readyz on the shared health checks (WorkerHealth).
/// </summary>
public static class ConsoleHost
{
    public static WebApplicationBuilder CreateBuilder(string[] args, IReadOnlyDictionary<string, string?>? settings = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args });
        builder.Configuration.AddEnvironmentVariables(WorkerHost.EnvironmentPrefix);
        if (settings is not null)
        {
            builder.Configuration.AddInMemoryCollection(settings);
        }
        var services = builder.Services;
        services.AddValidatedOptions<ConsoleOptions>(builder.Configuration, ConsoleOptions.Section);
        services.PostConfigure<ConsoleOptions>(o => o.SeasonStore ??= builder.Configuration[ConsoleOptions.SeasonStoreSetting]);
        services.AddValidatedOptions<BrokerOptions>(builder.Configuration, BrokerOptions.Section);
        services.AddValidatedOptions<LoggingFormatOptions>(builder.Configuration, "Logging");
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(_ => new MessagingMetrics());

        services.AddSingleton<RunCatalog>();
        services.AddSingleton<PrescriptionPreview>();
        services.AddSingleton<RunMaps>();
        // Central mode: the season store, read-only (no migration; readiness waits for the ingest worker's schema).
        services.AddSingleton(sp => Central.SeasonStore.Open(sp.GetRequiredService<IOptions<ConsoleOptions>>().Value.SeasonStore!));
        services.AddSingleton<SeasonRuns>();
        services.AddSingleton<Central.SeasonStoreReadiness>();
        services.AddHostedService<SeasonStoreWatch>();
        services.AddSingleton<IRunSource>(sp => sp.GetRequiredService<IOptions<ConsoleOptions>>().Value.Central ? sp.GetRequiredService<SeasonRuns>() : sp.GetRequiredService<RunMaps>());
        services.AddSingleton<BlockPlans>();
        services.AddSingleton<RunReview>();
        services.AddSingleton<StageReferences>();
        services.AddSingleton<PipelineLink>();
        services.AddHostedService(sp => sp.GetRequiredService<PipelineLink>());
        services.AddSingleton<LiveStatusService>();
        services.AddHostedService(sp => sp.GetRequiredService<LiveStatusService>());
        services.AddSingleton<ConsoleRunControl>();
        services.AddSingleton<ConsoleAccounts>();
        services.AddSingleton<SignInThrottle>();
        services.AddSingleton<BasicAuthentication.VerifiedCredentials>();

        // A block's trees are 2.5 MB of GeoJSON for 3,000 trees; the fastest level keeps the CPU for the pipeline. Server-sent events are not compressed (not in the list): they must reach the page as written.
        services.AddResponseCompression(o =>
        {
            o.Providers.Add<BrotliCompressionProvider>();
            o.Providers.Add<GzipCompressionProvider>();
            o.MimeTypes = [.. ResponseCompressionDefaults.MimeTypes, "application/geo+json"];
        });
        services.Configure<BrotliCompressionProviderOptions>(o => o.Level = CompressionLevel.Fastest);
        services.Configure<GzipCompressionProviderOptions>(o => o.Level = CompressionLevel.Fastest);

        AddSecurity(services);
        services.AddRazorPages(o => o.Conventions.AuthorizeFolder("/", ReadAccess.Policy).AllowAnonymousToPage("/Login"))
            .ConfigureApplicationPartManager(AddConsolePages);
        services.ConfigureHttpJsonOptions(o => Configure(o.SerializerOptions));

        services.AddOptions<KestrelServerOptions>().Configure<IOptions<ConsoleOptions>>((kestrel, console) =>
        {
            kestrel.Listen(IPAddress.Parse(console.Value.BindAddress), console.Value.Port);
            kestrel.Limits.MaxRequestBodySize = BlockPlans.MaxBytes + (64 * 1024);
        });
        services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(10));
        var format = builder.Configuration.GetValue<string>("Logging:Format") ?? "auto";
        var identity = WorkerIdentity.For(WorkerRole.Console);
        services.AddSerilog((sp, log) => WorkerHost.ConfigureSerilog(log, builder.Configuration, identity, new ActiveRun(), format));
        return builder;
    }

    /// <summary>JSON as the API writes it: camelCase, enums by name.</summary>
    public static void Configure(JsonSerializerOptions json)
    {
        json.PropertyNamingPolicy = JsonNamingPolicy.CamelCase;
        json.Converters.Add(new JsonStringEnumConverter());
    }

    public static readonly JsonSerializerOptions Json = CreateJson();

    private static JsonSerializerOptions CreateJson()
    {
        var json = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        Configure(json);
        return json;
    }

    private static void AddSecurity(IServiceCollection services)
    {
        const string Either = "cookie-or-basic";
        services.AddAuthentication(o =>
            {
                o.DefaultScheme = Either;
                o.DefaultChallengeScheme = Either;
            })
            .AddPolicyScheme(Either, "Cookie (pages) or HTTP Basic (scripts)", o =>
                o.ForwardDefaultSelector = context => BasicAuthentication.Carries(context.Request) ? BasicAuthentication.SchemeName : CookieAuthenticationDefaults.AuthenticationScheme)
            .AddCookie(o =>
            {
                o.Cookie.Name = "treescout-console";
                o.Cookie.HttpOnly = true;
                o.Cookie.SameSite = SameSiteMode.Strict;
                o.LoginPath = "/login";
                o.AccessDeniedPath = "/login";
                o.SlidingExpiration = true;
                // The API answers with a status code; only pages are sent to the sign-in form.
                o.Events.OnRedirectToLogin = context => Deny(context.HttpContext, context.RedirectUri, StatusCodes.Status401Unauthorized);
                o.Events.OnRedirectToAccessDenied = context => Deny(context.HttpContext, context.RedirectUri, StatusCodes.Status403Forbidden);
            })
            .AddScheme<Microsoft.AspNetCore.Authentication.AuthenticationSchemeOptions, BasicAuthentication>(BasicAuthentication.SchemeName, null);
        services.AddOptions<CookieAuthenticationOptions>(CookieAuthenticationDefaults.AuthenticationScheme)
            .Configure<IOptions<ConsoleOptions>>((cookie, console) => cookie.ExpireTimeSpan = console.Value.SessionExpiry);
        services.AddSingleton<IAuthorizationHandler, ReadAccess.Handler>();
        services.AddHealthChecks()
            .AddCheck<BrokerLinkHealthCheck>("broker", tags: [WorkerHealth.LiveTag])
            .Add(new Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckRegistration("runs", RunSourceHealth.Of, null, [WorkerHealth.ReadyTag]));
        services.AddAuthorizationBuilder()
            .AddPolicy(ReadAccess.Policy, p => p.AddRequirements(new ReadAccess()))
            .SetFallbackPolicy(new AuthorizationPolicyBuilder().AddRequirements(new ReadAccess()).Build());
        services.AddAntiforgery(o =>
        {
            o.Cookie.Name = "treescout-console-af";
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.HeaderName = "X-CSRF-Token";
        });
    }

    private static Task Deny(HttpContext context, string redirect, int status)
    {
        if (context.Request.Path.StartsWithSegments("/api"))
        {
            context.Response.StatusCode = status;
        }
        else
        {
            context.Response.Redirect(redirect);
        }
        return Task.CompletedTask;
    }

    /// <summary>The console's pages, also when another program (`treescout`) hosts it.</summary>
    private static void AddConsolePages(ApplicationPartManager manager)
    {
        var assembly = typeof(ConsoleHost).Assembly;
        if (manager.ApplicationParts.Any(p => p is AssemblyPart a && a.Assembly == assembly))
        {
            return;
        }
        foreach (var part in ApplicationPartFactory.GetApplicationPartFactory(assembly).GetApplicationParts(assembly))
        {
            manager.ApplicationParts.Add(part);
        }
    }

    /// <summary>Middleware and endpoints, in order.</summary>
    public static void Map(WebApplication app)
    {
        app.UseSerilogRequestLogging(o => o.GetLevel = (context, _, ex) => ex is null && context.Response.StatusCode < 500 ? Serilog.Events.LogEventLevel.Debug : Serilog.Events.LogEventLevel.Warning);
        app.Use(ConsoleApi.Problems);
        app.Use(async (context, next) =>
        {
            var headers = context.Response.Headers;
            headers.XContentTypeOptions = "nosniff";
            headers.XFrameOptions = "DENY";
            headers["Referrer-Policy"] = "same-origin";
            headers.ContentSecurityPolicy = ContentSecurityPolicy(app.Services.GetRequiredService<IOptions<ConsoleOptions>>().Value);
            await next();
        });
        app.UseResponseCompression();
        app.UseStaticFiles(new StaticFileOptions
        {
            FileProvider = new PhysicalFileProvider(Path.Combine(AppContext.BaseDirectory, "wwwroot")),
            // The map library changes only with the console (pinned by package-lock.json): kept a day; the console's own
            // scripts and styles are checked each time (a 304 when unchanged) so an upgrade shows at once.
            OnPrepareResponse = file => file.Context.Response.Headers.CacheControl =
                file.Context.Request.Path.StartsWithSegments("/lib") ? "public, max-age=86400" : "no-cache",
        });
        app.UseRouting();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseAntiforgery();
        ConsoleApi.Map(app);
        SignInEndpoints.Map(app);
        app.MapRazorPages();
    }

    /// <summary>Scripts, styles and images from the console only; map tiles only from the configured background, if any.</summary>
    private static string ContentSecurityPolicy(ConsoleOptions options)
    {
        var tiles = options.BackgroundTiles is { Length: > 0 } url && Uri.TryCreate(url.Replace("{z}", "0", StringComparison.Ordinal).Replace("{x}", "0", StringComparison.Ordinal).Replace("{y}", "0", StringComparison.Ordinal), UriKind.Absolute, out var u)
            ? " " + u.GetLeftPart(UriPartial.Authority)
            : "";
        return $"default-src 'self'; img-src 'self' data: blob:{tiles}; connect-src 'self'{tiles}; style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'; form-action 'self'";
    }

    /// <summary>Builds the console, validates every option now (throws <see cref="OptionsValidationException"/>) and maps its endpoints; not started.</summary>
    public static WebApplication Build(WebApplicationBuilder builder)
    {
        var app = builder.Build();
        foreach (var validator in app.Services.GetServices<IStartupValidator>())
        {
            validator.Validate();
        }
        Map(app);
        return app;
    }

    /// <summary>
    /// Validates the configuration (exit 2 with one line naming the setting), then serves until SIGTERM or Ctrl-C (exit 0);
    /// exit 1 when it cannot start for another reason (the port is taken).
    /// </summary>
    public static async Task<int> RunAsync(WebApplicationBuilder builder, TextWriter? started = null)
    {
        WebApplication app;
        try
        {
            app = Build(builder);
        }
        catch (OptionsValidationException ex)
        {
            await Console.Error.WriteLineAsync($"console: invalid configuration: {string.Join("; ", ex.Failures)}");
            return WorkerHost.ConfigurationError;
        }
        try
        {
            await app.StartAsync();
            var options = app.Services.GetRequiredService<IOptions<ConsoleOptions>>().Value;
            var link = app.Services.GetRequiredService<PipelineLink>();
            var control = options.Central ? "read-only, no run control" : link.Broker is { } broker ? "run control on " + broker : "no broker: run control is unavailable";
            await (started ?? Console.Error).WriteLineAsync($"console: http://{options.BindAddress}:{options.Port}/ shows {app.Services.GetRequiredService<IRunSource>().Origin}; {control}");
            await app.WaitForShutdownAsync();
            return 0;
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException)
        {
            await Console.Error.WriteLineAsync($"console: cannot start: {ex.Message}");
            return 1;
        }
        finally
        {
            await app.DisposeAsync();
        }
    }
}
