using TreeScout.Contracts;

namespace TreeScout.Fusion.Geometry;

/// <summary>Where the tractor is and which way it faces at one instant (antenna phase centre, UTM).</summary>
public readonly record struct Pose(
    DateTimeOffset TimeUtc,
    double Easting,
    double Northing,
    double HeadingRad,
    double HeadingSigmaRad,
    double PositionSigmaM,
    double SpeedMps,
    GnssQuality Quality,
    string? Flag)
{
    public bool IsFlagged => Flag is not null;
}

/// <summary>
/// The pinhole camera of <see cref="CameraMounting"/> placed on a pose: antenna → camera lever arm in the vehicle frame
/// (x forward, y right, z up), optical axis yawed clockwise from the driving direction and pitched up, intrinsics of
/// the upright image. Tractor roll and pitch are not measured and taken as level.
/// </summary>
public sealed class CameraModel(CameraMounting mounting)
{
    private readonly double _yaw = Angles.Radians(mounting.YawDeg);
    private readonly double _pitch = Angles.Radians(mounting.PitchDeg);

    public CameraMounting Mounting => mounting;

    /// <summary>Camera optical centre: antenna position plus the lever arm turned by the heading; height above ground.</summary>
    public Vec3 Position(in Pose pose)
    {
        var (sin, cos) = Math.SinCos(pose.HeadingRad);
        var arm = mounting.LeverArm;
        return new Vec3(
            pose.Easting + arm.ForwardM * sin + arm.RightM * cos,
            pose.Northing + arm.ForwardM * cos - arm.RightM * sin,
            mounting.AntennaHeightM + arm.UpM);
    }

    /// <summary>Unit vectors forward (optical axis), right (image +u) and down (image +v) in the UTM frame.</summary>
    public (Vec3 Forward, Vec3 Right, Vec3 Down) Axes(in Pose pose)
    {
        var (sa, ca) = Math.SinCos(pose.HeadingRad + _yaw);
        var (sp, cp) = Math.SinCos(_pitch);
        return (new Vec3(sa * cp, ca * cp, sp), new Vec3(ca, -sa, 0), new Vec3(sa * sp, ca * sp, -cp));
    }

    /// <summary>The viewing ray through pixel (u, v) of the upright image: origin and unit direction.</summary>
    public (Vec3 Origin, Vec3 Direction) Ray(in Pose pose, double u, double v)
    {
        var (f, r, d) = Axes(pose);
        var direction = f + r * ((u - mounting.Cx) / mounting.Fx) + d * ((v - mounting.Cy) / mounting.Fy);
        return (Position(pose), direction.Normalized());
    }

    /// <summary>Pixel of a world point and its depth along the optical axis (negative = behind the camera).</summary>
    public (double U, double V, double Depth) Project(in Pose pose, Vec3 point)
    {
        var (f, r, d) = Axes(pose);
        var rel = point - Position(pose);
        var depth = rel.Dot(f);
        if (depth <= 1e-6)
        {
            return (double.NaN, double.NaN, depth);
        }
        return (mounting.Cx + mounting.Fx * rel.Dot(r) / depth, mounting.Cy + mounting.Fy * rel.Dot(d) / depth, depth);
    }

    public bool InImage(double u, double v, double margin) =>
        u >= -margin && v >= -margin && u <= mounting.ImageWidth + margin && v <= mounting.ImageHeight + margin;
}
