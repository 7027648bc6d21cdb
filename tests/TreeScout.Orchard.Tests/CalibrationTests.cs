using TreeScout.Contracts;
using TreeScout.Orchard.Calibration;

namespace TreeScout.Orchard.Tests;

/// <summary>Student t, the two count models, their choice by leave-one-out error and the prediction interval, on values worked out by hand.</summary>
[Trait("Category", "Unit")]
public sealed class StudentTTests
{
    [Theory]
    [InlineData(0.3)]
    [InlineData(1.0)]
    [InlineData(2.5)]
    [InlineData(-4.0)]
    [InlineData(40.0)]
    public void The_cdf_equals_the_closed_forms_for_one_two_and_four_degrees_of_freedom(double t)
    {
        Assert.Equal(0.5 + (Math.Atan(t) / Math.PI), StudentT.Cdf(t, 1), 13);                      // Cauchy
        Assert.Equal(0.5 + (t / (2 * Math.Sqrt(2 + (t * t)))), StudentT.Cdf(t, 2), 13);
        var u = t / Math.Sqrt(1 + (t * t / 4));
        Assert.Equal(0.5 + (0.375 * u * (1 - (t * t / (12 * (1 + (t * t / 4)))))), StudentT.Cdf(t, 4), 13);
    }

    [Theory]
    [InlineData(0.95)]
    [InlineData(0.975)]
    [InlineData(0.9995)]
    [InlineData(0.2)]
    public void The_quantile_equals_the_closed_forms_for_one_and_two_degrees_of_freedom(double p)
    {
        Assert.Equal(Math.Tan(Math.PI * (p - 0.5)), StudentT.Quantile(p, 1), 9);
        Assert.Equal((2 * p - 1) / Math.Sqrt(2 * p * (1 - p)), StudentT.Quantile(p, 2), 12);
    }

    /// <summary>References: the t density integrated numerically (Simpson, 200 000 steps) and inverted by bisection, independently of the code under test; t tables give the first three decimals.</summary>
    [Theory]
    [InlineData(0.95, 3, 2.353363434801553)]
    [InlineData(0.95, 4, 2.1318467863267507)]
    [InlineData(0.95, 5, 2.0150483733332134)]
    [InlineData(0.95, 8, 1.8595480375310012)]
    [InlineData(0.95, 10, 1.8124611228116372)]
    [InlineData(0.95, 30, 1.6972608865940568)]
    [InlineData(0.975, 30, 2.0422724563012498)]
    [InlineData(0.99, 4, 3.7469473879786133)]
    [InlineData(0.95, 2.5, 2.5582186141359458)]
    [InlineData(0.95, 200, 1.6525081009107518)]
    public void The_quantile_matches_independent_reference_values(double p, double nu, double expected)
    {
        Assert.Equal(expected, StudentT.Quantile(p, nu), 9);
        Assert.Equal(-expected, StudentT.Quantile(1 - p, nu), 9);
        Assert.Equal(p, StudentT.Cdf(StudentT.Quantile(p, nu), nu), 13);
    }

    [Fact]
    public void Many_degrees_of_freedom_approach_the_normal_quantile()
    {
        Assert.Equal(1.6448536269514722, StudentT.Quantile(0.95, 1e7), 5);
        Assert.Equal(0, StudentT.Quantile(0.5, 3));
    }

    [Theory]
    [InlineData(0.0, 3.0)]
    [InlineData(1.0, 3.0)]
    [InlineData(0.95, 0.0)]
    [InlineData(0.95, -2.0)]
    [InlineData(double.NaN, 3.0)]
    public void Impossible_arguments_are_refused(double p, double nu) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => StudentT.Quantile(p, nu));

    [Fact]
    public void Log_gamma_matches_factorials_and_the_gamma_of_one_half()
    {
        Assert.Equal(Math.Log(24), StudentT.LogGamma(5), 13);
        Assert.Equal(Math.Log(3628800), StudentT.LogGamma(11), 12);
        Assert.Equal(0.5 * Math.Log(Math.PI), StudentT.LogGamma(0.5), 13);
    }
}

