using OpenCvSharp;
using TreeScout.Contracts;

namespace TreeScout.Simulation;

/// <summary>
/// The real blossom-cluster crops (../shared/data/bbch/bbchNN/*.jpg; the folder is the stage label) a run may
/// composite, filtered by source camera so evaluation runs never contain a crop the models were trained on.
/// Each crop is turned once into a BGRA sprite with a feathered elliptical mask (the crops are rectangular photos).
/// </summary>
public sealed class CropLibrary : IDisposable
{
    /// <summary>Longest side of a prepared sprite; clusters are rarely larger on screen, so nothing is lost.</summary>
    private const int SpriteMaxSide = 128;

    private readonly List<string> _files = [];
    private readonly Dictionary<BbchStage, List<int>> _byStage = [];
    private readonly Lazy<Mat>[] _sprites;

    public CropLibrary(string directory, CropCameras selection, IEnumerable<BbchStage> requiredStages)
    {
        if (!System.IO.Directory.Exists(directory))
        {
            throw new SimulationOptionsException($"crop folder {directory} does not exist (expected ../shared/data/bbch next to the repository, or pass --crops DIR)");
        }
        Directory = Path.GetFullPath(directory);
        foreach (var stage in BbchStages.Ordered)
        {
            var folder = Path.Combine(Directory, BbchStages.Label(stage));
            var list = new List<int>();
            if (System.IO.Directory.Exists(folder))
            {
                foreach (var file in System.IO.Directory.EnumerateFiles(folder, "*.jpg").Order(StringComparer.Ordinal))
                {
                    if (Selected(Path.GetFileName(file), selection))
                    {
                        list.Add(_files.Count);
                        _files.Add(Path.GetRelativePath(Directory, file).Replace('\\', '/'));
                    }
                }
            }
            _byStage[stage] = list;
        }
        foreach (var stage in requiredStages)
        {
            if (_byStage[stage].Count == 0)
            {
                throw new SimulationOptionsException($"crop folder {Directory} has no {BbchStages.Label(stage)} crops from the {selection} cameras; choose another --crop-cameras or --stage-mix");
            }
        }
        _sprites = [.. _files.Select(f => new Lazy<Mat>(() => LoadSprite(Path.Combine(Directory, f)), LazyThreadSafetyMode.ExecutionAndPublication))];
    }

    public string Directory { get; }

    public int Count => _files.Count;

    /// <summary>Path of a crop relative to the crop folder, e.g. "bbch65/blink-04-00-02_1683281739_0.jpg".</summary>
    public string File(int index) => _files[index];

    public int CountOf(BbchStage stage) => _byStage[stage].Count;

    public int Pick(BbchStage stage, Random random)
    {
        var list = _byStage[stage];
        return list[random.Next(list.Count)];
    }

    /// <summary>BGRA sprite of the crop (alpha = feathered ellipse).</summary>
    public Mat Sprite(int index) => _sprites[index].Value;

    /// <summary>Camera that took the photo a crop was cut from: the file name is "&lt;camera&gt;_&lt;unix time&gt;_&lt;n&gt;.jpg".</summary>
    public static string CameraOf(string fileName)
    {
        var i = fileName.IndexOf('_', StringComparison.Ordinal);
        return i > 0 ? fileName[..i] : fileName;
    }

    private static bool Selected(string fileName, CropCameras selection)
    {
        var heldOut = SimulationOptions.HeldOutCropCameras.Contains(CameraOf(fileName));
        return selection switch
        {
            CropCameras.HeldOut => heldOut,
            CropCameras.Train => !heldOut,
            _ => true,
        };
    }

    private static Mat LoadSprite(string path)
    {
        using var bgr = Cv2.ImRead(path, ImreadModes.Color);
        if (bgr.Empty())
        {
            throw new InvalidDataException($"{path}: not a readable image");
        }
        var scale = Math.Min(1.0, (double)SpriteMaxSide / Math.Max(bgr.Width, bgr.Height));
        using var small = new Mat();
        Cv2.Resize(bgr, small, new Size(Math.Max(4, (int)Math.Round(bgr.Width * scale)), Math.Max(4, (int)Math.Round(bgr.Height * scale))), 0, 0, InterpolationFlags.Area);
        using var mask = new Mat(small.Size(), MatType.CV_8UC1, Scalar.Black);
        var w = small.Width;
        var h = small.Height;
        Cv2.Ellipse(mask, new Point(w / 2, h / 2), new Size((int)(w * 0.40), (int)(h * 0.40)), 0, 0, 360, Scalar.White, -1, LineTypes.AntiAlias);
        var feather = Math.Max(1, (int)(Math.Min(w, h) * 0.08)) | 1;
        Cv2.GaussianBlur(mask, mask, new Size(feather * 2 + 1, feather * 2 + 1), 0);
        var channels = Cv2.Split(small);
        var sprite = new Mat();
        Cv2.Merge([.. channels, mask], sprite);
        foreach (var c in channels)
        {
            c.Dispose();
        }
        return sprite;
    }

    public void Dispose()
    {
        foreach (var sprite in _sprites.Where(s => s.IsValueCreated))
        {
            sprite.Value.Dispose();
        }
    }
}
