using System.CommandLine;
using System.Globalization;
using TreeScout.RunControl;

namespace TreeScout.Cli.Commands;

/// <summary>`--tree-spacing` and `--row-spacing` of `run start` and `scan`: without a plan, rows and trees are inferred from them.</summary>
public sealed class SpacingOptions
{
    public Option<double?> Tree { get; } = new("--tree-spacing")
    {
        Description = "Distance between trees in a row, metres (default: the plan's, else Fusion:DefaultTreeSpacingM); rows and trees without a plan follow from it",
    };

    public Option<double?> Row { get; } = new("--row-spacing")
    {
        Description = "Distance between rows, metres (default: the plan's, else Fusion:DefaultRowSpacingM)",
    };

    /// <summary>The given spacings; an implausible one is a usage error (read before any broker is contacted).</summary>
    public OrchardSpacing Read(ParseResult result) =>
        new(Checked(result.GetValue(Tree), Tree.Name, "tree spacing", 0.2, 10), Checked(result.GetValue(Row), Row.Name, "row spacing", 1, 20));

    private static double? Checked(double? metres, string option, string what, double min, double max) =>
        metres is { } m && !(m >= min && m <= max)
            ? throw new CliException(string.Create(CultureInfo.InvariantCulture, $"{option} {m}: the {what} must be between {min} and {max} metres"), Cli.UsageError)
            : metres;
}
