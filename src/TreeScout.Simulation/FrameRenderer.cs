using OpenCvSharp;

namespace TreeScout.Simulation;

/// <summary>A blossom cluster's box in an upright frame (the full projected blossom, clipped to the image) and how much of it is visible.</summary>
public sealed record ClusterBox(SimCluster Cluster, int X, int Y, int W, int H, double VisibleFraction);

/// <summary>Conditions of one exposure: scene brightness (clouds), motion blur length, and the seed of its sensor noise.</summary>
public sealed record FrameConditions(double LightGain, double MotionBlurPx, int NoiseSeed);

/// <summary>Per-thread scratch images, reused frame after frame.</summary>
public sealed class RenderBuffers(int width, int height) : IDisposable
{
    public Mat Frame { get; } = new(height, width, MatType.CV_8UC3);

    public Mat Labels { get; } = new(height, width, MatType.CV_16UC1);

    /// <summary>
    /// Sprites already scaled to a size (key: sprite, width in pixels): a leaf clump or cluster recurs at nearly the same
    /// size in frame after frame. Keys: leaf variant ≥ 0, crop index as −1 − index.
    /// </summary>
    internal Dictionary<(int Sprite, int Width), Mat> SpriteCache { get; } = [];

    internal List<Drawable> Drawables { get; } = [];

    public void Dispose()
    {
        Frame.Dispose();
        Labels.Dispose();
        foreach (var m in SpriteCache.Values)
        {
            m.Dispose();
        }
    }
}

internal enum DrawableKind : byte
{
    Wood,
    Leaf,
    Cluster,
}

internal readonly record struct Drawable(double Depth, DrawableKind Kind, SimTree Tree, int Item);

/// <summary>
/// Renders what a side-looking camera sees at a pose: sky with clouds and a distant treeline, perspective ground
/// (grass alleys, bare tree strips), then every trunk, branch, leaf clump and blossom cluster within range drawn
/// far-to-near (painter's order), clusters from the real crops scaled to their projected size. Then light, motion
/// blur, sensor noise, the camera's mount rotation and JPEG. Also reports each cluster's box and visible fraction.
/// </summary>
public sealed class FrameRenderer : IDisposable
{
    /// <summary>Objects farther than this along the optical axis are not drawn (the next row but one is haze and treeline).</summary>
    public const double MaxDepthM = 9.0;

    /// <summary>Clusters with less than this share visible are left out of a frame's boxes.</summary>
    public const double MinBoxVisibleFraction = 0.1;

    /// <summary>Leaf clumps farther than this (the rows behind the scanned one) are drawn with less detail.</summary>
    public const double FarDetailDepthM = 3.5;

    /// <summary>Exposure time: bright daylight, 1/250 s.</summary>
    public const double ExposureS = 0.004;

    private const int TextureSide = 512;
    private const double TexelsPerM = 220;
    private const int NoiseMargin = 64;

    private readonly SimBlock _block;
    private readonly CropLibrary _crops;
    private readonly LeafSprites _leaves;
    private readonly Mat _grass;
    private readonly Mat _soil;
    private readonly Mat _clouds;
    private readonly double[] _treeline;
    private readonly Mat _noisePlus;
    private readonly Mat _noiseMinus;
    private readonly Enu _sun;

    public FrameRenderer(SimBlock block, CropLibrary crops, LeafSprites leaves, int width, int height)
    {
        _block = block;
        _crops = crops;
        _leaves = leaves;
        var seed = block.Options.Seed;
        _grass = Texture(seed, "grass", TextureSide, TextureSide, (55, 120, 75), (20, 35, 25), 3);
        _soil = Texture(seed, "soil", TextureSide, TextureSide, (60, 85, 105), (18, 20, 22), 2);
        _clouds = Texture(seed, "clouds", 2048, 256, (0, 0, 0), (60, 60, 60), 25);
        var random = SimRandom.For(seed, "treeline");
        _treeline = new double[2048];
        var phase = random.Uniform(0, 100);
        for (var i = 0; i < _treeline.Length; i++)
        {
            var a = i * 2 * Math.PI / _treeline.Length;
            _treeline[i] = 0.045 + 0.02 * Math.Sin(7 * a + phase) + 0.012 * Math.Sin(23 * a + 2 * phase) + 0.006 * Math.Sin(71 * a);
        }
        (_noisePlus, _noiseMinus) = SensorNoise(seed, width + NoiseMargin, height + NoiseMargin);
        // Morning sun from the east-south-east, 35° up.
        _sun = new Enu(Math.Sin(110 * Math.PI / 180), Math.Cos(110 * Math.PI / 180), 0);
    }

