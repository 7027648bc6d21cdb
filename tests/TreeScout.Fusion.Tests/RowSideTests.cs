using TreeScout.Contracts;
using TreeScout.Fusion.Attribution;
using TreeScout.Fusion.Geometry;
using TreeScout.Fusion.Runs;

namespace TreeScout.Fusion.Tests;

/// <summary>The side of its row a cluster was seen from is the side the camera stood on, looking along the row from its first end.</summary>
[Trait("Category", "Unit")]
public sealed class RowSideTests
{
    [Fact]
    public void A_camera_east_of_a_row_running_north_sees_it_from_the_right_and_west_from_the_left()
    {
        var north = new MappedRow("R01", [(500_000.0, 5_700_000.0), (500_000.0, 5_700_040.0)], 1.0);
        Assert.Equal(RowSides.Right, ObservationBuilder.SideOf(north, new Vec3(500_001.5, 5_700_010, 1.6)));
        Assert.Equal(RowSides.Left, ObservationBuilder.SideOf(north, new Vec3(499_998.5, 5_700_010, 1.6)));

        // The same alley seen along a row planted from its north end: the sides swap.
        var south = new MappedRow("R02", [(500_000.0, 5_700_040.0), (500_000.0, 5_700_000.0)], 1.0);
        Assert.Equal(RowSides.Left, ObservationBuilder.SideOf(south, new Vec3(500_001.5, 5_700_010, 1.6)));
    }
}
