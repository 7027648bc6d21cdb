using TreeScout.Contracts;

namespace TreeScout.Detection;

/// <summary>
/// Chooses the frames kept for review as they stream past (docs/labelling.md, "Which frames are kept"): every Nth frame
/// of a camera (sequence divisible by N), and in each window of W frames the frames that are the most uncertain of their
/// window so far and at least the floor. The map writer keeps only the window's most uncertain of those, so the outcome
/// is the same with one replica or several, after a restart or a redelivery; a replica here only avoids sending frames
/// that cannot win. Sequences, not arrival counts, decide, so redelivered or out-of-order frames change nothing.
/// </summary>
public sealed class ReviewSampler(int everyNth, int windowFrames, double uncertaintyFloor)
{
    // Runs of one worker overlap rarely; the state is a few numbers per camera, dropped wholesale past this.
    private const int MaxCameras = 64;

    private readonly Lock _gate = new();
    private readonly Dictionary<(string Run, string Camera), (long Window, double Best)> _windows = [];

    public int WindowFrames => windowFrames;

    /// <summary>Why this frame is kept, or null when it is not.</summary>
    public ReviewSampleReason? Choose(string runId, string cameraId, long sequence, double uncertainty)
    {
        if (everyNth > 0 && sequence % everyNth == 0)
        {
            return ReviewSampleReason.EveryNth;
        }
        if (windowFrames <= 0 || uncertainty < uncertaintyFloor)
        {
            return null;
        }
        lock (_gate)
        {
            return _windows.TryGetValue((runId, cameraId), out var current) && current.Window == sequence / windowFrames && current.Best >= uncertainty
                ? null
                : ReviewSampleReason.Uncertain;
        }
    }

    /// <summary>Records a frame that was published for review, so that less uncertain frames of its window are not sent.</summary>
    public void Kept(string runId, string cameraId, long sequence, double uncertainty)
    {
        if (windowFrames <= 0 || uncertainty < uncertaintyFloor)
        {
            return;
        }
        var window = sequence / windowFrames;
        lock (_gate)
        {
            var key = (runId, cameraId);
            if (_windows.TryGetValue(key, out var current) && (current.Window > window || (current.Window == window && current.Best >= uncertainty)))
            {
                return;
            }
            if (_windows.Count >= MaxCameras && !_windows.ContainsKey(key))
            {
                _windows.Clear();
            }
            _windows[key] = (window, uncertainty);
        }
    }

    /// <summary>
    /// How unsure the models were on a frame, 0..1: the mean over its detections of the larger of two doubts, the score's
    /// closeness to the detector's threshold <c>1 − (score − t)/(1 − t)</c> and the stage probabilities' normalised entropy
    /// <c>−Σ p ln p / ln K</c>. A frame without detections is 0 (every-Nth frames cover the misses).
    /// </summary>
    public static double Uncertainty(IReadOnlyList<BlossomDetection> detections, float scoreThreshold)
    {
        if (detections.Count == 0)
        {
            return 0;
        }
        var sum = 0.0;
        foreach (var d in detections)
        {
            var score = scoreThreshold >= 1 ? 0 : Math.Clamp(1 - ((d.Score - scoreThreshold) / (1 - scoreThreshold)), 0, 1);
            sum += Math.Max(score, NormalisedEntropy(d.StageProbabilities));
        }
        return sum / detections.Count;
    }

    private static double NormalisedEntropy(float[] probabilities)
    {
        if (probabilities.Length < 2)
        {
            return 0;
        }
        var total = 0.0;
        foreach (var p in probabilities)
        {
            total += p;
        }
        var entropy = 0.0;
        foreach (var p in probabilities)
        {
            if (p > 0 && total > 0)
            {
                var q = p / total;
                entropy -= q * Math.Log(q);
            }
        }
        return Math.Clamp(entropy / Math.Log(probabilities.Length), 0, 1);
    }
}
