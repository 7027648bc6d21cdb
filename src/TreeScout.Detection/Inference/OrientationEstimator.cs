using OpenCvSharp;

namespace TreeScout.Detection.Inference;

/// <summary>What one frame suggests about the camera's roll: the extra clockwise rotation that would make it upright.</summary>
public readonly record struct OrientationEvidence(int SuspectedRotationDeg, double Confidence);

/// <summary>
/// Sky-and-soil test for a side-looking orchard camera: in an upright frame the brightest, least saturated, bluest band
/// (sky, or bright canopy against the sky) is at the top and the darker, browner band (soil, trunks) at the bottom.
/// The border band that looks most like sky tells which way is up. Cheap: it runs on a 64×64 thumbnail.
/// The detector itself cannot tell (clusters look the same upside down, and it is trained rotation-invariant).
/// </summary>
public sealed class OrientationEstimator : IDisposable
{
    private const int Thumb = 64;
    private const int Band = 16; // a quarter of the thumbnail

    /// <summary>Sky-minus-soil contrast at which the evidence counts as certain (fraction of full scale).</summary>
    private const double FullContrast = 0.12;

    private readonly Mat _thumb = new();

    public OrientationEvidence Estimate(Mat uprightBgr)
    {
        Cv2.Resize(uprightBgr, _thumb, new Size(Thumb, Thumb), 0, 0, InterpolationFlags.Area);
        double top = 0, bottom = 0, left = 0, right = 0;
        for (var y = 0; y < Thumb; y++)
        {
            for (var x = 0; x < Thumb; x++)
            {
                var s = Skyness(_thumb.At<Vec3b>(y, x));
                if (y < Band)
                {
                    top += s;
                }
                else if (y >= Thumb - Band)
                {
                    bottom += s;
                }
                if (x < Band)
                {
                    left += s;
                }
                else if (x >= Thumb - Band)
                {
                    right += s;
                }
            }
        }
        const double n = Band * Thumb;
        (top, bottom, left, right) = (top / n, bottom / n, left / n, right / n);
        var vertical = top - bottom;   // > 0: upright
        var horizontal = left - right; // > 0: sky on the left, needs a clockwise quarter turn
        var major = Math.Max(Math.Abs(vertical), Math.Abs(horizontal));
        var minor = Math.Min(Math.Abs(vertical), Math.Abs(horizontal));
        if (major < 1e-6)
        {
            return new OrientationEvidence(0, 0);
        }
        var rotation = Math.Abs(vertical) >= Math.Abs(horizontal)
            ? (vertical >= 0 ? 0 : 180)
            : (horizontal > 0 ? 90 : 270);
        // Strong contrast along one axis and little along the other: confident.
        var confidence = Math.Min(1.0, major / FullContrast) * (1.0 - (minor / major));
        return new OrientationEvidence(rotation, Math.Round(confidence, 3));
    }

    /// <summary>Brightness minus saturation plus blue excess, 0..~1.5: high for sky and sunlit petals, low for soil, bark, leaves.</summary>
    private static double Skyness(Vec3b bgr)
    {
        double b = bgr.Item0 / 255.0, g = bgr.Item1 / 255.0, r = bgr.Item2 / 255.0;
        var max = Math.Max(b, Math.Max(g, r));
        var min = Math.Min(b, Math.Min(g, r));
        var saturation = max <= 0 ? 0 : (max - min) / max;
        return max - (0.5 * saturation) + (0.5 * Math.Max(0, b - r));
    }

    public void Dispose() => _thumb.Dispose();
}
