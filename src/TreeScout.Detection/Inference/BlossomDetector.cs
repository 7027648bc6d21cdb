using Microsoft.ML.OnnxRuntime;
using OpenCvSharp;
using TreeScout.Detection.Models;

namespace TreeScout.Detection.Inference;

/// <summary>Score and overlap limits applied to the detector's peaks.</summary>
public sealed record DetectorSettings(float ScoreThreshold, float NmsIou, int MaxDetections);

/// <summary>
/// The blossom-cluster detector: frame (upright BGR) → scaled by the card's input scale and zero-padded to the pad
/// multiple → heatmap peaks, sizes and offsets at 1/stride → boxes in frame pixels → NMS. Input and output tensors
/// live in buffers that are reused as long as the frame size stays the same (one camera: always). Not thread-safe.
/// </summary>
public sealed class BlossomDetector : IDisposable
{
    private readonly VerifiedModel _model;
    private readonly DetectorGeometry _geometry;
    private readonly PixelNormalizer _normalizer;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly Mat _scaled = new();
    private readonly List<ClusterBox> _candidates = [];
    private readonly RunOptions _runOptions = new();
    private Buffers? _buffers;

    public BlossomDetector(VerifiedModel model, DetectorSettings settings)
    {
        _model = model;
        Settings = settings;
        _geometry = model.Card.Detector ?? throw new ModelCardException($"card {model.Card.CardPath} has no \"detector\" section (inputScale, padMultiple, outputStride)");
        var outputs = model.Card.AllOutputs;
        if (outputs.Count != 3)
        {
            throw new ModelCardException($"card {model.Card.CardPath}: a detector has 3 outputs (heatmap, size, offset), the card lists {outputs.Count}");
        }
        _normalizer = new PixelNormalizer(model.Card.Input);
        _inputNames = [model.Card.Input.Name];
        _outputNames = [.. outputs.Select(o => o.Name)];
    }

    public DetectorSettings Settings { get; }

    /// <summary>The frame as the last <see cref="Detect"/> call fed it to the network: scaled by the card, not padded.</summary>
    public Mat Scaled => _scaled;

    /// <summary>Clusters in <paramref name="upright"/> (CV_8UC3), boxes in its pixels, best first.</summary>
    public List<ClusterBox> Detect(Mat upright)
    {
        var b = Fill(upright);
        _model.Session.Run(_runOptions, _inputNames, [b.InputValue], _outputNames, b.OutputValues);
        return Decode(b, upright.Cols / (double)_scaled.Cols, upright.Rows / (double)_scaled.Rows, upright.Cols, upright.Rows);
    }

    /// <summary>
    /// The network input for <paramref name="upright"/> exactly as <see cref="Detect"/> feeds it (scaled, normalised,
    /// padded), for running another graph on it (int8 calibration). Valid until the next call.
    /// </summary>
    public OrtValue Prepare(Mat upright) => Fill(upright).InputValue;

    private Buffers Fill(Mat upright)
    {
        var scaledW = Math.Max(1, (int)Math.Round(upright.Cols * _geometry.InputScale));
        var scaledH = Math.Max(1, (int)Math.Round(upright.Rows * _geometry.InputScale));
        var b = BuffersFor(Pad(scaledH), Pad(scaledW));
        Cv2.Resize(upright, _scaled, new Size(scaledW, scaledH), 0, 0, _normalizer.Interpolation);
        _normalizer.Write(_scaled, b.Input, b.Height, b.Width);
        return b;
    }

    private List<ClusterBox> Decode(Buffers b, double toFrameX, double toFrameY, int width, int height)
    {
        int gh = b.Height / _geometry.OutputStride, gw = b.Width / _geometry.OutputStride, cells = gh * gw;
        var stride = _geometry.OutputStride;
        // Only the part of the grid that covers the image, not the padding.
        var validW = (int)Math.Ceiling(width / toFrameX / stride);
        var validH = (int)Math.Ceiling(height / toFrameY / stride);
        _candidates.Clear();
        for (var y = 0; y < Math.Min(gh, validH); y++)
        {
            for (var x = 0; x < Math.Min(gw, validW); x++)
            {
                var i = (y * gw) + x;
                var score = b.Heatmap[i];
                if (score < Settings.ScoreThreshold)
                {
                    continue;
                }
                var cx = (x + b.Offset[i]) * stride * toFrameX;
                var cy = (y + b.Offset[cells + i]) * stride * toFrameY;
                var w = b.Size[i] * toFrameX;
                var h = b.Size[cells + i] * toFrameY;
                var box = new ClusterBox((float)(cx - (w / 2)), (float)(cy - (h / 2)), (float)w, (float)h, score).ClipTo(width, height);
                if (box.W >= 1 && box.H >= 1)
                {
                    _candidates.Add(box);
                }
            }
        }
        return NonMaxSuppression.Apply(_candidates, Settings.NmsIou, Settings.MaxDetections);
    }

    private int Pad(int n) => (n + _geometry.PadMultiple - 1) / _geometry.PadMultiple * _geometry.PadMultiple;

    private Buffers BuffersFor(int height, int width)
    {
        if (_buffers is { } b && b.Height == height && b.Width == width)
        {
            return b;
        }
        _buffers?.Dispose();
        _buffers = new Buffers(height, width, _geometry.OutputStride);
        return _buffers;
    }

    public void Dispose()
    {
        _buffers?.Dispose();
        _scaled.Dispose();
        _runOptions.Dispose();
    }

    /// <summary>Pinned-by-ORT managed arrays for one input size, and the OrtValues that view them (no copies per frame).</summary>
    private sealed class Buffers : IDisposable
    {
        public Buffers(int height, int width, int stride)
        {
            Height = height;
            Width = width;
            long gh = height / stride, gw = width / stride;
            Input = new float[3 * height * width];
            Heatmap = new float[gh * gw];
            Size = new float[2 * gh * gw];
            Offset = new float[2 * gh * gw];
            InputValue = OrtValue.CreateTensorValueFromMemory(Input, [1, 3, height, width]);
            OutputValues =
            [
                OrtValue.CreateTensorValueFromMemory(Heatmap, [1, 1, gh, gw]),
                OrtValue.CreateTensorValueFromMemory(Size, [1, 2, gh, gw]),
                OrtValue.CreateTensorValueFromMemory(Offset, [1, 2, gh, gw]),
            ];
        }

        public int Height { get; }

        public int Width { get; }

        public float[] Input { get; }

        public float[] Heatmap { get; }

        public float[] Size { get; }

        public float[] Offset { get; }

        public OrtValue InputValue { get; }

        public OrtValue[] OutputValues { get; }

        public void Dispose()
        {
            InputValue.Dispose();
            foreach (var v in OutputValues)
            {
                v.Dispose();
            }
        }
    }
}
