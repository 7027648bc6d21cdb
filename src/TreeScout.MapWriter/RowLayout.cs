namespace TreeScout.MapWriter;

/// <summary>A tree's position in a row, in the block's UTM metres.</summary>
public readonly record struct RowTree(int Index, double Easting, double Northing);

/// <summary>How much row a tree occupies and its canopy zone (a quadrilateral, UTM metres, corners in order).</summary>
public sealed record TreeSlot(double SpacingM, IReadOnlyList<(double Easting, double Northing)> Zone);

/// <summary>
/// Splits a row (straight or curved) into one slot per tree: the zone boundary between two neighbours lies half a tree
/// spacing from each (the midpoint when no tree is missing between them), so zones of a row tile it without gaps or
/// overlaps and follow curves. Across the row a zone is one row spacing wide, so the zones of adjacent rows tile the block.
/// </summary>
public static class RowLayout
{
    /// <param name="trees">Trees of one row ordered by index.</param>
    /// <param name="fallbackSpacingM">Along-row length for a row with a single tree.</param>
    /// <param name="widthM">Zone width across the row (the row spacing).</param>
    /// <param name="fallbackDirection">Row direction (unit vector, east/north) for a single tree.</param>
    public static IReadOnlyList<TreeSlot> Layout(IReadOnlyList<RowTree> trees, double fallbackSpacingM, double widthM, (double E, double N) fallbackDirection)
    {
        var slots = new TreeSlot[trees.Count];
        for (var i = 0; i < trees.Count; i++)
        {
            var t = trees[i];
            // Per-tree spacing towards each neighbour: distance divided by the index gap (missing trees in between).
            (double E, double N, double Spacing)? toPrev = i > 0 ? Towards(t, trees[i - 1]) : null;
            (double E, double N, double Spacing)? toNext = i < trees.Count - 1 ? Towards(t, trees[i + 1]) : null;
            var prev = toPrev ?? (toNext is { } n ? (-n.E, -n.N, n.Spacing) : (-fallbackDirection.E, -fallbackDirection.N, fallbackSpacingM));
            var next = toNext ?? (-prev.E, -prev.N, prev.Spacing);
            var spacing = (prev.Spacing + next.Spacing) / 2;
            var bPrev = (E: t.Easting + (prev.E * prev.Spacing / 2), N: t.Northing + (prev.N * prev.Spacing / 2));
            var bNext = (E: t.Easting + (next.E * next.Spacing / 2), N: t.Northing + (next.N * next.Spacing / 2));
            // Normals to the left of the driving direction prev → next, half a row spacing long.
            var h = widthM / 2;
            var nPrev = (E: prev.N * h, N: -prev.E * h);
            var nNext = (E: -next.N * h, N: next.E * h);
            slots[i] = new TreeSlot(spacing,
            [
                (bPrev.E - nPrev.E, bPrev.N - nPrev.N),
                (bNext.E - nNext.E, bNext.N - nNext.N),
                (bNext.E + nNext.E, bNext.N + nNext.N),
                (bPrev.E + nPrev.E, bPrev.N + nPrev.N),
            ]);
        }
        return slots;
    }

    private static (double E, double N, double Spacing)? Towards(RowTree from, RowTree to)
    {
        var (dx, dy) = (to.Easting - from.Easting, to.Northing - from.Northing);
        var d = Math.Sqrt((dx * dx) + (dy * dy));
        var gap = Math.Max(1, Math.Abs(to.Index - from.Index));
        return d < 1e-6 ? null : (dx / d, dy / d, d / gap);
    }
}
