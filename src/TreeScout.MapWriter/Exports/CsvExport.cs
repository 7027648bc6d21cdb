using System.Globalization;
using System.Text;
using TreeScout.Contracts;
using TreeScout.Orchard.Calibration;

namespace TreeScout.MapWriter.Exports;

/// <summary>
/// trees.csv: one row per tree, RFC 4180, invariant culture, latitude/longitude then the shared per-tree fields; and
/// hand_counts.csv when the run has a hand-count calibration: the counts it was fitted on, in the columns
/// `treescout calibrate --counts` reads, so the file can be entered again (e.g. into a re-scan of the same block).
/// </summary>
public static class CsvExport
{
    public const string FileName = "trees.csv";
    public const string HandCountsFileName = "hand_counts.csv";

    public static IReadOnlyList<string> Write(RunSnapshot run, string directory)
    {
        var path = Path.Combine(directory, FileName);
        WriteTable(path, TreeFields.All.Select(f => f.Name).Prepend("longitude").Prepend("latitude"),
            run.Trees.Select(tree => TreeFields.All.Select(f => f.Value(tree)).Prepend(tree.Longitude).Prepend(tree.Latitude)));
        if (run.HandCounts.Count == 0)
        {
            return [path];
        }
        var handCounts = Path.Combine(directory, HandCountsFileName);
        WriteTable(handCounts, new[] { HandCountFile.TreeIdColumn, HandCountFile.ClustersColumn }.Concat(BbchStages.Ordered.Select(BbchStages.Label)),
            run.HandCounts.Select(h => new object?[] { h.Count.TreeId, h.Count.Clusters }
                .Concat(BbchStages.Ordered.Select(s => h.Count.ByStage.TryGetValue(s, out var n) ? (object?)n : null))));
        return [path, handCounts];
    }

    private static void WriteTable(string path, IEnumerable<string> header, IEnumerable<IEnumerable<object?>> rows)
    {
        using var writer = new StreamWriter(path, false, new UTF8Encoding(false));
        writer.NewLine = "\r\n";
        writer.WriteLine(string.Join(",", header));
        foreach (var row in rows)
        {
            writer.WriteLine(string.Join(",", row.Select(Format)));
        }
    }

    private static string Format(object? value) => value switch
    {
        null => "",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        string s when s.IndexOfAny([',', '"', '\r', '\n']) >= 0 => $"\"{s.Replace("\"", "\"\"", StringComparison.Ordinal)}\"",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