    public (byte[] Jpeg, IReadOnlyList<ClusterBox> Boxes) Render(PinholeCamera camera, FrameConditions conditions, RenderBuffers buffers, int rotationDeg, int jpegQuality)
    {
        var frame = buffers.Frame;
        var labels = buffers.Labels;
        labels.SetTo(Scalar.All(0));
        DrawBackground(camera, frame);
        var drawn = DrawScene(camera, buffers);
        var counts = Compositor.CountLabels(labels, drawn.Count);

        frame.ConvertTo(frame, -1, conditions.LightGain, 0);
        var blur = (int)Math.Round(conditions.MotionBlurPx);
        if (blur >= 2)
        {
            Cv2.Blur(frame, frame, new Size(blur, 1));
        }
        var noise = new Random(conditions.NoiseSeed);
        var roi = new Rect(noise.Next(NoiseMargin), noise.Next(NoiseMargin), frame.Width, frame.Height);
        using (var plus = new Mat(_noisePlus, roi))
        using (var minus = new Mat(_noiseMinus, roi))
        {
            Cv2.Add(frame, plus, frame);
            Cv2.Subtract(frame, minus, frame);
        }
        if (rotationDeg == 180)
        {
            Cv2.Flip(frame, frame, FlipMode.XY);
        }
        Cv2.ImEncode(".jpg", frame, out var jpeg, new ImageEncodingParam(ImwriteFlags.JpegQuality, jpegQuality));

        var boxes = new List<ClusterBox>();
        for (var i = 0; i < drawn.Count; i++)
        {
            var (cluster, box, opaque) = drawn[i];
            var visible = opaque > 0 ? (double)counts[i + 1] / opaque : 0;
            var clipped = box.Intersect(new Rect(0, 0, camera.Width, camera.Height));
            if (visible >= MinBoxVisibleFraction && clipped.Width > 0 && clipped.Height > 0)
            {
                boxes.Add(new ClusterBox(cluster, clipped.X, clipped.Y, clipped.Width, clipped.Height, Math.Round(visible, 3)));
            }
        }
        return (jpeg, boxes);
    }

    private List<(SimCluster Cluster, Rect Box, int Opaque)> DrawScene(PinholeCamera camera, RenderBuffers buffers)
    {
        var drawables = buffers.Drawables;
        drawables.Clear();
        var halfWidth = camera.Width / 2.0 / camera.Mount.Fx;
        var range = MaxDepthM * Math.Sqrt(1 + halfWidth * halfWidth) + 1.5;
        foreach (var tree in _block.Trees)
        {
            if (!tree.Present || (tree.TrunkPosition - camera.Centre).HorizontalLength > range)
            {
                continue;
            }
            var (x, _, z) = camera.ToCamera(tree.TrunkPosition);
            if (z < -1.0 || z > MaxDepthM + 1 || Math.Abs(x) > Math.Max(z, 0) * halfWidth + 1.5)
            {
                continue;
            }
            for (var i = 0; i < tree.Wood.Count; i++)
            {
                var w = tree.Wood[i];
                drawables.Add(new Drawable(camera.ToCamera(0.5 * (w.A + w.B)).Z, DrawableKind.Wood, tree, i));
            }
            for (var i = 0; i < tree.Leaves.Count; i++)
            {
                drawables.Add(new Drawable(camera.ToCamera(tree.Leaves[i].Centre).Z, DrawableKind.Leaf, tree, i));
            }
            for (var i = 0; i < tree.Clusters.Count; i++)
            {
                drawables.Add(new Drawable(camera.ToCamera(tree.Clusters[i].Position).Z, DrawableKind.Cluster, tree, i));
            }
        }
        // Far to near; ties broken by kind and index so the order (and the image) is deterministic.
        drawables.Sort((a, b) => b.Depth != a.Depth ? b.Depth.CompareTo(a.Depth) : a.Kind != b.Kind ? a.Kind.CompareTo(b.Kind) : a.Item.CompareTo(b.Item));

        var faceLight = 0.85 + 0.25 * Math.Max(0, -(camera.Z.E * _sun.E + camera.Z.N * _sun.N));
        var drawn = new List<(SimCluster, Rect, int)>();
        foreach (var d in drawables)
        {
            if (d.Depth < 0.25 || d.Depth > MaxDepthM)
            {
                continue;
            }
            switch (d.Kind)
            {
                case DrawableKind.Wood:
                    DrawWood(camera, buffers, d.Tree.Wood[d.Item], faceLight);
                    break;
                case DrawableKind.Leaf:
                    // Beyond the scanned row, half the clumps at 1.4x the size cover the same area at half the cost.
                    var far = d.Depth > FarDetailDepthM;
                    if (far && d.Item % 2 == 1)
                    {
                        break;
                    }
                    var leaf = d.Tree.Leaves[d.Item];
                    DrawSprite(camera, buffers, _leaves.Sprite(leaf.Variant), leaf.Centre, leaf.SizeM * (far ? 1.4 : 1.0), leaf.Gain * faceLight * Haze(d.Depth), 0, leaf.Variant);
                    break;
                case DrawableKind.Cluster:
                    var cluster = d.Tree.Clusters[d.Item];
                    if (drawn.Count >= ushort.MaxValue - 1)
                    {
                        break;
                    }
                    // The crop's feathered ellipse spans 80 % of the sprite: scale so the ellipse is the cluster's diameter.
                    var placed = DrawSprite(camera, buffers, _crops.Sprite(cluster.CropIndex), cluster.Position, cluster.DiameterM / 0.8,
                        cluster.Gain * faceLight * Haze(d.Depth), (ushort)(drawn.Count + 1), -1 - cluster.CropIndex);
                    if (placed is { } p)
                    {
                        var box = new Rect(p.Box.X + (int)Math.Round(p.Box.Width * 0.1), p.Box.Y + (int)Math.Round(p.Box.Height * 0.1),
                            (int)Math.Round(p.Box.Width * 0.8), (int)Math.Round(p.Box.Height * 0.8));
                        drawn.Add((cluster, box, p.Opaque));
                    }
                    break;
            }
        }
        return drawn;
    }

