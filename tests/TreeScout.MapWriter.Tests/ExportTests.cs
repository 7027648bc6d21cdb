using System.Buffers.Binary;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Xml.Linq;
using Json.Schema;
using Microsoft.Data.Sqlite;
using NetTopologySuite.Algorithm;
using NetTopologySuite.Geometries;
using NetTopologySuite.IO;
using OpenCvSharp;
using ParquetSharp;
using TreeScout.Contracts;
using TreeScout.MapWriter;
using TreeScout.MapWriter.Exports;
using TreeScout.MapWriter.Prescription;
using TreeScout.MapWriter.Store;
using TreeScout.Tests;

namespace TreeScout.MapWriter.Tests;

/// <summary>Every export read back by an independent reader (GDAL, the ISO XSD, Arrow C++), with per-tree values equal to the store's.</summary>
public sealed class ExportTests(CompletedRunFixture run) : IClassFixture<CompletedRunFixture>
{
    private string Export(string file) => Path.Combine(run.Folder.ExportsPath, file);

    private Dictionary<string, TreeRecord> Stored => run.StoredTrees.ToDictionary(t => t.TreeId);

    [Trait("Category", "Unit")]
    [Fact]
    public void The_worker_module_writes_the_final_map_and_announces_it()
    {
        var final = Assert.Single(run.Maps, m => m.Final);
        Assert.Equal(run.Run.Plan.Trees.Count, final.Trees);
        Assert.Equal(run.Run.Observations.Count, final.Observations);
        Assert.Equal(run.Folder.StorePath, final.StorePath);
        Assert.Equal(13, final.Exports.Count); // 2 geojson, 5 shapefile parts, gpkg, parquet, xml + bin, csv, png
        Assert.All(final.Exports, f => Assert.True(File.Exists(f), f));
        Assert.Equal(run.Run.ExpectedClusters.Values.Sum(), run.StoredTrees.Sum(t => t.ClustersTotal));
        Assert.All(run.StoredTrees, t => Assert.NotNull(t.RateLPerHa));
    }

    [Trait("Category", "Integration")]
    [Fact]
    public void GeoJson_is_rfc7946_and_gdal_reads_points_and_polygons_with_the_stored_values()
    {
        var trees = Ogr.Info(Export("trees.geojson"));
        Assert.Equal(run.StoredTrees.Count, trees.FeatureCount);
        Assert.Equal("Point", trees.Geometry);
        Assert.True(trees.IsWgs84, trees.Text);
        var zones = Ogr.Info(Export("zones.geojson"));
        Assert.Equal(run.StoredTrees.Count, zones.FeatureCount);
        Assert.Equal("Polygon", zones.Geometry);
        foreach (var field in TreeFields.All)
        {
            Assert.True(trees.Fields.ContainsKey(field.Name), $"{field.Name} missing: {trees.Text}");
        }
        Assert.StartsWith("Real", trees.Fields["rate_l_ha"], StringComparison.Ordinal);

        var doc = Json.Parse(Export("zones.geojson"));
        Assert.False(doc.TryGetProperty("crs", out _)); // RFC 7946: WGS84 lon/lat, no crs member
        foreach (var feature in doc.GetProperty("features").EnumerateArray())
        {
            var p = feature.GetProperty("properties");
            var stored = Stored[p.GetProperty("tree_id").GetString()!];
            Assert.Equal(stored.ClustersTotal, p.GetProperty("clusters_total").GetInt32());
            Assert.Equal(stored.ClustersAt(BbchStage.Bbch65), p.GetProperty("bbch65").GetInt32());
            Assert.Equal(stored.RateLPerHa!.Value, p.GetProperty("rate_l_ha").GetDouble(), 9);
            Assert.Equal(stored.DensityPerM!.Value, p.GetProperty("density_per_m").GetDouble(), 9);
            var ring = feature.GetProperty("geometry").GetProperty("coordinates")[0].EnumerateArray()
                .Select(c => new Coordinate(c[0].GetDouble(), c[1].GetDouble())).ToArray();
            Assert.True(Orientation.IsCCW(ring), "RFC 7946 exterior rings are counter-clockwise");
            Assert.True(new GeometryFactory().CreatePolygon(ring).Contains(new GeometryFactory().CreatePoint(new Coordinate(stored.Longitude!.Value, stored.Latitude!.Value))));
        }
    }

