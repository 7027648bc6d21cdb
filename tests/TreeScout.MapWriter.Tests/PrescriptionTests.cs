using TreeScout.Contracts;
using TreeScout.MapWriter.Prescription;

namespace TreeScout.MapWriter.Tests;

[Trait("Category", "Unit")]
public sealed class PrescriptionTests
{
    private static readonly VarietyProfile Profile = MapWriterTestData.RoundNumbers(targetClustersPerTree: 100);

    [Theory]
    [InlineData(50, -0.5, 10.0)]   // below target: curve 0 %, clamped up to the 10 % minimum
    [InlineData(100, 0.0, 10.0)]
    [InlineData(125, 0.25, 30.0)]  // halfway between (0, 0) and (0.5, 60)
    [InlineData(150, 0.5, 60.0)]
    [InlineData(175, 0.75, 80.0)]
    [InlineData(200, 1.0, 90.0)]   // curve 100 %, clamped down to the 90 % maximum
    [InlineData(400, 3.0, 90.0)]   // flat beyond the last point, then clamped
    public void Dose_follows_the_documented_formula(int clusters, double excess, double dose)
    {
        var result = ThinningPrescription.For(Profile, clusters);
        Assert.Equal(excess, result.Excess, 9);
        Assert.Equal(dose, result.DosePercent, 9);
        Assert.Equal(dose * 10, result.RateLPerHa, 9);
        Assert.Null(result.ZoneClass);
    }

    [Fact]
    public void Zone_classes_snap_the_dose_to_the_class_rate()
    {
        var gala = MapWriterTestData.Gala; // target 110, classes none ≤15 → 0, light ≤55 → 50, medium ≤85 → 75, heavy → 100
        Assert.Equal(("none", 0.0), Class(gala, 100));
        Assert.Equal(("light", 50.0), Class(gala, 132)); // excess 0.2 → 50 %
        Assert.Equal(("medium", 75.0), Class(gala, 165)); // excess 0.5 → 76.25 %
        Assert.Equal(("heavy", 100.0), Class(gala, 300));
        Assert.Equal(750.0, ThinningPrescription.For(gala, 165).RateLPerHa, 9);

        static (string?, double) Class(VarietyProfile p, int clusters)
        {
            var d = ThinningPrescription.For(p, clusters);
            return (d.ZoneClass, d.DosePercent);
        }
    }

    [Fact]
    public void The_worked_example_of_docs_prescription_md_holds()
    {
        // docs/prescription.md: default profile, a tree with 180 clusters → excess 0.5 → 60 % → 600 L/ha.
        var result = ThinningPrescription.For(MapWriterTestData.Catalog.Find("default")!, 180);
        Assert.Equal(0.5, result.Excess, 9);
        Assert.Equal(60.0, result.DosePercent, 9);
        Assert.Equal(600.0, result.RateLPerHa, 9);
    }

    [Fact]
    public void Bloom_timing_warns_when_too_many_clusters_are_before_or_after_the_window()
    {
        Dictionary<BbchStage, long> Mix(long early, long inWindow, long late) => new()
        {
            [BbchStage.Bbch57] = early, [BbchStage.Bbch65] = inWindow, [BbchStage.Bbch69] = late,
        };
        Assert.Null(ThinningPrescription.BloomTimingWarning(Profile, Mix(20, 70, 10)));
        Assert.StartsWith("too early", ThinningPrescription.BloomTimingWarning(Profile, Mix(50, 40, 10)), StringComparison.Ordinal);
        Assert.StartsWith("too late", ThinningPrescription.BloomTimingWarning(Profile, Mix(5, 55, 40)), StringComparison.Ordinal);
        Assert.Contains("bbch61–bbch67", ThinningPrescription.BloomTimingWarning(Profile, Mix(5, 55, 40)), StringComparison.Ordinal);
        Assert.Null(ThinningPrescription.BloomTimingWarning(Profile, Mix(0, 0, 0)));
    }

