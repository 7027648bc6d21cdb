using TreeScout.Orchard;
using Xunit.Abstractions;

namespace TreeScout.Fuzz.Tests;

/// <summary>Block plans (GeoJSON) as operators hand them to `run start --plan` and recordings carry them (block.geojson).</summary>
[Trait("Category", "Unit")]
public sealed class BlockPlanFuzzTests(ITestOutputHelper output)
{
    private const string CorpusName = "block-plan";

    /// <summary>Geometries of every kind, degenerate ones, and the plan's own vocabulary.</summary>
    private static readonly IReadOnlyList<string> JsonValues =
    [
        .. JsonMutations.CommonValues, "\"row\"", "\"tree\"", "\"block\"", "\"Feature\"", "\"FeatureCollection\"", "\"R01\"", "\"R01-T001\"",
        "{\"type\":\"Point\",\"coordinates\":[]}", "{\"type\":\"Point\",\"coordinates\":[5.7]}", "{\"type\":\"Point\",\"coordinates\":[5.7,51.93,1,2]}",
        "{\"type\":\"LineString\",\"coordinates\":[]}", "{\"type\":\"LineString\",\"coordinates\":[[5.7,51.93]]}",
        "{\"type\":\"LineString\",\"coordinates\":[[5.7,51.93],[5.7,51.93]]}", "{\"type\":\"MultiLineString\",\"coordinates\":[[[5.7,51.93],[5.71,51.94]]]}",
        "{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,0],[0,0]]]}", "{\"type\":\"GeometryCollection\",\"geometries\":[]}", "{\"type\":\"Unknown\"}",
        "{\"type\":\"name\",\"properties\":{\"name\":\"EPSG:28992\"}}", "{\"type\":\"name\",\"properties\":{\"name\":7}}", "[5.7,91]", "[181,51.93]",
    ];

    private static readonly FuzzTarget<byte[]> Target = ConfigFiles.Target(
        CorpusName,
        ConfigFiles.Inputs(CorpusName, JsonValues, ByteMutations.Tokens("e308", "\"coordinates\"", "\"kind\"", "\"crs\"")),
        LoadsOrRefuses,
        iterations: 20_000,
        Recording.BlockFile);

    public static TheoryData<string> CorpusFiles => Corpus.Names(CorpusName);

    [Fact]
    public void Mutated_block_plans_load_as_valid_plans_or_throw_only_BlockPlanException() =>
        Target.Run(output, nameof(BlockPlanFuzzTests));

    [Theory]
    [MemberData(nameof(CorpusFiles))]
    public void Corpus_plan_loads_or_is_refused(string file) => Target.Check(Corpus.Read(CorpusName, file));

    /// <summary>
    /// <see cref="BlockPlan.Load"/> refuses with <see cref="BlockPlanException"/>, or returns a plan fusion can use: rows
    /// that are lines (two points or more) on the globe, spacings that are distances, a UTM zone, and GeoJSON that loads back the same.
    /// </summary>
    private static void LoadsOrRefuses(string path)
    {
        if (Refusal.ReadOrRefuse<BlockPlan, BlockPlanException>(() => BlockPlan.Load(path)) is not { } plan)
        {
            return;
        }
        if (NonNullable.FirstMissing(plan, "plan") is { } missing)
        {
            throw new ContractViolationException($"accepted plan has no {missing}");
        }
        var bad = plan.Rows.FirstOrDefault(r => r.Line.Count < 2 || r.Line.Any(p => !OnGlobe(p.Latitude, p.Longitude)))?.Id
            ?? plan.Trees.FirstOrDefault(t => !OnGlobe(t.Latitude, t.Longitude))?.Id;
        if (plan.Rows.Count == 0 || bad is not null || !Distance(plan.TreeSpacingM) || !Distance(plan.RowSpacingM))
        {
            throw new ContractViolationException($"accepted plan is not usable ({plan.Rows.Count} rows, {bad ?? "spacing"} invalid): {plan.ToGeoJson()}");
        }
        plan.Projection();
        var again = BlockPlan.Parse(plan.ToGeoJson(), path);
        if (again.Rows.Count != plan.Rows.Count || again.Trees.Count != plan.Trees.Count || again.TreeSpacingM != plan.TreeSpacingM)
        {
            throw new ContractViolationException("the accepted plan written as GeoJSON loads back differently");
        }
    }

    private static bool OnGlobe(double latitude, double longitude) => latitude is >= -90 and <= 90 && longitude is >= -180 and <= 180;

    private static bool Distance(double? metres) => metres is null || (double.IsFinite(metres.Value) && metres > 0);
}
