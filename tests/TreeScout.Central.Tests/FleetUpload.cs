using TreeScout.Contracts;
using TreeScout.MapWriter.Tests;

namespace TreeScout.Central.Tests;

/// <summary>One message as a tractor's uplink delivers it to the central exchange; <see cref="Copy"/> marks an at-least-once resend.</summary>
public sealed record UplinkMessage(string Tractor, IMessage Message, bool Copy)
{
    public int Observations => Message is TreeObservations o ? o.Observations.Count : 0;
}

/// <summary>
/// A fleet's evening upload: per tractor, its runs of the day in the order the uplink queue holds them (RunStarted with
/// the block plan, the observation batches, RunStopped, RunFused, the final MapUpdated), each run a
/// <see cref="SyntheticRun"/> with its own seed and run id. Every <c>duplicateEvery</c>-th batch is sent once more after
/// the next one, as the shovel resends its unconfirmed window after a link drop.
/// </summary>
public static class FleetUpload
{
    public static string TractorId(int index) => $"t-{index:000}";

    /// <summary>
    /// Run id in <see cref="RunIds.New"/>'s form, its suffix derived from tractor and run so a bench run is repeatable;
    /// 8 hex digits, not 4: every simulated tractor starts its runs at the same times, which real tractors do not.
    /// </summary>
    public static string RunId(string tractor, int run, DateTimeOffset startedAt) =>
        $"{startedAt.UtcDateTime:yyyyMMdd-HHmmss}-block-{run + 1}-{MessageIds.For(tractor, "bench-run", run).ToString("N")[..8]}";

    public static IReadOnlyList<UplinkMessage> Tractor(string tractor, int runs, int trees, int duplicateEvery, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(runs, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(trees, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(duplicateEvery, 1);
        var treesPerRow = Math.Min(trees, 100);
        var rows = (trees + treesPerRow - 1) / treesPerRow;
        var messages = new List<UplinkMessage>();
        for (var r = 0; r < runs; r++)
        {
            // SyntheticRun starts every run at 2026-04-21 09:00; the id's time is the run's slot in the tractor's day.
            var run = new SyntheticRun(RunId(tractor, r, new DateTimeOffset(2026, 4, 21, 9, 0, 0, TimeSpan.Zero).AddMinutes(40 * r)), rows, treesPerRow, seed: seed + r);
            messages.Add(new UplinkMessage(tractor, run.Started, false));
            for (var b = 0; b < run.Batches.Count; b++)
            {
                messages.Add(new UplinkMessage(tractor, run.Batches[b], false));
                if (b > 0 && b % duplicateEvery == 0)
                {
                    messages.Add(new UplinkMessage(tractor, run.Batches[b - 1], true));
                }
            }
            var stoppedAt = run.Observations[^1].ObservedAtUtc;
            messages.Add(new UplinkMessage(tractor, new RunStopped
            {
                MessageId = MessageIds.For(run.RunId, "run-stopped", 0),
                RunId = run.RunId,
                StoppedAtUtc = stoppedAt,
                FramesPublished = run.Fused.FramesFused,
                Reason = "operator",
            }, false));
            messages.Add(new UplinkMessage(tractor, run.Fused, false));
            messages.Add(new UplinkMessage(tractor, new MapUpdated
            {
                MessageId = MessageIds.For(run.RunId, "map-final", 0),
                RunId = run.RunId,
                Final = true,
                UpdatedAtUtc = stoppedAt.AddSeconds(10),
                Trees = run.Plan.Trees.Count,
                TreesWithClusters = run.ExpectedClusters.Count,
                Observations = run.Observations.Count,
                StorePath = $"/var/lib/treescout/runs/{run.RunId}/store.gpkg",
                Exports = [],
            }, false));
        }
        return messages;
    }
}
