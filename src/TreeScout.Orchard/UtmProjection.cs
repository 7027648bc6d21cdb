using ProjNet.CoordinateSystems;
using ProjNet.CoordinateSystems.Transformations;

namespace TreeScout.Orchard;

/// <summary>WGS84 ⇄ the block's UTM zone (ProjNET), so all geometry is done in metres.</summary>
public sealed class UtmProjection
{
    private readonly MathTransform _toUtm;
    private readonly MathTransform _toWgs84;

    public UtmProjection(int zone, bool north)
    {
        if (zone is < 1 or > 60)
        {
            throw new ArgumentOutOfRangeException(nameof(zone), zone, "UTM zones are 1..60.");
        }
        Zone = zone;
        North = north;
        var utm = ProjectedCoordinateSystem.WGS84_UTM(zone, north);
        var transform = new CoordinateTransformationFactory().CreateFromCoordinateSystems(GeographicCoordinateSystem.WGS84, utm);
        _toUtm = transform.MathTransform;
        _toWgs84 = transform.MathTransform.Inverse();
    }

    public int Zone { get; }

    public bool North { get; }

    /// <summary>EPSG code of the zone, e.g. 32631 for 31N.</summary>
    public int Epsg => (North ? 32600 : 32700) + Zone;

    /// <summary>The zone a point lies in (standard zones; the Norway/Svalbard exceptions are irrelevant for orchards we know).</summary>
    public static UtmProjection For(double latitude, double longitude) =>
        new((int)Math.Floor((longitude + 180) / 6) % 60 + 1, latitude >= 0);

    public (double Easting, double Northing) ToUtm(double latitude, double longitude)
    {
        var (x, y) = _toUtm.Transform(longitude, latitude);
        return (x, y);
    }

    /// <summary>
    /// The grid azimuth of true north at a point (radians, clockwise from the zone's grid north; the meridian convergence,
    /// up to ~3° at the edge of a zone in mid latitudes): a true heading or course plus this is the same direction in the grid.
    /// <paramref name="grid"/> is the point's <see cref="ToUtm"/>, which callers already have.
    /// </summary>
    public double TrueNorthGridAzimuth(double latitude, double longitude, (double Easting, double Northing) grid)
    {
        var (e1, n1) = ToUtm(latitude + 1e-4, longitude);
        return Math.Atan2(e1 - grid.Easting, n1 - grid.Northing);
    }

    public (double Latitude, double Longitude) ToWgs84(double easting, double northing)
    {
        var (lon, lat) = _toWgs84.Transform(easting, northing);
        return (lat, lon);
    }
}
