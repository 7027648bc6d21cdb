using System.Text.RegularExpressions;
using k8s.Models;

namespace TreeScout.Deploy.Tests.Support;

/// <summary>
/// What the kubelet hands a rendered container's process: the environment (every key of its envFrom ConfigMaps, then
/// its env entries in order, each value with <c>$(NAME)</c> references to the variables before it expanded) and its
/// arguments (expanded the same way). Secrets come from the caller: none are in git.
/// </summary>
public static partial class ContainerEnvironment
{
    public static Dictionary<string, string> Resolve(Overlay overlay, V1Container container, Func<V1SecretKeySelector, string> secret)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var source in container.EnvFrom ?? [])
        {
            var map = source.ConfigMapRef is { } reference
                ? ConfigMap(overlay, reference.Name)
                : throw new NotSupportedException($"container {container.Name}: envFrom other than a ConfigMap");
            foreach (var (key, value) in map.Data ?? new Dictionary<string, string>())
            {
                environment[key] = value;
            }
        }
        foreach (var variable in container.Env ?? [])
        {
            environment[variable.Name] = variable switch
            {
                { ValueFrom.ConfigMapKeyRef: { } key } => ConfigMap(overlay, key.Name).Data[key.Key],
                { ValueFrom.SecretKeyRef: { } key } => secret(key),
                { ValueFrom: null } => Expand(variable.Value ?? "", environment),
                _ => throw new NotSupportedException($"container {container.Name}: env {variable.Name} has a valueFrom other than a ConfigMap or Secret key"),
            };
        }
        return environment;
    }

    /// <summary>Kubernetes' expansion: <c>$(NAME)</c> of a defined variable becomes its value, <c>$$</c> a literal <c>$</c>, anything else stays.</summary>
    public static string Expand(string text, IReadOnlyDictionary<string, string> environment) =>
        Reference().Replace(text, m => m.Value == "$$" ? "$" : environment.TryGetValue(m.Groups["name"].Value, out var value) ? value : m.Value);

    private static V1ConfigMap ConfigMap(Overlay overlay, string name) => overlay.Single<V1ConfigMap>(name);

    [GeneratedRegex(@"\$\$|\$\((?<name>[A-Za-z_][A-Za-z0-9_.-]*)\)")]
    private static partial Regex Reference();
}
