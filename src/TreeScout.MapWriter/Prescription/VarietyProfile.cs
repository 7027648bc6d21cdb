using TreeScout.Contracts;

namespace TreeScout.MapWriter.Prescription;

/// <summary>
/// How to thin one apple variety: the crop-load target, the dose–response from excess blossom to thinning-agent rate,
/// clamps, optional zone classes and the bloom-stage window. Loaded from YAML/JSON (docs/prescription.md).
/// </summary>
public sealed record VarietyProfile
{
    /// <summary>Variety name as growers write it ("Gala"); "default" is used for varieties without their own profile.</summary>
    public required string Variety { get; init; }

    public IReadOnlyList<string> Aliases { get; init; } = [];

    /// <summary>Thinning agent and concentration, for the operator (not used in the formula).</summary>
    public string? Agent { get; init; }

    /// <summary>Blossom clusters per tree the grower wants to keep (crop-load target).</summary>
    public required double TargetClustersPerTree { get; init; }

    /// <summary>Spray rate of the tank mix at 100 % dose, litres per hectare.</summary>
    public required double FullDoseLPerHa { get; init; }

    /// <summary>Points (relative excess, % of full dose), linear between points, flat beyond the ends.</summary>
    public required IReadOnlyList<DosePoint> DoseResponse { get; init; }

    public required double MinDosePercent { get; init; }

    public required double MaxDosePercent { get; init; }

    /// <summary>Optional classes that snap the continuous dose to a few rates (sprayers with few rate steps).</summary>
    public IReadOnlyList<ZoneClass> ZoneClasses { get; init; } = [];

    public required BloomWindow BloomWindow { get; init; }
}

/// <summary>At relative excess <see cref="Excess"/> ((clusters − target) / target) apply <see cref="DosePercent"/> of the full dose.</summary>
public sealed record DosePoint(double Excess, double DosePercent);

/// <summary>Trees whose continuous dose is at most <see cref="UpToDosePercent"/> (and above the previous class) get <see cref="DosePercent"/>.</summary>
public sealed record ZoneClass(string Name, double UpToDosePercent, double DosePercent);

/// <summary>Stages in which blossom thinning is advised; a warning is raised when more than <see cref="WarnShareOutside"/> of clusters are before or after.</summary>
public sealed record BloomWindow(BbchStage First, BbchStage Last, double WarnShareOutside);