[Trait("Category", "Unit")]
public sealed class CountCalibrationTests
{
    private static CalibrationPoint[] Points(params (double Scanned, double Hand)[] points) => points.Select(p => new CalibrationPoint(p.Scanned, p.Hand)).ToArray();

    /// <summary>
    /// (10,12) (20,19) (30,33) (40,41). Proportional: a = Σxy/Σx² = 3130/3000 = 1.043333, SSE 9.366667, s² = SSE/3.
    /// Linear: x̄ 25, ȳ 26.25, Sxx 500, Sxy 505 → b 1.01, a 1.0, SSE 8.7. In-sample the line fits better, but
    /// predicting each tree from the other three: proportional errors −1.62069, 2.15385, −2.42857, 1.57143 (RMSE
    /// 1.976932), linear −3, 3.142857, −2.428571, 1.333333 (RMSE 2.576494): the proportional model is kept.
    /// </summary>
    [Fact]
    public void Leave_one_out_keeps_the_proportional_model_when_the_line_only_fits_the_counted_trees_better()
    {
        var fit = CountCalibration.Fit(Points((10, 12), (20, 19), (30, 33), (40, 41)));

        Assert.Equal(CountModelKind.Proportional, fit.Model.Kind);
        Assert.Equal(0, fit.Model.Intercept);
        Assert.Equal(1.0433333333, fit.Model.Slope, 9);
        Assert.Equal(1.9769316599, fit.LooRmseProportional!.Value, 9);
        Assert.Equal(2.5764941287, fit.LooRmseLinear!.Value, 9);
        Assert.Equal(1 - (9.3666666667 / 518.75), fit.R2!.Value, 9);           // SST = Σ(y − 26.25)² = 518.75
        Assert.Equal(Math.Sqrt(9.3666666667 / 4), fit.Rmse, 9);
        Assert.Equal(100 * ((1.62068966 / 12) + (2.15384615 / 19) + (2.42857143 / 33) + (1.57142857 / 41)) / 4, fit.LooMapePercent!.Value, 6);
        Assert.Equal(3, fit.Model.DegreesOfFreedom);
        Assert.Equal(Math.Sqrt(9.3666666667 / 3), fit.Model.ResidualSd, 9);
        Assert.False(fit.PoorFit);

        // 90 % prediction interval at 25 scanned: 26.0833 ± t(0.95, 3) · s · √(1 + 25²/3000).
        var at25 = fit.Model.Predict(25);
        var half = 2.353363434801553 * Math.Sqrt(9.3666666667 / 3) * Math.Sqrt(1 + (625.0 / 3000));
        Assert.Equal(26.0833333333, at25.Clusters, 9);
        Assert.Equal(26.0833333333 - half, at25.Low, 8);
        Assert.Equal(26.0833333333 + half, at25.High, 8);
        Assert.Equal(21.5123010907, at25.Low, 8);
    }

