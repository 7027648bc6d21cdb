using System.Globalization;
using System.Text;
using NetTopologySuite.Geometries;
using OpenCvSharp;
using TreeScout.MapWriter.Store;
using TreeScout.Orchard;
using Point = OpenCvSharp.Point;

namespace TreeScout.MapWriter.Exports;

/// <summary>
/// The printable map sheet of a run, from its <see cref="RunSnapshot"/> (the per-tree values every export carries):
/// a title block (block, variety, scan date, run id, models, calibration, prescription profile), the main panel with
/// each tree's canopy zone coloured by blossom density and labelled with its id and count where the label fits, a
/// second panel with the thinning dose, a legend per panel with its unit and breaks, a north arrow and a scale bar
/// in each panel, and the run's warnings. A run without positioned trees gets the sheet with a message instead of maps.
/// </summary>
public sealed class MapSheet
{
    public static readonly Rect DensityFrame = new(40, 228, 1100, 932);
    public static readonly Rect DensityLegendArea = new(1180, 220, 534, 250);
    public static readonly Rect DoseFrame = new(1180, 520, 534, 380);
    public static readonly Rect DoseLegendArea = new(1180, 912, 534, 250);

    private const HersheyFonts Font = HersheyFonts.HersheySimplex;
    private const HersheyFonts BoldFont = HersheyFonts.HersheyDuplex;
    private const double LabelScale = 0.42;
    private const int LegendRow = 28;

    /// <summary>White margin around the sheet, pixels.</summary>
    private const int Margin = 40;
    private static readonly Scalar Ink = new(30, 30, 30);
    private static readonly Scalar Muted = new(90, 90, 90);
    private static readonly Scalar WarningInk = new(0, 0, 190);
    private static readonly Scalar FrameInk = new(150, 150, 150);
    private static readonly int[] RoundSteps = [1, 2, 5];

    private readonly RunSnapshot _run;

    public MapSheet(RunSnapshot run)
    {
        _run = run;
        DensityLegend = MapLegend.Density(run.Trees);
        DoseLegend = run.Profile is null ? null : MapLegend.Dose(run.Trees, run.Profile);
        if (run.Zones.Count == 0)
        {
            return;
        }
        var first = run.Zones[0].Tree;
        var utm = run.Plan?.Projection() ?? UtmProjection.For(first.Latitude!.Value, first.Longitude!.Value);
        var extent = new Envelope();
        foreach (var c in run.Zones.SelectMany(z => z.Zone.ExteriorRing.Coordinates))
        {
            var (e, n) = utm.ToUtm(c.Y, c.X);
            extent.ExpandToInclude(e, n);
        }
        DensityPanel = new MapPanel(DensityFrame, utm, extent);
        DosePanel = new MapPanel(DoseFrame, utm, extent);
    }

    public MapLegend DensityLegend { get; }

    /// <summary>Null when the run has no prescription (no variety profile).</summary>
    public MapLegend? DoseLegend { get; }

    /// <summary>Null when no tree has a position.</summary>
    public MapPanel? DensityPanel { get; }

    public MapPanel? DosePanel { get; }

    /// <summary>The label a tree gets on the density panel where it fits: its id and its confident clusters.</summary>
    public static string TreeLabel(Store.TreeRecord tree) => $"{tree.TreeId} {tree.ClustersTotal}";

