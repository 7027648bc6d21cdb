using System.Text.Json.Nodes;
using TreeScout.Contracts;
using TreeScout.Tests;

namespace TreeScout.Orchard.Tests;

/// <summary>camera.json is checked field by field; a file that cannot be used is refused with the file, the camera and the field named (issue 19).</summary>
[Trait("Category", "Unit")]
public sealed class CameraRigTests
{
    private const string Source = "rig/camera.json";

    private static JsonObject Camera(string id = "cam-left", string side = "left", double yaw = -90) => new()
    {
        ["cameraId"] = id,
        ["side"] = side,
        ["leverArm"] = new JsonObject { ["forwardM"] = -0.5, ["rightM"] = -0.9, ["upM"] = -1.3 },
        ["antennaHeightM"] = 2.9,
        ["yawDeg"] = yaw,
        ["pitchDeg"] = 5,
        ["mountRotationDeg"] = 180,
        ["imageWidth"] = 1280,
        ["imageHeight"] = 720,
        ["fx"] = 900.0,
        ["fy"] = 905.0,
        ["cx"] = 640.0,
        ["cy"] = 360.0,
    };

    private static string Rig(params JsonObject[] cameras) => new JsonObject { ["cameras"] = new JsonArray([.. cameras]) }.ToJsonString();

    private static JsonObject With(JsonObject camera, string field, JsonNode? value)
    {
        camera[field] = value;
        return camera;
    }

    private static JsonObject Without(JsonObject camera, string field)
    {
        camera.Remove(field);
        return camera;
    }

    [Fact]
    public void A_rig_of_two_cameras_parses_with_every_field()
    {
        var rig = CameraRig.Parse(Rig(Camera(), Camera("cam-right", "right", 90)), Source);

        Assert.Equal(2, rig.Cameras.Count);
        var left = rig.Cameras[0];
        Assert.Equal(("cam-left", CameraSide.Left, -90.0, 5.0, 180), (left.CameraId, left.Side, left.YawDeg, left.PitchDeg, left.MountRotationDeg));
        Assert.Equal(new LeverArm(-0.5, -0.9, -1.3), left.LeverArm);
        Assert.Equal((2.9, 1280, 720, 900.0, 905.0, 640.0, 360.0), (left.AntennaHeightM, left.ImageWidth, left.ImageHeight, left.Fx, left.Fy, left.Cx, left.Cy));
        Assert.Equal(CameraSide.Right, rig.Cameras[1].Side);
    }

    [Fact]
    public void Pitch_and_mount_rotation_may_be_left_out_and_are_then_zero()
    {
        var camera = Assert.Single(CameraRig.Parse(Rig(Without(Without(Camera(), "pitchDeg"), "mountRotationDeg")), Source).Cameras);

        Assert.Equal((0.0, 0), (camera.PitchDeg, camera.MountRotationDeg));
    }

    [Fact]
    public void What_the_simulator_and_the_recorder_write_reads_back_unchanged()
    {
        var sample = new Recording(Path.Combine(RepoPaths.Samples, "betuwe-rtk-2x12"));
        var written = Path.Combine(Path.GetTempPath(), $"treescout-rig-{Guid.NewGuid():N}");
        Directory.CreateDirectory(written);
        try
        {
            var rig = sample.ReadCameras();
            new Recording(written).WriteCameras(rig);

            Assert.Equal(rig.Cameras, new Recording(written).ReadCameras().Cameras);
        }
        finally
        {
            Directory.Delete(written, recursive: true);
        }
    }

