using TreeScout.Contracts;
using TreeScout.Messaging;
using TreeScout.Tests;
using Xunit.Abstractions;

namespace TreeScout.RunControl.Tests;

/// <summary>`treescout run start` while the tractor's broker is down (a power cut): it waits, says so, and starts the run once the broker is back.</summary>
[Trait("Category", "Disruptive")]
public sealed class RunStartOutageTests(ITestOutputHelper output) : IDisposable
{
    private const string EarlierRun = "20260421-080000-zuid-1-0a0a";
    private readonly string _dir = Directory.CreateTempSubdirectory("ts-run-outage-").FullName;

    [Fact]
    public async Task Run_start_with_the_broker_down_prints_the_waiting_line_and_starts_the_run_when_the_broker_is_back()
    {
        await using var node = await OwnBrokerNode.StartAsync("runstart");
        var declaring = await Heartbeats.ConnectAsync(node.Uri); // a client declares the topology when it connects
        await declaring.DisposeAsync();
        // A clean restart saves the new quorum queues, which a power cut right after declaring them can lose (OwnBrokerNode.KillAsync).
        await node.StopAsync();
        await node.StartAgainAsync();
        // Confirmed before the power cut, so it must still be queued after the node boots again on the same data.
        await using (var before = await Heartbeats.ConnectAsync(node.Uri))
        {
            await before.PublishAsync(new RunStopRequested { MessageId = Guid.NewGuid(), RunId = EarlierRun, RequestedAtUtc = DateTimeOffset.UtcNow, RequestedBy = "test" });
        }
        await node.KillAsync();

        var cameras = Path.Combine(_dir, "camera.json");
        File.Copy(Path.Combine(RepoPaths.Samples, "betuwe-rtk-2x12", "camera.json"), cameras);
        await using var start = WorkerProcess.Start(WorkerProcess.ProjectDll("src", "TreeScout.Cli", "treescout"), new Dictionary<string, string>(),
            ["run", "start", "--block", "Noord 3", "--cameras", cameras, "--broker", node.Uri.ToString(), "--listen", "0.5"], l => output.WriteLine("[run start] " + l));
        var waiting = $"waiting for the broker at amqp://guest:***@127.0.0.1:{node.Port}/ (connection refused), ";
        var first = SecondsSoFar(await start.WaitForLineAsync(l => l.StartsWith(waiting, StringComparison.Ordinal), TimeSpan.FromSeconds(60), "the first waiting line"));
        var next = SecondsSoFar(await start.WaitForLineAsync(l => l.StartsWith(waiting, StringComparison.Ordinal) && SecondsSoFar(l) > first, TimeSpan.FromSeconds(20), "the next waiting line"));
        Assert.InRange(next - first, 5, 7); // every 5 s (polled once a second)
        Assert.False(start.HasExited);

        await node.StartAgainAsync();

        Assert.Equal(0, await start.WaitForExitAsync(TimeSpan.FromMinutes(2)));
        var runId = Assert.Single(start.Lines, RunIds.IsValid);
        Assert.Contains(start.Lines, l => l.StartsWith($"the broker at amqp://guest:***@127.0.0.1:{node.Port}/ is back after ", StringComparison.Ordinal));
        Assert.Contains($"started run {runId}: block Noord 3", string.Join('\n', start.Lines), StringComparison.Ordinal);

        await using var capture = await RunCommandTests.ConnectAsync(node.Uri, Topology.CaptureControlQueue, out var control);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (control.Count < 2 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }
        Assert.Equal([$"stop {EarlierRun}", $"start {runId}"], control.Select(m => m switch
        {
            RunStopRequested stop => $"stop {stop.RunId}",
            RunStarted started => $"start {started.RunId}",
            _ => m.GetType().Name,
        }));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>"waiting for the broker at ..., 12 s so far" → 12.</summary>
    private static int SecondsSoFar(string line) => int.Parse(line[(line.LastIndexOf(", ", StringComparison.Ordinal) + 2)..^" s so far".Length], System.Globalization.CultureInfo.InvariantCulture);
}
