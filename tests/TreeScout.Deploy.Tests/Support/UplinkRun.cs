using TreeScout.Contracts;

namespace TreeScout.Deploy.Tests.Support;

/// <summary>
/// One run's messages of the kinds the uplink forwards, in the order the tractor's workers publish them: the start,
/// <c>batches</c> observation batches of one cluster each, the fusion's end, the final map notice, the stop.
/// </summary>
public static class UplinkRun
{
    public static IReadOnlyList<IMessage> Messages(string runId, int batches)
    {
        var at = new DateTimeOffset(2026, 4, 20, 10, 0, 0, TimeSpan.Zero);
        float[] probabilities = [0f, 0f, 0f, 0f, 0.05f, 0.15f, 0.6f, 0.2f, 0f, 0f];
        var messages = new List<IMessage>
        {
            new RunStarted
            {
                MessageId = MessageIds.For(runId, "started", 0), RunId = runId, StartedAtUtc = at, Block = "Noord 3", Variety = "Elstar", Source = "replay:uplink-test",
                Cameras =
                [
                    new CameraMounting
                    {
                        CameraId = "cam-right", Side = CameraSide.Right, LeverArm = new LeverArm(-0.6, 0.25, -1.1), AntennaHeightM = 2.7, YawDeg = 90,
                        ImageWidth = 1280, ImageHeight = 720, Fx = 500, Fy = 500, Cx = 640, Cy = 360,
                    },
                ],
            },
        };
        for (var i = 1; i <= batches; i++)
        {
            messages.Add(new TreeObservations
            {
                MessageId = MessageIds.For(runId, "observations", i), RunId = runId,
                Observations =
                [
                    new BlossomClusterObservation
                    {
                        ObservationId = MessageIds.For(runId, "observation", i), TreeId = $"R01-T{i:000}", RowId = "R01", Latitude = 51.93 + i * 1e-5, Longitude = 5.7,
                        PositionSigmaM = 0.05, LowConfidence = false, Stage = BbchStage.Bbch61, StageProbabilities = probabilities, Score = 0.8f, FramesSeen = 4,
                        FirstFrameSequence = i * 10, LastFrameSequence = i * 10 + 4, CameraId = "cam-right", GnssQuality = GnssQuality.RtkFixed, ObservedAtUtc = at.AddSeconds(i),
                    },
                ],
            });
        }
        var end = at.AddSeconds(batches + 1);
        messages.Add(new RunFused
        {
            MessageId = MessageIds.For(runId, "fused", 0), RunId = runId, ObservationsPublished = batches, FramesFused = batches * 10, FramesWithoutPose = 0, FramesMissing = 0,
            Gnss = new GnssQualitySummary(batches * 10, 0, 0, 0, 0, 0),
        });
        messages.Add(new MapUpdated
        {
            MessageId = MessageIds.For(runId, "map", 1), RunId = runId, Final = true, UpdatedAtUtc = end, Trees = batches, TreesWithClusters = batches,
            Observations = batches, StorePath = $"/var/lib/treescout/runs/{runId}/store.gpkg", Exports = ["exports/trees.geojson"],
        });
        messages.Add(new RunStopped
        {
            MessageId = MessageIds.For(runId, "stopped", 0), RunId = runId, StoppedAtUtc = end, FramesPublished = batches * 10, Reason = "end-of-recording",
        });
        return messages;
    }
}
