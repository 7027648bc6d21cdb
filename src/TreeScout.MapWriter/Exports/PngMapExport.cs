using OpenCvSharp;

namespace TreeScout.MapWriter.Exports;

/// <summary>
/// map.png: the printable map sheet of a run (<see cref="MapSheet"/>), A4 landscape at 150 dpi, the resolution
/// written into the file so a print dialog fits it to the page.
/// </summary>
public static class PngMapExport
{
    public const string FileName = "map.png";

    /// <summary>A4 landscape (297 × 210 mm) at <see cref="Dpi"/>.</summary>
    public const int Width = 1754;

    public const int Height = 1240;

    public const int Dpi = 150;

    public static IReadOnlyList<string> Write(RunSnapshot run, string directory)
    {
        var path = Path.Combine(directory, FileName);
        using var image = new MapSheet(run).Render();
        File.WriteAllBytes(path, PngResolution.WithDpi(image.ImEncode(".png"), Dpi));
        return [path];
    }
}
