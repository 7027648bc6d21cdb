using System.Buffers.Binary;
using System.Globalization;
using System.Xml;
using System.Xml.Linq;
using NetTopologySuite.Algorithm;
using NetTopologySuite.Geometries;
using TreeScout.Orchard;

namespace TreeScout.MapWriter.Exports;

/// <summary>
/// ISO 11783-10 v4.3 task data for ISOBUS sprayer terminals: TASKDATA/TASKDATA.XML with a partfield (block outline),
/// one planned task whose treatment zone 1 defines DDI 1 (setpoint volume per area) and a type-2 grid
/// (GRD00001.BIN: little-endian int32 per cell, rows from south to north, cells west to east) holding each cell's rate.
/// DDI 1 is in mm³/m² with resolution 0.01, so raw = L/ha × 10 000. Per-tree treatment zones are not used: a task
/// can only have 255 of them (TZN A is an unsigned byte), far fewer than a block has trees.
/// </summary>
public static class IsoXmlExport
{
    public const string FolderName = "TASKDATA";
    public const string TaskFile = "TASKDATA.XML";
    public const string GridFile = "GRD00001";

    /// <summary>DDI 1 raw units per L/ha (1 L/ha = 100 mm³/m² = raw 10 000 at 0.01 mm³/m² per bit).</summary>
    public const int RawPerLitrePerHectare = 10_000;

    public const byte GridZone = 1;
    public const byte OutsideZone = 2;
    public const byte PositionLostZone = 3;

    public static IReadOnlyList<string> Write(RunSnapshot run, string directory, double cellM)
    {
        if (run.Profile is null || run.Zones.Count == 0 || run.Zones.Any(z => z.Tree.RateLPerHa is null))
        {
            throw new InvalidOperationException(run.Zones.Count == 0
                ? "ISOXML needs at least one tree with a position"
                : $"run {run.RunId} has no thinning prescription (no variety profile for '{run.Variety}'); give one with --prescription FILE");
        }
        var folder = Path.Combine(directory, FolderName);
        Directory.CreateDirectory(folder);
        var grid = Rasterize(run.Zones, cellM);
        var gridPath = Path.Combine(folder, GridFile + ".BIN");
        File.WriteAllBytes(gridPath, grid.Bytes());

        var fallbackRaw = Raw(run.Zones.Average(z => z.Tree.RateLPerHa!.Value));
        var outline = Outline(run.Zones);
        var agent = run.Profile.Agent ?? $"Thinning agent ({run.Profile.Variety})";
        var ns = XNamespace.None;
        var doc = new XDocument(new XDeclaration("1.0", "UTF-8", null),
            new XElement(ns + "ISO11783_TaskData",
                new XAttribute("VersionMajor", "4"), new XAttribute("VersionMinor", "3"),
                new XAttribute("ManagementSoftwareManufacturer", "TreeScout"),
                new XAttribute("ManagementSoftwareVersion", Truncate(typeof(IsoXmlExport).Assembly.GetName().Version?.ToString() ?? "1.0", 32)),
                new XAttribute("DataTransferOrigin", "1"),
                new XElement("PDT", new XAttribute("A", "PDT1"), new XAttribute("B", Truncate(agent, 32))),
                new XElement("PFD", new XAttribute("A", "PFD1"), new XAttribute("C", Truncate(run.Block ?? run.RunId, 32)), new XAttribute("D", Area(outline)),
                    Polygon(outline)),
                new XElement("TSK", new XAttribute("A", "TSK1"), new XAttribute("B", Truncate(TaskName(run), 32)),
                    new XAttribute("E", "PFD1"), new XAttribute("G", "1"),
                    new XAttribute("I", PositionLostZone), new XAttribute("J", OutsideZone),
                    Zone(GridZone, run.Calibration is null ? "Prescription grid" : Truncate($"Grid, {run.Calibration.Label}", 32), fallbackRaw),
                    Zone(OutsideZone, "Outside block", 0),
                    Zone(PositionLostZone, "Position lost: block mean", fallbackRaw),
                    new XElement("GRD",
                        new XAttribute("A", Decimal9(grid.MinLatitude)), new XAttribute("B", Decimal9(grid.MinLongitude)),
                        new XAttribute("C", grid.CellNorthDeg.ToString("R", CultureInfo.InvariantCulture)),
                        new XAttribute("D", grid.CellEastDeg.ToString("R", CultureInfo.InvariantCulture)),
                        new XAttribute("E", grid.Columns), new XAttribute("F", grid.Rows),
                        new XAttribute("G", GridFile), new XAttribute("H", grid.Cells.Length * 4L),
                        new XAttribute("I", "2"), new XAttribute("J", GridZone))),
                new XElement("VPN", new XAttribute("A", "VPN1"), new XAttribute("B", "0"), new XAttribute("C", "0.0001"), new XAttribute("D", "2"), new XAttribute("E", "l/ha"))));
        var xmlPath = Path.Combine(folder, TaskFile);
        using (var writer = XmlWriter.Create(xmlPath, new XmlWriterSettings { Indent = true, Encoding = new System.Text.UTF8Encoding(false) }))
        {
            doc.Save(writer);
        }
        return [xmlPath, gridPath];

        static XElement Zone(byte code, string name, int raw) =>
            new("TZN", new XAttribute("A", code), new XAttribute("B", name),
                new XElement("PDV", new XAttribute("A", "0001"), new XAttribute("B", raw), new XAttribute("C", "PDT1"), new XAttribute("E", "VPN1")));
    }

