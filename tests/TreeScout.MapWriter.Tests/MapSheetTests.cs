using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using OpenCvSharp;
using TreeScout.Contracts;
using TreeScout.MapWriter.Exports;
using TreeScout.MapWriter.Prescription;
using TreeScout.MapWriter.Store;
using Xunit.Abstractions;

namespace TreeScout.MapWriter.Tests;

/// <summary>map.png, the printable sheet: decoded and its pixels compared with the legends, label placement, empty and large runs.</summary>
[Trait("Category", "Unit")]
public sealed class MapSheetTests(ITestOutputHelper output)
{
    /// <summary>Where the tests leave the sheets they render, to be looked at (test output, not checked in).</summary>
    public static string SheetsFolder => Directory.CreateDirectory(Path.Combine(AppContext.BaseDirectory, "map-sheets")).FullName;

    /// <summary>A profile whose target no tree reaches: every tree 0 L/ha, as for the bundled sample.</summary>
    private static readonly VarietyProfile NoThinning = MapWriterTestData.Experiment with { Variety = "Sparse", TargetClustersPerTree = 100000, FullDoseLPerHa = 1000 };

    [Fact]
    public void Labels_never_overlap_each_other_blocked_areas_or_the_bounds()
    {
        var bounds = new Rect(0, 0, 400, 300);
        var placer = new LabelPlacer(bounds);
        var blocked = new Rect(180, 130, 40, 40);
        placer.Block(blocked);
        var rng = new Random(3);
        var anchors = Enumerable.Range(0, 400).Select(_ => new Point(rng.Next(0, 400), rng.Next(0, 300))).ToList();
        var placed = anchors.Select(a => placer.PlaceBeside(a, new Size(60, 14), 4)).OfType<Rect>().ToList();

        Assert.Equal(placed, placer.Placed);
        Assert.InRange(placed.Count, 20, 399); // many fit, not all: the test means something both ways
        for (var i = 0; i < placed.Count; i++)
        {
            Assert.True(placed[i].X >= 0 && placed[i].Y >= 0 && placed[i].X + placed[i].Width <= 400 && placed[i].Y + placed[i].Height <= 300, placed[i].ToString());
            Assert.False(placed[i].IntersectsWith(blocked), placed[i].ToString());
            for (var j = i + 1; j < placed.Count; j++)
            {
                Assert.False(placed[i].IntersectsWith(placed[j]), $"{placed[i]} overlaps {placed[j]}");
            }
        }
    }

    [Fact]
    public void A_label_goes_right_of_its_marker_else_left_above_below_else_nowhere()
    {
        var placer = new LabelPlacer(new Rect(0, 0, 200, 200));
        var size = new Size(40, 10);
        Assert.Equal(new Rect(105, 95, 40, 10), placer.PlaceBeside(new Point(100, 100), size, 5));
        Assert.Equal(new Rect(55, 95, 40, 10), placer.PlaceBeside(new Point(100, 100), size, 5)); // right is taken
        Assert.Equal(new Rect(80, 85, 40, 10), placer.PlaceBeside(new Point(100, 100), size, 5));
        Assert.Equal(new Rect(80, 105, 40, 10), placer.PlaceBeside(new Point(100, 100), size, 5));
        Assert.Null(placer.PlaceBeside(new Point(100, 100), size, 5));
        Assert.Null(new LabelPlacer(new Rect(0, 0, 30, 30)).PlaceBeside(new Point(15, 15), size, 5)); // wider than the bounds
    }

    [Fact]
    public void Density_classes_have_round_breaks_and_at_most_six_classes()
    {
        Assert.Equal([(0.0, 20.0), (20.0, 40.0), (40.0, 60.0), (60.0, 80.0)], MapLegend.Intervals([3, 61, 17.5, 44]));
        Assert.Equal([.. Enumerable.Range(0, 6).Select(i => (i * 0.25, (i + 1) * 0.25))], MapLegend.Intervals([0.1, 1.4]));
        Assert.Equal([(12.0, 12.0)], MapLegend.Intervals([12, 12]));
        var legend = MapLegend.Density([Tree("R01-T001", 3), Tree("R01-T002", 61), Tree("R01-T003", 20), Tree("R01-T004", null)]);
        Assert.Equal(["0 - 20", "20 - 40", "40 - 60", "60 - 80"], legend.Classes.Select(c => c.Label));
        Assert.Equal([1, 1, 0, 1], legend.Classes.Select(c => c.Trees)); // 20 is the second class's lower bound
        Assert.Equal(1, legend.NoValue!.Trees);
        Assert.Equal("clusters / m of row", legend.Unit);
        Assert.Equal(4, legend.Classes.Select(c => c.Colour).Distinct().Count());
    }

