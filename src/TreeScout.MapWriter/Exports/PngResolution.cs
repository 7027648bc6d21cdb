using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;

namespace TreeScout.MapWriter.Exports;

/// <summary>
/// Adds the print resolution to a PNG (a <c>pHYs</c> chunk, pixels per metre), which OpenCV's encoder does not write:
/// without it viewers and print dialogs assume 72 or 96 dpi and print the A4 sheet two pages wide.
/// </summary>
public static class PngResolution
{
    private const int SignatureLength = 8;
    private const int IhdrChunkLength = 4 + 4 + 13 + 4;

    public static byte[] WithDpi(byte[] png, int dpi)
    {
        if (png.Length < SignatureLength + IhdrChunkLength || Encoding.ASCII.GetString(png, SignatureLength + 4, 4) != "IHDR")
        {
            throw new InvalidDataException("not a PNG with its IHDR chunk first");
        }
        var pixelsPerMetre = (uint)Math.Round(dpi / 0.0254);
        var chunk = new byte[4 + 4 + 9 + 4];
        BinaryPrimitives.WriteUInt32BigEndian(chunk, 9);
        Encoding.ASCII.GetBytes("pHYs", chunk.AsSpan(4));
        BinaryPrimitives.WriteUInt32BigEndian(chunk.AsSpan(8), pixelsPerMetre);
        BinaryPrimitives.WriteUInt32BigEndian(chunk.AsSpan(12), pixelsPerMetre);
        chunk[16] = 1; // unit: metre
        BinaryPrimitives.WriteUInt32BigEndian(chunk.AsSpan(17), Crc32.HashToUInt32(chunk.AsSpan(4, 4 + 9)));
        // pHYs must come before the first IDAT; right after IHDR is always before it.
        var at = SignatureLength + IhdrChunkLength;
        return [.. png.AsSpan(0, at), .. chunk, .. png.AsSpan(at)];
    }
}
