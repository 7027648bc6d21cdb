using System.Globalization;
using System.Text.Json;
using TreeScout.Contracts;

namespace TreeScout.Labelling;

/// <summary>A frame (or a whole run folder, <see cref="SampleId"/> null) left out of a dataset, and why.</summary>
public sealed record DatasetProblem(string Run, string? SampleId, string Reason)
{
    public override string ToString() => SampleId is null ? $"{Run}: {Reason}" : $"{Run}/{SampleId}: {Reason}";
}

/// <summary>
/// What <see cref="DatasetExport.Export"/> wrote: <see cref="Images"/> frames with <see cref="Boxes"/> boxes in all
/// (<see cref="NegativeImages"/> of them labelled with no cluster), <see cref="KeptFromBefore"/> of them already in the
/// dataset from an earlier export; frames left out: skipped by the reviewer, not reviewed yet, or with a problem.
/// </summary>
public sealed record DatasetExportReport(
    string Dataset,
    string Folder,
    int Images,
    int Boxes,
    int NegativeImages,
    int KeptFromBefore,
    int Exported,
    int Skipped,
    int Unreviewed,
    IReadOnlyList<string> Blocks,
    IReadOnlyList<DatasetProblem> Problems);

/// <summary>The dataset folder cannot be written (not a dataset, unreadable); one line.</summary>
public sealed class DatasetException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Writes reviewed frames as a COCO dataset (docs/labelling.md, "Datasets"): <c>annotations.json</c> and the frames copied
/// into <c>images/{run id}/{sample id}.jpg</c>. Only frames a reviewer labelled go in (a labelled frame with no box is a
/// negative image); a frame whose files or labels do not fit is reported and left out, the rest is written. An existing
/// dataset folder is added to: its frames stay, frames exported again replace their earlier version, frames skipped
/// since leave it. Ids are numbered in
/// (run id, sample id) order and the file carries no export time, so exporting the same labels twice writes the same file.
/// </summary>
public static class DatasetExport
{
    public const string AnnotationsFileName = "annotations.json";
    public const string ImagesFolderName = "images";
    public const string CategoryName = "blossom_cluster";
    public const int CategoryId = 1;
    private const int LicenseId = 1;
    private const string FormatVersion = "1";

    /// <summary>How the file names its writer; a folder whose annotations.json does not start with it is not added to.</summary>
    public static readonly string Exporter = "treescout dataset export " + typeof(DatasetExport).Assembly.GetName().Version?.ToString(3);

    /// <summary>Run folders under <paramref name="root"/> that hold frames kept for review, in name order.</summary>
    public static IReadOnlyList<string> RunFoldersUnder(string root) =>
        Directory.Exists(root)
            ? Directory.EnumerateDirectories(root)
                .Where(run => Directory.Exists(new ReviewFolder(run).SamplesPath))
                .Order(StringComparer.Ordinal)
                .ToList()
            : throw new DatasetException($"{root}: no such folder of runs");

    public static DatasetExportReport Export(IReadOnlyList<string> runFolders, string datasetFolder, DateTimeOffset exportedAtUtc)
    {
        ArgumentNullException.ThrowIfNull(runFolders);
        ArgumentException.ThrowIfNullOrWhiteSpace(datasetFolder);
        var folder = Path.GetFullPath(datasetFolder);
        var name = Path.GetFileName(folder.TrimEnd(Path.DirectorySeparatorChar));
        var previous = ReadExisting(folder);
        var tally = new Tally();
        var fresh = new Dictionary<string, Frame>(StringComparer.Ordinal);
        foreach (var run in runFolders.Select(Path.GetFullPath).Distinct(StringComparer.Ordinal))
        {
            foreach (var frame in ReadRun(run, tally))
            {
                var key = Key(frame.Image.RunId, frame.Image.SampleId);
                if (fresh.TryGetValue(key, out var other))
                {
                    tally.Problems.Add(new DatasetProblem(run, frame.Image.SampleId, $"run id {frame.Image.RunId} is also the run id of {other.RunFolder}"));
                    continue;
                }
                fresh.Add(key, frame);
            }
        }

        var kept = previous is null ? [] : KeptFrames(previous, fresh, tally.SkippedNow);
        foreach (var frame in fresh.Values)
        {
            CopyImage(frame.SourceImage!, Path.Combine(folder, ImagesFolderName, frame.Image.FileName));
        }
        var dataset = Numbered(kept.Concat(fresh.Values), name, previous?.Info.DateCreated, fresh.Values.Select(f => f.SavedAtUtc));
        Directory.CreateDirectory(folder);
        ReviewFolder.WriteDurably(Path.Combine(folder, AnnotationsFileName), JsonSerializer.SerializeToUtf8Bytes(dataset, CocoJsonContext.Default.CocoDataset));

        // Only now that the dataset is on disk may the tractor prune these frames.
        foreach (var run in fresh.Values.GroupBy(f => f.RunFolder))
        {
            new ReviewFolder(run.Key).MarkExported(
                run.Select(f => new ExportMark(f.Image.SampleId, f.Image.LabelRevision, name, exportedAtUtc)).ToList());
        }
        return new DatasetExportReport(name, folder,
            dataset.Images.Count, dataset.Annotations.Count,
            dataset.Images.Count - dataset.Annotations.Select(a => a.ImageId).Distinct().Count(),
            kept.Count, fresh.Count, tally.Skipped, tally.Unreviewed,
            dataset.Images.Select(i => i.BlockId ?? "").Distinct().Order(StringComparer.Ordinal).ToList(),
            tally.Problems);
    }

