namespace TreeScout.Labelling;

/// <summary>
/// Which frames kept for review may go when a run's review folder is over its disk budget, in the order they go
/// (docs/labelling.md, "Disk bound"): first frames whose labels already went into a dataset, then frames the reviewers
/// skipped, then unreviewed every-Nth frames; each group oldest first. Never a frame whose labels are not exported yet
/// (a reviewer's work) nor an unreviewed uncertain frame (where a label teaches the detector most).
/// </summary>
public static class ReviewPruning
{
    public static IReadOnlyList<string> Order(ReviewFolder folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        var candidates = new List<(int Group, DateTimeOffset CapturedAt, string Id)>();
        var exported = folder.ExportedIds();
        foreach (var id in folder.SampleIds())
        {
            if (folder.Sample(id) is not { } sample)
            {
                continue;
            }
            var labels = folder.Labels(id);
            int? group = labels switch
            {
                { Status: ReviewStatus.Labelled } when exported.Contains(id) => 0,
                { Status: ReviewStatus.Skipped } => 1,
                null when sample.Reason == SampleReason.EveryNth => 2,
                _ => null,
            };
            if (group is { } g)
            {
                candidates.Add((g, sample.CapturedAtUtc, id));
            }
        }
        return candidates.OrderBy(c => c.Group).ThenBy(c => c.CapturedAt).ThenBy(c => c.Id, StringComparer.Ordinal).Select(c => c.Id).ToList();
    }
}
