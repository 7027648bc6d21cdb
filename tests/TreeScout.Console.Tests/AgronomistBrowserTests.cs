using System.Globalization;
using System.IO.Compression;
using Microsoft.Playwright;
using TreeScout.MapWriter.Exports;
using TreeScout.Tests;
using Xunit.Abstractions;

namespace TreeScout.WebConsole.Tests;

/// <summary>The agronomist's pages in Debian's Chromium: sign in, open the sample run, tap a tree, layers, a preview, the ISOXML download; a calibrated run's counts.</summary>
[Collection(SampleRunsCollection.Name)]
[Trait("Category", "Integration")]
public sealed class AgronomistBrowserTests(SampleRuns runs, ITestOutputHelper output)
{
    private const string Tree = "R01-T001";

    [Fact]
    public async Task The_agronomist_signs_in_opens_the_run_taps_a_tree_switches_layers_previews_a_profile_and_downloads_valid_isoxml()
    {
        await using var console = await ConsoleServer.StartAsync(runs.Runs);
        await using var browser = await BrowserSession.StartAsync();
        var page = await browser.PageAsync(1280, 800);

        await BrowserSession.SignInAsync(page, console.Url, "/runs");
        await Assertions.Expect(page.Locator("table.runs tbody tr")).ToHaveCountAsync(4);
        await Assertions.Expect(page.Locator("tr.damaged")).ToHaveCountAsync(2);
        await page.ClickAsync($"a[href='/runs/{runs.SampleRunId}']");
        await page.WaitForSelectorAsync("body[data-trees-loaded='24']");
        output.WriteLine(await BrowserSession.ScreenshotAsync(page, "run-1280x800"));

        // Tap the tree where the map draws it.
        await TapTreeAsync(page, Tree);
        var expected = Csv(Tree);
        var facts = await FactsAsync(page);
        Assert.Equal(expected["clusters_total"], facts["Clusters"]);
        Assert.Equal(expected["frames_seen"], facts["Frames seen"]);
        Assert.Equal(expected["clusters_low_confidence"], facts["Low-confidence clusters"]);
        Assert.Equal("0 L/ha", facts["Rate"]);
        foreach (var stage in new[] { "bbch53", "bbch61", "bbch65", "bbch67", "bbch71" })
        {
            var row = (await page.Locator($"#tree-detail tr[data-stage='{stage}'] td").InnerTextAsync()).Trim();
            Assert.Equal(expected[stage], row);
        }
        output.WriteLine(await BrowserSession.ScreenshotAsync(page, "run-tree-1280x800"));

        await page.CheckAsync("input[name=layer][value=bloom]");
        await Assertions.Expect(page.Locator("#legend .legend-title")).ToContainTextAsync("Dominant bloom stage");
        await Assertions.Expect(page.Locator("#legend")).ToContainTextAsync("BBCH 53");
        await page.CheckAsync("input[name=layer][value=density]");
        await Assertions.Expect(page.Locator("#legend .legend-title")).ToHaveTextAsync("Blossom density (clusters per metre of row)");
        await page.CheckAsync("input[name=layer][value=dose]");
        await Assertions.Expect(page.Locator("#legend")).ToHaveTextAsync("Thinning dose (L/ha)0 L/ha (every tree)");

        // Preview another variety's profile with a lower target: the sample's trees then get doses.
        await page.SelectOptionAsync("#preview-profile", "Gala");
        await page.FillAsync("#preview-target", "30");
        await page.ClickAsync("#preview");
        await Assertions.Expect(page.Locator("#preview-note")).ToContainTextAsync("Preview: Gala, target 30 clusters per tree.");
        await Assertions.Expect(page.Locator("#legend .legend-title")).ToHaveTextAsync("Thinning dose (L/ha)");
        await Assertions.Expect(page.Locator("#legend li")).ToHaveCountAsync(5);
        Assert.NotEqual("0 L/ha", (await FactsAsync(page))["Rate"]);
        output.WriteLine(await BrowserSession.ScreenshotAsync(page, "run-preview-1280x800"));

        var download = await page.RunAndWaitForDownloadAsync(() => page.ClickAsync("a[data-format=isoxml]"));
        Assert.Equal($"{runs.SampleRunId}-gala-30.TASKDATA.zip", download.SuggestedFilename);
        var zipPath = Path.Combine(BrowserSession.Screenshots, download.SuggestedFilename);
        await download.SaveAsAsync(zipPath);
        using (var zip = ZipFile.OpenRead(zipPath))
        {
            using var xml = zip.GetEntry("TASKDATA/TASKDATA.XML")!.Open();
            Assert.Empty(IsoXmlSchema.Errors(xml));
        }
        Assert.True(browser.Errors.Count == 0, string.Join('\n', browser.Errors));
    }