    public Mat Render()
    {
        var image = new Mat(new Size(PngMapExport.Width, PngMapExport.Height), MatType.CV_8UC3, Scalar.White);
        TitleBlock(image);
        Caption(image, DensityFrame, $"{DensityLegend.Title} ({DensityLegend.Unit})");
        Caption(image, DoseFrame, DoseLegend is null ? "Thinning dose per tree" : $"{DoseLegend.Title} ({(_run.Represcribed ? "preview, " : "")}L/ha)");
        string note;
        if (DensityPanel is null || DosePanel is null)
        {
            note = _run.Trees.Count == 0 ? "No trees in this run: nothing to map." : $"None of the {_run.Trees.Count} trees has a position: nothing to map.";
            Message(image, DensityFrame, note);
            Message(image, DoseFrame, note);
        }
        else
        {
            var placed = DrawPanel(image, DensityPanel, DensityLegend, treeLabels: true);
            if (DoseLegend is null)
            {
                Message(image, DoseFrame, "No prescription: the run has no variety profile.");
            }
            else
            {
                DrawPanel(image, DosePanel, DoseLegend, treeLabels: false);
            }
            var unplaced = _run.Trees.Count - _run.Zones.Count;
            note = $"Each tree's canopy zone is coloured (half a tree spacing each way along the row, one row spacing wide). Labels: tree id and confident clusters, {placed} of {_run.Zones.Count} trees where a label fits."
                + (unplaced > 0 ? $" {unplaced} trees without a position are not drawn." : "");
        }
        Footer(image, note);
        Legend(image, DensityLegendArea, DensityLegend, DensityLegend.Unit);
        if (DoseLegend is not null)
        {
            Legend(image, DoseLegendArea, DoseLegend, $"L/ha of tank mix (% of the full dose, {MapLegend.Number(_run.Profile!.FullDoseLPerHa)} L/ha)");
        }
        return image;
    }

    private void TitleBlock(Mat image)
    {
        Text(image, $"Blossom density and thinning dose: {_run.Block ?? "block not named"}", new Point(40, 50), 1.05, BoldFont, Ink, 2);
        var started = DateTimeOffset.TryParse(_run.Metadata.GetValueOrDefault(RunMetadataKeys.StartedAt), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var s)
            ? s.UtcDateTime.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture)
            : "not recorded";
        var clusters = _run.Trees.Sum(t => (long)t.ClustersTotal);
        Text(image, $"Variety: {_run.Variety ?? "not given"}    Scanned: {started}    {_run.Trees.Count} trees, {clusters} blossom clusters    Run: {_run.RunId}", new Point(40, 84), 0.6);
        var models = RunMetadataKeys.ReadModels(_run.Metadata);
        Text(image, $"Models: {(models.Count == 0 ? "not recorded" : string.Join(", ", models.Select(m => $"{m.Name} {m.Version}")))}", new Point(40, 110), 0.6);
        if (_run.Calibration is { } calibration)
        {
            Text(image, $"CALIBRATED by hand counts ({calibration.Label}, {calibration.CreatedAtUtc.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)}): dose from calibrated counts, density and labels from the scan's counts",
                new Point(40, 136), 0.6, Font, calibration.Fit.PoorFit ? WarningInk : Ink);
        }
        else
        {
            Text(image, StoredCalibration.NoneText, new Point(40, 136), 0.6);
        }
        var profile = _run.Profile is { } p
            ? $"Prescription: {p.Variety} profile{(_run.Represcribed ? " (preview, not the run's own)" : "")}, target {MapLegend.Number(p.TargetClustersPerTree)} clusters per tree, full dose {MapLegend.Number(p.FullDoseLPerHa)} L/ha{(p.Agent is { Length: > 0 } agent ? ", " + agent : "")}"
            : "Prescription: none (no variety profile)";
        Text(image, profile, new Point(40, 162), 0.6);
    }

    private static void Caption(Mat image, Rect frame, string caption) =>
        Text(image, caption, new Point(frame.X, frame.Y - 10), 0.7, BoldFont, Ink, 1);

