using OpenCvSharp;
using TreeScout.Detection.Inference;
using TreeScout.Tests;

namespace TreeScout.Detection.Tests;

[Trait("Category", "Unit")]
public class OrientationEstimatorTests
{
    /// <summary>
    /// What a camera mounted at <paramref name="mount"/> degrees delivers for an upright scene: the inverse of
    /// <see cref="FrameImage.Upright"/> (checked by <see cref="Upright_undoes_the_simulated_mount"/>).
    /// </summary>
    private static Mat SensorImage(Mat upright, int mount)
    {
        var sensor = new Mat();
        switch (mount)
        {
            case 0:
                upright.CopyTo(sensor);
                break;
            case 90:
                Cv2.Rotate(upright, sensor, RotateFlags.Rotate90Counterclockwise);
                break;
            case 180:
                Cv2.Rotate(upright, sensor, RotateFlags.Rotate180);
                break;
            default:
                Cv2.Rotate(upright, sensor, RotateFlags.Rotate90Clockwise);
                break;
        }
        return sensor;
    }

    [Theory]
    [InlineData("Tree_9_East_b.png", 0)]
    [InlineData("Tree_9_East_b.png", 90)]
    [InlineData("Tree_9_East_b.png", 180)]
    [InlineData("Tree_9_East_b.png", 270)]
    [InlineData("Tree_9_East_c.png", 180)]
    [InlineData("Tree_9_East_d.png", 180)]
    public void Real_orchard_photo_reveals_how_the_camera_is_mounted(string photo, int mount)
    {
        using var upright = Cv2.ImRead(RepoPaths.SharedData("orchard-frames", photo));
        using var sensor = SensorImage(upright, mount);
        using var estimator = new OrientationEstimator();
        var evidence = estimator.Estimate(sensor);
        Assert.Equal(mount, evidence.SuspectedRotationDeg);
        Assert.InRange(evidence.Confidence, 0.3, 1.0);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(90)]
    [InlineData(180)]
    [InlineData(270)]
    public void Upright_undoes_the_simulated_mount(int mount)
    {
        using var upright = Cv2.ImRead(RepoPaths.SharedData("orchard-frames", "Tree_9_East_b.png"));
        using var sensor = SensorImage(upright, mount);
        var back = FrameImage.Upright(sensor, mount);
        try
        {
            Assert.Equal((upright.Cols, upright.Rows), (back.Cols, back.Rows));
            Assert.Equal(0, Cv2.Norm(upright, back, NormTypes.L1));
        }
        finally
        {
            if (!ReferenceEquals(back, sensor))
            {
                back.Dispose();
            }
        }
    }

    [Theory]
    [InlineData(90)]
    [InlineData(180)]
    [InlineData(270)]
    public void Boxes_map_back_to_the_sensor_image(int mount)
    {
        // A bright square in the sensor image must be where the mapped-back box says.
        using var upright = new Mat(300, 500, MatType.CV_8UC3, Scalar.All(0));
        Cv2.Rectangle(upright, new Rect(40, 60, 30, 20), Scalar.All(255), -1);
        using var sensor = SensorImage(upright, mount);
        var box = FrameImage.ToSensorBox(new Contracts.BlossomDetection
        {
            X = 40, Y = 60, W = 30, H = 20, Score = 1, Stage = Contracts.BbchStage.Bbch65, StageProbabilities = new float[10],
        }, mount, upright.Cols, upright.Rows);
        using var gray = sensor.CvtColor(ColorConversionCodes.BGR2GRAY);
        var bright = Cv2.BoundingRect(gray.FindNonZero());
        Assert.Equal((bright.X, bright.Y, bright.Width, bright.Height), ((int)box.X, (int)box.Y, (int)box.W, (int)box.H));
    }
}
