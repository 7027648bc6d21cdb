using TreeScout.Contracts;
using TreeScout.Labelling;

namespace TreeScout.Labelling.Tests;

[Trait("Category", "Unit")]
public sealed class ReviewFolderTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 4, 20, 9, 0, 0, TimeSpan.Zero);
    private readonly string _run = Directory.CreateTempSubdirectory("treescout-review-").FullName;

    public void Dispose() => Directory.Delete(_run, recursive: true);

    internal static ReviewSample Sample(long sequence, int proposals = 2) => new()
    {
        RunId = "run-1",
        CameraId = "left",
        Sequence = sequence,
        CapturedAtUtc = T0.AddSeconds(sequence / 10.0),
        Width = 640,
        Height = 480,
        Detector = new ModelIdentity("blossom-detector", "3", "aa"),
        StageClassifier = new ModelIdentity("bbch-stage", "2", "bb"),
        Reason = SampleReason.Uncertain,
        Uncertainty = 0.7,
        Proposals = Enumerable.Range(0, proposals).Select(i => new ProposedBox(10 + 100 * i, 20, 40, 30, 0.4f + 0.1f * i, BbchStage.Bbch65)).ToList(),
        TreeIds = ["R01-T003"],
    };

    private static readonly byte[] Jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3];

    [Fact]
    public void A_sample_round_trips_and_a_redelivered_one_changes_nothing()
    {
        var folder = new ReviewFolder(_run);
        Assert.True(folder.AddSample(Sample(12), Jpeg));
        Assert.False(folder.AddSample(Sample(12) with { Uncertainty = 0.1 }, [0xFF, 0xD8, 9]));

        var read = folder.Sample("left-00000012");
        Assert.NotNull(read);
        Assert.Equal(0.7, read.Uncertainty);
        Assert.Equal(2, read.Proposals.Count);
        Assert.Equal(110f, read.Proposals[1].X);
        Assert.Equal(["R01-T003"], read.TreeIds);
        Assert.Equal(Jpeg, File.ReadAllBytes(folder.ImagePath("left-00000012")));
        Assert.Equal(["left-00000012"], folder.SampleIds());
        Assert.Null(folder.Sample("left-00000013"));
        Assert.Null(folder.Labels("left-00000012"));
    }

    [Fact]
    public void A_save_based_on_an_old_revision_is_a_conflict_until_it_overwrites()
    {
        var folder = new ReviewFolder(_run);
        folder.AddSample(Sample(5), Jpeg);
        var anna = new[] { new LabelledBox(10, 20, 40, 30, BbchStage.Bbch65, BoxOrigin.Accepted, 0) };
        var ben = new[] { new LabelledBox(300, 200, 50, 50, BbchStage.Bbch61, BoxOrigin.Added) };

        var first = Assert.IsType<LabelSave.Saved>(folder.SaveLabels("left-00000005", ReviewStatus.Labelled, anna, "anna", 0, false, T0));
        Assert.Equal(1, first.Labels.Revision);

        // Ben loaded the frame before Anna saved: his save must not silently replace hers.
        var conflict = Assert.IsType<LabelSave.Conflict>(folder.SaveLabels("left-00000005", ReviewStatus.Labelled, ben, "ben", 0, false, T0.AddMinutes(1)));
        Assert.Equal("anna", conflict.Current.Reviewer);
        Assert.Equal("anna", folder.Labels("left-00000005")!.Reviewer);

        var overwritten = Assert.IsType<LabelSave.Saved>(folder.SaveLabels("left-00000005", ReviewStatus.Labelled, ben, "ben", 0, true, T0.AddMinutes(2)));
        Assert.Equal(2, overwritten.Labels.Revision);
        Assert.Equal(1, overwritten.Labels.OverwroteRevision);

        var history = folder.History("left-00000005");
        Assert.Equal(["anna", "ben"], history.Select(h => h.Reviewer));
        Assert.Equal(BbchStage.Bbch65, history[0].Boxes.Single().Stage);

        // A save based on the latest revision is an ordinary one.
        var third = Assert.IsType<LabelSave.Saved>(folder.SaveLabels("left-00000005", ReviewStatus.Skipped, anna, "anna", 2, false, T0.AddMinutes(3)));
        Assert.Null(third.Labels.OverwroteRevision);
        Assert.Empty(third.Labels.Boxes);
        Assert.Equal(new ReviewProgress(1, 0, 1, folder.DiskBytes()), folder.Progress());
    }

    [Fact]
    public async Task A_save_waits_for_another_saver_of_the_frame_and_then_sees_its_labels()
    {
        var folder = new ReviewFolder(_run);
        folder.AddSample(Sample(6), Jpeg);
        var box = new[] { new LabelledBox(10, 20, 40, 30, BbchStage.Bbch65, BoxOrigin.Accepted, 0) };
        Task<LabelSave> ben;
        Directory.CreateDirectory(folder.LabelsPath);
        // Another saver (a second console request, another process) holds the frame's lock and saves meanwhile.
        using (new FileStream(Path.Combine(folder.LabelsPath, "left-00000006.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
        {
            ben = Task.Run(() => new ReviewFolder(_run).SaveLabels("left-00000006", ReviewStatus.Labelled, box, "ben", 0, false, T0));
            await Task.Delay(300);
            Assert.False(ben.IsCompleted);
        }
        var anna = folder.SaveLabels("left-00000006", ReviewStatus.Skipped, [], "anna", 0, false, T0);

        // Whoever got the lock first saved; the other was based on revision 0 and gets a conflict, not an error.
        var outcomes = new[] { await ben, anna };
        var saved = Assert.Single(outcomes.OfType<LabelSave.Saved>());
        Assert.Equal(saved.Labels.Reviewer, Assert.Single(outcomes.OfType<LabelSave.Conflict>()).Current.Reviewer);
        Assert.Single(folder.History("left-00000006"));
    }

    [Theory]
    [InlineData(600, 20, 60, 30, BoxOrigin.Added, null, "outside the 640x480 frame")]
    [InlineData(10, 20, 0, 30, BoxOrigin.Added, null, "at least 1 pixel")]
    [InlineData(10, 20, 40, 30, BoxOrigin.Accepted, 2, "proposal 2 is not one of the frame's 2")]
    [InlineData(10, 20, 40, 30, BoxOrigin.Added, 0, "an added box has no proposal")]
    public void Labels_that_do_not_fit_the_frame_are_refused_and_nothing_is_stored(float x, float y, float w, float h, BoxOrigin origin, int? proposal, string reason)
    {
        var folder = new ReviewFolder(_run);
        folder.AddSample(Sample(7), Jpeg);
        var ex = Assert.Throws<ArgumentException>(() => folder.SaveLabels("left-00000007", ReviewStatus.Labelled,
            [new LabelledBox(x, y, w, h, null, origin, proposal)], "anna", 0, false, T0));
        Assert.Contains(reason, ex.Message);
        Assert.Null(folder.Labels("left-00000007"));
        Assert.Empty(folder.History("left-00000007"));
    }

    [Fact]
    public void One_proposal_used_twice_and_an_unknown_stage_are_refused()
    {
        var folder = new ReviewFolder(_run);
        folder.AddSample(Sample(8), Jpeg);
        Assert.Contains("proposal 0 is used by 2 boxes", Assert.Throws<ArgumentException>(() => folder.SaveLabels("left-00000008", ReviewStatus.Labelled,
            [new LabelledBox(10, 20, 40, 30, null, BoxOrigin.Accepted, 0), new LabelledBox(12, 20, 40, 30, null, BoxOrigin.Redrawn, 0)], "anna", 0, false, T0)).Message);
        Assert.Contains("unknown BBCH stage 60", Assert.Throws<ArgumentException>(() => folder.SaveLabels("left-00000008", ReviewStatus.Labelled,
            [new LabelledBox(10, 20, 40, 30, (BbchStage)60, BoxOrigin.Added)], "anna", 0, false, T0)).Message);
    }

    [Fact]
    public void A_torn_last_history_line_from_a_power_cut_is_ignored_but_a_torn_middle_line_is_reported()
    {
        var folder = new ReviewFolder(_run);
        folder.AddSample(Sample(9), Jpeg);
        folder.SaveLabels("left-00000009", ReviewStatus.Skipped, [], "anna", 0, false, T0);
        var history = Path.Combine(folder.LabelsPath, "left-00000009.history.jsonl");
        File.AppendAllText(history, "{\"status\":\"Lab");
        Assert.Single(folder.History("left-00000009"));

        File.AppendAllText(history, "\n" + File.ReadAllLines(history)[0] + "\n");
        var ex = Assert.Throws<ReviewFileException>(() => folder.History("left-00000009"));
        Assert.Contains(":2:", ex.Message);
    }

    [Theory]
    [InlineData("left-00000012", true)]
    [InlineData("cam_2.a-00000000", true)]
    [InlineData("../x-00000001", false)]
    [InlineData("left-0000001", false)]
    [InlineData("left/00000012", false)]
    [InlineData(".hidden-00000001", false)]
    public void Sample_ids_from_a_request_cannot_name_another_file(string id, bool valid) =>
        Assert.Equal(valid, SampleId.IsValid(id));
}
