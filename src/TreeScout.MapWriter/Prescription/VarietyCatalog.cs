using System.Globalization;
using TreeScout.Contracts;
using YamlDotNet.Core;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace TreeScout.MapWriter.Prescription;

/// <summary>A variety profile file is missing a field or has an invalid one; the message names the file and the field.</summary>
public sealed class VarietyConfigException : Exception
{
    public VarietyConfigException(string message)
        : base(message)
    {
    }

    public VarietyConfigException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public VarietyConfigException()
    {
    }
}

/// <summary>
/// The variety profiles the writer knows, loaded and validated at start from one file or a folder of
/// *.yaml / *.yml / *.json files (JSON is read as YAML). Lookup is case-insensitive by variety name or alias;
/// varieties without a profile use the one named "default".
/// </summary>
public sealed class VarietyCatalog
{
    public const string DefaultVariety = "default";

    private readonly Dictionary<string, VarietyProfile> _byName;

    private VarietyCatalog(IReadOnlyList<VarietyProfile> profiles, Dictionary<string, VarietyProfile> byName)
    {
        Profiles = profiles;
        _byName = byName;
    }

    public IReadOnlyList<VarietyProfile> Profiles { get; }

    /// <summary>True when <paramref name="variety"/> has a profile of its own (not the default's fallback).</summary>
    public bool Defines(string variety) => _byName.ContainsKey(Normalize(variety));

    /// <summary>The profile for a variety, the default profile, or null when neither exists.</summary>
    public VarietyProfile? Find(string? variety) =>
        (variety is not null && _byName.TryGetValue(Normalize(variety), out var p)) || _byName.TryGetValue(DefaultVariety, out p) ? p : null;