    /// <summary>Zones, block outline, tree markers, row labels (and tree labels), north arrow, scale bar; returns the tree labels placed.</summary>
    private int DrawPanel(Mat image, MapPanel panel, MapLegend legend, bool treeLabels)
    {
        Cv2.Rectangle(image, panel.Frame, FrameInk, 1);
        var ppm = panel.PixelsPerMetre;
        var zones = _run.Zones.Select(z => (z.Tree, Ring: z.Zone.ExteriorRing.Coordinates.Select(c => panel.ToPixel(c.Y, c.X)).ToArray(), At: panel.ToPixel(z.Tree.Latitude!.Value, z.Tree.Longitude!.Value))).ToList();
        foreach (var (tree, ring, _) in zones)
        {
            Cv2.FillPoly(image, [ring], legend.ClassOf(tree).Colour, LineTypes.Link8);
        }
        // Zone edges only where a tree's zone is wide enough on paper to show them without hiding its colour.
        var treeSpacingPx = _run.Trees.Select(t => t.SpacingM).OfType<double>().DefaultIfEmpty(1).Min() * ppm;
        if (treeSpacingPx >= 10)
        {
            Cv2.Polylines(image, zones.Select(z => z.Ring), true, Scalar.White, 1, LineTypes.AntiAlias);
        }
        var outline = IsoXmlExport.Outline(_run.Zones).ExteriorRing.Coordinates.Select(c => panel.ToPixel(c.Y, c.X)).ToArray();
        Cv2.Polylines(image, [outline], true, Ink, 2, LineTypes.AntiAlias);
        var markerRadius = (int)Math.Round(0.15 * ppm);
        if (markerRadius >= 3)
        {
            foreach (var (_, _, at) in zones)
            {
                Cv2.Circle(image, at, markerRadius, Ink, 1, LineTypes.AntiAlias);
            }
        }

        var placer = new LabelPlacer(new Rect(panel.Frame.X + 2, panel.Frame.Y + 2, panel.Frame.Width - 4, panel.Frame.Height - 4));
        var clearance = Math.Max(markerRadius, 2) + 2;
        foreach (var (_, _, at) in zones)
        {
            placer.Block(new Rect(at.X - clearance, at.Y - clearance, (2 * clearance) + 1, (2 * clearance) + 1));
        }
        var arrow = new Rect(panel.Frame.X + panel.Frame.Width - 60, panel.Frame.Y + 8, 52, 80);
        var scaleBar = ScaleBar(image, panel);
        placer.Block(arrow);
        placer.Block(scaleBar);
        NorthArrow(image, arrow, panel.TrueNorth());
        RowLabels(image, placer, zones.Select(z => (z.Tree, z.At)).ToList(), ppm);
        if (!treeLabels)
        {
            return 0;
        }
        var placed = 0;
        foreach (var (tree, _, at) in zones.OrderBy(z => z.Tree.TreeId, StringComparer.Ordinal))
        {
            var text = TreeLabel(tree);
            var size = LabelSize(text);
            if (placer.PlaceBeside(at, size, clearance + 1) is { } box)
            {
                Label(image, box, text);
                placed++;
            }
        }
        return placed;
    }

