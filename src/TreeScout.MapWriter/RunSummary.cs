using System.Text.Json;
using TreeScout.Contracts;

namespace TreeScout.MapWriter;

/// <summary>run.json: what the run produced, for operators and `treescout scan` (docs/recording-format.md).</summary>
public static class RunSummary
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    /// <summary>Written to a temporary file and renamed, so a power cut leaves the previous or the new summary, never half of one.</summary>
    public static void Write(RunFolder folder, RunFused fused, MapUpdated map, TimeSpan finalMapTime)
    {
        var summary = new
        {
            runId = fused.RunId,
            completedAtUtc = map.UpdatedAtUtc,
            fusion = new
            {
                fused.ObservationsPublished,
                fused.FramesFused,
                fused.FramesWithoutPose,
                fused.FramesMissing,
                fused.ClockOffsetMs,
                gnss = fused.Gnss,
                fused.PlanMismatch,
            },
            mapWriter = new
            {
                observationsStored = map.Observations,
                trees = map.Trees,
                treesWithClusters = map.TreesWithClusters,
                finalMapSeconds = Math.Round(finalMapTime.TotalSeconds, 3),
                store = map.StorePath,
                exports = map.Exports,
            },
            models = fused.Models,
            warnings = map.Warnings,
        };
        var temp = folder.SummaryPath + ".tmp";
        File.WriteAllText(temp, JsonSerializer.Serialize(summary, Json));
        File.Move(temp, folder.SummaryPath, overwrite: true);
    }
}
