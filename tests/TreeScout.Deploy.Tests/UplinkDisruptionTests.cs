using System.Diagnostics;
using TreeScout.Deploy.Tests.Support;
using TreeScout.Tests.Uplink;
using TreeScout.Tests;
using Xunit.Abstractions;

namespace TreeScout.Deploy.Tests;

/// <summary>
/// The link to the central site drops in the middle of a run: the central broker (a node this test owns, never the
/// shared one) is stopped while the tractor keeps publishing, and started again later. Every message of the run must
/// arrive; the uplink is at-least-once, so a message the central broker stored but whose confirm the drop lost comes
/// again (the central ingest drops copies by observation id). Needs the node on 5672 with rabbitmq_shovel (.ci/run).
/// </summary>
[Trait("Category", "Disruptive")]
public sealed class UplinkDisruptionTests(ITestOutputHelper output)
{
    private const int Batches = 300;

    [Fact]
    public async Task A_run_published_while_the_central_broker_is_down_arrives_complete_once_it_is_back()
    {
        await using var node = await OwnBrokerNode.StartAsync("central");
        var tractorId = $"t{Guid.NewGuid():N}"[..9];
        await using var central = await CentralSite.CreateAsync(BrokerNode.Own(node), tractorId);
        await using var tractor = await TractorSite.CreateAsync(central);
        var run = UplinkRun.Messages($"run-{tractorId}", Batches);

        var clock = Stopwatch.StartNew();
        long backlogWhileDown;
        await using (var bus = tractor.Bus())
        {
            await bus.StartAsync(CancellationToken.None);
            // The run keeps publishing, 20 ms apart, while the link drops under it.
            var publishing = Task.Run(async () =>
            {
                foreach (var message in run)
                {
                    await bus.PublishAsync(message);
                    await Task.Delay(20);
                }
            });
            await Task.Delay(TimeSpan.FromSeconds(2));
            await node.StopAsync();
            output.WriteLine($"central broker stopped at {clock.Elapsed.TotalSeconds:0.0} s");
            await publishing;
            backlogWhileDown = await tractor.BacklogAsync();
            output.WriteLine($"run published at {clock.Elapsed.TotalSeconds:0.0} s; uplink backlog on the tractor while the central broker is down: {backlogWhileDown}; shovel {await tractor.ShovelStateAsync()}");
            await bus.StopAsync(CancellationToken.None);
        }
        Assert.InRange(backlogWhileDown, 1, run.Count);

        await node.StartAgainAsync();
        output.WriteLine($"central broker up again at {clock.Elapsed.TotalSeconds:0.0} s");
        var arrived = await UplinkIntegrationTests.WaitForAsync(central, run.Count, TimeSpan.FromSeconds(90));
        // Copies (at-least-once) would come with the rest; give a late one the time to show.
        arrived.AddRange(await UplinkIntegrationTests.WaitForAsync(central, int.MaxValue, TimeSpan.FromSeconds(2)));

        var ids = arrived.Select(m => m.Envelope.MessageId).ToList();
        var duplicates = ids.Count - ids.Distinct().Count();
        var firstArrivals = ids.Distinct().ToList();
        output.WriteLine($"all {firstArrivals.Count} of {run.Count} messages at the central ingest queue {clock.Elapsed.TotalSeconds:0.0} s after the run began; " +
            $"{duplicates} copies; first arrivals in the run's order: {firstArrivals.SequenceEqual(run.Select(m => m.MessageId))}; tractor backlog {await tractor.BacklogAsync()}");

        Assert.Equal(run.Select(m => m.MessageId).Order(), firstArrivals.Order());
        Assert.Equal(0, await tractor.SettledBacklogAsync());
    }
}
