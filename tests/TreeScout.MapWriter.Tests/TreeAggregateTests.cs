using TreeScout.Contracts;
using TreeScout.MapWriter;
using TreeScout.MapWriter.Prescription;
using TreeScout.MapWriter.Store;

namespace TreeScout.MapWriter.Tests;

/// <summary>A tree's values from its clusters alone (no store): expected values worked out by hand.</summary>
[Trait("Category", "Unit")]
public sealed class TreeAggregateTests
{
    // Target 2 clusters, so a handful of clusters already lands on the dose curve: 3 clusters → excess 0.5 → 60 % → 600 L/ha.
    private static readonly VarietyProfile Profile = MapWriterTestData.RoundNumbers(targetClustersPerTree: 2);

    private static readonly TreeRecord Planned = new() { TreeId = "R01-T003", RowId = "R01", TreeIndex = 3, InPlan = true, SpacingM = 2.0, Latitude = 51.93, Longitude = 5.7 };

    private static TreeCluster Cluster(BbchStage? stage, double score = 0.8, bool low = false, string camera = "cam-right", long first = 10, long last = 12, double latitude = 51.9301, double longitude = 5.7001) =>
        new(stage, low, score, camera, first, last, latitude, longitude);

    [Fact]
    public void A_planned_tree_counts_its_confident_clusters_per_stage_and_is_prescribed_from_their_total()
    {
        TreeCluster[] clusters =
        [
            Cluster(BbchStage.Bbch61, score: 0.9, first: 10, last: 14),
            Cluster(BbchStage.Bbch65, score: 0.7, first: 12, last: 20),
            Cluster(BbchStage.Bbch65, score: 0.5, camera: "cam-left", first: 10, last: 12),
            Cluster(BbchStage.Bbch65, score: 0.4, low: true, first: 30, last: 30, latitude: 52, longitude: 6),
        ];

        var tree = TreeAggregate.Of(Planned, clusters, Profile);

        Assert.Equal(3, tree.ClustersTotal); // the low-confidence cluster is not counted
        Assert.Equal(1, tree.ClustersAt(BbchStage.Bbch61));
        Assert.Equal(2, tree.ClustersAt(BbchStage.Bbch65));
        Assert.Equal(3, tree.ClustersPerStage.Sum());
        Assert.Equal(1, tree.ClustersLowConfidence);
        Assert.Equal(15, tree.FramesSeen); // cam-right 10–20 (11) and 30 (1), cam-left 10–12 (3)
        Assert.Equal(1.5, tree.DensityPerM!.Value, 12); // 3 clusters / 2 m
        Assert.Equal(0.75, tree.Confidence, 12); // 3 of 4
        Assert.Equal(0.7, tree.MeanScore!.Value, 12); // (0.9 + 0.7 + 0.5) / 3, confident only
        Assert.Equal(0.5, tree.Excess!.Value, 12); // (3 − 2) / 2
        Assert.Equal(60.0, tree.DosePercent!.Value, 12);
        Assert.Equal(600.0, tree.RateLPerHa!.Value, 12);
        Assert.Null(tree.ZoneClass);
        // The plan places it, not its clusters; its identity is kept.
        Assert.Equal((51.93, 5.7), (tree.Latitude, tree.Longitude));
        Assert.Equal(("R01-T003", "R01", 3, 2.0), (tree.TreeId, tree.RowId, tree.TreeIndex, tree.SpacingM));
    }

    [Fact]
    public void A_tree_without_clusters_has_zero_counts_and_the_dose_for_no_blossom()
    {
        var tree = TreeAggregate.Of(Planned, [], Profile);

        Assert.Equal(0, tree.ClustersTotal);
        Assert.All(tree.ClustersPerStage, n => Assert.Equal(0, n));
        Assert.Equal(BbchStages.Count, tree.ClustersPerStage.Count);
        Assert.Equal(0, tree.ClustersLowConfidence);
        Assert.Equal(0, tree.FramesSeen);
        Assert.Equal(0.0, tree.DensityPerM);
        Assert.Equal(0.0, tree.Confidence); // no clusters: 0, not a division by zero
        Assert.Null(tree.MeanScore);
        Assert.Equal(-1.0, tree.Excess!.Value, 12); // (0 − 2) / 2: curve 0 %, clamped up to the 10 % minimum
        Assert.Equal(10.0, tree.DosePercent!.Value, 12);
        Assert.Equal(100.0, tree.RateLPerHa!.Value, 12);
    }

