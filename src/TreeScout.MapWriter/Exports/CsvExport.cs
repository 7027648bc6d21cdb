using System.Globalization;
using System.Text;

namespace TreeScout.MapWriter.Exports;

/// <summary>trees.csv: one row per tree, RFC 4180, invariant culture, latitude/longitude then the shared per-tree fields.</summary>
public static class CsvExport
{
    public const string FileName = "trees.csv";

    public static IReadOnlyList<string> Write(RunSnapshot run, string directory)
    {
        var path = Path.Combine(directory, FileName);
        using var writer = new StreamWriter(path, false, new UTF8Encoding(false));
        writer.NewLine = "\r\n";
        writer.WriteLine(string.Join(",", TreeFields.All.Select(f => f.Name).Prepend("longitude").Prepend("latitude")));
        foreach (var tree in run.Trees)
        {
            var values = TreeFields.All.Select(f => Format(f.Value(tree))).Prepend(Format(tree.Longitude)).Prepend(Format(tree.Latitude));
            writer.WriteLine(string.Join(",", values));
        }
        return [path];
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
