using System.Text;
using NetTopologySuite.IO.Esri;
using NetTopologySuite.IO.Esri.Dbf.Fields;
using NetTopologySuite.IO.Esri.Shapefiles.Writers;

namespace TreeScout.MapWriter.Exports;

/// <summary>
/// zones.shp (+ .shx .dbf .prj .cpg): the canopy zones as polygons with ≤10-character DBF field names and numeric rate
/// columns, what variable-rate sprayer terminals import. WGS84 geographic (.prj in ESRI WKT), UTF-8 attributes.
/// </summary>
public static class ShapefileExport
{
    public const string FileName = "zones.shp";

    public const string Wgs84Prj = """GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]""";

    private static readonly string[] Parts = [".shp", ".shx", ".dbf", ".prj", ".cpg"];

    public static IReadOnlyList<string> Write(RunSnapshot run, string directory)
    {
        var path = Path.Combine(directory, FileName);
        var fields = TreeFields.All.Select(f => f.Kind switch
        {
            FieldKind.Text => (DbfField)new DbfCharacterField(f.ShortName, 32),
            FieldKind.Integer => new DbfNumericInt32Field(f.ShortName),
            _ => new DbfNumericDoubleField(f.ShortName, 19, 6),
        }).ToArray();
        var options = new ShapefileWriterOptions(ShapeType.Polygon, fields) { Projection = Wgs84Prj, Encoding = Encoding.UTF8 };
        using (var writer = new ShapefilePolygonWriter(path, options))
        {
            foreach (var zone in run.Zones)
            {
                writer.Geometry = zone.Zone;
                for (var i = 0; i < fields.Length; i++)
                {
                    fields[i].Value = TreeFields.All[i].Value(zone.Tree);
                }
                writer.Write();
            }
        }
        return Parts.Select(ext => Path.ChangeExtension(path, ext)).Where(File.Exists).ToList();
    }
}