    [Trait("Category", "Integration")]
    [Fact]
    public void Shapefile_has_short_names_a_wgs84_prj_and_numeric_rates_equal_to_the_store()
    {
        var layer = Ogr.Info(Export("zones.shp"));
        Assert.Equal(run.StoredTrees.Count, layer.FeatureCount);
        Assert.Equal("Polygon", layer.Geometry);
        Assert.True(layer.IsWgs84, layer.Text);
        Assert.All(layer.Fields.Keys, name => Assert.True(name.Length <= 10, name));
        Assert.StartsWith("Real", layer.Fields["rate_l_ha"], StringComparison.Ordinal);
        Assert.StartsWith("Integer", layer.Fields["clusters"], StringComparison.Ordinal);
        Assert.True(File.Exists(Export("zones.prj")) && File.Exists(Export("zones.cpg")));
        Assert.All(new[] { "shp", "shx", "dbf", "prj", "cpg" }, ext => Assert.True(File.Exists(Export("zones." + ext)), ext)); // 8.3-safe names

        var features = NetTopologySuite.IO.Esri.Shapefile.ReadAllFeatures(Export("zones.shp"));
        Assert.Equal(run.StoredTrees.Count, features.Length);
        foreach (var f in features)
        {
            var stored = Stored[(string)f.Attributes["tree_id"]];
            Assert.Equal(stored.ClustersTotal, Convert.ToInt32(f.Attributes["clusters"], CultureInfo.InvariantCulture));
            Assert.Equal(stored.RateLPerHa!.Value, Convert.ToDouble(f.Attributes["rate_l_ha"], CultureInfo.InvariantCulture), 6);
            Assert.Equal(stored.ClustersAt(BbchStage.Bbch61), Convert.ToInt32(f.Attributes["bbch61"], CultureInfo.InvariantCulture));
        }
    }

    [Trait("Category", "Integration")]
    [Fact]
    public void GeoPackage_export_is_a_clean_standalone_copy_with_a_zones_layer()
    {
        var path = Export("map.gpkg");
        Assert.Equal(run.StoredTrees.Count, Ogr.Info(path, "trees").FeatureCount);
        var zones = Ogr.Info(path, "zones");
        Assert.Equal(run.StoredTrees.Count, zones.FeatureCount);
        Assert.Equal("Polygon", zones.Geometry);
        Assert.True(zones.IsWgs84);
        Assert.Equal(run.Run.Observations.Count, Ogr.Info(path, "observations").FeatureCount);
        Assert.False(File.Exists(path + "-wal"));
        using var copy = RunStore.OpenReadOnly(path);
        Assert.Equal("ok", copy.IntegrityCheck());
        Assert.Equal(run.StoredTrees, copy.ReadTrees(), TreeValues.Comparer);
    }