    /// <summary>
    /// (10,25) (20,30.5) (30,34.5) (40,40) (50,46): a fixed 20 per tree plus half the scan. Linear: x̄ 30, Sxx 1000,
    /// b = 515/1000, a = 35.2 − 15.45 = 19.75, SSE 1.075 on 3 degrees of freedom. Proportional through 0 misses
    /// badly (R² −0.336), and leave-one-out says so (RMSE 9.915 against 0.782).
    /// </summary>
    [Fact]
    public void Leave_one_out_picks_the_line_when_each_tree_carries_a_fixed_number_of_extra_clusters()
    {
        var fit = CountCalibration.Fit(Points((10, 25), (20, 30.5), (30, 34.5), (40, 40), (50, 46)));

        Assert.Equal(CountModelKind.Linear, fit.Model.Kind);
        Assert.Equal(19.75, fit.Model.Intercept, 9);
        Assert.Equal(0.515, fit.Model.Slope, 12);
        Assert.Equal(0.9959631994, fit.R2!.Value, 9);
        Assert.Equal(0.7815229115, fit.LooRmseLinear!.Value, 9);
        Assert.Equal(9.9150613099, fit.LooRmseProportional!.Value, 9);
        Assert.Equal(1.9222703051, fit.LooMapePercent!.Value, 8);
        Assert.Equal(3, fit.Model.DegreesOfFreedom);
        Assert.Equal("hand = 19.75 + 0.515 * scanned", fit.Model.Formula);

        // At 35: 37.775 ± t(0.95, 3) · s · √(1 + 1/5 + (35 − 30)²/1000), s = √(1.075/3).
        var at35 = fit.Model.Predict(35);
        Assert.Equal(37.775, at35.Clusters, 9);
        Assert.Equal(36.2158042208, at35.Low, 8);
        Assert.Equal(39.3341957792, at35.High, 8);
    }

    [Fact]
    public void The_leave_one_out_error_equals_the_residual_over_one_minus_the_leverage()
    {
        // An OLS identity: a check of the refits against a formula that does not refit.
        var points = Points((12, 15), (25, 22), (31, 40), (44, 43), (58, 70), (63, 61));
        var fit = CountCalibration.Fit(points);
        var model = CountCalibration.FitModel(CountModelKind.Linear, points)!;
        var press = points.Sum(p =>
        {
            var residual = p.Hand - (model.Intercept + (model.Slope * p.Scanned));
            var leverage = (1.0 / points.Length) + ((p.Scanned - model.ScannedMean) * (p.Scanned - model.ScannedMean) / model.SumOfSquares);
            return Math.Pow(residual / (1 - leverage), 2);
        });
        Assert.Equal(Math.Sqrt(press / points.Length), fit.LooRmseLinear!.Value, 10);
    }

    [Fact]
    public void Counts_and_interval_ends_are_never_negative()
    {
        var model = new CountModel(CountModelKind.Linear, -10, 1, 5, 4, 30, 1000);
        Assert.Equal(new CountPrediction(0, 0, 0), model.Predict(0) with { High = 0 });
        Assert.True(model.Predict(0).High > 0);
        Assert.Equal(0, model.Calibrate(5));
        Assert.Equal(20, model.Calibrate(30));
    }

    [Fact]
    public void A_fit_that_explains_less_than_half_of_the_variation_is_poor()
    {
        var fit = CountCalibration.Fit(Points((10, 30), (20, 10), (30, 40), (40, 15), (50, 35)));
        Assert.True(fit.R2 < 0.5, $"R² {fit.R2}");
        Assert.True(fit.PoorFit);
        Assert.True(CountCalibration.Fit(Points((10, 20), (10, 20), (20, 20))).PoorFit); // every hand count the same: R² undefined
    }

    [Fact]
    public void Too_few_or_too_alike_trees_cannot_be_fitted()
    {
        Assert.Equal("2 trees counted; a calibration needs at least 3",
            Assert.Throws<CalibrationException>(() => CountCalibration.Fit(Points((10, 12), (20, 19)))).Message);
        var alike = Assert.Throws<CalibrationException>(() => CountCalibration.Fit(Points((0, 12), (0, 19), (30, 40))));
        Assert.Contains("too alike", alike.Message, StringComparison.Ordinal);
        // All scanned equal: no line, but a proportional model still scales them.
        Assert.Equal(CountModelKind.Proportional, CountCalibration.Fit(Points((20, 12), (20, 19), (20, 23))).Model.Kind);
        Assert.Throws<CalibrationException>(() => CountCalibration.Fit(Points((10, -1), (20, 19), (30, 33))));
    }
}

[Trait("Category", "Unit")]
public sealed class HandCountFileTests
{
    private static readonly HashSet<string> Trees = ["R01-T001", "R01-T002", "R01-T003", "R01-T004", "R02-T001"];

