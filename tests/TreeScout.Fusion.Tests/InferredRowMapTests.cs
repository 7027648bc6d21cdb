using TreeScout.Contracts;
using TreeScout.Fusion.Attribution;
using TreeScout.Fusion.Geometry;

namespace TreeScout.Fusion.Tests;

/// <summary>Rows without a plan: from the tractor's path, where canopy is in view; trees numbered from where the canopy starts.</summary>
[Trait("Category", "Unit")]
public sealed class InferredRowMapTests
{
    /// <summary>Driving due north (grid) along x = 0, the camera looking right (east): the faced row is at x = +1.75 m.</summary>
    private static Pose At(double northing) =>
        new(DateTimeOffset.UnixEpoch, 0, northing, 0, 0.01, 0.02, 1.7, GnssQuality.RtkFixed, null);

    private static readonly Vec3 LookingRight = new(1, 0, 0);

    [Fact]
    public void A_row_runs_half_a_row_spacing_to_the_cameras_side_where_canopy_is_in_view()
    {
        var map = new InferredRowMap(treeSpacingM: 1.0, rowSpacingM: 3.5);

        map.FollowPath(At(-5), LookingRight, canopyDetections: 2, []);  // headland: too little canopy for a row
        for (var n = 0.0; n <= 20; n += 0.5)
        {
            map.FollowPath(At(n), LookingRight, canopyDetections: 12, []);
        }
        map.FollowPath(At(0), new Vec3(-1, 0, 0), canopyDetections: 12, []);  // a left camera: the row to the west

        Assert.Equal(["R01", "R02"], map.Rows.Select(r => r.Id));
        var east = map.Nearest(new Vec3(1.9, 10, 1.5))!.Value;
        Assert.Equal("R01", east.Row.Id);
        Assert.Equal(10, east.AlongM, 0.01);
        Assert.Equal(0.15, east.LateralM, 0.01);  // + is right of the row's direction (north): 0.15 m east of the row line
        Assert.Equal(20, map.Rows[0].LengthM, 0.51);
        Assert.Null(map.Nearest(new Vec3(0, 10, 1.5)));  // the alley is on no row
    }

    [Fact]
    public void Trees_are_numbered_from_the_canopy_start_that_settled_clusters_show()
    {
        var map = new InferredRowMap(treeSpacingM: 1.0, rowSpacingM: 3.5);
        map.FollowPath(At(0), LookingRight, 12, []);
        // Before any cluster has settled on the row (it began in a headland turn) a cluster gets no tree rather than
        // deciding where every tree of the row is.
        var early = map.AssignTree(map.Nearest(new Vec3(1.75, 0.8, 1))!.Value);
        Assert.Null(early.TreeId);
        Assert.Contains("not numbered yet", early.Problem, StringComparison.Ordinal);
        // Settled clusters of the first canopy (its start at 2.05 m along) and one stray beyond the alley.
        map.FollowPath(At(0.5), LookingRight, 12, [new Vec3(1.8, 2.6, 1), new Vec3(1.7, 2.05, 1.2), new Vec3(1.75, 2.3, 1.4), new Vec3(1.6, 2.2, 1), new Vec3(3.6, 0.5, 1)]);

        // The first cluster placed is mid-canopy (a track that ended early behind a leaf); numbering still starts at 2.3 m,
        // the third-smallest settled position (2.05, 2.2, 2.3), robust to one stray; the canopy's first clusters are tree 1.
        var first = map.AssignTree(map.Nearest(new Vec3(1.75, 2.9, 1))!.Value);
        var later = map.AssignTree(map.Nearest(new Vec3(1.75, 3.35, 1))!.Value);
        var canopyStart = map.AssignTree(map.Nearest(new Vec3(1.75, 2.05, 1))!.Value);
        var before = map.AssignTree(map.Nearest(new Vec3(1.75, 1.5, 1))!.Value);

        Assert.Equal("R01-T001", first.TreeId);
        Assert.Equal("R01-T002", later.TreeId);
        Assert.Equal("R01-T001", canopyStart.TreeId);
        Assert.Null(before.TreeId);
        Assert.Contains("before its first tree", before.Problem, StringComparison.Ordinal);
    }
}
