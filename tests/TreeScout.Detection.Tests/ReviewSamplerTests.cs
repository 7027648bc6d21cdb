using TreeScout.Contracts;

namespace TreeScout.Detection.Tests;

[Trait("Category", "Unit")]
public sealed class ReviewSamplerTests
{
    private const string Run = "20260421-091200-test-review";

    /// <summary>What the handler does: ask, publish, record.</summary>
    private static List<(long Sequence, ReviewSampleReason Reason)> Stream(ReviewSampler sampler, IEnumerable<(long Sequence, double Uncertainty)> frames, string camera = "cam-right")
    {
        var published = new List<(long, ReviewSampleReason)>();
        foreach (var (sequence, uncertainty) in frames)
        {
            if (sampler.Choose(Run, camera, sequence, uncertainty) is { } reason)
            {
                published.Add((sequence, reason));
                sampler.Kept(Run, camera, sequence, uncertainty);
            }
        }
        return published;
    }

    internal static readonly double[] Uncertainties = [0.9, 0.2, 0.5, 0.6, 0.4, 0.1, 0.7, 0.5, 0.1, 0.2, 0.25, 0.2];

    [Fact]
    public void Every_nth_frame_and_each_new_most_uncertain_frame_of_its_window_above_the_floor_are_sent()
    {
        // N = 5, W = 4, floor 0.3: windows 0-3, 4-7, 8-11.
        var published = Stream(new ReviewSampler(5, 4, 0.3), Uncertainties.Select((u, i) => ((long)i, u)));

        Assert.Equal(
            [
                (0, ReviewSampleReason.EveryNth), // also window 0's most uncertain: 2 and 3 are not sent
                (4, ReviewSampleReason.Uncertain),
                (5, ReviewSampleReason.EveryNth),
                (6, ReviewSampleReason.Uncertain), // 0.7 beats 4's 0.4; 7's 0.5 does not
                (10, ReviewSampleReason.EveryNth), // window 2 has nothing above the floor
            ],
            published);
    }

    [Fact]
    public void Zero_disables_each_rule_and_cameras_and_runs_have_their_own_windows()
    {
        var frames = Uncertainties.Select((u, i) => ((long)i, u)).ToList();
        Assert.Equal([0L, 5, 10], Stream(new ReviewSampler(5, 0, 0.3), frames).Select(p => p.Sequence));
        Assert.Equal([0L, 4, 6], Stream(new ReviewSampler(0, 4, 0.3), frames).Select(p => p.Sequence));
        Assert.Empty(Stream(new ReviewSampler(0, 0, 0), frames));

        var sampler = new ReviewSampler(0, 4, 0.3);
        Assert.Equal([0L], Stream(sampler, [(0, 0.9)], "cam-left").Select(p => p.Sequence));
        Assert.Equal([1L], Stream(sampler, [(1, 0.5)], "cam-right").Select(p => p.Sequence));
        Assert.Null(sampler.Choose(Run, "cam-left", 2, 0.8));
        Assert.Equal(ReviewSampleReason.Uncertain, sampler.Choose(Run + "-2", "cam-left", 2, 0.8));
    }

    [Fact]
    public void A_frame_not_recorded_as_published_is_offered_again_on_redelivery()
    {
        var sampler = new ReviewSampler(0, 4, 0.3);
        Assert.Equal(ReviewSampleReason.Uncertain, sampler.Choose(Run, "cam", 1, 0.6));
        // The publish failed (no Kept): the redelivered frame is chosen again; once published, an equal one is not.
        Assert.Equal(ReviewSampleReason.Uncertain, sampler.Choose(Run, "cam", 1, 0.6));
        sampler.Kept(Run, "cam", 1, 0.6);
        Assert.Null(sampler.Choose(Run, "cam", 1, 0.6));
        Assert.Null(sampler.Choose(Run, "cam", 2, 0.6));
    }

    private static BlossomDetection Detection(float score, params float[] probabilities) => new()
    {
        X = 1, Y = 1, W = 10, H = 10, Score = score, Stage = BbchStage.Bbch65, StageProbabilities = probabilities,
    };

    [Fact]
    public void Uncertainty_is_the_mean_of_each_detections_larger_doubt_score_near_the_threshold_or_stage_entropy()
    {
        float[] sure = [0, 0, 1, 0, 0];
        float[] uniform = [0.2f, 0.2f, 0.2f, 0.2f, 0.2f];
        Assert.Equal(0, ReviewSampler.Uncertainty([], 0.3f));
        Assert.Equal(0, ReviewSampler.Uncertainty([Detection(1, sure)], 0.3f), 6);
        Assert.Equal(1, ReviewSampler.Uncertainty([Detection(0.3f, sure)], 0.3f), 6);
        Assert.Equal(0.5, ReviewSampler.Uncertainty([Detection(0.65f, sure)], 0.3f), 6);
        Assert.Equal(1, ReviewSampler.Uncertainty([Detection(1, uniform)], 0.3f), 6);
        // Two stages at 50/50 of five: ln 2 / ln 5 = 0.4307; with a sure one, the mean.
        Assert.Equal(Math.Log(2) / Math.Log(5), ReviewSampler.Uncertainty([Detection(0.9f, [0.5f, 0.5f, 0, 0, 0])], 0.3f), 4);
        Assert.Equal((0.5 + 0) / 2, ReviewSampler.Uncertainty([Detection(0.65f, sure), Detection(1, sure)], 0.3f), 6);
    }
}