    private static IReadOnlyList<HandCount> Parse(string text) => HandCountFile.Parse(text, "hand.csv", Trees);

    private static string Refused(string text) => Assert.Throws<HandCountException>(() => Parse(text)).Message;

    [Fact]
    public void Reads_counts_with_optional_stage_columns_in_any_column_order()
    {
        var counts = Parse("\uFEFFclusters,tree_id,bbch61,bbch65\r\n42,R01-T001,10,30\r\n\r\n17,R01-T003,,17\r\n 9 , \"R02-T001\" ,, \r\n");
        Assert.Equal(3, counts.Count);
        Assert.Equal(new HandCount("R01-T001", 42, counts[0].ByStage, 2), counts[0]);
        Assert.Equal(new Dictionary<BbchStage, int> { [BbchStage.Bbch61] = 10, [BbchStage.Bbch65] = 30 }, counts[0].ByStage);
        Assert.Equal(("R01-T003", 17, 4), (counts[1].TreeId, counts[1].Clusters, counts[1].Line));
        Assert.Equal(new Dictionary<BbchStage, int> { [BbchStage.Bbch65] = 17 }, counts[1].ByStage);
        Assert.Equal(("R02-T001", 9, 5), (counts[2].TreeId, counts[2].Clusters, counts[2].Line));
        Assert.Empty(counts[2].ByStage);
    }

    [Fact]
    public void Semicolons_from_a_comma_decimal_spreadsheet_are_read_too()
    {
        Assert.Equal([12, 30, 41], Parse("tree_id;clusters\nR01-T001;12\nR01-T002;30\nR01-T004;41\n").Select(c => c.Clusters));
    }

    [Theory]
    [InlineData("tree_id,clusters\nR01-T001,12\nR09-T001,30\nR01-T004,41\n", "hand.csv:3: tree 'R09-T001' is not a tree of this run (tree ids as in the exports, e.g. R01-T007)")]
    [InlineData("tree_id,clusters\nR01-T001,12\nR01-T002,-3\nR01-T004,41\n", "hand.csv:3: clusters -3 is negative; a count is 0 or more")]
    [InlineData("tree_id,clusters\nR01-T001,12\nR01-T002,30\nR01-T004,forty\n", "hand.csv:4: clusters 'forty' is not a whole number of clusters")]
    [InlineData("tree_id,clusters\nR01-T001,12\nR01-T002,30.5\nR01-T004,41\n", "hand.csv:3: clusters '30.5' is not a whole number of clusters")]
    [InlineData("tree_id,clusters\nR01-T001,12\nR01-T002,\nR01-T004,41\n", "hand.csv:3: clusters is empty for tree R01-T002")]
    [InlineData("tree_id,clusters\nR01-T001,12\n\nR01-T002,30\nR01-T001,41\n", "hand.csv:5: tree R01-T001 is counted twice (also on line 2); give each tree once")]
    [InlineData("tree_id,clusters\nR01-T001,12\nR01-T002,30\n", "hand.csv: 2 trees counted; a calibration needs at least 3 (`treescout calibrate --suggest 10` lists trees worth counting)")]
    [InlineData("tree_id,clusters,notes\nR01-T001,12,x\n", "hand.csv:1: unknown column 'notes'; the columns are tree_id, clusters and optionally one per stage, bbch53 … bbch71")]
    [InlineData("tree,clusters\nR01-T001,12\n", "hand.csv:1: unknown column 'tree'; the columns are tree_id, clusters and optionally one per stage, bbch53 … bbch71")]
    [InlineData("tree_id,bbch65\nR01-T001,12\n", "hand.csv:1: the header must name the columns tree_id and clusters (found: tree_id, bbch65)")]
    [InlineData("tree_id,clusters,clusters\n", "hand.csv:1: column 'clusters' appears twice")]
    [InlineData("tree_id,clusters\nR01-T001,12,4\n", "hand.csv:2: 3 fields, the header has 2 (tree_id,clusters)")]
    [InlineData("tree_id,clusters\n\"R01-T001,12\n", "hand.csv:2: a quoted field is not closed")]
    [InlineData("tree_id,clusters,bbch61,bbch65\nR01-T001,12,8,5\n", "hand.csv:2: the stage counts of tree R01-T001 add up to 13, more than its 12 clusters")]
    [InlineData("tree_id,clusters,bbch65\nR01-T001,12,-1\n", "hand.csv:2: bbch65 -1 is negative; a count is 0 or more")]
    [InlineData("tree_id,clusters\n,12\n", "hand.csv:2: tree_id is empty")]
    [InlineData(" \n\n", "hand.csv: empty; expected a header line 'tree_id,clusters' and one line per counted tree")]
    public void Bad_files_are_refused_with_the_line_that_is_wrong(string text, string message) => Assert.Equal(message, Refused(text));

