using Microsoft.Extensions.Logging;
using TreeScout.Contracts;
using TreeScout.Orchard;
using TreeScout.Simulation;
using TreeScout.Simulation.Scoring;
using TreeScout.Tests;
using Xunit.Abstractions;

namespace TreeScout.Fusion.Tests;

/// <summary>
/// Fusion's accuracy on simulator runs with ground truth (docs/simulator.md): detections are the truth boxes perturbed like a
/// detector (jitter, misses, mostly hidden clusters undetected, false boxes), so only fusion is measured. Scored with the
/// simulator's scorer, as `treescout score` does. Small runs (2 rows × 15 trees, 640×360) keep each scenario to seconds.
/// Targets are issue 4's and each is asserted as it stands; each test's comment gives what it measures (docs/fusion.md,
/// "Accuracy on simulated runs").
/// </summary>
[Trait("Category", "Unit")]
public sealed class FusionAccuracyTests(SimulatedRecordings recordings, ITestOutputHelper output) : IClassFixture<SimulatedRecordings>
{
    /// <summary>The accuracy scenarios' block: 2 rows × 15 trees at 640×360, GNSS events off (other tests take it too).</summary>
    internal static SimulationOptions Base(int seed) => new()
    {
        Seed = seed,
        Rows = 2,
        TreesPerRow = 15,
        ImageWidth = 640,
        ImageHeight = 360,
        GnssEvents = false,
        CropDirectory = RepoPaths.SharedData("bbch"),
    };

    /// <summary>Runs a scenario; <paramref name="plan"/> replaces the block's plan in RunStarted (null: none), scored as without one.</summary>
    private async Task<ScenarioResult> RunAsync(string name, SimulationOptions options, Func<string, string?>? plan = null)
    {
        // Scenarios with the same options fuse the one recording rendered for them (recordings), each under its own run id.
        var scan = SimulatedScan.FromRecording(recordings.For(options), DetectionNoise.Realistic with { JitterPx = 1.5 }, $"sim-{name}");
        using var loggerFactory = LoggerFactory.Create(b => b.AddProvider(new TestOutputLoggerProvider(output)).SetMinimumLevel(LogLevel.Information));
        var messages = scan.ArrivalOrder(TimeSpan.FromMilliseconds(150));
        var withPlan = plan is null;
        if (plan is not null)
        {
            messages = [.. messages.Select(m => m is RunStarted started ? started with { BlockPlanGeoJson = plan(started.BlockPlanGeoJson!) } : m)];
        }
        var fused = await EmbeddedFusion.RunAsync(messages, loggerFactory);
        var result = new ScenarioResult(name, scan, fused, Scorer.Compute(scan.Truth, ScenarioResult.ResultOf(scan.Truth, fused.Observations, withPlan)));
        output.WriteLine(ScenarioResult.Table([result]));
        var c = result.Score.Clusters;
        output.WriteLine($"visible {c.VisibleTrue}: matched {c.MatchedVisible}, attributed {c.AttributedCorrectly}, low-confidence matched {c.LowConfidenceMatched} (right tree {c.LowConfidenceAttributedCorrectly}), matched hidden {c.MatchedHidden}; confident on a wrong tree {result.ConfidentWrongShare:P1}");
        var (reference, referenceRightTree) = result.GnssOnlyReference;
        output.WriteLine($"right tree by identity {result.RightTreeShare:P1}; GNSS-only reference (perfect fusion with this run's fixes): attributed {reference.Clusters.AttributionShare:P1}, recall {reference.Clusters.Recall:P1}, right tree {referenceRightTree:P1}, p95 {reference.Clusters.HorizontalErrorM.P95:F3} m");
        output.WriteLine("counters: " + string.Join(", ", fused.Counters.OrderBy(k => k.Key).Select(k => $"{k.Key}={k.Value}")));
        // Every frame is accounted for in every scenario: fused, none missing.
        Assert.Equal(scan.Frames.Count, fused.Fused.FramesFused);
        Assert.Equal(0, fused.Fused.FramesMissing);
        return result;
    }

