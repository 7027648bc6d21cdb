namespace TreeScout.Contracts;

/// <summary>
/// The side of a row a tree was seen from: the alley left or right of the row, looking along it from its first end
/// (tree 1). Growers scan a row from both sides (two cameras on one pass between rows, or two passes); a cluster can be
/// seen from both.
/// </summary>
public static class RowSides
{
    public const string Left = "left";

    public const string Right = "right";

    public static bool IsKnown(string? side) => side is Left or Right;
}