    [Fact]
    public void A_value_with_a_line_break_is_refused_on_one_line()
    {
        var message = Refused("tree_id,clusters\n\"R01\rT001\",12\n");
        Assert.Equal("hand.csv:2: tree 'R01 T001' is not a tree of this run (tree ids as in the exports, e.g. R01-T007)", message);
    }

    [Fact]
    public void An_unreadable_file_is_named()
    {
        var message = Assert.Throws<HandCountException>(() => HandCountFile.Load("/nonexistent/hand.csv", Trees)).Message;
        Assert.StartsWith("/nonexistent/hand.csv: cannot read: ", message, StringComparison.Ordinal);
    }
}

[Trait("Category", "Unit")]
public sealed class HandCountSuggestionTests
{
    /// <summary>Two rows 3.5 m apart, trees 1 m apart; row 2's last tree has no clusters.</summary>
    private static readonly SuggestionCandidate[] Block =
    [
        .. new[] { 5, 10, 15, 20, 25, 30 }.Select((n, i) => new SuggestionCandidate($"R01-T00{i + 1}", "R01", i + 1, n, 0, i + 1)),
        .. new[] { 7, 12, 17, 22, 27, 0 }.Select((n, i) => new SuggestionCandidate($"R02-T00{i + 1}", "R02", i + 1, n, 3.5, i + 1)),
    ];

    /// <summary>
    /// 11 trees with clusters, by count: 5 7 10 | 12 15 17 20 | 22 25 27 30. Bin 1: the median, 7 (R02-T001 at 3.5, 1).
    /// Bin 2: farthest from it is R01-T004 (√(3.5² + 3²) = 4.61 m). Bin 3: nearest taken tree for R02-T004 3 m,
    /// R01-T005 1 m, R02-T005 3.64 m, R01-T006 2 m: R02-T005.
    /// </summary>
    [Fact]
    public void One_tree_per_count_bin_each_as_far_as_possible_from_the_others_in_walking_order()
    {
        var chosen = HandCountSuggestion.Suggest(Block, 3);
        Assert.Equal(["R01-T004", "R02-T001", "R02-T005"], chosen.Select(c => c.TreeId));
    }

    [Fact]
    public void The_choice_does_not_depend_on_the_order_trees_are_listed_in()
    {
        var reversed = HandCountSuggestion.Suggest(Block.Reverse().ToArray(), 5).Select(c => c.TreeId).ToList();
        Assert.Equal(HandCountSuggestion.Suggest(Block, 5).Select(c => c.TreeId), reversed);
        Assert.Equal(5, reversed.Count);
    }

    [Fact]
    public void Asking_for_more_trees_than_have_clusters_gives_all_of_them()
    {
        var chosen = HandCountSuggestion.Suggest(Block, 20);
        Assert.Equal(11, chosen.Count);
        Assert.DoesNotContain(chosen, c => c.TreeId == "R02-T006");
        Assert.Equal("R01-T001", chosen[0].TreeId);
    }
}
