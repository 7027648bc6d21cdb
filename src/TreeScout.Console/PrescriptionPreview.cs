using Microsoft.Extensions.Options;
using TreeScout.MapWriter;
using TreeScout.MapWriter.Exports;
using TreeScout.MapWriter.Prescription;
using TreeScout.MapWriter.Store;

namespace TreeScout.WebConsole;

/// <summary>A request the console cannot answer as asked (an unknown variety, runs of two blocks compared); the API answers 400 with this message.</summary>
public sealed class BadRequestException(string message) : Exception(message);

/// <summary>
/// The one place the console reads a run's per-tree values, as stored or re-prescribed with another variety profile
/// (the store is never written): exactly what `treescout export --prescription` computes, through the map writer's
/// own snapshot, so the pages, the API and every download agree with the exports.
/// </summary>
public sealed class PrescriptionPreview(IOptions<ConsoleOptions> options)
{
    private readonly Lazy<VarietyCatalog> _varieties = new(() => VarietyCatalog.Load(ResolveVarieties(options.Value.Varieties)));

    /// <summary>The export settings the map writer uses by default (ISOXML grid cell, spacings).</summary>
    public static readonly MapWriterOptions MapOptions = new();

    public VarietyCatalog Varieties => _varieties.Value;

    /// <summary>
    /// The profile to re-prescribe the run of <paramref name="metadata"/> (its run_metadata) with: <paramref name="variety"/>'s (the run's own when
    /// none is named) with <paramref name="target"/> clusters per tree when given; null when neither is asked for.
    /// </summary>
    public VarietyProfile? Profile(IReadOnlyDictionary<string, string?> metadata, string? variety, double? target)
    {
        if (string.IsNullOrWhiteSpace(variety) && target is null)
        {
            return null;
        }
        var profile = string.IsNullOrWhiteSpace(variety)
            ? RunMetadataKeys.ReadProfile(metadata) ?? Varieties.Find(null) ?? throw new BadRequestException("the run has no variety profile and there is no default one: name a variety")
            : Varieties.Defines(variety) ? Varieties.Find(variety)! : throw new BadRequestException($"no variety profile '{variety}'; known: {string.Join(", ", Varieties.Profiles.Select(p => p.Variety))}");
        return target switch
        {
            null => profile,
            >= 1 and <= 10_000 => profile with { TargetClustersPerTree = target.Value },
            _ => throw new BadRequestException($"target {target}: clusters per tree must be between 1 and 10000"),
        };
    }

    /// <summary>The run's snapshot with its own profile, or re-prescribed as asked (see <see cref="Profile"/>).</summary>
    public RunSnapshot Read(RunStore store, string? variety, double? target) => RunSnapshot.Read(store, MapOptions, Profile(store.ReadMetadata(), variety, target));

    private static string ResolveVarieties(string path) => Path.IsPathRooted(path) ? path : Path.Combine(AppContext.BaseDirectory, path);
}
