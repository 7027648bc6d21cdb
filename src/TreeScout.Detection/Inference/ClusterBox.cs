namespace TreeScout.Detection.Inference;

/// <summary>An axis-aligned box (left, top, width, height) in pixels of some image, with the detector's score.</summary>
public readonly record struct ClusterBox(float X, float Y, float W, float H, float Score)
{
    public float Right => X + W;

    public float Bottom => Y + H;

    public float Area => MathF.Max(0, W) * MathF.Max(0, H);

    public float IntersectionOverUnion(in ClusterBox other)
    {
        var w = MathF.Min(Right, other.Right) - MathF.Max(X, other.X);
        var h = MathF.Min(Bottom, other.Bottom) - MathF.Max(Y, other.Y);
        if (w <= 0 || h <= 0)
        {
            return 0;
        }
        var inter = w * h;
        return inter / (Area + other.Area - inter);
    }

    /// <summary>The box clipped to an image of the given size.</summary>
    public ClusterBox ClipTo(int width, int height)
    {
        var x0 = Math.Clamp(X, 0, width);
        var y0 = Math.Clamp(Y, 0, height);
        var x1 = Math.Clamp(Right, 0, width);
        var y1 = Math.Clamp(Bottom, 0, height);
        return this with { X = x0, Y = y0, W = x1 - x0, H = y1 - y0 };
    }
}

public static class NonMaxSuppression
{
    /// <summary>
    /// Greedy NMS: keeps the best-scoring box, drops every remaining box overlapping it by more than
    /// <paramref name="iouThreshold"/>, repeats; at most <paramref name="maxKept"/> boxes, best first.
    /// </summary>
    public static List<ClusterBox> Apply(IReadOnlyList<ClusterBox> boxes, float iouThreshold, int maxKept)
    {
        var order = new int[boxes.Count];
        for (var i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }
        // Stable on ties (index order), so results do not depend on the sort's whims.
        Array.Sort(order, (a, b) => boxes[b].Score != boxes[a].Score ? boxes[b].Score.CompareTo(boxes[a].Score) : a.CompareTo(b));
        var kept = new List<ClusterBox>();
        var suppressed = new bool[boxes.Count];
        foreach (var i in order)
        {
            if (suppressed[i])
            {
                continue;
            }
            kept.Add(boxes[i]);
            if (kept.Count >= maxKept)
            {
                break;
            }
            for (var j = 0; j < boxes.Count; j++)
            {
                if (!suppressed[j] && j != i && boxes[i].IntersectionOverUnion(boxes[j]) > iouThreshold)
                {
                    suppressed[j] = true;
                }
            }
        }
        return kept;
    }
}
