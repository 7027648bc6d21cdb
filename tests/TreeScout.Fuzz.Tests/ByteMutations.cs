using System.Text;
using CsCheck;

namespace TreeScout.Fuzz.Tests;

public enum ByteEdit
{
    FlipBit,
    SetByte,
    InsertByte,
    Delete,
    Duplicate,
    Truncate,
    InsertToken,
    OverwriteToken,
}

/// <summary>One edit of a byte string; positions and lengths wrap to the current length, so every edit applies.</summary>
public sealed record ByteMutation(ByteEdit Edit, int At, int Length, byte Value, int Token)
{
    public static readonly Gen<ByteMutation> Any =
        Gen.Select(Gen.Enum<ByteEdit>(), Gen.Int[0, 1 << 20], Gen.Int[1, 64], Gen.Byte, Gen.Int[0, 255],
            (edit, at, length, value, token) => new ByteMutation(edit, at, length, value, token));
}

/// <summary>
/// Mutation-based inputs in the manner of coverage-less fuzzers: a real seed from the corpus, then a few edits (bit
/// flips, inserted or deleted runs, truncation, splices of the target's dictionary of interesting tokens).
/// Shrinking goes towards fewer and smaller edits of the first seed.
/// </summary>
public static class ByteMutations
{
    /// <summary>A dictionary of text tokens, as the UTF-8 bytes a reader of text files sees.</summary>
    public static IReadOnlyList<byte[]> Tokens(params IEnumerable<string> tokens) => tokens.Select(Encoding.UTF8.GetBytes).ToList();

    public static Gen<byte[]> Of(IReadOnlyList<byte[]> seeds, IReadOnlyList<byte[]> dictionary, int maxEdits = 8) =>
        from seed in Gen.Int[0, seeds.Count - 1]
        from edits in ByteMutation.Any.Array[1, maxEdits]
        select Apply(seeds[seed], edits, dictionary);

    public static byte[] Apply(byte[] seed, IEnumerable<ByteMutation> edits, IReadOnlyList<byte[]> dictionary)
    {
        var bytes = new List<byte>(seed);
        foreach (var m in edits)
        {
            var at = m.At % (bytes.Count + 1);
            var span = Math.Min(m.Length, bytes.Count - at);
            var token = dictionary.Count == 0 ? [m.Value] : dictionary[m.Token % dictionary.Count];
            switch (m.Edit)
            {
                case ByteEdit.FlipBit when at < bytes.Count:
                    bytes[at] ^= (byte)(1 << (m.Value & 7));
                    break;
                case ByteEdit.SetByte when at < bytes.Count:
                    bytes[at] = m.Value;
                    break;
                case ByteEdit.InsertByte:
                    bytes.Insert(at, m.Value);
                    break;
                case ByteEdit.Delete:
                    bytes.RemoveRange(at, span);
                    break;
                case ByteEdit.Duplicate:
                    bytes.InsertRange(at, bytes.GetRange(at, span));
                    break;
                case ByteEdit.Truncate:
                    bytes.RemoveRange(at, bytes.Count - at);
                    break;
                case ByteEdit.InsertToken:
                    bytes.InsertRange(at, token);
                    break;
                case ByteEdit.OverwriteToken:
                    bytes.RemoveRange(at, Math.Min(token.Length, bytes.Count - at));
                    bytes.InsertRange(at, token);
                    break;
            }
        }
        return [.. bytes];
    }
}
