using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using k8s.Models;
using TreeScout.Deploy.Tests.Support;
using TreeScout.Tests;

namespace TreeScout.Deploy.Tests;

/// <summary>
/// The Argo CD objects. Their CRD schemas are not in KubernetesClient, so the fields are checked here against the
/// argoproj.io/v1alpha1 schema of the fields we use: unknown fields fail, values are checked for what they mean.
/// </summary>
[Trait("Category", "Integration")]
public partial class ArgoCdTests
{
    private static readonly Dictionary<string, string[]> ApplicationFields = new()
    {
        [""] = ["apiVersion", "kind", "metadata", "spec"],
        ["metadata"] = ["name", "namespace", "labels", "annotations", "finalizers"],
        ["spec"] = ["project", "source", "destination", "syncPolicy", "revisionHistoryLimit", "ignoreDifferences", "info"],
        ["spec.source"] = ["repoURL", "targetRevision", "path", "kustomize"],
        ["spec.destination"] = ["server", "namespace", "name"],
        ["spec.syncPolicy"] = ["automated", "syncOptions", "retry", "managedNamespaceMetadata"],
        ["spec.syncPolicy.automated"] = ["prune", "selfHeal", "allowEmpty"],
        ["spec.syncPolicy.retry"] = ["limit", "backoff"],
        ["spec.syncPolicy.retry.backoff"] = ["duration", "factor", "maxDuration"],
    };

    private static readonly Dictionary<string, string[]> ProjectFields = new()
    {
        [""] = ["apiVersion", "kind", "metadata", "spec"],
        ["metadata"] = ["name", "namespace", "labels", "annotations"],
        ["spec"] = ["description", "sourceRepos", "destinations", "clusterResourceWhitelist", "namespaceResourceWhitelist", "clusterResourceBlacklist", "namespaceResourceBlacklist", "orphanedResources", "roles", "syncWindows"],
        ["spec.destinations[]"] = ["server", "namespace", "name"],
        ["spec.clusterResourceWhitelist[]"] = ["group", "kind"],
        ["spec.namespaceResourceWhitelist[]"] = ["group", "kind"],
        ["spec.orphanedResources"] = ["warn", "ignore"],
        ["spec.orphanedResources.ignore[]"] = ["group", "kind", "name"],
    };

    private static readonly string[] KnownSyncOptions =
        ["Validate=false", "CreateNamespace=true", "PruneLast=true", "PrunePropagationPolicy=foreground", "PrunePropagationPolicy=background", "PrunePropagationPolicy=orphan", "ApplyOutOfSyncOnly=true", "ServerSideApply=true", "RespectIgnoreDifferences=true", "FailOnSharedResource=true", "Replace=true"];

    [Fact]
    public async Task Application_syncs_the_tractor_overlay_automatically_with_prune_and_self_heal()
    {
        var (app, project) = await LoadAsync();
        AssertOnlyKnownFields(app, ApplicationFields, "", "Application");

        Assert.Equal("argoproj.io/v1alpha1", (string?)app["apiVersion"]);
        Assert.Equal("argocd", (string?)app["metadata"]!["namespace"]);
        var spec = app["spec"]!;
        Assert.Equal((string?)project["metadata"]!["name"], (string?)spec["project"]);

        var source = spec["source"]!;
        Assert.Equal(Overlay.Tractor, (string?)source["path"]);
        Assert.True(Directory.Exists(Path.Combine(RepoPaths.Root, (string)source["path"]!)));
        var revision = (string?)source["targetRevision"];
        Assert.False(string.IsNullOrEmpty(revision) || revision == "HEAD", "targetRevision must name the fleet branch, not follow whatever HEAD is");
        Assert.Contains((string?)source["repoURL"], project["spec"]!["sourceRepos"]!.AsArray().Select(r => (string?)r));

        var automated = spec["syncPolicy"]!["automated"]!;
        Assert.True((bool?)automated["prune"]);
        Assert.True((bool?)automated["selfHeal"]);
        Assert.False((bool?)automated["allowEmpty"] ?? false);
        Assert.All(spec["syncPolicy"]!["syncOptions"]!.AsArray(), o => Assert.Contains((string?)o, KnownSyncOptions));
        var backoff = spec["syncPolicy"]!["retry"]!["backoff"]!;
        Assert.Matches(GoDuration(), (string?)backoff["duration"]);
        Assert.Matches(GoDuration(), (string?)backoff["maxDuration"]);
        Assert.True((long)spec["syncPolicy"]!["retry"]!["limit"]! > 0);

        var destination = spec["destination"]!;
        Assert.Equal("https://kubernetes.default.svc", (string?)destination["server"]);
        Assert.Contains(project["spec"]!["destinations"]!.AsArray(), d => (string?)d!["server"] == (string?)destination["server"] && (string?)d["namespace"] == (string?)destination["namespace"]);
    }

    [Fact]
    public async Task Project_allows_exactly_the_kinds_the_tractor_overlay_contains_and_never_secrets()
    {
        var (_, project) = await LoadAsync();
        AssertOnlyKnownFields(project, ProjectFields, "", "AppProject");
        var tractor = await Overlay.RenderAsync(Overlay.Tractor);

        static string Key(JsonNode n) => $"{(string?)n["group"]}/{(string?)n["kind"]}";
        var allowed = project["spec"]!["namespaceResourceWhitelist"]!.AsArray().Select(n => Key(n!))
            .Concat(project["spec"]!["clusterResourceWhitelist"]!.AsArray().Select(n => Key(n!))).Order().ToList();
        var rendered = tractor.Objects.Select(o => $"{(o.ApiVersion.Contains('/', StringComparison.Ordinal) ? o.ApiVersion.Split('/')[0] : "")}/{o.Kind}").Distinct().Order().ToList();
        Assert.Equal(rendered, allowed);
        Assert.DoesNotContain("/Secret", allowed);
        Assert.All(tractor.Objects.OfType<IMetadata<V1ObjectMeta>>().Where(o => o is not V1Namespace), o => Assert.Equal("treescout", o.Metadata.NamespaceProperty));
        Assert.Contains(project["spec"]!["orphanedResources"]!["ignore"]!.AsArray(), i => (string?)i!["kind"] == "Secret" && (string?)i["name"] == "treescout-broker-credentials");
    }

    private static async Task<(JsonObject App, JsonObject Project)> LoadAsync()
    {
        var yaml = await Tool.OutputAsync(Overlay.Kubectl, ["kustomize", Path.Combine(RepoPaths.Root, "deploy/argocd")]);
        var docs = YamlToJson.Documents(yaml);
        return (docs.Single(d => (string?)d["kind"] == "Application"), docs.Single(d => (string?)d["kind"] == "AppProject"));
    }

    private static void AssertOnlyKnownFields(JsonNode node, Dictionary<string, string[]> schema, string path, string what)
    {
        if (node is JsonObject obj && schema.TryGetValue(path, out var fields))
        {
            foreach (var (key, value) in obj)
            {
                Assert.True(fields.Contains(key), $"{what}: unknown field {(path.Length == 0 ? key : path + "." + key)}");
                if (value is not null && path != "metadata" && key is not ("labels" or "annotations"))
                {
                    AssertOnlyKnownFields(value, schema, path.Length == 0 ? key : $"{path}.{key}", what);
                }
            }
        }
        else if (node is JsonArray array)
        {
            foreach (var item in array)
            {
                AssertOnlyKnownFields(item!, schema, path + "[]", what);
            }
        }
    }

    [GeneratedRegex(@"^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$")]
    private static partial Regex GoDuration();
}
