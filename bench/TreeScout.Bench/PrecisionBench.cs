using System.Diagnostics;
using System.Text.Json.Nodes;
using OpenCvSharp;
using TreeScout.Detection.Inference;
using TreeScout.Detection.Models;

namespace TreeScout.Bench;

/// <summary>
/// `precision`: where a frame's inference time goes — the detector on the frame, the stage classifier on the frame's
/// cluster crops — for each model given (fp32 and its int8 copy), side by side in one process, interleaved frame by
/// frame so that the shared machine's load slows every model alike. Wall time and the process's CPU time per call
/// (less sensitive to the other tenants: waiting for a core costs no CPU time). The crops are the first detector's
/// boxes, the same for every classifier. Decoding is done once, up front: only the models' own work (preprocessing
/// included) is timed.
/// </summary>
internal static class PrecisionBench
{
    /// <param name="writeCard">Records each later model's time against the first one's in its card ("speedVsFirst").</param>
    public static int Run(IReadOnlyList<string> detectorCards, IReadOnlyList<string> stageCards, string framesDir, int threads, int rounds, int stageBatch, bool writeCard)
    {
        var loadBefore = LoadAverage();
        var frames = Directory.GetFiles(framesDir, "*.jpg").Order(StringComparer.Ordinal).Select(f => Cv2.ImRead(f, ImreadModes.Color)).ToList();
        var detectorModels = detectorCards.Select(c => VerifiedModel.Open(c, threads)).ToList();
        var stageModels = stageCards.Select(c => VerifiedModel.Open(c, threads)).ToList();
        try
        {
            var detectors = detectorModels.Select(m => new BlossomDetector(m, new DetectorSettings((float)m.Card.Threshold("score", 0.3), (float)m.Card.Threshold("nmsIou", 0.5), 300))).ToList();
            var classifiers = stageModels.Select(m => new StageClassifier(m, stageBatch)).ToList();
            var boxes = frames.Select(f => detectors[0].Detect(f)).ToList();
            var crops = boxes.Sum(b => b.Count);
            // Warm-up: sessions, buffers, JIT.
            detectors.ForEach(d => d.Detect(frames[0]));
            classifiers.ForEach(c => c.Classify(frames[0], boxes[0]));
            // Every model on frame k before any on frame k+1, the order rotating per frame: a burst of load from the
            // machine's other tenants lands on all models alike instead of on whichever ran during it.
            var runs = detectors.Select(d => (Action<int>)(k => d.Detect(frames[k])))
                .Concat(classifiers.Select(c => (Action<int>)(k => c.Classify(frames[k], boxes[k])))).ToList();
            var wall = runs.Select(_ => new List<double>()).ToList();
            var cpu = runs.Select(_ => new List<double>()).ToList();
            using var process = Process.GetCurrentProcess();
            for (var r = 0; r < rounds; r++)
            {
                var wallMs = new double[runs.Count];
                var cpuMs = new double[runs.Count];
                for (var k = 0; k < frames.Count; k++)
                {
                    for (var j = 0; j < runs.Count; j++)
                    {
                        var i = (j + k) % runs.Count;
                        process.Refresh();
                        var cpuBefore = process.TotalProcessorTime;
                        var started = Stopwatch.GetTimestamp();
                        runs[i](k);
                        wallMs[i] += Stopwatch.GetElapsedTime(started).TotalMilliseconds / frames.Count;
                        process.Refresh();
                        cpuMs[i] += (process.TotalProcessorTime - cpuBefore).TotalMilliseconds / frames.Count;
                    }
                }
                for (var i = 0; i < runs.Count; i++)
                {
                    wall[i].Add(wallMs[i]);
                    cpu[i].Add(cpuMs[i]);
                }
                Console.Error.WriteLine($"round {r + 1}: ms/frame {string.Join(" / ", wallMs.Select(m => $"{m:F1}"))} (detectors, then stage classifiers)");
            }
            var detectorMs = wall[..detectors.Count];
            var stageMs = wall[detectors.Count..];
            Console.WriteLine($"{frames.Count} held-out composite frames 1280x720, {crops / (double)frames.Count:F1} cluster crops/frame (the first detector's), ORT intra-op threads {threads}, stage batch {stageBatch}, {rounds} rounds (median), models interleaved per frame, load average {loadBefore} before, {LoadAverage()} after");
            Console.WriteLine($"{"model",-58}{"ms/frame",10}{"CPU ms",8}{"ms/crop",9}{"speed-up",10}{"CPU",7}");
            Print(detectorModels, detectorMs, cpu[..detectors.Count], null);
            Print(stageModels, stageMs, cpu[detectors.Count..], crops / (double)frames.Count);
            var conditions = $"{frames.Count} frames 1280x720 (samples/detector-heldout), {crops / (double)frames.Count:F1} crops/frame, stage batch {stageBatch}, ORT intra-op threads {threads}, {rounds} rounds (median), models interleaved per frame, load average {loadBefore}";
            if (writeCard)
            {
                Record(detectorModels, detectorMs, cpu[..detectors.Count], conditions, rounds);
                Record(stageModels, stageMs, cpu[detectors.Count..], conditions, rounds);
            }
            for (var i = 0; i < Math.Min(detectors.Count, classifiers.Count); i++)
            {
                var total = Median(detectorMs[i]) + Median(stageMs[i]);
                Console.WriteLine($"models {i + 1} together: {total:F1} ms/frame = {1000 / total:F2} frames/s of inference");
            }
            detectors.ForEach(d => d.Dispose());
            classifiers.ForEach(c => c.Dispose());
            return 0;
        }
        finally
        {
            detectorModels.ForEach(m => m.Dispose());
            stageModels.ForEach(m => m.Dispose());
            frames.ForEach(f => f.Dispose());
        }
    }

    private static void Print(List<VerifiedModel> models, List<List<double>> ms, List<List<double>> cpu, double? cropsPerFrame)
    {
        for (var i = 0; i < models.Count; i++)
        {
            var median = Median(ms[i]);
            var name = $"{models[i].Card.Name} {models[i].Card.Version} ({models[i].Card.File})";
            var perCrop = cropsPerFrame is { } c ? $"{median / c,9:F2}" : $"{"",9}";
            Console.WriteLine($"{name,-58}{median,10:F1}{Median(cpu[i]),8:F1}{perCrop}{Median(ms[0]) / median,9:F2}x{Median(cpu[0]) / Median(cpu[i]),6:F2}x");
        }
    }

    private static void Record(List<VerifiedModel> models, List<List<double>> ms, List<List<double>> cpu, string conditions, int rounds)
    {
        for (var i = 1; i < models.Count; i++)
        {
            CardFile.Update(models[i].Card.CardPath, "speedVsFirst", new JsonObject
            {
                ["msPerFrame"] = Math.Round(Median(ms[i]), 1),
                ["cpuMsPerFrame"] = Math.Round(Median(cpu[i]), 1),
                ["comparedWith"] = models[0].Card.File,
                ["comparedMsPerFrame"] = Math.Round(Median(ms[0]), 1),
                ["comparedCpuMsPerFrame"] = Math.Round(Median(cpu[0]), 1),
                ["speedUp"] = Math.Round(Median(ms[0]) / Median(ms[i]), 2),
                ["cpuSpeedUp"] = Math.Round(Median(cpu[0]) / Median(cpu[i]), 2),
                ["measured"] = conditions,
                ["command"] = $"dotnet run -c Release --project bench/TreeScout.Bench -- precision --rounds {rounds} --write-card",
            });
        }
    }

    private static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

    public static string LoadAverage() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";
}
