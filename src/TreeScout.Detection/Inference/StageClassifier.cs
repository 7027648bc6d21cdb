using Microsoft.ML.OnnxRuntime;
using OpenCvSharp;
using TreeScout.Contracts;
using TreeScout.Detection.Models;

namespace TreeScout.Detection.Inference;

/// <summary>
/// The BBCH stage classifier: each cluster crop is resized whole to S×S (the card's interpolation), normalised, and
/// classified in batches of up to <see cref="MaxBatch"/> through one reused input buffer and one reused output
/// buffer. Output: probabilities in <see cref="BbchStages.Ordered"/> order. Not thread-safe.
/// </summary>
public sealed class StageClassifier : IDisposable
{
    private readonly VerifiedModel _model;
    private readonly PixelNormalizer _normalizer;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly float[] _input;
    private readonly float[] _output;
    private readonly Mat _resized = new();
    private readonly RunOptions _runOptions = new();
    private readonly Dictionary<int, (OrtValue Input, OrtValue Output)> _views = [];

    public StageClassifier(VerifiedModel model, int maxBatch)
    {
        _model = model;
        var card = model.Card;
        if (!card.Classes.SequenceEqual(BbchStages.Ordered.Select(BbchStages.Label)))
        {
            throw new ModelCardException(
                $"card {card.CardPath}: classes [{string.Join(", ", card.Classes)}] are not the BBCH stages in bloom order [{string.Join(", ", BbchStages.Ordered.Select(BbchStages.Label))}]");
        }
        if (card.Input.Shape.Count != 4 || card.Input.FixedDim(2) is not { } h || card.Input.FixedDim(3) is not { } w || h != w)
        {
            throw new ModelCardException($"card {card.CardPath}: the stage classifier's input must be [N,3,S,S] with a fixed S");
        }
        InputSize = (int)h;
        MaxBatch = Math.Max(1, maxBatch);
        _normalizer = new PixelNormalizer(card.Input);
        _inputNames = [card.Input.Name];
        _outputNames = [card.AllOutputs[0].Name];
        _input = new float[MaxBatch * 3 * InputSize * InputSize];
        _output = new float[MaxBatch * BbchStages.Count];
    }

    public int InputSize { get; }

    public int MaxBatch { get; }


    /// <summary>Stage probabilities for each box of <paramref name="image"/> (boxes clipped to the image; a degenerate box is widened to 1 px).</summary>
    public float[][] Classify(Mat image, IReadOnlyList<ClusterBox> boxes) =>
        ClassifyEach(boxes.Count, i => Roi(image, boxes[i]), ownsCrops: true);

    /// <summary>Stage probabilities for whole images (crops on disk).</summary>
    public float[][] Classify(IReadOnlyList<Mat> crops) => ClassifyEach(crops.Count, i => crops[i], ownsCrops: false);

    private float[][] ClassifyEach(int count, Func<int, Mat> crop, bool ownsCrops)
    {
        var results = new float[count][];
        for (var start = 0; start < count; start += MaxBatch)
        {
            var n = Math.Min(MaxBatch, count - start);
            var (input, output) = Fill(n, k => crop(start + k), ownsCrops);
            _model.Session.Run(_runOptions, _inputNames, [input], _outputNames, [output]);
            for (var k = 0; k < n; k++)
            {
                results[start + k] = _output.AsSpan(k * BbchStages.Count, BbchStages.Count).ToArray();
            }
        }
        return results;
    }

    /// <summary>
    /// The input batch for up to <see cref="MaxBatch"/> crops exactly as <see cref="Classify(IReadOnlyList{Mat})"/> feeds
    /// it, for running another graph on it (int8 calibration). Valid until the next call.
    /// </summary>
    public OrtValue Prepare(IReadOnlyList<Mat> crops) => Fill(crops.Count, i => crops[i], ownsCrops: false).Input;

    private (OrtValue Input, OrtValue Output) Fill(int n, Func<int, Mat> crop, bool ownsCrops)
    {
        if (n > MaxBatch)
        {
            throw new ArgumentOutOfRangeException(nameof(n), n, $"at most {MaxBatch} crops per batch");
        }
        var plane = 3 * InputSize * InputSize;
        for (var k = 0; k < n; k++)
        {
            var source = crop(k);
            try
            {
                Cv2.Resize(source, _resized, new Size(InputSize, InputSize), 0, 0, _normalizer.Interpolation);
            }
            finally
            {
                if (ownsCrops)
                {
                    source.Dispose();
                }
            }
            _normalizer.Write(_resized, _input.AsSpan(k * plane, plane), InputSize, InputSize);
        }
        return ViewsFor(n);
    }

    private static Mat Roi(Mat image, ClusterBox box)
    {
        var b = box.ClipTo(image.Cols, image.Rows);
        var x = Math.Clamp((int)Math.Floor(b.X), 0, image.Cols - 1);
        var y = Math.Clamp((int)Math.Floor(b.Y), 0, image.Rows - 1);
        var w = Math.Clamp((int)Math.Ceiling(b.Right) - x, 1, image.Cols - x);
        var h = Math.Clamp((int)Math.Ceiling(b.Bottom) - y, 1, image.Rows - y);
        return new Mat(image, new Rect(x, y, w, h));
    }

    /// <summary>OrtValues viewing the first n slots of the shared buffers; cached per batch size (typically 1..MaxBatch, few distinct).</summary>
    private (OrtValue Input, OrtValue Output) ViewsFor(int n)
    {
        if (!_views.TryGetValue(n, out var v))
        {
            var plane = 3 * InputSize * InputSize;
            v = (OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _input.AsMemory(0, n * plane), [n, 3, InputSize, InputSize]),
                 OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _output.AsMemory(0, n * BbchStages.Count), [n, BbchStages.Count]));
            _views[n] = v;
        }
        return v;
    }

    public void Dispose()
    {
        foreach (var (input, output) in _views.Values)
        {
            input.Dispose();
            output.Dispose();
        }
        _resized.Dispose();
        _runOptions.Dispose();
    }
}
