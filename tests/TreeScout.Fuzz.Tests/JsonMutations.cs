using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CsCheck;

namespace TreeScout.Fuzz.Tests;

public enum JsonEdit
{
    ReplaceValue,
    Nullify,
    Remove,
    DuplicateElement,
    RenameProperty,
    Stringify,
    CopyOtherNode,
}

/// <summary>One structural edit of a JSON document; <see cref="Node"/> indexes the document's nodes in pre-order (wrapping).</summary>
public sealed record JsonMutation(JsonEdit Edit, int Node, int Value)
{
    public static readonly Gen<JsonMutation> Any =
        Gen.Select(Gen.Enum<JsonEdit>(), Gen.Int[0, 4096], Gen.Int[0, 4096], (edit, node, value) => new JsonMutation(edit, node, value));
}

/// <summary>
/// Structure-aware mutation of JSON seeds: values replaced by null or by edge cases (wrong types, huge or negative numbers,
/// empty or deeply nested containers), members removed, renamed or copied from elsewhere in the document, then a few
/// byte edits on the text. Byte edits alone mostly make invalid JSON; these reach the reader's validation behind the parser.
/// </summary>
public static class JsonMutations
{
    /// <summary>Edge-case values every JSON reader meets; targets add their own (GeoJSON geometries, enum names, ...).</summary>
    public static readonly IReadOnlyList<string> CommonValues =
    [
        "null", "true", "false", "0", "-0", "-1", "1", "0.5", "-0.5", "1e308", "-1.7976931348623157e308", "1e400", "5e-324",
        "2147483648", "-2147483649", "9223372036854775808", "18446744073709551616", "1.0e-400",
        "\"\"", "\"x\"", "\" \"", "\"NaN\"", "\"Infinity\"", "\"-Infinity\"", "\"0\"", "\"1e3\"", "\"-1\"",
        "\"2026-04-20T10:00:00Z\"", "\"9999-12-31T23:59:59Z\"", "\"0001-01-01T00:00:00Z\"", "\"00000000-0000-0000-0000-000000000000\"",
        "\"..\"", "\"../etc\"", "\"\\u0000\"", "\"\\u00e9t\\u00e9\"",
        "[]", "{}", "[[]]", "[null]", "[1,2,3]", "[{}]", "{\"\":null}",
        "\"" + new string('a', 10_000) + "\"",
    ];

    /// <summary>Pieces of JSON text for the byte edits on top: syntax, an unpaired surrogate escape, nesting beyond any depth limit.</summary>
    public static readonly IReadOnlyList<byte[]> CommonTokens = ByteMutations.Tokens(
        "{", "}", "[", "]", "\"", ",", ":", "null", "-", "1e999", "\\u", "\\", "\\ud800", "\u00e9", "\uFEFF", new string('[', 100) + new string(']', 100));

    /// <summary>Seeds mutated structurally with <paramref name="values"/>, then by a few byte edits with <see cref="CommonTokens"/> and <paramref name="tokens"/>.</summary>
    public static Gen<byte[]> Of(IReadOnlyList<string> seeds, IReadOnlyList<string> values, IReadOnlyList<byte[]> tokens)
    {
        // Seeds that are not JSON the node model can write back (a regression input, a JPEG body) start from null.
        List<string> documents = [.. seeds.Where(RoundTrips)];
        if (documents.Count == 0)
        {
            documents.Add("null");
        }
        return from seed in Gen.Int[0, documents.Count - 1]
               from edits in JsonMutation.Any.Array[1, 6]
               from bytes in ByteMutation.Any.Array[0, 2]
               select ByteMutations.Apply(Encoding.UTF8.GetBytes(Apply(documents[seed], edits, values)), bytes, [.. CommonTokens, .. tokens]);
    }

    private static bool RoundTrips(string text)
    {
        try
        {
            JsonNode.Parse(text)?.ToJsonString();
            return true;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            return false;
        }
    }

    public static string Apply(string seed, IEnumerable<JsonMutation> edits, IReadOnlyList<string> values)
    {
        var document = new JsonArray(JsonNode.Parse(seed));
        foreach (var m in edits)
        {
            var slots = new List<Slot>();
            Collect(document, slots);
            var slot = slots[m.Node % slots.Count];
            var value = values[m.Value % values.Count];
            switch (m.Edit)
            {
                case JsonEdit.ReplaceValue:
                    slot.Set(JsonNode.Parse(value));
                    break;
                case JsonEdit.Nullify:
                    slot.Set(null);
                    break;
                case JsonEdit.Remove when slot.Parent != document:
                    slot.Remove();
                    break;
                case JsonEdit.DuplicateElement when slot.Parent is JsonArray array && array != document:
                    array.Insert(slot.Index, slot.Node?.DeepClone());
                    break;
                case JsonEdit.RenameProperty when slot.Parent is JsonObject parent:
                    var renamed = (m.Value % 3) switch
                    {
                        0 => slot.Name!.ToUpperInvariant(),
                        1 => slot.Name + "_",
                        _ => "",
                    };
                    var node = slot.Node;
                    parent.Remove(slot.Name!);
                    parent[renamed] = node;
                    break;
                case JsonEdit.Stringify when slot.Node is JsonValue:
                    slot.Set(JsonValue.Create(slot.Node.ToJsonString()));
                    break;
                case JsonEdit.CopyOtherNode:
                    slot.Set(slots[m.Value % slots.Count].Node?.DeepClone());
                    break;
            }
        }
        return document[0]?.ToJsonString() ?? "null";
    }

    /// <summary>Where a node sits: a property of an object or an element of an array (JSON null has no node to ask).</summary>
    private sealed record Slot(JsonNode Parent, string? Name, int Index, JsonNode? Node)
    {
        public void Set(JsonNode? value)
        {
            if (Parent is JsonObject o)
            {
                o[Name!] = value;
            }
            else
            {
                Parent.AsArray()[Index] = value;
            }
        }

        public void Remove()
        {
            if (Parent is JsonObject o)
            {
                o.Remove(Name!);
            }
            else
            {
                Parent.AsArray().RemoveAt(Index);
            }
        }
    }

    private static void Collect(JsonNode parent, List<Slot> slots)
    {
        switch (parent)
        {
            case JsonObject o:
                foreach (var (name, child) in o.ToList())
                {
                    slots.Add(new Slot(o, name, 0, child));
                    if (child is not null)
                    {
                        Collect(child, slots);
                    }
                }
                break;
            case JsonArray a:
                for (var i = 0; i < a.Count; i++)
                {
                    slots.Add(new Slot(a, null, i, a[i]));
                    if (a[i] is { } child)
                    {
                        Collect(child, slots);
                    }
                }
                break;
        }
    }
}
