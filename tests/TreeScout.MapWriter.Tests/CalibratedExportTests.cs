using System.Buffers.Binary;
using System.Globalization;
using System.Text.Json.Nodes;
using System.Xml.Linq;
using ParquetSharp;
using TreeScout.Contracts;
using TreeScout.MapWriter;
using TreeScout.MapWriter.Calibration;
using TreeScout.MapWriter.Exports;
using TreeScout.MapWriter.Prescription;
using TreeScout.MapWriter.Store;
using TreeScout.Orchard.Calibration;
using TreeScout.Tests;

namespace TreeScout.MapWriter.Tests;

/// <summary>The map writer's finished run (<see cref="CompletedRunFixture"/>), then calibrated on ten hand counts as `treescout calibrate` does it.</summary>
public sealed class CalibratedRunFixture : IAsyncLifetime
{
    public CompletedRunFixture Run { get; } = new();

    /// <summary>The trees as the map writer left them, before the calibration.</summary>
    public IReadOnlyList<TreeRecord> RawTrees { get; private set; } = [];

    public CalibrationOutcome Outcome { get; private set; } = null!;

    public string CountsFile { get; private set; } = "";

    /// <summary>The run's trees with their calibrated counts, as every export is written from them.</summary>
    public Dictionary<string, TreeRecord> Trees { get; private set; } = [];

    public async Task InitializeAsync()
    {
        await Run.InitializeAsync();
        RawTrees = Run.StoredTrees;
        // The suggested trees, counted by "hand" as 1.25 × scanned + 12 give or take a few, the first with stage counts.
        var chosen = RunCalibration.Suggest(Run.Folder.StorePath, 10);
        CountsFile = Path.Combine(Run.Scratch("counts"), "hand.csv");
        File.WriteAllText(CountsFile, "tree_id,clusters,bbch61,bbch65\n" + string.Join("\n", chosen.Select((t, i) =>
            $"{t.TreeId},{(int)Math.Round((1.25 * t.ClustersTotal) + 12 + ((i % 3) - 1) * 5)},{(i == 0 ? "20" : "")},{(i == 0 ? "40" : "")}")) + "\n");
        Outcome = await RunCalibration.CalibrateAsync(Run.Folder.StorePath, CountsFile, acceptPoorFit: false,
            new DateTimeOffset(2026, 4, 22, 15, 0, 0, TimeSpan.Zero), MapWriterTestData.Options("/unused"), CancellationToken.None);
        using var store = RunStore.OpenReadOnly(Run.Folder.StorePath);
        Trees = RunSnapshot.Read(store, MapWriterTestData.Options("/unused")).Trees.ToDictionary(t => t.TreeId);
    }

    public Task DisposeAsync() => Run.DisposeAsync();
}

/// <summary>A calibrated run's exports read back by independent readers (GDAL, the ISO XSD, Arrow C++): calibrated counts, interval and flag in every format.</summary>
[Trait("Category", "Integration")]
public sealed class CalibratedExportTests(CalibratedRunFixture fixture) : IClassFixture<CalibratedRunFixture>
{
    private string Export(string file) => Path.Combine(fixture.Run.Folder.ExportsPath, file);

    private CountModel Model => fixture.Outcome.Calibration.Fit.Model;

    [Fact]
    public void The_run_keeps_its_raw_counts_and_its_rates_and_summary_follow_the_calibration()
    {
        Assert.False(fixture.Outcome.Report.PoorFit);
        Assert.Equal(10, fixture.Outcome.Report.Trees);
        Assert.Equal(fixture.RawTrees.Select(t => (t.TreeId, t.ClustersTotal)), fixture.Trees.Values.Select(t => (t.TreeId, t.ClustersTotal)));
        var t90 = Model.TQuantile;
        foreach (var tree in fixture.Trees.Values)
        {
            Assert.Equal(Model.Predict(tree.ClustersTotal, t90), tree.Calibrated);
            Assert.Equal(ThinningPrescription.For(MapWriterTestData.Gala, tree.Calibrated!.Clusters).RateLPerHa, tree.RateLPerHa!.Value, 12);
            Assert.True(tree.Calibrated.Low < tree.Calibrated.Clusters && tree.Calibrated.Clusters < tree.Calibrated.High, tree.TreeId);
        }
        Assert.Equal(14, fixture.Outcome.Exports!.Count); // the 13 files of every run, and hand_counts.csv
        Assert.All(fixture.Outcome.Exports, f => Assert.True(File.Exists(f), f));

        var summary = JsonNode.Parse(File.ReadAllText(fixture.Run.Folder.SummaryPath))!;
        Assert.Equal(CountModel.Name(Model.Kind), (string?)summary["calibration"]!["model"]);
        Assert.Equal(10, (int)summary["calibration"]!["trees"]!);
        Assert.True((bool)summary["calibration"]!["usedForPrescription"]!);
        Assert.Equal("hand.csv", (string?)summary["calibration"]!["source"]);
        Assert.Equal(14, summary["mapWriter"]!["exports"]!.AsArray().Count);
        Assert.NotNull(summary["fusion"]); // the rest of run.json is kept
    }

