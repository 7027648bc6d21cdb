using TreeScout.Tests;

namespace TreeScout.Central.Tests;

/// <summary>The ingest worker's process refuses a bad configuration before connecting to anything.</summary>
[Trait("Category", "Unit")]
public sealed class CentralWorkerStartupTests
{
    [Theory]
    [InlineData("http://broker.example/", "0.0.0.0", "Central:Broker must be an amqp:// or amqps:// URI of the central vhost")]
    [InlineData("amqp://127.0.0.1:1/treescout-central", "localhost", "Health:BindAddress must be an IP address (0.0.0.0 in a pod, 127.0.0.1 on a workstation)")]
    public async Task An_invalid_setting_stops_the_worker_with_one_line_and_exit_code_2(string broker, string healthBindAddress, string failure)
    {
        var result = await Tool.RunAsync("dotnet", [WorkerProcess.ProjectDll("src", "TreeScout.Central")], TimeSpan.FromMinutes(2),
            environment: new Dictionary<string, string?>
            {
                ["TREESCOUT__Central__Database"] = "Host=127.0.0.1;Port=1",
                ["TREESCOUT__Central__Broker"] = broker,
                ["TREESCOUT__Health__BindAddress"] = healthBindAddress,
            });
        Assert.Equal(2, result.ExitCode);
        Assert.Equal($"central-ingest: invalid configuration: {failure}", result.Stderr.Trim());
        Assert.Equal("", result.Stdout.Trim());
    }
}
