using TreeScout.Contracts;

namespace TreeScout.Detection.Inference;

/// <summary>Boxes between a frame's canopy band (the rows the detector saw) and the whole upright frame.</summary>
public static class CanopyBands
{
    /// <summary>A box in the band's pixels as a box in the frame's: moved down by the band's top row.</summary>
    public static ClusterBox ToFrame(ClusterBox box, ImageRows? band) => band is { } b ? box with { Y = box.Y + b.Top } : box;

    /// <summary>Why a band cannot be applied to an upright frame of <paramref name="height"/> rows; null when it fits.</summary>
    public static string? Problem(ImageRows band, int height) =>
        band.Top >= 0 && band.Top < band.Bottom && band.Bottom <= height
            ? null
            : $"canopy band rows {band.Top}..{band.Bottom} do not fit the upright frame's {height} rows";
}
