using System.Globalization;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using TreeScout.MapWriter.Exports;
using TreeScout.Tests;

namespace TreeScout.WebConsole.Tests;

/// <summary>The JSON API over real run stores (the scanned sample), no broker: the console as a map viewer.</summary>
[Collection(SampleRunsCollection.Name)]
[Trait("Category", "Unit")]
public sealed class RunsApiTests(SampleRuns runs) : IDisposable
{
    private readonly ConsoleFactory _console = new(runs.Runs);

    [Fact]
    public async Task Runs_lists_the_sample_with_block_variety_trees_and_models_and_each_damaged_folder_with_its_reason()
    {
        using var client = _console.CreateClient();

        var list = await client.GetFromJsonAsync<JsonElement>("/api/runs");

        var entries = list.EnumerateArray().ToList();
        Assert.Equal(4, entries.Count);
        var sample = entries.Single(e => e.GetProperty("runId").GetString() == runs.SampleRunId);
        Assert.Equal(SampleRuns.Block, sample.GetProperty("block").GetString());
        Assert.Equal("Elstar", sample.GetProperty("variety").GetString());
        Assert.Equal("complete", sample.GetProperty("state").GetString());
        Assert.Equal(24, sample.GetProperty("trees").GetInt32());
        Assert.Equal(runs.Sample.Map.TreesWithClusters, sample.GetProperty("treesWithClusters").GetInt32());
        Assert.Equal(runs.Sample.Fusion.Models.Select(m => $"{m.Name} {m.Version}"), sample.GetProperty("models").EnumerateArray().Select(m => m.GetString()));
        Assert.Equal(JsonValueKind.Null, sample.GetProperty("damaged").ValueKind);
        // Newest first: the sample was scanned today, the later run is dated April 2026.
        Assert.Equal(runs.SampleRunId, entries[0].GetProperty("runId").GetString());
        Assert.Equal(SampleRuns.LaterRunId, entries[1].GetProperty("runId").GetString());

        var garbage = entries.Single(e => e.GetProperty("runId").GetString() == "garbage");
        Assert.Equal("damaged", garbage.GetProperty("state").GetString());
        Assert.Contains("store.gpkg", garbage.GetProperty("damaged").GetString(), StringComparison.Ordinal);
        var noStore = entries.Single(e => e.GetProperty("runId").GetString() == "no-store");
        Assert.Equal("no store.gpkg in the run folder (only run.json)", noStore.GetProperty("damaged").GetString());
    }

    [Fact]
    public async Task Trees_are_geojson_with_one_feature_per_tree_and_exactly_the_properties_and_values_of_trees_csv()
    {
        using var client = _console.CreateClient();

        using var response = await client.GetAsync($"/api/runs/{runs.SampleRunId}/trees");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/geo+json", response.Content.Headers.ContentType?.MediaType);
        using var geojson = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("FeatureCollection", geojson.RootElement.GetProperty("type").GetString());
        var features = geojson.RootElement.GetProperty("features").EnumerateArray().ToList();
        var csv = File.ReadAllLines(Path.Combine(runs.SampleFolder.ExportsPath, CsvExport.FileName));
        var header = csv[0].Split(',');
        Assert.Equal(csv.Length - 1, features.Count);
        foreach (var (feature, line) in features.Zip(csv.Skip(1)))
        {
            var values = line.Split(',');
            var properties = feature.GetProperty("properties");
            Assert.Equal(header.Skip(2), properties.EnumerateObject().Select(p => p.Name));
            var coordinates = feature.GetProperty("geometry").GetProperty("coordinates");
            Assert.Equal(double.Parse(values[1], CultureInfo.InvariantCulture), coordinates[0].GetDouble());
            Assert.Equal(double.Parse(values[0], CultureInfo.InvariantCulture), coordinates[1].GetDouble());
            for (var i = 2; i < header.Length; i++)
            {
                var property = properties.GetProperty(header[i]);
                var text = property.ValueKind switch
                {
                    JsonValueKind.Null => "",
                    JsonValueKind.String => property.GetString(),
                    _ when values[i].Contains('.', StringComparison.Ordinal) || values[i].Contains('E', StringComparison.Ordinal) => property.GetDouble().ToString("R", CultureInfo.InvariantCulture),
                    _ => property.GetRawText().Replace(".0", "", StringComparison.Ordinal),
                };
                Assert.True(values[i] == text, $"{features.IndexOf(feature)}: {header[i]} is {text} in the API, {values[i]} in trees.csv");
            }
        }
    }

