using Microsoft.Extensions.Logging.Abstractions;
using TreeScout.Contracts;
using TreeScout.Messaging;

namespace TreeScout.WebConsole.Tests;

/// <summary>
/// Heartbeats of a capture worker (and any others given) on a test broker every 250 ms, as the real workers send them;
/// <see cref="Filming"/> switches the run capture reports. Also publishes what else a tractor would (GNSS fixes).
/// </summary>
public sealed class FakeCapture : IAsyncDisposable
{
    public const string Instance = "capture@tractor-1";

    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private volatile string _runId = WorkerStatus.IdleRunId;
    private long _frames;

    private FakeCapture(RabbitMqMessageBus bus, string[] others)
    {
        Bus = bus;
        _loop = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                _frames += 5;
                await bus.PublishAsync(Status("capture", Instance, _runId, new Dictionary<string, long> { ["frames_captured"] = _frames, ["frames_shed"] = 2 }));
                foreach (var worker in others)
                {
                    await bus.PublishAsync(Status(worker, $"{worker}@tractor-1", _runId, new Dictionary<string, long>()));
                }
                await Task.Delay(250);
            }
        });
    }

    public RabbitMqMessageBus Bus { get; }

    /// <summary>The run capture reports as filming (idle: none).</summary>
    public string Filming
    {
        get => _runId;
        set => _runId = value;
    }

    public static async Task<FakeCapture> StartAsync(Uri broker, params string[] otherWorkers)
    {
        var options = new BrokerOptions { Uri = broker.ToString() };
        var bus = new RabbitMqMessageBus(options, new Topology(options.Topology), "test", new MessagingMetrics(), NullLogger<RabbitMqMessageBus>.Instance);
        await bus.StartAsync(CancellationToken.None);
        await bus.WhenConnectedAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(60));
        return new FakeCapture(bus, otherWorkers);
    }

    public static WorkerStatus Status(string worker, string instance, string runId, IReadOnlyDictionary<string, long> counters) => new()
    {
        MessageId = Guid.NewGuid(),
        RunId = runId,
        Worker = worker,
        Instance = instance,
        Version = "0.1.0",
        AtUtc = DateTimeOffset.UtcNow,
        Ready = true,
        Counters = counters,
    };

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        await Bus.DisposeAsync();
        _stop.Dispose();
    }
}