    [Fact]
    public void Gdal_reads_the_calibrated_fields_of_the_geojson_shapefile_and_geopackage_layers()
    {
        foreach (var (file, layer, names) in new[]
        {
            ("trees.geojson", (string?)null, new[] { "clusters_calibrated", "clusters_ci_low", "clusters_ci_high", "calibration" }),
            ("zones.shp", null, ["clust_cal", "clust_lo", "clust_hi", "calib"]),
            ("map.gpkg", "zones", ["clusters_calibrated", "clusters_ci_low", "clusters_ci_high", "calibration"]),
        })
        {
            var info = Ogr.Info(Export(file), layer);
            Assert.Equal(fixture.Trees.Count, info.FeatureCount);
            Assert.StartsWith("Real", info.Fields[names[0]], StringComparison.Ordinal);
            Assert.StartsWith("Real", info.Fields[names[1]], StringComparison.Ordinal);
            Assert.StartsWith("Real", info.Fields[names[2]], StringComparison.Ordinal);
            Assert.StartsWith("String", info.Fields[names[3]], StringComparison.Ordinal);
        }
        foreach (var f in NetTopologySuite.IO.Esri.Shapefile.ReadAllFeatures(Export("zones.shp")))
        {
            var tree = fixture.Trees[(string)f.Attributes["tree_id"]];
            Assert.Equal(tree.Calibrated!.Clusters, Convert.ToDouble(f.Attributes["clust_cal"], CultureInfo.InvariantCulture), 6);
            Assert.Equal(tree.Calibrated.High, Convert.ToDouble(f.Attributes["clust_hi"], CultureInfo.InvariantCulture), 6);
            Assert.Equal(fixture.Outcome.Calibration.Label, ((string)f.Attributes["calib"]).Trim());
        }
        foreach (var feature in Json.Parse(Export("trees.geojson")).GetProperty("features").EnumerateArray())
        {
            var p = feature.GetProperty("properties");
            var tree = fixture.Trees[p.GetProperty("tree_id").GetString()!];
            Assert.Equal(tree.Calibrated!.Low, p.GetProperty("clusters_ci_low").GetDouble(), 12);
            Assert.Equal(tree.RateLPerHa!.Value, p.GetProperty("rate_l_ha").GetDouble(), 12);
        }
    }

    [Fact]
    public void The_geopackage_export_carries_the_hand_counts_and_the_calibration_as_layers()
    {
        var handCounts = Ogr.Info(Export("map.gpkg"), "hand_counts");
        Assert.Equal(10, handCounts.FeatureCount);
        Assert.StartsWith("Integer", handCounts.Fields["clusters"], StringComparison.Ordinal);
        Assert.StartsWith("Integer", handCounts.Fields["clusters_scanned"], StringComparison.Ordinal);
        var calibration = Ogr.Info(Export("map.gpkg"), "calibration");
        Assert.Equal(1, calibration.FeatureCount);
        Assert.StartsWith("Real", calibration.Fields["slope"], StringComparison.Ordinal);
        using var copy = RunStore.OpenReadOnly(Export("map.gpkg"));
        Assert.Equal(fixture.Outcome.Calibration.Fit, copy.ReadCalibration()!.Fit);
    }

    [Fact]
    public void Arrow_reads_the_calibrated_columns_of_the_geoparquet()
    {
        using var reader = new ParquetFileReader(Export("trees.parquet"));
        var rows = (int)reader.FileMetaData.NumRows;
        using var group = reader.RowGroup(0);
        var columns = Enumerable.Range(0, reader.FileMetaData.NumColumns).ToDictionary(i => reader.FileMetaData.Schema.Column(i).Path.ToDotString(), i => i);
        var ids = group.Column(columns["tree_id"]).LogicalReader<string?>().ReadAll(rows);
        var calibrated = group.Column(columns["clusters_calibrated"]).LogicalReader<double?>().ReadAll(rows);
        var labels = group.Column(columns["calibration"]).LogicalReader<string?>().ReadAll(rows);
        for (var i = 0; i < rows; i++)
        {
            Assert.Equal(fixture.Trees[ids[i]!].Calibrated!.Clusters, calibrated[i]!.Value, 12);
            Assert.Equal(fixture.Outcome.Calibration.Label, labels[i]);
        }
    }

