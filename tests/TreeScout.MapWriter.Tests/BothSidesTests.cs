using System.Globalization;
using Microsoft.Data.Sqlite;
using ParquetSharp;
using TreeScout.Contracts;
using TreeScout.MapWriter;
using TreeScout.MapWriter.Exports;
using TreeScout.MapWriter.Store;

namespace TreeScout.MapWriter.Tests;

/// <summary>
/// A row scanned from both sides (ADR 0035): each tree's whole-tree count counts a cluster seen from both sides once,
/// and the clusters seen from each side are kept in the store and in every export.
/// </summary>
[Trait("Category", "Unit")]
public sealed class BothSidesTests
{
    private static readonly TreeRecord Planned = new() { TreeId = "R01-T003", RowId = "R01", TreeIndex = 3, InPlan = true, SpacingM = 1.0, Latitude = 51.93, Longitude = 5.7 };

    private static TreeCluster Seen(string? side, BbchStage stage = BbchStage.Bbch65, bool low = false) =>
        new(stage, low, 0.8, side == RowSides.Left ? "cam-left" : "cam-right", 10, 12, 51.9301, 5.7001, side);

    [Fact]
    public void A_tree_seen_from_both_sides_counts_the_clusters_both_saw_once()
    {
        // 30 seen from the left, 25 from the right: 0.8 × 27.5 = 22 of them were seen from both sides.
        Assert.Equal(30 + 25 - 22, WholeTreeCount.Of(30, 25, 0));
        Assert.Equal(30, WholeTreeCount.Of(30, 0, 0)); // one side only: its count
        Assert.Equal(30 + 2 - 4, WholeTreeCount.Of(30, 2, 0)); // 0.8 × 16 = 12.8, but no more than twice the 2 glimpsed from the right
        // Unbalanced by noise (14 against 30): 0.8 × 22 = 17.6 → 18 seen twice, which the smaller side alone (14) would have cut short.
        Assert.Equal(30 + 14 - 18, WholeTreeCount.Of(30, 14, 0));
        Assert.Equal(WholeTreeCount.Of(14, 30, 0), WholeTreeCount.Of(30, 14, 0));
        Assert.Equal(31 + 30 - 24 + 4, WholeTreeCount.Of(31, 30, 4)); // 0.8 × 30.5 = 24.4 → 24 seen twice; 4 of unknown side as they are
        Assert.Equal(0, WholeTreeCount.Of(0, 0, 0));
    }

    [Fact]
    public void The_stages_share_out_the_whole_tree_count_in_proportion()
    {
        // 10 + 20 + 30 seen as 60, whole 35: 5.83, 11.67, 17.5 → 5, 11, 17 and the two left to the largest remainders.
        Assert.Equal([6, 12, 17], WholeTreeCount.ShareOut([10, 20, 30], 60, 35));
        Assert.Equal([3, 4], WholeTreeCount.ShareOut([3, 4], 7, 7));
        // 2 of the 8 seen had no known stage: the stages keep their share, 6 × 5/8 = 3.75 → 4.
        Assert.Equal([2, 2], WholeTreeCount.ShareOut([3, 3], 8, 5));
    }

    [Fact]
    public void A_trees_values_keep_each_sides_count_and_the_whole_tree_count()
    {
        var clusters = Enumerable.Repeat(Seen(RowSides.Left, BbchStage.Bbch61), 10)
            .Concat(Enumerable.Repeat(Seen(RowSides.Left, BbchStage.Bbch65), 20))
            .Concat(Enumerable.Repeat(Seen(RowSides.Right, BbchStage.Bbch65), 24))
            .Append(Seen(RowSides.Right, low: true))
            .ToList();

        var tree = TreeAggregate.Of(Planned, clusters, MapWriterTestData.RoundNumbers(targetClustersPerTree: 2));

        Assert.Equal((30, 24), (tree.ClustersSeenLeft, tree.ClustersSeenRight)); // the low-confidence one is in neither
        Assert.Equal(30 + 24 - 22, tree.ClustersTotal); // 0.8 × 27 = 21.6 → 22 seen from both
        Assert.Equal(32, tree.ClustersPerStage.Sum());
        Assert.Equal(6, tree.ClustersAt(BbchStage.Bbch61)); // 10/54 of 32 = 5.93; bbch65 44/54 of 32 = 26.07
        Assert.Equal(26, tree.ClustersAt(BbchStage.Bbch65));
        Assert.Equal(32.0, tree.DensityPerM!.Value, 12);
        Assert.Equal(1, tree.ClustersLowConfidence);
    }

