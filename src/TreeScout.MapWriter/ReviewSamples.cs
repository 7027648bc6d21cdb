using System.Text.Json;
using OpenCvSharp;
using TreeScout.Contracts;
using TreeScout.Labelling;
using TreeScout.MapWriter.Store;
using TreeScout.Messaging;

namespace TreeScout.MapWriter;

/// <summary>What became of a frame sent for review.</summary>
public enum ReviewKeep
{
    /// <summary>Stored in review/samples.</summary>
    Kept,

    /// <summary>Stored before (a redelivery): nothing changed.</summary>
    AlreadyKept,

    /// <summary>A frame of its uncertainty window at least as uncertain is kept already: not stored.</summary>
    LessUncertain,

    /// <summary>The run's review budget is full of frames that may not be pruned: not stored.</summary>
    OverBudget,
}

/// <summary>
/// Frames of a run not kept for review, counted per delivery: pruned for room, refused for want of room, or less
/// uncertain than a frame of their window already kept.
/// </summary>
public sealed record ReviewCounts(int Pruned, int DroppedOverBudget, int LessUncertain);

/// <param name="Pruned">Frames deleted to make room, in the order they went.</param>
/// <param name="Replaced">Less uncertain frames of the same window this one took the place of.</param>
public sealed record ReviewKeepResult(ReviewKeep Outcome, IReadOnlyList<string> Pruned, IReadOnlyList<string> Replaced);

/// <summary>
/// The map writer's side of the frames kept for review (docs/labelling.md): checks a <see cref="ReviewFrameSampled"/>,
/// keeps the most uncertain frame of each window, holds the run's review folder within its disk budget and joins the
/// samples to the trees fusion attributed their clusters to.
/// </summary>
public static class ReviewSamples
{
    /// <summary>Largest frame accepted: 8K UHD, as detection decodes (a forged JPEG header cannot make the writer allocate more).</summary>
    private const long MaxPixels = 7680L * 4320;

