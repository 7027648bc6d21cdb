using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using k8s.Models;
using TreeScout.Cli.Deploy;
using TreeScout.Deploy.Tests.Support;
using TreeScout.Tests;

namespace TreeScout.Deploy.Tests;

/// <summary>
/// deploy/central/create-central-secrets.sh run offline (--dry-run: kubectl renders the Secrets client-side, no cluster
/// configured): every Secret and key the central site's manifests reference is there, the broker boots with the users
/// and passwords the ingest worker and the tractors are given, and every password is a fresh 32-character one.
/// </summary>
[Trait("Category", "Integration")]
public sealed partial class CentralSecretsScriptTests : IDisposable
{
    private const string Script = "deploy/central/create-central-secrets.sh";

    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("ts-central-secrets-");

    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    public async Task Every_secret_key_the_central_manifests_reference_is_written_and_the_broker_definitions_hold_the_same_passwords()
    {
        var secrets = await DryRunAsync(withAccountsAndTls: true);
        var site = await Overlay.RenderAsync(Overlay.Central);

        var pods = site.PodSpecs().Select(p => p.Spec).ToList();
        var keys = pods.SelectMany(p => (p.InitContainers ?? []).Concat(p.Containers)).SelectMany(c => c.Env ?? [])
            .Where(e => e.ValueFrom?.SecretKeyRef is not null).Select(e => (Name: e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key))
            .Concat(pods.SelectMany(p => p.Volumes ?? []).Where(v => v.Secret?.Items is not null).SelectMany(v => v.Secret.Items.Select(i => (Name: v.Secret.SecretName, i.Key))))
            .Distinct().ToList();
        var mounted = pods.SelectMany(p => p.Volumes ?? []).Where(v => v.Secret is not null).Select(v => v.Secret.SecretName).ToList();
        foreach (var (name, key) in keys)
        {
            Assert.True(secrets.TryGetValue(name, out var secret), $"the script writes no Secret {name}");
            Assert.True(secret.Data?.ContainsKey(key) == true && secret.Data[key].Length > 0, $"Secret {name} lacks key {key}");
        }
        Assert.Equal(keys.Select(k => k.Name).Concat(mounted).Distinct().Order(), secrets.Keys.Order());
        // Whole-Secret mounts: AMQPS reads tls.crt and tls.key (rabbitmq.conf), the console its accounts file.
        Assert.Equal(["tls.crt", "tls.key"], secrets["treescout-central-amqps-tls"].Data.Keys.Order());
        Assert.StartsWith("anna:agronomist:", Text(secrets["treescout-central-console-accounts"])["accounts"], StringComparison.Ordinal);
        Assert.All(secrets.Values, s => Assert.Equal("treescout-central", s.Metadata.NamespaceProperty));

        // One password per broker user of the definitions, under the key render-definitions.sh reads.
        var credentials = Text(secrets["treescout-central-credentials"]);
        Assert.Equal(["ingest", "tractor-north-2", "tractor-t1"], credentials.Keys.Order());
        var postgis = Text(secrets["treescout-central-postgis"]);
        string[] passwords = [.. credentials.Values, .. postgis.Values];
        Assert.All(passwords, p => Assert.Matches(Password(), p));
        Assert.Equal(passwords.Length, passwords.Distinct().Count());

        // The broker boots with those users and passwords, and the ingest worker logs in as its user with its key.
        var definitions = JsonNode.Parse(Text(secrets["treescout-central-definitions"])["definitions.json"])!;
        var users = definitions["users"]!.AsArray().ToDictionary(u => (string)u!["name"]!, u => (string)u!["password"]!);
        Assert.Equal(credentials["tractor-t1"], users["tractor-t1"]);
        Assert.Equal(credentials["tractor-north-2"], users["tractor-north-2"]);
        var ingest = site.Single<V1Deployment>("treescout-central-ingest").Spec.Template.Spec.Containers.Single().Env.ToDictionary(e => e.Name);
        var user = BrokerUser().Match(ingest["TREESCOUT__Central__Broker"].Value).Groups[1].Value;
        Assert.Equal(users[user], credentials[ingest["BROKER_PASSWORD"].ValueFrom.SecretKeyRef.Key]);
        Assert.Equal(users.Keys.Order(), definitions["permissions"]!.AsArray().Select(p => (string)p!["user"]!).Order());
    }

    [Fact]
    public async Task Without_accounts_or_a_certificate_it_writes_the_rest_and_a_missing_definitions_file_is_one_line()
    {
        var secrets = await DryRunAsync(withAccountsAndTls: false);
        Assert.Equal(["treescout-central-credentials", "treescout-central-definitions", "treescout-central-postgis"], secrets.Keys.Order());

        var missing = await Tool.RunAsync("sh", [Script, "--definitions", Path.Combine(_dir.FullName, "none.json"), "--dry-run"]);
        Assert.Equal(1, missing.ExitCode);
        Assert.StartsWith("create-central-secrets: cannot read ", missing.Stderr, StringComparison.Ordinal);
        Assert.Equal(2, (await Tool.RunAsync("sh", [Script, "--dry-run"])).ExitCode);
    }

    private async Task<Dictionary<string, V1Secret>> DryRunAsync(bool withAccountsAndTls)
    {
        var definitions = Path.Combine(_dir.FullName, "definitions.json");
        await File.WriteAllTextAsync(definitions, CentralDefinitions.Generate(["t1", "north-2"]));
        List<string> args = [Script, "--definitions", definitions, "--dry-run"];
        if (withAccountsAndTls)
        {
            var accounts = Path.Combine(_dir.FullName, "accounts");
            await File.WriteAllTextAsync(accounts, "anna:agronomist:pbkdf2-sha256$600000$c2FsdA==$aGFzaA==\n");
            var (cert, key) = (Path.Combine(_dir.FullName, "site.crt"), Path.Combine(_dir.FullName, "site.key"));
            var openssl = await Tool.RunAsync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=central.example"]);
            Assert.True(openssl.ExitCode == 0, openssl.Stderr);
            args.AddRange(["--console-accounts", accounts, "--tls-cert", cert, "--tls-key", key]);
        }
        // No cluster: a dry run must not need one.
        var result = await Tool.RunAsync("sh", args, environment: new Dictionary<string, string?> { ["KUBECONFIG"] = Path.Combine(_dir.FullName, "no-kubeconfig") });
        Assert.True(result.ExitCode == 0, result.Stderr);
        return YamlToJson.Documents(result.Stdout).Select(KubernetesTypes.Deserialize).Cast<V1Secret>().ToDictionary(s => s.Metadata.Name);
    }

    private static Dictionary<string, string> Text(V1Secret secret) => secret.Data.ToDictionary(d => d.Key, d => Encoding.UTF8.GetString(d.Value));

    [GeneratedRegex("^[A-Za-z0-9]{32}$")]
    private static partial Regex Password();

    [GeneratedRegex("^amqps?://([^:]+):")]
    private static partial Regex BrokerUser();
}
