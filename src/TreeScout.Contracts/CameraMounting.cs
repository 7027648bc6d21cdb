namespace TreeScout.Contracts;

public enum CameraSide
{
    Left,
    Right,
}

/// <summary>
/// Where a camera sits on the tractor and how it looks, relative to the GNSS antenna (vehicle frame:
/// x forward, y to the right, z up). This is what turns a pixel into a point on the row.
/// </summary>
public sealed record CameraMounting
{
    public required string CameraId { get; init; }

    public required CameraSide Side { get; init; }

    /// <summary>Offset from antenna phase centre to the camera's optical centre, metres.</summary>
    public required LeverArm LeverArm { get; init; }

    /// <summary>Antenna phase centre above the ground, metres (camera height = this + LeverArm.UpM).</summary>
    public required double AntennaHeightM { get; init; }

    /// <summary>Optical axis relative to driving direction, degrees clockwise seen from above (right side ≈ +90, left ≈ −90).</summary>
    public required double YawDeg { get; init; }

    /// <summary>Optical axis tilt, degrees; positive looks up.</summary>
    public double PitchDeg { get; init; }

    /// <summary>
    /// How the camera body is rotated about its optical axis on the mount (0, 90, 180, 270 degrees clockwise).
    /// 180 = mounted upside down; frames are rotated back by this before detection.
    /// </summary>
    public int MountRotationDeg { get; init; }

    public required int ImageWidth { get; init; }

    public required int ImageHeight { get; init; }

    /// <summary>Pinhole intrinsics of the upright image, pixels.</summary>
    public required double Fx { get; init; }

    public required double Fy { get; init; }

    public required double Cx { get; init; }

    public required double Cy { get; init; }
}

/// <summary>Antenna-to-sensor offset in the vehicle frame, metres.</summary>
public sealed record LeverArm(double ForwardM, double RightM, double UpM);
