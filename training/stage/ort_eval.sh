#!/usr/bin/env bash
# Evaluate / benchmark an exported stage model with ONNX Runtime 1.31.1 and OpenCvSharp preprocessing in a
# throwaway C# console under /tmp/ortbench-stage (outside the repo; nothing of it is committed).
#   bash training/stage/ort_eval.sh eval  models/bbch-stage.onnx [out.json]   # held-out cameras, metrics JSON
#   bash training/stage/ort_eval.sh bench models/bbch-stage.onnx [out.json]   # ms/crop at batch 1, 32, 64, 2 threads
# Run from the repo root. Held-out cameras are read from training/stage/data.py.
set -euo pipefail
mode=$1; model=$(readlink -f "$2"); out=${3:-/dev/stdout}
root=$(pwd)
data_dir=$(readlink -f ../shared/data/bbch)
cams=$(/usr/bin/python3 -c "import sys; sys.path.insert(0,'training/stage'); import data; print(','.join(data.HELD_OUT_CAMERAS))")
mean_std=$(/usr/bin/python3 -c "import sys; sys.path.insert(0,'training/stage'); import data; print(','.join(str(v) for v in data.MEAN+data.STD))")
dir=/tmp/ortbench-stage
mkdir -p "$dir"
if [ ! -f "$dir/ortbench-stage.csproj" ]; then
  (cd "$dir" && dotnet new console --force >/dev/null \
    && dotnet add package Microsoft.ML.OnnxRuntime --version 1.31.1 >/dev/null \
    && dotnet add package OpenCvSharp4 --version 4.13.0.20260627 >/dev/null \
    && dotnet add package OpenCvSharp4.official.runtime.linux-x64 --version 4.13.0.20260627 >/dev/null)
fi
cat > "$dir/Program.cs" <<'CS'
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using OpenCvSharp;

string mode = args[0], modelPath = args[1], dataDir = args[2];
string[] cams = args[3].Split(',');
float[] ms = args[4].Split(',').Select(s => float.Parse(s, CultureInfo.InvariantCulture)).ToArray();
string[] classes = { "bbch53", "bbch54", "bbch56", "bbch57", "bbch59", "bbch61", "bbch65", "bbch67", "bbch69", "bbch71" };
using var so = new SessionOptions { IntraOpNumThreads = 2, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
                                    GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
using var sess = new InferenceSession(modelPath, so);
int S = sess.InputMetadata["input"].Dimensions[2];

if (mode == "bench")
{
    var rnd = new Random(1);
    var res = new Dictionary<string, double>();
    foreach (int n in new[] { 1, 32, 64 })
    {
        var t = new DenseTensor<float>(new[] { n, 3, S, S });
        for (int i = 0; i < t.Length; i++) t.SetValue(i, (float)(rnd.NextDouble() * 4 - 2));
        var inputs = new List<NamedOnnxValue> { NamedOnnxValue.CreateFromTensor("input", t) };
        for (int w = 0; w < 5; w++) using (sess.Run(inputs)) { }
        var times = new List<double>();
        var total = Stopwatch.StartNew();
        while (total.Elapsed.TotalSeconds < 10 || times.Count < 10)
        {
            var sw = Stopwatch.StartNew();
            using (sess.Run(inputs)) { }
            times.Add(sw.Elapsed.TotalMilliseconds);
        }
        times.Sort();
        double med = times[times.Count / 2] / n;
        Console.Error.WriteLine($"S={S} batch={n}: median {med:F3} ms/crop (min {times[0] / n:F3}, {times.Count} runs)");
        res[$"msPerCropBatch{n}"] = Math.Round(med, 3);
    }
    Console.WriteLine(JsonSerializer.Serialize(res));
    return;
}

// eval: cv2.imread (BGR) -> RGB -> resize SxS INTER_AREA -> /255 -> (x-mean)/std -> NCHW
var files = new List<(string path, int label)>();
for (int k = 0; k < classes.Length; k++)
    foreach (var f in Directory.GetFiles(Path.Combine(dataDir, classes[k]), "*.jpg").OrderBy(f => f, StringComparer.Ordinal))
    {
        var name = Path.GetFileNameWithoutExtension(f);
        var cam = name.Substring(0, name.LastIndexOf('_', name.LastIndexOf('_') - 1));
        if (cams.Contains(cam)) files.Add((f, k));
    }
var conf = new int[10, 10];
const int B = 64;
for (int s0 = 0; s0 < files.Count; s0 += B)
{
    int n = Math.Min(B, files.Count - s0);
    var t = new DenseTensor<float>(new[] { n, 3, S, S });
    for (int b = 0; b < n; b++)
    {
        using var bgr = Cv2.ImRead(files[s0 + b].path, ImreadModes.Color);
        using var rgb = new Mat();
        Cv2.CvtColor(bgr, rgb, ColorConversionCodes.BGR2RGB);
        using var small = new Mat();
        Cv2.Resize(rgb, small, new Size(S, S), 0, 0, InterpolationFlags.Area);
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++)
            {
                var p = small.At<Vec3b>(y, x);
                for (int c = 0; c < 3; c++) t[b, c, y, x] = (p[c] / 255f - ms[c]) / ms[3 + c];
            }
    }
    using var r = sess.Run(new List<NamedOnnxValue> { NamedOnnxValue.CreateFromTensor("input", t) });
    var prob = r.First(v => v.Name == "probabilities").AsTensor<float>();
    for (int b = 0; b < n; b++)
    {
        int arg = 0;
        for (int c = 1; c < 10; c++) if (prob[b, c] > prob[b, arg]) arg = c;
        conf[files[s0 + b].label, arg]++;
    }
}
int N = files.Count, correct = 0, within = 0, flow = 0;
bool Fl(int k) => k >= 5 && k <= 7;
var recall = new Dictionary<string, double>();
var rows = new List<int[]>();
for (int i = 0; i < 10; i++)
{
    int rowSum = 0;
    var row = new int[10];
    for (int j = 0; j < 10; j++)
    {
        row[j] = conf[i, j]; rowSum += conf[i, j];
        if (i == j) correct += conf[i, j];
        if (Math.Abs(i - j) <= 1) within += conf[i, j];
        if (Fl(i) == Fl(j)) flow += conf[i, j];
    }
    rows.Add(row);
    recall[classes[i]] = rowSum > 0 ? Math.Round((double)conf[i, i] / rowSum, 4) : double.NaN;
}
var result = new Dictionary<string, object>
{
    ["heldOutCameras"] = cams, ["crops"] = N,
    ["top1"] = Math.Round((double)correct / N, 4), ["withinOne"] = Math.Round((double)within / N, 4),
    ["flowering"] = Math.Round((double)flow / N, 4), ["perClassRecall"] = recall, ["confusion"] = rows,
};
Console.WriteLine(JsonSerializer.Serialize(result));
CS
(cd "$dir" && dotnet build -c Release -o out -v q -nologo >/dev/null)
dotnet "$dir/out/ortbench-stage.dll" "$mode" "$model" "$data_dir" "$cams" "$mean_std" > "$out"