    /// <summary>Why the message cannot be kept, one line; null when it can.</summary>
    public static string? Problem(ReviewFrameSampled message)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (message.Jpeg.Length == 0)
        {
            return "no image";
        }
        if (JpegSize.HeaderProblem(message.Jpeg, out var width, out var height) is { } header)
        {
            return $"image is not a JPEG ({header})";
        }
        if (width != message.Width || height != message.Height)
        {
            return $"image is {width}x{height}, the message says {message.Width}x{message.Height}";
        }
        if ((long)width * height > MaxPixels)
        {
            return $"image of {width}x{height} pixels is larger than {MaxPixels}";
        }
        using (var decoded = Cv2.ImDecode(message.Jpeg, ImreadModes.Unchanged))
        {
            if (decoded.Empty())
            {
                return $"image is not a decodable JPEG ({message.Jpeg.Length} bytes)";
            }
        }
        try
        {
            SampleId.Of(message.CameraId, message.Sequence);
        }
        catch (ArgumentException ex)
        {
            return $"frame {message.Sequence} of camera '{Reasons.OneLine(message.CameraId ?? "")}' makes no sample id: {Reasons.OneLine(ex.Message)}";
        }
        if (!Enum.IsDefined(message.Reason))
        {
            return $"unknown reason {(int)message.Reason}";
        }
        if (!(message.Uncertainty is >= 0 and <= 1))
        {
            return $"uncertainty {message.Uncertainty} is not within 0..1";
        }
        if (message.WindowFrames < 0)
        {
            return $"window of {message.WindowFrames} frames";
        }
        for (var i = 0; i < message.Detections.Count; i++)
        {
            var d = message.Detections[i];
            if (!(float.IsFinite(d.X) && float.IsFinite(d.Y) && d.W > 0 && d.H > 0 && float.IsFinite(d.W) && float.IsFinite(d.H)))
            {
                return $"detection {i + 1}: box ({d.X},{d.Y} {d.W}x{d.H}) has no finite positive size";
            }
            if (d.X < -0.5f || d.Y < -0.5f || d.X + d.W > width + 0.5f || d.Y + d.H > height + 0.5f)
            {
                return $"detection {i + 1}: box ({d.X:0},{d.Y:0} {d.W:0}x{d.H:0}) is outside the {width}x{height} frame";
            }
            if (!(d.Score is >= 0 and <= 1) || !Enum.IsDefined(d.Stage))
            {
                return $"detection {i + 1}: score {d.Score} or stage {(int)d.Stage} is not valid";
            }
        }
        return null;
    }

    /// <summary>The sample file's record of a frame sent for review.</summary>
    public static ReviewSample ToSample(ReviewFrameSampled message, string? blockId, IReadOnlyList<string> treeIds) => new()
    {
        RunId = message.RunId,
        CameraId = message.CameraId,
        Sequence = message.Sequence,
        CapturedAtUtc = message.CapturedAtUtc,
        Width = message.Width,
        Height = message.Height,
        Detector = message.Detector,
        StageClassifier = message.StageClassifier,
        Reason = message.Reason == ReviewSampleReason.Uncertain ? SampleReason.Uncertain : SampleReason.EveryNth,
        Uncertainty = message.Uncertainty,
        Proposals = message.Detections.Select(d => new ProposedBox(d.X, d.Y, d.W, d.H, d.Score, d.Stage)).ToList(),
        BlockId = blockId,
        // Fusion sends the tractor's pose for the frame after the frame itself (ReviewFramePose, SetPose).
        TreeIds = treeIds,
    };

    /// <summary>
    /// Stores <paramref name="sample"/> unless it is stored already, a frame of its window is at least as uncertain, or
    /// the budget cannot make room for it. Room is made by pruning in <see cref="ReviewPruning.Order"/>, and only when the
    /// prunable frames free enough: nothing is deleted for a frame that is then dropped anyway.
    /// </summary>
    public static ReviewKeepResult Keep(ReviewFolder folder, ReviewSample sample, byte[] jpeg, int windowFrames, long budgetBytes)
    {
        if (folder.Sample(sample.Id) is not null)
        {
            return new(ReviewKeep.AlreadyKept, [], []);
        }
        var replaced = new List<string>();
        if (sample.Reason == SampleReason.Uncertain && windowFrames > 0)
        {
            var window = WindowMates(folder, sample, windowFrames);
            if (window.Any(other => other.Uncertainty >= sample.Uncertainty))
            {
                return new(ReviewKeep.LessUncertain, [], []);
            }
            // A less uncertain frame a reviewer has already opened and saved stays: that work is not thrown away.
            replaced.AddRange(window.Where(o => o.Reason == SampleReason.Uncertain && folder.Labels(o.Id) is null).Select(o => o.Id));
        }
        var needed = jpeg.Length + JsonSerializer.SerializeToUtf8Bytes(sample, LabellingJsonContext.Default.ReviewSample).Length;
        var excess = folder.DiskBytes() - replaced.Sum(folder.SampleDiskBytes) + needed - budgetBytes;
        var pruned = new List<string>();
        if (excess > 0)
        {
            var prunable = ReviewPruning.Order(folder).Except(replaced).Select(id => (Id: id, Bytes: folder.SampleDiskBytes(id))).ToList();
            if (prunable.Sum(p => p.Bytes) < excess)
            {
                return new(ReviewKeep.OverBudget, [], []);
            }
            foreach (var (id, bytes) in prunable.TakeWhile(_ => excess > 0))
            {
                folder.RemoveSample(id);
                pruned.Add(id);
                excess -= bytes;
            }
        }
        // Added before the frames it replaces are removed: a power cut between leaves one frame too many, never none.
        folder.AddSample(sample, jpeg);
        foreach (var id in replaced)
        {
            folder.RemoveSample(id);
        }
        return new(ReviewKeep.Kept, pruned, replaced);
    }

    /// <summary>The trees whose clusters <paramref name="cameraId"/> saw in frame <paramref name="sequence"/>, in id order.</summary>
    public static IReadOnlyList<string> TreesIn(IReadOnlyList<TreeFrames> frames, string cameraId, long sequence) =>
        frames.Where(f => f.CameraId == cameraId && f.FirstFrame <= sequence && sequence <= f.LastFrame)
            .Select(f => f.TreeId)
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal)
            .ToList();

    /// <summary>
    /// Adds fusion's pose to the frame's sample; false (nothing to do) when the frame is not kept: not sampled, replaced by
    /// a more uncertain frame of its window, dropped over budget or pruned. Idempotent.
    /// </summary>
    public static bool SetPose(ReviewFolder folder, ReviewFramePose pose)
    {
        ArgumentNullException.ThrowIfNull(folder);
        ArgumentNullException.ThrowIfNull(pose);
        var what = $"review-frame-pose {pose.MessageId} of run {pose.RunId} (camera '{Reasons.OneLine(pose.CameraId ?? "")}', frame {pose.Sequence})";
        if (!double.IsFinite(pose.Latitude) || Math.Abs(pose.Latitude) > 90 || !double.IsFinite(pose.Longitude) || Math.Abs(pose.Longitude) > 180
            || !double.IsFinite(pose.HeadingDeg) || !double.IsFinite(pose.PositionSigmaM) || pose.PositionSigmaM < 0 || !Enum.IsDefined(pose.Quality))
        {
            throw new MalformedMessageException($"{what}: position {pose.Latitude}, {pose.Longitude}, heading {pose.HeadingDeg}, sigma {pose.PositionSigmaM}, quality {pose.Quality} is not a pose");
        }
        string id;
        try
        {
            id = SampleId.Of(pose.CameraId!, pose.Sequence);
        }
        catch (ArgumentException ex)
        {
            throw new MalformedMessageException($"{what}: makes no sample id: {Reasons.OneLine(ex.Message)}");
        }
        if (folder.Sample(id) is not { } sample)
        {
            return false;
        }
        var framePose = new FramePose(pose.Latitude, pose.Longitude, pose.HeadingDeg, pose.Quality, pose.PositionSigmaM, pose.Flag);
        return sample.Pose != framePose && folder.UpdateSample(sample with { Pose = framePose });
    }

    /// <summary>Fills in the tree ids of every kept frame from the run's observations; returns how many samples changed.</summary>
    public static int FillTreeIds(ReviewFolder folder, IReadOnlyList<TreeFrames> frames)
    {
        var changed = 0;
        foreach (var id in folder.SampleIds())
        {
            if (folder.Sample(id) is not { } sample)
            {
                continue;
            }
            var trees = TreesIn(frames, sample.CameraId, sample.Sequence);
            if (!trees.SequenceEqual(sample.TreeIds, StringComparer.Ordinal))
            {
                folder.UpdateSample(sample with { TreeIds = trees });
                changed++;
            }
        }
        return changed;
    }

    private static List<ReviewSample> WindowMates(ReviewFolder folder, ReviewSample sample, int windowFrames)
    {
        var first = sample.Sequence / windowFrames * windowFrames;
        var mates = new List<ReviewSample>();
        for (var sequence = first; sequence < first + windowFrames; sequence++)
        {
            if (sequence != sample.Sequence && folder.Sample(SampleId.Of(sample.CameraId, sequence)) is { } mate)
            {
                mates.Add(mate);
            }
        }
        return mates;
    }
}