    [Fact]
    public void Per_side_counts_survive_a_reopen_and_an_older_store_is_migrated_without_changing_its_counts()
    {
        using var dir = new TempDir();
        var run = new SyntheticRun("run-sides", rows: 1, treesPerRow: 4);
        var sided = run.Observations.Select((o, i) => o with { RowSide = i % 3 == 0 ? RowSides.Right : RowSides.Left }).ToList();
        var expected = sided.Where(o => !o.LowConfidence && o.TreeId is not null).GroupBy(o => o.TreeId!).ToDictionary(
            g => g.Key,
            g => (Left: g.Count(o => o.RowSide == RowSides.Left), Right: g.Count(o => o.RowSide == RowSides.Right)));
        using (var store = RunStore.OpenOrCreate(dir["store.gpkg"]))
        {
            store.AddPlannedTrees(run.Plan.Trees, run.Plan.Trees.ToDictionary(t => t.Id, _ => SyntheticRun.TreeSpacingM));
            store.AddObservations(Guid.NewGuid(), sided, MapWriterTestData.Gala);
        }
        using (var reopened = RunStore.OpenReadOnly(dir["store.gpkg"]))
        {
            foreach (var tree in reopened.ReadTrees())
            {
                var (left, right) = expected[tree.TreeId];
                Assert.Equal((left, right, WholeTreeCount.Of(left, right, 0)), (tree.ClustersSeenLeft, tree.ClustersSeenRight, tree.ClustersTotal));
                Assert.All(reopened.ReadClusters(tree.TreeId), c => Assert.True(RowSides.IsKnown(c.RowSide)));
            }
        }

        // A store written before the sides: no side columns. Read-only it reads as seen from no side; opened for writing it
        // gains the columns, and its trees keep the counts they had.
        var old = dir["old.gpkg"];
        using (var store = RunStore.OpenOrCreate(old))
        {
            store.AddPlannedTrees(run.Plan.Trees, run.Plan.Trees.ToDictionary(t => t.Id, _ => SyntheticRun.TreeSpacingM));
            store.AddObservations(Guid.NewGuid(), run.Observations, MapWriterTestData.Gala);
        }
        using (var db = new SqliteConnection($"Data Source={old};Pooling=False"))
        {
            db.Open();
            using var drop = db.CreateCommand();
            drop.CommandText = "ALTER TABLE observations DROP COLUMN row_side; ALTER TABLE trees DROP COLUMN clusters_seen_left; ALTER TABLE trees DROP COLUMN clusters_seen_right";
            drop.ExecuteNonQuery();
        }
        IReadOnlyList<TreeRecord> before;
        using (var readOnly = RunStore.OpenReadOnly(old))
        {
            before = readOnly.ReadTrees();
            Assert.All(before, t => Assert.Equal((0, 0), (t.ClustersSeenLeft, t.ClustersSeenRight)));
            Assert.Equal(run.ExpectedClusters.Values.Sum(), before.Sum(t => t.ClustersTotal));
        }
        using (var migrated = RunStore.OpenOrCreate(old))
        {
            Assert.Equal(before, migrated.ReadTrees(), TreeValues.Comparer);
            // New observations of a migrated store keep their side.
            var more = sided.Take(6).Select((o, i) => o with { ObservationId = Guid.NewGuid(), TreeId = "R01-T001", LowConfidence = false, RowSide = i < 4 ? RowSides.Left : RowSides.Right }).ToList();
            migrated.AddObservations(Guid.NewGuid(), more, MapWriterTestData.Gala);
            var t1 = migrated.ReadTrees().Single(t => t.TreeId == "R01-T001");
            Assert.Equal((4, 2), (t1.ClustersSeenLeft, t1.ClustersSeenRight));
            Assert.Equal(before.Single(t => t.TreeId == "R01-T001").ClustersTotal + WholeTreeCount.Of(4, 2, 0), t1.ClustersTotal);
        }
    }