    [Theory]
    [InlineData(null)]
    [InlineData(0.0)]
    public void Density_is_unknown_while_the_spacing_is(double? spacing)
    {
        var tree = TreeAggregate.Of(Planned with { SpacingM = spacing }, [Cluster(BbchStage.Bbch65), Cluster(BbchStage.Bbch65)], Profile);

        Assert.Null(tree.DensityPerM);
        Assert.Equal(2, tree.ClustersTotal); // everything else does not depend on it
        Assert.Equal(0.0, tree.Excess!.Value, 12);
    }

    [Fact]
    public void One_stage_only_and_an_unknown_stage_label_count_in_the_total()
    {
        var tree = TreeAggregate.Of(Planned, [Cluster(BbchStage.Bbch53), Cluster(BbchStage.Bbch53), Cluster(stage: null)], Profile);

        Assert.Equal(3, tree.ClustersTotal);
        Assert.Equal(2, tree.ClustersAt(BbchStage.Bbch53));
        Assert.Equal(2, tree.ClustersPerStage.Sum()); // the unknown label is in no stage column
    }

    [Fact]
    public void Without_a_profile_there_is_no_prescription_and_a_stale_one_is_cleared()
    {
        var stale = Planned with { ClustersTotal = 9, Excess = 3.5, DosePercent = 90, RateLPerHa = 900, ZoneClass = "heavy" };

        var tree = TreeAggregate.Of(stale, [Cluster(BbchStage.Bbch65)], profile: null);

        Assert.Equal(1, tree.ClustersTotal);
        Assert.Null(tree.Excess);
        Assert.Null(tree.DosePercent);
        Assert.Null(tree.RateLPerHa);
        Assert.Null(tree.ZoneClass);
        Assert.Null(TreeAggregate.Prescribe(stale, null).RateLPerHa);
    }

    [Fact]
    public void A_tree_the_plan_does_not_have_sits_at_the_centroid_of_its_confident_clusters()
    {
        var unplanned = new TreeRecord { TreeId = "R02-T007", RowId = "R02", TreeIndex = 7, InPlan = false };
        TreeCluster[] clusters =
        [
            Cluster(BbchStage.Bbch65, latitude: 51.9301, longitude: 5.7002),
            Cluster(BbchStage.Bbch65, latitude: 51.9303, longitude: 5.7004),
            Cluster(BbchStage.Bbch65, low: true, latitude: 52.5, longitude: 6.5), // uncertain: does not pull the tree
        ];

        var tree = TreeAggregate.Of(unplanned, clusters, Profile);

        Assert.Equal(51.9302, tree.Latitude!.Value, 12);
        Assert.Equal(5.7003, tree.Longitude!.Value, 12);
        Assert.Null(tree.SpacingM);
        Assert.Null(tree.DensityPerM);

        // Only low-confidence clusters: no centroid to go by, the tree stays where it was.
        var uncertain = TreeAggregate.Of(unplanned with { Latitude = 51.0, Longitude = 5.0 }, [clusters[2]], Profile);
        Assert.Equal((51.0, 5.0), (uncertain.Latitude, uncertain.Longitude));
        Assert.Equal(0, uncertain.ClustersTotal);
        Assert.Equal(0.0, uncertain.Confidence);
    }

    [Fact]
    public void Prescribe_with_another_profile_changes_only_the_prescription()
    {
        TreeCluster[] clusters = [.. Enumerable.Range(0, 165).Select(i => Cluster(BbchStage.Bbch65, first: i, last: i))];
        var own = TreeAggregate.Of(Planned, clusters, Profile);

        // Gala (target 110, zone classes): excess 0.5 → 76.25 % on the curve → class "medium" at 75 % of 1000 L/ha.
        var gala = TreeAggregate.Prescribe(own, MapWriterTestData.Gala);

        Assert.Equal(0.5, gala.Excess!.Value, 12);
        Assert.Equal(75.0, gala.DosePercent!.Value, 12);
        Assert.Equal(750.0, gala.RateLPerHa!.Value, 12);
        Assert.Equal("medium", gala.ZoneClass);
        Assert.Equal(own with { Excess = gala.Excess, DosePercent = gala.DosePercent, RateLPerHa = gala.RateLPerHa, ZoneClass = gala.ZoneClass }, gala);
        Assert.Equal(TreeAggregate.Of(Planned, clusters, MapWriterTestData.Gala) with { ClustersPerStage = own.ClustersPerStage }, gala);
        Assert.Equal(165, gala.FramesSeen);
    }
}
