using System.Text.Json;

namespace TreeScout.Labelling;

/// <summary>How far the review of a run has got.</summary>
public sealed record ReviewProgress(int Samples, int Labelled, int Skipped, long DiskBytes)
{
    public int ToReview => Samples - Labelled - Skipped;
}

/// <summary>The outcome of <see cref="ReviewFolder.SaveLabels"/>.</summary>
public abstract record LabelSave
{
    private LabelSave()
    {
    }

    /// <summary>Stored as <see cref="Labels"/>.</summary>
    public sealed record Saved(FrameLabels Labels) : LabelSave;

    /// <summary>
    /// Someone saved <see cref="Current"/> since the saver loaded the frame: nothing was stored. The saver sees the
    /// other labels and saves again with overwrite (the overwritten revision stays in the history) or merges.
    /// </summary>
    public sealed record Conflict(FrameLabels Current) : LabelSave;
}

/// <summary>A frame's labels, at <see cref="Revision"/>, went into dataset <see cref="Dataset"/>.</summary>
public sealed record ExportMark(string SampleId, int Revision, string Dataset, DateTimeOffset ExportedAtUtc);

/// <summary>A sample or labels file that cannot be used, named with its path and why.</summary>
public sealed class ReviewFileException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The <c>review/</c> folder of one run folder: the frames kept for review (<c>samples/{id}.jpg</c> and
/// <c>samples/{id}.json</c>) and the reviewers' labels (<c>labels/{id}.json</c>, every save also appended to
/// <c>labels/{id}.history.jsonl</c>). Every file is written to a temporary name, flushed to disk and renamed, so a power
/// cut leaves the previous version or the new one; a sample's JSON is written after its image and is what makes it exist.
/// </summary>
public sealed class ReviewFolder
{
    public const string FolderName = "review";
    private const string SamplesFolderName = "samples";
    private const string LabelsFolderName = "labels";

    public ReviewFolder(string runFolder)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(runFolder);
        Path = System.IO.Path.Combine(System.IO.Path.GetFullPath(runFolder), FolderName);
    }

    public string Path { get; }

    public string SamplesPath => System.IO.Path.Combine(Path, SamplesFolderName);

    public string LabelsPath => System.IO.Path.Combine(Path, LabelsFolderName);

    public string ImagePath(string sampleId) => System.IO.Path.Combine(SamplesPath, Checked(sampleId) + ".jpg");

    private string SampleJsonPath(string sampleId) => System.IO.Path.Combine(SamplesPath, Checked(sampleId) + ".json");

    private string LabelsJsonPath(string sampleId) => System.IO.Path.Combine(LabelsPath, Checked(sampleId) + ".json");

    private string HistoryPath(string sampleId) => System.IO.Path.Combine(LabelsPath, Checked(sampleId) + ".history.jsonl");

    /// <summary>
    /// Keeps a frame for review. Idempotent: a sample already stored is left as it is (a redelivered message), and the
    /// call returns false.
    /// </summary>
    public bool AddSample(ReviewSample sample, ReadOnlySpan<byte> jpeg)
    {
        ArgumentNullException.ThrowIfNull(sample);
        if (jpeg.IsEmpty)
        {
            throw new ArgumentException($"sample {sample.Id} has no image", nameof(jpeg));
        }
        var json = SampleJsonPath(sample.Id);
        if (File.Exists(json))
        {
            return false;
        }
        Directory.CreateDirectory(SamplesPath);
        WriteDurably(ImagePath(sample.Id), jpeg);
        WriteDurably(json, JsonSerializer.SerializeToUtf8Bytes(sample, LabellingJsonContext.Default.ReviewSample));
        return true;
    }

    /// <summary>
    /// Replaces a stored sample's JSON (its image stays), e.g. to fill in <see cref="ReviewSample.TreeIds"/> once the run's
    /// observations are complete; false when there is no sample by that id.
    /// </summary>
    public bool UpdateSample(ReviewSample sample)
    {
        ArgumentNullException.ThrowIfNull(sample);
        var json = SampleJsonPath(sample.Id);
        if (!File.Exists(json))
        {
            return false;
        }
        WriteDurably(json, JsonSerializer.SerializeToUtf8Bytes(sample, LabellingJsonContext.Default.ReviewSample));
        return true;
    }

    /// <summary>
    /// Deletes a frame kept for review with its labels and history (disk budget pruning). The sample's JSON
    /// goes first, so a power cut midway leaves no sample, at most an orphan image a later removal or add overwrites.
    /// False when there was no sample by that id.
    /// </summary>
    public bool RemoveSample(string sampleId)
    {
        var json = SampleJsonPath(sampleId);
        var existed = File.Exists(json);
        foreach (var path in new[] { json, ImagePath(sampleId), LabelsJsonPath(sampleId), HistoryPath(sampleId), System.IO.Path.Combine(LabelsPath, sampleId + ".lock") })
        {
            if (File.Exists(path))
            {
                File.Delete(path);
            }
        }
        return existed;
    }

    /// <summary>Ids of the stored samples, in camera then frame order.</summary>
    public IReadOnlyList<string> SampleIds()
    {
        if (!Directory.Exists(SamplesPath))
        {
            return [];
        }
        return Directory.EnumerateFiles(SamplesPath, "*.json")
            .Select(f => System.IO.Path.GetFileNameWithoutExtension(f))
            .Where(SampleId.IsValid)
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>The sample, or null when there is none by that id.</summary>
    public ReviewSample? Sample(string sampleId) =>
        Read(SampleJsonPath(sampleId), LabellingJsonContext.Default.ReviewSample);

    /// <summary>The latest saved labels, or null when the frame has not been reviewed.</summary>
    public FrameLabels? Labels(string sampleId) =>
        Read(LabelsJsonPath(sampleId), LabellingJsonContext.Default.FrameLabels);

    /// <summary>Every save of the frame's labels, oldest first (what an overwrite or an undo can go back to).</summary>
    public IReadOnlyList<FrameLabels> History(string sampleId)
    {
        var path = HistoryPath(sampleId);
        if (!File.Exists(path))
        {
            return [];
        }
        var saves = new List<FrameLabels>();
        var lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (line.Length == 0)
            {
                continue;
            }
            try
            {
                saves.Add(JsonSerializer.Deserialize(line, LabellingJsonContext.Default.FrameLabels)
                          ?? throw new JsonException("null"));
            }
            catch (JsonException) when (IsLastLine(path, lineNumber))
            {
                // A power cut during the append leaves a torn last line; the labels file itself is whole.
            }
            catch (JsonException ex)
            {
                throw new ReviewFileException($"{path}:{lineNumber}: not a labels record ({ex.Message})", ex);
            }
        }
        return saves;
    }

    /// <summary>
    /// Saves a reviewer's labels for a frame, checked against the frame, unless someone saved since
    /// <paramref name="baseRevision"/> (0: the saver saw the frame unreviewed): then nothing is stored and the other
    /// labels come back, unless <paramref name="overwrite"/>, which stores these and records the revision overwritten.
    /// Saves of one frame are serialised, across threads and processes, by a lock file.
    /// </summary>
    public LabelSave SaveLabels(string sampleId, ReviewStatus status, IReadOnlyList<LabelledBox> boxes, string reviewer,
        int baseRevision, bool overwrite, DateTimeOffset savedAtUtc)
    {
        ArgumentNullException.ThrowIfNull(boxes);
        ArgumentException.ThrowIfNullOrWhiteSpace(reviewer);
        var sample = Sample(sampleId) ?? throw new ReviewFileException($"no sample '{sampleId}' in {SamplesPath}");
        Validate(sample, status, boxes);
        Directory.CreateDirectory(LabelsPath);
        using var saveLock = SaveLock(sampleId);
        var current = Labels(sampleId);
        var currentRevision = current?.Revision ?? 0;
        if (current is not null && baseRevision != currentRevision && !overwrite)
        {
            return new LabelSave.Conflict(current);
        }
        var labels = new FrameLabels
        {
            Status = status,
            Boxes = status == ReviewStatus.Skipped ? [] : boxes,
            Reviewer = reviewer,
            SavedAtUtc = savedAtUtc,
            Revision = currentRevision + 1,
            OverwroteRevision = current is not null && baseRevision != currentRevision ? currentRevision : null,
        };
        AppendDurably(HistoryPath(sampleId), JsonSerializer.SerializeToUtf8Bytes(labels, LabellingJson.Compact.FrameLabels));
        WriteDurably(LabelsJsonPath(sampleId), JsonSerializer.SerializeToUtf8Bytes(labels, LabellingJsonContext.Default.FrameLabels));
        return new LabelSave.Saved(labels);
    }

    /// <summary>
    /// The frame's lock file, held exclusively (an advisory lock on Linux, so across processes too): a second saver waits
    /// for the first, then sees its revision and gets a conflict. Gives up after ~5 s (a stuck holder) with the IOException.
    /// </summary>
    private FileStream SaveLock(string sampleId)
    {
        var path = System.IO.Path.Combine(LabelsPath, sampleId + ".lock");
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None);
            }
            catch (IOException) when (attempt < 200 && Directory.Exists(LabelsPath))
            {
                Thread.Sleep(25);
            }
        }
    }

    public ReviewProgress Progress()
    {
        int labelled = 0, skipped = 0;
        var ids = SampleIds();
        foreach (var id in ids)
        {
            switch (Labels(id)?.Status)
            {
                case ReviewStatus.Labelled: labelled++; break;
                case ReviewStatus.Skipped: skipped++; break;
            }
        }
        return new ReviewProgress(ids.Count, labelled, skipped, DiskBytes());
    }

    /// <summary>Bytes one frame takes: its image and JSON, its labels and history.</summary>
    public long SampleDiskBytes(string sampleId) =>
        new[] { ImagePath(sampleId), SampleJsonPath(sampleId), LabelsJsonPath(sampleId), HistoryPath(sampleId) }
            .Select(p => new FileInfo(p))
            .Where(f => f.Exists)
            .Sum(f => f.Length);

    /// <summary>Bytes the review folder takes on disk (samples, labels and history).</summary>
    public long DiskBytes() =>
        Directory.Exists(Path)
            ? new DirectoryInfo(Path).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length)
            : 0;

    private string ExportedPath => System.IO.Path.Combine(Path, "exported.jsonl");

    /// <summary>
    /// Records, durably, that these frames' labels (at the revision given) are in a dataset, so the frames may be pruned
    /// from the tractor. Call it after the dataset is on disk. Appends to <c>review/exported.jsonl</c>.
    /// </summary>
    public void MarkExported(IReadOnlyList<ExportMark> marks)
    {
        ArgumentNullException.ThrowIfNull(marks);
        if (marks.Count == 0)
        {
            return;
        }
        Directory.CreateDirectory(Path);
        using var stream = new FileStream(ExportedPath, FileMode.Append, FileAccess.Write, FileShare.Read);
        foreach (var mark in marks)
        {
            Checked(mark.SampleId);
            stream.Write(JsonSerializer.SerializeToUtf8Bytes(mark, LabellingJson.Compact.ExportMark));
            stream.WriteByte((byte)'\n');
        }
        stream.Flush(flushToDisk: true);
    }

    /// <summary>
    /// Frames whose current labels are in a dataset: a frame relabelled after its export is not among them until it is
    /// exported again. Labelled-but-not-exported frames must not be pruned.
    /// </summary>
    public IReadOnlySet<string> ExportedIds()
    {
        if (!File.Exists(ExportedPath))
        {
            return new HashSet<string>();
        }
        var exportedRevision = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines(ExportedPath))
        {
            ExportMark? mark;
            try
            {
                mark = line.Length == 0 ? null : JsonSerializer.Deserialize(line, LabellingJson.Compact.ExportMark);
            }
            catch (JsonException)
            {
                // A torn line (power cut mid-append) marks nothing: those frames count as not exported, which keeps them.
                continue;
            }
            if (mark is not null && SampleId.IsValid(mark.SampleId))
            {
                exportedRevision[mark.SampleId] = Math.Max(mark.Revision, exportedRevision.GetValueOrDefault(mark.SampleId));
            }
        }
        return exportedRevision
            .Where(e => Labels(e.Key) is { } labels && labels.Revision <= e.Value)
            .Select(e => e.Key)
            .ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>Why these labels cannot be saved for this frame, one line; null when they can.</summary>
    public static string? Problem(ReviewSample sample, ReviewStatus status, IReadOnlyList<LabelledBox> boxes)
    {
        ArgumentNullException.ThrowIfNull(sample);
        ArgumentNullException.ThrowIfNull(boxes);
        if (!Enum.IsDefined(status))
        {
            return $"unknown review status {(int)status}";
        }
        for (var i = 0; i < boxes.Count; i++)
        {
            var b = boxes[i];
            if (!(float.IsFinite(b.X) && float.IsFinite(b.Y) && float.IsFinite(b.W) && float.IsFinite(b.H)) || b.W < 1 || b.H < 1)
            {
                return $"box {i + 1}: width and height must be at least 1 pixel";
            }
            if (b.X < 0 || b.Y < 0 || b.X + b.W > sample.Width + 0.5f || b.Y + b.H > sample.Height + 0.5f)
            {
                return $"box {i + 1}: ({b.X:0},{b.Y:0} {b.W:0}x{b.H:0}) is outside the {sample.Width}x{sample.Height} frame";
            }
            if (b.Stage is { } stage && !Enum.IsDefined(stage))
            {
                return $"box {i + 1}: unknown BBCH stage {(int)stage}";
            }
            if (!Enum.IsDefined(b.Origin))
            {
                return $"box {i + 1}: unknown origin {(int)b.Origin}";
            }
            if (b.Origin == BoxOrigin.Added ? b.ProposalIndex is not null : b.ProposalIndex is not { } p || p < 0 || p >= sample.Proposals.Count)
            {
                return b.Origin == BoxOrigin.Added
                    ? $"box {i + 1}: an added box has no proposal"
                    : $"box {i + 1}: proposal {b.ProposalIndex?.ToString() ?? "(none)"} is not one of the frame's {sample.Proposals.Count}";
            }
        }
        var twice = boxes.Where(b => b.ProposalIndex is not null).GroupBy(b => b.ProposalIndex).FirstOrDefault(g => g.Count() > 1);
        return twice is null ? null : $"proposal {twice.Key} is used by {twice.Count()} boxes";
    }

    private static void Validate(ReviewSample sample, ReviewStatus status, IReadOnlyList<LabelledBox> boxes)
    {
        if (Problem(sample, status, boxes) is { } problem)
        {
            throw new ArgumentException($"labels for {sample.Id}: {problem}", nameof(boxes));
        }
    }

    private static T? Read<T>(string path, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type) where T : class
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        try
        {
            return JsonSerializer.Deserialize(bytes, type) ?? throw new JsonException("the file holds null");
        }
        catch (JsonException ex)
        {
            throw new ReviewFileException($"{path}: not a {typeof(T).Name} ({ex.Message})", ex);
        }
    }

    private static bool IsLastLine(string path, int lineNumber) => File.ReadLines(path).Count() == lineNumber;

    private static string Checked(string sampleId) =>
        SampleId.IsValid(sampleId) ? sampleId : throw new ArgumentException($"'{sampleId}' is not a sample id", nameof(sampleId));

    /// <summary>Temporary name, flushed to disk, renamed: a power cut leaves the old file or the new one.</summary>
    internal static void WriteDurably(string path, ReadOnlySpan<byte> bytes)
    {
        var temp = path + ".tmp";
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            stream.Write(bytes);
            stream.Flush(flushToDisk: true);
        }
        File.Move(temp, path, overwrite: true);
    }

    private static void AppendDurably(string path, byte[] line)
    {
        using var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
        stream.Write(line);
        stream.WriteByte((byte)'\n');
        stream.Flush(flushToDisk: true);
    }
}
