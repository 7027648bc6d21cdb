using NetTopologySuite.Geometries;
using OpenCvSharp;
using TreeScout.Orchard;
using Point = OpenCvSharp.Point;

namespace TreeScout.MapWriter.Exports;

/// <summary>
/// A map panel of the sheet: the block drawn north up in its UTM metres, scaled to fit <see cref="Frame"/> inside a
/// margin kept free for row labels, the north arrow and the scale bar.
/// </summary>
public sealed class MapPanel
{
    /// <summary>Pixels between the frame and the block: room for row labels, north arrow and scale bar.</summary>
    public const int Padding = 70;

    private readonly UtmProjection _utm;
    private readonly Envelope _extent;
    private readonly double _offsetX;
    private readonly double _offsetY;

    /// <param name="extent">The block's extent in <paramref name="utm"/> metres (all tree zones).</param>
    public MapPanel(Rect frame, UtmProjection utm, Envelope extent)
    {
        Frame = frame;
        _utm = utm;
        _extent = extent;
        var inner = (W: frame.Width - (2.0 * Padding), H: frame.Height - (2.0 * Padding));
        PixelsPerMetre = Math.Min(inner.W / Math.Max(extent.Width, 1e-3), inner.H / Math.Max(extent.Height, 1e-3));
        _offsetX = frame.X + Padding + ((inner.W - (extent.Width * PixelsPerMetre)) / 2);
        _offsetY = frame.Y + Padding + ((inner.H - (extent.Height * PixelsPerMetre)) / 2);
    }

    public Rect Frame { get; }

    public double PixelsPerMetre { get; }

    /// <summary>The pixel a WGS84 position is drawn at.</summary>
    public Point ToPixel(double latitude, double longitude)
    {
        var (e, n) = _utm.ToUtm(latitude, longitude);
        return new Point(Math.Round(_offsetX + ((e - _extent.MinX) * PixelsPerMetre)), Math.Round(_offsetY + ((_extent.MaxY - n) * PixelsPerMetre)));
    }

    /// <summary>Direction of true north on the panel, radians clockwise from straight up (the meridian convergence).</summary>
    public double TrueNorth()
    {
        var (lat, lon) = _utm.ToWgs84(_extent.Centre.X, _extent.Centre.Y);
        return _utm.TrueNorthGridAzimuth(lat, lon, (_extent.Centre.X, _extent.Centre.Y));
    }
}
