using TreeScout.Labelling;

namespace TreeScout.WebConsole;

/// <summary>One frame of a run's review queue as the review page lists it; <see cref="Status"/> null: not reviewed yet.</summary>
public sealed record ReviewQueueEntry(
    string Id,
    string CameraId,
    long Sequence,
    SampleReason Reason,
    double Uncertainty,
    int Proposals,
    ReviewStatus? Status,
    int Revision,
    string? Reviewer);

/// <summary>A run's review: how far it got, and its frames in the order a reviewer should take them.</summary>
public sealed record ReviewQueue(string RunId, ReviewProgress Progress, IReadOnlyList<ReviewQueueEntry> Samples);

/// <summary>A frame to review: what the models proposed and the labels saved so far (null: none; revision 0).</summary>
public sealed record ReviewFrame(ReviewSample Sample, FrameLabels? Labels, int Revision);

/// <summary>The labels a reviewer sends for a frame, based on the revision the page loaded (0: unreviewed).</summary>
public sealed record LabelsRequest(ReviewStatus? Status, IReadOnlyList<LabelledBox>? Boxes, int BaseRevision, bool Overwrite);

/// <summary>Someone else saved the frame since the reviewer loaded it: nothing was stored; the API answers 409 with their labels.</summary>
public sealed class LabelConflictException(FrameLabels current)
    : Exception($"{current.Reviewer} saved this frame (revision {current.Revision}, {current.SavedAtUtc:yyyy-MM-dd HH:mm} UTC) after you opened it: keep yours (overwrite theirs, which stays in the history) or take theirs")
{
    public FrameLabels Current { get; } = current;
}

/// <summary>The signed-in user may look at the review but not save labels (answers 403).</summary>
public sealed class ReviewForbiddenException(string message) : Exception(message);

/// <summary>
/// The review folders of the console's runs (<see cref="ReviewFolder"/>, <c>review/</c> in a run folder): the queue, one
/// frame, and saves checked with <see cref="ReviewFolder.Problem"/> before anything is written. The only place the console
/// writes into a run folder, and only under <c>review/labels</c>.
/// </summary>
public sealed class RunReview(RunCatalog catalog, TimeProvider time, ConsoleRunControl runControl)
{
    /// <summary>The run's review folder; refused in central mode, where runs have no folder: frames never leave the tractor unless exported.</summary>
    public ReviewFolder Folder(string runId)
    {
        runControl.EnsureTractor();
        return new(catalog.Find(runId).Folder!);
    }

    /// <summary>
    /// Unreviewed frames first, in the order `treescout dataset next` lists them (<see cref="Labelling.ReviewQueue.Order"/>:
    /// most uncertain first, spread over the run); reviewed frames after, in the same order.
    /// </summary>
    public ReviewQueue Queue(string runId)
    {
        var folder = Folder(runId);
        var entries = new List<ReviewQueueEntry>();
        foreach (var id in folder.SampleIds())
        {
            if (folder.Sample(id) is not { } sample)
            {
                continue;
            }
            var labels = folder.Labels(id);
            entries.Add(new ReviewQueueEntry(id, sample.CameraId, sample.Sequence, sample.Reason, sample.Uncertainty, sample.Proposals.Count,
                labels?.Status, labels?.Revision ?? 0, labels?.Reviewer));
        }
        return new ReviewQueue(runId, folder.Progress(), Order(entries));
    }

    public static IReadOnlyList<ReviewQueueEntry> Order(IEnumerable<ReviewQueueEntry> entries)
    {
        var all = entries.ToList();
        return
        [
            .. Labelling.ReviewQueue.Order(all.Where(e => e.Status is null), Key),
            .. Labelling.ReviewQueue.Order(all.Where(e => e.Status is not null), Key),
        ];
    }

    private static (string, long, double, string) Key(ReviewQueueEntry e) => (e.CameraId, e.Sequence, e.Uncertainty, e.Id);

    public ReviewFrame Frame(string runId, string sampleId)
    {
        var folder = Folder(runId);
        var sample = folder.Sample(CheckedSampleId(sampleId)) ?? throw NoSample(runId, sampleId);
        var labels = folder.Labels(sampleId);
        return new ReviewFrame(sample, labels, labels?.Revision ?? 0);
    }

    /// <summary>The frame's JPEG (the upright frame the boxes refer to).</summary>
    public string ImagePath(string runId, string sampleId)
    {
        var folder = Folder(runId);
        var path = folder.ImagePath(CheckedSampleId(sampleId));
        return File.Exists(path) && folder.Sample(sampleId) is not null ? path : throw NoSample(runId, sampleId);
    }

    /// <summary>Stores the reviewer's labels; a bad request, or a save someone else overtook, stores nothing.</summary>
    /// <exception cref="BadRequestException">The labels do not fit the frame (one line, from <see cref="ReviewFolder.Problem"/>).</exception>
    /// <exception cref="LabelConflictException">Someone saved since <see cref="LabelsRequest.BaseRevision"/> and this is no overwrite.</exception>
    public FrameLabels Save(string runId, string sampleId, LabelsRequest request, string reviewer)
    {
        var folder = Folder(runId);
        var sample = folder.Sample(CheckedSampleId(sampleId)) ?? throw NoSample(runId, sampleId);
        if (request.Status is not { } status)
        {
            throw new BadRequestException("labels: say whether the frame is Labelled or Skipped (status)");
        }
        if (request.BaseRevision < 0)
        {
            throw new BadRequestException($"labels: base revision {request.BaseRevision} cannot be negative (0: the frame was unreviewed)");
        }
        var boxes = request.Boxes ?? [];
        if (ReviewFolder.Problem(sample, status, boxes) is { } problem)
        {
            throw new BadRequestException($"labels for {sampleId}: {problem}");
        }
        LabelSave outcome;
        try
        {
            // Two reviewers pressing Save together: the folder's lock makes the second wait and get a conflict.
            outcome = folder.SaveLabels(sampleId, status, boxes, reviewer, request.BaseRevision, request.Overwrite, time.GetUtcNow());
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ReviewFileException($"labels for {sampleId} cannot be written to {folder.LabelsPath}: {ex.Message}", ex);
        }
        return outcome switch
        {
            LabelSave.Saved saved => saved.Labels,
            LabelSave.Conflict conflict => throw new LabelConflictException(conflict.Current),
            _ => throw new System.Diagnostics.UnreachableException(),
        };
    }

    private static string CheckedSampleId(string sampleId) =>
        SampleId.IsValid(sampleId) ? sampleId : throw new BadRequestException($"'{sampleId}' is not a sample id (camera-00000042)");

    private static UnknownRunException NoSample(string runId, string sampleId) =>
        new($"run {runId} has no frame '{sampleId}' kept for review");
}
