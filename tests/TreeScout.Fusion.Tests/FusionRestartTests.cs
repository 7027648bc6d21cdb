using TreeScout.Contracts;
using TreeScout.Fusion.Runs;
using TreeScout.Messaging;
using TreeScout.Simulation;
using TreeScout.Tests;

namespace TreeScout.Fusion.Tests;

/// <summary>
/// A fusion process killed in the middle of a run: the next one takes the run up from the run ledger's last
/// <see cref="RunFusionProgress"/> and gets only what was not acknowledged redelivered. The run's observations and its
/// RunFused account (frames fused, without pose, missing, fixes by quality) must equal those of a run fused without a crash.
/// </summary>
[Trait("Category", "Unit")]
public sealed class FusionRestartTests(SimulatedRecordings recordings) : IClassFixture<SimulatedRecordings>
{
    [Theory]
    [InlineData(0.3)]
    [InlineData(0.6)]
    public async Task A_run_taken_up_after_a_crash_counts_every_frame_and_fix_once(double crashAt)
    {
        var scan = SimulatedScan.FromRecording(recordings.For(FusionAccuracyTests.Base(23) with { TreesPerRow = 5 }), DetectionNoise.Realistic, "sim-restart");
        var messages = scan.ArrivalOrder(TimeSpan.Zero).ToList();
        var options = new FusionOptions { ProgressInterval = TimeSpan.FromSeconds(1) };

        var clean = await FuseAsync(scan, messages, options, crashAfter: null);
        var crashed = await FuseAsync(scan, messages, options, crashAfter: (int)(messages.Count * crashAt));

        Assert.True(crashed.Redelivered > 0 && crashed.Redelivered < crashed.CrashAfter, $"{crashed.Redelivered} of {crashed.CrashAfter} messages redelivered");
        Assert.True(clean.Fused.FramesFused > 50, $"{clean.Fused.FramesFused} frames fused");
        Assert.Equal(Summary(clean.Observations), Summary(crashed.Observations));
        Assert.Equal(
            (clean.Fused.FramesFused, clean.Fused.FramesWithoutPose, clean.Fused.FramesMissing, clean.Fused.Gnss),
            (crashed.Fused.FramesFused, crashed.Fused.FramesWithoutPose, crashed.Fused.FramesMissing, crashed.Fused.Gnss));
        Assert.Equal(0, crashed.Fused.FramesMissing);
    }

    private static List<(Guid, string?, double, double)> Summary(IEnumerable<BlossomClusterObservation> observations) =>
        [.. observations.DistinctBy(o => o.ObservationId).OrderBy(o => o.ObservationId).Select(o => (o.ObservationId, o.TreeId, o.Latitude, o.Longitude))];

    private sealed record Outcome(List<BlossomClusterObservation> Observations, RunFused Fused, int CrashAfter, int Redelivered);

    /// <summary>
    /// Feeds the run's messages 50 ms apart. With <paramref name="crashAfter"/>, the process is dropped after that many
    /// messages; a new one restores the last progress checkpoint, gets the unacknowledged messages again, then the rest.
    /// </summary>
    private static async Task<Outcome> FuseAsync(SimulatedScan scan, List<IMessage> messages, FusionOptions options, int? crashAfter)
    {
        var (rows, projection) = scan.PlanRows();
        var start = scan.Started.StartedAtUtc;
        var publisher = new Collector();
        var fusion = new RunFusion(scan.Started, options, rows, projection, start);
        var acks = new Ack[messages.Count];
        var redelivered = 0;
        var now = start;
        for (var i = 0; i < messages.Count; i++)
        {
            if (i == crashAfter)
            {
                fusion = new RunFusion(scan.Started, options, rows, projection, now);
                fusion.Restore(publisher.Progress.Last());
                for (var j = 0; j < i; j++)
                {
                    if (messages[j] is RunStopped stopped)
                    {
                        fusion.Stop(stopped, now); // the stop is a fact in the run ledger
                    }
                    else if (!acks[j].Done)
                    {
                        redelivered++;
                        await DeliverAsync(j);
                    }
                }
            }
            now = start + TimeSpan.FromMilliseconds(50 * i);
            await DeliverAsync(i);
        }
        now += options.QuietTimeout;
        await fusion.AdvanceAsync(publisher, now, (_, _) => { }, CancellationToken.None);
        Assert.NotNull(publisher.Fused);
        return new(publisher.Observations, publisher.Fused, crashAfter ?? 0, redelivered);

        async Task DeliverAsync(int i)
        {
            var ack = acks[i] = new Ack();
            switch (messages[i])
            {
                case GnssFix fix:
                    fusion.AddFix(fix, ack, now);
                    break;
                case FrameDetections frame:
                    fusion.AddFrame(frame, ack, now);
                    break;
                case RunStopped stopped:
                    fusion.Stop(stopped, now);
                    ack.Acknowledge();
                    break;
            }
            await fusion.AdvanceAsync(publisher, now, (_, _) => { }, CancellationToken.None);
        }
    }

    private sealed class Ack : IDeferredAcknowledgement
    {
        public bool Done { get; private set; }

        public void Acknowledge() => Done = true;
    }

    private sealed class Collector : IMessagePublisher
    {
        public List<BlossomClusterObservation> Observations { get; } = [];

        public List<RunFusionProgress> Progress { get; } = [];

        public RunFused? Fused { get; private set; }

        public Task PublishAsync(IMessage message, CancellationToken cancellationToken = default)
        {
            switch (message)
            {
                case TreeObservations batch:
                    Observations.AddRange(batch.Observations);
                    break;
                case RunFusionProgress progress:
                    Progress.Add(progress);
                    break;
                case RunFused fused:
                    Fused ??= fused;
                    break;
            }
            return Task.CompletedTask;
        }
    }
}
