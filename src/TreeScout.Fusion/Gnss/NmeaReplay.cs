using System.Text;
using TreeScout.Contracts;
using TreeScout.Fusion.Nmea;
using TreeScout.Messaging;
using TreeScout.Orchard;

namespace TreeScout.Fusion.Gnss;

/// <summary>What replaying a recording's gnss.nmea produced.</summary>
public sealed record NmeaReplayResult(
    long LinesRead,
    long SentencesDecoded,
    long FixesPublished,
    long FixesUndated,
    long MalformedLines,
    IReadOnlyDictionary<string, long> RejectedByReason,
    bool HostTimesKnown)
{
    /// <summary>One line for run.json and logs.</summary>
    public string Summary() =>
        $"gnss.nmea: {LinesRead} lines, {SentencesDecoded} sentences decoded, {FixesPublished} fixes published"
        + (FixesUndated > 0 ? $", {FixesUndated} fixes before any date (not usable)" : "")
        + $", {MalformedLines} malformed"
        + (RejectedByReason.Count > 0 ? " (" + string.Join(", ", RejectedByReason.Select(r => $"{r.Key} {r.Value}")) + ")" : "")
        + (HostTimesKnown ? "" : "; no gnss-times.csv: camera clock offset assumed 0");
}

/// <summary>
/// Replays a recording's receiver output (gnss.nmea, with host receive times from gnss-times.csv when present) as
/// <see cref="GnssFix"/> messages for a run, in time order, with ids <c>MessageIds.For(runId, "fix", n)</c>.
/// </summary>
public static class NmeaReplay
{
    public static async Task<NmeaReplayResult> PublishAsync(
        Recording recording, string runId, IMessagePublisher publisher, GnssSigmaOptions? sigma = null, CancellationToken cancellationToken = default)
    {
        var (fixes, result) = Read(recording, runId, sigma);
        foreach (var fix in fixes)
        {
            await publisher.PublishAsync(fix, cancellationToken);
        }
        return result;
    }

    /// <summary>Decodes the recording's NMEA into the fix messages <see cref="PublishAsync"/> would publish.</summary>
    public static (IReadOnlyList<GnssFix> Fixes, NmeaReplayResult Result) Read(Recording recording, string runId, GnssSigmaOptions? sigma = null)
    {
        sigma ??= new GnssSigmaOptions();
        var path = recording.PathOf(Recording.NmeaFile);
        if (!File.Exists(path))
        {
            throw new InvalidDataException($"{path}: recording has no {Recording.NmeaFile}");
        }
        var times = recording.ReadNmeaTimes().ToDictionary(t => t.Line, t => t.HostTimeUtc);
        var decoder = new NmeaDecoder();
        var received = new List<ReceiverFix>();
        var lineNumber = 0;
        foreach (var line in File.ReadLines(path, Encoding.Latin1))
        {
            lineNumber++;
            decoder.Add(line, times.TryGetValue(lineNumber, out var at) ? at : null, received);
        }
        decoder.Flush(received);
        var messages = new List<GnssFix>(received.Count);
        long undated = 0;
        foreach (var fix in received)
        {
            if (GnssFixes.ToMessage(fix, runId, messages.Count, sigma) is { } message)
            {
                messages.Add(message);
            }
            else
            {
                undated++;
            }
        }
        var stats = decoder.Statistics;
        return (messages, new NmeaReplayResult(stats.LinesRead, stats.SentencesDecoded, messages.Count, undated, stats.Malformed, stats.RejectedByReason(), times.Count > 0));
    }
}
