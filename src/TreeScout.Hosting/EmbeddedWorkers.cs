using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TreeScout.Messaging;

namespace TreeScout.Hosting;

/// <summary>
/// The embedded default: several workers' modules in one process, each with its own service provider and its
/// own connection to a shared <see cref="InMemoryBroker"/> — as if each were its own process on RabbitMQ.
/// </summary>
public sealed class EmbeddedWorkers : IAsyncDisposable
{
    private readonly List<(ServiceProvider Services, List<IHostedService> Hosted)> _workers = [];

    private EmbeddedWorkers(InMemoryBroker broker) => Broker = broker;

    public InMemoryBroker Broker { get; }

    /// <summary>Worker services by role, e.g. to read a worker's counters after a run.</summary>
    public IReadOnlyDictionary<WorkerRole, IServiceProvider> Services { get; private set; } = new Dictionary<WorkerRole, IServiceProvider>();

    public static async Task<EmbeddedWorkers> StartAsync(
        IEnumerable<IWorkerModule> modules,
        IConfiguration configuration,
        ILoggerFactory loggerFactory,
        CancellationToken cancellationToken)
    {
        var brokerOptions = configuration.GetSection(BrokerOptions.Section).Get<BrokerOptions>() ?? new BrokerOptions();
        var embedded = new EmbeddedWorkers(new InMemoryBroker(new Topology(brokerOptions.Topology)));
        var services = new Dictionary<WorkerRole, IServiceProvider>();
        foreach (var module in modules)
        {
            var provider = embedded.BuildWorker(module, configuration, loggerFactory);
            var hosted = provider.GetServices<IHostedService>().ToList();
            foreach (var service in hosted)
            {
                await service.StartAsync(cancellationToken);
            }
            embedded._workers.Add((provider, hosted));
            services[module.Role] = provider;
        }
        embedded.Services = services;
        return embedded;
    }

    /// <summary>A connection to the shared in-memory broker for a component that is not a worker (e.g. the CLI feeding a recording).</summary>
    public IMessageBus Connect(string name, ILoggerFactory loggerFactory, BrokerOptions? options = null) =>
        new InMemoryMessageBus(Broker, name, options ?? new BrokerOptions(), new MessagingMetrics(), loggerFactory.CreateLogger<InMemoryMessageBus>());

    private ServiceProvider BuildWorker(IWorkerModule module, IConfiguration configuration, ILoggerFactory loggerFactory)
    {
        var identity = WorkerIdentity.For(module.Role);
        var services = new ServiceCollection();
        services.AddSingleton(configuration);
        services.AddSingleton(loggerFactory);
        services.AddSingleton(typeof(ILogger<>), typeof(Logger<>));
        services.AddSingleton(identity);
        services.AddSingleton<WorkerCounters>();
        services.AddSingleton<WorkerWarnings>();
        services.AddSingleton<ActiveRun>();
        services.AddSingleton<WorkerGnssStatus>();
        services.AddSingleton<MessagingMetrics>();
        services.AddValidatedOptions<BrokerOptions>(configuration, BrokerOptions.Section);
        services.AddSingleton<IMessageBus>(sp => new InMemoryMessageBus(
            Broker, identity.Worker, sp.GetRequiredService<IOptions<BrokerOptions>>().Value,
            sp.GetRequiredService<MessagingMetrics>(), sp.GetRequiredService<ILogger<InMemoryMessageBus>>()));
        services.AddSingleton<IHostedService, BusService>();
        module.ConfigureServices(services, configuration);
        var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
        // Same start-time options validation as a worker process.
        foreach (var validator in provider.GetServices<IStartupValidator>())
        {
            validator.Validate();
        }
        return provider;
    }

    public async ValueTask DisposeAsync()
    {
        // Stop in reverse order of start; each bus lets its in-flight handler finish.
        for (var i = _workers.Count - 1; i >= 0; i--)
        {
            foreach (var service in Enumerable.Reverse(_workers[i].Hosted))
            {
                await service.StopAsync(CancellationToken.None);
            }
            await _workers[i].Services.DisposeAsync();
        }
    }
}
