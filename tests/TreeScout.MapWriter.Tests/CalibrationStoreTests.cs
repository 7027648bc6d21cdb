using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using TreeScout.Contracts;
using TreeScout.MapWriter.Calibration;
using TreeScout.MapWriter.Exports;
using TreeScout.MapWriter.Prescription;
using TreeScout.MapWriter.Store;
using TreeScout.Orchard.Calibration;

namespace TreeScout.MapWriter.Tests;

/// <summary>Hand counts and calibrations in the run store: raw counts untouched, prescription from calibrated counts, nothing stored on a refusal.</summary>
[Trait("Category", "Unit")]
public sealed class CalibrationStoreTests
{
    private static readonly DateTimeOffset Now = new(2026, 4, 22, 15, 0, 0, TimeSpan.Zero);

    /// <summary>A finished run's store (2 rows × 6 trees, Gala), closed so that it has no -wal beside it.</summary>
    private static (string Path, SyntheticRun Run) FinishedStore(TempDir dir, int batches = int.MaxValue)
    {
        var run = new SyntheticRun("20260421-100000-calibrate-a1b2", rows: 2, treesPerRow: 6);
        var path = dir["store.gpkg"];
        using var store = RunStore.OpenOrCreate(path);
        store.SetMetadata(new Dictionary<string, string?>
        {
            [RunMetadataKeys.RunId] = run.RunId,
            [RunMetadataKeys.Block] = "Synthetic block",
            [RunMetadataKeys.VarietyProfileJson] = JsonSerializer.Serialize(MapWriterTestData.Gala, RunMetadataKeys.Json),
        });
        store.AddPlannedTrees(run.Plan.Trees, run.Plan.Trees.ToDictionary(t => t.Id, _ => SyntheticRun.TreeSpacingM));
        foreach (var batch in run.Batches.Take(batches))
        {
            store.AddObservations(batch.MessageId, batch.Observations, MapWriterTestData.Gala);
        }
        return (path, run);
    }

    /// <summary>Hand counts of six trees (from the <paramref name="skip"/>th): slope × scanned + 15, give or take a few clusters.</summary>
    private static string CountsFile(TempDir dir, string path, string name = "hand.csv", int skip = 0, double slope = 1.2)
    {
        var lines = TreesOf(path).Skip(skip).Take(6).Select((t, i) => $"{t.TreeId},{(int)Math.Round((slope * t.ClustersTotal) + 15 + (((i % 3) - 1) * 3))},{i}");
        File.WriteAllText(dir[name], "tree_id,clusters,bbch65\n" + string.Join("\n", lines) + "\n");
        return dir[name];
    }

    private static IReadOnlyList<TreeRecord> TreesOf(string path)
    {
        using var store = RunStore.OpenReadOnly(path);
        return store.ReadTrees();
    }

    private static Task<CalibrationOutcome> Calibrate(string store, string counts, bool acceptPoorFit = false) =>
        RunCalibration.CalibrateAsync(store, counts, acceptPoorFit, Now, MapWriterTestData.Options("/unused"), CancellationToken.None);

