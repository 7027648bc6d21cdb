using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TreeScout.Detection.Inference;
using TreeScout.Hosting;

namespace TreeScout.Detection;

/// <summary>
/// Averages each camera's per-frame orientation evidence over a window and turns a persistent disagreement with the
/// configured mounting into an operator warning (status heartbeat + one log line), cleared when frames look upright again.
/// A camera mounted upside down once silently broke the model in the field; this makes it loud.
/// </summary>
public sealed class OrientationMonitor(IOptions<DetectionOptions> options, WorkerWarnings warnings, ILogger<OrientationMonitor> logger)
{
    private static readonly int[] Rotations = [0, 90, 180, 270];
    private readonly Dictionary<string, Queue<OrientationEvidence>> _windows = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    /// <summary>Adds a frame's evidence; returns the camera's current verdict (rotation, averaged confidence) once the window is full.</summary>
    public (int RotationDeg, double Confidence)? Observe(string cameraId, int configuredRotationDeg, OrientationEvidence evidence)
    {
        var window = options.Value.OrientationWindow;
        (int RotationDeg, double Confidence) verdict;
        lock (_gate)
        {
            if (!_windows.TryGetValue(cameraId, out var queue))
            {
                _windows[cameraId] = queue = new Queue<OrientationEvidence>(window);
            }
            queue.Enqueue(evidence);
            while (queue.Count > window)
            {
                queue.Dequeue();
            }
            if (queue.Count < window)
            {
                return null;
            }
            verdict = Rotations
                .Select(r => (r, queue.Where(e => e.SuspectedRotationDeg == r).Sum(e => e.Confidence) / queue.Count))
                .MaxBy(v => v.Item2);
        }

        var key = $"orientation:{cameraId}";
        if (verdict.RotationDeg != 0 && verdict.Confidence >= options.Value.OrientationWarnConfidence)
        {
            var suggested = (configuredRotationDeg + verdict.RotationDeg) % 360;
            var message = $"camera {cameraId} looks rotated by {verdict.RotationDeg}° from its configured mounting " +
                $"(mountRotationDeg {configuredRotationDeg}; sky/soil placement over the last {window} frames, confidence {verdict.Confidence:F2}): " +
                $"check the camera and set its mountRotationDeg to {suggested}";
            if (warnings.Raise(key, message))
            {
                logger.LogWarning("Orientation: {Warning}", message);
            }
        }
        else if (verdict.RotationDeg == 0 && verdict.Confidence >= options.Value.OrientationWarnConfidence / 2)
        {
            warnings.Clear(key);
        }
        return verdict;
    }
}
