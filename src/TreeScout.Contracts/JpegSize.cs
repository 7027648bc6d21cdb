namespace TreeScout.Contracts;

/// <summary>The size a JPEG (a <see cref="FrameCaptured"/> body) declares in its frame header, read without decoding.</summary>
public static class JpegSize
{
    /// <summary>
    /// Walks the marker segments from SOI to the first SOFn, skipping each by its length as libjpeg does, and returns the
    /// width and height that header declares (what a decoder allocates); false when the bytes are not a JPEG whose
    /// markers lead to a frame header of a positive size.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> jpeg, out int width, out int height) => HeaderProblem(jpeg, out width, out height) is null;

    /// <summary>
    /// The same walk, saying what is wrong for a frame's report: null when the header declares a positive size; bytes cut
    /// short inside the header (a power cut while the recorder wrote it) are named as truncated, anything else is not a JPEG.
    /// </summary>
    public static string? HeaderProblem(ReadOnlySpan<byte> jpeg, out int width, out int height)
    {
        width = height = 0;
        if (jpeg.Length == 0)
        {
            return "empty file, not a JPEG image";
        }
        if (jpeg.Length < 2 || jpeg[0] != 0xFF || jpeg[1] != 0xD8)
        {
            return "not a JPEG image (no start-of-image marker)";
        }
        const string CutInHeader = "truncated JPEG image (the file ends inside its header)";
        var i = 2;
        while (true)
        {
            if (i + 4 > jpeg.Length)
            {
                return CutInHeader;
            }
            if (jpeg[i] != 0xFF)
            {
                return "not a JPEG image (damaged header)";
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
                    return CutInHeader;
                }
                height = (jpeg[i + 5] << 8) | jpeg[i + 6];
                width = (jpeg[i + 7] << 8) | jpeg[i + 8];
                return width > 0 && height > 0 ? null : "not a JPEG image (no image size in its header)";
            }
            if (marker == 0xDA || length < 2)
            {
                return "not a JPEG image (damaged header)";
            }
            i += 2 + length;
        }
    }
}