    [Fact]
    public async Task Every_export_format_downloads_and_the_isoxml_is_a_zipped_taskdata_valid_against_the_iso_schema()
    {
        using var client = _console.CreateClient();

        foreach (var format in MapExporter.AllFormats)
        {
            using var response = await client.GetAsync($"/api/runs/{runs.SampleRunId}/exports/{format.ToString().ToLowerInvariant()}");
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{format}: {response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            Assert.Equal(RunMaps.Downloads[format].ContentType, response.Content.Headers.ContentType?.MediaType);
            Assert.Equal($"{runs.SampleRunId}.{RunMaps.Downloads[format].Extension}", response.Content.Headers.ContentDisposition?.FileNameStar ?? response.Content.Headers.ContentDisposition?.FileName);
            Assert.True((await response.Content.ReadAsByteArrayAsync()).Length > 100, format.ToString());
        }

        var zip = new ZipArchive(new MemoryStream(await client.GetByteArrayAsync($"/api/runs/{runs.SampleRunId}/exports/isoxml")));
        Assert.Contains(zip.Entries, e => e.FullName == "TASKDATA/TASKDATA.XML");
        Assert.Contains(zip.Entries, e => e.FullName.StartsWith("TASKDATA/GRD", StringComparison.Ordinal) && e.FullName.EndsWith(".BIN", StringComparison.Ordinal));
        Assert.Empty(IsoXmlSchema.Errors(zip.GetEntry("TASKDATA/TASKDATA.XML")!.Open()));
    }

    [Fact]
    public async Task A_preview_with_another_target_prescribes_doses_the_run_does_not_have_and_leaves_the_store_untouched()
    {
        using var client = _console.CreateClient();
        var before = SHA256.HashData(File.ReadAllBytes(runs.SampleFolder.StorePath));

        var own = await TreesAsync(client, $"/api/runs/{runs.SampleRunId}/trees");
        var preview = await TreesAsync(client, $"/api/runs/{runs.SampleRunId}/trees?profile=Gala&target=30");
        var detail = await client.GetFromJsonAsync<JsonElement>($"/api/runs/{runs.SampleRunId}?profile=Gala&target=30");

        // The sample's Elstar profile (100 clusters per tree) prescribes nothing for its 28–49-cluster trees; 30 does.
        Assert.All(own, t => Assert.Equal(0, t.GetProperty("rate_l_ha").GetDouble()));
        Assert.Contains(preview, t => t.GetProperty("rate_l_ha").GetDouble() > 0);
        foreach (var (tree, previewed) in own.Zip(preview))
        {
            var clusters = tree.GetProperty("clusters_total").GetInt32();
            Assert.Equal(clusters, previewed.GetProperty("clusters_total").GetInt32());
            Assert.Equal(Math.Round((clusters - 30.0) / 30.0, 2), Math.Round(previewed.GetProperty("excess").GetDouble(), 2));
        }
        Assert.Equal(("Elstar", 100.0, "Gala", 30.0), (detail.GetProperty("profile").GetString(), detail.GetProperty("targetClustersPerTree").GetDouble(), detail.GetProperty("previewProfile").GetString(), detail.GetProperty("previewTarget").GetDouble()));
        using var download = await client.GetAsync($"/api/runs/{runs.SampleRunId}/exports/csv?profile=Gala&target=30");
        Assert.Equal($"{runs.SampleRunId}-gala-30.csv", download.Content.Headers.ContentDisposition?.FileNameStar ?? download.Content.Headers.ContentDisposition?.FileName);
        Assert.Equal(before, SHA256.HashData(File.ReadAllBytes(runs.SampleFolder.StorePath)));
        Assert.False(File.Exists(runs.SampleFolder.StorePath + "-wal"));
    }

    [Fact]
    public async Task Comparing_two_runs_of_the_block_shows_the_tree_that_gained_clusters_and_the_stage_mix()
    {
        using var client = _console.CreateClient();

        var comparison = await client.GetFromJsonAsync<JsonElement>($"/api/runs/{SampleRuns.LaterRunId}/compare/{runs.SampleRunId}");

        Assert.Equal(SampleRuns.Block, comparison.GetProperty("block").GetString());
        Assert.Equal(24, comparison.GetProperty("treesInBoth").GetInt32());
        var before = comparison.GetProperty("before");
        var after = comparison.GetProperty("after");
        Assert.Equal(runs.SampleRunId, before.GetProperty("runId").GetString());
        Assert.Equal(before.GetProperty("clusters").GetInt64() + SampleRuns.Gained, after.GetProperty("clusters").GetInt64());
        var change = comparison.GetProperty("largestChanges")[0];
        Assert.Equal(SampleRuns.GainingTree, change.GetProperty("treeId").GetString());
        Assert.Equal(change.GetProperty("before").GetInt32() + SampleRuns.Gained, change.GetProperty("after").GetInt32());
        Assert.Equal(0, comparison.GetProperty("largestChanges")[1].GetProperty("after").GetInt32() - comparison.GetProperty("largestChanges")[1].GetProperty("before").GetInt32());
        // The gained clusters are all at full bloom: its share grows.
        Assert.True(after.GetProperty("stageShare").GetProperty("bbch65").GetDouble() > before.GetProperty("stageShare").GetProperty("bbch65").GetDouble());
        Assert.Equal(1.0, before.GetProperty("stageShare").EnumerateObject().Sum(p => p.Value.GetDouble()), 3);
    }

    [Fact]
    public async Task A_calibrated_run_says_so_in_the_list_and_its_detail_and_its_trees_carry_the_stores_calibrated_counts_and_hand_counts()
    {
        using var client = _console.CreateClient();

        var list = await client.GetFromJsonAsync<JsonElement>("/api/runs");
        var detail = await client.GetFromJsonAsync<JsonElement>($"/api/runs/{SampleRuns.LaterRunId}");
        var trees = await TreesAsync(client, $"/api/runs/{SampleRuns.LaterRunId}/trees");

        var stored = runs.Calibration.Calibration;
        Assert.Equal(10, stored.Fit.Model.Trees);
        Assert.False(stored.Fit.PoorFit);
        var expected = string.Create(CultureInfo.InvariantCulture, $"Calibrated by 10 hand counts ({runs.Calibration.Report.Model}, R² {stored.Fit.R2:0.00})");
        foreach (var calibration in new[] { list.EnumerateArray().Single(e => e.GetProperty("runId").GetString() == SampleRuns.LaterRunId).GetProperty("calibration"), detail.GetProperty("run").GetProperty("calibration") })
        {
            Assert.Equal(expected, calibration.GetProperty("text").GetString());
            Assert.Equal((runs.Calibration.Report.Model, 10, stored.Fit.R2, false, stored.Label, "hand.csv", 0.9),
                (calibration.GetProperty("model").GetString(), calibration.GetProperty("trees").GetInt32(), calibration.GetProperty("r2").GetDouble(), calibration.GetProperty("poorFit").GetBoolean(),
                 calibration.GetProperty("label").GetString(), calibration.GetProperty("source").GetString(), calibration.GetProperty("intervalLevel").GetDouble()));
            Assert.Equal(JsonValueKind.Null, calibration.GetProperty("warning").ValueKind);
        }
        Assert.Equal(JsonValueKind.Null, list.EnumerateArray().Single(e => e.GetProperty("runId").GetString() == runs.SampleRunId).GetProperty("calibration").ValueKind);

        var hand = File.ReadAllLines(runs.HandCounts).Skip(1).Select(l => l.Split(',')).ToList();
        var snapshot = RunSnapshot.ReadOnly(runs.LaterFolder.StorePath).Trees.ToDictionary(t => t.TreeId);
        Assert.Equal(hand.Select(h => ((string?)h[0], int.Parse(h[1], CultureInfo.InvariantCulture), snapshot[h[0]].ClustersTotal)),
            detail.GetProperty("handCounts").EnumerateArray().Select(h => (h.GetProperty("treeId").GetString(), h.GetProperty("clusters").GetInt32(), h.GetProperty("clustersScanned").GetInt32())));
        Assert.Equal(24, trees.Count);
        foreach (var tree in trees)
        {
            var own = snapshot[tree.GetProperty("tree_id").GetString()!];
            Assert.Equal((own.Calibrated!.Clusters, own.Calibrated.Low, own.Calibrated.High, stored.Label, own.RateLPerHa),
                (tree.GetProperty("clusters_calibrated").GetDouble(), tree.GetProperty("clusters_ci_low").GetDouble(), tree.GetProperty("clusters_ci_high").GetDouble(), tree.GetProperty("calibration").GetString(), (double?)tree.GetProperty("rate_l_ha").GetDouble()));
            Assert.True(own.Calibrated.Clusters > own.ClustersTotal, own.TreeId); // hand = 1.25 × scanned + 12: calibrated counts are higher
        }
    }

    [Theory]
    [InlineData("/api/runs/garbage/trees", HttpStatusCode.Conflict, "run garbage is damaged: ")]
    [InlineData("/api/runs/no-store/exports/csv", HttpStatusCode.Conflict, "run no-store is damaged: no store.gpkg in the run folder (only run.json)")]
    [InlineData("/api/runs/20260101-000000-nowhere-0000/trees", HttpStatusCode.NotFound, "unknown run '20260101-000000-nowhere-0000': no run folder under ")]
    [InlineData("/api/runs/..%2Fetc/trees", HttpStatusCode.BadRequest, "'..%2Fetc' is not a run id")]
    [InlineData("/api/runs/garbage/exports/kml", HttpStatusCode.BadRequest, "unknown export format 'kml'; use geojson, shp, gpkg, geoparquet, isoxml, csv, png")]
    [InlineData("/api/runs/garbage", HttpStatusCode.OK, "")]
    public async Task Damaged_unknown_and_malformed_requests_get_one_line_never_a_server_error(string path, HttpStatusCode status, string error)
    {
        using var client = _console.CreateClient();

        using var response = await client.GetAsync(path.Replace("garbage/exports/kml", $"{runs.SampleRunId}/exports/kml", StringComparison.Ordinal));

        Assert.Equal(status, response.StatusCode);
        if (error.Length > 0)
        {
            var body = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.StartsWith(error, body.GetProperty("error").GetString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Unknown_variety_is_refused_naming_the_known_ones()
    {
        using var client = _console.CreateClient();

        using var response = await client.GetAsync($"/api/runs/{runs.SampleRunId}/trees?profile=Boskoop");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("no variety profile 'Boskoop'; known: default, Elstar, Gala, Golden Delicious", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString());
    }

    [Fact]
    public async Task Without_a_broker_status_says_run_control_is_unavailable_and_a_start_is_refused()
    {
        using var client = _console.CreateClient();

        var status = await client.GetFromJsonAsync<JsonElement>("/api/status");
        using var start = await client.PostAsync("/api/runs", new FormUrlEncodedContent(new Dictionary<string, string> { ["block"] = "betuwe", ["pin"] = "1234" }));
        var health = await client.GetFromJsonAsync<JsonElement>("/healthz");
        using var ready = await client.GetAsync("/readyz");

        var broker = status.GetProperty("broker");
        Assert.False(broker.GetProperty("configured").GetBoolean());
        Assert.Contains("run control is unavailable", broker.GetProperty("state").GetString(), StringComparison.Ordinal);
        Assert.Equal(JsonValueKind.Null, status.GetProperty("run").ValueKind);
        Assert.True(status.GetProperty("disk").GetProperty("freeMiB").GetInt64() > 0);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, start.StatusCode);
        Assert.Equal(ConsoleRunControl.Unavailable, (await start.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString());
        Assert.Equal("alive", health.GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
    }

    private static async Task<List<JsonElement>> TreesAsync(HttpClient client, string path)
    {
        var geojson = await client.GetFromJsonAsync<JsonElement>(path);
        return [.. geojson.GetProperty("features").EnumerateArray().Select(f => f.GetProperty("properties"))];
    }

    public void Dispose() => _console.Dispose();
}