    [Fact]
    public void Shipped_profiles_load_and_resolve_by_name_alias_and_default()
    {
        var catalog = MapWriterTestData.Catalog;
        Assert.Equal("Gala", catalog.Find("royal gala")!.Variety);
        Assert.Equal("Golden Delicious", catalog.Find("GOLDEN")!.Variety);
        Assert.Equal("Elstar", catalog.Find("red elstar")!.Variety);
        Assert.Equal("default", catalog.Find("Pinova")!.Variety);
        Assert.Equal("default", catalog.Find(null)!.Variety);
    }

    [Theory]
    [InlineData("targetClustersPerTree: 100\n", "variety", "missing")]
    [InlineData("variety: X\nfullDoseLPerHa: 1\n", "targetClustersPerTree", "missing")]
    [InlineData("variety: X\ntargetClustersPerTree: -5\n", "targetClustersPerTree", "positive")]
    [InlineData("variety: X\ntargetClustersPerTree: 100\nfullDoseLPerHa: 1000\nminDosePercent: 0\nmaxDosePercent: 100\ndoseResponse: [{excess: 0, dosePercent: 0}]\n", "doseResponse", "two points")]
    [InlineData("variety: X\ntargetClustersPerTree: 100\nfullDoseLPerHa: 1000\nminDosePercent: 0\nmaxDosePercent: 100\ndoseResponse: [{excess: 0.5, dosePercent: 0}, {excess: 0.2, dosePercent: 50}]\n", "doseResponse[1].excess", "greater")]
    [InlineData("variety: X\ntargetClustersPerTree: 100\nfullDoseLPerHa: 1000\nminDosePercent: 50\nmaxDosePercent: 20\n", "minDosePercent", "above maxDosePercent")]
    [InlineData("variety: X\ntargetClustersPerTree: 100\nfullDoseLPerHa: 1000\nminDosePercent: 0\nmaxDosePercent: 100\ndoseResponse: [{excess: 0, dosePercent: 0}, {excess: 1, dosePercent: 100}]\n", "bloomWindow", "missing")]
    [InlineData("variety: X\ntargetClustersPerTree: 100\nfullDoseLPerHa: 1000\nminDosePercent: 0\nmaxDosePercent: 100\ndoseResponse: [{excess: 0, dosePercent: 0}, {excess: 1, dosePercent: 100}]\nbloomWindow: {first: bbch62, last: bbch67, warnShareOutside: 0.3}\n", "bloomWindow.first", "not a BBCH stage")]
    [InlineData("variety: X\ntargetClustersPerTree: 100\nfullDoseLPerHa: 1000\nminDosePercent: 0\nmaxDosePercent: 100\ndoseResponse: [{excess: 0, dosePercent: 0}, {excess: 1, dosePercent: 100}]\nzoneClasses: [{name: low, upToDosePercent: 50, dosePercent: 30}]\nbloomWindow: {first: bbch61, last: bbch67, warnShareOutside: 0.3}\n", "zoneClasses[0].upToDosePercent", "without a class")]
    [InlineData("variety: X\ntargetClusterPerTree: 100\n", "line 2", "targetClusterPerTree")]
    public void Invalid_profiles_are_rejected_naming_file_and_field(string yaml, string field, string problem)
    {
        var ex = Assert.Throws<VarietyConfigException>(() => VarietyCatalog.Parse(yaml, "varieties/x.yaml"));
        Assert.StartsWith("varieties/x.yaml: ", ex.Message, StringComparison.Ordinal);
        Assert.Contains(field, ex.Message, StringComparison.Ordinal);
        Assert.Contains(problem, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_folder_with_two_profiles_claiming_the_same_variety_is_rejected()
    {
        using var dir = new TempDir();
        File.Copy(Path.Combine(MapWriterTestData.ShippedVarieties, "gala.yaml"), dir["a.yaml"]);
        File.Copy(Path.Combine(MapWriterTestData.ShippedVarieties, "gala.yaml"), dir["b.yml"]);
        var ex = Assert.Throws<VarietyConfigException>(() => VarietyCatalog.Load(dir.Path));
        Assert.Contains("b.yml", ex.Message, StringComparison.Ordinal);
        Assert.Contains("already defined", ex.Message, StringComparison.Ordinal);
    }
}
