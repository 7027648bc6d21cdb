using System.Buffers.Binary;

namespace TreeScout.Labelling;

/// <summary>The pixel size a JPEG file declares, read from its frame header without decoding (the library has no codec).</summary>
internal static class JpegHeader
{
    /// <summary>Width and height from the first start-of-frame segment, or null when the bytes are not a JPEG.</summary>
    public static (int Width, int Height)? Size(ReadOnlySpan<byte> jpeg)
    {
        if (jpeg.Length < 4 || jpeg[0] != 0xFF || jpeg[1] != 0xD8)
        {
            return null;
        }
        var i = 2;
        while (i + 4 <= jpeg.Length)
        {
            if (jpeg[i] != 0xFF)
            {
                return null;
            }
            var marker = jpeg[i + 1];
            if (marker == 0xFF)
            {
                i++; // fill byte
                continue;
            }
            if (marker is 0x01 or (>= 0xD0 and <= 0xD7))
            {
                i += 2; // markers without a length
                continue;
            }
            var length = BinaryPrimitives.ReadUInt16BigEndian(jpeg[(i + 2)..]);
            // SOF0..SOF15 carry the size; C4 (Huffman tables), C8 (reserved) and CC (arithmetic coding) do not.
            if (marker is >= 0xC0 and <= 0xCF and not 0xC4 and not 0xC8 and not 0xCC)
            {
                if (i + 9 > jpeg.Length)
                {
                    return null;
                }
                int height = BinaryPrimitives.ReadUInt16BigEndian(jpeg[(i + 5)..]);
                int width = BinaryPrimitives.ReadUInt16BigEndian(jpeg[(i + 7)..]);
                return width > 0 && height > 0 ? (width, height) : null;
            }
            if (marker == 0xDA || length < 2)
            {
                return null; // image data before any frame header
            }
            i += 2 + length;
        }
        return null;
    }
}