    [Fact]
    public void The_isoxml_task_says_it_is_calibrated_validates_and_its_grid_holds_the_calibrated_rates()
    {
        var xml = Path.Combine(fixture.Run.Folder.ExportsPath, "TASKDATA", "TASKDATA.XML");
        Assert.Empty(IsoXmlSchema.Errors(xml));
        var task = XDocument.Load(xml).Root!.Element("TSK")!;
        Assert.Equal("Calibrated thinning Synthetic bl", (string?)task.Attribute("B")); // 32 characters at most
        Assert.Equal($"Grid, {fixture.Outcome.Calibration.Label}", (string?)task.Elements("TZN").Single(z => (string?)z.Attribute("A") == "1").Attribute("B"));
        var grid = task.Element("GRD")!;
        double Attr(string name) => double.Parse((string)grid.Attribute(name)!, CultureInfo.InvariantCulture);
        var cells = new IsoXmlExport.Grid(Attr("A"), Attr("B"), Attr("C"), Attr("D"), (int)Attr("E"), (int)Attr("F"), []);
        var bin = File.ReadAllBytes(Path.Combine(fixture.Run.Folder.ExportsPath, "TASKDATA", (string)grid.Attribute("G")! + ".BIN"));
        foreach (var tree in fixture.Trees.Values)
        {
            // The cell under the tree's trunk lies inside its canopy zone (1 m along, 3.5 m across; cells 0.5 m).
            var cell = cells.CellAt(tree.Latitude!.Value, tree.Longitude!.Value);
            Assert.Equal(IsoXmlExport.Raw(tree.RateLPerHa!.Value), BinaryPrimitives.ReadInt32LittleEndian(bin.AsSpan(cell * 4)));
        }
    }

    [Fact]
    public void Csv_exports_carry_the_calibrated_counts_and_hand_counts_that_can_be_entered_again()
    {
        var lines = File.ReadAllLines(Export("trees.csv"));
        var header = lines[0].Split(',');
        foreach (var line in lines.Skip(1))
        {
            var cells = line.Split(',');
            var tree = fixture.Trees[cells[Array.IndexOf(header, "tree_id")]];
            Assert.Equal(tree.Calibrated!.High, double.Parse(cells[Array.IndexOf(header, "clusters_ci_high")], CultureInfo.InvariantCulture));
            Assert.Equal(fixture.Outcome.Calibration.Label, cells[Array.IndexOf(header, "calibration")]);
        }
        var trees = fixture.Trees.Keys.ToHashSet();
        var exported = HandCountFile.Load(Export(CsvExport.HandCountsFileName), trees);
        var entered = HandCountFile.Load(fixture.CountsFile, trees);
        Assert.Equal(entered.Select(h => (h.TreeId, h.Clusters, h.Line)), exported.Select(h => (h.TreeId, h.Clusters, h.Line)));
        Assert.Equal(new Dictionary<BbchStage, int> { [BbchStage.Bbch61] = 20, [BbchStage.Bbch65] = 40 }, exported[0].ByStage);
    }

    [Fact]
    public async Task A_re_export_with_another_profile_prescribes_from_the_calibrated_counts_and_keeps_the_hand_counts()
    {
        var profile = MapWriterTestData.Experiment;
        var outDir = fixture.Run.Scratch("re-export");
        using (var store = RunStore.OpenReadOnly(fixture.Run.Folder.StorePath))
        {
            await MapExporter.ExportAsync(store, [ExportFormat.GeoJson, ExportFormat.Gpkg, ExportFormat.Csv], outDir, MapWriterTestData.Options("/unused"), profile, CancellationToken.None);
        }
        foreach (var feature in Json.Parse(Path.Combine(outDir, "trees.geojson")).GetProperty("features").EnumerateArray())
        {
            var p = feature.GetProperty("properties");
            var tree = fixture.Trees[p.GetProperty("tree_id").GetString()!];
            Assert.Equal(ThinningPrescription.For(profile, tree.Calibrated!.Clusters).RateLPerHa, p.GetProperty("rate_l_ha").GetDouble(), 9);
        }
        using var copy = RunStore.OpenReadOnly(Path.Combine(outDir, "map.gpkg"));
        Assert.All(copy.ReadTrees(), t => Assert.Equal(ThinningPrescription.For(profile, Model.Calibrate(t.ClustersTotal)).RateLPerHa, t.RateLPerHa!.Value, 9));
        Assert.Equal(10, copy.ReadHandCounts().Count);
        Assert.True(File.Exists(Path.Combine(outDir, CsvExport.HandCountsFileName)));
    }
}
