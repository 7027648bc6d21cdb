using System.Text.Json;
using NetTopologySuite.Features;
using NetTopologySuite.Geometries;
using NetTopologySuite.IO.Converters;

namespace TreeScout.MapWriter.Exports;

/// <summary>RFC 7946 GeoJSON (WGS84 lon/lat, no crs member, counter-clockwise exteriors): trees as points, canopy zones as polygons.</summary>
public static class GeoJsonExport
{
    public const string TreesFile = "trees.geojson";
    public const string ZonesFile = "zones.geojson";

    private static readonly JsonSerializerOptions Json = new() { Converters = { new GeoJsonConverterFactory() } };

    public static IReadOnlyList<string> Write(RunSnapshot run, string directory)
    {
        var trees = Path.Combine(directory, TreesFile);
        var zones = Path.Combine(directory, ZonesFile);
        WriteCollection(trees, run.Trees.Where(t => t.Latitude is not null).Select(t =>
            (Geometry)RunSnapshot.Wgs84.CreatePoint(new Coordinate(t.Longitude!.Value, t.Latitude!.Value))), run.Trees.Where(t => t.Latitude is not null));
        WriteCollection(zones, run.Zones.Select(z => (Geometry)z.Zone), run.Zones.Select(z => z.Tree));
        return [trees, zones];
    }

    private static void WriteCollection(string path, IEnumerable<Geometry> geometries, IEnumerable<Store.TreeRecord> trees)
    {
        var collection = new FeatureCollection();
        foreach (var (geometry, tree) in geometries.Zip(trees))
        {
            var attributes = new AttributesTable();
            foreach (var field in TreeFields.All)
            {
                attributes.Add(field.Name, field.Value(tree));
            }
            collection.Add(new Feature(geometry, attributes));
        }
        using var stream = File.Create(path);
        JsonSerializer.Serialize(stream, collection, Json);
    }
}
