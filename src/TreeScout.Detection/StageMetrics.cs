using TreeScout.Contracts;

namespace TreeScout.Detection;

/// <summary>
/// How well stage predictions match labelled crops: top-1, within one stage in bloom order, flowering (61/65/67) vs
/// not, per-class recall and the confusion table (rows = true stage, columns = predicted, <see cref="BbchStages.Ordered"/>).
/// </summary>
public sealed class StageMetrics
{
    private readonly int[,] _confusion = new int[BbchStages.Count, BbchStages.Count];

    public int Count { get; private set; }

    public void Add(BbchStage truth, BbchStage predicted)
    {
        _confusion[BbchStages.IndexOf(truth), BbchStages.IndexOf(predicted)]++;
        Count++;
    }

    public int this[int truth, int predicted] => _confusion[truth, predicted];

    public double Top1 => Fraction((t, p) => t == p);

    public double WithinOne => Fraction((t, p) => Math.Abs(t - p) <= 1);

    public double Flowering => Fraction((t, p) => BbchStages.IsFlowering(BbchStages.Ordered[t]) == BbchStages.IsFlowering(BbchStages.Ordered[p]));

    /// <summary>Recall of one true stage; NaN when no crop has that stage.</summary>
    public double Recall(int truth)
    {
        var row = 0;
        for (var p = 0; p < BbchStages.Count; p++)
        {
            row += _confusion[truth, p];
        }
        return row == 0 ? double.NaN : _confusion[truth, truth] / (double)row;
    }

    private double Fraction(Func<int, int, bool> counts)
    {
        if (Count == 0)
        {
            return double.NaN;
        }
        var n = 0;
        for (var t = 0; t < BbchStages.Count; t++)
        {
            for (var p = 0; p < BbchStages.Count; p++)
            {
                if (counts(t, p))
                {
                    n += _confusion[t, p];
                }
            }
        }
        return n / (double)Count;
    }

    /// <summary>Human-readable summary: the three accuracies, per-class recall and the confusion table.</summary>
    public string Format()
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        var sb = new System.Text.StringBuilder();
        sb.AppendLine(inv, $"{Count} labelled crops: top-1 {Top1:P1}, within one stage {WithinOne:P1}, flowering vs not {Flowering:P1}");
        sb.Append("recall:");
        for (var t = 0; t < BbchStages.Count; t++)
        {
            sb.Append(inv, $" {BbchStages.Label(BbchStages.Ordered[t])} {Recall(t):F2}");
        }
        sb.AppendLine();
        sb.AppendLine("confusion (rows = true stage, columns = predicted):");
        sb.Append("        ");
        foreach (var s in BbchStages.Ordered)
        {
            sb.Append(inv, $"{(int)s,6}");
        }
        sb.AppendLine();
        for (var t = 0; t < BbchStages.Count; t++)
        {
            sb.Append(inv, $"{BbchStages.Label(BbchStages.Ordered[t]),-8}");
            for (var p = 0; p < BbchStages.Count; p++)
            {
                sb.Append(inv, $"{_confusion[t, p],6}");
            }
            sb.AppendLine();
        }
        return sb.ToString();
    }
}
