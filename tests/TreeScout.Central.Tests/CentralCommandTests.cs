using System.Text.Json;
using TreeScout.MapWriter.Tests;
using TreeScout.Tests;
using Xunit.Abstractions;

namespace TreeScout.Central.Tests;

/// <summary>`treescout central ...` as a real process against the real PostGIS: what a farm office runs.</summary>
[Trait("Category", "Integration")]
public sealed class CentralCommandTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(3);

    private async Task<ToolResult> TreescoutAsync(params string[] args)
    {
        var result = await Tool.RunAsync("dotnet", [WorkerProcess.ProjectDll("src", "TreeScout.Cli", "treescout"), .. args], Patience,
            environment: new Dictionary<string, string?> { ["TREESCOUT__Central__Database"] = null });
        output.WriteLine($"$ treescout {string.Join(' ', args)}\n{result.Stdout}{result.Stderr}exit {result.ExitCode}");
        return result;
    }

    [Fact]
    public async Task Register_season_and_export_of_a_stored_run()
    {
        await using var db = await TestSeasonStore.CreateAsync();
        var run = new SyntheticRun("20260421-090000-noord-3-cli1", rows: 2, treesPerRow: 4, clustersPerTree: (4, 12));
        await db.Store.StartRunAsync("t-01", run.Started, CancellationToken.None);
        foreach (var batch in run.Batches)
        {
            await db.Store.AddObservationsAsync("t-01", batch, CancellationToken.None);
        }
        await db.Store.FuseRunAsync("t-01", run.Fused, DateTimeOffset.UtcNow, CancellationToken.None);

        var register = await TreescoutAsync("central", "register-tractor", "--db", db.ConnectionString, "--tractor", "t-01", "--farm", "hof-a");
        Assert.Equal(0, register.ExitCode);
        Assert.Equal("tractor t-01 → farm hof-a; 1 earlier run(s) assigned", register.Stdout.Trim());

        var season = await TreescoutAsync("central", "season", "--db", db.ConnectionString, "--farm", "hof-a", "--season", "2026", "--json");
        Assert.Equal(0, season.ExitCode);
        var block = Assert.Single(JsonDocument.Parse(season.Stdout).RootElement.EnumerateArray());
        Assert.Equal(run.Started.Block, block.GetProperty("block").GetString());
        Assert.Equal(run.RunId, block.GetProperty("runId").GetString());
        Assert.Equal("complete", block.GetProperty("status").GetString());
        Assert.Equal(8, block.GetProperty("trees").GetInt32());
        Assert.Equal(run.ExpectedClusters.Values.Sum(), block.GetProperty("clusters").GetInt64());
        Assert.Equal(run.Observations.Count, block.GetProperty("observations").GetInt64());

        var folder = Path.Combine(Path.GetTempPath(), $"ts-central-cli-{Guid.NewGuid():N}");
        try
        {
            var export = await TreescoutAsync("central", "export", "--db", db.ConnectionString, "--run", run.RunId, "--out", folder);
            Assert.Equal(0, export.ExitCode);
            Assert.Contains(Path.Combine(folder, "exports", "trees.geojson"), export.Stdout.Split('\n', StringSplitOptions.TrimEntries));
            Assert.True(File.Exists(Path.Combine(folder, "store.gpkg")));
        }
        finally
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }

        var unknown = await TreescoutAsync("central", "export", "--db", db.ConnectionString, "--run", "20260101-000000-none-0000", "--out", folder);
        Assert.Equal((1, "treescout: run 20260101-000000-none-0000: not in the season store"), (unknown.ExitCode, unknown.Stderr.Trim()));
    }

    [Fact]
    public async Task Without_a_season_store_the_command_is_a_usage_error()
    {
        var result = await TreescoutAsync("central", "season", "--farm", "hof-a", "--season", "2026");
        Assert.Equal(2, result.ExitCode);
        Assert.Equal("treescout: no season store: give --db \"Host=...;Database=...;Username=...;Password=...\" or set TREESCOUT__Central__Database", result.Stderr.Trim());
    }
}
