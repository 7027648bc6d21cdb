using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using TreeScout.Hosting;
using TreeScout.MapWriter;

namespace TreeScout.MapWriter.Tests;

[Trait("Category", "Unit")]
public sealed class WorkerStartupTests
{
    [Fact]
    public async Task A_broken_variety_profile_stops_the_worker_at_start_naming_file_and_field()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["pinova.yaml"], "variety: Pinova\ntargetClustersPerTree: 90\nfullDoseLPerHa: 0\n");
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["MapWriter:StoreRoot"] = dir["runs"],
            ["MapWriter:Varieties"] = dir.Path,
        }).Build();
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() =>
            EmbeddedWorkers.StartAsync([new MapWriterWorkerModule()], configuration, NullLoggerFactory.Instance, CancellationToken.None));
        Assert.Contains($"{dir["pinova.yaml"]}: fullDoseLPerHa: must be a positive number", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_shipped_appsettings_and_profiles_pass_validation()
    {
        var configuration = new ConfigurationBuilder().AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json")).Build();
        var options = configuration.GetSection(MapWriterOptions.Section).Get<MapWriterOptions>()!;
        Assert.True(new VarietyProfilesValidation().Validate(null, options).Succeeded);
        Assert.Equal(0.5, options.IsoGridCellM);
    }
}
