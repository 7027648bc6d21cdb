using Microsoft.Extensions.Logging.Abstractions;
using TreeScout.Contracts;
using TreeScout.Messaging;

namespace TreeScout.Capture.Tests;

/// <summary>The embedded in-memory broker with a connection for the code under test and listeners that record what was published.</summary>
public sealed class BusProbe : IAsyncDisposable
{
    private readonly List<IAsyncDisposable> _listeners = [];

    private BusProbe(InMemoryBroker broker, InMemoryMessageBus bus)
    {
        Broker = broker;
        Bus = bus;
    }

    public InMemoryBroker Broker { get; }

    public InMemoryMessageBus Bus { get; }

    public List<FrameCaptured> Frames { get; } = [];

    public List<RunStopped> Stops { get; } = [];

    public TaskCompletionSource<RunStopped> Stopped { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public static Task<BusProbe> StartAsync(TopologyOptions? topology = null) =>
        ListenOn(new InMemoryBroker(new Topology(topology ?? new TopologyOptions())));

    public static async Task<BusProbe> ListenOn(InMemoryBroker broker)
    {
        var probe = new BusProbe(broker, Connect(broker, "capture-test"));
        await probe.Bus.StartAsync(CancellationToken.None);
        probe._listeners.Add(await probe.Bus.ListenAsync(Topology.FramesExchange, "#", e =>
        {
            lock (probe.Frames)
            {
                probe.Frames.Add((FrameCaptured)MessageCodec.Decode(e));
            }
            return Task.CompletedTask;
        }, CancellationToken.None));
        probe._listeners.Add(await probe.Bus.ListenAsync(Topology.ControlExchange, "run.stopped", e =>
        {
            var stopped = (RunStopped)MessageCodec.Decode(e);
            lock (probe.Stops)
            {
                probe.Stops.Add(stopped);
            }
            probe.Stopped.TrySetResult(stopped);
            return Task.CompletedTask;
        }, CancellationToken.None));
        return probe;
    }

    public static InMemoryMessageBus Connect(InMemoryBroker broker, string name) =>
        new(broker, name, new BrokerOptions(), new MessagingMetrics(), NullLogger<InMemoryMessageBus>.Instance);

    public async ValueTask DisposeAsync()
    {
        foreach (var l in _listeners)
        {
            await l.DisposeAsync();
        }
        await Bus.DisposeAsync();
    }
}