    /// <summary>Reads a dataset written by <see cref="Export"/>.</summary>
    public static CocoDataset Read(string datasetFolder)
    {
        var path = Path.Combine(datasetFolder, AnnotationsFileName);
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllBytes(path), CocoJsonContext.Default.CocoDataset)
                   ?? throw new JsonException("the file holds null");
        }
        catch (JsonException ex)
        {
            throw new DatasetException($"{path}: not a COCO dataset ({ex.Message})", ex);
        }
    }

    /// <summary>A frame bound for the dataset, before numbering (image id 0, annotation ids 0).</summary>
    private sealed record Frame(CocoImage Image, IReadOnlyList<CocoAnnotation> Boxes, string RunFolder, string? SourceImage, DateTimeOffset SavedAtUtc);

    private sealed class Tally
    {
        public int Skipped;
        public int Unreviewed;

        /// <summary>Frames skipped by the reviewer: an earlier export's version of them leaves the dataset too.</summary>
        public readonly HashSet<string> SkippedNow = new(StringComparer.Ordinal);
        public readonly List<DatasetProblem> Problems = [];
    }

    private static string Key(string runId, string sampleId) => runId + "/" + sampleId;

    private static CocoDataset? ReadExisting(string folder)
    {
        if (!Directory.Exists(folder) || !Directory.EnumerateFileSystemEntries(folder).Any())
        {
            return null;
        }
        if (!File.Exists(Path.Combine(folder, AnnotationsFileName)))
        {
            throw new DatasetException($"{folder} is not empty and holds no {AnnotationsFileName}: give a new or empty folder, or a TreeScout dataset to add to");
        }
        var existing = Read(folder);
        if (existing.Info?.Exporter is not { } exporter || !exporter.StartsWith("treescout dataset export", StringComparison.Ordinal))
        {
            throw new DatasetException($"{Path.Combine(folder, AnnotationsFileName)} was not written by treescout dataset export: it is not added to");
        }
        return existing;
    }

    private static List<Frame> KeptFrames(CocoDataset previous, Dictionary<string, Frame> fresh, HashSet<string> skipped)
    {
        var boxes = previous.Annotations.ToLookup(a => a.ImageId);
        return previous.Images
            .Where(i => !fresh.ContainsKey(Key(i.RunId, i.SampleId)) && !skipped.Contains(Key(i.RunId, i.SampleId)))
            .Select(i => new Frame(i, boxes[i.Id].ToList(), "", null, DateTimeOffset.MinValue))
            .ToList();
    }

    private static IEnumerable<Frame> ReadRun(string runFolder, Tally tally)
    {
        var review = new ReviewFolder(runFolder);
        if (!Directory.Exists(review.SamplesPath))
        {
            tally.Problems.Add(new DatasetProblem(runFolder, null, $"no frames kept for review ({review.SamplesPath} does not exist)"));
            yield break;
        }
        foreach (var id in review.SampleIds())
        {
            Frame? frame;
            string? problem;
            try
            {
                (frame, problem) = ReadFrame(review, runFolder, id, tally);
            }
            catch (ReviewFileException ex)
            {
                (frame, problem) = (null, ex.Message);
            }
            if (problem is not null)
            {
                tally.Problems.Add(new DatasetProblem(runFolder, id, problem));
            }
            if (frame is not null)
            {
                yield return frame;
            }
        }
    }

    private static (Frame? Frame, string? Problem) ReadFrame(ReviewFolder review, string runFolder, string id, Tally tally)
    {
        var sample = review.Sample(id)!;
        var labels = review.Labels(id);
        switch (labels?.Status)
        {
            case null:
                tally.Unreviewed++;
                return (null, null);
            case ReviewStatus.Skipped:
                tally.Skipped++;
                tally.SkippedNow.Add(Key(sample.RunId, id));
                return (null, null);
        }
        if (ReviewFolder.Problem(sample, labels.Status, labels.Boxes) is { } problem)
        {
            return (null, problem);
        }
        if (!IsFolderName(sample.RunId))
        {
            return (null, $"run id '{sample.RunId}' cannot name a folder (letters, digits, '-', '_' and '.' only)");
        }
        var image = review.ImagePath(id);
        if (!File.Exists(image))
        {
            return (null, $"image missing ({image})");
        }
        if (JpegSize.HeaderProblem(File.ReadAllBytes(image), out var width, out var height) is { } header)
        {
            return (null, $"image is not a readable JPEG: {header} ({image})");
        }
        if ((width, height) != (sample.Width, sample.Height))
        {
            return (null, $"image is {width}x{height} but the sample says {sample.Width}x{sample.Height}");
        }
        var boxes = labels.Boxes.Select(b =>
        {
            // The label check allows half a pixel over the edge (rounding in the browser); COCO readers allow none.
            double x = Round(b.X), y = Round(b.Y);
            double w = Round(Math.Min(b.X + b.W, sample.Width) - x), h = Round(Math.Min(b.Y + b.H, sample.Height) - y);
            return new CocoAnnotation
            {
                Id = 0,
                ImageId = 0,
                CategoryId = CategoryId,
                Bbox = [x, y, w, h],
                Area = Round(w * h),
                Attributes = new CocoBoxAttributes(
                    b.Stage is { } stage ? BbchStages.Label(stage) : null,
                    b.Origin.ToString().ToLowerInvariant(),
                    b.ProposalIndex is { } p ? Round(sample.Proposals[p].Score) : null),
            };
        }).ToList();
        var cocoImage = new CocoImage
        {
            Id = 0,
            FileName = $"{sample.RunId}/{id}.jpg",
            Width = sample.Width,
            Height = sample.Height,
            DateCaptured = sample.CapturedAtUtc.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
            License = LicenseId,
            SampleId = id,
            RunId = sample.RunId,
            CameraId = sample.CameraId,
            Sequence = sample.Sequence,
            BlockId = sample.BlockId,
            Detector = Model(sample.Detector),
            StageClassifier = Model(sample.StageClassifier),
            SampleReason = sample.Reason.ToString(),
            Uncertainty = Math.Round(sample.Uncertainty, 4),
            Reviewer = labels.Reviewer,
            LabelRevision = labels.Revision,
            TreeIds = sample.TreeIds,
        };
        return (new Frame(cocoImage, boxes, runFolder, image, labels.SavedAtUtc), null);
    }

    private static CocoDataset Numbered(IEnumerable<Frame> frames, string name, string? previousDate, IEnumerable<DateTimeOffset> saves)
    {
        var images = new List<CocoImage>();
        var annotations = new List<CocoAnnotation>();
        foreach (var frame in frames.OrderBy(f => f.Image.RunId, StringComparer.Ordinal).ThenBy(f => f.Image.SampleId, StringComparer.Ordinal))
        {
            var imageId = images.Count + 1L;
            images.Add(frame.Image with { Id = imageId });
            annotations.AddRange(frame.Boxes.Select(b => b with { Id = annotations.Count + 1L, ImageId = imageId }));
        }
        // The newest label save is the dataset's date: stable across re-exports of the same labels.
        var newest = saves.Append(previousDate is null ? DateTimeOffset.MinValue : DateTimeOffset.Parse(previousDate, CultureInfo.InvariantCulture)).Max();
        var date = newest == DateTimeOffset.MinValue ? "" : newest.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        return new CocoDataset(
            new CocoInfo($"TreeScout reviewed orchard frames: {name}", FormatVersion, newest == DateTimeOffset.MinValue ? 0 : newest.Year,
                "TreeScout field review", "", date, Exporter),
            [new CocoLicense(LicenseId, "the grower's own orchard frames: not for redistribution without the grower's consent", "")],
            images,
            annotations,
            [new CocoCategory(CategoryId, CategoryName, "blossom")]);
    }

    private static CocoModel Model(ModelIdentity model) => new(model.Name, model.Version, model.Sha256);

    private static double Round(double value) => Math.Round(value, 2);

    private static bool IsFolderName(string runId) =>
        runId.Length is > 0 and <= 128 && runId[0] != '.' && runId.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    /// <summary>Copied, never moved: the run keeps its frames until the pruning rule removes exported ones.</summary>
    private static void CopyImage(string source, string destination)
    {
        if (File.Exists(destination) && new FileInfo(destination).Length == new FileInfo(source).Length)
        {
            return; // a sample's image never changes once stored (ReviewFolder.AddSample)
        }
        Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
        ReviewFolder.WriteDurably(destination, File.ReadAllBytes(source));
    }
}
