using OpenCvSharp;

namespace TreeScout.Detection;

/// <summary>Frame bytes to an upright image.</summary>
public static class FrameImage
{
    /// <summary>Decodes a JPEG (or any image OpenCV reads) to BGR; null when the bytes are not a decodable image.</summary>
    public static Mat? Decode(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length == 0)
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