    // Where issue 4 sets a target it is asserted as it stands; where it sets none (no plan, false positives, right tree by
    // identity) the floor is a point or two under the measurement (docs/fusion.md), so a regression does not slip by.
    // The scorer matches visible clusters before hidden ones (ADR 0022): a hidden cluster touching a visible one cannot
    // take its observation.
    [Fact]
    public Task Rtk_fixed_puts_99_percent_of_clusters_on_the_right_tree_within_15_cm() => RtkAsync(minAttribution: 0.99);

    // A dual-antenna receiver's HDT is a heading from true north, the positions are in the UTM grid (1.9° apart here).
    // Measured 99.4 %, p95 0.095 m, 10 false positives; with the HDT heading used as a grid heading (at 6b5befc, before
    // visible clusters were matched first): 94.1 %, 0.238 m, 266.
    [Fact]
    public async Task Rtk_fixed_with_a_dual_antenna_heading_meets_the_rtk_targets()
    {
        var r = await RunAsync("rtk-hdt", Base(11) with { Heading = true });
        Assert.Equal(0, r.Output.Fused.FramesWithoutPose);
        AssertAttribution(r, 0.99);
        AssertPositionTarget(r);
    }

    // The float receiver here is 0.4-0.7 m off along the rows for the whole first pass: a perfect fusion of its fixes alone
    // (ScenarioResult.GnssOnlyReference) attributes 76.1 %. Registration (docs/fusion.md) measures each pass's along-row
    // offset from the row ends and refines it against every planted tree, around each tree (94.7 %), and its offset across
    // the row from where its clusters lie against the canopy face: 96.8 %, p95 0.235 m (0.284 m along the row alone).
    [Fact]
    public async Task Rtk_float_puts_95_percent_of_clusters_on_the_right_tree()
    {
        var r = await RunAsync("float", Base(12) with { Gnss = GnssFixType.Float });
        AssertAttribution(r, 0.95);
        var reference = r.GnssOnlyReference.Score.Clusters.AttributionShare;
        Assert.True(r.Score.Clusters.AttributionShare >= reference + 0.10, $"attribution {r.Score.Clusters.AttributionShare:P1}, GNSS-only reference {reference:P1}");
        Assert.Equal(2, r.Output.Counters.GetValueOrDefault("passes_registered"));
    }

    // 50 m rows (~30 s a pass, ~1,700 well-placed clusters each): the receiver drifts along a pass, which the offsets around
    // each tree follow. Measured 98.3 % (84.0 % along the row alone; 80.7 % with one offset per pass from the row ends).
    [Fact]
    public async Task Rtk_float_on_50_m_rows_is_registered_tree_by_tree()
    {
        var r = await RunAsync("float-50m", Base(301) with { Gnss = GnssFixType.Float, TreesPerRow = 50 });
        Assert.Equal(2, r.Output.Counters.GetValueOrDefault("passes_registered"));
        AssertAttribution(r, 0.95);
    }

    // Measured 99.4 %, recall 99.5 %, 13 false positives, p95 0.100 m, nothing on a gap.
    [Fact]
    public Task Curved_rows_with_missing_trees_meet_the_rtk_targets_and_count_nothing_on_a_gap() => CurvedWithGapsAsync(minAttribution: 0.99);

    // Without a plan the rows come from the drive passes and trees from the spacing, numbered from where the canopy starts.
    // Measured: 2 rows, recall 97.3 %, 19 false positives, p95 0.127 m, 94.0 % on the tree standing there. Rows started
    // from clusters instead gave 4 rows, recall 68.8 %, 591 false positives, p95 0.196 m (docs/fusion.md, "Without a plan").
    [Fact]
    public async Task Without_a_plan_rows_follow_the_drive_passes_and_clusters_keep_their_rtk_positions()
    {
        var r = await RunAsync("rtk-no-plan", Base(11), plan: _ => null);
        var c = r.Score.Clusters;
        var rows = r.Output.Observations.Where(o => o.TreeId is not null).Select(o => o.RowId).Distinct().Order().ToList();
        Assert.Equal(["R01", "R02"], rows);
        Assert.True(c.Recall >= 0.92, $"recall {c.Recall:P1}");
        Assert.True(c.FalsePositives <= 40, $"{c.FalsePositives} false positives");
        AssertPositionTarget(r);
        Assert.True(r.Score.Trees.Found >= 25 && r.Score.Trees.Extra <= 5, $"trees found {r.Score.Trees.Found} of {r.Score.Trees.TrueTrees}, extra {r.Score.Trees.Extra}");
        AssertAttribution(r, 0.92);
    }

