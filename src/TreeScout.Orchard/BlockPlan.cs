using System.Globalization;
using System.Text.Json;
using NetTopologySuite.Features;
using NetTopologySuite.Geometries;
using NetTopologySuite.IO.Converters;
using TreeScout.Contracts;

namespace TreeScout.Orchard;

/// <summary>A planted tree: id "R03-T017" (row 3, 17th tree from the row's first end).</summary>
public sealed record Tree(string Id, string RowId, int Index, double Latitude, double Longitude);

/// <summary>A planted row as a polyline (straight or curved) from its first end to its last, WGS84.</summary>
public sealed record Row(string Id, IReadOnlyList<(double Latitude, double Longitude)> Line);

/// <summary>A block plan could not be used; the message names the file and the problem.</summary>
public sealed class BlockPlanException : Exception
{
    public BlockPlanException(string message)
        : base(message)
    {
    }

    public BlockPlanException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public BlockPlanException()
    {
    }
}

/// <summary>
/// The planting plan of an orchard block: a GeoJSON FeatureCollection (RFC 7946, WGS84) with rows as LineStrings
/// (properties kind="row", rowId) and trees as Points (kind="tree", treeId, rowId, index). Trees may be omitted
/// when the rows and <see cref="TreeSpacingM"/> are given; fusion then places trees by spacing. Format: docs/recording-format.md.
/// </summary>
public sealed record BlockPlan(
    string Name,
    IReadOnlyList<Row> Rows,
    IReadOnlyList<Tree> Trees,
    double? TreeSpacingM,
    double? RowSpacingM,
    string? Variety)
{
    public static string TreeId(int row, int index) => $"R{row:00}-T{index:000}";

    public static string RowId(int row) => $"R{row:00}";

    public static BlockPlan Load(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new BlockPlanException($"{path}: cannot read block plan: {ex.Message}", ex);
        }
        return Parse(text, path);
    }

    public static BlockPlan Parse(string geoJson, string source)
    {
        FeatureCollection features;
        try
        {
            using var doc = JsonDocument.Parse(geoJson);
            CheckCrs(doc.RootElement, source);
            features = JsonSerializer.Deserialize<FeatureCollection>(geoJson, JsonOptions)
                ?? throw new BlockPlanException($"{source}: block plan is empty");
        }
        // NetTopologySuite's GeoJSON converters throw these too on JSON that is valid but not GeoJSON (an unknown geometry type, ...).
        catch (Exception ex) when (ex is JsonException or ArgumentException or InvalidOperationException or FormatException or InvalidCastException or NotSupportedException)
        {
            throw new BlockPlanException($"{source}: not a GeoJSON FeatureCollection: {Reasons.OneLine(ex.Message)}", ex);
        }

        var rows = new List<Row>();
        var trees = new List<Tree>();
        string name = Path.GetFileNameWithoutExtension(source);
        double? treeSpacing = null, rowSpacing = null;
        string? variety = null;
        foreach (var feature in features)
        {
            var kind = Text(feature, "kind", source);
            switch (kind)
            {
                case "block":
                    name = Text(feature, "name", source) ?? name;
                    treeSpacing = Distance(feature, "treeSpacingM", source);
                    rowSpacing = Distance(feature, "rowSpacingM", source);
                    variety = Text(feature, "variety", source);
                    break;
                case "row" when feature.Geometry is LineString line:
                    var rowId = Text(feature, "rowId", source) ?? throw new BlockPlanException($"{source}: a row has no rowId");
                    if (line.NumPoints < 2)
                    {
                        throw new BlockPlanException($"{source}: row {rowId} has {line.NumPoints} points; a row is a line of two or more");
                    }
                    rows.Add(new Row(rowId, line.Coordinates.Select(c => (CheckLat(c.Y, source), CheckLon(c.X, source))).ToList()));
                    break;
                case "row":
                    throw new BlockPlanException($"{source}: row {Text(feature, "rowId", source)} is a {feature.Geometry?.GeometryType ?? "null geometry"}, expected LineString");
                case "tree" when feature.Geometry is Point p:
                    trees.Add(new Tree(
                        Text(feature, "treeId", source) ?? throw new BlockPlanException($"{source}: a tree has no treeId"),
                        Text(feature, "rowId", source) ?? throw new BlockPlanException($"{source}: tree {Text(feature, "treeId", source)} has no rowId"),
                        (int)(Number(feature, "index", source) ?? throw new BlockPlanException($"{source}: tree {Text(feature, "treeId", source)} has no index")),
                        CheckLat(p.Y, source),
                        CheckLon(p.X, source)));
                    break;
                case "tree":
                    throw new BlockPlanException($"{source}: tree {Text(feature, "treeId", source)} is a {feature.Geometry?.GeometryType ?? "null geometry"}, expected Point");
                default:
                    // Other features (headlands, notes) are allowed and ignored.
                    break;
            }
        }
        if (rows.Count == 0)
        {
            throw new BlockPlanException($"{source}: block plan has no rows (features with properties kind=\"row\" and LineString geometry)");
        }
        var unknownRow = trees.FirstOrDefault(t => rows.All(r => r.Id != t.RowId));
        if (unknownRow is not null)
        {
            throw new BlockPlanException($"{source}: tree {unknownRow.Id} refers to row {unknownRow.RowId}, which the plan does not have");
        }
        var duplicate = trees.GroupBy(t => t.Id).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new BlockPlanException($"{source}: tree id {duplicate.Key} appears {duplicate.Count()} times");
        }
        if (trees.Count == 0 && treeSpacing is null)
        {
            throw new BlockPlanException($"{source}: block plan lists no trees and no treeSpacingM on its block feature");
        }
        return new BlockPlan(name, rows, trees, treeSpacing, rowSpacing, variety);
    }

    public string ToGeoJson()
    {
        var features = new FeatureCollection();
        var factory = new GeometryFactory(new PrecisionModel(), 4326);
        var block = new AttributesTable { { "kind", "block" }, { "name", Name } };
        if (TreeSpacingM is { } ts)
        {
            block.Add("treeSpacingM", ts);
        }
        if (RowSpacingM is { } rs)
        {
            block.Add("rowSpacingM", rs);
        }
        if (Variety is { } v)
        {
            block.Add("variety", v);
        }
        features.Add(new Feature(null, block));
        foreach (var row in Rows)
        {
            var line = factory.CreateLineString(row.Line.Select(p => new Coordinate(p.Longitude, p.Latitude)).ToArray());
            features.Add(new Feature(line, new AttributesTable { { "kind", "row" }, { "rowId", row.Id } }));
        }
        foreach (var tree in Trees)
        {
            features.Add(new Feature(factory.CreatePoint(new Coordinate(tree.Longitude, tree.Latitude)),
                new AttributesTable { { "kind", "tree" }, { "treeId", tree.Id }, { "rowId", tree.RowId }, { "index", tree.Index } }));
        }
        return JsonSerializer.Serialize(features, JsonOptions);
    }

    /// <summary>A projection for the block's UTM zone (from its first row).</summary>
    public UtmProjection Projection()
    {
        var (lat, lon) = Rows[0].Line[0];
        return UtmProjection.For(lat, lon);
    }

    private static readonly JsonSerializerOptions JsonOptions = CreateJsonOptions();

    private static JsonSerializerOptions CreateJsonOptions()
    {
        var options = new JsonSerializerOptions { WriteIndented = false };
        options.Converters.Add(new GeoJsonConverterFactory());
        return options;
    }

    private static void CheckCrs(JsonElement root, string source)
    {
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String
            || type.GetString() != "FeatureCollection")
        {
            throw new BlockPlanException($"{source}: expected a GeoJSON FeatureCollection");
        }
        if (root.TryGetProperty("crs", out var crs) && crs.ValueKind == JsonValueKind.Object && crs.TryGetProperty("properties", out var props)
            && props.ValueKind == JsonValueKind.Object && props.TryGetProperty("name", out var crsName))
        {
            var n = crsName.ValueKind == JsonValueKind.String ? crsName.GetString()! : crsName.GetRawText();
            if (!(n.EndsWith("CRS84", StringComparison.OrdinalIgnoreCase) || n.EndsWith("4326", StringComparison.Ordinal)))
            {
                throw new BlockPlanException($"{source}: unexpected CRS '{n}'; block plans must be WGS84 longitude/latitude (RFC 7946)");
            }
        }
    }

    private static double CheckLat(double lat, string source) =>
        lat is >= -90 and <= 90 ? lat : throw new BlockPlanException($"{source}: latitude {lat.ToString(CultureInfo.InvariantCulture)} out of range; coordinates must be WGS84 degrees (projected metres are not accepted)");

    private static double CheckLon(double lon, string source) =>
        lon is >= -180 and <= 180 ? lon : throw new BlockPlanException($"{source}: longitude {lon.ToString(CultureInfo.InvariantCulture)} out of range; coordinates must be WGS84 degrees (projected metres are not accepted)");

    /// <summary>
    /// A feature's property, or null. NetTopologySuite converts a property from JSON only when it is read, so a value
    /// it cannot convert (a string with an unpaired surrogate escape, a number beyond decimal) fails here rather than in the parse.
    /// </summary>
    private static object? Attribute(IFeature feature, string key, string source)
    {
        try
        {
            return feature.Attributes?.Exists(key) == true ? feature.Attributes[key] : null;
        }
        catch (Exception ex) when (ex is InvalidOperationException or NotSupportedException)
        {
            throw new BlockPlanException($"{source}: property {key}: {Reasons.OneLine(ex.Message)}", ex);
        }
    }

    private static string? Text(IFeature feature, string key, string source) =>
        Attribute(feature, key, source) is { } value ? Convert.ToString(value, CultureInfo.InvariantCulture) : null;

    private static double? Number(IFeature feature, string key, string source)
    {
        if (Attribute(feature, key, source) is not { } value)
        {
            return null;
        }
        try
        {
            return Convert.ToDouble(value, CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is FormatException or InvalidCastException or OverflowException)
        {
            throw new BlockPlanException($"{source}: {key} '{Reasons.OneLine(Convert.ToString(value, CultureInfo.InvariantCulture) ?? "")}' is not a number");
        }
    }

    /// <summary>A spacing in metres: absent, or a positive finite number (fusion divides row lengths by it).</summary>
    private static double? Distance(IFeature feature, string key, string source) =>
        Number(feature, key, source) is not { } metres ? null
        : double.IsFinite(metres) && metres > 0 ? metres
        : throw new BlockPlanException($"{source}: {key} {metres.ToString(CultureInfo.InvariantCulture)} is not a distance in metres");
}
