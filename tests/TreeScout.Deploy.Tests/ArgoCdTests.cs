using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using k8s.Models;
using TreeScout.Deploy.Tests.Support;
using TreeScout.Messaging;
using TreeScout.Tests;

namespace TreeScout.Deploy.Tests;

/// <summary>
/// The central site's Argo CD objects: the fleet ApplicationSet, the central Application and their projects. Their CRD
/// schemas are not in KubernetesClient, so the fields are checked here against the argoproj.io/v1alpha1 schema of the
/// fields we use: unknown fields fail, values are checked for what they mean. The ApplicationSet is evaluated for
/// sample cluster labels as Argo CD would (<see cref="FleetApplicationSet"/>) and what it generates is rendered.
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
        ["spec.source.kustomize"] = ["components", "patches"],
        ["spec.source.kustomize.patches[]"] = ["target", "patch", "path"],
        ["spec.source.kustomize.patches[].target"] = ["group", "version", "kind", "name", "namespace", "labelSelector", "annotationSelector"],
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

    private static readonly Dictionary<string, string[]> ApplicationSetFields = new()
    {
        [""] = ["apiVersion", "kind", "metadata", "spec"],
        ["metadata"] = ["name", "namespace", "labels", "annotations"],
        ["spec"] = ["goTemplate", "goTemplateOptions", "generators", "syncPolicy", "strategy", "template", "templatePatch", "preservedFields", "ignoreApplicationDifferences"],
        ["spec.generators[]"] = ["clusters"],
        ["spec.generators[].clusters"] = ["selector", "values", "template"],
        ["spec.generators[].clusters.selector"] = ["matchLabels", "matchExpressions"],
        ["spec.generators[].clusters.selector.matchExpressions[]"] = ["key", "operator", "values"],
        ["spec.syncPolicy"] = ["preserveResourcesOnDeletion", "applicationsSync"],
        ["spec.ignoreApplicationDifferences[]"] = ["jsonPointers", "jqPathExpressions", "name"],
        ["spec.template"] = ["metadata", "spec"],
        ["spec.template.metadata"] = ["name", "namespace", "labels", "annotations", "finalizers"],
    };

    private static readonly string[] KnownSyncOptions =
        ["Validate=false", "CreateNamespace=true", "PruneLast=true", "PrunePropagationPolicy=foreground", "PrunePropagationPolicy=background", "PrunePropagationPolicy=orphan", "ApplyOutOfSyncOnly=true", "ServerSideApply=true", "RespectIgnoreDifferences=true", "FailOnSharedResource=true", "Replace=true"];

    [Fact]
    public async Task Central_application_syncs_the_central_site_automatically_from_the_canary_branch()
    {
        var objects = await FleetApplicationSet.ArgoCdObjectsAsync();
        var app = objects.Single(d => (string?)d["kind"] == "Application");
        AssertOnlyKnownFields(app, ApplicationFields, "", "Application");
        Assert.Equal("treescout-central", (string?)app["metadata"]!["name"]);
        Assert.Equal(Overlay.Central, (string?)app["spec"]!["source"]!["path"]);
        // The site reads what the newest tractors send: it takes a release with the canary ring.
        Assert.Equal("canary", (string?)app["spec"]!["source"]!["targetRevision"]);
        AssertSyncsAutomatically(app, Project(objects, app));
        Assert.Equal("https://kubernetes.default.svc", (string?)app["spec"]!["destination"]!["server"]);
    }

    [Fact]
    public async Task Every_sample_tractor_gets_its_application_on_its_ring_branch_with_the_components_its_labels_name()
    {
        var objects = await FleetApplicationSet.ArgoCdObjectsAsync();
        var set = objects.Single(d => (string?)d["kind"] == "ApplicationSet");
        AssertOnlyKnownFields(set, ApplicationSetFields, "", "ApplicationSet");
        Assert.Equal("argocd", (string?)set["metadata"]!["namespace"]);
        Assert.True((bool?)set["spec"]!["syncPolicy"]!["preserveResourcesOnDeletion"], "dropping a tractor from the set must not delete what runs on it");
        // The per-tractor rollback in docs/operations.md turns one Application's auto-sync off: the controller must let it.
        Assert.Contains("/spec/syncPolicy", set["spec"]!["ignoreApplicationDifferences"]!.AsArray().SelectMany(d => d!["jsonPointers"]!.AsArray().Select(p => (string?)p)));

        var names = new HashSet<string>();
        foreach (var cluster in FleetApplicationSet.Samples)
        {
            Assert.True(FleetApplicationSet.Selects(set, cluster), $"{cluster.Name} is not selected");
            var app = FleetApplicationSet.ApplicationFor(set, cluster);
            AssertOnlyKnownFields(app, ApplicationFields, "", "generated Application");
            var id = cluster.Labels["treescout.io/tractor-id"];
            Assert.Equal($"treescout-{id}", (string?)app["metadata"]!["name"]);
            Assert.True(names.Add((string)app["metadata"]!["name"]!));
            Assert.Equal("argocd", (string?)app["metadata"]!["namespace"]);
            Assert.Equal(cluster.Labels["treescout.io/rollout"], (string?)app["metadata"]!["labels"]!["treescout.io/rollout"]);
            AssertSyncsAutomatically(app, Project(objects, app));

            var source = app["spec"]!["source"]!;
            Assert.Equal(cluster.Labels["treescout.io/rollout"], (string?)source["targetRevision"]);
            Assert.Equal("deploy/k3s/overlays/fleet", (string?)source["path"]);
            var components = source["kustomize"]!["components"]!.AsArray().Select(c => (string)c!).ToList();
            var expected = new List<string> { $"../../components/gnss-{cluster.Labels["treescout.io/gnss"]}" };
            if (cluster.Labels["treescout.io/gpu"] == "nvidia")
            {
                expected.Add("../../components/nvidia-gpu");
            }
            Assert.Equal(expected, components);
            Assert.All(components, c => Assert.True(Directory.Exists(Path.Combine(RepoPaths.Root, (string)source["path"]!, c)), $"{cluster.Name}: no component {c}"));

            var destination = app["spec"]!["destination"]!;
            Assert.Equal(cluster.Name, (string?)destination["name"]);
            Assert.Equal("treescout", (string?)destination["namespace"]);
        }
    }

    [Fact]
    public async Task A_generated_application_renders_the_tractor_with_its_id_its_receiver_and_its_detector()
    {
        var plain = await Overlay.RenderAsync(Overlay.Tractor);
        var serial = await Overlay.RenderAsync(Overlay.FleetPrefix + "tractor-t017");
        var gpsdGpu = await Overlay.RenderAsync(Overlay.FleetPrefix + "tractor-t042");

        Assert.Equal("", plain.Single<V1ConfigMap>("treescout-tractor").Data["TREESCOUT__Uplink__TractorId"]);
        Assert.Equal("t017", serial.Single<V1ConfigMap>("treescout-tractor").Data["TREESCOUT__Uplink__TractorId"]);
        Assert.Equal("t042", gpsdGpu.Single<V1ConfigMap>("treescout-tractor").Data["TREESCOUT__Uplink__TractorId"]);
        Assert.All(FleetApplicationSet.Samples, c => CentralTopology.CheckTractorId(c.Labels["treescout.io/tractor-id"]));

        // A serial-receiver CPU tractor is the hand-provisioned tractor overlay plus its id and the uplink's broker
        // definitions (the shovel to the central site), nothing else.
        static string BrokerConfig(Overlay o) =>
            (string)o.Manifests.Single(m => ((string?)m["metadata"]!["name"])!.StartsWith("treescout-broker-", StringComparison.Ordinal) && (string?)m["kind"] == "ConfigMap")["metadata"]!["name"]!;
        static IEnumerable<string> WithoutIdentity(Overlay o)
        {
            var broker = BrokerConfig(o);
            return o.Manifests.Where(m => (string?)m["metadata"]!["name"] is var name && name != "treescout-tractor" && name != broker)
                .Select(m => m.ToJsonString().Replace(broker, "treescout-broker", StringComparison.Ordinal));
        }
        Assert.Equal(WithoutIdentity(plain), WithoutIdentity(serial));
        static string Definitions(Overlay o)
        {
            var broker = BrokerConfig(o);
            return (string)o.Manifests.Single(m => (string?)m["metadata"]!["name"] == broker)["data"]!["definitions.json"]!;
        }
        Assert.DoesNotContain("\"component\": \"shovel\"", Definitions(plain), StringComparison.Ordinal);
        Assert.Equal(
            await File.ReadAllTextAsync(Path.Combine(RepoPaths.Root, "deploy/k3s/components/uplink/definitions.json")),
            Definitions(serial));

        // gpsd on the node instead of a serial device, reached at the node's address, defined before it is used.
        var fusion = gpsdGpu.Single<V1Deployment>("treescout-fusion").Spec.Template.Spec;
        var env = fusion.Containers.Single().Env.ToList();
        Assert.Equal("Gpsd", env.Single(e => e.Name == "TREESCOUT__Gnss__Source").Value);
        Assert.Equal("$(NODE_IP)", env.Single(e => e.Name == "TREESCOUT__Gnss__Host").Value);
        Assert.True(env.FindIndex(e => e.Name == "NODE_IP") < env.FindIndex(e => e.Name == "TREESCOUT__Gnss__Host"));
        Assert.Equal("status.hostIP", env.Single(e => e.Name == "NODE_IP").ValueFrom.FieldRef.FieldPath);
        Assert.DoesNotContain(env, e => e.Name == "TREESCOUT__Gnss__SerialPort");
        Assert.Equal(["cpu", "memory"], fusion.Containers.Single().Resources.Limits.Keys.Order(StringComparer.Ordinal));
        Assert.Empty(fusion.SecurityContext.SupplementalGroups ?? []);
        var detection = gpsdGpu.Single<V1Deployment>("treescout-detection").Spec.Template.Spec;
        Assert.Equal("nvidia", detection.RuntimeClassName);
        Assert.StartsWith("ghcr.io/treescout/treescout-gpu:", detection.Containers.Single().Image, StringComparison.Ordinal);
        Assert.Null(serial.Single<V1Deployment>("treescout-detection").Spec.Template.Spec.RuntimeClassName);
    }

    [Fact]
    public async Task A_cluster_missing_a_label_or_with_a_value_no_component_serves_gets_no_application()
    {
        var set = await FleetApplicationSet.LoadAsync();
        var good = FleetApplicationSet.Tractor("t100", rollout: "fleet", gnss: "serial", gpu: "none");
        Assert.True(FleetApplicationSet.Selects(set, good));
        foreach (var label in good.Labels.Keys)
        {
            var missing = good with { Labels = good.Labels.Where(l => l.Key != label).ToDictionary() };
            Assert.False(FleetApplicationSet.Selects(set, missing), $"selected without {label}");
        }
        foreach (var (label, value) in new[] { ("treescout.io/rollout", "beta"), ("treescout.io/gnss", "tcp"), ("treescout.io/gpu", "amd") })
        {
            var odd = good with { Labels = new Dictionary<string, string>(good.Labels) { [label] = value } };
            Assert.False(FleetApplicationSet.Selects(set, odd), $"selected with {label}={value}");
        }

        // Every value the selector admits has what it selects: a component per receiver; a ring per branch the docs name.
        var expressions = set["spec"]!["generators"]![0]!["clusters"]!["selector"]!["matchExpressions"]!.AsArray();
        string[] Admitted(string key) => [.. expressions.Single(e => (string?)e!["key"] == key)!["values"]!.AsArray().Select(v => (string)v!)];
        Assert.All(Admitted("treescout.io/gnss"), g => Assert.True(File.Exists(Path.Combine(RepoPaths.Root, $"deploy/k3s/components/gnss-{g}/kustomization.yaml")), $"no component for gnss {g}"));
        Assert.Equal(["canary", "fleet"], Admitted("treescout.io/rollout"));
        Assert.Equal(["none", "nvidia"], Admitted("treescout.io/gpu"));
        var operations = await File.ReadAllTextAsync(Path.Combine(RepoPaths.Root, "docs/operations.md"));
        Assert.All(Admitted("treescout.io/rollout"), ring => Assert.Contains($"git push origin <commit>:{ring}", operations, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Projects_allow_exactly_the_kinds_their_deployments_contain_and_never_secrets()
    {
        var objects = await FleetApplicationSet.ArgoCdObjectsAsync();
        var set = objects.Single(d => (string?)d["kind"] == "ApplicationSet");
        var fleetProject = Project(objects, FleetApplicationSet.ApplicationFor(set, FleetApplicationSet.Samples[0]));
        var centralProject = Project(objects, objects.Single(d => (string?)d["kind"] == "Application"));
        Assert.NotEqual((string?)fleetProject["metadata"]!["name"], (string?)centralProject["metadata"]!["name"]);

        var tractors = await Task.WhenAll(FleetApplicationSet.Samples.Select(c => Overlay.RenderAsync(Overlay.FleetPrefix + c.Name)));
        AssertAllowsExactly(fleetProject, tractors);
        Assert.Contains(fleetProject["spec"]!["orphanedResources"]!["ignore"]!.AsArray(), i => (string?)i!["kind"] == "Secret" && (string?)i["name"] == "treescout-broker-credentials");
        AssertAllowsExactly(centralProject, [await Overlay.RenderAsync(Overlay.Central)]);
        Assert.Contains(centralProject["spec"]!["orphanedResources"]!["ignore"]!.AsArray(), i => (string?)i!["kind"] == "Secret");

        // The fleet's project cannot reach the central site's own cluster, nor the central's any tractor.
        Assert.DoesNotContain(fleetProject["spec"]!["destinations"]!.AsArray(), d => (string?)d!["server"] == "https://kubernetes.default.svc");
        Assert.All(centralProject["spec"]!["destinations"]!.AsArray(), d => Assert.Equal("https://kubernetes.default.svc", (string?)d!["server"]));
    }

    private static void AssertAllowsExactly(JsonObject project, IEnumerable<Overlay> deployments)
    {
        AssertOnlyKnownFields(project, ProjectFields, "", "AppProject");
        static string Key(JsonNode n) => $"{(string?)n["group"]}/{(string?)n["kind"]}";
        var allowed = project["spec"]!["namespaceResourceWhitelist"]!.AsArray().Select(n => Key(n!))
            .Concat(project["spec"]!["clusterResourceWhitelist"]!.AsArray().Select(n => Key(n!))).Order().ToList();
        var rendered = deployments.SelectMany(d => d.Objects)
            .Select(o => $"{(o.ApiVersion.Contains('/', StringComparison.Ordinal) ? o.ApiVersion.Split('/')[0] : "")}/{o.Kind}").Distinct().Order().ToList();
        Assert.Equal(rendered, allowed);
        Assert.DoesNotContain("/Secret", allowed);
        foreach (var deployment in deployments)
        {
            Assert.All(deployment.Objects.OfType<IMetadata<V1ObjectMeta>>().Where(o => o is not V1Namespace),
                o => Assert.Contains(project["spec"]!["destinations"]!.AsArray(), d => (string?)d!["namespace"] == o.Metadata.NamespaceProperty));
        }
    }

    /// <summary>Automated sync with prune and self-heal, known options, retries, from a repository and to a destination its project allows.</summary>
    private static void AssertSyncsAutomatically(JsonObject app, JsonObject project)
    {
        Assert.Equal("argocd", (string?)app["metadata"]!["namespace"]);
        var spec = app["spec"]!;
        var source = spec["source"]!;
        Assert.True(Directory.Exists(Path.Combine(RepoPaths.Root, (string)source["path"]!)));
        var revision = (string?)source["targetRevision"];
        Assert.False(string.IsNullOrEmpty(revision) || revision == "HEAD", "targetRevision must name a ring's branch, not follow whatever HEAD is");
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
        Assert.Contains(project["spec"]!["destinations"]!.AsArray(), d =>
            (string?)d!["namespace"] == (string?)destination["namespace"]
            && ((d["server"] is { } server && (string?)server == (string?)destination["server"])
                || (d["name"] is { } name && (string?)destination["name"] is { } target && Glob((string)name!, target))));
    }

    /// <summary>Argo CD's destination name patterns: '*' matches any run of characters.</summary>
    private static bool Glob(string pattern, string name) =>
        Regex.IsMatch(name, "^" + string.Join(".*", pattern.Split('*').Select(Regex.Escape)) + "$");

    private static JsonObject Project(List<JsonObject> objects, JsonObject app) =>
        objects.Single(d => (string?)d["kind"] == "AppProject" && (string?)d["metadata"]!["name"] == (string?)app["spec"]!["project"]);

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