    /// <summary>
    /// The task designator, the one free text a terminal shows for a task: it says when the rates come from hand-count
    /// calibrated counts, first, so the 32-character limit cuts the block name rather than that.
    /// </summary>
    public static string TaskName(RunSnapshot run) => run.Calibration switch
    {
        null => $"Thinning {run.Block ?? run.RunId}",
        { Fit.PoorFit: true } => $"POOR FIT calibrated thinning {run.Block ?? run.RunId}",
        _ => $"Calibrated thinning {run.Block ?? run.RunId}",
    };

    public static int Raw(double litresPerHectare) => (int)Math.Round(litresPerHectare * RawPerLitrePerHectare, MidpointRounding.AwayFromZero);

    /// <summary>A type-2 grid: cell (row, column) from the south-west corner; one DDI-1 raw value per cell.</summary>
    public sealed record Grid(double MinLatitude, double MinLongitude, double CellNorthDeg, double CellEastDeg, int Columns, int Rows, int[] Cells)
    {
        public byte[] Bytes()
        {
            var bytes = new byte[Cells.Length * 4];
            for (var i = 0; i < Cells.Length; i++)
            {
                BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(i * 4), Cells[i]);
            }
            return bytes;
        }

        /// <summary>Index of the cell containing a point, or -1 outside the grid.</summary>
        public int CellAt(double latitude, double longitude)
        {
            var row = (int)Math.Floor((latitude - MinLatitude) / CellNorthDeg);
            var col = (int)Math.Floor((longitude - MinLongitude) / CellEastDeg);
            return row < 0 || col < 0 || row >= Rows || col >= Columns ? -1 : (row * Columns) + col;
        }
    }

    /// <summary>Each cell takes the rate of the canopy zone that contains its centre; cells outside every zone are 0.</summary>
    public static Grid Rasterize(IReadOnlyList<TreeZone> zones, double cellM)
    {
        var extent = new Envelope();
        foreach (var z in zones)
        {
            extent.ExpandToInclude(z.Zone.EnvelopeInternal);
        }
        var lat0 = extent.Centre.Y * Math.PI / 180;
        // Metres per degree on the WGS84 ellipsoid at the block's latitude (series expansion, < 1 cm error per km).
        var mPerDegLat = 111_132.954 - (559.822 * Math.Cos(2 * lat0)) + (1.175 * Math.Cos(4 * lat0));
        var mPerDegLon = (111_412.84 * Math.Cos(lat0)) - (93.5 * Math.Cos(3 * lat0)) + (0.118 * Math.Cos(5 * lat0));
        var cellN = cellM / mPerDegLat;
        var cellE = cellM / mPerDegLon;
        var minLat = Math.Floor(extent.MinY * 1e9) / 1e9;
        var minLon = Math.Floor(extent.MinX * 1e9) / 1e9;
        var columns = Math.Max(1, (int)Math.Ceiling((extent.MaxX - minLon) / cellE));
        var rows = Math.Max(1, (int)Math.Ceiling((extent.MaxY - minLat) / cellN));
        var cells = new int[checked(columns * rows)];
        foreach (var z in zones)
        {
            var raw = Raw(z.Tree.RateLPerHa!.Value);
            var ring = z.Zone.ExteriorRing.Coordinates;
            var e = z.Zone.EnvelopeInternal;
            var r0 = Math.Max(0, (int)Math.Floor((e.MinY - minLat) / cellN));
            var r1 = Math.Min(rows - 1, (int)Math.Floor((e.MaxY - minLat) / cellN));
            var c0 = Math.Max(0, (int)Math.Floor((e.MinX - minLon) / cellE));
            var c1 = Math.Min(columns - 1, (int)Math.Floor((e.MaxX - minLon) / cellE));
            for (var r = r0; r <= r1; r++)
            {
                for (var c = c0; c <= c1; c++)
                {
                    var centre = new Coordinate(minLon + ((c + 0.5) * cellE), minLat + ((r + 0.5) * cellN));
                    if (PointLocation.IsInRing(centre, ring))
                    {
                        cells[(r * columns) + c] = raw;
                    }
                }
            }
        }
        return new Grid(minLat, minLon, cellN, cellE, columns, rows, cells);
    }

    /// <summary>The block outline: convex hull of all canopy zones.</summary>
    public static Polygon Outline(IReadOnlyList<TreeZone> zones)
    {
        var hull = new ConvexHull(zones.SelectMany(z => z.Zone.Coordinates).ToArray(), RunSnapshot.Wgs84).GetConvexHull();
        return hull as Polygon ?? (Polygon)hull.Buffer(1e-6);
    }

    private static XElement Polygon(Polygon outline) =>
        new("PLN", new XAttribute("A", "1"),
            new XElement("LSG", new XAttribute("A", "1"),
                outline.ExteriorRing.Coordinates.Select(c => new XElement("PNT", new XAttribute("A", "2"), new XAttribute("C", Decimal9(c.Y)), new XAttribute("D", Decimal9(c.X))))));

    /// <summary>Area in m² (the projected outline in the block's UTM zone).</summary>
    private static long Area(Polygon outline)
    {
        var c = outline.Centroid;
        var utm = UtmProjection.For(c.Y, c.X);
        var ring = outline.ExteriorRing.Coordinates.Select(p =>
        {
            var (e, n) = utm.ToUtm(p.Y, p.X);
            return new Coordinate(e, n);
        }).ToArray();
        return (long)Math.Round(Math.Abs(NetTopologySuite.Algorithm.Area.OfRingSigned(ring)));
    }

    private static string Decimal9(double v) => v.ToString("F9", CultureInfo.InvariantCulture);

    private static string Truncate(string s, int max) => s.Length <= max ? s : s[..max];
}