    /// <summary>Far objects lose contrast a little (aerial perspective over a few metres is mild).</summary>
    private static double Haze(double depth) => 1.0 - 0.03 * Math.Max(0, depth - 2);

    private static (Rect Box, int Opaque)? DrawSprite(PinholeCamera camera, RenderBuffers buffers, Mat sprite, Enu centre, double sizeM, double gain, ushort label, int cacheKey)
    {
        var (u, v, z) = camera.Project(centre);
        var side = sizeM * camera.Mount.Fx / z;
        if (side < 2)
        {
            return null;
        }
        var aspect = (double)sprite.Height / sprite.Width;
        var w = Math.Max(2, (int)Math.Round(sprite.Width >= sprite.Height ? side : side / aspect));
        var h = Math.Max(2, (int)Math.Round(w * aspect));
        var x0 = (int)Math.Round(u - w / 2.0);
        var y0 = (int)Math.Round(v - h / 2.0);
        if (x0 >= camera.Width || y0 >= camera.Height || x0 + w <= 0 || y0 + h <= 0)
        {
            return null;
        }
        if (!buffers.SpriteCache.TryGetValue((cacheKey, w), out var scaled))
        {
            scaled = new Mat();
            Cv2.Resize(sprite, scaled, new Size(w, h), 0, 0, w < sprite.Width ? InterpolationFlags.Area : InterpolationFlags.Linear);
            buffers.SpriteCache[(cacheKey, w)] = scaled;
        }
        var opaque = Compositor.Draw(buffers.Frame, buffers.Labels, scaled, x0, y0, (float)gain, label);
        return (new Rect(x0, y0, w, h), opaque);
    }

    private static void DrawWood(PinholeCamera camera, RenderBuffers buffers, WoodSegment wood, double light)
    {
        var a = camera.Project(wood.A);
        var b = camera.Project(wood.B);
        if (a.Depth < 0.2 || b.Depth < 0.2)
        {
            return;
        }
        var ra = Math.Max(0.6, wood.RadiusA * camera.Mount.Fx / a.Depth);
        var rb = Math.Max(0.5, wood.RadiusB * camera.Mount.Fx / b.Depth);
        var dx = b.U - a.U;
        var dy = b.V - a.V;
        var len = Math.Sqrt(dx * dx + dy * dy);
        if (len < 0.5)
        {
            return;
        }
        var nx = -dy / len;
        var ny = dx / len;
        Point[] quad =
        [
            new((int)Math.Round(a.U + nx * ra), (int)Math.Round(a.V + ny * ra)),
            new((int)Math.Round(b.U + nx * rb), (int)Math.Round(b.V + ny * rb)),
            new((int)Math.Round(b.U - nx * rb), (int)Math.Round(b.V - ny * rb)),
            new((int)Math.Round(a.U - nx * ra), (int)Math.Round(a.V - ny * ra)),
        ];
        var k = wood.Shade * light;
        Cv2.FillConvexPoly(buffers.Frame, quad, new Scalar(48 * k, 62 * k, 78 * k), LineTypes.AntiAlias);
        Cv2.FillConvexPoly(buffers.Labels, quad, Scalar.All(0), LineTypes.Link8);
    }