    [Fact]
    public async Task A_calibrated_run_shows_its_badge_and_a_tapped_hand_counted_tree_its_calibrated_count_and_interval_and_its_hand_count()
    {
        await using var console = await ConsoleServer.StartAsync(runs.Runs);
        await using var browser = await BrowserSession.StartAsync();
        var page = await browser.PageAsync(1280, 800);
        var calibration = runs.Calibration.Calibration;
        var badge = string.Create(CultureInfo.InvariantCulture, $"Calibrated by 10 hand counts ({runs.Calibration.Report.Model}, R² {calibration.Fit.R2:0.00})");

        await BrowserSession.SignInAsync(page, console.Url, "/runs");
        await Assertions.Expect(page.Locator("table.runs .calibration.fitted")).ToHaveTextAsync(badge);
        await Assertions.Expect(page.Locator("table.runs .calibration.none")).ToHaveTextAsync("Counts as scanned (no hand-count calibration)");
        await page.GotoAsync($"{console.Url}/runs/{SampleRuns.LaterRunId}");
        await page.WaitForSelectorAsync("body[data-trees-loaded='24']");
        await Assertions.Expect(page.Locator("#calibration")).ToHaveTextAsync(badge);
        await Assertions.Expect(page.Locator("#dose-source")).ToHaveTextAsync($"Doses are computed from the calibrated counts ({calibration.Label}), here and in every download.");

        var counted = File.ReadAllLines(runs.HandCounts)[1].Split(',');
        var tree = RunSnapshot.ReadOnly(runs.LaterFolder.StorePath).Trees.Single(t => t.TreeId == counted[0]);
        await TapTreeAsync(page, tree.TreeId);
        var facts = await FactsAsync(page);
        Assert.Equal(string.Create(CultureInfo.InvariantCulture, $"{tree.ClustersTotal} scanned → {Whole(tree.Calibrated!.Clusters)} calibrated ({Whole(tree.Calibrated.Low)}–{Whole(tree.Calibrated.High)}, 90 %)"), facts["Clusters"]);
        Assert.Equal($"{counted[1]} (scanned {tree.ClustersTotal} when counted)", facts["Hand count"]);
        await page.CheckAsync("input[name=layer][value=dose]");
        await Assertions.Expect(page.Locator("#legend .legend-title")).ToHaveTextAsync("Thinning dose (L/ha), from calibrated counts");
        output.WriteLine(await BrowserSession.ScreenshotAsync(page, "run-calibrated-tree-1280x800"));
        Assert.True(browser.Errors.Count == 0, string.Join('\n', browser.Errors));

        static long Whole(double clusters) => (long)Math.Round(clusters, MidpointRounding.AwayFromZero);
    }

    [Theory]
    [InlineData(1280, 800)]
    [InlineData(390, 844)]
    public async Task Every_page_fits_the_screen_without_horizontal_scrolling_and_without_script_errors(int width, int height)
    {
        await using var console = await ConsoleServer.StartAsync(runs.Runs);
        await using var browser = await BrowserSession.StartAsync();
        var page = await browser.PageAsync(width, height, touch: width < 500);

        await page.GotoAsync(console.Url + "/login");
        await Check(page, $"login-{width}x{height}");
        await BrowserSession.SignInAsync(page, console.Url, "/runs");
        await Check(page, $"runs-{width}x{height}");
        await page.GotoAsync($"{console.Url}/runs/{runs.SampleRunId}");
        await page.WaitForSelectorAsync("body[data-trees-loaded='24']");
        await TapTreeAsync(page, Tree);
        await Check(page, $"run-{width}x{height}");
        await page.GotoAsync($"{console.Url}/runs/{runs.SampleRunId}/compare?with={SampleRuns.LaterRunId}");
        await Check(page, $"compare-{width}x{height}");
        await page.GotoAsync(console.Url + "/");
        await Assertions.Expect(page.Locator("#broker-banner")).ToContainTextAsync("Run control is unavailable");
        await Check(page, $"cab-{width}x{height}");
        Assert.True(browser.Errors.Count == 0, string.Join('\n', browser.Errors));

        async Task Check(IPage p, string name)
        {
            output.WriteLine(await BrowserSession.ScreenshotAsync(p, name));
            Assert.True(await BrowserSession.OverflowAsync(p) <= 0, $"{name}: {await BrowserSession.OverflowAsync(p)} px wider than the screen");
        }
    }

    /// <summary>Taps (clicks) the map at the tree's pixel and waits for its panel.</summary>
    private static async Task TapTreeAsync(IPage page, string treeId)
    {
        await page.Locator("#map").ScrollIntoViewIfNeededAsync();
        var pixel = await page.EvaluateAsync<double[]>("id => window.consoleMap.pixelOf(id)", treeId);
        var box = (await page.Locator("#map").BoundingBoxAsync())!;
        await page.Mouse.ClickAsync(box.X + (float)pixel[0], box.Y + (float)pixel[1]);
        await Assertions.Expect(page.Locator("#tree-detail h3")).ToContainTextAsync(treeId);
    }

    private static async Task<Dictionary<string, string>> FactsAsync(IPage page)
    {
        var rows = await page.Locator("#tree-detail table.tree-facts tr").AllAsync();
        var facts = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var row in rows)
        {
            facts[(await row.Locator("th").InnerTextAsync()).Trim()] = (await row.Locator("td").InnerTextAsync()).Trim();
        }
        return facts;
    }

    private Dictionary<string, string> Csv(string treeId)
    {
        var lines = File.ReadAllLines(Path.Combine(runs.SampleFolder.ExportsPath, CsvExport.FileName));
        var header = lines[0].Split(',');
        var values = lines.Skip(1).Select(l => l.Split(',')).Single(v => v[2] == treeId);
        return header.Zip(values).ToDictionary(p => p.First, p => p.Second, StringComparer.Ordinal);
    }
}

