namespace TreeScout.Contracts;

/// <summary>The size a JPEG (a <see cref="FrameCaptured"/> body) declares in its frame header, read without decoding.</summary>
public static class JpegSize
{
    /// <summary>
    /// Walks the marker segments from SOI to the first SOFn, skipping each by its length as libjpeg does, and returns the
    /// width and height that header declares (what a decoder allocates); false when the bytes are not a JPEG whose
    /// markers lead to a frame header of a positive size.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> jpeg, out int width, out int height)
    {
        width = height = 0;
        if (jpeg.Length < 4 || jpeg[0] != 0xFF || jpeg[1] != 0xD8)
        {
            return false;
        }
        var i = 2;
        while (i + 4 <= jpeg.Length)
        {
            if (jpeg[i] != 0xFF)
            {
                return false;
            }
            var marker = jpeg[i + 1];
            if (marker == 0xFF)
            {
                i++;
                continue;
            }
            var length = (jpeg[i + 2] << 8) | jpeg[i + 3];
            // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size.
            if (marker is >= 0xC0 and <= 0xCF and not 0xC4 and not 0xC8 and not 0xCC)
            {
                if (i + 9 > jpeg.Length)
                {
                    return false;
                }
                height = (jpeg[i + 5] << 8) | jpeg[i + 6];
                width = (jpeg[i + 7] << 8) | jpeg[i + 8];
                return width > 0 && height > 0;
            }
            if (marker == 0xDA || length < 2)
            {
                return false;
            }
            i += 2 + length;
        }
        return false;
    }
}
