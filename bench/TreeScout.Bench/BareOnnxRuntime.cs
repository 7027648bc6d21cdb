using Microsoft.ML.OnnxRuntime;
using OpenCvSharp;
using TreeScout.Detection.Inference;
using TreeScout.Detection.Models;

namespace TreeScout.Bench;

/// <summary>
/// The floor the worker is compared with: the same work done with nothing around ONNX Runtime — JPEG decode, resize,
/// normalise, detector run, peak threshold, crop + resize + one classifier batch — straight-line code, no bus, no
/// message, no NMS, no orientation check, fresh arrays per frame. Pixels are normalised with the worker's
/// <see cref="PixelNormalizer"/> so that both sides pay the same for it.
/// </summary>
public sealed class BareOnnxRuntime(VerifiedModel detector, VerifiedModel stage) : IDisposable
{
    private readonly PixelNormalizer _detectorPixels = new(detector.Card.Input);
    private readonly PixelNormalizer _stagePixels = new(stage.Card.Input);
    private readonly RunOptions _run = new();

    public int Run(byte[] jpeg)
    {
        using var frame = Cv2.ImDecode(jpeg, ImreadModes.Color);
        var geometry = detector.Card.Detector!;
        int sw = (int)Math.Round(frame.Cols * geometry.InputScale), sh = (int)Math.Round(frame.Rows * geometry.InputScale);
        int pw = (sw + geometry.PadMultiple - 1) / geometry.PadMultiple * geometry.PadMultiple;
        int ph = (sh + geometry.PadMultiple - 1) / geometry.PadMultiple * geometry.PadMultiple;
        using var small = frame.Resize(new Size(sw, sh), 0, 0, InterpolationFlags.Area);
        var input = new float[3 * ph * pw];
        _detectorPixels.Write(small, input, ph, pw);
        using var inputValue = OrtValue.CreateTensorValueFromMemory(input, [1, 3, ph, pw]);
        using var outputs = detector.Session.Run(_run, [detector.Card.Input.Name], [inputValue], detector.Card.AllOutputs.Select(o => o.Name).ToArray());
        var heat = outputs[0].GetTensorDataAsSpan<float>();
        var size = outputs[1].GetTensorDataAsSpan<float>();
        int gw = pw / geometry.OutputStride, cells = heat.Length;
        var threshold = (float)detector.Card.Threshold("score", 0.3);
        var boxes = new List<Rect>();
        for (var i = 0; i < cells; i++)
        {
            if (heat[i] >= threshold)
            {
                int cx = (int)((i % gw) * geometry.OutputStride / geometry.InputScale), cy = (int)((i / gw) * geometry.OutputStride / geometry.InputScale);
                int w = Math.Max(2, (int)(size[i] / geometry.InputScale)), h = Math.Max(2, (int)(size[cells + i] / geometry.InputScale));
                boxes.Add(new Rect(cx - (w / 2), cy - (h / 2), w, h) & new Rect(0, 0, frame.Cols, frame.Rows));
            }
        }
        boxes.RemoveAll(b => b.Width < 1 || b.Height < 1);
        if (boxes.Count == 0)
        {
            return 0;
        }
        var s = (int)stage.Card.Input.FixedDim(2)!;
        var batch = new float[boxes.Count * 3 * s * s];
        for (var k = 0; k < boxes.Count; k++)
        {
            using var roi = new Mat(frame, boxes[k]);
            using var crop = roi.Resize(new Size(s, s), 0, 0, InterpolationFlags.Area);
            _stagePixels.Write(crop, batch.AsSpan(k * 3 * s * s), s, s);
        }
        using var stageInput = OrtValue.CreateTensorValueFromMemory(batch, [boxes.Count, 3, s, s]);
        using var probabilities = stage.Session.Run(_run, [stage.Card.Input.Name], [stageInput], [stage.Card.AllOutputs[0].Name]);
        return boxes.Count;
    }

    public void Dispose() => _run.Dispose();
}
