using System.Text.Json.Nodes;
using TreeScout.Tests;

namespace TreeScout.Orchard.Tests;

/// <summary>Block plans that cannot be used are refused with the file and the problem named (issue 4, "Bad input").</summary>
[Trait("Category", "Unit")]
public sealed class BlockPlanTests
{
    private static readonly string Block = Feature(null, new JsonObject { ["kind"] = "block", ["name"] = "Noord 3", ["treeSpacingM"] = 1.0, ["rowSpacingM"] = 3.5 });

    private static string Feature(JsonNode? geometry, JsonObject properties) =>
        new JsonObject { ["type"] = "Feature", ["geometry"] = geometry, ["properties"] = properties }.ToJsonString();

    private static JsonObject Geometry(string type, JsonNode coordinates) => new() { ["type"] = type, ["coordinates"] = coordinates };

    private static string Row(string id, params (double Lon, double Lat)[] points) =>
        Feature(Geometry("LineString", new JsonArray([.. points.Select(p => (JsonNode)new JsonArray(p.Lon, p.Lat))])), new JsonObject { ["kind"] = "row", ["rowId"] = id });

    private static string Tree(string id, string row, int index, double lon, double lat) =>
        Feature(Geometry("Point", new JsonArray(lon, lat)), new JsonObject { ["kind"] = "tree", ["treeId"] = id, ["rowId"] = row, ["index"] = index });

    private static string Collection(string? crs, params string[] features)
    {
        var collection = new JsonObject { ["type"] = "FeatureCollection" };
        if (crs is not null)
        {
            collection["crs"] = new JsonObject { ["type"] = "name", ["properties"] = new JsonObject { ["name"] = crs } };
        }
        collection["features"] = new JsonArray([.. features.Select(f => JsonNode.Parse(f))]);
        return collection.ToJsonString();
    }

    private static readonly string GoodRow = Row("R01", (5.7000, 51.9300), (5.7000, 51.9303));

    [Fact]
    public void A_plan_in_wgs84_parses_with_its_rows_trees_and_spacing()
    {
        var plan = BlockPlan.Parse(Collection("urn:ogc:def:crs:OGC:1.3:CRS84", Block, GoodRow, Tree("R01-T001", "R01", 1, 5.7, 51.93005)), "noord3.geojson");

        Assert.Equal("Noord 3", plan.Name);
        Assert.Equal("R01", Assert.Single(plan.Rows).Id);
        Assert.Equal(("R01-T001", 1), (Assert.Single(plan.Trees).Id, plan.Trees[0].Index));
        Assert.Equal((1.0, 3.5), (plan.TreeSpacingM, plan.RowSpacingM));
    }

    public static TheoryData<string, string> BadPlans => new()
    {
        { "{ not json", "not a GeoJSON FeatureCollection" },
        { Block, "expected a GeoJSON FeatureCollection" },
        // Dutch growers' GIS often holds plans in RD New (EPSG:28992): said so, not read as degrees.
        { Collection("urn:ogc:def:crs:EPSG::28992", Block, GoodRow), "unexpected CRS 'urn:ogc:def:crs:EPSG::28992'; block plans must be WGS84 longitude/latitude" },
        // The same RD New coordinates without a crs member: metres are out of the degrees' range.
        { Collection(null, Block, Row("R01", (189_500, 440_200), (189_500, 440_230))), "latitude 440200 out of range; coordinates must be WGS84 degrees (projected metres are not accepted)" },
        { Collection(null, Block), "block plan has no rows" },
        { Collection(null, Block, Feature(Geometry("Point", new JsonArray(5.7, 51.93)), new JsonObject { ["kind"] = "row", ["rowId"] = "R01" })), "row R01 is a Point, expected LineString" },
        { Collection(null, Block, GoodRow, Tree("R02-T001", "R02", 1, 5.7, 51.93)), "tree R02-T001 refers to row R02, which the plan does not have" },
        { Collection(null, Block, GoodRow, Tree("R01-T001", "R01", 1, 5.7, 51.93), Tree("R01-T001", "R01", 2, 5.7, 51.93001)), "tree id R01-T001 appears 2 times" },
        { Collection(null, GoodRow), "block plan lists no trees and no treeSpacingM on its block feature" },
    };

    [Theory]
    [MemberData(nameof(BadPlans))]
    public void A_plan_that_cannot_be_used_is_refused_naming_the_file_and_the_problem(string geoJson, string problem)
    {
        var ex = Assert.Throws<BlockPlanException>(() => BlockPlan.Parse(geoJson, "plans/noord3.geojson"));

        Assert.StartsWith("plans/noord3.geojson: ", ex.Message, StringComparison.Ordinal);
        Assert.Contains(problem, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_plan_file_is_named()
    {
        var path = Path.Combine(Path.GetTempPath(), $"treescout-no-plan-{Guid.NewGuid():N}.geojson");

        var ex = Assert.Throws<BlockPlanException>(() => BlockPlan.Load(path));

        Assert.StartsWith($"{path}: cannot read block plan", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_bundled_sample_plan_loads()
    {
        var plan = BlockPlan.Load(Path.Combine(RepoPaths.Samples, "betuwe-rtk-2x12", "block.geojson"));

        Assert.Equal(2, plan.Rows.Count);
        Assert.Equal(24, plan.Trees.Count);
    }
}