    [Fact]
    public void Dose_classes_are_one_per_rate_when_few_else_round_intervals_with_the_share_of_the_full_dose()
    {
        var profile = MapWriterTestData.RoundNumbers(100); // full dose 1000 L/ha, 10-90 %
        var few = MapLegend.Dose([Dosed("R01-T001", 100, 10), Dosed("R01-T002", 900, 90), Dosed("R01-T003", 100, 10)], profile);
        Assert.Equal(["100 L/ha (10 %)", "900 L/ha (90 %)"], few.Classes.Select(c => c.Label));
        Assert.Equal([2, 1], few.Classes.Select(c => c.Trees));
        var many = MapLegend.Dose([.. new[] { 100.0, 150, 420, 890, 900, 730, 555 }.Select((r, i) => Dosed($"R01-T{i:000}", r, r / 10))], profile);
        Assert.Equal(["0 - 200 L/ha (0 - 20 %)", "200 - 400 L/ha (20 - 40 %)", "400 - 600 L/ha (40 - 60 %)", "600 - 800 L/ha (60 - 80 %)", "800 - 1000 L/ha (80 - 100 %)"], many.Classes.Select(c => c.Label));
        Assert.Equal([2, 0, 2, 1, 2], many.Classes.Select(c => c.Trees));
        Assert.Equal("L/ha of tank mix", many.Unit);
    }

    [Fact]
    public async Task Eight_trees_that_need_no_thinning_get_one_dose_class_and_their_density_colours()
    {
        using var dir = new TempDir();
        var run = new SyntheticRun("20260421-100000-eight-trees", rows: 1, treesPerRow: 8, clustersPerTree: (5, 80));
        var (snapshot, path) = await ScanAsync(dir, run, NoThinning);
        File.Copy(path, Path.Combine(SheetsFolder, "eight-trees.png"), overwrite: true);
        var sheet = new MapSheet(snapshot);

        var dose = Assert.Single(sheet.DoseLegend!.Classes);
        Assert.Equal("0 L/ha (0 %) - no thinning needed", dose.Label);
        Assert.Equal(8, dose.Trees);
        using var image = Cv2.ImRead(path);
        AssertTreesCarryTheirClassColours(image, sheet, snapshot);
        var (low, high) = (snapshot.Trees.MinBy(t => t.DensityPerM)!, snapshot.Trees.MaxBy(t => t.DensityPerM)!);
        Assert.NotEqual(sheet.DensityLegend.ClassOf(low), sheet.DensityLegend.ClassOf(high));
        Assert.NotEqual(ColourAt(image, sheet.DensityPanel!, low), ColourAt(image, sheet.DensityPanel!, high));
    }

    [Fact]
    public async Task A_run_without_trees_renders_the_message_in_both_panels()
    {
        using var dir = new TempDir();
        var run = new SyntheticRun("20260421-100000-no-trees", rows: 1, treesPerRow: 2);
        var (snapshot, path) = await ScanAsync(dir, run, profile: null, [run.Started with { BlockPlanGeoJson = null }, run.Fused with { ObservationsPublished = 0 }]);
        File.Copy(path, Path.Combine(SheetsFolder, "no-trees.png"), overwrite: true);

        Assert.Empty(snapshot.Trees);
        using var image = Cv2.ImRead(path);
        Assert.Equal((PngMapExport.Width, PngMapExport.Height), (image.Width, image.Height));
        foreach (var frame in new[] { MapSheet.DensityFrame, MapSheet.DoseFrame })
        {
            // Ink only on the middle line (the message), white everywhere else inside the frame.
            var middle = frame.Y + (frame.Height / 2);
            Assert.True(InkPixels(image, new Rect(frame.X + 2, middle - 25, frame.Width - 4, 35)) > 300, $"no message in {frame}");
            Assert.Equal(0, InkPixels(image, new Rect(frame.X + 2, frame.Y + 2, frame.Width - 4, middle - 30 - frame.Y)));
            Assert.Equal(0, InkPixels(image, new Rect(frame.X + 2, middle + 15, frame.Width - 4, frame.Y + frame.Height - middle - 18)));
        }
    }

    [Fact]
    public void Long_block_names_and_warnings_end_with_an_ellipsis_inside_the_sheet_margin()
    {
        var metadata = new Dictionary<string, string?>
        {
            [RunMetadataKeys.Block] = "Zürich Obstgarten " + string.Concat(Enumerable.Repeat("Hochstamm Süd ", 20)),
            [RunMetadataKeys.Variety] = "Boskoop",
        };
        var snapshot = new RunSnapshot("20260421-100000-long", metadata, [], [], null, null, false, ["plan does not fit the block: " + string.Concat(Enumerable.Repeat("row R01 is 40 m off, ", 20))]);
        using var image = new MapSheet(snapshot).Render();

        Assert.Equal(0, InkPixels(image, new Rect(PngMapExport.Width - 39, 0, 39, PngMapExport.Height)));
        Assert.True(InkPixels(image, new Rect(PngMapExport.Width - 200, 20, 160, 35)) > 50, "the title runs to the margin");
    }