    private unsafe void DrawBackground(PinholeCamera camera, Mat frame)
    {
        var m = camera.Mount;
        var o = _block.Options;
        var (rowStart, rowEnd) = _block.RowSpan;
        var azimuthPx = (int)(camera.AzimuthDeg / 360 * _clouds.Width);
        var treelineShift = camera.AzimuthDeg / 360 * _treeline.Length;
        var fStep = (int)frame.Step();
        var gStep = (int)_grass.Step();
        var cStep = (int)_clouds.Step();
        var width = frame.Width;
        var height = frame.Height;
        var cloudWidth = _clouds.Width;
        var cloudHeight = _clouds.Height;
        var frameData = (byte*)frame.DataPointer;
        var cloudData = (byte*)_clouds.DataPointer;
        var grassData = (byte*)_grass.DataPointer;
        var soilData = (byte*)_soil.DataPointer;
        var treeline = new double[width];
        var cloudColumn = new int[width];
        for (var u = 0; u < width; u++)
        {
            var azimuth = (u - m.Cx) / m.Fx;
            treeline[u] = _treeline[(int)((treelineShift + azimuth / (2 * Math.PI) * _treeline.Length + 2 * _treeline.Length) % _treeline.Length)];
            cloudColumn[u] = ((u + azimuthPx) % cloudWidth) * 3;
        }
        for (var v = 0; v < height; v++)
        {
            var row = frameData + v * fStep;
            // Ray through the centre column of this image row; X is horizontal, so the whole row shares its elevation.
            var dir = camera.Z + ((v - m.Cy) / m.Fy) * camera.Y;
            var elevation = Math.Atan2(dir.U, dir.HorizontalLength);
            if (dir.U >= 0)
            {
                var t = Math.Min(1, elevation / 0.9);
                var cloudRow = cloudData + (v % cloudHeight) * cStep;
                for (var u = 0; u < width; u++)
                {
                    var p = row + u * 3;
                    if (elevation < treeline[u])
                    {
                        var shade = 0.8 + 0.2 * cloudRow[cloudColumn[u]] / 60.0;
                        p[0] = (byte)(38 * shade);
                        p[1] = (byte)(72 * shade);
                        p[2] = (byte)(52 * shade);
                        continue;
                    }
                    var cloud = cloudRow[cloudColumn[u]] * 2;
                    p[0] = (byte)Math.Min(255, 235 - 45 * t + cloud * 0.2);
                    p[1] = (byte)Math.Min(255, 215 - 55 * t + cloud * 0.35);
                    p[2] = (byte)Math.Min(255, 200 - 90 * t + cloud * 0.5);
                }
                continue;
            }
            // Ground: every pixel of the row hits the ground at the same scale along its ray, so world
            // coordinates are linear in u along the row (stepped incrementally, textures are 512-periodic).
            var scale = -camera.Centre.U / dir.U;
            var g0 = camera.Centre + scale * dir;
            var step = scale / m.Fx;
            var bend = _block.Bend(g0.Dot(_block.Along));
            var haze = (int)(Math.Min(0.35, scale * 0.012) * 256);
            var e = g0.E - m.Cx * step * camera.X.E;
            var n = g0.N - m.Cx * step * camera.X.N;
            var de = step * camera.X.E;
            var dn = step * camera.X.N;
            for (var u = 0; u < width; u++, e += de, n += dn)
            {
                var lateral = e * _block.Right.E + n * _block.Right.N - bend;
                var along = e * _block.Along.E + n * _block.Along.N;
                var rowIndex = (int)Math.Round(lateral / o.RowSpacingM);
                var strip = rowIndex >= 0 && rowIndex < o.Rows && Math.Abs(lateral - rowIndex * o.RowSpacingM) < 0.6 && along > rowStart - 0.3 && along < rowEnd + 0.3;
                var tex = strip ? soilData : grassData;
                var tx = (int)Math.Floor(e * TexelsPerM) & (TextureSide - 1);
                var ty = (int)Math.Floor(n * TexelsPerM) & (TextureSide - 1);
                var s = tex + ty * gStep + tx * 3;
                var p = row + u * 3;
                p[0] = (byte)((s[0] * (256 - haze) + 200 * haze) >> 8);
                p[1] = (byte)((s[1] * (256 - haze) + 200 * haze) >> 8);
                p[2] = (byte)((s[2] * (256 - haze) + 195 * haze) >> 8);
            }
        }
    }