    // A plan fusion cannot use (here in RD New, EPSG:28992, as a Dutch grower's GIS may export it) is named with its problem
    // in the worker's warnings, and the run is fused as without a plan instead of not at all.
    [Fact]
    public async Task A_plan_in_an_unexpected_crs_is_named_and_the_run_fused_with_rows_from_the_drive()
    {
        const string rdNew = """{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::28992"}},"features":[]}""";
        var r = await RunAsync("rtk-rd-plan", Base(11), plan: _ => rdNew);

        var warning = Assert.Single(r.Output.Warnings, w => w.Contains("unexpected CRS", StringComparison.Ordinal));
        Assert.StartsWith($"block plan of run {r.Scan.RunId} (", warning, StringComparison.Ordinal);
        Assert.Contains("'urn:ogc:def:crs:EPSG::28992'", warning, StringComparison.Ordinal);
        Assert.EndsWith("rows are inferred from the drive passes instead", warning, StringComparison.Ordinal);
        Assert.Equal(["R01", "R02"], r.Output.Observations.Where(o => o.TreeId is not null).Select(o => o.RowId).Distinct().Order());
        Assert.True(r.Score.Clusters.Recall >= 0.92, $"recall {r.Score.Clusters.Recall:P1}");
    }

    // A plan with latitude and longitude swapped parses (both are valid degrees) but lies thousands of kilometres away:
    // the worker says so while the run goes on, and nothing is counted on its trees.
    [Fact]
    public async Task A_plan_that_does_not_fit_the_block_is_reported_and_nothing_counted_on_it()
    {
        static string Swapped(string json)
        {
            var plan = BlockPlan.Parse(json, "plan");
            return (plan with
            {
                Rows = [.. plan.Rows.Select(row => row with { Line = [.. row.Line.Select(p => (p.Longitude, p.Latitude))] })],
                Trees = [.. plan.Trees.Select(t => t with { Latitude = t.Longitude, Longitude = t.Latitude })],
            }).ToGeoJson();
        }

        var r = await RunAsync("rtk-swapped-plan", Base(11), plan: Swapped);

        var warning = Assert.Single(r.Output.Warnings, w => w.Contains("latitude and longitude swapped", StringComparison.Ordinal));
        Assert.StartsWith($"run {r.Scan.RunId}: the cameras see canopy ", warning, StringComparison.Ordinal);
        Assert.True(r.Output.Counters.GetValueOrDefault("frames_off_plan") >= 20, $"{r.Output.Counters.GetValueOrDefault("frames_off_plan")} frames off the plan");
        // RunFused carries it to the map writer's run.json and to `treescout scan`, which exits 3 on it.
        var mismatch = Assert.IsType<PlanMismatch>(r.Output.Fused.PlanMismatch);
        Assert.Equal(r.Output.Counters["frames_off_plan"], mismatch.FramesOffPlan);
        Assert.True(mismatch.DistanceM > 6_000_000, $"{mismatch.DistanceM} m");
        Assert.NotEmpty(r.Output.Observations);
        Assert.All(r.Output.Observations, o => Assert.True(o.LowConfidence && o.TreeId is null, $"{o.ObservationId} counted on {o.TreeId}"));
    }

