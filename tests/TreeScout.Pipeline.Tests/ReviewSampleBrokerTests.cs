using System.Net;
using System.Text;
using RabbitMQ.Client;
using TreeScout.Cli.RunControl;
using TreeScout.Contracts;
using TreeScout.Labelling;
using TreeScout.Messaging;
using TreeScout.Tests;
using Xunit;
using Xunit.Abstractions;

namespace TreeScout.Pipeline.Tests;

/// <summary>A frame kept for review reaches the map writer process over RabbitMQ; copies change nothing; a broken one is dead-lettered.</summary>
[Trait("Category", "Integration")]
public sealed class ReviewSampleBrokerTests(ITestOutputHelper output) : IDisposable
{
    private const string RunId = "20260421-091200-review-broker";
    private readonly string _storeRoot = Directory.CreateTempSubdirectory("treescout-review-broker-").FullName;

    public void Dispose() => Directory.Delete(_storeRoot, recursive: true);

    [Fact]
    public async Task A_sample_is_written_once_by_the_map_writer_and_a_sample_with_a_broken_image_is_dead_lettered_with_the_reason()
    {
        await using var vhost = await TestBroker.CreateVhostAsync("review");
        var (process, port) = PipelineWorkers.Start("TreeScout.MapWriter", vhost.Uri, _storeRoot, output);
        await using var mapWriter = process;
        await HealthEndpoint.WaitForStatusAsync(port, "/readyz", HttpStatusCode.OK, TimeSpan.FromSeconds(90));
        await using var session = await BrokerSession.ConnectAsync(vhost.Uri.ToString(), null, TextWriter.Null, CancellationToken.None);

        var jpeg = await File.ReadAllBytesAsync(Path.Combine(RepoPaths.Samples, "detector-heldout", "frames", "0000.jpg"));
        var sample = new ReviewFrameSampled
        {
            MessageId = MessageIds.For(RunId, "review-sample", 40),
            RunId = RunId,
            FrameMessageId = MessageIds.For(RunId, "frame", 40),
            Sequence = 40,
            CameraId = "cam-right",
            CapturedAtUtc = new DateTimeOffset(2026, 4, 21, 9, 12, 10, TimeSpan.Zero),
            Width = 1280,
            Height = 720,
            Jpeg = jpeg,
            Detector = new ModelIdentity("blossom-detector", "3", "aa"),
            StageClassifier = new ModelIdentity("bbch-stage", "2", "bb"),
            Detections = [new BlossomDetection { X = 100, Y = 200, W = 40, H = 30, Score = 0.42f, Stage = BbchStage.Bbch65, StageProbabilities = [0, 0.2f, 0.8f, 0, 0] }],
            Reason = ReviewSampleReason.EveryNth,
            Uncertainty = 0.6,
            WindowFrames = 50,
        };
        await session.Bus.PublishAsync(new RunStarted
        {
            MessageId = MessageIds.For(RunId, "run-started", 0),
            RunId = RunId,
            StartedAtUtc = sample.CapturedAtUtc.AddSeconds(-10),
            Block = "Noord 3",
            Cameras = [],
            Source = "test",
        });
        await session.Bus.PublishAsync(sample);
        // A redelivery (same id) and a second publication of the same frame (another id): neither adds anything.
        await session.Bus.PublishAsync(sample);
        await session.Bus.PublishAsync(sample with { MessageId = Guid.NewGuid(), Uncertainty = 0.9 });
        await session.Bus.PublishAsync(sample with { MessageId = Guid.NewGuid(), Sequence = 41, Jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3] });

        var factory = new ConnectionFactory { Uri = vhost.Uri };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        var deadLetterQueue = new Topology(new TopologyOptions()).Queue(Topology.MapWriterObservationsQueue).DeadLetterQueue;
        BasicGetResult? deadLettered = null;
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (deadLettered is null || await channel.MessageCountAsync(Topology.MapWriterObservationsQueue) > 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the map writer did not dead-letter the broken sample within 90 s");
            deadLettered ??= await channel.BasicGetAsync(deadLetterQueue, autoAck: true);
            await Task.Delay(200);
        }

        var reason = Encoding.UTF8.GetString((byte[])deadLettered.BasicProperties.Headers![WireHeaders.Error]!);
        output.WriteLine(reason);
        Assert.Contains("camera cam-right, frame 41", reason, StringComparison.Ordinal);
        Assert.Contains("image is not a JPEG", reason, StringComparison.Ordinal);
        var review = new ReviewFolder(Path.Combine(_storeRoot, RunId));
        Assert.Equal([SampleId.Of("cam-right", 40)], review.SampleIds());
        var stored = review.Sample(SampleId.Of("cam-right", 40))!;
        Assert.Equal((0.6, "Noord 3", SampleReason.EveryNth), (stored.Uncertainty, stored.BlockId, stored.Reason));
        Assert.Equal([new ProposedBox(100, 200, 40, 30, 0.42f, BbchStage.Bbch65)], stored.Proposals);
        Assert.Equal(jpeg, await File.ReadAllBytesAsync(review.ImagePath(stored.Id)));
        Assert.Null(await channel.BasicGetAsync(deadLetterQueue, autoAck: true));
    }
}
