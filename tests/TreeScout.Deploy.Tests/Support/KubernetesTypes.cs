using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using k8s;
using k8s.Models;

namespace TreeScout.Deploy.Tests.Support;

/// <summary>
/// Strict deserialization of manifests into the KubernetesClient model types: any field the API type does not have
/// (a typo, a wrong indentation level, a field from another version) is an error, as it is for `kubectl apply
/// --validate=strict` against a real API server.
/// </summary>
public static class KubernetesTypes
{
    private static readonly Dictionary<(string ApiVersion, string Kind), Type> Types = typeof(V1Deployment).Assembly.GetTypes()
        .Select(t => (Type: t, Entity: t.GetCustomAttribute<KubernetesEntityAttribute>()))
        .Where(x => x.Entity is not null && x.Type.Namespace == "k8s.Models" && !x.Type.Name.EndsWith("List", StringComparison.Ordinal))
        .GroupBy(x => (ApiVersion(x.Entity!), x.Entity!.Kind))
        .ToDictionary(g => g.Key, g => g.First().Type);

    private static readonly JsonSerializerOptions Strict = new()
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    public static Type TypeOf(string apiVersion, string kind) =>
        Types.TryGetValue((apiVersion, kind), out var type) ? type : throw new KeyNotFoundException($"{apiVersion} {kind} is not a Kubernetes API type known to KubernetesClient");

    public static IKubernetesObject Deserialize(JsonObject manifest)
    {
        var apiVersion = (string?)manifest["apiVersion"] ?? throw new JsonException("manifest without apiVersion");
        var kind = (string?)manifest["kind"] ?? throw new JsonException("manifest without kind");
        var type = TypeOf(apiVersion, kind);
        return (IKubernetesObject)(manifest.Deserialize(type, Strict) ?? throw new JsonException($"{kind} deserialized to null"));
    }

    /// <summary>KubernetesClient's own serializer, for the round-trip check.</summary>
    public static JsonNode Serialize(IKubernetesObject obj) => JsonNode.Parse(KubernetesJson.Serialize(obj))!;

    private static string ApiVersion(KubernetesEntityAttribute entity) =>
        string.IsNullOrEmpty(entity.Group) ? entity.ApiVersion : $"{entity.Group}/{entity.ApiVersion}";
}
