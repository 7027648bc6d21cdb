using System.Globalization;
using System.Text;
using TreeScout.Contracts;

namespace TreeScout.Orchard.Calibration;

/// <summary>One tree an agronomist counted: all its clusters, optionally per stage, and the line of the file it came from.</summary>
public sealed record HandCount(string TreeId, int Clusters, IReadOnlyDictionary<BbchStage, int> ByStage, int Line);

/// <summary>
/// A counts file was refused; the message starts with the file and, where there is one, the line (`hand.csv:4: …`), on
/// one line (a value quoted from the file may hold a line break).
/// </summary>
public sealed class HandCountException : Exception
{
    public HandCountException(string message)
        : base(Reasons.OneLine(message))
    {
    }

    public HandCountException(string message, Exception inner)
        : base(Reasons.OneLine(message), inner)
    {
    }

    public HandCountException()
    {
    }
}

/// <summary>
/// The agronomist's counts file (docs/calibration.md): a header line with <c>tree_id</c> and <c>clusters</c> in any order
/// and optional per-stage columns <c>bbch53</c> … <c>bbch71</c>, then one line per tree. Commas, or semicolons as a
/// spreadsheet in a comma-decimal locale writes them; fields may be quoted. Any error refuses the whole file.
/// </summary>
public static class HandCountFile
{
    public const string TreeIdColumn = "tree_id";
    public const string ClustersColumn = "clusters";

    public static IReadOnlyList<HandCount> Load(string path, IReadOnlySet<string> treesOfRun)
    {
        string text;
        try
        {
            text = File.ReadAllText(path, Encoding.UTF8);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new HandCountException($"{path}: cannot read: {ex.Message}", ex);
        }
        return Parse(text, path, treesOfRun);
    }

    public static IReadOnlyList<HandCount> Parse(string text, string source, IReadOnlySet<string> treesOfRun)
    {
        var lines = text.TrimStart('\uFEFF').Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        var headerIndex = lines.FindIndex(l => l.Trim().Length > 0);
        if (headerIndex < 0)
        {
            throw new HandCountException($"{source}: empty; expected a header line '{TreeIdColumn},{ClustersColumn}' and one line per counted tree");
        }
        var header = lines[headerIndex];
        var delimiter = header.Contains(';', StringComparison.Ordinal) && !header.Contains(',', StringComparison.Ordinal) ? ';' : ',';
        var columns = Columns(Fields(header, delimiter, source, headerIndex + 1), source, headerIndex + 1);
        var counts = new List<HandCount>();
        var lineOf = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = headerIndex + 1; i < lines.Count; i++)
        {
            if (lines[i].Trim().Length == 0)
            {
                continue;
            }
            var line = i + 1;
            string Where() => $"{source}:{line}";
            var fields = Fields(lines[i], delimiter, source, line);
            if (fields.Count != columns.Names.Count)
            {
                throw new HandCountException($"{Where()}: {fields.Count} fields, the header has {columns.Names.Count} ({string.Join(delimiter, columns.Names)})");
            }
            var treeId = fields[columns.TreeId];
            if (treeId.Length == 0)
            {
                throw new HandCountException($"{Where()}: {TreeIdColumn} is empty");
            }
            if (!treesOfRun.Contains(treeId))
            {
                throw new HandCountException($"{Where()}: tree '{treeId}' is not a tree of this run (tree ids as in the exports, e.g. R01-T007)");
            }
            if (lineOf.TryGetValue(treeId, out var earlier))
            {
                throw new HandCountException($"{Where()}: tree {treeId} is counted twice (also on line {earlier}); give each tree once");
            }
            lineOf[treeId] = line;
            var clusters = Count(fields[columns.Clusters], ClustersColumn, Where())
                ?? throw new HandCountException($"{Where()}: {ClustersColumn} is empty for tree {treeId}");
            var byStage = new Dictionary<BbchStage, int>();
            foreach (var (stage, column) in columns.Stages)
            {
                if (Count(fields[column], BbchStages.Label(stage), Where()) is { } n)
                {
                    byStage[stage] = n;
                }
            }
            if (byStage.Values.Sum(n => (long)n) > clusters)
            {
                throw new HandCountException($"{Where()}: the stage counts of tree {treeId} add up to {byStage.Values.Sum(n => (long)n)}, more than its {clusters} clusters");
            }
            counts.Add(new HandCount(treeId, clusters, byStage, line));
        }
        if (counts.Count < CountCalibration.MinTrees)
        {
            throw new HandCountException($"{source}: {CountCalibration.TreesCounted(counts.Count)}; a calibration needs at least {CountCalibration.MinTrees} (`treescout calibrate --suggest 10` lists trees worth counting)");
        }
        return counts;
    }

    private sealed record ColumnMap(IReadOnlyList<string> Names, int TreeId, int Clusters, IReadOnlyList<(BbchStage Stage, int Column)> Stages);

    private static ColumnMap Columns(List<string> names, string source, int line)
    {
        int treeId = -1, clusters = -1;
        var stages = new List<(BbchStage, int)>();
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < names.Count; i++)
        {
            var name = names[i];
            if (!seen.Add(name))
            {
                throw new HandCountException($"{source}:{line}: column '{name}' appears twice");
            }
            if (name.Equals(TreeIdColumn, StringComparison.OrdinalIgnoreCase))
            {
                treeId = i;
            }
            else if (name.Equals(ClustersColumn, StringComparison.OrdinalIgnoreCase))
            {
                clusters = i;
            }
            else if (name.StartsWith("bbch", StringComparison.OrdinalIgnoreCase) && BbchStages.TryParse(name, out var stage))
            {
                stages.Add((stage, i));
            }
            else
            {
                throw new HandCountException(
                    $"{source}:{line}: unknown column '{name}'; the columns are {TreeIdColumn}, {ClustersColumn} and optionally one per stage, {BbchStages.Label(BbchStages.Ordered[0])} … {BbchStages.Label(BbchStages.Ordered[^1])}");
            }
        }
        if (treeId < 0 || clusters < 0)
        {
            throw new HandCountException($"{source}:{line}: the header must name the columns {TreeIdColumn} and {ClustersColumn} (found: {string.Join(", ", names)})");
        }
        return new ColumnMap(names, treeId, clusters, stages);
    }

    /// <summary>A whole number of clusters ≥ 0, or null for an empty field.</summary>
    private static int? Count(string field, string column, string where)
    {
        if (field.Length == 0)
        {
            return null;
        }
        if (int.TryParse(field, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n))
        {
            return n >= 0 ? n : throw new HandCountException($"{where}: {column} {field} is negative; a count is 0 or more");
        }
        throw new HandCountException($"{where}: {column} '{field}' is not a whole number of clusters");
    }

    /// <summary>The fields of one line, trimmed; a field in double quotes may hold the delimiter and "" for a quote.</summary>
    private static List<string> Fields(string line, char delimiter, string source, int lineNumber)
    {
        var fields = new List<string>();
        var field = new StringBuilder();
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"')
                {
                    field.Append('"');
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    field.Append(c);
                }
            }
            else if (c == '"' && field.ToString().Trim().Length == 0)
            {
                field.Clear();
                quoted = true;
            }
            else if (c == delimiter)
            {
                fields.Add(field.ToString().Trim());
                field.Clear();
            }
            else
            {
                field.Append(c);
            }
        }
        if (quoted)
        {
            throw new HandCountException($"{source}:{lineNumber}: a quoted field is not closed");
        }
        fields.Add(field.ToString().Trim());
        return fields;
    }
}
