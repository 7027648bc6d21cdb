using TreeScout.Contracts;

namespace TreeScout.Simulation;

/// <summary>
/// A mounted camera at one vehicle pose: optical centre = antenna + lever arm (vehicle frame x forward, y right,
/// z up; flat ground, no roll or pitch of the tractor), optical axis turned by yaw and pitch, ideal pinhole with
/// the intrinsics of camera.json (upright, undistorted image). OpenCV camera axes: X right, Y down, Z forward.
/// </summary>
public sealed class PinholeCamera
{
    private readonly CameraMounting _mount;

    public PinholeCamera(CameraMounting mount, VehiclePose pose)
    {
        _mount = mount;
        var h = pose.HeadingRad;
        var forward = new Enu(Math.Sin(h), Math.Cos(h), 0);
        var right = new Enu(Math.Cos(h), -Math.Sin(h), 0);
        Centre = pose.Antenna + mount.LeverArm.ForwardM * forward + mount.LeverArm.RightM * right + new Enu(0, 0, mount.LeverArm.UpM);
        var azimuth = h + mount.YawDeg * Math.PI / 180;
        var pitch = mount.PitchDeg * Math.PI / 180;
        Z = new Enu(Math.Sin(azimuth) * Math.Cos(pitch), Math.Cos(azimuth) * Math.Cos(pitch), Math.Sin(pitch));
        X = new Enu(Math.Cos(azimuth), -Math.Sin(azimuth), 0);
        Y = new Enu(-Z.U * X.N, Z.U * X.E, Z.E * X.N - Z.N * X.E);
        AzimuthDeg = (azimuth * 180 / Math.PI % 360 + 360) % 360;
    }

    public CameraMounting Mount => _mount;

    public Enu Centre { get; }

    public Enu X { get; }

    public Enu Y { get; }

    public Enu Z { get; }

    /// <summary>Compass direction of the optical axis, degrees.</summary>
    public double AzimuthDeg { get; }

    public int Width => _mount.ImageWidth;

    public int Height => _mount.ImageHeight;

    /// <summary>Camera coordinates of a world point (metres; Z = depth along the optical axis).</summary>
    public (double X, double Y, double Z) ToCamera(Enu p)
    {
        var d = p - Centre;
        return (d.Dot(X), d.Dot(Y), d.Dot(Z));
    }

    /// <summary>Pixel of a world point and its depth; depth ≤ 0 means behind the camera.</summary>
    public (double U, double V, double Depth) Project(Enu p)
    {
        var (x, y, z) = ToCamera(p);
        return (_mount.Fx * x / z + _mount.Cx, _mount.Fy * y / z + _mount.Cy, z);
    }

    /// <summary>The simulator's rig: side cameras on a mast behind the cab, looking square to the rows, slightly up.</summary>
    public static IReadOnlyList<CameraMounting> Rig(SimulationOptions o)
    {
        var f = 500.0 * o.ImageWidth / 1280;
        CameraMounting Camera(string id, CameraSide side) => new()
        {
            CameraId = id,
            Side = side,
            LeverArm = new LeverArm(-0.6, side == CameraSide.Right ? 0.25 : -0.25, -1.1),
            AntennaHeightM = 2.7,
            YawDeg = side == CameraSide.Right ? 90 : -90,
            PitchDeg = 3,
            MountRotationDeg = o.MountRotationDeg ?? o.CameraRotationDeg,
            ImageWidth = o.ImageWidth,
            ImageHeight = o.ImageHeight,
            Fx = f,
            Fy = f,
            Cx = o.ImageWidth / 2.0,
            Cy = o.ImageHeight / 2.0,
        };
        return o.Cameras switch
        {
            CameraSetup.Left => [Camera("cam-left", CameraSide.Left)],
            CameraSetup.Right => [Camera("cam-right", CameraSide.Right)],
            _ => [Camera("cam-left", CameraSide.Left), Camera("cam-right", CameraSide.Right)],
        };
    }
}
