using System.Globalization;
using TreeScout.Simulation.Scoring;

namespace TreeScout.Tests;

/// <summary>A run's map as its store holds it, tree by tree: total clusters and clusters per stage, to compare two runs of one recording.</summary>
public static class PerTreeMap
{
    /// <summary>Tree id → "12 = 3xBbch57 + 9xBbch65" for the store in <paramref name="runFolder"/>.</summary>
    public static Dictionary<string, string> Read(string runFolder) =>
        RunResult.ReadStore(Path.Combine(runFolder, RunResult.StoreFile)).Trees.ToDictionary(
            t => t.TreeId,
            t => t.ClustersTotal.ToString(CultureInfo.InvariantCulture) + " = " + string.Join(" + ", t.ClustersByStage.OrderBy(s => s.Key).Select(s => $"{s.Value}x{s.Key}")),
            StringComparer.Ordinal);
}
