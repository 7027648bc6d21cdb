using System.Globalization;
using OpenCvSharp;
using TreeScout.MapWriter.Prescription;
using TreeScout.MapWriter.Store;

namespace TreeScout.MapWriter.Exports;

/// <summary>
/// One class of a map legend: the values it holds (from <paramref name="Lower"/> up to, not including,
/// <paramref name="Upper"/>; the last class also holds its upper bound), its label, colour (BGR) and how many trees it has.
/// </summary>
public sealed record LegendClass(double Lower, double Upper, string Label, Scalar Colour, int Trees);

/// <summary>
/// A classed legend of one per-tree value for the printed map: a few classes with round breaks (or one class per value
/// when there are only a few values), each with a colour of a sequential ramp, and a class for trees without a value.
/// </summary>
public sealed class MapLegend
{
    public const int MaxClasses = 6;
    private static readonly double[] NiceSteps = [1, 2, 2.5, 5, 10, 20, 25, 50, 100];

    /// <summary>ColorBrewer YlGnBu: light (few blossoms) to dark blue (many), readable in grey and by the colour-blind.</summary>
    private static readonly Scalar[] DensityRamp = [Hex(0xffffcc), Hex(0xc7e9b4), Hex(0x7fcdbb), Hex(0x41b6c4), Hex(0x2c7fb8), Hex(0x253494)];

    /// <summary>ColorBrewer OrRd: cream (no thinning) to dark red (full dose).</summary>
    private static readonly Scalar[] DoseRamp = [Hex(0xfef0d9), Hex(0xfdcc8a), Hex(0xfc8d59), Hex(0xe34a33), Hex(0xb30000)];

    public static readonly Scalar NoValueColour = new(200, 200, 200);

    private readonly Func<TreeRecord, double?> _value;

    /// <param name="classes">The classes, their tree counts still 0: counted here with <see cref="ClassOf"/>.</param>
    private MapLegend(string title, string unit, IReadOnlyList<LegendClass> classes, string noValueLabel, IReadOnlyList<TreeRecord> trees, Func<TreeRecord, double?> value)
    {
        Title = title;
        Unit = unit;
        _value = value;
        Classes = classes;
        var withoutValue = trees.Count(t => value(t) is null);
        NoValue = withoutValue == 0 ? null : new LegendClass(double.NaN, double.NaN, noValueLabel, NoValueColour, withoutValue);
        var counts = trees.Where(t => value(t) is not null).CountBy(ClassOf).ToDictionary();
        Classes = classes.Select(c => c with { Trees = counts.GetValueOrDefault(c) }).ToList();
    }

    public string Title { get; }

    /// <summary>The unit of the values, as the legend prints it (the trees.csv column's unit).</summary>
    public string Unit { get; }

    /// <summary>Classes from low to high values; empty when no tree has a value.</summary>
    public IReadOnlyList<LegendClass> Classes { get; }

    /// <summary>The class of trees without a value (grey), when there are any.</summary>
    public LegendClass? NoValue { get; }

    /// <summary>
    /// Blossom density (<see cref="TreeRecord.DensityPerM"/>, trees.csv <c>density_per_m</c>, clusters per metre of row):
    /// up to <see cref="MaxClasses"/> equal classes with round breaks over the block's range, coloured light to dark.
    /// </summary>
    public static MapLegend Density(IReadOnlyList<TreeRecord> trees)
    {
        Func<TreeRecord, double?> value = t => t.DensityPerM;
        var intervals = Intervals(trees.Select(value).OfType<double>().ToList());
        var classes = intervals.Count == 1 && intervals[0].Lower == intervals[0].Upper
            ? [Class(intervals[0], $"{Number(intervals[0].Lower)} clusters / m (every tree)", Ramp(DensityRamp, 0.5))]
            : intervals.Select((c, i) => Class(c, $"{Number(c.Lower)} - {Number(c.Upper)}", Ramp(DensityRamp, intervals.Count == 1 ? 0.5 : (double)i / (intervals.Count - 1)))).ToList();
        return new MapLegend("Blossom density per tree", "clusters / m of row", classes, "no value (nothing seen on the tree yet)", trees, value);
    }

