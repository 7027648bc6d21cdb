using OpenCvSharp;
using TreeScout.Contracts;

namespace TreeScout.Detection;

/// <summary>Frame bytes to an upright image.</summary>
public static class FrameImage
{
    /// <summary>Largest frame decoded, 8K UHD: more than any tractor camera delivers, and at most ~100 MB of BGR pixels.</summary>
    public const long MaxPixels = 7680L * 4320;

    /// <summary>
    /// Decodes a JPEG (or any image OpenCV reads) to BGR; null when the bytes are not a decodable image, or are a JPEG
    /// whose header does not declare a size of at most <see cref="MaxPixels"/>. libjpeg decodes a cut or forged stream to
    /// its declared size and fills in what is missing: an 809-byte body declaring 30000 × 30000 cost 2.7 GB and 38 s.
    /// </summary>
    public static Mat? Decode(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length == 0 || (bytes is [0xFF, 0xD8, ..] && !IsDecodableSize(bytes)))
        {
            return null;
        }
        var mat = Cv2.ImDecode(bytes, ImreadModes.Color);
        if (mat.Empty())
        {
            mat.Dispose();
            return null;
        }
        return mat;
    }

    /// <summary>The JPEG's header leads to a frame size of at most <see cref="MaxPixels"/>.</summary>
    private static bool IsDecodableSize(ReadOnlySpan<byte> jpeg) => JpegSize.TryRead(jpeg, out var width, out var height) && (long)width * height <= MaxPixels;

    /// <summary>
    /// Undoes a camera's mount rotation: a body rotated <paramref name="mountRotationDeg"/> clockwise about its optical axis
    /// sees the world turned the other way, so the image is rotated clockwise by the same angle (90: the sky, which the
    /// sensor saw on its left, comes to the top). Returns the input itself for 0.
    /// </summary>
    public static Mat Upright(Mat image, int mountRotationDeg)
    {
        RotateFlags? flag = (((mountRotationDeg % 360) + 360) % 360) switch
        {
            0 => null,
            90 => RotateFlags.Rotate90Clockwise,
            180 => RotateFlags.Rotate180,
            270 => RotateFlags.Rotate90Counterclockwise,
            _ => throw new ArgumentOutOfRangeException(nameof(mountRotationDeg), mountRotationDeg, "mount rotation must be 0, 90, 180 or 270 degrees"),
        };
        if (flag is null)
        {
            return image;
        }
        var rotated = new Mat();
        Cv2.Rotate(image, rotated, flag.Value);
        return rotated;
    }

    /// <summary>
    /// Maps a box of the upright image (size <paramref name="uprightWidth"/>×<paramref name="uprightHeight"/>) back to
    /// the image as the sensor delivered it, i.e. undoes <see cref="Upright"/>.
    /// </summary>
    public static Inference.ClusterBox ToSensorBox(TreeScout.Contracts.BlossomDetection d, int mountRotationDeg, int uprightWidth, int uprightHeight)
    {
        float x = d.X, y = d.Y, w = d.W, h = d.H;
        return ((((mountRotationDeg % 360) + 360) % 360) switch
        {
            // Clockwise quarter turn: sensor (sx, sy) -> upright (Hs - sy, sx), so sx = uy and sy = Wu - ux (Wu = Hs).
            90 => new Inference.ClusterBox(y, uprightWidth - x - w, h, w, d.Score),
            180 => new Inference.ClusterBox(uprightWidth - x - w, uprightHeight - y - h, w, h, d.Score),
            270 => new Inference.ClusterBox(uprightHeight - y - h, x, h, w, d.Score),
            _ => new Inference.ClusterBox(x, y, w, h, d.Score),
        });
    }
}
