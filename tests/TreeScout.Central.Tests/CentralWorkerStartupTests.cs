using TreeScout.Tests;

namespace TreeScout.Central.Tests;

/// <summary>The ingest worker's process refuses a bad configuration before connecting to anything.</summary>
[Trait("Category", "Unit")]
public sealed class CentralWorkerStartupTests
{
    [Fact]
    public async Task A_broker_setting_that_is_no_amqp_uri_stops_the_worker_with_one_line_and_exit_code_2()
    {
        var result = await Tool.RunAsync("dotnet", [WorkerProcess.ProjectDll("src", "TreeScout.Central")], TimeSpan.FromMinutes(2),
            environment: new Dictionary<string, string?>
            {
                ["TREESCOUT__Central__Database"] = "Host=127.0.0.1;Port=1",
                ["TREESCOUT__Central__Broker"] = "http://broker.example/",
            });
        Assert.Equal(2, result.ExitCode);
        Assert.Equal("central-ingest: invalid configuration: Central:Broker must be an amqp:// or amqps:// URI of the central vhost", result.Stderr.Trim());
        Assert.Equal("", result.Stdout.Trim());
    }
}
