using System.Text.RegularExpressions;

namespace TreeScout.Deploy.Tests.Support;

public sealed record DockerInstruction(string Keyword, string Arguments, int Stage);

/// <summary>A Dockerfile read the way BuildKit reads it: continuation lines joined, comments dropped, ARG defaults resolved in FROM.</summary>
public sealed partial class Dockerfile
{
    private Dockerfile(List<DockerInstruction> instructions, Dictionary<string, string> globalArgs)
    {
        Instructions = instructions;
        GlobalArgs = globalArgs;
    }

    public IReadOnlyList<DockerInstruction> Instructions { get; }

    public IReadOnlyDictionary<string, string> GlobalArgs { get; }

    public int StageCount => Instructions.Count(i => i.Keyword == "FROM");

    public IEnumerable<DockerInstruction> InStage(int stage) => Instructions.Where(i => i.Stage == stage);

    public static Dockerfile Parse(string text)
    {
        var logical = new List<string>();
        var current = "";
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (current.Length == 0 && (line.TrimStart().StartsWith('#') || line.Trim().Length == 0))
            {
                continue;
            }
            if (line.TrimStart().StartsWith('#'))
            {
                continue;
            }
            if (line.EndsWith('\\'))
            {
                current += line[..^1] + " ";
                continue;
            }
            logical.Add(current + line);
            current = "";
        }
        var instructions = new List<DockerInstruction>();
        var globalArgs = new Dictionary<string, string>(StringComparer.Ordinal);
        var stage = -1;
        foreach (var line in logical)
        {
            var m = InstructionPattern().Match(line.Trim());
            var keyword = m.Groups[1].Value.ToUpperInvariant();
            var arguments = Regex.Replace(m.Groups[2].Value, @"\s+", " ").Trim();
            if (keyword == "FROM")
            {
                stage++;
            }
            if (keyword == "ARG" && stage < 0 && arguments.Split('=', 2) is [var name, var value])
            {
                globalArgs[name] = value;
            }
            instructions.Add(new DockerInstruction(keyword, arguments, stage));
        }
        return new Dockerfile(instructions, globalArgs);
    }

    /// <summary>The image of each FROM, with ${ARG} defaults substituted; stage names (FROM build) stay as they are.</summary>
    public IEnumerable<string> BaseImages() => Instructions.Where(i => i.Keyword == "FROM")
        .Select(i => ArgReference().Replace(i.Arguments.Split(' ')[0], a => GlobalArgs.TryGetValue(a.Groups[1].Value, out var v) ? v : a.Value));

    [GeneratedRegex(@"^(\w+)\s*(.*)$", RegexOptions.Singleline)]
    private static partial Regex InstructionPattern();

    [GeneratedRegex(@"\$\{?(\w+)\}?")]
    private static partial Regex ArgReference();
}
