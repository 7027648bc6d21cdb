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

    private static readonly JsonSerializerOptions Json = new() { Converters = { new GeoJsonConverterFactory(), new RealNumberConverter() } };

    public static IReadOnlyList<string> Write(RunSnapshot run, string directory)
    {
        var trees = Path.Combine(directory, TreesFile);
        var zones = Path.Combine(directory, ZonesFile);
        using (var stream = File.Create(trees))
        {
            WriteTrees(run, stream);
        }
        WriteCollection(zones, run.Zones.Select(z => (Geometry)z.Zone), run.Zones.Select(z => z.Tree));
        return [trees, zones];
    }

    /// <summary>trees.geojson's content written to <paramref name="stream"/> (the console serves it without a file).</summary>
    public static void WriteTrees(RunSnapshot run, Stream stream)
    {
        var placed = run.Trees.Where(t => t.Latitude is not null).ToList();
        Serialize(stream, placed.Select(t => (Geometry)RunSnapshot.Wgs84.CreatePoint(new Coordinate(t.Longitude!.Value, t.Latitude!.Value))), placed);
    }

    private static void WriteCollection(string path, IEnumerable<Geometry> geometries, IEnumerable<Store.TreeRecord> trees)
    {
        using var stream = File.Create(path);
        Serialize(stream, geometries, trees);
    }

    private static void Serialize(Stream stream, IEnumerable<Geometry> geometries, IEnumerable<Store.TreeRecord> trees)
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
        JsonSerializer.Serialize(stream, collection, Json);
    }
}

/// <summary>
/// Writes every double with a decimal point (500 → 500.0): GeoJSON has no schema, so GDAL and QGIS infer a field's type
/// from its values, and a rate column whose values happen to be whole numbers must still come out as Real.
/// </summary>
internal sealed class RealNumberConverter : System.Text.Json.Serialization.JsonConverter<double>
{
    public override double Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.GetDouble();

    public override void Write(Utf8JsonWriter writer, double value, JsonSerializerOptions options)
    {
        var text = value.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
        writer.WriteRawValue(double.IsFinite(value) && !text.Contains('.', StringComparison.Ordinal) && !text.Contains('E', StringComparison.Ordinal) ? text + ".0" : text);
    }
}