    [Fact]
    public async Task A_3000_tree_block_with_a_curved_row_renders_every_tree_in_its_class_colour_and_the_same_bytes_twice()
    {
        using var dir = new TempDir();
        var run = new SyntheticRun("20260421-100000-block-3000", rows: 30, treesPerRow: 100, batchSize: 3000, clustersPerTree: (0, 40));
        var (snapshot, path) = await ScanAsync(dir, run, profile: null);
        File.Copy(path, Path.Combine(SheetsFolder, "block-3000.png"), overwrite: true);
        Assert.Equal(3000, snapshot.Zones.Count);

        var again = Path.Combine(dir.Path, "again");
        Directory.CreateDirectory(again);
        var watch = Stopwatch.StartNew();
        PngMapExport.Write(snapshot, again);
        output.WriteLine($"map.png of 3000 trees: {watch.Elapsed.TotalSeconds:0.00} s");
        Assert.Equal(File.ReadAllBytes(path), File.ReadAllBytes(Path.Combine(again, PngMapExport.FileName)));

        var sheet = new MapSheet(snapshot);
        Assert.InRange(sheet.DensityLegend.Classes.Count, 3, MapLegend.MaxClasses);
        Assert.Equal(3000, sheet.DensityLegend.Classes.Sum(c => c.Trees) + (sheet.DensityLegend.NoValue?.Trees ?? 0));
        using var image = Cv2.ImRead(path);
        AssertTreesCarryTheirClassColours(image, sheet, snapshot);
    }

    /// <summary>
    /// The pixel at every tree's position carries its legend class's colour in the density panel, and in the dose panel
    /// when a tree's zone is at least 5 px long there (smaller, neighbouring zones' edges share its pixels).
    /// </summary>
    internal static void AssertTreesCarryTheirClassColours(Mat image, MapSheet sheet, RunSnapshot snapshot)
    {
        var checkDose = sheet.DoseLegend is not null && sheet.DosePanel!.PixelsPerMetre * snapshot.Trees.Select(t => t.SpacingM).OfType<double>().Min() >= 5;
        foreach (var tree in snapshot.Zones.Select(z => z.Tree))
        {
            Assert.Equal(Bgr(sheet.DensityLegend.ClassOf(tree).Colour), ColourAt(image, sheet.DensityPanel!, tree));
            if (checkDose)
            {
                Assert.Equal(Bgr(sheet.DoseLegend!.ClassOf(tree).Colour), ColourAt(image, sheet.DosePanel!, tree));
            }
        }
    }

    /// <summary>The print resolution a PNG declares (its pHYs chunk), pixels per metre; null without one.</summary>
    internal static uint? PixelsPerMetre(string path)
    {
        var png = File.ReadAllBytes(path);
        for (var at = 8; at + 8 <= png.Length;)
        {
            var length = (int)BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(at));
            var type = Encoding.ASCII.GetString(png, at + 4, 4);
            if (type == "pHYs" && png[at + 16] == 1)
            {
                var x = BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(at + 8));
                Assert.Equal(x, BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(at + 12)));
                Assert.Equal(System.IO.Hashing.Crc32.HashToUInt32(png.AsSpan(at + 4, length + 4)), BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(at + 8 + length)));
                return x;
            }
            at += 12 + length;
        }
        return null;
    }

    private static (byte, byte, byte) ColourAt(Mat image, MapPanel panel, TreeRecord tree)
    {
        var p = panel.ToPixel(tree.Latitude!.Value, tree.Longitude!.Value);
        var v = image.At<Vec3b>(p.Y, p.X);
        return (v.Item0, v.Item1, v.Item2);
    }

    private static (byte, byte, byte) Bgr(Scalar s) => ((byte)s.Val0, (byte)s.Val1, (byte)s.Val2);

    private static int InkPixels(Mat image, Rect area)
    {
        var count = 0;
        for (var y = area.Y; y < area.Y + area.Height; y++)
        {
            for (var x = area.X; x < area.X + area.Width; x++)
            {
                var v = image.At<Vec3b>(y, x);
                count += v.Item0 + v.Item1 + v.Item2 < 3 * 160 ? 1 : 0;
            }
        }
        return count;
    }

    private static TreeRecord Tree(string id, double? density) => new() { TreeId = id, InPlan = true, DensityPerM = density };

    private static TreeRecord Dosed(string id, double rate, double percent) => new() { TreeId = id, InPlan = true, RateLPerHa = rate, DosePercent = percent };

    /// <summary>The run through the map writer's handler into a store, then the snapshot map.png is written from (with <paramref name="profile"/>'s prescription when given).</summary>
    private static async Task<(RunSnapshot Snapshot, string Png)> ScanAsync(TempDir dir, SyntheticRun run, VarietyProfile? profile, IReadOnlyList<IMessage>? messages = null)
    {
        string storePath;
        await using (var harness = new MapWriterHandlerTests.Harness(dir["runs"], NullLoggerFactory.Instance, TimeSpan.FromHours(1)))
        {
            await harness.Worker.StartAsync(CancellationToken.None);
            await harness.RunAsync(messages ?? [run.Started, .. run.Batches, run.Fused]);
            storePath = Assert.Single(harness.Maps, m => m.Final).StorePath;
        }
        using var store = RunStore.OpenReadOnly(storePath);
        var snapshot = RunSnapshot.Read(store, MapWriterTestData.Options(dir["runs"]), profile);
        var outDir = dir["png"];
        Directory.CreateDirectory(outDir);
        return (snapshot, Assert.Single(PngMapExport.Write(snapshot, outDir)));
    }
}
