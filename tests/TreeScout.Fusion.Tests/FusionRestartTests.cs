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

    /// <summary>
    /// Float GNSS: each registered pass's clusters are shown on the map when their tracks leave the view, at the position
    /// GNSS gives, and corrected (same id, higher revision) once the pass is registered; their frames stay unacknowledged
    /// until the corrected version is published, and a crash replays the same ids and revisions.
    /// </summary>
    [Fact]
    public async Task Provisional_observations_are_corrected_under_their_id_and_hold_their_frames_until_then()
    {
        var scan = SimulatedScan.FromRecording(recordings.For(FusionAccuracyTests.Base(24) with { TreesPerRow = 5, Gnss = GnssFixType.Float }), DetectionNoise.Realistic, "sim-provisional");
        var messages = scan.ArrivalOrder(TimeSpan.Zero).ToList();
        var options = new FusionOptions { ProgressInterval = TimeSpan.FromSeconds(1) };

        var clean = await FuseAsync(scan, messages, options, crashAfter: null);
        var crashed = await FuseAsync(scan, messages, options, crashAfter: messages.Count / 2);

        var byId = clean.Published.GroupBy(p => p.Observation.ObservationId).ToList();
        var corrected = byId.Where(g => g.Count() > 1).ToList();
        Assert.True(corrected.Count > 20, $"{corrected.Count} of {byId.Count} observations corrected");
        foreach (var versions in byId)
        {
            // Published in revision order 1, 2, …, each one differing from the one before.
            Assert.Equal(Enumerable.Range(1, versions.Count()), versions.Select(v => v.Observation.Revision));
            Assert.All(versions.Zip(versions.Skip(1)), pair => Assert.NotEqual(
                (pair.First.Observation.Latitude, pair.First.Observation.Longitude, pair.First.Observation.TreeId),
                (pair.Second.Observation.Latitude, pair.Second.Observation.Longitude, pair.Second.Observation.TreeId)));
            // Every version but the last went out while the cluster's frames were still unacknowledged.
            Assert.All(versions.SkipLast(1), v => Assert.False(v.LastFrameAcknowledged, $"{v.Observation.ObservationId} r{v.Observation.Revision}"));
        }
        var shown = Summary(clean.Observations);
        Assert.Equal(clean.Fused.ObservationsPublished, shown.Count);
        Assert.Equal(shown, Summary(crashed.Observations));
    }

    /// <summary>What the map shows at the end: each id's highest revision, unless that took it off the map.</summary>
    private static List<(Guid, int, string?, double, double)> Summary(IEnumerable<BlossomClusterObservation> observations) =>
        [.. observations.GroupBy(o => o.ObservationId).Select(g => g.MaxBy(o => o.Revision)!).Where(o => !o.Retracted)
            .OrderBy(o => o.ObservationId).Select(o => (o.ObservationId, o.Revision, o.TreeId, o.Latitude, o.Longitude))];

    private sealed record Outcome(List<BlossomClusterObservation> Observations, List<(BlossomClusterObservation Observation, bool LastFrameAcknowledged)> Published, RunFused Fused, int CrashAfter, int Redelivered);

    /// <summary>
    /// Feeds the run's messages 50 ms apart. With <paramref name="crashAfter"/>, the process is dropped after that many
    /// messages; a new one restores the last progress checkpoint, gets the unacknowledged messages again, then the rest.
    /// </summary>
    private static async Task<Outcome> FuseAsync(SimulatedScan scan, List<IMessage> messages, FusionOptions options, int? crashAfter)
    {
        var (rows, projection) = scan.PlanRows();
        var start = scan.Started.StartedAtUtc;
        var acks = new Ack[messages.Count];
        var frames = messages.Select((m, i) => (m, i)).Where(x => x.m is FrameDetections).ToDictionary(x => (((FrameDetections)x.m).CameraId, ((FrameDetections)x.m).Sequence), x => x.i);
        var publisher = new Collector(o => acks[frames[(o.CameraId, o.LastFrameSequence)]]?.Done ?? false);
        var fusion = new RunFusion(scan.Started, options, rows, projection, start);
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
        return new(publisher.Observations, publisher.Published, publisher.Fused, crashAfter ?? 0, redelivered);

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

    /// <summary>Keeps what fusion publishes; <paramref name="acknowledged"/> says whether an observation's last frame was acknowledged when it went out.</summary>
    private sealed class Collector(Func<BlossomClusterObservation, bool> acknowledged) : IMessagePublisher
    {
        public List<BlossomClusterObservation> Observations { get; } = [];

        public List<(BlossomClusterObservation, bool)> Published { get; } = [];

        public List<RunFusionProgress> Progress { get; } = [];

        public RunFused? Fused { get; private set; }

        public Task PublishAsync(IMessage message, CancellationToken cancellationToken = default)
        {
            switch (message)
            {
                case TreeObservations batch:
                    Observations.AddRange(batch.Observations);
                    Published.AddRange(batch.Observations.Select(o => (o, acknowledged(o))));
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
