using TreeScout.Fusion.Bench;
using Xunit.Abstractions;

namespace TreeScout.Fusion.Tests;

/// <summary>Fusion end to end on synthetic scenes with known truth (the embedded bus, the real worker module).</summary>
public sealed class FusionSceneTests(ITestOutputHelper output)
{
    private async Task<SceneScore> ScoreAsync(string name, SceneSpec spec, IDictionary<string, string?>? settings = null)
    {
        var scene = SyntheticOrchard.Generate(spec, $"test-{name}");
        var result = await FusionHarness.RunAsync(FusionHarness.ArrivalOrder(scene, TimeSpan.FromMilliseconds(120)), output, settings);
        var score = SceneScore.Of(name, scene, result.Observations);
        if (Environment.GetEnvironmentVariable("FUSION_DEBUG") is not null)
        {
            var origin = scene.Frames.SelectMany(f => f.Detections.Select((d, i) => (Id: TreeScout.Contracts.MessageIds.Derive(f.MessageId, $"cluster/{i}"), Cluster: scene.DetectionTruth[(f.MessageId, i)]))).ToDictionary(x => x.Id, x => x.Cluster);
            foreach (var g in result.Observations.GroupBy(o => origin[o.ObservationId]).Where(g => g.Count() > 1 || g.Key < 0).Take(15))
            {
                output.WriteLine($"cluster {g.Key}: " + string.Join(" | ", g.Select(o => $"{o.CameraId} {o.FirstFrameSequence}-{o.LastFrameSequence} n={o.FramesSeen} {o.TreeId} h={o.HeightM:F2}")));
            }
        }
        output.WriteLine(SceneScore.Table([score]));
        output.WriteLine($"RunFused: observations {result.Fused.ObservationsPublished}, frames fused {result.Fused.FramesFused}, without pose {result.Fused.FramesWithoutPose}, missing {result.Fused.FramesMissing}, clock offset {result.Fused.ClockOffsetMs:F1} ms");
        return score;
    }

    [Fact]
    public async Task Rtk_fixed_straight_rows_put_clusters_on_the_right_tree()
    {
        var score = await ScoreAsync("rtk-straight", new SceneSpec());
        Assert.True(score.CorrectTreeRate >= 0.99, $"correct tree {score.CorrectTreeRate:P1}");
        Assert.True(score.PositionErrorP95M <= 0.15, $"p95 {score.PositionErrorP95M:F3} m");
    }
}
