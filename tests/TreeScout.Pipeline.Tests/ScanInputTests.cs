using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using TreeScout.Capture;
using TreeScout.Cli.Scanning;
using TreeScout.Orchard;
using TreeScout.Tests;
using Xunit;
using Xunit.Abstractions;

namespace TreeScout.Pipeline.Tests;

/// <summary>`treescout scan` of recordings with bad inputs: refused with one line and its exit code, or reported consistently (issue 19).</summary>
[Collection(ScanCollection.Name)]
[Trait("Category", "Unit")]
public sealed class ScanInputTests(ScanFixture scan, ITestOutputHelper output)
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(10);

    [Fact]
    public async Task A_bad_camera_file_stops_the_scan_before_anything_starts_with_one_line_and_exit_2()
    {
        var recording = CopyRecording("bad-camera");
        var cameras = Path.Combine(recording, Recording.CameraFile);
        var rig = JsonNode.Parse(File.ReadAllText(cameras))!;
        rig["cameras"]![0]!["fx"] = 0;
        File.WriteAllText(cameras, rig.ToJsonString());
        var outDirectory = Path.Combine(scan.Root, "bad-camera-out");

        var run = await TreescoutAsync("scan", recording, "--out", outDirectory);

        Assert.Equal(2, run.ExitCode);
        Assert.Equal($"treescout: {cameras}: camera \"cam-right\": fx must be > 0 (got 0)", run.Stderr.Trim());
        Assert.False(Directory.Exists(outDirectory), "nothing is written for a scan that cannot start");

        rig["cameras"]![0]!.AsObject().Remove("leverArm");
        File.WriteAllText(cameras, rig.ToJsonString());
        var missing = await TreescoutAsync("scan", recording, "--out", outDirectory);
        Assert.Equal(2, missing.ExitCode);
        Assert.Equal($"treescout: {cameras}: camera \"cam-right\": leverArm must be an object {{\"forwardM\", \"rightM\", \"upM\"}} in metres", missing.Stderr.Trim());
    }

    // Latitude and longitude swapped still parse (both are valid degrees), but the plan lies thousands of kilometres away.
    [Fact]
    public async Task A_plan_that_does_not_fit_the_block_makes_the_scan_exit_3_after_writing_the_map_unless_ignored()
    {
        var recording = CopyRecording("swapped-plan");
        var plan = Path.Combine(recording, Recording.BlockFile);
        File.WriteAllText(plan, SwapLatitudeAndLongitude(File.ReadAllText(plan)));
        var outDirectory = Path.Combine(scan.Root, "swapped-plan-out");

        var refused = await TreescoutAsync("scan", recording, "--out", outDirectory);

        Assert.Equal(3, refused.ExitCode);
        var line = refused.Stderr.Trim().Split('\n')[^1];
        Assert.StartsWith($"treescout: {plan} does not fit the block scanned: in ", line, StringComparison.Ordinal);
        Assert.EndsWith("frames the cameras saw canopy far from every planned row", line.Split(" (")[0], StringComparison.Ordinal);
        Assert.EndsWith("; check the plan, or pass --ignore-plan-mismatch to keep this map", line, StringComparison.Ordinal);
        // The map is written all the same (nothing is lost), and run.json says why the scan failed.
        Assert.Contains("map: ", refused.Stdout, StringComparison.Ordinal);
        using (var runJson = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDirectory, "run.json"))))
        {
            var mismatch = runJson.RootElement.GetProperty("fusion").GetProperty("planMismatch");
            Assert.True(mismatch.GetProperty("framesOffPlan").GetInt64() >= 20, mismatch.ToString());
            Assert.True(mismatch.GetProperty("distanceM").GetDouble() > 1_000_000, mismatch.ToString());
        }

        var accepted = await TreescoutAsync("scan", recording, "--out", outDirectory, "--force", "--ignore-plan-mismatch");

        Assert.Equal(0, accepted.ExitCode);
        var warning = Assert.Single(accepted.Stdout.Split('\n'), l => l.StartsWith("warning: ", StringComparison.Ordinal));
        Assert.StartsWith($"warning: {plan} does not fit the block scanned: in ", warning, StringComparison.Ordinal);
        Assert.EndsWith("(--ignore-plan-mismatch)", warning.TrimEnd(), StringComparison.Ordinal);
        Assert.DoesNotContain("treescout: ", accepted.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void A_plan_that_fits_leaves_no_mismatch()
    {
        Assert.Null(scan.Embedded.Fusion.PlanMismatch);
        using var runJson = JsonDocument.Parse(File.ReadAllText(Path.Combine(scan.EmbeddedOut, "run.json")));
        Assert.Equal(JsonValueKind.Null, runJson.RootElement.GetProperty("fusion").GetProperty("planMismatch").ValueKind);
    }

    // Before, run.json's fusion section said 0 malformed lines while its scan section counted them: a replay decodes the
    // recording's NMEA itself, and fusion only counted what its own receiver reader rejected.
    [Fact]
    public async Task Run_json_reports_a_replays_malformed_nmea_lines_alike_in_its_fusion_and_scan_sections()
    {
        var recording = CopyRecording("malformed-nmea");
        var nmea = Path.Combine(recording, Recording.NmeaFile);
        var lines = File.ReadAllLines(nmea);
        var damaged = 0;
        for (var i = 0; i < lines.Length && damaged < 7; i += 9)
        {
            lines[i] = lines[i].Replace('*', '#'); // checksum separator lost: the line is malformed
            damaged++;
        }
        File.WriteAllLines(nmea, lines);
        var outDirectory = Path.Combine(scan.Root, "malformed-nmea-out");
        using var deadline = new CancellationTokenSource(Patience);

        var result = await new ScanPipeline(new ConfigurationBuilder().Build(), NullLoggerFactory.Instance, TextWriter.Null)
            .RunEmbeddedAsync(new ScanRequest(recording, outDirectory, ReplayPace.AsFastAsAccepted), deadline.Token);

        Assert.Equal(7, result.Gnss.MalformedLines);
        Assert.Equal(7, result.Fusion.Gnss.MalformedNmeaLines);
        using var runJson = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDirectory, "run.json")));
        var run = runJson.RootElement;
        Assert.Equal(7, run.GetProperty("fusion").GetProperty("gnss").GetProperty("malformedNmeaLines").GetInt64());
        Assert.Contains(", 7 malformed", run.GetProperty("scan").GetProperty("gnss").GetString(), StringComparison.Ordinal);
        // The fixture's clean recording says 0 in both.
        Assert.Equal((0L, 0L), (scan.Embedded.Gnss.MalformedLines, scan.Embedded.Fusion.Gnss.MalformedNmeaLines));
    }

    private string CopyRecording(string name) => scan.CopyOf(scan.Recording, name);

    /// <summary>Every coordinate pair of the plan's rows and trees as (latitude, longitude) instead of (longitude, latitude).</summary>
    private static string SwapLatitudeAndLongitude(string geoJson)
    {
        var plan = JsonNode.Parse(geoJson)!;
        foreach (var geometry in plan["features"]!.AsArray().Select(f => f!["geometry"]).OfType<JsonObject>())
        {
            var coordinates = geometry["coordinates"]!.AsArray();
            List<JsonArray> pairs = geometry["type"]!.GetValue<string>() == "Point" ? [coordinates] : coordinates.Select(c => c!.AsArray()).ToList();
            foreach (var pair in pairs)
            {
                var (longitude, latitude) = (pair[0]!.GetValue<double>(), pair[1]!.GetValue<double>());
                pair[0] = latitude;
                pair[1] = longitude;
            }
        }
        return plan.ToJsonString();
    }

    private Task<ToolResult> TreescoutAsync(params string[] args) => TreescoutCli.RunAsync(output, Patience, args);
}
