using TreeScout.Fusion.Attribution;
using TreeScout.Fusion.Runs;

namespace TreeScout.Fusion.Tests;

/// <summary>The along-row offset of a pass from where its clusters start and stop against the plan's end trees.</summary>
public sealed class PassRegistrationTests
{
    private static readonly PassRegistration Registration = new(new RegistrationOptions());

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
    private static List<PassPoint> Cloud(double gnssErrorM, double gnssSigmaM, int trees = 15, params int[] missingTrees)
    {
        var random = new Random(5);
        var points = new List<PassPoint>();
        for (var tree = 1; tree <= trees; tree++)
        {
            if (missingTrees.Contains(tree))
            {
                continue;
            }
            for (var k = 0; k < 30; k++)
            {
                points.Add(new PassPoint(tree - 0.5 + random.NextDouble() * 0.8 - 0.4 + gnssErrorM, gnssSigmaM));
            }
        }
        return points;
    }

    [Fact]
    public void A_float_pass_is_shifted_back_by_its_offset_weighted_against_the_registration_sigma()
    {
        var offset = Registration.Offset(Row(), Cloud(gnssErrorM: 0.5, gnssSigmaM: 0.25));

        // Measured ≈ 0.5 m; weight 0.25² / (0.25² + 0.1²) = 0.862; GNSS sigma after it √(0.25²·0.1² / (0.25² + 0.1²)) = 0.093 m.
        Assert.Equal(0.5 * 0.862, offset.ShiftM, 0.03);
        Assert.Equal(0.093, offset.GnssSigmaM!.Value, 0.001);
    }

    [Fact]
    public void A_long_row_is_measured_like_a_short_one()
    {
        // 200 trees, 6,000 clusters: the ends are cut by a few clusters, not by a share (1 % would be two whole trees, the
        // cloud would look ~4 m shorter than the row, and the pass would be left unregistered).
        var offset = Registration.Offset(Row(trees: 200), Cloud(gnssErrorM: 0.3, gnssSigmaM: 0.25, trees: 200));

        Assert.Equal(0.3 * 0.862, offset.ShiftM, 0.03);
        Assert.NotNull(offset.GnssSigmaM);
    }

    [Fact]
    public void A_missing_end_tree_is_recognised_by_the_canopy_width_it_would_imply()
    {
        var offset = Registration.Offset(Row(), Cloud(gnssErrorM: -0.3, gnssSigmaM: 0.25, missingTrees: 1));

        Assert.Equal(-0.3 * 0.862, offset.ShiftM, 0.03);
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
}
