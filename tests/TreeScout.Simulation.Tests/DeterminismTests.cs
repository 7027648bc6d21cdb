using System.Security.Cryptography;

namespace TreeScout.Simulation.Tests;

[Trait("Category", "Unit")]
public sealed class DeterminismTests
{
    private static SimulationOptions Tiny(int seed) => SimulatedRuns.Small(seed) with { TreesPerRow = 3, ImageWidth = 320, ImageHeight = 240, Fps = 2, CurvedRows = true };

    [Fact]
    public void Same_seed_gives_byte_identical_recordings_and_another_seed_does_not()
    {
        var a = SimulatedRuns.TempDirectory("det-a");
        var b = SimulatedRuns.TempDirectory("det-b");
        var c = SimulatedRuns.TempDirectory("det-c");
        try
        {
            ScanSimulator.Run(Tiny(11), a);
            ScanSimulator.Run(Tiny(11), b);
            ScanSimulator.Run(Tiny(12), c);
            var filesA = Hashes(a);
            var filesB = Hashes(b);
            Assert.Equal(filesA.Keys.Order(), filesB.Keys.Order());
            Assert.Contains("gnss.nmea", filesA.Keys);
            Assert.Contains("truth.json", filesA.Keys);
            Assert.True(filesA.Keys.Count(k => k.EndsWith(".jpg", StringComparison.Ordinal)) > 20);
            foreach (var (file, hash) in filesA)
            {
                Assert.True(hash == filesB[file], $"{file} differs between two runs with seed 11");
            }
            var filesC = Hashes(c);
            // (block.geojson is the planting plan: the same for every seed.)
            foreach (var file in new[] { "gnss.nmea", "truth.json", "truth.csv", "frames/cam-right/000010.jpg" })
            {
                Assert.NotEqual(filesA[file], filesC[file]);
            }
        }
        finally
        {
            foreach (var d in new[] { a, b, c })
            {
                if (Directory.Exists(d))
                {
                    Directory.Delete(d, true);
                }
            }
        }
    }

    private static Dictionary<string, string> Hashes(string root) =>
        Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).ToDictionary(
            f => Path.GetRelativePath(root, f).Replace('\\', '/'),
            f => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))));
}