    [Trait("Category", "Unit")]
    [Fact]
    public void GeoParquet_metadata_validates_against_the_schema_and_arrow_reads_the_stored_values()
    {
        var path = Export("trees.parquet");
        using var reader = new ParquetFileReader(path);
        var geo = reader.FileMetaData.KeyValueMetadata["geo"];
        var schemaText = File.ReadAllText(Path.Combine(RepoPaths.Shared, "spec", "geoparquet", "schema-1.1.0-dev.json"));
        // SOURCE.md: the stored schema pins "1.1.0-dev"; the release only changes that const. PROJJSON is not fetched offline.
        var schemaJson = JsonNode.Parse(schemaText)!;
        schemaJson["properties"]!["version"]!["const"] = GeoParquetExport.Version;
        schemaJson["properties"]!["columns"]!["patternProperties"]![".+"]!["properties"]!["crs"] = new JsonObject();
        var schema = JsonSchema.FromText(schemaJson.ToJsonString());
        var result = schema.Evaluate(JsonNode.Parse(geo), new EvaluationOptions { OutputFormat = OutputFormat.List });
        Assert.True(result.IsValid, string.Join("; ", result.Details?.Where(d => d.Errors is not null).SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Value}")) ?? []));
        var meta = JsonDocument.Parse(geo).RootElement;
        Assert.Equal("geometry", meta.GetProperty("primary_column").GetString());
        Assert.Equal("bbox", meta.GetProperty("columns").GetProperty("geometry").GetProperty("covering").GetProperty("bbox").GetProperty("xmin")[0].GetString());

        var rows = (int)reader.FileMetaData.NumRows;
        Assert.Equal(run.StoredTrees.Count, rows);
        using var group = reader.RowGroup(0);
        var columns = Enumerable.Range(0, reader.FileMetaData.NumColumns).ToDictionary(i => reader.FileMetaData.Schema.Column(i).Path.ToDotString(), i => i);
        string?[] Strings(string name) => group.Column(columns[name]).LogicalReader<string?>().ReadAll(rows);
        var ids = Strings("tree_id");
        var clusters = group.Column(columns["clusters_total"]).LogicalReader<int?>().ReadAll(rows);
        var rates = group.Column(columns["rate_l_ha"]).LogicalReader<double?>().ReadAll(rows);
        var wkb = group.Column(columns["geometry"]).LogicalReader<byte[]>().ReadAll(rows);
        var xmin = group.Column(columns["bbox.xmin"]).LogicalReader<double?>().ReadAll(rows);
        var ymax = group.Column(columns["bbox.ymax"]).LogicalReader<double?>().ReadAll(rows);
        var wkbReader = new WKBReader();
        for (var i = 0; i < rows; i++)
        {
            var stored = Stored[ids[i]!];
            Assert.Equal(stored.ClustersTotal, clusters[i]);
            Assert.Equal(stored.RateLPerHa!.Value, rates[i]!.Value, 12);
            var point = (NetTopologySuite.Geometries.Point)wkbReader.Read(wkb[i]);
            Assert.Equal(stored.Longitude!.Value, point.X, 12);
            Assert.Equal(stored.Latitude!.Value, point.Y, 12);
            Assert.Equal(point.X, xmin[i]!.Value, 12);
            Assert.Equal(point.Y, ymax[i]!.Value, 12);
        }
    }

    [Trait("Category", "Unit")]
    [Fact]
    public void IsoXml_validates_against_the_iso_schema_and_the_grid_holds_each_trees_rate()
    {
        var folder = Path.Combine(run.Folder.ExportsPath, "TASKDATA");
        var xml = Path.Combine(folder, "TASKDATA.XML");
        Assert.Empty(IsoXmlSchema.Errors(xml));

        var doc = XDocument.Load(xml);
        var task = doc.Root!.Element("TSK")!;
        var grid = task.Element("GRD")!;
        Assert.Equal("2", (string?)grid.Attribute("I"));
        var gridZone = task.Elements("TZN").Single(z => (string?)z.Attribute("A") == (string?)grid.Attribute("J"));
        var pdv = gridZone.Element("PDV")!;
        Assert.Equal("0001", (string?)pdv.Attribute("A")); // DDI 1 setpoint volume per area
        var vpn = doc.Root.Elements("VPN").Single(v => (string?)v.Attribute("A") == (string?)pdv.Attribute("E"));
        Assert.Equal("l/ha", (string?)vpn.Attribute("E"));
        Assert.Equal(0.0001, double.Parse((string)vpn.Attribute("C")!, CultureInfo.InvariantCulture));
        var outside = task.Elements("TZN").Single(z => (string?)z.Attribute("A") == (string?)task.Attribute("J"));
        Assert.Equal("0", (string?)outside.Element("PDV")!.Attribute("B"));

        double Attr(string name) => double.Parse((string)grid.Attribute(name)!, CultureInfo.InvariantCulture);
        var (minLat, minLon, cellN, cellE, columns, rows) = (Attr("A"), Attr("B"), Attr("C"), Attr("D"), (int)Attr("E"), (int)Attr("F"));
        var bin = File.ReadAllBytes(Path.Combine(folder, (string)grid.Attribute("G")! + ".BIN"));
        Assert.Equal((long)Attr("H"), bin.LongLength);   // cross-field rules the XSD does not check
        Assert.Equal(columns * rows * 4L, bin.LongLength);
        int Cell(int row, int col) => BinaryPrimitives.ReadInt32LittleEndian(bin.AsSpan(((row * columns) + col) * 4));
        // Every cell whose centre lies in a tree's canopy zone (from zones.geojson) holds that tree's rate; each tree has cells.
        var zones = Json.Parse(Export("zones.geojson")).GetProperty("features").EnumerateArray().ToList();
        Assert.Equal(run.StoredTrees.Count, zones.Count);
        var factory = new GeometryFactory();
        foreach (var zone in zones)
        {
            var stored = Stored[zone.GetProperty("properties").GetProperty("tree_id").GetString()!];
            var polygon = factory.CreatePolygon(zone.GetProperty("geometry").GetProperty("coordinates")[0].EnumerateArray()
                .Select(c => new Coordinate(c[0].GetDouble(), c[1].GetDouble())).ToArray());
            var cells = 0;
            for (var r = 0; r < rows; r++)
            {
                for (var c = 0; c < columns; c++)
                {
                    if (polygon.Contains(factory.CreatePoint(new Coordinate(minLon + ((c + 0.5) * cellE), minLat + ((r + 0.5) * cellN)))))
                    {
                        Assert.Equal((int)Math.Round(stored.RateLPerHa!.Value * 10_000), Cell(r, c)); // 1 L/ha = raw 10 000
                        cells++;
                    }
                }
            }
            Assert.True(cells >= 4, $"{stored.TreeId}: only {cells} grid cells in its zone");
        }
        Assert.Contains(0, Enumerable.Range(0, columns * rows).Select(i => BinaryPrimitives.ReadInt32LittleEndian(bin.AsSpan(i * 4)))); // outside the rows
    }

    [Trait("Category", "Unit")]
    [Fact]
    public void Csv_has_one_row_per_tree_with_the_stored_values()
    {
        var lines = File.ReadAllLines(Export("trees.csv"));
        var header = lines[0].Split(',');
        Assert.Equal(run.StoredTrees.Count + 1, lines.Length);
        foreach (var line in lines.Skip(1))
        {
            var cells = line.Split(',');
            string Cell(string name) => cells[Array.IndexOf(header, name)];
            var stored = Stored[Cell("tree_id")];
            Assert.Equal(stored.ClustersTotal.ToString(CultureInfo.InvariantCulture), Cell("clusters_total"));
            Assert.Equal(stored.RateLPerHa!.Value, double.Parse(Cell("rate_l_ha"), CultureInfo.InvariantCulture));
            Assert.Equal(stored.Latitude!.Value, double.Parse(Cell("latitude"), CultureInfo.InvariantCulture));
        }
    }

    [Trait("Category", "Unit")]
    [Fact]
    public void Png_map_is_an_a4_sheet_at_150_dpi_whose_trees_carry_their_density_and_dose_colours()
    {
        using var image = Cv2.ImRead(Export("map.png"));
        Assert.Equal((1754, 1240), (image.Width, image.Height)); // A4 landscape, 297 x 210 mm at 150 dpi
        Assert.Equal(5906u, MapSheetTests.PixelsPerMetre(Export("map.png"))); // 150 dpi
        RunSnapshot snapshot;
        using (var store = RunStore.OpenReadOnly(run.Folder.StorePath))
        {
            snapshot = RunSnapshot.Read(store, MapWriterTestData.Options("/unused"));
        }
        var sheet = new MapSheet(snapshot);
        // 60 trees of 40-260 clusters: several density classes, Gala's zone classes as dose classes.
        Assert.InRange(sheet.DensityLegend.Classes.Count(c => c.Trees > 0), 3, MapLegend.MaxClasses);
        Assert.Equal(snapshot.Trees.Select(t => t.ZoneClass).Distinct().Count(), sheet.DoseLegend!.Classes.Count);
        Assert.All(sheet.DoseLegend.Classes, c => Assert.Contains(" L/ha (", c.Label, StringComparison.Ordinal));
        MapSheetTests.AssertTreesCarryTheirClassColours(image, sheet, snapshot);
        Assert.Equal(new Vec3b(255, 255, 255), image.At<Vec3b>(2, 2)); // white margin
    }

    [Trait("Category", "Unit")]
    [Fact]
    public async Task Export_reads_the_store_without_changing_a_byte_even_with_another_prescription()
    {
        var before = RunFiles.Hashes(run.Folder.Path);
        var profile = MapWriterTestData.Experiment;
        var outDir = run.Scratch("export-" + Guid.NewGuid().ToString("N")[..6]);
        IReadOnlyList<string> files;
        using (var store = RunStore.OpenReadOnly(RunLocator.StorePath(run.Folder.Path, "/nonexistent")))
        {
            files = await MapExporter.ExportAsync(store, MapExporter.AllFormats.ToList(), outDir, MapWriterTestData.Options("/unused"), profile, CancellationToken.None);
        }
        SqliteConnection.ClearAllPools();
        Assert.Equal(before, RunFiles.Hashes(run.Folder.Path));
        Assert.Equal(13, files.Count);

        // The exports carry the other profile's rates; the store keeps its own.
        var doc = Json.Parse(Path.Combine(outDir, "trees.geojson"));
        foreach (var feature in doc.GetProperty("features").EnumerateArray())
        {
            var p = feature.GetProperty("properties");
            var clusters = p.GetProperty("clusters_total").GetInt32();
            Assert.Equal(ThinningPrescription.For(profile, clusters).RateLPerHa, p.GetProperty("rate_l_ha").GetDouble(), 9);
        }
        using var copy = RunStore.OpenReadOnly(Path.Combine(outDir, "map.gpkg"));
        Assert.All(copy.ReadTrees(), t => Assert.Equal(ThinningPrescription.For(profile, t.ClustersTotal).RateLPerHa, t.RateLPerHa!.Value, 9));
    }

    [Trait("Category", "Unit")]
    [Fact]
    public async Task Bad_inputs_fail_with_one_message_naming_what_and_where()
    {
        var unknown = Assert.Throws<ExportException>(() => RunStore.OpenReadOnly(RunLocator.StorePath("20990101-000000-nope-0000", run.Scratch("root"))));
        Assert.Contains("unknown run '20990101-000000-nope-0000'", unknown.Message, StringComparison.Ordinal);
        Assert.Contains("store.gpkg", unknown.Message, StringComparison.Ordinal);

        var corrupt = Path.Combine(run.Scratch("corrupt"), "store.gpkg");
        var bytes = File.ReadAllBytes(Path.Combine(run.Folder.ExportsPath, "map.gpkg"));
        Array.Clear(bytes, 4096, bytes.Length - 4096); // header survives, every page after the first is zeroed
        File.WriteAllBytes(corrupt, bytes);
        var ex = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            using var store = RunStore.OpenReadOnly(corrupt);
            await MapExporter.ExportAsync(store, [ExportFormat.Csv], run.Scratch("out-corrupt"), MapWriterTestData.Options("/unused"), null, CancellationToken.None);
        });
        Assert.IsType<RunStoreException>(ex);
        Assert.Contains(corrupt, ex.Message, StringComparison.Ordinal);

        var file = Path.Combine(run.Scratch("blocked"), "a-file");
        File.WriteAllText(file, "x");
        var outUnderFile = Path.Combine(file, "exports");
        using (var store = RunStore.OpenReadOnly(run.Folder.StorePath))
        {
            var unwritable = await Assert.ThrowsAsync<ExportException>(() => MapExporter.ExportAsync(store, [ExportFormat.Csv], outUnderFile, MapWriterTestData.Options("/unused"), null, CancellationToken.None));
            Assert.Contains(outUnderFile, unwritable.Message, StringComparison.Ordinal);
        }
    }
}
