using System.Text.Json.Nodes;
using TreeScout.Tests;

namespace TreeScout.Deploy.Tests.Support;

/// <summary>A tractor cluster as registered with the central Argo CD: its cluster secret's name, server and labels.</summary>
public sealed record TractorCluster(string Name, string Server, IReadOnlyDictionary<string, string> Labels)
{
    /// <summary>The parameters Argo CD's cluster generator gives the template for this cluster (goTemplate mode).</summary>
    public JsonObject Parameters() => new()
    {
        ["name"] = Name,
        ["nameNormalized"] = Name,
        ["server"] = Server,
        ["metadata"] = new JsonObject
        {
            ["labels"] = new JsonObject(Labels.Select(l => KeyValuePair.Create(l.Key, (JsonNode?)l.Value))),
            ["annotations"] = new JsonObject(),
        },
    };
}

/// <summary>
/// deploy/argocd/fleet-applicationset.yaml evaluated the way Argo CD's ApplicationSet controller and repo server do,
/// without Argo CD: the cluster generator's label selector, the Go template and templatePatch, and the kustomize edits
/// the repo server makes for <c>spec.source.kustomize</c> (components and patches added to the path's kustomization)
/// before rendering with the real kustomize.
/// </summary>
public static class FleetApplicationSet
{
    /// <summary>Sample tractors the deployment tests render, one per combination the labels allow that matters.</summary>
    public static readonly TractorCluster[] Samples =
    [
        Tractor("t017", rollout: "canary", gnss: "serial", gpu: "none"),
        Tractor("t042", rollout: "fleet", gnss: "gpsd", gpu: "nvidia"),
    ];

    public static TractorCluster Tractor(string id, string rollout, string gnss, string gpu) =>
        new($"tractor-{id}", $"https://tractor-{id}.fleet.internal:6443", new Dictionary<string, string>
        {
            ["treescout.io/tractor-id"] = id,
            ["treescout.io/rollout"] = rollout,
            ["treescout.io/gnss"] = gnss,
            ["treescout.io/gpu"] = gpu,
        });

    public static async Task<JsonObject> LoadAsync() => (await ArgoCdObjectsAsync()).Single(d => (string?)d["kind"] == "ApplicationSet");

    /// <summary>deploy/argocd as kustomize renders it: what `kubectl apply -k deploy/argocd` installs.</summary>
    public static async Task<List<JsonObject>> ArgoCdObjectsAsync() =>
        YamlToJson.Documents(await Tool.OutputAsync(Overlay.Kubectl, ["kustomize", Path.Combine(RepoPaths.Root, "deploy/argocd")]));

    /// <summary>Whether the cluster generator (the only generator) selects the cluster.</summary>
    public static bool Selects(JsonObject applicationSet, TractorCluster cluster)
    {
        var selector = applicationSet["spec"]!["generators"]!.AsArray().Single()!["clusters"]!["selector"]!;
        var labels = cluster.Labels;
        var matchLabels = selector["matchLabels"]?.AsObject() ?? [];
        var expressions = selector["matchExpressions"]?.AsArray() ?? [];
        return matchLabels.All(l => labels.TryGetValue(l.Key, out var v) && v == (string?)l.Value)
            && expressions.All(e =>
            {
                var key = (string)e!["key"]!;
                var values = e["values"]?.AsArray().Select(v => (string?)v).ToList() ?? [];
                var has = labels.TryGetValue(key, out var value);
                return (string?)e["operator"] switch
                {
                    "In" => has && values.Contains(value),
                    "NotIn" => !has || !values.Contains(value),
                    "Exists" => has,
                    "DoesNotExist" => !has,
                    var op => throw new NotSupportedException($"selector operator {op}"),
                };
            });
    }

    /// <summary>The Application the ApplicationSet generates for the cluster: every string of the template rendered, then templatePatch merged in.</summary>
    public static JsonObject ApplicationFor(JsonObject applicationSet, TractorCluster cluster)
    {
        var spec = applicationSet["spec"]!;
        Assert.True((bool?)spec["goTemplate"], "the template is written for goTemplate: true");
        Assert.Contains("missingkey=error", spec["goTemplateOptions"]!.AsArray().Select(o => (string?)o));
        var parameters = cluster.Parameters();
        var application = (JsonObject)RenderStrings(spec["template"]!, parameters)!;
        if ((string?)spec["templatePatch"] is { } patch)
        {
            Merge(application, YamlToJson.Documents(GoTemplate.Render(patch, parameters)).Single());
        }
        application["apiVersion"] = "argoproj.io/v1alpha1";
        application["kind"] = "Application";
        return application;
    }

    /// <summary>
    /// Renders the Application's source as Argo CD's repo server does: a copy of deploy/, the source path's
    /// kustomization given the Application's components and patches (as `kustomize edit add component` and Argo CD's
    /// patch edit append them), then `kubectl kustomize` of that path.
    /// </summary>
    public static async Task<string> RenderSourceAsync(JsonObject application)
    {
        var source = application["spec"]!["source"]!;
        var path = (string)source["path"]!;
        var copy = Directory.CreateTempSubdirectory("treescout-fleet-");
        try
        {
            CopyDirectory(Path.Combine(RepoPaths.Root, "deploy"), Path.Combine(copy.FullName, "deploy"));
            var file = Path.Combine(copy.FullName, path, "kustomization.yaml");
            var kustomization = YamlToJson.Documents(await File.ReadAllTextAsync(file)).Single();
            if (source["kustomize"] is JsonObject kustomize)
            {
                foreach (var (field, value) in kustomize)
                {
                    if (field is not ("components" or "patches"))
                    {
                        throw new NotSupportedException($"spec.source.kustomize.{field} is not emulated here");
                    }
                    var list = kustomization[field] as JsonArray ?? [];
                    kustomization[field] = list;
                    foreach (var item in value!.AsArray())
                    {
                        list.Add(item!.DeepClone());
                    }
                }
            }
            // JSON is YAML: kustomize reads it as the kustomization.
            await File.WriteAllTextAsync(file, kustomization.ToJsonString());
            return await Tool.OutputAsync(Overlay.Kubectl, ["kustomize", Path.Combine(copy.FullName, path)], TimeSpan.FromMinutes(2));
        }
        finally
        {
            copy.Delete(recursive: true);
        }
    }

    private static JsonNode? RenderStrings(JsonNode? node, JsonObject parameters) => node switch
    {
        JsonObject o => new JsonObject(o.Select(kv => KeyValuePair.Create(kv.Key, RenderStrings(kv.Value, parameters)))),
        JsonArray a => new JsonArray([.. a.Select(n => RenderStrings(n, parameters))]),
        JsonValue v when v.TryGetValue<string>(out var s) => JsonValue.Create(GoTemplate.Render(s, parameters)),
        _ => node?.DeepClone(),
    };

    /// <summary>The strategic merge Argo CD applies with the Application type: maps merge, lists (no merge keys) are replaced.</summary>
    private static void Merge(JsonObject target, JsonObject patch)
    {
        foreach (var (key, value) in patch)
        {
            if (value is JsonObject child && target[key] is JsonObject existing)
            {
                Merge(existing, child);
            }
            else
            {
                target[key] = value?.DeepClone();
            }
        }
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.EnumerateFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }
        foreach (var directory in Directory.EnumerateDirectories(from))
        {
            CopyDirectory(directory, Path.Combine(to, Path.GetFileName(directory)));
        }
    }
}
