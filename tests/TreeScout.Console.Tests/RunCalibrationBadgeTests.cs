using TreeScout.MapWriter.Store;
using TreeScout.Orchard.Calibration;

namespace TreeScout.WebConsole.Tests;

/// <summary>What the pages say of a run's calibration: a good fit, a poor one (red, with the store's warning), none.</summary>
[Trait("Category", "Unit")]
public sealed class RunCalibrationBadgeTests
{
    private static StoredCalibration Stored(double? r2) => new(3, DateTimeOffset.Parse("2026-04-23T09:00:00Z", System.Globalization.CultureInfo.InvariantCulture), "hand.csv",
        new CalibrationFit(new CountModel(CountModelKind.Proportional, 0, 1.21, 10, 4.2, 38, 15_000), r2, 4.0, 7.5, 4.3, 4.6));

    [Fact]
    public void A_good_fit_names_its_hand_counts_model_and_r2()
    {
        var badge = RunCalibrationBadge.Of(Stored(0.853))!;

        Assert.Equal(("Calibrated by 10 hand counts (proportional, R² 0.85)", false, null), (badge.Text, badge.PoorFit, badge.Warning));
        Assert.Equal("proportional n=10 R2=0.85", badge.Label);
    }

    [Theory]
    [InlineData(0.41, "POOR FIT: calibrated by 10 hand counts (proportional, R² 0.41)", "POOR FIT n=10 R2=0.41")]
    [InlineData(null, "POOR FIT: calibrated by 10 hand counts (proportional, R² n/a)", "POOR FIT n=10 R2=n/a")]
    public void A_poor_fit_says_so_first_and_carries_the_stores_warning(double? r2, string text, string label)
    {
        var badge = RunCalibrationBadge.Of(Stored(r2))!;

        Assert.Equal((text, label, true), (badge.Text, badge.Label, badge.PoorFit));
        Assert.StartsWith("the hand-count calibration fits poorly", badge.Warning, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_a_calibration_there_is_no_badge_and_the_pages_say_counts_as_scanned()
    {
        Assert.Null(RunCalibrationBadge.Of(null));
        Assert.Equal("Counts as scanned (no hand-count calibration)", RunCalibrationBadge.None);
    }
}
