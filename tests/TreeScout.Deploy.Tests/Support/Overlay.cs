using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using TreeScout.Tests;

namespace TreeScout.Deploy.Tests.Support;

/// <summary>A kustomize overlay rendered by the real `kubectl kustomize` and read into the Kubernetes API types.</summary>
public sealed class Overlay
{
    public const string Tractor = "deploy/k3s/overlays/tractor";
    public const string Dev = "deploy/k3s/overlays/dev";
    public const string TractorGpu = "deploy/k3s/overlays/tractor-gpu";
    public const string Central = "deploy/central";

    /// <summary>What the fleet ApplicationSet renders for a sample tractor (<see cref="FleetApplicationSet.Samples"/>).</summary>
    public const string FleetPrefix = "fleet/";

    /// <summary>Everything that runs on a tractor: the overlays and the fleet's sample Applications.</summary>
    public static readonly string[] Tractors = [Tractor, Dev, TractorGpu, .. FleetApplicationSet.Samples.Select(c => FleetPrefix + c.Name)];

    /// <summary>Every deployment: the tractors' and the central site's.</summary>
    public static readonly string[] All = [.. Tractors, Central];

    private static readonly ConcurrentDictionary<string, Lazy<Task<Overlay>>> Cache = new();

    private Overlay(string path, List<JsonObject> manifests)
    {
        Path = path;
        Manifests = manifests;
        Objects = [.. manifests.Select(KubernetesTypes.Deserialize)];
    }

    public string Path { get; }

    public IReadOnlyList<JsonObject> Manifests { get; }

    public IReadOnlyList<IKubernetesObject> Objects { get; }

    /// <summary>kubectl from KUBECTL or PATH (v1.32 bundles kustomize v5.5; deploy/ci-install.sh installs it).</summary>
    public static string Kubectl => Environment.GetEnvironmentVariable("KUBECTL") is { Length: > 0 } k ? k : "kubectl";

    /// <summary>The namespace everything in the deployment lives in.</summary>
    public string Namespace => Path == Central ? "treescout-central" : "treescout";

    /// <summary>A path under the repository, or <see cref="FleetPrefix"/> and a sample cluster's name.</summary>
    public static Task<Overlay> RenderAsync(string path) =>
        Cache.GetOrAdd(path, p => new Lazy<Task<Overlay>>(async () =>
        {
            var yaml = p.StartsWith(FleetPrefix, StringComparison.Ordinal)
                ? await FleetApplicationSet.RenderSourceAsync(FleetApplicationSet.ApplicationFor(
                    await FleetApplicationSet.LoadAsync(), FleetApplicationSet.Samples.Single(c => FleetPrefix + c.Name == p)))
                : await Tool.OutputAsync(Kubectl, ["kustomize", System.IO.Path.Combine(RepoPaths.Root, p)], TimeSpan.FromMinutes(2));
            return new Overlay(p, YamlToJson.Documents(yaml));
        })).Value;

    public IEnumerable<T> OfType<T>() => Objects.OfType<T>();

    public T Single<T>(string name)
        where T : IMetadata<V1ObjectMeta> =>
        Objects.OfType<T>().SingleOrDefault(o => o.Metadata.Name == name) ?? throw new KeyNotFoundException($"{Path}: no {typeof(T).Name} named {name}");

    /// <summary>Every pod template with its owner's kind/name: Deployments, StatefulSets, Jobs.</summary>
    public IEnumerable<(string Owner, V1PodSpec Spec, V1ObjectMeta Metadata)> PodSpecs()
    {
        foreach (var o in Objects)
        {
            switch (o)
            {
                case V1Deployment d:
                    yield return ($"Deployment/{d.Metadata.Name}", d.Spec.Template.Spec, d.Metadata);
                    break;
                case V1StatefulSet s:
                    yield return ($"StatefulSet/{s.Metadata.Name}", s.Spec.Template.Spec, s.Metadata);
                    break;
                case V1Job j:
                    yield return ($"Job/{j.Metadata.Name}", j.Spec.Template.Spec, j.Metadata);
                    break;
                case V1Pod or V1DaemonSet or V1ReplicaSet or V1CronJob:
                    throw new NotSupportedException($"{Path}: {o.Kind} is not covered by the policy tests; add it to PodSpecs");
            }
        }
    }

    /// <summary>Containers and init containers of every pod template.</summary>
    public IEnumerable<(string Where, V1Container Container, V1PodSpec Pod, bool Init)> Containers() =>
        PodSpecs().SelectMany(p =>
            (p.Spec.InitContainers ?? []).Select(c => ($"{p.Owner} init container {c.Name}", c, p.Spec, true))
            .Concat(p.Spec.Containers.Select(c => ($"{p.Owner} container {c.Name}", c, p.Spec, false))));
}
