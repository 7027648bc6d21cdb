using TreeScout.Contracts;
using TreeScout.Labelling;

namespace TreeScout.Labelling.Tests;

[Trait("Category", "Unit")]
public sealed class ReviewPruningTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 4, 20, 9, 0, 0, TimeSpan.Zero);
    private static readonly byte[] Jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3];
    private static readonly LabelledBox[] OneBox = [new(10, 20, 40, 30, BbchStage.Bbch65, BoxOrigin.Accepted, 0)];
    private readonly string _run = Directory.CreateTempSubdirectory("treescout-prune-").FullName;

    public void Dispose() => Directory.Delete(_run, recursive: true);

    private static ReviewSample Sample(long sequence, SampleReason reason) =>
        ReviewFolderTests.Sample(sequence) with { Reason = reason };

    private static string Id(long sequence) => SampleId.Of("left", sequence);

    private static ExportMark Exported(long sequence) => new(Id(sequence), 1, "betuwe-2026", T0);

    [Fact]
    public void Exported_then_skipped_then_unreviewed_every_nth_go_oldest_first_and_a_reviewers_unexported_work_never()
    {
        var folder = new ReviewFolder(_run);
        // Added newest first, so that the order cannot come from the files' order.
        foreach (var (sequence, reason) in new[]
                 {
                     (90L, SampleReason.EveryNth), (80L, SampleReason.Uncertain), (70L, SampleReason.EveryNth), (60L, SampleReason.EveryNth),
                     (50L, SampleReason.Uncertain), (40L, SampleReason.EveryNth), (30L, SampleReason.Uncertain), (20L, SampleReason.EveryNth),
                     (10L, SampleReason.EveryNth),
                 })
        {
            folder.AddSample(Sample(sequence, reason), Jpeg);
        }
        // 10 and 50: labelled and exported. 20: labelled, exported, then labelled again (the new labels are not in a dataset).
        // 30 and 70: skipped. 40: labelled, never exported. 60, 80, 90: unreviewed (80 uncertain).
        foreach (var s in new long[] { 10, 20, 40, 50 })
        {
            folder.SaveLabels(Id(s), ReviewStatus.Labelled, OneBox, "anna", 0, false, T0);
        }
        folder.MarkExported([Exported(10), Exported(50), Exported(20)]);
        folder.SaveLabels(Id(20), ReviewStatus.Labelled, [], "ben", 1, false, T0);
        folder.SaveLabels(Id(30), ReviewStatus.Skipped, [], "anna", 0, false, T0);
        folder.SaveLabels(Id(70), ReviewStatus.Skipped, [], "anna", 0, false, T0);

        Assert.Equal([Id(10), Id(50), Id(30), Id(70), Id(60), Id(90)], ReviewPruning.Order(folder));
        Assert.Equal([Id(10), Id(50)], folder.ExportedIds().Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Removing_a_sample_takes_its_image_labels_and_history_and_nothing_else()
    {
        var folder = new ReviewFolder(_run);
        folder.AddSample(Sample(1, SampleReason.EveryNth), Jpeg);
        folder.AddSample(Sample(2, SampleReason.EveryNth), Jpeg);
        folder.SaveLabels(Id(1), ReviewStatus.Labelled, OneBox, "anna", 0, false, T0);
        folder.SaveLabels(Id(2), ReviewStatus.Labelled, OneBox, "anna", 0, false, T0);
        folder.MarkExported([Exported(1)]);
        var before = folder.DiskBytes();
        var sampleBytes = folder.SampleDiskBytes(Id(1));

        Assert.True(folder.RemoveSample(Id(1)));
        Assert.False(folder.RemoveSample(Id(1)));

        Assert.Equal([Id(2)], folder.SampleIds());
        Assert.Null(folder.Labels(Id(1)));
        Assert.Empty(folder.History(Id(1)));
        Assert.Empty(folder.ExportedIds());
        Assert.False(File.Exists(folder.ImagePath(Id(1))));
        Assert.Equal(0, folder.SampleDiskBytes(Id(1)));
        Assert.True(sampleBytes > Jpeg.Length);
        Assert.Equal(before - sampleBytes, folder.DiskBytes());
        Assert.Equal(1, folder.Labels(Id(2))!.Revision);
    }

    [Fact]
    public void Updating_a_sample_rewrites_its_record_and_keeps_its_image_and_a_missing_one_is_not_created()
    {
        var folder = new ReviewFolder(_run);
        folder.AddSample(Sample(3, SampleReason.EveryNth) with { TreeIds = [] }, Jpeg);

        Assert.True(folder.UpdateSample(folder.Sample(Id(3))! with { TreeIds = ["R01-T002", "R01-T003"], BlockId = "B7" }));
        Assert.False(folder.UpdateSample(Sample(4, SampleReason.EveryNth)));

        Assert.Equal(["R01-T002", "R01-T003"], folder.Sample(Id(3))!.TreeIds);
        Assert.Equal("B7", folder.Sample(Id(3))!.BlockId);
        Assert.Equal(Jpeg, File.ReadAllBytes(folder.ImagePath(Id(3))));
        Assert.Equal([Id(3)], folder.SampleIds());
    }
}
