using System.Text.Json;
using TreeScout.Contracts;
using TreeScout.Labelling;

namespace TreeScout.Labelling.Tests;

[Trait("Category", "Unit")]
public sealed class DatasetExportTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 4, 20, 9, 0, 0, TimeSpan.Zero);
    private readonly string _root = Directory.CreateTempSubdirectory("treescout-dataset-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    /// <summary>The smallest JPEG header that declares a size: SOI, APP0 (JFIF), SOF0, EOI.</summary>
    internal static byte[] JpegOfSize(int width, int height) =>
    [
        0xFF, 0xD8,
        0xFF, 0xE0, 0x00, 0x10, (byte)'J', (byte)'F', (byte)'I', (byte)'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0,
        0xFF, 0xC0, 0x00, 0x11, 8, (byte)(height >> 8), (byte)height, (byte)(width >> 8), (byte)width, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1,
        0xFF, 0xD9,
    ];

    private ReviewFolder Run(string runId, params long[] sequences)
    {
        var folder = new ReviewFolder(Path.Combine(_root, runId));
        foreach (var s in sequences)
        {
            folder.AddSample(ReviewFolderTests.Sample(s) with { RunId = runId, BlockId = "B7" }, JpegOfSize(640, 480));
        }
        return folder;
    }

    private static void Label(ReviewFolder folder, long sequence, params LabelledBox[] boxes) =>
        Assert.IsType<LabelSave.Saved>(folder.SaveLabels($"left-{sequence:D8}", ReviewStatus.Labelled, boxes, "anna",
            folder.Labels($"left-{sequence:D8}")?.Revision ?? 0, false, T0.AddMinutes(sequence)));

    /// <summary>Labels as a broken or foreign tool might leave them: not through SaveLabels' checks.</summary>
    private static void WriteLabelsFile(ReviewFolder folder, long sequence, string boxJson)
    {
        Directory.CreateDirectory(folder.LabelsPath);
        File.WriteAllText(Path.Combine(folder.LabelsPath, $"left-{sequence:D8}.json"),
            $$"""{"status":"Labelled","boxes":[{{boxJson}}],"reviewer":"tool","savedAtUtc":"2026-04-20T10:00:00+00:00","revision":1}""");
    }

    private string Dataset => Path.Combine(_root, "datasets", "spring-2026");

    [Fact]
    public void Labelled_frames_become_coco_and_skipped_unreviewed_and_bad_frames_are_left_out_one_line_each()
    {
        var run = Run("run-1", 1, 2, 3, 4, 5, 6, 7, 8, 9);
        Label(run, 1, new LabelledBox(10.004f, 20, 40, 30, BbchStage.Bbch65, BoxOrigin.Accepted, 0), new LabelledBox(600, 450, 40.4f, 30.4f, null, BoxOrigin.Added));
        Label(run, 2); // labelled: no clusters in the frame
        run.SaveLabels("left-00000003", ReviewStatus.Skipped, [], "anna", 0, false, T0);
        Label(run, 5);
        File.Delete(run.ImagePath("left-00000005"));
        Label(run, 6);
        File.WriteAllBytes(run.ImagePath("left-00000006"), JpegOfSize(320, 240));
        WriteLabelsFile(run, 7, """{"x":600,"y":20,"w":60,"h":30,"origin":"Added"}""");
        WriteLabelsFile(run, 8, """{"x":10,"y":20,"w":40,"h":30,"stage":60,"origin":"Added"}""");
        Label(run, 9);
        File.WriteAllBytes(run.ImagePath("left-00000009"), [1, 2, 3]);

        var report = DatasetExport.Export([Path.Combine(_root, "run-1")], Dataset, T0.AddDays(1));

        Assert.Equal(("spring-2026", 2, 2, 1, 0, 2, 1, 1), (report.Dataset, report.Images, report.Boxes, report.NegativeImages, report.KeptFromBefore, report.Exported, report.Skipped, report.Unreviewed));
        Assert.Equal(["B7"], report.Blocks);
        Assert.Equal(
            [
                ("left-00000005", "image missing"),
                ("left-00000006", "image is 320x240 but the sample says 640x480"),
                ("left-00000007", "box 1: (600,20 60x30) is outside the 640x480 frame"),
                ("left-00000008", "box 1: unknown BBCH stage 60"),
                ("left-00000009", "image is not a readable JPEG: not a JPEG image (no start-of-image marker)"),
            ],
            report.Problems.Select(p => (p.SampleId!, p.Reason.Split(" (/")[0])));

        var coco = DatasetExport.Read(Dataset);
        Assert.Equal([1L, 2L], coco.Images.Select(i => i.Id));
        var first = coco.Images[0];
        Assert.Equal(("run-1/left-00000001.jpg", 640, 480, "left-00000001", "left", 1L, "B7"), (first.FileName, first.Width, first.Height, first.SampleId, first.CameraId, first.Sequence, first.BlockId));
        Assert.Equal("2026-04-20T09:00:00.100Z", first.DateCaptured);
        Assert.Equal(new CocoModel("blossom-detector", "3", "aa"), first.Detector);
        Assert.Equal(JpegOfSize(640, 480), File.ReadAllBytes(Path.Combine(Dataset, "images", first.FileName)));
        Assert.True(File.Exists(run.ImagePath("left-00000001")), "images are copied, not moved");

        var boxes = coco.Annotations;
        Assert.Equal([1L, 2L], boxes.Select(a => a.Id));
        Assert.All(boxes, a => Assert.Equal((1L, DatasetExport.CategoryId, 0), (a.ImageId, a.CategoryId, a.Iscrowd)));
        Assert.Equal([10.0, 20, 40, 30], boxes[0].Bbox);
        Assert.Equal(1200, boxes[0].Area);
        Assert.Equal(new CocoBoxAttributes("bbch65", "accepted", 0.4), boxes[0].Attributes);
        // Half a pixel over the edge passes the label check but not a COCO reader: clipped to the frame.
        Assert.Equal([600.0, 450, 40, 30], boxes[1].Bbox);
        Assert.Equal(new CocoBoxAttributes(null, "added", null), boxes[1].Attributes);
        Assert.Equal(new CocoCategory(1, "blossom_cluster", "blossom"), coco.Categories.Single());
        // The newest save among the exported frames (frame 9's later save had a problem).
        Assert.Equal("2026-04-20T09:02:00Z", coco.Info.DateCreated);
        Assert.StartsWith("treescout dataset export ", coco.Info.Exporter);

        Assert.Equal(["left-00000001", "left-00000002"], run.ExportedIds().Order());
    }

    [Fact]
    public void Exporting_again_writes_the_same_file_and_a_second_run_is_added_to_the_dataset()
    {
        var one = Run("run-1", 1, 2);
        Label(one, 1, new LabelledBox(10, 20, 40, 30, BbchStage.Bbch61, BoxOrigin.Redrawn, 1));
        Label(one, 2);
        var oneFolder = Path.Combine(_root, "run-1");
        DatasetExport.Export([oneFolder], Dataset, T0.AddDays(1));
        var file = File.ReadAllBytes(Path.Combine(Dataset, DatasetExport.AnnotationsFileName));
        DatasetExport.Export([oneFolder, oneFolder], Dataset, T0.AddDays(2));
        Assert.Equal(file, File.ReadAllBytes(Path.Combine(Dataset, DatasetExport.AnnotationsFileName)));

        // Frame 1 skipped after all: it leaves the dataset; put back, it returns.
        one.SaveLabels("left-00000001", ReviewStatus.Skipped, [], "ben", 1, false, T0.AddHours(1));
        Assert.Equal(1, DatasetExport.Export([oneFolder], Dataset, T0.AddDays(2)).Images);
        Assert.Equal(["run-1/left-00000002.jpg"], DatasetExport.Read(Dataset).Images.Select(i => i.FileName));
        Label(one, 1, new LabelledBox(10, 20, 40, 30, BbchStage.Bbch61, BoxOrigin.Redrawn, 1));
        Assert.Equal(2, DatasetExport.Export([oneFolder], Dataset, T0.AddDays(2)).Images);

        // Relabelled after the export: not exported any more, so the pruning rule keeps it.
        Label(one, 2, new LabelledBox(100, 100, 20, 20, BbchStage.Bbch65, BoxOrigin.Added));
        Assert.Equal(["left-00000001"], one.ExportedIds());

        // A later run, exported into the same folder after run-1's frames were pruned from the tractor.
        var two = Run("run-0", 4);
        Label(two, 4, new LabelledBox(1, 2, 3, 4, BbchStage.Bbch53, BoxOrigin.Added));
        Directory.Delete(one.Path, recursive: true);
        var report = DatasetExport.Export([Path.Combine(_root, "run-0")], Dataset, T0.AddDays(3));
        Assert.Equal((3, 2, 1), (report.Images, report.KeptFromBefore, report.Exported));

        var coco = DatasetExport.Read(Dataset);
        Assert.Equal(["run-0/left-00000004.jpg", "run-1/left-00000001.jpg", "run-1/left-00000002.jpg"], coco.Images.Select(i => i.FileName));
        Assert.Equal([1L, 2L, 3L], coco.Images.Select(i => i.Id));
        // Annotations follow their images through the renumbering.
        Assert.Equal([(1L, "bbch53"), (2L, "bbch61")], coco.Annotations.Select(a => (a.ImageId, a.Attributes.BbchStage!)));
        Assert.Equal(["left-00000004"], two.ExportedIds());
    }

    [Fact]
    public void A_folder_that_is_not_a_treescout_dataset_is_not_written_into()
    {
        var run = Run("run-1", 1);
        Label(run, 1);
        Directory.CreateDirectory(Dataset);
        File.WriteAllText(Path.Combine(Dataset, "notes.txt"), "mine");
        var ex = Assert.Throws<DatasetException>(() => DatasetExport.Export([Path.Combine(_root, "run-1")], Dataset, T0));
        Assert.Contains("is not empty and holds no annotations.json", ex.Message);

        File.WriteAllText(Path.Combine(Dataset, "annotations.json"),
            """{"info":{"description":"","version":"1","year":2020,"contributor":"","url":"","date_created":"","exporter":"cvat"},"licenses":[],"images":[],"annotations":[],"categories":[]}""");
        Assert.Contains("was not written by treescout dataset export", Assert.Throws<DatasetException>(() => DatasetExport.Export([Path.Combine(_root, "run-1")], Dataset, T0)).Message);
        Assert.Empty(run.ExportedIds());
        Assert.False(Directory.Exists(Path.Combine(Dataset, "images")));
    }

    [Fact]
    public void A_run_without_review_frames_is_reported_and_the_other_runs_are_exported()
    {
        var run = Run("run-1", 1);
        Label(run, 1);
        var empty = Directory.CreateDirectory(Path.Combine(_root, "run-2")).FullName;
        Assert.Equal([Path.Combine(_root, "run-1")], DatasetExport.RunFoldersUnder(_root));

        var report = DatasetExport.Export([Path.Combine(_root, "run-1"), empty], Dataset, T0);
        Assert.Equal(1, report.Images);
        var problem = Assert.Single(report.Problems);
        Assert.Equal((empty, (string?)null), (problem.Run, problem.SampleId));
        Assert.Contains("no frames kept for review", problem.ToString());
    }

    [Fact]
    public void The_review_queue_puts_the_most_uncertain_frames_first_and_spreads_them_over_the_run()
    {
        var folder = new ReviewFolder(Path.Combine(_root, "run-1"));
        (long Sequence, double Uncertainty)[] frames = [(10, 0.9), (12, 0.85), (40, 0.8), (41, 0.3), (70, 0.5), (90, 0.95)];
        foreach (var (sequence, uncertainty) in frames)
        {
            folder.AddSample(ReviewFolderTests.Sample(sequence) with { Uncertainty = uncertainty }, JpegOfSize(640, 480));
        }
        folder.SaveLabels("left-00000090", ReviewStatus.Skipped, [], "anna", 0, false, T0); // reviewed: not offered again

        Assert.Equal([10L, 40L, 70L], ReviewQueue.Next(folder, 3).Select(s => s.Sequence));
        // Frame 12 is two frames from 10: it waits until the spread-out frames are taken.
        Assert.Equal([10L, 40L, 70L, 12L, 41L], ReviewQueue.Next(folder, 10).Select(s => s.Sequence));
        Assert.Equal([10L, 12L, 40L], ReviewQueue.Next(folder, 3, minFrameGap: 0).Select(s => s.Sequence));
    }

    [Fact]
    public void A_torn_exported_line_marks_nothing()
    {
        var run = Run("run-1", 1, 2);
        Label(run, 1);
        Label(run, 2);
        run.MarkExported([new ExportMark("left-00000001", 1, "d", T0)]);
        File.AppendAllText(Path.Combine(run.Path, "exported.jsonl"), """{"sampleId":"left-00000002","revi""");
        Assert.Equal(["left-00000001"], run.ExportedIds());
    }
}
