using Microsoft.Extensions.Options;
using TreeScout.Orchard;
using TreeScout.RunControl;

namespace TreeScout.WebConsole;

/// <summary>An uploaded block plan as the operator chooses it: its key, block name, variety, rows and trees.</summary>
public sealed record PlanEntry(string Key, string Block, string? Variety, int Rows, int Trees, string? Problem);

/// <summary>
/// The block plans uploaded to the console (GeoJSON, docs/recording-format.md), one file per block in Console:Plans. An
/// upload is parsed with the same code and refused with the same one line as `treescout run start --plan`, and only
/// stored when it parses. A plan's block name is the plan's own name, else the uploaded file's name.
/// </summary>
public sealed class BlockPlans(IOptions<ConsoleOptions> options)
{
    /// <summary>Larger than any orchard block's plan; a bigger upload is refused before it is read.</summary>
    public const long MaxBytes = 8 * 1024 * 1024;

    private string Folder => options.Value.PlansFolder;

    public IReadOnlyList<PlanEntry> List()
    {
        if (!Directory.Exists(Folder))
        {
            return [];
        }
        return [.. Directory.EnumerateFiles(Folder, "*.geojson").Order(StringComparer.Ordinal).Select(Describe)];
    }

    /// <summary>The plan's text and parsed form; an unknown key is refused.</summary>
    public (string Json, BlockPlan Plan) Read(string key)
    {
        var path = PathOf(key);
        if (!File.Exists(path))
        {
            throw new RunControlException($"no block plan '{key}'; upload it first", isUsageError: true);
        }
        var json = File.ReadAllText(path);
        return (json, RunStarts.ParsePlan(json, Path.GetFileName(path)));
    }

    /// <summary>Parses the upload and keeps it under its block's name (replacing an earlier plan of that block).</summary>
    public PlanEntry Save(string fileName, string json)
    {
        var plan = RunStarts.ParsePlan(json, fileName);
        var block = string.IsNullOrWhiteSpace(plan.Name) ? Path.GetFileNameWithoutExtension(fileName) : plan.Name;
        var key = Key(block);
        Directory.CreateDirectory(Folder);
        var path = PathOf(key);
        var temp = path + ".tmp";
        File.WriteAllText(temp, json);
        File.Move(temp, path, overwrite: true);
        return new PlanEntry(key, block, plan.Variety, plan.Rows.Count, plan.Trees.Count, null);
    }

    private PlanEntry Describe(string path)
    {
        var key = Path.GetFileNameWithoutExtension(path);
        try
        {
            var plan = BlockPlan.Parse(File.ReadAllText(path), Path.GetFileName(path));
            return new PlanEntry(key, string.IsNullOrWhiteSpace(plan.Name) ? key : plan.Name, plan.Variety, plan.Rows.Count, plan.Trees.Count, null);
        }
        catch (Exception ex) when (ex is BlockPlanException or IOException)
        {
            return new PlanEntry(key, key, null, 0, 0, ex.Message);
        }
    }

    private string PathOf(string key) =>
        Key(key) == key ? Path.Combine(Folder, key + ".geojson") : throw new RunControlException($"'{key}' is not a block plan key", isUsageError: true);

    /// <summary>A file-safe key of a block name: lower case letters, digits and dashes.</summary>
    public static string Key(string block)
    {
        var key = new string([.. block.Trim().ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-')]).Trim('-');
        return key.Length == 0 ? "block" : key[..Math.Min(60, key.Length)];
    }
}
