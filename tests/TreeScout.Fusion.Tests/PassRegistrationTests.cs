using TreeScout.Fusion.Attribution;
using TreeScout.Fusion.Runs;

namespace TreeScout.Fusion.Tests;

/// <summary>
/// The along-row offset of a pass from where its clusters start and stop against the plan's end trees, refined against every
/// tree; and its across-row offset from where its clusters lie against the canopy face.
/// </summary>
[Trait("Category", "Unit")]
public sealed class PassRegistrationTests
{
    // A fresh one each time: it learns the canopy face from RTK passes.
    private static PassRegistration Registration => new(new RegistrationOptions());

    /// <summary>A straight row of trees 1 m apart (0.5 … 14.5 m along it with 15 trees).</summary>
    private static MappedRow Row(int trees = 15)
    {
        var row = new MappedRow("R01", [(0.0, 0.0), (0.0, trees)], 1.0);
        for (var i = 1; i <= trees; i++)
        {
            row.Trees.Add(new PlantedTree(MappedRow.TreeIdOf("R01", i), i, i - 0.5));
        }
        return row;
    }

    /// <summary>Clusters of the standing trees, spread ±0.4 m around each trunk, as GNSS with an along-row error places them.</summary>
    private static List<PassPoint> Cloud(double gnssErrorM, double gnssSigmaM, int trees = 15, params int[] missingTrees) =>
        Cloud(_ => gnssErrorM, gnssSigmaM, trees, missingTrees);

    /// <summary>
    /// As above with the GNSS error a function of the along-row position, and the canopy of a tree reaching
    /// <paramref name="reach"/> (back, forward) metres from its trunk (±0.4 m by default).
    /// </summary>
    private static List<PassPoint> Cloud(Func<double, double> gnssErrorM, double gnssSigmaM, int trees, int[] missingTrees, Func<int, (double Back, double Forward)>? reach = null)
    {
        var random = new Random(5);
        var points = new List<PassPoint>();
        for (var tree = 1; tree <= trees; tree++)
        {
            if (missingTrees.Contains(tree))
            {
                continue;
            }
            var (back, forward) = reach?.Invoke(tree) ?? (0.4, 0.4);
            for (var k = 0; k < 30; k++)
            {
                // Evenly around the trunk: the canopy's longer side carries proportionally more clusters.
                var along = tree - 0.5 + (k % 2 == 0 ? -back * random.NextDouble() : forward * random.NextDouble());
                points.Add(new PassPoint(along + gnssErrorM(along), 0, 1, gnssSigmaM));
            }
        }
        return points;
    }

    [Fact]
    public void A_float_pass_is_shifted_back_by_its_offset_weighted_against_the_registration_sigma()
    {
        var offset = Registration.Offset(Row(), Cloud(gnssErrorM: 0.5, gnssSigmaM: 0.25));

        // Measured ≈ 0.5 m; weight 0.25² / (0.25² + 0.05²) = 0.962; GNSS sigma after it √(0.25²·0.05² / (0.25² + 0.05²)) = 0.049 m.
        Assert.Equal(0.5 * 0.962, offset.ShiftM, 0.01);
        Assert.Equal(0.049, offset.GnssSigmaM!.Value, 0.001);
        Assert.Equal(0.5 * 0.962, offset.At(7.5).Along, 0.01);
    }

    [Fact]
    public void A_long_row_is_measured_like_a_short_one()
    {
        // 200 trees, 6,000 clusters: the ends are cut by a few clusters, not by a share (1 % would be two whole trees, the
        // cloud would look ~4 m shorter than the row, and the pass would be left unregistered).
        var offset = Registration.Offset(Row(trees: 200), Cloud(gnssErrorM: 0.3, gnssSigmaM: 0.25, trees: 200));

        Assert.Equal(0.3 * 0.962, offset.ShiftM, 0.01);
        Assert.NotNull(offset.GnssSigmaM);
    }

    [Fact]
    public void A_missing_end_tree_is_recognised_by_the_canopy_width_it_would_imply()
    {
        var offset = Registration.Offset(Row(), Cloud(gnssErrorM: -0.3, gnssSigmaM: 0.25, missingTrees: 1));

        Assert.Equal(-0.3 * 0.962, offset.ShiftM, 0.01);
    }