    private static string Hash(string path)
    {
        SqliteConnection.ClearAllPools();
        return Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));
    }

    [Fact]
    public async Task Calibrating_keeps_the_raw_counts_and_prescribes_from_the_calibrated_counts()
    {
        using var dir = new TempDir();
        var (path, _) = FinishedStore(dir);
        var before = TreesOf(path);
        var counts = CountsFile(dir, path);

        var outcome = await Calibrate(path, counts);

        var scanned = before.ToDictionary(t => t.TreeId, t => t.ClustersTotal);
        var hand = HandCountFile.Load(counts, scanned.Keys.ToHashSet());
        var expected = CountCalibration.Fit(hand.Select(h => new CalibrationPoint(scanned[h.TreeId], h.Clusters)).ToList());
        Assert.Equal(expected.Model, outcome.Calibration.Fit.Model);
        Assert.Equal(expected, outcome.Calibration.Fit);
        Assert.False(outcome.Report.PoorFit);
        Assert.Null(outcome.Exports); // a bare store: no exports/ folder to refresh
        Assert.False(outcome.SummaryUpdated);

        using var after = RunStore.OpenReadOnly(path);
        var trees = after.ReadTrees();
        Assert.Equal(before.Select(t => (t.TreeId, t.ClustersTotal, t.ClustersLowConfidence)), trees.Select(t => (t.TreeId, t.ClustersTotal, t.ClustersLowConfidence)));
        Assert.All(trees, t => Assert.Equal(ThinningPrescription.For(MapWriterTestData.Gala, expected.Model.Calibrate(t.ClustersTotal)).RateLPerHa, t.RateLPerHa!.Value, 12));
        Assert.Contains(trees, t => t.RateLPerHa != before.Single(b => b.TreeId == t.TreeId).RateLPerHa);

        var stored = after.ReadCalibration()!;
        Assert.Equal(("hand.csv", Now, expected), (stored.Source, stored.CreatedAtUtc, stored.Fit));
        var handCounts = after.ReadHandCounts();
        Assert.Equal(hand.Select(h => (h.TreeId, h.Clusters, h.Line, scanned[h.TreeId])), handCounts.Select(h => (h.Count.TreeId, h.Count.Clusters, h.Count.Line, h.ClustersScanned)));
        Assert.Equal(Enumerable.Range(0, 6), handCounts.Select(h => h.Count.ByStage[BbchStage.Bbch65]));

        var snapshot = RunSnapshot.Read(after, MapWriterTestData.Options("/unused"));
        var t = expected.Model.TQuantile;
        Assert.All(snapshot.Trees, tree => Assert.Equal(expected.Model.Predict(tree.ClustersTotal, t), tree.Calibrated));
        Assert.All(snapshot.Trees, tree => Assert.Equal(stored.Label, tree.Calibration));
        Assert.Empty(snapshot.Warnings);
    }

    [Fact]
    public async Task Observations_stored_after_a_calibration_are_prescribed_from_calibrated_counts()
    {
        using var dir = new TempDir();
        var (path, run) = FinishedStore(dir, batches: 30);
        var outcome = await Calibrate(path, CountsFile(dir, path));
        using var store = RunStore.OpenOrCreate(path);
        foreach (var batch in run.Batches.Skip(30))
        {
            store.AddObservations(batch.MessageId, batch.Observations, MapWriterTestData.Gala);
        }
        var model = outcome.Calibration.Fit.Model;
        Assert.All(store.ReadTrees(), t => Assert.Equal(ThinningPrescription.For(MapWriterTestData.Gala, model.Calibrate(t.ClustersTotal)).DosePercent, t.DosePercent!.Value, 12));
        Assert.Equal(run.ExpectedClusters.Values.Sum(), store.ReadTrees().Sum(t => t.ClustersTotal));
    }

    [Theory]
    [InlineData("tree_id,clusters\nR01-T001,40\nR09-T001,30\nR01-T004,41\n", "hand.csv:3: tree 'R09-T001' is not a tree of this run")]
    [InlineData("tree_id,clusters\nR01-T001,40\nR01-T002,-5\nR01-T004,41\n", "hand.csv:3: clusters -5 is negative")]
    [InlineData("tree_id,clusters\nR01-T001,40\nR01-T002,x\nR01-T004,41\n", "hand.csv:3: clusters 'x' is not a whole number")]
    [InlineData("tree_id,clusters\nR01-T001,40\nR01-T002,30\nR01-T001,41\n", "hand.csv:4: tree R01-T001 is counted twice (also on line 2)")]
    [InlineData("tree_id,clusters\nR01-T001,40\nR01-T002,30\n", "hand.csv: 2 trees counted; a calibration needs at least 3")]
    public async Task A_refused_counts_file_leaves_the_store_byte_for_byte_as_it_was(string text, string message)
    {
        using var dir = new TempDir();
        var (path, _) = FinishedStore(dir);
        var before = Hash(path);
        File.WriteAllText(dir["hand.csv"], text);

        var error = await Assert.ThrowsAsync<HandCountException>(() => Calibrate(path, dir["hand.csv"]));

        Assert.StartsWith(dir["hand.csv"] + message["hand.csv".Length..], error.Message, StringComparison.Ordinal);
        Assert.Equal(before, Hash(path));
        Assert.False(File.Exists(path + "-wal"));
    }

    [Fact]
    public async Task A_poor_fit_is_refused_unless_accepted_and_then_flagged_in_the_labels_the_warnings_and_the_task_name()
    {
        using var dir = new TempDir();
        var (path, _) = FinishedStore(dir);
        var trees = TreesOf(path);
        // Hand counts that do not follow the scan: high where it is low and the other way round, plus scatter.
        var ordered = trees.OrderBy(t => t.ClustersTotal).Take(6).ToList();
        int[] hand = [60, 10, 75, 20, 30, 5];
        File.WriteAllText(dir["poor.csv"], "tree_id,clusters\n" + string.Join("\n", ordered.Select((t, i) => $"{t.TreeId},{hand[i]}")) + "\n");
        var before = Hash(path);

        var refused = await Assert.ThrowsAsync<CalibrationException>(() => Calibrate(path, dir["poor.csv"]));
        Assert.Contains("the calibration fits poorly (R² ", refused.Message, StringComparison.Ordinal);
        Assert.EndsWith("nothing stored. Check that the right trees were counted, each whole tree; or store it anyway with --accept-poor-fit", refused.Message, StringComparison.Ordinal);
        Assert.Equal(before, Hash(path));

        var outcome = await Calibrate(path, dir["poor.csv"], acceptPoorFit: true);
        Assert.True(outcome.Report.PoorFit);
        Assert.StartsWith("POOR FIT n=6 R2=", outcome.Calibration.Label, StringComparison.Ordinal);
        using var after = RunStore.OpenReadOnly(path);
        var snapshot = RunSnapshot.Read(after, MapWriterTestData.Options("/unused"));
        Assert.Contains(outcome.Calibration.Warning!, snapshot.Warnings);
        Assert.StartsWith("the hand-count calibration fits poorly (R² ", outcome.Calibration.Warning, StringComparison.Ordinal);
        Assert.All(snapshot.Trees, t => Assert.StartsWith("POOR FIT", t.Calibration, StringComparison.Ordinal));
        Assert.Equal("POOR FIT calibrated thinning Synthetic block", IsoXmlExport.TaskName(snapshot));
    }

    [Fact]
    public async Task A_new_calibration_is_the_one_in_use_and_the_earlier_hand_counts_are_kept()
    {
        using var dir = new TempDir();
        var (path, _) = FinishedStore(dir);
        await Calibrate(path, CountsFile(dir, path, "first.csv"));
        var second = await Calibrate(path, CountsFile(dir, path, "second.csv", skip: 6, slope: 0.8));

        using var store = RunStore.OpenReadOnly(path);
        Assert.Equal((2L, "second.csv"), (store.ReadCalibration()!.Id, store.ReadCalibration()!.Source));
        Assert.Equal(["R02-T001", "R02-T002", "R02-T003", "R02-T004", "R02-T005", "R02-T006"], store.ReadHandCounts().Select(h => h.Count.TreeId));
        Assert.All(store.ReadTrees(), t => Assert.Equal(ThinningPrescription.For(MapWriterTestData.Gala, second.Calibration.Fit.Model.Calibrate(t.ClustersTotal)).RateLPerHa, t.RateLPerHa!.Value, 12));
        using var db = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        db.Open();
        using var count = db.CreateCommand();
        count.CommandText = "SELECT count(*), count(DISTINCT calibration_fid) FROM hand_counts";
        using var r = count.ExecuteReader();
        r.Read();
        Assert.Equal((12L, 2L), (r.GetInt64(0), r.GetInt64(1)));
    }

    [Fact]
    public void A_store_from_before_calibrations_reads_as_uncalibrated_and_gains_the_tables_when_opened_for_writing()
    {
        using var dir = new TempDir();
        var (path, _) = FinishedStore(dir);
        using (var db = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            db.Open();
            using var drop = db.CreateCommand();
            drop.CommandText = "DROP TABLE hand_counts; DROP TABLE calibration; DELETE FROM gpkg_contents WHERE table_name IN ('hand_counts', 'calibration')";
            drop.ExecuteNonQuery();
        }
        using (var old = RunStore.OpenReadOnly(path))
        {
            Assert.Null(old.ReadCalibration());
            Assert.Empty(old.ReadHandCounts());
            var snapshot = RunSnapshot.Read(old, MapWriterTestData.Options("/unused"));
            Assert.All(snapshot.Trees, t => Assert.Null(t.Calibrated));
            Assert.All(TreeFields.All.Where(f => f.Name.StartsWith("clusters_c", StringComparison.Ordinal) || f.Name == "calibration"),
                f => Assert.All(snapshot.Trees, t => Assert.Null(f.Value(t))));
        }
        using var reopened = RunStore.OpenOrCreate(path);
        Assert.Null(reopened.ReadCalibration());
        Assert.Empty(reopened.ReadHandCounts());
    }
}
