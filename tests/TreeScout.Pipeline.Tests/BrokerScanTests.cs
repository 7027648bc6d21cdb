using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using TreeScout.Capture;
using TreeScout.Cli.RunControl;
using TreeScout.Cli.Scanning;
using TreeScout.Tests;
using Xunit;
using Xunit.Abstractions;

namespace TreeScout.Pipeline.Tests;

/// <summary>
/// The same recording scanned with every worker as its own process on the real RabbitMQ (the broker .ci/run starts)
/// gives the same per-tree map as the embedded scan.
/// </summary>
[Collection(ScanCollection.Name)]
[Trait("Category", "Integration")]
public sealed class BrokerScanTests(ScanFixture scan, ITestOutputHelper output)
{
    [Fact]
    public async Task Workers_as_processes_on_RabbitMQ_produce_the_same_tree_map_as_the_embedded_scan()
    {
        await using var vhost = await TestBroker.CreateVhostAsync("pipeline");
        var storeRoot = Path.Combine(scan.Root, "broker-store");
        await using var workers = await PipelineWorkers.StartAsync(vhost.Uri, storeRoot, output);

        var outDirectory = Path.Combine(scan.Root, "rabbitmq");
        var pipeline = new ScanPipeline(new ConfigurationBuilder().Build(), NullLoggerFactory.Instance, TextWriter.Null);
        await using var session = await BrokerSession.ConnectAsync(vhost.Uri.ToString(), null, TextWriter.Null, CancellationToken.None);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var result = await pipeline.RunOnBrokerAsync(session.Bus, new ScanRequest(scan.Recording, outDirectory, ReplayPace.AsFastAsAccepted), timeout.Token);

        Assert.Equal("rabbitmq", result.Mode);
        Assert.StartsWith(storeRoot, result.Map.StorePath, StringComparison.Ordinal);
        var embedded = PerTreeMap.Read(scan.EmbeddedOut);
        var overBroker = PerTreeMap.Read(outDirectory);
        output.WriteLine($"embedded: {scan.Embedded.Map.Observations} observations; rabbitmq: {result.Map.Observations} observations");
        foreach (var tree in embedded.Keys)
        {
            output.WriteLine($"{tree}: embedded {embedded[tree]} | rabbitmq {overBroker.GetValueOrDefault(tree, "-")}");
        }
        Assert.Equal(scan.Embedded.Map.Observations, result.Map.Observations);
        Assert.Equal(embedded, overBroker);
    }
}
