using TreeScout.Contracts;
using TreeScout.Orchard;

namespace TreeScout.RunControl;

/// <summary>The <see cref="RunStarted"/> a run begins with, whoever starts it: the operator (`run start`) or a replay (`scan`).</summary>
public static class RunStarts
{
    /// <summary>
    /// A new run id for the block; the variety defaults to the plan's. Spacings given by the operator win over the plan's;
    /// without either, fusion's configured defaults apply (they matter most without a plan: rows and trees are inferred from them).
    /// </summary>
    public static RunStarted Create(string block, string? variety, string? planJson, BlockPlan? plan, IReadOnlyList<CameraMounting> cameras, string source, DateTimeOffset now, OrchardSpacing spacing = default)
    {
        var runId = RunIds.New(block, now);
        return new RunStarted
        {
            MessageId = MessageIds.For(runId, "run-started", 0),
            RunId = runId,
            StartedAtUtc = now,
            Block = block.Trim(),
            Variety = string.IsNullOrWhiteSpace(variety) ? plan?.Variety : variety.Trim(),
            BlockPlanGeoJson = planJson,
            TreeSpacingM = spacing.TreeM ?? plan?.TreeSpacingM,
            RowSpacingM = spacing.RowM ?? plan?.RowSpacingM,
            Cameras = cameras,
            Source = source,
        };
    }

    /// <summary>The plan file's text (sent as is) and its parsed form; no path, no plan.</summary>
    public static (string? Json, BlockPlan? Plan) ReadPlan(string? path)
    {
        if (path is null)
        {
            return (null, null);
        }
        string json;
        try
        {
            json = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new RunControlException($"block plan {path}: {ex.Message}", isUsageError: true);
        }
        return (json, ParsePlan(json, path));
    }

    /// <summary>
    /// A plan's text parsed, or refused with the one line `run start --plan` gives ("block plan SOURCE: what is wrong");
    /// <paramref name="source"/> names it (a path, an uploaded file's name).
    /// </summary>
    public static BlockPlan ParsePlan(string json, string source)
    {
        try
        {
            return BlockPlan.Parse(json, source);
        }
        catch (BlockPlanException ex)
        {
            // Its message starts with the source already.
            throw new RunControlException($"block plan {ex.Message}", isUsageError: true);
        }
    }
}

/// <summary>Distances between trees in a row and between rows, metres, as the operator gives them (null: not given).</summary>
public readonly record struct OrchardSpacing(double? TreeM, double? RowM);