    /// <summary>Seeded two-scale noise texture around a base colour (BGR), blurred by <paramref name="grain"/> pixels.</summary>
    private static Mat Texture(int seed, string name, int width, int height, (double B, double G, double R) colour, (double B, double G, double R) spread, int grain)
    {
        var random = SimRandom.For(seed, "texture:" + name);
        using var coarse = new Mat(height, width, MatType.CV_32FC1);
        using var fine = new Mat(height, width, MatType.CV_32FC1);
        var c = new float[width * height];
        var f = new float[width * height];
        for (var i = 0; i < c.Length; i++)
        {
            c[i] = (float)random.Gaussian();
            f[i] = (float)random.Gaussian();
        }
        coarse.SetArray(c);
        fine.SetArray(f);
        BlurTileable(coarse, grain * 4);
        BlurTileable(fine, Math.Max(0.7, grain * 0.5));
        Cv2.Normalize(coarse, coarse, -1, 1, NormTypes.MinMax);
        Cv2.Normalize(fine, fine, -1, 1, NormTypes.MinMax);
        using var mix = new Mat();
        Cv2.AddWeighted(coarse, 0.6, fine, 0.4, 0, mix);
        mix.GetArray(out float[] n);
        var bytes = new byte[width * height * 3];
        for (var i = 0; i < n.Length; i++)
        {
            bytes[i * 3] = (byte)Math.Clamp(colour.B + spread.B * n[i], 0, 255);
            bytes[i * 3 + 1] = (byte)Math.Clamp(colour.G + spread.G * n[i], 0, 255);
            bytes[i * 3 + 2] = (byte)Math.Clamp(colour.R + spread.R * n[i], 0, 255);
        }
        return Bgr(width, height, bytes);
    }

    /// <summary>Gaussian blur that keeps the texture seamless when tiled (blur a wrap-padded copy, cut the middle out).</summary>
    private static void BlurTileable(Mat texture, double sigma)
    {
        var pad = (int)Math.Ceiling(sigma * 3);
        using var padded = new Mat();
        Cv2.CopyMakeBorder(texture, padded, pad, pad, pad, pad, BorderTypes.Wrap);
        Cv2.GaussianBlur(padded, padded, new Size(0, 0), sigma);
        using var middle = new Mat(padded, new Rect(pad, pad, texture.Width, texture.Height));
        middle.CopyTo(texture);
    }

    /// <summary>Gaussian sensor noise (σ ≈ 2.5 DN) split into a positive and a negative part for saturating add/subtract.</summary>
    private static (Mat Plus, Mat Minus) SensorNoise(int seed, int width, int height)
    {
        var random = SimRandom.For(seed, "sensor-noise");
        var plus = new byte[width * height * 3];
        var minus = new byte[width * height * 3];
        for (var i = 0; i < plus.Length; i++)
        {
            var n = random.Gaussian() * 2.5;
            if (n > 0)
            {
                plus[i] = (byte)Math.Min(255, Math.Round(n));
            }
            else
            {
                minus[i] = (byte)Math.Min(255, Math.Round(-n));
            }
        }
        return (Bgr(width, height, plus), Bgr(width, height, minus));
    }

    /// <summary>A BGR image owning a copy of packed pixel bytes.</summary>
    private static Mat Bgr(int width, int height, byte[] bytes)
    {
        using var view = Mat.FromPixelData(height, width, MatType.CV_8UC3, bytes);
        return view.Clone();
    }

    public void Dispose()
    {
        _grass.Dispose();
        _soil.Dispose();
        _clouds.Dispose();
        _noisePlus.Dispose();
        _noiseMinus.Dispose();
    }
}
