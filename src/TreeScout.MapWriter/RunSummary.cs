using System.Text.Json;
using System.Text.Json.Nodes;
using TreeScout.Contracts;
using TreeScout.MapWriter.Calibration;

namespace TreeScout.MapWriter;

/// <summary>run.json: what the run produced, for operators and `treescout scan` (docs/recording-format.md).</summary>
public static class RunSummary
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    /// <summary>Written to a temporary file and renamed, so a power cut leaves the previous or the new summary, never half of one.</summary>
    public static void Write(RunFolder folder, RunFused fused, MapUpdated map, TimeSpan finalMapTime, CalibrationReport? calibration)
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
            calibration,
            warnings = map.Warnings,
        };
        Save(folder, JsonSerializer.Serialize(summary, Json));
    }

    /// <summary>Changes some sections of run.json (started empty when there is none yet), atomically like <see cref="Write"/>.</summary>
    public static void Update(RunFolder folder, Action<JsonObject> change)
    {
        var summary = File.Exists(folder.SummaryPath) ? JsonNode.Parse(File.ReadAllText(folder.SummaryPath))!.AsObject() : [];
        change(summary);
        Save(folder, summary.ToJsonString(Json));
    }

    /// <summary>After a calibration: which calibration the counts and prescription now come from, the warnings and the refreshed exports.</summary>
    public static void Recalibrated(RunFolder folder, CalibrationReport calibration, IReadOnlyList<string> warnings, IReadOnlyList<string>? exports) =>
        Update(folder, summary =>
        {
            summary["calibration"] = JsonSerializer.SerializeToNode(calibration, Json);
            summary["warnings"] = JsonSerializer.SerializeToNode(warnings, Json);
            if (exports is not null && summary["mapWriter"] is JsonObject writer)
            {
                writer["exports"] = JsonSerializer.SerializeToNode(exports, Json);
            }
        });

    private static void Save(RunFolder folder, string text)
    {
        var temp = folder.SummaryPath + ".tmp";
        File.WriteAllText(temp, text);
        File.Move(temp, folder.SummaryPath, overwrite: true);
    }
}
