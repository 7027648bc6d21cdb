using System.Text.Json;
using System.Text.Json.Nodes;
using k8s.Models;
using TreeScout.Deploy.Tests.Support;

namespace TreeScout.Deploy.Tests;

/// <summary>Every overlay renders with the real kustomize, and every object it renders is a valid Kubernetes API object.</summary>
[Trait("Category", "Integration")]
public class ManifestTypeTests
{
    public static TheoryData<string> Overlays => [.. Overlay.All];

    [Theory]
    [MemberData(nameof(Overlays))]
    public async Task Overlay_renders_and_every_object_reads_strictly_as_its_Kubernetes_API_type(string path)
    {
        var overlay = await Overlay.RenderAsync(path);

        var kinds = overlay.Objects.GroupBy(o => $"{o.ApiVersion} {o.Kind}").ToDictionary(g => g.Key, g => g.Count());
        var expected = path == Overlay.Central
            ? new Dictionary<string, int>
            {
                ["v1 Namespace"] = 1,
                // Broker config and the PostGIS init script.
                ["v1 ConfigMap"] = 2,
                // Broker (in the cluster, AMQPS for the tractors, headless), PostGIS (+ headless), console.
                ["v1 Service"] = 6,
                // The broker and PostGIS; their volumes come from claim templates.
                ["apps/v1 StatefulSet"] = 2,
                // The ingest worker and the console.
                ["apps/v1 Deployment"] = 2,
            }
            : new Dictionary<string, int>
            {
                ["v1 Namespace"] = 1,
                // Broker, camera rig, shared worker settings, and the tractor's identity (dev: the replayed recording instead).
                ["v1 ConfigMap"] = 4,
                ["v1 Service"] = 3,
                ["v1 PersistentVolumeClaim"] = 2,
                ["apps/v1 StatefulSet"] = 1,
                // The four workers and the console.
                ["apps/v1 Deployment"] = 5,
            };
        if (path == Overlay.Dev)
        {
            expected["batch/v1 Job"] = 1;
        }
        Assert.Equal(expected.OrderBy(k => k.Key), kinds.OrderBy(k => k.Key));
        Assert.All(overlay.Objects, o => Assert.Equal(overlay.Namespace, o is V1Namespace ns ? ns.Metadata.Name : ((IMetadata<V1ObjectMeta>)o).Metadata.NamespaceProperty));
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public async Task Objects_survive_a_round_trip_through_the_API_types_unchanged(string path)
    {
        var overlay = await Overlay.RenderAsync(path);
        for (var i = 0; i < overlay.Objects.Count; i++)
        {
            var original = overlay.Manifests[i];
            var roundTripped = KubernetesTypes.Serialize(overlay.Objects[i]);
            var differences = Differences(original, roundTripped, $"{original["kind"]}/{original["metadata"]!["name"]}").ToList();
            Assert.True(differences.Count == 0, string.Join("\n", differences));
        }
    }

    [Fact]
    public async Task Strict_reading_rejects_a_field_the_API_type_does_not_have()
    {
        var overlay = await Overlay.RenderAsync(Overlay.Tractor);
        var deployment = overlay.Manifests.First(m => (string?)m["kind"] == "Deployment").DeepClone().AsObject();
        // A typical slip: the probe one level too high, or a misspelt key. kubectl apply would silently drop neither with --validate=strict.
        deployment["spec"]!["template"]!["spec"]!["containers"]![0]!.AsObject()["livenessprobe"] = new JsonObject { ["periodSeconds"] = 5 };

        var error = Assert.ThrowsAny<JsonException>(() => KubernetesTypes.Deserialize(deployment));
        Assert.Contains("livenessprobe", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public async Task Selectors_match_their_pod_templates_and_every_reference_resolves(string path)
    {
        var overlay = await Overlay.RenderAsync(path);
        var configMaps = overlay.OfType<V1ConfigMap>().ToDictionary(c => c.Metadata.Name);
        var claims = overlay.OfType<V1PersistentVolumeClaim>().Select(c => c.Metadata.Name).ToHashSet();

        foreach (var d in overlay.OfType<V1Deployment>())
        {
            AssertSelects(d.Spec.Selector.MatchLabels, d.Spec.Template.Metadata.Labels, $"Deployment/{d.Metadata.Name}");
        }
        foreach (var s in overlay.OfType<V1StatefulSet>())
        {
            AssertSelects(s.Spec.Selector.MatchLabels, s.Spec.Template.Metadata.Labels, $"StatefulSet/{s.Metadata.Name}");
            Assert.Contains(overlay.OfType<V1Service>(), svc => svc.Metadata.Name == s.Spec.ServiceName && svc.Spec.ClusterIP == "None");
            claims.UnionWith(s.Spec.VolumeClaimTemplates.Select(t => t.Metadata.Name));
        }
        foreach (var svc in overlay.OfType<V1Service>())
        {
            Assert.True(overlay.PodSpecs().Any(p => svc.Spec.Selector.All(kv => TemplateLabels(overlay, p.Owner).GetValueOrDefault(kv.Key) == kv.Value)),
                $"Service/{svc.Metadata.Name} selects no pod template");
        }
        foreach (var (owner, spec, _) in overlay.PodSpecs())
        {
            var volumes = (spec.Volumes ?? []).ToDictionary(v => v.Name);
            foreach (var volume in volumes.Values)
            {
                if (volume.ConfigMap is { } cm)
                {
                    Assert.True(configMaps.ContainsKey(cm.Name), $"{owner}: volume {volume.Name} refers to missing ConfigMap {cm.Name}");
                    Assert.All(cm.Items ?? [], item => Assert.True(configMaps[cm.Name].Data.ContainsKey(item.Key), $"{owner}: ConfigMap {cm.Name} has no key {item.Key}"));
                }
                if (volume.PersistentVolumeClaim is { } pvc)
                {
                    Assert.True(claims.Contains(pvc.ClaimName), $"{owner}: volume {volume.Name} refers to missing claim {pvc.ClaimName}");
                }
            }
            foreach (var c in (spec.InitContainers ?? []).Concat(spec.Containers))
            {
                Assert.All(c.VolumeMounts ?? [], m => Assert.True(volumes.ContainsKey(m.Name) || claims.Contains(m.Name), $"{owner}/{c.Name}: mount {m.Name} has no volume"));
                Assert.All(c.EnvFrom ?? [], e => Assert.True(configMaps.ContainsKey(e.ConfigMapRef.Name), $"{owner}/{c.Name}: envFrom {e.ConfigMapRef.Name} is not rendered"));
                foreach (var env in c.Env ?? [])
                {
                    if (env.ValueFrom?.ConfigMapKeyRef is { } key)
                    {
                        Assert.True(configMaps.TryGetValue(key.Name, out var map) && map.Data.ContainsKey(key.Key), $"{owner}/{c.Name}: env {env.Name} refers to missing {key.Name}:{key.Key}");
                    }
                }
            }
        }
    }

    private static Dictionary<string, string> TemplateLabels(Overlay overlay, string owner) => owner.Split('/') switch
    {
        ["Deployment", var n] => new(overlay.Single<V1Deployment>(n).Spec.Template.Metadata.Labels),
        ["StatefulSet", var n] => new(overlay.Single<V1StatefulSet>(n).Spec.Template.Metadata.Labels),
        ["Job", var n] => new(overlay.Single<V1Job>(n).Spec.Template.Metadata.Labels),
        _ => [],
    };

    private static void AssertSelects(IDictionary<string, string> selector, IDictionary<string, string> labels, string owner)
    {
        Assert.NotEmpty(selector);
        Assert.All(selector, kv => Assert.True(labels.TryGetValue(kv.Key, out var v) && v == kv.Value, $"{owner}: selector {kv.Key}={kv.Value} does not match its pod template"));
    }

    /// <summary>Paths where the two JSON trees differ; nulls and empty objects count as absent (the serializer omits them).</summary>
    private static IEnumerable<string> Differences(JsonNode? a, JsonNode? b, string path)
    {
        if (IsAbsent(a) && IsAbsent(b))
        {
            yield break;
        }
        switch (a, b)
        {
            case (JsonObject x, JsonObject y):
                foreach (var key in x.Select(p => p.Key).Union(y.Select(p => p.Key)))
                {
                    foreach (var d in Differences(x[key], y[key], $"{path}.{key}"))
                    {
                        yield return d;
                    }
                }
                break;
            case (JsonArray x, JsonArray y) when x.Count == y.Count:
                for (var i = 0; i < x.Count; i++)
                {
                    foreach (var d in Differences(x[i], y[i], $"{path}[{i}]"))
                    {
                        yield return d;
                    }
                }
                break;
            default:
                if (a?.ToJsonString() != b?.ToJsonString())
                {
                    yield return $"{path}: {a?.ToJsonString() ?? "absent"} became {b?.ToJsonString() ?? "absent"}";
                }
                break;
        }
    }

    private static bool IsAbsent(JsonNode? node) => node is null || (node is JsonObject o && o.Count == 0);
}
