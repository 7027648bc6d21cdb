using OpenCvSharp;

namespace TreeScout.MapWriter.Exports;

/// <summary>
/// Places map labels so that none overlaps another, a blocked area (tree markers, map furniture) or leaves the bounds:
/// first come, first placed; a label that fits nowhere is left out. Deterministic for the same calls in the same order.
/// </summary>
public sealed class LabelPlacer(Rect bounds)
{
    /// <summary>Cell size of the grid that finds the rectangles near a candidate (label and marker sizes are tens of pixels).</summary>
    private const int Cell = 32;

    private readonly Dictionary<(int, int), List<Rect>> _grid = [];
    private readonly List<Rect> _placed = [];

    /// <summary>The labels placed so far, in order.</summary>
    public IReadOnlyList<Rect> Placed => _placed;

    /// <summary>An area no label may cover (it is not a label itself).</summary>
    public void Block(Rect area) => Add(area);

    /// <summary>
    /// A label of <paramref name="size"/> beside the marker at <paramref name="anchor"/> (radius
    /// <paramref name="clearance"/>): to its right, left, above or below, the first of those that is free; null when
    /// none is.
    /// </summary>
    public Rect? PlaceBeside(Point anchor, Size size, int clearance)
    {
        Rect[] candidates =
        [
            new(anchor.X + clearance, anchor.Y - (size.Height / 2), size.Width, size.Height),
            new(anchor.X - clearance - size.Width, anchor.Y - (size.Height / 2), size.Width, size.Height),
            new(anchor.X - (size.Width / 2), anchor.Y - clearance - size.Height, size.Width, size.Height),
            new(anchor.X - (size.Width / 2), anchor.Y + clearance, size.Width, size.Height),
        ];
        return candidates.Select(c => (Rect?)c).FirstOrDefault(c => TryPlace(c!.Value));
    }

    /// <summary>A label exactly at <paramref name="area"/> if it is free.</summary>
    public bool TryPlace(Rect area)
    {
        if (area.X < bounds.X || area.Y < bounds.Y || area.X + area.Width > bounds.X + bounds.Width || area.Y + area.Height > bounds.Y + bounds.Height || Cells(area).Any(cell => _grid.TryGetValue(cell, out var rects) && rects.Any(r => r.IntersectsWith(area))))
        {
            return false;
        }
        Add(area);
        _placed.Add(area);
        return true;
    }

    private void Add(Rect area)
    {
        foreach (var cell in Cells(area))
        {
            if (!_grid.TryGetValue(cell, out var rects))
            {
                _grid[cell] = rects = [];
            }
            rects.Add(area);
        }
    }

    private static IEnumerable<(int, int)> Cells(Rect area)
    {
        for (var x = (int)Math.Floor(area.X / (double)Cell); x * Cell < area.X + area.Width; x++)
        {
            for (var y = (int)Math.Floor(area.Y / (double)Cell); y * Cell < area.Y + area.Height; y++)
            {
                yield return (x, y);
            }
        }
    }
}