    [Fact]
    public async Task Every_per_tree_export_carries_the_clusters_seen_from_each_side()
    {
        using var dir = new TempDir();
        var run = new SyntheticRun("run-sides-export", rows: 2, treesPerRow: 3);
        using (var store = RunStore.OpenOrCreate(dir["store.gpkg"]))
        {
            store.AddPlannedTrees(run.Plan.Trees, run.Plan.Trees.ToDictionary(t => t.Id, _ => SyntheticRun.TreeSpacingM));
            store.AddObservations(Guid.NewGuid(), [.. run.Observations.Select((o, i) => o with { RowSide = i % 4 == 0 ? RowSides.Left : RowSides.Right })], MapWriterTestData.Gala);
        }
        using var snapshot = RunStore.OpenReadOnly(dir["store.gpkg"]);
        var stored = snapshot.ReadTrees().ToDictionary(t => t.TreeId);
        Assert.All(stored.Values, t => Assert.True(t.ClustersSeenLeft > 0 && t.ClustersSeenRight > t.ClustersSeenLeft, t.TreeId));
        var outDir = dir["exports"];
        await MapExporter.ExportAsync(snapshot, [ExportFormat.GeoJson, ExportFormat.Shp, ExportFormat.Gpkg, ExportFormat.GeoParquet, ExportFormat.Csv],
            outDir, MapWriterTestData.Options("/unused"), null, CancellationToken.None);

        var exported = new Dictionary<string, Dictionary<string, (long Left, long Right, long Total)>>();
        exported["geojson"] = Json.Parse(Path.Combine(outDir, "trees.geojson")).GetProperty("features").EnumerateArray()
            .Select(f => f.GetProperty("properties"))
            .ToDictionary(p => p.GetProperty("tree_id").GetString()!, p => (p.GetProperty("clusters_seen_left").GetInt64(), p.GetProperty("clusters_seen_right").GetInt64(), p.GetProperty("clusters_total").GetInt64()));
        exported["shapefile"] = NetTopologySuite.IO.Esri.Shapefile.ReadAllFeatures(Path.Combine(outDir, ShapefileExport.FileName)).ToDictionary(
            f => ((string)f.Attributes["tree_id"]).Trim(),
            f => (Convert.ToInt64(f.Attributes["seen_left"], CultureInfo.InvariantCulture), Convert.ToInt64(f.Attributes["seen_right"], CultureInfo.InvariantCulture), Convert.ToInt64(f.Attributes["clusters"], CultureInfo.InvariantCulture)));
        using (var gpkg = new SqliteConnection($"Data Source={Path.Combine(outDir, "map.gpkg")};Mode=ReadOnly;Pooling=False"))
        {
            gpkg.Open();
            using var select = gpkg.CreateCommand();
            select.CommandText = "SELECT tree_id, clusters_seen_left, clusters_seen_right, clusters_total FROM zones";
            using var r = select.ExecuteReader();
            exported["geopackage"] = [];
            while (r.Read())
            {
                exported["geopackage"][r.GetString(0)] = (r.GetInt64(1), r.GetInt64(2), r.GetInt64(3));
            }
        }
        using (var parquet = new ParquetFileReader(Path.Combine(outDir, GeoParquetExport.FileName)))
        {
            var rows = (int)parquet.FileMetaData.NumRows;
            using var group = parquet.RowGroup(0);
            var columns = Enumerable.Range(0, parquet.FileMetaData.NumColumns).ToDictionary(i => parquet.FileMetaData.Schema.Column(i).Path.ToDotString(), i => i);
            var ids = group.Column(columns["tree_id"]).LogicalReader<string?>().ReadAll(rows);
            int?[] Integers(string name) => group.Column(columns[name]).LogicalReader<int?>().ReadAll(rows);
            var (left, right, total) = (Integers("clusters_seen_left"), Integers("clusters_seen_right"), Integers("clusters_total"));
            exported["geoparquet"] = Enumerable.Range(0, rows).ToDictionary(i => ids[i]!, i => ((long)left[i]!.Value, (long)right[i]!.Value, (long)total[i]!.Value));
        }
        var lines = File.ReadAllLines(Path.Combine(outDir, CsvExport.FileName));
        var header = lines[0].Split(',');
        long Cell(string[] cells, string name) => long.Parse(cells[Array.IndexOf(header, name)], CultureInfo.InvariantCulture);
        exported["csv"] = lines.Skip(1).Select(l => l.Split(',')).ToDictionary(
            c => c[Array.IndexOf(header, "tree_id")], c => (Cell(c, "clusters_seen_left"), Cell(c, "clusters_seen_right"), Cell(c, "clusters_total")));

        foreach (var (format, trees) in exported)
        {
            Assert.True(stored.Count == trees.Count, format);
            foreach (var (id, tree) in stored)
            {
                Assert.True((tree.ClustersSeenLeft, tree.ClustersSeenRight, tree.ClustersTotal) == ((int)trees[id].Left, (int)trees[id].Right, (int)trees[id].Total), $"{format} {id}");
            }
        }
    }
}
