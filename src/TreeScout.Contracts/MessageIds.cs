using System.Security.Cryptography;
using System.Text;

namespace TreeScout.Contracts;

/// <summary>
/// Deterministic message ids (RFC 9562 UUIDv5, SHA-1 name-based). A fact derived from another fact gets an id
/// derived from its parent's id, so a redelivered frame produces detections with the same id and every
/// downstream de-duplication works by id alone.
/// </summary>
public static class MessageIds
{
    private static readonly Guid Namespace = new("5f0c3b8e-2d0a-4c57-9a3e-7b1d4e2f9c61");

    public static Guid For(string runId, string kind, long sequence) => Derive(Namespace, $"{runId}/{kind}/{sequence}");

    public static Guid Derive(Guid parent, string name)
    {
        Span<byte> parentBytes = stackalloc byte[16];
        parent.TryWriteBytes(parentBytes, bigEndian: true, out _);
        var nameBytes = Encoding.UTF8.GetBytes(name);
        var input = new byte[16 + nameBytes.Length];
        parentBytes.CopyTo(input);
        nameBytes.CopyTo(input, 16);
#pragma warning disable CA5350 // SHA-1 is what RFC 9562 prescribes for v5 ids; not a security use.
        var hash = SHA1.HashData(input);
#pragma warning restore CA5350
        hash[6] = (byte)((hash[6] & 0x0F) | 0x50);
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        return new Guid(hash.AsSpan(0, 16), bigEndian: true);
    }
}
