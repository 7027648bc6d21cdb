using System.Globalization;
using NetTopologySuite.Geometries;
using OpenCvSharp;
using Point = OpenCvSharp.Point;
using TreeScout.Orchard;

namespace TreeScout.MapWriter.Exports;

/// <summary>
/// map.png: canopy zones coloured by thinning rate (or by blossom density when the run has no prescription), tree
/// points, the block outline, a colour legend, a north arrow and a scale bar, drawn in the block's UTM metres.
/// </summary>
public static class PngMapExport
{
    public const string FileName = "map.png";
    private const int MapSize = 1400;
    private const int Margin = 60;
    private const int LegendWidth = 260;
    private static readonly int[] RoundSteps = [1, 2, 5, 10];

    public static IReadOnlyList<string> Write(RunSnapshot run, string directory)
    {
        var path = Path.Combine(directory, FileName);
        using var image = Render(run);
        if (!Cv2.ImWrite(path, image))
        {
            throw new IOException($"{path}: OpenCV could not write the PNG");
        }
        return [path];
    }

    public static Mat Render(RunSnapshot run)
    {
        var byRate = run.Profile is not null && run.Zones.All(z => z.Tree.RateLPerHa is not null);
        double? Value(TreeZone z) => byRate ? z.Tree.RateLPerHa : z.Tree.DensityPerM ?? z.Tree.ClustersTotal;
        var values = run.Zones.Select(Value).OfType<double>().ToList();
        var (lo, hi) = values.Count == 0 ? (0.0, 1.0) : (values.Min(), values.Max());
        if (hi - lo < 1e-9)
        {
            hi = lo + 1;
        }

        var image = new Mat(new Size(MapSize + LegendWidth, MapSize), MatType.CV_8UC3, Scalar.White);
        if (run.Zones.Count == 0)
        {
            Text(image, "no trees with a position in this run", new Point(Margin, MapSize / 2), 0.9);
            return image;
        }
        var first = run.Zones[0].Tree;
        var utm = run.Plan?.Projection() ?? UtmProjection.For(first.Latitude!.Value, first.Longitude!.Value);
        var outline = IsoXmlExport.Outline(run.Zones);
        var extent = new Envelope();
        foreach (var c in outline.Coordinates)
        {
            var (e, n) = utm.ToUtm(c.Y, c.X);
            extent.ExpandToInclude(e, n);
        }
        var scale = (MapSize - (2.0 * Margin)) / Math.Max(extent.Width, extent.Height);
        Point ToPixel(double lat, double lon)
        {
            var (e, n) = utm.ToUtm(lat, lon);
            return new Point(Margin + ((e - extent.MinX) * scale), MapSize - Margin - ((n - extent.MinY) * scale));
        }

        foreach (var zone in run.Zones)
        {
            var pixels = zone.Zone.ExteriorRing.Coordinates.Select(c => ToPixel(c.Y, c.X)).ToArray();
            var v = Value(zone);
            var colour = v is null ? new Scalar(200, 200, 200) : Ramp((v.Value - lo) / (hi - lo));
            Cv2.FillPoly(image, [pixels], colour, LineTypes.AntiAlias);
        }
        foreach (var zone in run.Zones)
        {
            Cv2.Circle(image, ToPixel(zone.Tree.Latitude!.Value, zone.Tree.Longitude!.Value), Math.Max(1, (int)(0.15 * scale)), new Scalar(40, 40, 40), -1, LineTypes.AntiAlias);
        }
        Cv2.Polylines(image, [outline.ExteriorRing.Coordinates.Select(c => ToPixel(c.Y, c.X)).ToArray()], true, new Scalar(0, 0, 0), 2, LineTypes.AntiAlias);

        NorthArrow(image, new Point(MapSize - Margin - 10, Margin + 70));
        ScaleBar(image, scale, new Point(Margin, MapSize - (Margin / 2)));
        Legend(image, lo, hi, byRate ? "Thinning rate, L/ha" : "Blossom clusters per m of row", new Point(MapSize + 20, Margin));
        var title = $"{run.Block ?? run.RunId}  {(run.Variety is null ? "" : run.Variety + "  ")}run {run.RunId}{(run.Calibration is null ? "" : "  calibrated: " + run.Calibration.Label)}";
        Text(image, title, new Point(Margin, Margin / 2 + 8), 0.7);
        return image;
    }

    /// <summary>Green (low) → yellow → red (high), BGR.</summary>
    private static Scalar Ramp(double t)
    {
        t = Math.Clamp(t, 0, 1);
        return t < 0.5
            ? new Scalar(60, 180, 60 + (390 * t))
            : new Scalar(60 - (100 * (t - 0.5)), 180 - (300 * (t - 0.5)), 255);
    }

    private static void Legend(Mat image, double lo, double hi, string title, Point at)
    {
        Text(image, title, at, 0.5);
        const int height = 300;
        for (var y = 0; y < height; y++)
        {
            Cv2.Line(image, new Point(at.X, at.Y + 20 + y), new Point(at.X + 30, at.Y + 20 + y), Ramp(1 - ((double)y / height)));
        }
        Cv2.Rectangle(image, new Rect(at.X, at.Y + 20, 30, height), Scalar.Black);
        for (var i = 0; i <= 4; i++)
        {
            var v = hi - ((hi - lo) * i / 4);
            Text(image, v.ToString("0.#", CultureInfo.InvariantCulture), new Point(at.X + 40, at.Y + 25 + (height * i / 4)), 0.5);
        }
    }

    private static void NorthArrow(Mat image, Point tip)
    {
        var left = new Point(tip.X - 15, tip.Y + 45);
        var right = new Point(tip.X + 15, tip.Y + 45);
        var notch = new Point(tip.X, tip.Y + 33);
        Cv2.FillPoly(image, [new[] { tip, left, notch }], Scalar.Black, LineTypes.AntiAlias);
        Cv2.Polylines(image, [new[] { tip, right, notch }], true, Scalar.Black, 2, LineTypes.AntiAlias);
        Text(image, "N", new Point(tip.X - 8, tip.Y - 10), 0.8);
    }

    /// <summary>A bar of a round length (1, 2 or 5 × 10^k m) about a fifth of the map wide.</summary>
    private static void ScaleBar(Mat image, double pixelsPerMetre, Point at)
    {
        var target = (MapSize / 5.0) / pixelsPerMetre;
        var magnitude = Math.Pow(10, Math.Floor(Math.Log10(target)));
        var metres = RoundSteps.Select(m => m * magnitude).Last(m => m <= target);
        var length = (int)Math.Round(metres * pixelsPerMetre);
        Cv2.Rectangle(image, new Rect(at.X, at.Y - 8, length / 2, 8), Scalar.Black, -1);
        Cv2.Rectangle(image, new Rect(at.X, at.Y - 8, length, 8), Scalar.Black, 1);
        Text(image, $"{metres.ToString("0.##", CultureInfo.InvariantCulture)} m", new Point(at.X + length + 10, at.Y), 0.6);
    }

    private static void Text(Mat image, string text, Point at, double size) =>
        Cv2.PutText(image, text, at, HersheyFonts.HersheySimplex, size, Scalar.Black, 1, LineTypes.AntiAlias);
}
