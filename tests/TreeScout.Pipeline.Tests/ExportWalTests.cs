using System.Text.Json;
using TreeScout.MapWriter;
using TreeScout.MapWriter.Exports;
using TreeScout.MapWriter.Store;
using TreeScout.Orchard;
using TreeScout.Tests;
using Xunit;
using Xunit.Abstractions;

namespace TreeScout.Pipeline.Tests;

/// <summary>`treescout export` (a real process) folds a crashed writer's -wal into store.gpkg, so copying store.gpkg alone copies the run.</summary>
[Trait("Category", "Unit")]
public sealed class ExportWalTests(ITestOutputHelper output)
{
    [Fact]
    public async Task After_an_export_a_copy_of_store_gpkg_alone_holds_the_trees_a_crashed_writer_left_in_the_wal()
    {
        var root = Directory.CreateTempSubdirectory("treescout-export-wal-").FullName;
        try
        {
            // A writer commits a run's trees and is cut off: store.gpkg and store.gpkg-wal as a power cut leaves them.
            var crashed = new RunFolder(Path.Combine(root, "crashed"));
            Directory.CreateDirectory(crashed.Path);
            var trees = Enumerable.Range(1, 8).Select(i => new Tree(BlockPlan.TreeId(1, i), BlockPlan.RowId(1), i, 51.9 + (i * 0.00001), 5.5)).ToList();
            using (var writer = RunStore.OpenOrCreate(Path.Combine(root, "live", RunFolder.StoreFileName)))
            {
                writer.SetMetadata(new Dictionary<string, string?> { [RunMetadataKeys.RunId] = "20260421-090000-crash-0001", [RunMetadataKeys.Block] = "Noord 3" });
                writer.AddPlannedTrees(trees, new Dictionary<string, double>());
                foreach (var suffix in new[] { "", "-wal" })
                {
                    File.Copy(writer.Path + suffix, crashed.StorePath + suffix);
                }
            }
            var loneBefore = Path.Combine(root, "lone-before.gpkg");
            File.Copy(crashed.StorePath, loneBefore);
            using (var before = RunStore.OpenReadOnly(loneBefore))
            {
                Assert.Empty(before.ReadTrees()); // the problem: the store was created with its schema, but the trees are in the -wal
            }

            var exports = Path.Combine(root, "exports");
            await using (var export = WorkerProcess.Start(WorkerProcess.ProjectDll("src", "TreeScout.Cli", "treescout"), new Dictionary<string, string>(),
                ["export", "--run", crashed.Path, "--out", exports, "--format", "geojson"], output.WriteLine))
            {
                Assert.Equal(0, await export.WaitForExitAsync(TimeSpan.FromMinutes(2)));
                Assert.DoesNotContain(export.Lines, l => l.Contains("could not be folded", StringComparison.Ordinal));
            }
            Assert.False(File.Exists(crashed.StorePath + "-wal"));
            using (var geojson = JsonDocument.Parse(File.ReadAllText(Path.Combine(exports, "trees.geojson"))))
            {
                Assert.Equal(8, geojson.RootElement.GetProperty("features").GetArrayLength());
            }

            var lone = Path.Combine(root, "lone-after.gpkg");
            File.Copy(crashed.StorePath, lone);
            using var copy = RunStore.OpenReadOnly(lone);
            Assert.Equal(trees.Select(t => t.Id), copy.ReadTrees().Select(t => t.TreeId));
            Assert.Equal("20260421-090000-crash-0001", copy.ReadMetadata()[RunMetadataKeys.RunId]);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(root, recursive: true);
        }
    }
}