    // The first tree's canopy reaches 0.1 m back, the others' 0.4 m: the row ends alone measure the offset too large by
    // about half the difference; every tree's clusters in between put it right.
    [Fact]
    public void End_trees_of_unlike_canopies_do_not_move_the_offset()
    {
        var points = Cloud(_ => 0.3, 0.25, 15, [], tree => tree == 1 ? (0.1, 0.4) : (0.4, 0.4));
        var endsAlone = new PassRegistration(new RegistrationOptions { TreeFitRounds = 0 }).Offset(Row(), points);
        var offset = Registration.Offset(Row(), points);

        Assert.True(endsAlone.ShiftM / 0.962 - 0.3 > 0.05, $"row ends alone: {endsAlone.ShiftM / 0.962:F3} m");
        Assert.Equal(0.3 * 0.962, offset.ShiftM, 0.01);
    }

    // Over a 100 m row the receiver drifts from 0 to +0.4 m: the shift follows it tree by tree (one offset per pass would
    // leave ±0.2 m at the ends).
    [Fact]
    public void A_drift_along_the_row_is_followed_tree_by_tree()
    {
        var offset = Registration.Offset(Row(trees: 100), Cloud(along => 0.004 * along, 0.25, 100, []));

        Assert.Equal(0.2 * 0.962, offset.ShiftM, 0.02);
        foreach (var along in new[] { 10.0, 50.0, 90.0 })
        {
            Assert.Equal(0.004 * along * 0.962, offset.At(along).Along, 0.02);
        }
    }

    [Fact]
    public void Rtk_passes_and_passes_that_miss_a_row_end_are_left_alone()
    {
        Assert.Null(Registration.Offset(Row(), Cloud(gnssErrorM: 0.01, gnssSigmaM: 0.02)).GnssSigmaM);
        // The pass saw trees 1-8 only: no end, no offset.
        var half = Cloud(gnssErrorM: 0.5, gnssSigmaM: 0.25).Where(p => p.AlongM < 8.5).ToList();
        var offset = Registration.Offset(Row(), half);
        Assert.Null(offset.GnssSigmaM);
        Assert.Equal(0, offset.ShiftM);
    }

    /// <summary>The cloud as a camera on <paramref name="side"/> of the row sees it: ±0.2 m around <paramref name="towardCameraM"/>.</summary>
    private static List<PassPoint> Seen(List<PassPoint> cloud, double towardCameraM, int side) =>
        [.. cloud.Select((p, i) => p with { TowardCameraM = towardCameraM + (i % 2 == 0 ? 0.2 : -0.2), CameraSide = side })];

    // GNSS puts the clusters 0.4 m toward the camera, where the canopy face is at the trunk line (the default): the pass is
    // moved 0.4 m back across the row (weighted as along it), away from the camera, whichever side of the row that is.
    [Theory]
    [InlineData(1)]
    [InlineData(-1)]
    public void A_float_pass_is_moved_back_across_the_row_by_how_far_its_clusters_lie_beyond_the_canopy_face(int side)
    {
        var offset = Registration.Offset(Row(), Seen(Cloud(gnssErrorM: 0.2, gnssSigmaM: 0.25), 0.4, side));

        Assert.Equal(side * 0.4 * 0.962, offset.AcrossM, 0.01);
        Assert.Equal(side * 0.4 * 0.962, offset.At(3.5).Across, 0.01);
        Assert.Equal(0.2 * 0.962, offset.At(3.5).Along, 0.01);
    }

    // An RTK-fixed pass sees the canopy face 0.15 m in front of the trunks; a float pass of the same camera whose clusters
    // lie 0.45 m in front is 0.30 m off, not 0.45.
    [Fact]
    public void The_canopy_face_is_measured_on_rtk_fixed_passes()
    {
        var registration = Registration;
        Assert.Null(registration.Offset(Row(), Seen(Cloud(gnssErrorM: 0.01, gnssSigmaM: 0.02), 0.15, 1)).GnssSigmaM);
        Assert.Equal(0.15, registration.FaceDepthM, 0.001);

        var offset = registration.Offset(Row(), Seen(Cloud(gnssErrorM: 0, gnssSigmaM: 0.25), 0.45, -1));

        Assert.Equal(-0.30 * 0.962, offset.AcrossM, 0.01);
    }

    [Fact]
    public void Across_the_row_can_be_left_to_gnss()
    {
        var offset = new PassRegistration(new RegistrationOptions { Across = false }).Offset(Row(), Seen(Cloud(gnssErrorM: 0.2, gnssSigmaM: 0.25), 0.4, 1));

        Assert.Equal(0, offset.AcrossM);
        Assert.Equal(0.2 * 0.962, offset.ShiftM, 0.01);
    }
}
