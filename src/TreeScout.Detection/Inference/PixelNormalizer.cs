using OpenCvSharp;
using TreeScout.Detection.Models;

namespace TreeScout.Detection.Inference;

/// <summary>
/// Writes an 8-bit BGR image into a float NCHW plane set the way a model's card says: channel order, scale, mean and std,
/// through a 3x256 lookup table (one add per value instead of a divide and a subtract).
/// </summary>
public sealed class PixelNormalizer
{
    private readonly float[] _lut = new float[3 * 256];
    private readonly int[] _sourceChannel = new int[3];

    public PixelNormalizer(ModelInput input)
    {
        if (input.Mean.Count != 3 || input.Std.Count != 3)
        {
            throw new ModelCardException($"input '{input.Name}': mean and std need 3 values each");
        }
        // Target channel c reads BGR channel _sourceChannel[c].
        (_sourceChannel[0], _sourceChannel[1], _sourceChannel[2]) = input.ColorOrder.ToUpperInvariant() switch
        {
            "RGB" => (2, 1, 0),
            "BGR" => (0, 1, 2),
            _ => throw new ModelCardException($"input '{input.Name}': colour order '{input.ColorOrder}' is neither RGB nor BGR"),
        };
        for (var c = 0; c < 3; c++)
        {
            for (var v = 0; v < 256; v++)
            {
                _lut[(c * 256) + v] = (float)(((v * input.Scale) - input.Mean[c]) / input.Std[c]);
            }
        }
        Interpolation = input.Resize.ToUpperInvariant() switch
        {
            "INTER_AREA" or "AREA" => InterpolationFlags.Area,
            "INTER_LINEAR" or "LINEAR" => InterpolationFlags.Linear,
            "INTER_CUBIC" or "CUBIC" => InterpolationFlags.Cubic,
            _ => throw new ModelCardException($"input '{input.Name}': resize '{input.Resize}' is not INTER_AREA, INTER_LINEAR or INTER_CUBIC"),
        };
    }

    public InterpolationFlags Interpolation { get; }

    /// <summary>
    /// Writes <paramref name="bgr"/> (CV_8UC3) into the top-left of a [3, planeHeight, planeWidth] block; the rest of
    /// the block (padding) is set to 0, which is what the network saw in training.
    /// </summary>
    public unsafe void Write(Mat bgr, Span<float> planes, int planeHeight, int planeWidth)
    {
        if (bgr.Type() != MatType.CV_8UC3)
        {
            throw new ArgumentException($"expected an 8-bit BGR image, got {bgr.Type()}", nameof(bgr));
        }
        int h = bgr.Rows, w = bgr.Cols;
        if (h > planeHeight || w > planeWidth)
        {
            throw new ArgumentException($"image {w}x{h} does not fit a {planeWidth}x{planeHeight} input", nameof(bgr));
        }
        var plane = planeHeight * planeWidth;
        if (planes.Length < 3 * plane)
        {
            throw new ArgumentException("buffer too small", nameof(planes));
        }
        var step = bgr.Step();
        var data = (byte*)bgr.DataPointer;
        fixed (float* lut = _lut)
        {
            for (var c = 0; c < 3; c++)
            {
                var dst = planes.Slice(c * plane, plane);
                var src = _sourceChannel[c];
                var table = lut + (c * 256);
                for (var y = 0; y < h; y++)
                {
                    var row = data + (y * step);
                    var outRow = dst.Slice(y * planeWidth, planeWidth);
                    for (var x = 0; x < w; x++)
                    {
                        outRow[x] = table[row[(x * 3) + src]];
                    }
                    outRow[w..].Clear();
                }
                dst[(h * planeWidth)..].Clear();
            }
        }
    }
}
