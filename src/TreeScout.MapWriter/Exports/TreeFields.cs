using TreeScout.Contracts;
using TreeScout.MapWriter.Store;

namespace TreeScout.MapWriter.Exports;

public enum FieldKind
{
    Text,
    Integer,
    Real,
}

/// <summary>One per-tree attribute as every export writes it: full name (GeoJSON, CSV, Parquet, GeoPackage) and a ≤10-character DBF name (Shapefile).</summary>
public sealed record TreeField(string Name, string ShortName, FieldKind Kind, Func<TreeRecord, object?> Value);

/// <summary>The attribute list shared by all exports, so every format carries the same per-tree values as the store.</summary>
public static class TreeFields
{
    public static readonly IReadOnlyList<TreeField> All = Build();

    private static List<TreeField> Build()
    {
        var fields = new List<TreeField>
        {
            new("tree_id", "tree_id", FieldKind.Text, t => t.TreeId),
            new("row_id", "row_id", FieldKind.Text, t => t.RowId),
            new("tree_index", "tree_idx", FieldKind.Integer, t => t.TreeIndex),
            new("in_plan", "in_plan", FieldKind.Integer, t => t.InPlan ? 1 : 0),
            new("clusters_total", "clusters", FieldKind.Integer, t => t.ClustersTotal),
            new("clusters_seen_left", "seen_left", FieldKind.Integer, t => t.ClustersSeenLeft),
            new("clusters_seen_right", "seen_right", FieldKind.Integer, t => t.ClustersSeenRight),
        };
        fields.AddRange(BbchStages.Ordered.Select(stage =>
            new TreeField(BbchStages.Label(stage), BbchStages.Label(stage), FieldKind.Integer, t => t.ClustersAt(stage))));
        fields.AddRange(
        [
            new("clusters_low_confidence", "clust_low", FieldKind.Integer, t => t.ClustersLowConfidence),
            new("frames_seen", "frames", FieldKind.Integer, t => t.FramesSeen),
            new("spacing_m", "spacing_m", FieldKind.Real, t => t.SpacingM),
            new("density_per_m", "dens_m", FieldKind.Real, t => t.DensityPerM),
            new("confidence", "confidence", FieldKind.Real, t => t.Confidence),
            new("mean_score", "mean_score", FieldKind.Real, t => t.MeanScore),
            new("excess", "excess", FieldKind.Real, t => t.Excess),
            new("dose_pct", "dose_pct", FieldKind.Real, t => t.DosePercent),
            new("rate_l_ha", "rate_l_ha", FieldKind.Real, t => t.RateLPerHa),
            new("zone_class", "zone_class", FieldKind.Text, t => t.ZoneClass),
            new("clusters_calibrated", "clust_cal", FieldKind.Real, t => t.Calibrated?.Clusters),
            new("clusters_ci_low", "clust_lo", FieldKind.Real, t => t.Calibrated?.Low),
            new("clusters_ci_high", "clust_hi", FieldKind.Real, t => t.Calibrated?.High),
            new("calibration", "calib", FieldKind.Text, t => t.Calibration),
        ]);
        return fields;
    }
}
