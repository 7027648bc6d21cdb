using OpenCvSharp;

namespace TreeScout.Simulation;

/// <summary>Procedural leaf-clump textures (BGRA): overlapping leaves in varied greens with veins, drawn once per run.</summary>
public sealed class LeafSprites : IDisposable
{
    public const int Variants = 12;
    private const int Side = 96;

    private readonly Mat[] _sprites;

    public LeafSprites(int seed)
    {
        _sprites = new Mat[Variants];
        for (var v = 0; v < Variants; v++)
        {
            var random = SimRandom.For(seed, "leaf-sprite", v);
            var sprite = new Mat(Side, Side, MatType.CV_8UC4, new Scalar(0, 0, 0, 0));
            var leaves = random.Next(14, 24);
            for (var k = 0; k < leaves; k++)
            {
                // Leaves inside a disc; later leaves cover earlier ones like a real clump.
                var r = Math.Sqrt(random.NextDouble()) * Side * 0.33;
                var a = random.NextDouble() * 2 * Math.PI;
                var centre = new Point(Side / 2 + (int)(r * Math.Cos(a)), Side / 2 + (int)(r * Math.Sin(a)));
                var length = random.Uniform(0.16, 0.26) * Side;
                var angle = random.Uniform(0, 180);
                var light = random.Uniform(0.55, 1.15);
                var colour = new Scalar(40 * light, random.Uniform(105, 150) * light, random.Uniform(45, 80) * light, 255);
                Cv2.Ellipse(sprite, new RotatedRect(new Point2f(centre.X, centre.Y), new Size2f(length, length * 0.45), (float)angle), colour, -1, LineTypes.AntiAlias);
                var dx = Math.Cos(angle * Math.PI / 180) * length * 0.45;
                var dy = Math.Sin(angle * Math.PI / 180) * length * 0.45;
                Cv2.Line(sprite, new Point(centre.X - dx, centre.Y - dy), new Point(centre.X + dx, centre.Y + dy), new Scalar(70 * light, 170 * light, 110 * light, 255), 1, LineTypes.AntiAlias);
            }
            _sprites[v] = sprite;
        }
    }

    public Mat Sprite(int variant) => _sprites[variant];

    public void Dispose()
    {
        foreach (var s in _sprites)
        {
            s.Dispose();
        }
    }
}

/// <summary>
/// Alpha-blends BGRA sprites into a BGR frame and records, per pixel, which blossom cluster is on top
/// (0 = background or an occluder), from which each cluster's visible fraction is counted.
/// </summary>
public static class Compositor
{
    /// <summary>Alpha at or above which a sprite pixel owns the pixel (for visibility counting).</summary>
    public const byte OwnershipAlpha = 128;

    /// <summary>
    /// Draws <paramref name="sprite"/> with its top-left corner at (x0, y0), brightness scaled by <paramref name="gain"/>.
    /// Returns how many of the sprite's own pixels are opaque (inside or outside the frame) when it is a labelled
    /// cluster (the denominator of its visible fraction), 0 for occluders.
    /// </summary>
    public static unsafe int Draw(Mat frame, Mat labels, Mat sprite, int x0, int y0, float gain, ushort label)
    {
        var sw = sprite.Width;
        var sh = sprite.Height;
        var sStep = (int)sprite.Step();
        var sBase = (byte*)sprite.DataPointer;
        var opaque = 0;
        if (label != 0)
        {
            for (var y = 0; y < sh; y++)
            {
                var a = sBase + y * sStep + 3;
                for (var x = 0; x < sw; x++, a += 4)
                {
                    opaque += *a >= OwnershipAlpha ? 1 : 0;
                }
            }
        }
        // Only the part of the sprite inside the frame is blended.
        var xStart = Math.Max(0, -x0);
        var xEnd = Math.Min(sw, frame.Width - x0);
        var yStart = Math.Max(0, -y0);
        var yEnd = Math.Min(sh, frame.Height - y0);
        var fStep = (int)frame.Step();
        var lStep = (int)labels.Step();
        var fBase = (byte*)frame.DataPointer;
        var lBase = (byte*)labels.DataPointer;
        var g = (int)(gain * 256);
        for (var y = yStart; y < yEnd; y++)
        {
            var s = sBase + y * sStep + xStart * 4;
            var d = fBase + (y0 + y) * fStep + (x0 + xStart) * 3;
            var l = (ushort*)(lBase + (y0 + y) * lStep) + x0 + xStart;
            for (var x = xStart; x < xEnd; x++, s += 4, d += 3, l++)
            {
                int a = s[3];
                if (a == 0)
                {
                    continue;
                }
                var weight = a + (a >> 7); // 255 -> 256: fully opaque pixels replace the background exactly
                var b0 = Math.Min(255, (s[0] * g) >> 8);
                var b1 = Math.Min(255, (s[1] * g) >> 8);
                var b2 = Math.Min(255, (s[2] * g) >> 8);
                d[0] = (byte)(d[0] + (((b0 - d[0]) * weight) >> 8));
                d[1] = (byte)(d[1] + (((b1 - d[1]) * weight) >> 8));
                d[2] = (byte)(d[2] + (((b2 - d[2]) * weight) >> 8));
                if (a >= OwnershipAlpha)
                {
                    *l = label;
                }
            }
        }
        return opaque;
    }

    /// <summary>Pixels on top per label (index = label).</summary>
    public static unsafe int[] CountLabels(Mat labels, int maxLabel)
    {
        var counts = new int[maxLabel + 1];
        var width = labels.Width;
        var height = labels.Height;
        var step = (int)labels.Step();
        var data = (byte*)labels.DataPointer;
        for (var y = 0; y < height; y++)
        {
            var l = (ushort*)(data + y * step);
            for (var x = 0; x < width; x++)
            {
                var v = l[x];
                if (v != 0 && v <= maxLabel)
                {
                    counts[v]++;
                }
            }
        }
        return counts;
    }
}
