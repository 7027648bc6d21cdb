using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using TreeScout.Capture;
using TreeScout.Cli;
using TreeScout.Cli.Scanning;
using TreeScout.Tests;
using Xunit;

namespace TreeScout.Pipeline.Tests;

/// <summary>`treescout scan` checks the FramePlan section before anything starts, as the capture worker does (docs/adr/0065).</summary>
[Trait("Category", "Unit")]
public sealed class FramePlanSettingsTests
{
    [Theory]
    [InlineData("CanopyTopM", "0.3", "FramePlan:CanopyTopM (0.3 m) must be above FramePlan:CanopyBottomM (0.4 m)")]
    [InlineData("SightingsPerCluster", "2", "FramePlan: The field SightingsPerCluster must be between 3 and 1000.")]
    [InlineData("SightingsPerCluster", "many", "FramePlan: Failed to convert configuration value 'many' at 'FramePlan:SightingsPerCluster' to type 'System.Int32'.")]
    public async Task A_frame_plan_setting_that_cannot_work_stops_the_scan_with_one_line_and_exit_2(string setting, string value, string expected)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { [$"FramePlan:{setting}"] = value }).Build();
        var outDirectory = Path.Combine(Path.GetTempPath(), $"treescout-frame-plan-{Guid.NewGuid():N}");

        var error = await Assert.ThrowsAsync<CliException>(() => new ScanPipeline(configuration, NullLoggerFactory.Instance, TextWriter.Null)
            .RunEmbeddedAsync(new ScanRequest(Path.Combine(RepoPaths.Samples, "betuwe-rtk-2x12"), outDirectory, ReplayPace.AsFastAsAccepted), CancellationToken.None));

        Assert.Equal(expected, error.Message);
        Assert.Equal(Cli.Cli.UsageError, error.ExitCode);
        Assert.False(Directory.Exists(outDirectory), "nothing is written for a scan that cannot start");
    }
}
