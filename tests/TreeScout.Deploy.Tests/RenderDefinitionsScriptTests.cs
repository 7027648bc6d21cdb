using TreeScout.Cli.Deploy;
using TreeScout.Deploy.Tests.Support;
using TreeScout.Messaging;
using TreeScout.Tests;

namespace TreeScout.Deploy.Tests;

/// <summary>The broker's init script refuses to start the broker with a missing or weak password, saying which.</summary>
[Trait("Category", "Unit")]
public sealed class RenderDefinitionsScriptTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("ts-render-");

    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    public async Task Missing_secret_key_fails_naming_the_key_and_writes_nothing()
    {
        var (definitions, secrets, output) = await PrepareAsync(skip: "fusion");
        var result = await Tool.RunAsync("sh", ["deploy/k3s/base/rabbitmq/render-definitions.sh", definitions, secrets, output]);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("no key 'fusion' for user treescout-fusion", result.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(output));
    }

    [Theory]
    [InlineData("short1234", "shorter than 20 characters")]
    [InlineData("has spaces and quotes\" in it 12345", "letters and digits only")]
    public async Task Unsafe_password_fails(string password, string message)
    {
        var (definitions, secrets, output) = await PrepareAsync(skip: null);
        await File.WriteAllTextAsync(Path.Combine(secrets, "capture"), password);
        var result = await Tool.RunAsync("sh", ["deploy/k3s/base/rabbitmq/render-definitions.sh", definitions, secrets, output]);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains(message, result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rendered_definitions_hold_one_user_per_role_and_the_committed_content_unchanged()
    {
        var (definitions, secrets, output) = await PrepareAsync(skip: null);
        var result = await Tool.RunAsync("sh", ["deploy/k3s/base/rabbitmq/render-definitions.sh", definitions, secrets, output]);
        Assert.True(result.ExitCode == 0, result.Stderr);
        var rendered = System.Text.Json.Nodes.JsonNode.Parse(await File.ReadAllTextAsync(output))!;
        var users = rendered["users"]!.AsArray().Select(u => ((string)u!["name"]!, (string)u["password"]!)).OrderBy(u => u.Item1).ToList();
        var expected = BrokerPermissions.Roles.Select(r => (RabbitMqDefinitions.UserName(r), File.ReadAllText(Path.Combine(secrets, r.ToString().ToLowerInvariant())))).OrderBy(u => u.Item1).ToList();
        Assert.Equal(expected, users);
        rendered.AsObject().Remove("users");
        Assert.Equal(System.Text.Json.Nodes.JsonNode.Parse(await File.ReadAllTextAsync(definitions))!.ToJsonString(), rendered.ToJsonString());
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(output));
    }

    private async Task<(string Definitions, string Secrets, string Output)> PrepareAsync(string? skip)
    {
        var definitions = Path.Combine(_dir.FullName, "definitions.json");
        await File.WriteAllTextAsync(definitions, RabbitMqDefinitions.Generate(new Topology(new TopologyOptions())));
        var secrets = Directory.CreateDirectory(Path.Combine(_dir.FullName, "secrets")).FullName;
        foreach (var role in BrokerPermissions.Roles.Select(r => r.ToString().ToLowerInvariant()).Where(r => r != skip))
        {
            await File.WriteAllTextAsync(Path.Combine(secrets, role), $"Pw{role}0123456789abcdefXYZ");
        }
        return (definitions, secrets, Path.Combine(_dir.FullName, "out.json"));
    }
}
