using System.Collections;
using System.Reflection;

namespace TreeScout.Fuzz.Tests;

/// <summary>
/// What a reader returned against the nullable annotations of its types: System.Text.Json and YamlDotNet fill a
/// non-nullable member with null when the input says null, and the code that uses the result does not expect it.
/// </summary>
public static class NonNullable
{
    // NullabilityInfoContext caches per instance and is not thread-safe; the fuzz classes run in parallel.
    private static readonly ThreadLocal<NullabilityInfoContext> Nullability = new(() => new NullabilityInfoContext());

    /// <summary>The path of the first non-nullable reference member (or collection element) that is null, walking nested contract records.</summary>
    public static string? FirstMissing(object value, string path)
    {
        if (value is string || value.GetType().Namespace?.StartsWith("TreeScout.", StringComparison.Ordinal) != true)
        {
            return value is IEnumerable items and not string and not byte[] ? MissingElement(items, path) : null;
        }
        foreach (var property in value.GetType().GetProperties())
        {
            var member = property.GetValue(value);
            var nullable = Nullability.Value!.Create(property).ReadState == NullabilityState.Nullable;
            if (member is null)
            {
                if (!nullable && !property.PropertyType.IsValueType)
                {
                    return $"{path}.{property.Name}";
                }
                continue;
            }
            if (FirstMissing(member, $"{path}.{property.Name}") is { } missing)
            {
                return missing;
            }
        }
        return null;
    }

    private static string? MissingElement(IEnumerable items, string path)
    {
        var i = 0;
        foreach (var item in items)
        {
            if (item is null)
            {
                return $"{path}[{i}]";
            }
            if (FirstMissing(item, $"{path}[{i}]") is { } missing)
            {
                return missing;
            }
            i++;
        }
        return null;
    }
}
