using TreeScout.Orchard.Calibration;
using Xunit.Abstractions;

namespace TreeScout.Fuzz.Tests;

/// <summary>An agronomist's hand-counts file (`treescout calibrate --counts`), read against a run's trees and fitted.</summary>
[Trait("Category", "Unit")]
public sealed class HandCountFuzzTests(ITestOutputHelper output)
{
    private const string CorpusName = "hand-counts";

    /// <summary>The trees of the run the files are read against: two rows of twelve, as in the bundled sample.</summary>
    private static readonly HashSet<string> Trees = [.. Enumerable.Range(1, 2).SelectMany(r => Enumerable.Range(1, 12).Select(t => $"R{r:00}-T{t:000}"))];

    /// <summary>A scanned count for every tree, so a file that reads can also be fitted.</summary>
    private static readonly Dictionary<string, int> Scanned = Trees.Order(StringComparer.Ordinal).Select((id, i) => (id, i)).ToDictionary(x => x.id, x => (x.i * 7) % 50);

    private static readonly IReadOnlyList<byte[]> Tokens = ByteMutations.Tokens(
        ",", ";", "\"", "\"\"", "\n", "\r\n", "\r", " ", "\t", "\uFEFF", "tree_id", "clusters", "bbch65", "bbch00", "R01-T001", "R02-T012", "R09-T001",
        "-1", "0", "2147483647", "2147483648", "99999999999", "1e3", "12.5", "٣", "NaN", "+7", "-0");

    private static readonly FuzzTarget<byte[]> Target = ConfigFiles.Target(
        CorpusName, ByteMutations.Of(Corpus.Bytes(CorpusName), Tokens), ReadsOrRefuses, iterations: 40_000, "hand.csv");

    public static TheoryData<string> CorpusFiles => Corpus.Names(CorpusName);

    [Fact]
    public void Mutated_counts_files_read_as_usable_counts_or_throw_only_HandCountException() =>
        Target.Run(output, nameof(HandCountFuzzTests));

    [Theory]
    [MemberData(nameof(CorpusFiles))]
    public void Corpus_counts_file_reads_or_is_refused(string file) => Target.Check(Corpus.Read(CorpusName, file));

    /// <summary>
    /// <see cref="HandCountFile.Load"/> refuses with <see cref="HandCountException"/>, or returns at least 3 counts of
    /// distinct trees of the run, each 0 or more with stage counts that fit in it; those fit, or are refused with a
    /// one-line <see cref="CalibrationException"/>, into a model whose every tree gets a finite count inside its interval.
    /// </summary>
    private static void ReadsOrRefuses(string path)
    {
        if (Refusal.ReadOrRefuse<IReadOnlyList<HandCount>, HandCountException>(() => HandCountFile.Load(path, Trees)) is not { } counts)
        {
            return;
        }
        if (counts.Count < CountCalibration.MinTrees || counts.Select(c => c.TreeId).Distinct().Count() != counts.Count
            || counts.Any(c => !Trees.Contains(c.TreeId) || c.Clusters < 0 || c.ByStage.Values.Any(n => n < 0) || c.ByStage.Values.Sum(n => (long)n) > c.Clusters))
        {
            throw new ContractViolationException($"accepted counts break the file's rules: {string.Join("; ", counts)}");
        }
        if (Refusal.ReadOrRefuse<CalibrationFit, CalibrationException>(() => CountCalibration.Fit([.. counts.Select(c => new CalibrationPoint(Scanned[c.TreeId], c.Clusters))])) is not { } fit)
        {
            return;
        }
        var t = fit.Model.TQuantile;
        foreach (var scanned in new[] { 0, 1, 25, 49, 10_000 })
        {
            var p = fit.Model.Predict(scanned, t);
            if (!double.IsFinite(p.Clusters) || !double.IsFinite(p.High) || p.Low < 0 || p.Low > p.Clusters || p.Clusters > p.High)
            {
                throw new ContractViolationException($"{fit.Model} predicts {p} for {scanned} scanned clusters");
            }
        }
    }
}