    /// <summary>Each row's id beyond its first and its last tree, in line with the row, where it fits.</summary>
    private static void RowLabels(Mat image, LabelPlacer placer, List<(Store.TreeRecord Tree, Point At)> trees, double ppm)
    {
        foreach (var row in trees.Where(t => t.Tree.RowId is not null).GroupBy(t => t.Tree.RowId!, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var ordered = row.OrderBy(t => t.Tree.TreeIndex ?? 0).ThenBy(t => t.Tree.TreeId, StringComparer.Ordinal).Select(t => t.At).ToList();
            var size = LabelSize(row.Key);
            foreach (var (end, inner) in new[] { (ordered[0], ordered[Math.Min(1, ordered.Count - 1)]), (ordered[^1], ordered[Math.Max(ordered.Count - 2, 0)]) })
            {
                double dx = end.X - inner.X, dy = end.Y - inner.Y;
                var length = Math.Sqrt((dx * dx) + (dy * dy));
                (dx, dy) = length < 1e-9 ? (0.0, -1.0) : (dx / length, dy / length);
                // Past the row end by half a label plus a tree spacing' worth of margin.
                var reach = (0.5 * Math.Abs(dx) * size.Width) + (0.5 * Math.Abs(dy) * size.Height) + Math.Max(0.8 * ppm, 8);
                var centre = new Point(end.X + (dx * reach), end.Y + (dy * reach));
                var box = new Rect(centre.X - (size.Width / 2), centre.Y - (size.Height / 2), size.Width, size.Height);
                if (placer.TryPlace(box))
                {
                    Label(image, box, row.Key);
                }
            }
        }
    }

    private static Size LabelSize(string text)
    {
        var size = Cv2.GetTextSize(Ascii(text), Font, LabelScale, 1, out var baseline);
        return new Size(size.Width + 6, size.Height + baseline + 4);
    }

    private static void Label(Mat image, Rect box, string text)
    {
        Cv2.Rectangle(image, box, Scalar.White, -1);
        Cv2.Rectangle(image, box, FrameInk, 1);
        var size = Cv2.GetTextSize(Ascii(text), Font, LabelScale, 1, out var baseline);
        Text(image, text, new Point(box.X + 3, box.Y + 2 + size.Height), LabelScale);
    }

    private static void Legend(Mat image, Rect area, MapLegend legend, string unit)
    {
        Text(image, legend.Title, new Point(area.X, area.Y + 18), 0.62, BoldFont, Ink, 1);
        Text(image, unit, new Point(area.X, area.Y + 42), 0.5, Font, Muted);
        var y = area.Y + 56;
        var rows = legend.Classes.Reverse().Concat(legend.NoValue is null ? [] : [legend.NoValue]).ToList();
        if (rows.Count == 0)
        {
            Text(image, "no trees", new Point(area.X, y + 18), 0.55);
        }
        foreach (var cls in rows)
        {
            Cv2.Rectangle(image, new Rect(area.X, y, 44, LegendRow - 6), cls.Colour, -1);
            Cv2.Rectangle(image, new Rect(area.X, y, 44, LegendRow - 6), Ink, 1);
            Text(image, cls.Label, new Point(area.X + 56, y + 17), 0.52, Font, Ink, maxWidth: area.Width - 56 - 100);
            var count = cls.Trees == 1 ? "1 tree" : $"{cls.Trees} trees";
            var width = Cv2.GetTextSize(count, Font, 0.52, 1, out _).Width;
            Text(image, count, new Point(area.X + area.Width - width, y + 17), 0.52, Font, Muted);
            y += LegendRow;
        }
    }

    private void Footer(Mat image, string note)
    {
        var y = DensityFrame.Y + DensityFrame.Height + 22;
        Text(image, note, new Point(Margin, y), 0.48, Font, Muted);
        foreach (var warning in _run.Warnings.Take(2))
        {
            y += 22;
            Text(image, "Warning: " + warning, new Point(Margin, y), 0.5, Font, WarningInk);
        }
    }

    private static void Message(Mat image, Rect frame, string text)
    {
        Cv2.Rectangle(image, frame, FrameInk, 1);
        var size = Cv2.GetTextSize(Ascii(text), Font, 0.8, 1, out _);
        var scale = Math.Min(0.8, 0.8 * (frame.Width - 40) / size.Width);
        var width = Cv2.GetTextSize(Ascii(text), Font, scale, 1, out _).Width;
        Text(image, text, new Point(frame.X + ((frame.Width - width) / 2), frame.Y + (frame.Height / 2)), scale);
    }

    /// <summary>An arrow to true north in <paramref name="box"/>, turned by <paramref name="azimuth"/> (radians clockwise from up).</summary>
    private static void NorthArrow(Mat image, Rect box, double azimuth)
    {
        Cv2.Rectangle(image, box, Scalar.White, -1);
        var centre = new Point2d(box.X + (box.Width / 2.0), box.Y + 48);
        Point At(double along, double across) => new(
            Math.Round(centre.X + (along * Math.Sin(azimuth)) + (across * Math.Cos(azimuth))),
            Math.Round(centre.Y - (along * Math.Cos(azimuth)) + (across * Math.Sin(azimuth))));
        var (tip, left, right, notch) = (At(24, 0), At(-24, -13), At(-24, 13), At(-12, 0));
        Cv2.FillPoly(image, [new[] { tip, left, notch }], Ink, LineTypes.AntiAlias);
        Cv2.Polylines(image, [new[] { tip, right, notch }], true, Ink, 2, LineTypes.AntiAlias);
        var n = At(36, 0);
        Text(image, "N", new Point(n.X - 8, n.Y + 8), 0.7, BoldFont, Ink, 1);
    }

    /// <summary>A bar of a round length (1, 2 or 5 × 10^k m) about a quarter of the panel wide, in its bottom-left corner; returns its area.</summary>
    private static Rect ScaleBar(Mat image, MapPanel panel)
    {
        var target = panel.Frame.Width / 4.0 / panel.PixelsPerMetre;
        var magnitude = Math.Pow(10, Math.Floor(Math.Log10(target)));
        var metres = RoundSteps.Select(m => m * magnitude).Last(m => m <= target);
        var length = (int)Math.Round(metres * panel.PixelsPerMetre);
        var origin = new Point(panel.Frame.X + 16, panel.Frame.Y + panel.Frame.Height - 22);
        var label = $"{MapLegend.Number(metres)} m";
        var labelWidth = Cv2.GetTextSize(label, Font, 0.5, 1, out _).Width;
        var area = new Rect(origin.X - 6, origin.Y - 30, length + labelWidth + 24, 40);
        Cv2.Rectangle(image, area, Scalar.White, -1);
        var half = length / 2;
        Cv2.Rectangle(image, new Rect(origin.X, origin.Y - 8, half, 8), Ink, -1);
        Cv2.Rectangle(image, new Rect(origin.X, origin.Y - 8, length, 8), Ink, 1);
        Text(image, "0", new Point(origin.X - 4, origin.Y - 14), 0.45);
        Text(image, label, new Point(origin.X + length + 8, origin.Y), 0.5);
        return area;
    }

    private static void Text(Mat image, string text, Point at, double scale) => Text(image, text, at, scale, Font, Ink);

    /// <summary>Text that ends with "..." where it would pass <paramref name="maxWidth"/> (by default the sheet's right margin).</summary>
    private static void Text(Mat image, string text, Point at, double scale, HersheyFonts font, Scalar colour, int thickness = 1, int? maxWidth = null)
    {
        var ascii = Ascii(text);
        var room = maxWidth ?? (PngMapExport.Width - Margin - at.X);
        if (Cv2.GetTextSize(ascii, font, scale, thickness, out _).Width > room)
        {
            while (ascii.Length > 1 && Cv2.GetTextSize(ascii + "...", font, scale, thickness, out _).Width > room)
            {
                ascii = ascii[..^1];
            }
            ascii = ascii.TrimEnd() + "...";
        }
        Cv2.PutText(image, ascii, at, font, scale, colour, thickness, LineTypes.AntiAlias);
    }

    /// <summary>OpenCV's Hershey fonts are ASCII only: common typography to its ASCII form, anything else '?'.</summary>
    private static string Ascii(string text)
    {
        var ascii = new StringBuilder(text.Length);
        foreach (var c in text.Normalize(NormalizationForm.FormD))
        {
            if (CharUnicodeInfo.GetUnicodeCategory(c) == UnicodeCategory.NonSpacingMark)
            {
                continue;
            }
            ascii.Append(c switch
            {
                '–' or '—' or '−' => "-",
                '²' => "2",
                '×' => "x",
                '÷' => "/",
                '≥' => ">=",
                '≤' => "<=",
                _ when c < 128 => c.ToString(),
                _ => "?",
            });
        }
        return ascii.ToString();
    }
}
