using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using TreeScout.Capture;
using TreeScout.Cli;
using TreeScout.Cli.Scanning;
using TreeScout.MapWriter;
using TreeScout.MapWriter.Store;
using TreeScout.Tests;
using Xunit;
using Xunit.Abstractions;

namespace TreeScout.Pipeline.Tests;

/// <summary>`treescout scan` (embedded) into a filesystem that really is full (a small tmpfs): it waits, says so, and finishes or stops with one line.</summary>
[Trait("Category", "Disruptive")]
[Collection(ScanCollection.Name)]
public sealed class DiskFullScanTests(ScanFixture scan, ITestOutputHelper output)
{
    private const long MiB = 1024 * 1024;

    [TmpfsFact]
    public async Task A_scan_whose_disk_stays_full_stops_with_exit_code_1_and_one_line_saying_what_to_do()
    {
        using var disk = new Tmpfs(16 * MiB);
        disk.Fill();
        var outDirectory = Path.Combine(disk.Path, "scan");
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["MapWriter:DiskFullGiveUpAfter"] = "00:00:03" }).Build();
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(3));

        var error = await Assert.ThrowsAsync<CliException>(() => new ScanPipeline(configuration, NullLoggerFactory.Instance, TextWriter.Null)
            .RunEmbeddedAsync(new ScanRequest(scan.Recording, outDirectory, ReplayPace.AsFastAsAccepted), deadline.Token));

        Assert.False(deadline.IsCancellationRequested, "the scan hung instead of stopping");
        Assert.Equal(Cli.Cli.Failure, error.ExitCode);
        Assert.Matches($@"^disk full writing {outDirectory}/store\.gpkg \(0 MiB free after waiting \d+ s\); free space, then scan again with --force \(it replaces this unfinished run\)$", error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [TmpfsFact]
    public async Task A_scan_waits_while_its_disk_is_full_and_once_space_is_freed_maps_every_tree_as_on_a_roomy_disk()
    {
        using var disk = new Tmpfs(64 * MiB);
        disk.Fill();
        var outDirectory = Path.Combine(disk.Path, "scan");
        var progress = new ProgressLines(output);
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(8));

        var scanning = new ScanPipeline(new ConfigurationBuilder().Build(), NullLoggerFactory.Instance, progress)
            .RunEmbeddedAsync(new ScanRequest(scan.Recording, outDirectory, ReplayPace.AsFastAsAccepted), deadline.Token);
        // Held until fusion's observations queue up behind the run's start.
        var waiting = await progress.WaitForAsync(
            l => l.Contains($"; map writer: disk full writing {outDirectory}/store.gpkg: 0 MiB free; waiting for space", StringComparison.Ordinal)
                && !l.Contains(" 0 observation batches fused", StringComparison.Ordinal),
            scanning,
            TimeSpan.FromMinutes(3));
        output.WriteLine($"seen: {waiting}");
        Assert.False(scanning.IsCompleted);
        disk.Free();
        var result = await scanning;

        Assert.Equal(scan.Embedded.Map.Observations, result.Map.Observations);
        Assert.Equal(scan.Embedded.Map.Trees, result.Map.Trees);
        Assert.Equal(PerTree(Path.Combine(scan.EmbeddedOut, RunFolder.StoreFileName)), PerTree(Path.Combine(outDirectory, RunFolder.StoreFileName)));
        Assert.True(File.Exists(Path.Combine(outDirectory, RunFolder.ExportsFolderName, "TASKDATA", "TASKDATA.XML")));
    }

    private static List<string> PerTree(string store)
    {
        using var s = RunStore.OpenReadOnly(store);
        return s.ReadTrees().Select(t => $"{t.TreeId}: {t.ClustersTotal} ({string.Join(",", t.ClustersPerStage)}), {t.ClustersLowConfidence} low, {t.FramesSeen} frames").ToList();
    }

    /// <summary>The scan's progress lines, echoed to the test output and searchable while the scan runs.</summary>
    private sealed class ProgressLines(ITestOutputHelper output) : StringWriter
    {
        private readonly List<string> _lines = [];

        public override void WriteLine(string? value)
        {
            lock (_lines)
            {
                _lines.Add(value ?? "");
            }
            output.WriteLine(value ?? "");
        }

        public override Task WriteLineAsync(string? value)
        {
            WriteLine(value);
            return Task.CompletedTask;
        }

        public async Task<string> WaitForAsync(Func<string, bool> match, Task scanning, TimeSpan timeout)
        {
            var deadline = DateTime.UtcNow + timeout;
            while (DateTime.UtcNow < deadline && !scanning.IsCompleted)
            {
                lock (_lines)
                {
                    if (_lines.FirstOrDefault(match) is { } line)
                    {
                        return line;
                    }
                }
                await Task.Delay(100);
            }
            await scanning; // a scan that failed says why
            throw new TimeoutException($"no such progress line within {timeout.TotalSeconds} s");
        }
    }
}
