using System.Text;
using System.Text.Json;

namespace TreeScout.WebConsole.Tests;

/// <summary>Live map updates carry only the trees changed since the revision a page has.</summary>
[Trait("Category", "Unit")]
public sealed class TreeFeaturesTests
{
    [Fact]
    public void A_page_with_the_last_revision_gets_only_the_changed_and_new_trees_and_a_stranger_revision_gets_every_tree()
    {
        var first = TreeFeatures.Of(Collection(("r1-t1", 3), ("r1-t2", 0)), null);
        var second = TreeFeatures.Of(Collection(("r1-t1", 3), ("r1-t2", 5), ("r1-t3", 1)), first);

        Assert.Equal(("r1-t2,r1-t3", first.RevisionText, second.RevisionText), Read(second.GeoJson(first.RevisionText)));
        Assert.Equal(("r1-t1,r1-t2,r1-t3", null, second.RevisionText), Read(second.GeoJson(null)));
        Assert.Equal(("r1-t1,r1-t2,r1-t3", null, second.RevisionText), Read(second.GeoJson("0badf00d.1")));
        Assert.Equal(("", second.RevisionText, second.RevisionText), Read(second.GeoJson(second.RevisionText)));
    }

    [Fact]
    public void A_tree_gone_since_sends_every_tree_to_pages_of_earlier_revisions()
    {
        var first = TreeFeatures.Of(Collection(("r1-t1", 3), ("r1-t2", 0)), null);
        var second = TreeFeatures.Of(Collection(("r1-t1", 4)), first);

        Assert.Equal(("r1-t1", null, second.RevisionText), Read(second.GeoJson(first.RevisionText)));
    }

    private static byte[] Collection(params (string Id, int Clusters)[] trees) => Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new
    {
        type = "FeatureCollection",
        features = trees.Select(t => new { type = "Feature", geometry = new { type = "Point", coordinates = new[] { 5.7, 51.9 } }, properties = new { tree_id = t.Id, clusters_total = t.Clusters } }),
    }));

    private static (string Trees, string? Since, string Revision) Read(byte[] geojson)
    {
        var root = JsonDocument.Parse(geojson).RootElement;
        return (string.Join(',', root.GetProperty("features").EnumerateArray().Select(f => f.GetProperty("properties").GetProperty("tree_id").GetString())),
            root.TryGetProperty("since", out var since) ? since.GetString() : null,
            root.GetProperty("revision").GetString()!);
    }
}
