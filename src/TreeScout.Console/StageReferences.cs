using Microsoft.Extensions.Options;
using TreeScout.Contracts;

namespace TreeScout.WebConsole;

/// <summary>One BBCH stage as the review page's picker shows it: its label, what it looks like in words, and reference crops.</summary>
public sealed record StageChoice(BbchStage Stage, string Label, string Name, string Description, IReadOnlyList<string> References);

/// <summary>
/// The stage picker's reference crops, read at run time from Console:StageReferences (a folder of bbch53 … bbch71
/// sub-folders, e.g. the classifier's training crops): the first few images of each stage in file-name order, so the
/// same crops show every time. Without the folder, or for a stage without crops, the picker has the words only.
/// </summary>
public sealed class StageReferences(IOptions<ConsoleOptions> options)
{
    public const int PerStage = 3;

    private static readonly string[] ImageExtensions = [".jpg", ".jpeg", ".png"];

    /// <summary>What a reviewer looks for at each stage of an apple flower cluster (BBCH, Meier 2001).</summary>
    private static readonly Dictionary<BbchStage, (string Name, string Description)> Words = new()
    {
        [BbchStage.Bbch53] = ("Bud burst", "Bud scales separated, light green bud tips visible"),
        [BbchStage.Bbch54] = ("Mouse-ear", "Green leaf tips about 10 mm above the bud scales, first leaves separating"),
        [BbchStage.Bbch56] = ("Green bud", "Flower buds visible, still closed and green"),
        [BbchStage.Bbch57] = ("Pink bud", "Flower pedicels elongating, petals visible, buds still closed"),
        [BbchStage.Bbch59] = ("Balloon", "Most flowers with petals forming a hollow ball"),
        [BbchStage.Bbch61] = ("First flowers", "Beginning of flowering: about 10 % of flowers open"),
        [BbchStage.Bbch65] = ("Full bloom", "At least 50 % of flowers open, first petals may be falling"),
        [BbchStage.Bbch67] = ("Petals falling", "Flowers fading: most petals fallen"),
        [BbchStage.Bbch69] = ("End of flowering", "All petals fallen"),
        [BbchStage.Bbch71] = ("Fruit set", "Fruit size up to 10 mm, fruit fall after flowering"),
    };

    public IReadOnlyList<StageChoice> Choices() =>
    [
        .. BbchStages.Ordered.Select(stage => new StageChoice(stage, $"BBCH {(int)stage}", Words[stage].Name, Words[stage].Description,
            [.. Files(stage).Select((_, i) => $"/api/stages/{BbchStages.Label(stage)}/references/{i}")])),
    ];

    /// <summary>The <paramref name="index"/>th reference crop of a stage (by its label, bbch65), or null when there is none.</summary>
    public string? File(string stageLabel, int index) =>
        BbchStages.TryParse(stageLabel, out var stage) && index >= 0 && Files(stage) is var files && index < files.Count ? files[index] : null;

    private List<string> Files(BbchStage stage)
    {
        var root = options.Value.StageReferences;
        var folder = string.IsNullOrWhiteSpace(root) ? null : Path.Combine(root, BbchStages.Label(stage));
        return folder is null || !Directory.Exists(folder)
            ? []
            : [.. Directory.EnumerateFiles(folder)
                .Where(f => ImageExtensions.Contains(Path.GetExtension(f), StringComparer.OrdinalIgnoreCase))
                .Order(StringComparer.Ordinal)
                .Take(PerStage)];
    }
}
