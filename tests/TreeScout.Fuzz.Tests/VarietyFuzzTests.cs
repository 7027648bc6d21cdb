using TreeScout.Contracts;
using TreeScout.MapWriter.Prescription;
using Xunit.Abstractions;

namespace TreeScout.Fuzz.Tests;

/// <summary>Variety profiles (YAML, or JSON read as YAML) as agronomists write them for `export --prescription` and the map writer.</summary>
[Trait("Category", "Unit")]
public sealed class VarietyFuzzTests(ITestOutputHelper output)
{
    private const string CorpusName = "variety";

    private static readonly IReadOnlyList<string> JsonValues =
        [.. JsonMutations.CommonValues, "\"bbch61\"", "\"BBCH65\"", "\"65\"", "\"bbch00\"", "\"bbch-61\"", "[{\"excess\":0,\"dosePercent\":0}]", "[null,null]", "[{}]"];

    /// <summary>YAML's own syntax: anchors, aliases, merge keys, tags, block scalars, documents, special floats.</summary>
    private static readonly IReadOnlyList<byte[]> Tokens = ByteMutations.Tokens(
        ":", ": ", "- ", "\n", "\n  ", "  ", "#", "&a ", "*a", "<<: ", "!!str ", "!!int ", "!!float ", "!!binary ", "!!map ", "!!seq ", "!custom ",
        "|", ">-", "---\n", "...\n", "%YAML 1.2\n", "%TAG ! tag:x,2000:\n", "? ", "{", "}", "[", "]", "'", "\"", "~", "null", ".nan", ".inf", "-.inf",
        "0x1F", "0o17", "1e400", "-0", "1_000", "yes", "\t", "\uFEFF", "\\u0000");

    private static readonly FuzzTarget<byte[]> Target = ConfigFiles.Target(
        CorpusName, ConfigFiles.Inputs(CorpusName, JsonValues, Tokens), LoadsOrRefuses, iterations: 25_000, "profile.yaml");

    public static TheoryData<string> CorpusFiles => Corpus.Names(CorpusName);

    [Fact]
    public void Mutated_variety_profiles_load_as_usable_profiles_or_throw_only_VarietyConfigException() =>
        Target.Run(output, nameof(VarietyFuzzTests));

    [Theory]
    [MemberData(nameof(CorpusFiles))]
    public void Corpus_profile_loads_or_is_refused(string file) => Target.Check(Corpus.Read(CorpusName, file));

    private static readonly Dictionary<BbchStage, long> StageMix = new() { [BbchStage.Bbch57] = 10, [BbchStage.Bbch65] = 80, [BbchStage.Bbch71] = 5 };

    /// <summary>
    /// <see cref="VarietyCatalog.LoadFile"/> refuses with <see cref="VarietyConfigException"/>, or returns a profile the
    /// prescription can use: a finite dose within the clamps (or a zone class's dose) for any cluster count, and a bloom check.
    /// </summary>
    private static void LoadsOrRefuses(string path)
    {
        if (Refusal.ReadOrRefuse<VarietyProfile, VarietyConfigException>(() => VarietyCatalog.LoadFile(path)) is not { } profile)
        {
            return;
        }
        if (NonNullable.FirstMissing(profile, "profile") is { } missing)
        {
            throw new ContractViolationException($"accepted profile has no {missing}");
        }
        foreach (var clusters in new[] { 0, 1, 120, 100_000 })
        {
            var dose = ThinningPrescription.For(profile, clusters);
            var inRange = profile.ZoneClasses.Count > 0
                ? profile.ZoneClasses.Any(c => c.DosePercent == dose.DosePercent)
                : dose.DosePercent >= profile.MinDosePercent && dose.DosePercent <= profile.MaxDosePercent;
            if (!inRange || !double.IsFinite(dose.RateLPerHa) || dose.RateLPerHa < 0)
            {
                throw new ContractViolationException($"{clusters} clusters get {dose} from profile {profile.Variety}");
            }
        }
        ThinningPrescription.BloomTimingWarning(profile, StageMix);
    }
}