    [Fact]
    public async Task Dgps_is_reported_and_assigns_no_silent_garbage()
    {
        var r = await RunAsync("dgps", Base(13) with { Gnss = GnssFixType.Dgps });
        Assert.True(r.ConfidentWrongShare <= 0.05, $"{r.ConfidentWrongShare:P1} of confident observations are on a wrong tree");
    }

    [Fact]
    public async Task Autonomous_gnss_output_is_marked_low_confidence()
    {
        var r = await RunAsync("autonomous", Base(14) with { Gnss = GnssFixType.Autonomous });
        var c = r.Score.Clusters;
        Assert.True(c.LowConfidenceObservations >= 0.95 * c.Observations, $"only {c.LowConfidenceObservations} of {c.Observations} observations flagged low-confidence");
        Assert.True(r.ConfidentWrongShare <= 0.05, $"{r.ConfidentWrongShare:P1} of confident observations are on a wrong tree");
    }

    [Fact]
    public async Task Gnss_outage_of_three_seconds_mid_row_loses_no_counts()
    {
        // Row 1 takes ~9 s at 6 km/h; the outage covers its middle third. Measured: recall 99.0 %, attributed 98.3 %.
        var r = await RunAsync("outage", Base(15) with { GnssOutages = [new GnssOutage(4, 3)] });
        Assert.Equal(0, r.Output.Fused.FramesWithoutPose);
        Assert.True(r.Score.Clusters.Recall >= 0.95, $"recall {r.Score.Clusters.Recall:P1}");
        Assert.True(r.Score.Clusters.AttributionShare >= 0.95, $"attribution {r.Score.Clusters.AttributionShare:P1}");
    }

    /// <summary>RTK fixed, straight rows: the run's models are named, every frame has a pose, clusters are within 0.15 m (p95).</summary>
    private async Task RtkAsync(double minAttribution)
    {
        var r = await RunAsync("rtk", Base(11));
        Assert.Equal([new ModelIdentity("simulator-truth", "1", "-"), new ModelIdentity("simulator-truth-stage", "1", "-")], r.Output.Fused.Models);
        Assert.Equal(0, r.Output.Fused.FramesWithoutPose);
        Assert.Null(r.Output.Fused.PlanMismatch);
        AssertAttribution(r, minAttribution);
        AssertPositionTarget(r);
        // Position-free: each cluster's own track on its own tree (the scorer's position match cannot see a track that
        // changed clusters). Measured 94.5 %; the scorer's attribution 99.2 %, p95 0.119 m.
        Assert.True(r.RightTreeShare >= 0.92, $"right tree by identity {r.RightTreeShare:P1}");
        // Counted twice or nowhere near a cluster: 10 measured; 27 with the common shift's frame left to drift (docs/fusion.md).
        Assert.True(r.Score.Clusters.FalsePositives <= 15, $"{r.Score.Clusters.FalsePositives} false positives");
    }

    /// <summary>Curved rows with 20 % of the trees missing: nothing is counted on a missing tree, clusters within 0.15 m (p95).</summary>
    private async Task CurvedWithGapsAsync(double minAttribution)
    {
        var r = await RunAsync("curved-gaps", Base(16) with { CurvedRows = true, MissingTreeFraction = 0.2 });
        var gaps = r.Scan.Truth.Trees.Where(t => !t.Present).Select(t => t.TreeId).ToHashSet();
        Assert.NotEmpty(gaps);
        Assert.DoesNotContain(r.Output.Observations, o => !o.LowConfidence && o.TreeId is not null && gaps.Contains(o.TreeId));
        AssertAttribution(r, minAttribution);
        AssertPositionTarget(r);
    }

    private static void AssertAttribution(ScenarioResult r, double min) =>
        Assert.True(r.Score.Clusters.AttributionShare >= min, $"attribution {r.Score.Clusters.AttributionShare:P1}, needs {min:P0}");

    private static void AssertPositionTarget(ScenarioResult r) =>
        Assert.True(r.Score.Clusters.HorizontalErrorM.P95 <= 0.15, $"cluster error p95 {r.Score.Clusters.HorizontalErrorM.P95:F3} m");
}
