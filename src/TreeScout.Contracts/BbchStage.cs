namespace TreeScout.Contracts;

/// <summary>Apple phenological stages the product distinguishes (BBCH scale), in bloom order.</summary>
public enum BbchStage
{
    Bbch53 = 53, // bud burst
    Bbch54 = 54, // mouse-ear
    Bbch56 = 56, // green bud
    Bbch57 = 57, // pink bud
    Bbch59 = 59, // balloon
    Bbch61 = 61, // first flowers
    Bbch65 = 65, // full bloom
    Bbch67 = 67, // petals falling
    Bbch69 = 69, // end of flowering
    Bbch71 = 71, // fruit set
}

public static class BbchStages
{
    /// <summary>All stages in bloom order; probability vectors in messages use this order.</summary>
    public static readonly IReadOnlyList<BbchStage> Ordered =
    [
        BbchStage.Bbch53, BbchStage.Bbch54, BbchStage.Bbch56, BbchStage.Bbch57, BbchStage.Bbch59,
        BbchStage.Bbch61, BbchStage.Bbch65, BbchStage.Bbch67, BbchStage.Bbch69, BbchStage.Bbch71,
    ];

    public static int Count => Ordered.Count;

    /// <summary>Position in bloom order (0..9); "within one stage" means indices differ by at most 1.</summary>
    public static int IndexOf(BbchStage stage)
    {
        for (var i = 0; i < Ordered.Count; i++)
        {
            if (Ordered[i] == stage)
            {
                return i;
            }
        }
        throw new ArgumentOutOfRangeException(nameof(stage), stage, "Not a BBCH stage TreeScout knows.");
    }

    /// <summary>61/65/67: the window in which chemical blossom thinning is timed.</summary>
    public static bool IsFlowering(BbchStage stage) => stage is BbchStage.Bbch61 or BbchStage.Bbch65 or BbchStage.Bbch67;

    /// <summary>"bbch65" — the label used in folders, model classes, files and JSON output.</summary>
    public static string Label(BbchStage stage) => $"bbch{(int)stage}";

    public static bool TryParse(string? label, out BbchStage stage)
    {
        stage = default;
        if (label is null)
        {
            return false;
        }
        var digits = label.StartsWith("bbch", StringComparison.OrdinalIgnoreCase) ? label[4..] : label;
        if (int.TryParse(digits, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n)
            && Enum.IsDefined(typeof(BbchStage), n))
        {
            stage = (BbchStage)n;
            return true;
        }
        return false;
    }
}
