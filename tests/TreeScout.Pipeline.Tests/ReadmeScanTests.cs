using TreeScout.Orchard;
using TreeScout.Simulation;
using TreeScout.Simulation.Scoring;
using TreeScout.Tests;
using Xunit;
using Xunit.Abstractions;

namespace TreeScout.Pipeline.Tests;

/// <summary>The README's main command, as a newcomer runs it: `treescout scan` of the bundled sample, a real process.</summary>
[Trait("Category", "Unit")]
public sealed class ReadmeScanTests(ITestOutputHelper output)
{
    [Fact]
    public async Task The_bundled_sample_scans_to_a_map_of_its_trees()
    {
        var sample = Path.Combine(RepoPaths.Samples, "betuwe-rtk-2x12");
        var outDirectory = Directory.CreateTempSubdirectory("treescout-readme-").FullName;
        try
        {
            await using var scan = WorkerProcess.Start(
                WorkerProcess.ProjectDll("src", "TreeScout.Cli", "treescout"), new Dictionary<string, string>(), ["scan", sample, "--out", outDirectory], output.WriteLine);
            Assert.Equal(0, await scan.WaitForExitAsync(TimeSpan.FromMinutes(10)));
            var summary = Assert.Single(scan.Lines, l => l.StartsWith("run ", StringComparison.Ordinal));
            Assert.Contains(": 24 trees, ", summary, StringComparison.Ordinal);

            var score = Scorer.Compute(GroundTruth.Load(Path.Combine(sample, Recording.TruthJsonFile)), RunResult.ReadStore(Path.Combine(outDirectory, RunResult.StoreFile)));
            output.WriteLine(ScoreReport.ToTable(score));
            Assert.Equal(0, score.Trees.Missed);
            Assert.True(score.Trees.PositionErrorM.P95 <= 0.15, $"tree position p95 {score.Trees.PositionErrorM.P95:0.000} m");
            Assert.True(score.Clusters.Recall >= 0.5, $"cluster recall {score.Clusters.Recall:P1}");
            Assert.True(File.Exists(Path.Combine(outDirectory, "exports", "TASKDATA", "TASKDATA.XML")));
        }
        finally
        {
            Directory.Delete(outDirectory, recursive: true);
        }
    }
}