    public static TheoryData<string, string> BadRigs => new()
    {
        { "{ \"cameras\": [", "not JSON: " },
        { "[]", "expected {\"cameras\": [...]} with at least one camera" },
        { Rig(), "expected {\"cameras\": [...]} with at least one camera" },
        { "{\"cameras\": [42]}", "camera 1: expected an object, got 42" },
        // Before: a missing required field was an unhandled JsonException (exit 134); one in leverArm was silently 0.
        { Rig(Camera(), Without(Camera("cam-right", "right", 90), "fx")), "camera \"cam-right\": fx is missing" },
        { Rig(Without(Camera(), "cameraId")), "camera 1: cameraId is missing" },
        { Rig(With(Camera(), "leverArm", new JsonObject { ["forwardM"] = -0.5, ["rightM"] = -0.9 })), "camera \"cam-left\": leverArm.upM is missing" },
        { Rig(With(Camera(), "leverArm", 1.3)), "camera \"cam-left\": leverArm must be an object {\"forwardM\", \"rightM\", \"upM\"} in metres" },
        // Before: fx = 0 was accepted and the run mapped 0 clusters, exit 0.
        { Rig(With(Camera(), "fx", 0)), "camera \"cam-left\": fx must be > 0 (got 0)" },
        { Rig(With(Camera(), "fy", -900)), "camera \"cam-left\": fy must be > 0 (got -900)" },
        { Rig(With(Camera(), "fx", "900")), "camera \"cam-left\": fx must be a number (got \"900\")" },
        { Rig(With(Camera(), "cx", 1500)), "camera \"cam-left\": cx must lie within the image, 0 to imageWidth 1280 (got 1500)" },
        { Rig(With(Camera(), "cy", -1)), "camera \"cam-left\": cy must lie within the image, 0 to imageHeight 720 (got -1)" },
        { Rig(With(Camera(), "imageWidth", 0)), "camera \"cam-left\": imageWidth must be > 0 pixels (got 0)" },
        { Rig(With(Camera(), "imageHeight", 720.5)), "camera \"cam-left\": imageHeight must be a whole number (got 720.5)" },
        { Rig(With(Camera(), "side", "top")), "camera \"cam-left\": side must be \"left\" or \"right\" (got \"top\")" },
        { Rig(With(Camera(), "side", 1)), "camera \"cam-left\": side must be a string (got 1)" },
        // A left camera copied from the right one's block: every cluster would land on the wrong row.
        { Rig(Camera(yaw: 90)), "camera \"cam-left\": yawDeg must look to the camera's side \"left\" (right: between 0 and 180, about 90; left: between -180 and 0, about -90) (got 90)" },
        { Rig(Camera("cam-right", "right", -90)), "camera \"cam-right\": yawDeg must look to the camera's side \"right\"" },
        { Rig(Camera(yaw: 5000)), "camera \"cam-left\": yawDeg must be between -360 and 360 (got 5000)" },
        { Rig(With(Camera(), "pitchDeg", 90)), "camera \"cam-left\": pitchDeg must be between -90 and 90 (got 90)" },
        { Rig(With(Camera(), "mountRotationDeg", 45)), "camera \"cam-left\": mountRotationDeg must be 0, 90, 180 or 270 (got 45)" },
        { Rig(With(Camera(), "antennaHeightM", 0)), "camera \"cam-left\": antennaHeightM must be > 0 and at most 10 m (got 0)" },
        { Rig(With(Camera(), "antennaHeightM", 1.0)), "camera \"cam-left\": the camera would be -0.3 m above the ground (antennaHeightM 1 + leverArm.upM -1.3); it must be above it" },
        { Rig(With(Camera(), "leverArm", new JsonObject { ["forwardM"] = -50, ["rightM"] = -0.9, ["upM"] = -1.3 })), "camera \"cam-left\": leverArm.forwardM must be between -10 and 10 m (got -50)" },
        { Rig(Camera("cam left")), "camera 1: cameraId must be 1-40 letters, digits, '.', '_' or '-' (got \"cam left\")" },
        { Rig(Camera(), Camera()), "camera \"cam-left\" is listed twice" },
    };

    [Theory]
    [MemberData(nameof(BadRigs))]
    public void A_camera_file_that_cannot_be_used_is_refused_naming_the_file_the_camera_and_the_field(string json, string problem)
    {
        var ex = Assert.Throws<CameraRigException>(() => CameraRig.Parse(json, Source));

        Assert.StartsWith($"{Source}: {problem}", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public void A_recordings_camera_file_is_named_by_its_path()
    {
        var directory = Directory.CreateTempSubdirectory("treescout-rig-").FullName;
        try
        {
            var recording = new Recording(directory);
            File.WriteAllText(recording.PathOf(Recording.CameraFile), Rig(With(Camera(), "fx", 0)));

            var ex = Assert.Throws<CameraRigException>(recording.ReadCameras);

            Assert.Equal($"{recording.PathOf(Recording.CameraFile)}: camera \"cam-left\": fx must be > 0 (got 0)", ex.Message);
            File.Delete(recording.PathOf(Recording.CameraFile));
            Assert.StartsWith($"{recording.PathOf(Recording.CameraFile)}: cannot read camera file: ", Assert.Throws<CameraRigException>(recording.ReadCameras).Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
