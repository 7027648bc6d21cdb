using System.CommandLine;
using TreeScout.Cli.Commands;
using TreeScout.Tests;

namespace TreeScout.Deploy.Tests;

[CollectionDefinition("console", DisableParallelization = true)]
public sealed class ConsoleCollection;

/// <summary>`treescout deploy rabbitmq-definitions --check`, the drift check a developer runs after changing the topology.</summary>
[Collection("console")]
[Trait("Category", "Unit")]
public sealed class DeployCommandTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("ts-deploycmd-");

    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    public async Task Check_passes_on_the_committed_file_and_fails_with_the_fix_on_a_stale_one()
    {
        var committed = Path.Combine(RepoPaths.Root, "deploy/k3s/base/rabbitmq/definitions.json");
        var (ok, okOut, _) = await RunAsync("deploy", "rabbitmq-definitions", "--check", committed);
        Assert.Equal(0, ok);
        Assert.Contains("matches the topology in code", okOut, StringComparison.Ordinal);

        var stale = Path.Combine(_dir.FullName, "definitions.json");
        await File.WriteAllTextAsync(stale, (await File.ReadAllTextAsync(committed)).Replace("\"x-delivery-limit\": 5", "\"x-delivery-limit\": 6", StringComparison.Ordinal));
        var (failed, _, error) = await RunAsync("deploy", "rabbitmq-definitions", "--check", stale);
        Assert.Equal(1, failed);
        Assert.Contains("differs from the topology in code; regenerate it: treescout deploy rabbitmq-definitions --out", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Out_writes_definitions_for_another_vhost_and_user_prefix()
    {
        var file = Path.Combine(_dir.FullName, "other.json");
        var (code, _, _) = await RunAsync("deploy", "rabbitmq-definitions", "--vhost", "orchard-b", "--user-prefix", "b-", "--out", file);
        Assert.Equal(0, code);
        var json = System.Text.Json.Nodes.JsonNode.Parse(await File.ReadAllTextAsync(file))!;
        Assert.Equal("orchard-b", (string?)json["vhosts"]![0]!["name"]);
        Assert.All(json["permissions"]!.AsArray(), p => Assert.StartsWith("b-", (string?)p!["user"], StringComparison.Ordinal));
        Assert.All(json["queues"]!.AsArray(), q => Assert.Equal("orchard-b", (string?)q!["vhost"]));
    }

    [Fact]
    public async Task Central_definitions_name_every_tractor_and_refuse_a_bad_id_as_a_usage_error()
    {
        var (code, output, _) = await RunAsync("deploy", "central-definitions", "--tractors", "t1, north-2");
        Assert.Equal(0, code);
        var users = System.Text.Json.Nodes.JsonNode.Parse(output)!["topic_permissions"]!.AsArray().Select(p => (string?)p!["user"]);
        Assert.Equal(["tractor-north-2", "tractor-t1"], users);

        var (bad, _, error) = await RunAsync("deploy", "central-definitions", "--tractors", "t1,Tractor 2");
        Assert.Equal(2, bad);
        Assert.Contains("--tractors: Tractor id 'Tractor 2' is not valid: use 1-32 lower-case letters, digits or '-', starting with a letter or digit.", error, StringComparison.Ordinal);
        Assert.DoesNotContain("(Parameter", error, StringComparison.Ordinal);
    }

    private static async Task<(int Code, string Out, string Error)> RunAsync(params string[] args)
    {
        var root = new RootCommand { DeployCommand.Create() };
        var (stdout, stderr) = (Console.Out, Console.Error);
        using var capturedOut = new StringWriter();
        using var capturedError = new StringWriter();
        Console.SetOut(capturedOut);
        Console.SetError(capturedError);
        try
        {
            var code = await TreeScout.Cli.Cli.InvokeAsync(root, args);
            return (code, capturedOut.ToString(), capturedError.ToString());
        }
        finally
        {
            Console.SetOut(stdout);
            Console.SetError(stderr);
        }
    }
}
