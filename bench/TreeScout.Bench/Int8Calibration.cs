using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using OpenCvSharp;
using TreeScout.Detection.Inference;
using TreeScout.Detection.Models;

namespace TreeScout.Bench;

/// <summary>
/// `calibrate-int8`: activation statistics for training/quantize.py. Runs a copy of a model whose intermediate tensors
/// were made graph outputs (quantize.py --augment) over calibration images, each fed exactly as the worker feeds the
/// model (the card's preprocessing via <see cref="BlossomDetector.Prepare"/> / <see cref="StageClassifier.Prepare"/>),
/// and writes, per tensor, its min, max and a histogram over [min, max] (two passes). The images must be of the
/// training cameras only: calibration is a choice made from data, like a threshold.
/// </summary>
internal static class Int8Calibration
{
    private const int Bins = 2048;
    private const int CropBatch = 64;

    public static int Run(string? card, string? graph, string? imageList, string? output, int threads)
    {
        if (card is null || graph is null || imageList is null || output is null)
        {
            Console.Error.WriteLine("usage: calibrate-int8 --card CARD.json --graph AUGMENTED.onnx --images LIST.txt --out STATS.json");
            return 2;
        }
        if (new[] { card, graph, imageList }.FirstOrDefault(f => !File.Exists(f)) is { } missing)
        {
            Console.Error.WriteLine($"calibrate-int8: {missing} does not exist");
            return 2;
        }
        var images = File.ReadAllLines(imageList).Where(l => l.Length > 0).ToList();
        if (images.FirstOrDefault(f => !File.Exists(f)) is { } missingImage)
        {
            Console.Error.WriteLine($"calibrate-int8: {imageList} lists {missingImage}, which does not exist");
            return 2;
        }
        using var model = VerifiedModel.Open(Path.GetFullPath(card), threads);
        // The augmented graph as written: an optimiser would fuse away the tensors being measured.
        using var options = new SessionOptions { IntraOpNumThreads = threads, GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL };
        using var session = new InferenceSession(graph, options);
        var names = session.OutputMetadata.Keys.ToArray();
        var stats = names.ToDictionary(n => n, _ => new TensorStats());
        using var feeder = Feeder.For(model);
        using var run = new RunOptions();
        foreach (var pass in new[] { 1, 2 })
        {
            foreach (var input in feeder.Inputs(images))
            {
                using var results = session.Run(run, [model.Card.Input.Name], [input], names);
                for (var i = 0; i < names.Length; i++)
                {
                    var values = results[i].GetTensorDataAsSpan<float>();
                    if (pass == 1)
                    {
                        stats[names[i]].Observe(values);
                    }
                    else
                    {
                        stats[names[i]].Count(values);
                    }
                }
            }
            Console.Error.WriteLine($"pass {pass}: {images.Count} images, {names.Length} tensors");
        }
        var json = new Dictionary<string, object>
        {
            ["card"] = model.Card.CardPath,
            ["graph"] = Path.GetFullPath(graph),
            ["images"] = images.Count,
            ["bins"] = Bins,
            ["tensors"] = stats.ToDictionary(s => s.Key, s => new { min = s.Value.Min, max = s.Value.Max, histogram = s.Value.Histogram }),
        };
        File.WriteAllText(output, JsonSerializer.Serialize(json));
        Console.WriteLine($"{names.Length} tensors over {images.Count} images -> {output}");
        return 0;
    }

    private sealed class TensorStats
    {
        public float Min { get; private set; } = float.MaxValue;

        public float Max { get; private set; } = float.MinValue;

        public long[] Histogram { get; } = new long[Bins];

        public void Observe(ReadOnlySpan<float> values)
        {
            foreach (var v in values)
            {
                Min = Math.Min(Min, v);
                Max = Math.Max(Max, v);
            }
        }

        public void Count(ReadOnlySpan<float> values)
        {
            var width = Math.Max(Max - Min, 1e-12f);
            foreach (var v in values)
            {
                Histogram[Math.Clamp((int)((v - Min) / width * Bins), 0, Bins - 1)]++;
            }
        }
    }

    /// <summary>Input tensors for a detector card (one per frame) or a classifier card (batches of crops).</summary>
    private abstract class Feeder : IDisposable
    {
        public static Feeder For(VerifiedModel model) => model.Card.Detector is null ? new Crops(model) : new Frames(model);

        public abstract IEnumerable<OrtValue> Inputs(IReadOnlyList<string> images);

        public abstract void Dispose();

        private sealed class Frames(VerifiedModel model) : Feeder
        {
            private readonly BlossomDetector _detector = new(model, new DetectorSettings(0.5f, 0.5f, 1));

            public override IEnumerable<OrtValue> Inputs(IReadOnlyList<string> images)
            {
                foreach (var path in images)
                {
                    using var frame = Cv2.ImRead(path, ImreadModes.Color);
                    yield return _detector.Prepare(frame);
                }
            }

            public override void Dispose() => _detector.Dispose();
        }

        private sealed class Crops(VerifiedModel model) : Feeder
        {
            private readonly StageClassifier _classifier = new(model, CropBatch);

            public override IEnumerable<OrtValue> Inputs(IReadOnlyList<string> images)
            {
                foreach (var chunk in images.Chunk(CropBatch))
                {
                    var mats = chunk.Select(p => Cv2.ImRead(p, ImreadModes.Color)).ToList();
                    try
                    {
                        yield return _classifier.Prepare(mats);
                    }
                    finally
                    {
                        mats.ForEach(m => m.Dispose());
                    }
                }
            }

            public override void Dispose() => _classifier.Dispose();
        }
    }
}
