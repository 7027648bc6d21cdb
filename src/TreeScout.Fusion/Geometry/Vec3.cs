namespace TreeScout.Fusion.Geometry;

/// <summary>A point or direction in the block's UTM frame: X east, Y north, Z up from the ground, metres.</summary>
public readonly record struct Vec3(double X, double Y, double Z)
{
    public static Vec3 operator +(Vec3 a, Vec3 b) => new(a.X + b.X, a.Y + b.Y, a.Z + b.Z);

    public static Vec3 operator -(Vec3 a, Vec3 b) => new(a.X - b.X, a.Y - b.Y, a.Z - b.Z);

    public static Vec3 operator *(Vec3 a, double k) => new(a.X * k, a.Y * k, a.Z * k);

    public double Dot(Vec3 b) => X * b.X + Y * b.Y + Z * b.Z;

    public double Length => Math.Sqrt(Dot(this));

    public double HorizontalLength => Math.Sqrt(X * X + Y * Y);

    public Vec3 Normalized() => this * (1 / Length);
}

/// <summary>Angles: azimuths are radians clockwise from grid north (atan2(east, north)).</summary>
public static class Angles
{
    public static double Azimuth(double east, double north) => Math.Atan2(east, north);

    /// <summary>Wraps to (-π, π].</summary>
    public static double Wrap(double radians)
    {
        var r = Math.IEEERemainder(radians, 2 * Math.PI);
        return r <= -Math.PI ? r + 2 * Math.PI : r;
    }

    public static double Degrees(double radians) => radians * 180 / Math.PI;

    public static double Radians(double degrees) => degrees * Math.PI / 180;

    /// <summary>a + (b − a)·f along the shorter way round.</summary>
    public static double Lerp(double a, double b, double f) => a + Wrap(b - a) * f;
}
