using TreeScout.Contracts;
using TreeScout.Orchard.Calibration;

namespace TreeScout.MapWriter.Store;

/// <summary>
/// A tree's row of the store's <c>trees</c> table: its position and live per-tree values (<see cref="TreeAggregate"/>).
/// A record with only the tree's identity set is a tree nothing has been seen on yet (zero counts, no prescription),
/// as the store keeps a planned tree before its first cluster.
/// </summary>
public sealed record TreeRecord
{
    private static readonly IReadOnlyList<int> NoClusters = Array.AsReadOnly(new int[BbchStages.Count]);

    public required string TreeId { get; init; }

    public string? RowId { get; init; }

    public int? TreeIndex { get; init; }

    public double? Latitude { get; init; }

    public double? Longitude { get; init; }

    /// <summary>True when the block plan lists the tree; false when it was created because observations named it.</summary>
    public required bool InPlan { get; init; }

    /// <summary>Length of row the tree occupies, metres (plan spacing or half the distance to its neighbours on each side).</summary>
    public double? SpacingM { get; init; }

    /// <summary>
    /// The tree's whole-tree count: confident clusters attributed to it (low-confidence ones are not counted, see
    /// <see cref="ClustersLowConfidence"/>), a cluster seen from both sides of the row counted once (ADR 0074).
    /// </summary>
    public int ClustersTotal { get; init; }

    /// <summary>Confident clusters seen from the left side of the row (the alley left of it looking from its first end).</summary>
    public int ClustersSeenLeft { get; init; }

    /// <summary>Confident clusters seen from the right side of the row.</summary>
    public int ClustersSeenRight { get; init; }

    /// <summary>The whole-tree count per stage, in <see cref="BbchStages.Ordered"/> order (they add up to <see cref="ClustersTotal"/>).</summary>
    public IReadOnlyList<int> ClustersPerStage { get; init; } = NoClusters;

    public int ClustersLowConfidence { get; init; }

    public int FramesSeen { get; init; }

    /// <summary>Clusters per metre of row (<see cref="ClustersTotal"/> / <see cref="SpacingM"/>).</summary>
    public double? DensityPerM { get; init; }

    /// <summary>Share of the tree's observations that are not low-confidence (0 when none).</summary>
    public double Confidence { get; init; }

    public double? MeanScore { get; init; }

    public double? Excess { get; init; }

    public double? DosePercent { get; init; }

    public double? RateLPerHa { get; init; }

    public string? ZoneClass { get; init; }

    /// <summary>The calibrated count and its 90 % prediction interval when the run has a hand-count calibration (not a store column: computed from it).</summary>
    public CountPrediction? Calibrated { get; init; }

    /// <summary>Which calibration <see cref="Calibrated"/> comes from (<see cref="StoredCalibration.Label"/>), flagging a poor fit.</summary>
    public string? Calibration { get; init; }

    public int ClustersAt(BbchStage stage) => ClustersPerStage[BbchStages.IndexOf(stage)];
}
