using TreeScout.Detection.Inference;

namespace TreeScout.Detection.Tests;

[Trait("Category", "Unit")]
public class NonMaxSuppressionTests
{
    [Fact]
    public void Iou_of_known_boxes()
    {
        var a = new ClusterBox(0, 0, 10, 10, 1);
        Assert.Equal(1f, a.IntersectionOverUnion(a));
        Assert.Equal(25f / 175f, a.IntersectionOverUnion(new ClusterBox(5, 5, 10, 10, 1)), 5);
        Assert.Equal(0f, a.IntersectionOverUnion(new ClusterBox(10, 0, 10, 10, 1)));
    }

    [Fact]
    public void Overlapping_weaker_box_is_suppressed_disjoint_box_kept_best_first()
    {
        var boxes = new[]
        {
            new ClusterBox(0, 0, 10, 10, 0.6f),
            new ClusterBox(1, 1, 10, 10, 0.9f),   // overlaps the first (IoU 0.68)
            new ClusterBox(50, 50, 10, 10, 0.7f),
        };
        var kept = NonMaxSuppression.Apply(boxes, 0.5f, 100);
        Assert.Equal([0.9f, 0.7f], kept.Select(b => b.Score));
        Assert.Equal(1f, kept[0].X);
    }

    [Fact]
    public void Overlap_below_the_threshold_keeps_both()
    {
        var boxes = new[] { new ClusterBox(0, 0, 10, 10, 0.9f), new ClusterBox(5, 5, 10, 10, 0.8f) };
        Assert.Equal(2, NonMaxSuppression.Apply(boxes, 0.5f, 100).Count);
        Assert.Single(NonMaxSuppression.Apply(boxes, 0.1f, 100));
    }

    [Fact]
    public void At_most_max_kept_boxes_the_best_ones()
    {
        var boxes = Enumerable.Range(0, 10).Select(i => new ClusterBox(i * 20, 0, 10, 10, i / 10f)).ToList();
        var kept = NonMaxSuppression.Apply(boxes, 0.5f, 3);
        Assert.Equal([0.9f, 0.8f, 0.7f], kept.Select(b => b.Score));
    }

    [Fact]
    public void Clip_keeps_boxes_inside_the_image()
    {
        var b = new ClusterBox(-5, 95, 20, 20, 1).ClipTo(100, 100);
        Assert.Equal((0f, 95f, 15f, 5f), (b.X, b.Y, b.W, b.H));
    }
}