    /// <summary>
    /// Thinning-agent rate (<see cref="TreeRecord.RateLPerHa"/>, trees.csv <c>rate_l_ha</c>, L/ha): one class per rate
    /// when the block has at most <see cref="MaxClasses"/> rates (zone classes, clamped doses; one class when every tree
    /// gets the same), else round intervals. Colours are fixed by the rate's share of the profile's maximum, so one dose
    /// has the same colour on every map of the profile.
    /// </summary>
    public static MapLegend Dose(IReadOnlyList<TreeRecord> trees, VarietyProfile profile)
    {
        Func<TreeRecord, double?> value = t => t.RateLPerHa;
        var withRate = trees.Where(t => t.RateLPerHa is not null).ToList();
        var values = withRate.Select(t => t.RateLPerHa!.Value).ToList();
        var maxRate = profile.FullDoseLPerHa * Math.Max(profile.MaxDosePercent, 1e-9) / 100;
        Scalar Colour(double rate) => Ramp(DoseRamp, rate / maxRate);
        var distinct = values.Distinct().Order().ToList();
        List<LegendClass> classes;
        if (distinct.Count <= MaxClasses)
        {
            classes = distinct.Select((rate, i) =>
            {
                var tree = withRate.First(t => t.RateLPerHa == rate);
                var zone = tree.ZoneClass is { Length: > 0 } name ? name + ": " : "";
                var percent = tree.DosePercent is { } p ? $" ({Number(p)} %)" : "";
                var none = rate == 0 ? " - no thinning needed" : "";
                var upper = i + 1 < distinct.Count ? distinct[i + 1] : rate;
                return Class((rate, upper), $"{zone}{Number(rate)} L/ha{percent}{none}", Colour(rate));
            }).ToList();
        }
        else
        {
            string Percent(double rate) => Number(rate / profile.FullDoseLPerHa * 100);
            classes = Intervals(values).Select(c => Class(c, $"{Number(c.Lower)} - {Number(c.Upper)} L/ha ({Percent(c.Lower)} - {Percent(c.Upper)} %)", Colour((c.Lower + c.Upper) / 2))).ToList();
        }
        return new MapLegend("Thinning dose per tree", "L/ha of tank mix", classes, "no dose (nothing seen on the tree yet)", trees, value);
    }

    /// <summary>The class <paramref name="tree"/> is drawn in: <see cref="NoValue"/> without a value.</summary>
    public LegendClass ClassOf(TreeRecord tree) =>
        _value(tree) is { } v ? Classes.FirstOrDefault(c => v < c.Upper) ?? Classes[^1] : NoValue!;

    /// <summary>
    /// Equal classes over [min, max] whose breaks are multiples of a round step (1, 2, 2.5 or 5 × 10^k): the smallest
    /// step that needs at most <see cref="MaxClasses"/> classes. One empty-width class when every value is the same.
    /// </summary>
    public static List<(double Lower, double Upper)> Intervals(IReadOnlyList<double> values)
    {
        if (values.Count == 0)
        {
            return [];
        }
        var (min, max) = (values.Min(), values.Max());
        if (max - min < 1e-9)
        {
            return [(min, min)];
        }
        var magnitude = Math.Pow(10, Math.Floor(Math.Log10((max - min) / MaxClasses)));
        foreach (var step in NiceSteps.Select(s => s * magnitude))
        {
            var first = Math.Floor((min / step) + 1e-9);
            var last = Math.Ceiling((max / step) - 1e-9);
            var count = Math.Max(1, (int)Math.Round(last - first));
            if (count <= MaxClasses)
            {
                return Enumerable.Range(0, count).Select(i => ((first + i) * step, (first + i + 1) * step)).ToList();
            }
        }
        throw new InvalidOperationException("unreachable: 10 × the raw step always fits");
    }

    private static LegendClass Class((double Lower, double Upper) range, string label, Scalar colour) => new(range.Lower, range.Upper, label, colour, 0);

    /// <summary>A value as the legend prints it: at most two decimals, invariant culture.</summary>
    public static string Number(double value) => value.ToString("0.##", CultureInfo.InvariantCulture);

    private static Scalar Ramp(Scalar[] stops, double t)
    {
        t = Math.Clamp(t, 0, 1) * (stops.Length - 1);
        var i = Math.Min((int)t, stops.Length - 2);
        var f = t - i;
        var (a, b) = (stops[i], stops[i + 1]);
        return new Scalar(Math.Round(a.Val0 + ((b.Val0 - a.Val0) * f)), Math.Round(a.Val1 + ((b.Val1 - a.Val1) * f)), Math.Round(a.Val2 + ((b.Val2 - a.Val2) * f)));
    }

    private static Scalar Hex(int rgb) => new(rgb & 0xff, (rgb >> 8) & 0xff, (rgb >> 16) & 0xff);
}
