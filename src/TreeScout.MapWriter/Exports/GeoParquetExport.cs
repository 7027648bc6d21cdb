using System.Text.Json;
using System.Text.Json.Nodes;
using NetTopologySuite.Geometries;
using NetTopologySuite.IO;
using Parquet;
using Parquet.Schema;

namespace TreeScout.MapWriter.Exports;

/// <summary>
/// trees.parquet, GeoParquet 1.1: per-tree fields, the tree point as WKB <c>geometry</c> (primary column), its canopy
/// zone as WKB <c>zone</c>, and a <c>bbox</c> struct column declared as the primary column's bbox covering. No <c>crs</c>
/// means OGC:CRS84 (lon/lat WGS84).
/// </summary>
public static class GeoParquetExport
{
    public const string FileName = "trees.parquet";
    public const string Version = "1.1.0";

    public static async Task<IReadOnlyList<string>> WriteAsync(RunSnapshot run, string directory, CancellationToken cancellationToken)
    {
        var path = Path.Combine(directory, FileName);
        var rows = run.Zones;
        var wkb = new WKBWriter(ByteOrder.LittleEndian, handleSRID: false, emitZ: false, emitM: false);
        var points = rows.Select(z => (Geometry)RunSnapshot.Wgs84.CreatePoint(new Coordinate(z.Tree.Longitude!.Value, z.Tree.Latitude!.Value))).ToList();

        var attributeFields = TreeFields.All.Select(f => f.Kind switch
        {
            FieldKind.Text => (DataField)new DataField<string>(f.Name, nullable: true),
            FieldKind.Integer => new DataField<int?>(f.Name),
            _ => new DataField<double?>(f.Name),
        }).ToList();
        var geometry = new DataField<byte[]>("geometry");
        var zone = new DataField<byte[]>("zone");
        var bbox = new StructField("bbox", new DataField<double>("xmin"), new DataField<double>("ymin"), new DataField<double>("xmax"), new DataField<double>("ymax"));
        var schema = new ParquetSchema([.. attributeFields, geometry, zone, bbox]);

        await using var stream = File.Create(path);
        await using (var writer = await ParquetWriter.CreateAsync(schema, stream, cancellationToken: cancellationToken))
        {
            writer.CustomMetadata = new Dictionary<string, string> { ["geo"] = GeoMetadata(points, rows.Select(z => (Geometry)z.Zone).ToList()) };
            using var group = writer.CreateRowGroup();
            for (var i = 0; i < attributeFields.Count; i++)
            {
                var field = TreeFields.All[i];
                var values = rows.Select(z => field.Value(z.Tree)).ToList();
                switch (field.Kind)
                {
                    case FieldKind.Text:
                        await group.WriteAsync(attributeFields[i], values.Select(v => (string?)v).ToList()!);
                        break;
                    case FieldKind.Integer:
                        await group.WriteAsync<int>(attributeFields[i], values.Select(v => (int?)v).ToArray(), cancellationToken: cancellationToken);
                        break;
                    default:
                        await group.WriteAsync<double>(attributeFields[i], values.Select(v => (double?)v).ToArray(), cancellationToken: cancellationToken);
                        break;
                }
            }
            await group.WriteAsync(geometry, points.Select(wkb.Write).ToList());
            await group.WriteAsync(zone, rows.Select(z => wkb.Write(z.Zone)).ToList());
            var leaves = bbox.Fields.Cast<DataField>().ToList();
            var envelopes = points.Select(p => p.EnvelopeInternal).ToList();
            await group.WriteAsync<double>(leaves[0], envelopes.Select(e => (double?)e.MinX).ToArray(), cancellationToken: cancellationToken);
            await group.WriteAsync<double>(leaves[1], envelopes.Select(e => (double?)e.MinY).ToArray(), cancellationToken: cancellationToken);
            await group.WriteAsync<double>(leaves[2], envelopes.Select(e => (double?)e.MaxX).ToArray(), cancellationToken: cancellationToken);
            await group.WriteAsync<double>(leaves[3], envelopes.Select(e => (double?)e.MaxY).ToArray(), cancellationToken: cancellationToken);
        }
        return [path];
    }

    /// <summary>The file-level <c>geo</c> key (GeoParquet 1.1 metadata).</summary>
    public static string GeoMetadata(IReadOnlyList<Geometry> points, IReadOnlyList<Geometry> zones)
    {
        var covering = new JsonObject
        {
            ["bbox"] = new JsonObject
            {
                ["xmin"] = new JsonArray("bbox", "xmin"),
                ["ymin"] = new JsonArray("bbox", "ymin"),
                ["xmax"] = new JsonArray("bbox", "xmax"),
                ["ymax"] = new JsonArray("bbox", "ymax"),
            },
        };
        var geo = new JsonObject
        {
            ["version"] = Version,
            ["primary_column"] = "geometry",
            ["columns"] = new JsonObject
            {
                ["geometry"] = Column("Point", points, covering),
                ["zone"] = Column("Polygon", zones, null),
            },
        };
        return geo.ToJsonString(new JsonSerializerOptions { WriteIndented = false });
    }

    private static JsonObject Column(string type, IReadOnlyList<Geometry> geometries, JsonObject? covering)
    {
        var column = new JsonObject
        {
            ["encoding"] = "WKB",
            ["geometry_types"] = new JsonArray(type),
            ["edges"] = "planar",
        };
        if (type == "Polygon")
        {
            column["orientation"] = "counterclockwise";
        }
        if (geometries.Count > 0)
        {
            var e = new Envelope();
            foreach (var g in geometries)
            {
                e.ExpandToInclude(g.EnvelopeInternal);
            }
            column["bbox"] = new JsonArray(e.MinX, e.MinY, e.MaxX, e.MaxY);
        }
        if (covering is not null)
        {
            column["covering"] = covering;
        }
        return column;
    }
}