    public static VarietyCatalog Load(string path)
    {
        var files = Directory.Exists(path)
            ? Directory.EnumerateFiles(path).Where(f => f.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".yml", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".json", StringComparison.OrdinalIgnoreCase)).Order(StringComparer.Ordinal).ToList()
            : File.Exists(path) ? [path] : throw new VarietyConfigException($"{path}: variety profile file or folder does not exist");
        if (files.Count == 0)
        {
            throw new VarietyConfigException($"{path}: folder has no variety profiles (*.yaml, *.yml, *.json)");
        }
        var profiles = new List<VarietyProfile>();
        var byName = new Dictionary<string, VarietyProfile>(StringComparer.Ordinal);
        var sourceOf = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var file in files)
        {
            var profile = LoadFile(file);
            profiles.Add(profile);
            foreach (var name in profile.Aliases.Prepend(profile.Variety))
            {
                var key = Normalize(name);
                if (!byName.TryAdd(key, profile))
                {
                    throw new VarietyConfigException($"{file}: variety name '{Reasons.OneLine(name)}' is already defined in {sourceOf[key]}");
                }
                sourceOf[key] = file;
            }
        }
        return new VarietyCatalog(profiles, byName);
    }

    public static VarietyProfile LoadFile(string file)
    {
        string text;
        try
        {
            text = File.ReadAllText(file);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new VarietyConfigException($"{file}: cannot read variety profile: {ex.Message}", ex);
        }
        return Parse(text, file);
    }

    public static VarietyProfile Parse(string text, string source)
    {
        ProfileDto? dto;
        try
        {
            dto = Deserializer.Deserialize<ProfileDto?>(text);
        }
        catch (YamlException ex)
        {
            // The inner message may quote the whole offending value ("The input string '…' was not in a correct format").
            var inner = ex.InnerException is null ? "" : $" ({Reasons.OneLine(ex.InnerException.Message)})";
            throw new VarietyConfigException($"{source}: line {ex.Start.Line}, column {ex.Start.Column}: {Reasons.OneLine(ex.Message)}{inner}", ex);
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException)
        {
            // YamlDotNet throws these instead of a YamlException on some malformed documents: "...\n" followed by more
            // text (its scanner), a tag that is not a URI ("!!se]q").
            throw new VarietyConfigException($"{source}: not a YAML document: {Reasons.OneLine(ex.Message)}", ex);
        }
        return Validate(dto ?? throw new VarietyConfigException($"{source}: variety profile is empty"), source);
    }

    private static VarietyProfile Validate(ProfileDto d, string source)
    {
        VarietyConfigException Error(string field, string problem) => new($"{source}: {field}: {problem}");
        double Positive(double? v, string field) =>
            v is null ? throw Error(field, "missing (required)") : v > 0 && double.IsFinite(v.Value) ? v.Value : throw Error(field, $"must be a positive number, got {Fmt(v.Value)}");
        double Percent(double? v, string field) =>
            v is null ? throw Error(field, "missing (required)") : v is >= 0 and <= 200 ? v.Value : throw Error(field, $"must be a percentage between 0 and 200, got {Fmt(v.Value)}");

        if (string.IsNullOrWhiteSpace(d.Variety))
        {
            throw Error("variety", "missing (required)");
        }
        var target = Positive(d.TargetClustersPerTree, "targetClustersPerTree");
        var fullDose = Positive(d.FullDoseLPerHa, "fullDoseLPerHa");
        var min = Percent(d.MinDosePercent, "minDosePercent");
        var max = Percent(d.MaxDosePercent, "maxDosePercent");
        if (min > max)
        {
            throw Error("minDosePercent", $"{Fmt(min)} is above maxDosePercent {Fmt(max)}");
        }
        if (d.DoseResponse is not { Count: >= 2 })
        {
            throw Error("doseResponse", "needs at least two points {excess, dosePercent}");
        }
        var points = new List<DosePoint>();
        for (var i = 0; i < d.DoseResponse.Count; i++)
        {
            var p = d.DoseResponse[i] ?? throw Error($"doseResponse[{i}]", "empty point");
            var excess = p.Excess is { } e && double.IsFinite(e) ? e : throw Error($"doseResponse[{i}].excess", "missing or not a number");
            if (excess < -1)
            {
                throw Error($"doseResponse[{i}].excess", $"{Fmt(excess)} is below -1 (fewer than zero clusters)");
            }
            if (points.Count > 0 && excess <= points[^1].Excess)
            {
                throw Error($"doseResponse[{i}].excess", $"{Fmt(excess)} must be greater than the previous point's {Fmt(points[^1].Excess)}");
            }
            points.Add(new DosePoint(excess, Percent(p.DosePercent, $"doseResponse[{i}].dosePercent")));
        }
        var classes = new List<ZoneClass>();
        for (var i = 0; i < (d.ZoneClasses?.Count ?? 0); i++)
        {
            var c = d.ZoneClasses![i] ?? throw Error($"zoneClasses[{i}]", "empty class");
            var name = string.IsNullOrWhiteSpace(c.Name) ? throw Error($"zoneClasses[{i}].name", "missing (required)") : c.Name;
            var upTo = Percent(c.UpToDosePercent, $"zoneClasses[{i}].upToDosePercent");
            if (classes.Count > 0 && upTo <= classes[^1].UpToDosePercent)
            {
                throw Error($"zoneClasses[{i}].upToDosePercent", $"{Fmt(upTo)} must be greater than the previous class's {Fmt(classes[^1].UpToDosePercent)}");
            }
            classes.Add(new ZoneClass(name, upTo, Percent(c.DosePercent, $"zoneClasses[{i}].dosePercent")));
        }
        if (classes.Count > 0 && classes[^1].UpToDosePercent < max)
        {
            throw Error($"zoneClasses[{classes.Count - 1}].upToDosePercent", $"{Fmt(classes[^1].UpToDosePercent)} leaves doses up to maxDosePercent {Fmt(max)} without a class");
        }
        var w = d.BloomWindow ?? throw Error("bloomWindow", "missing (required): {first: bbch61, last: bbch67, warnShareOutside: 0.3}");
        var first = Stage(w.First, "bloomWindow.first");
        var last = Stage(w.Last, "bloomWindow.last");
        if ((int)first > (int)last)
        {
            throw Error("bloomWindow.first", $"{BbchStages.Label(first)} is after bloomWindow.last {BbchStages.Label(last)}");
        }
        var share = w.WarnShareOutside is { } s ? s is >= 0 and <= 1 ? s : throw Error("bloomWindow.warnShareOutside", $"must be a share between 0 and 1, got {Fmt(s)}") : throw Error("bloomWindow.warnShareOutside", "missing (required)");
        return new VarietyProfile
        {
            Variety = d.Variety.Trim(),
            Aliases = d.Aliases?.Where(a => !string.IsNullOrWhiteSpace(a)).Select(a => a.Trim()).ToList() ?? [],
            Agent = d.Agent,
            TargetClustersPerTree = target,
            FullDoseLPerHa = fullDose,
            DoseResponse = points,
            MinDosePercent = min,
            MaxDosePercent = max,
            ZoneClasses = classes,
            BloomWindow = new BloomWindow(first, last, share),
        };

        BbchStage Stage(string? label, string field) =>
            label is null ? throw Error(field, "missing (required), e.g. bbch61")
            : BbchStages.TryParse(label, out var stage) ? stage
            : throw Error(field, $"'{Reasons.OneLine(label)}' is not a BBCH stage TreeScout knows ({string.Join(", ", BbchStages.Ordered.Select(BbchStages.Label))})");
    }

    private static string Normalize(string name) => name.Trim().ToLowerInvariant();

    private static string Fmt(double v) => v.ToString("G", CultureInfo.InvariantCulture);

    private static readonly IDeserializer Deserializer = new DeserializerBuilder()
        .WithNamingConvention(CamelCaseNamingConvention.Instance)
        .Build();

    // Mutable, nullable shape of the file so a missing field is reported by name rather than defaulted.
    private sealed class ProfileDto
    {
        public string? Variety { get; set; }

        public List<string>? Aliases { get; set; }

        public string? Agent { get; set; }

        public double? TargetClustersPerTree { get; set; }

        public double? FullDoseLPerHa { get; set; }

        public List<PointDto?>? DoseResponse { get; set; }

        public double? MinDosePercent { get; set; }

        public double? MaxDosePercent { get; set; }

        public List<ZoneDto?>? ZoneClasses { get; set; }

        public WindowDto? BloomWindow { get; set; }
    }

    private sealed class PointDto
    {
        public double? Excess { get; set; }

        public double? DosePercent { get; set; }
    }

    private sealed class ZoneDto
    {
        public string? Name { get; set; }

        public double? UpToDosePercent { get; set; }

        public double? DosePercent { get; set; }
    }

    private sealed class WindowDto
    {
        public string? First { get; set; }

        public string? Last { get; set; }

        public double? WarnShareOutside { get; set; }
    }
}
