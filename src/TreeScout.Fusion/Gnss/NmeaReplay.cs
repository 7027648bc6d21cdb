using TreeScout.Contracts;
using TreeScout.Fusion.Nmea;
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
/// A recording's receiver output (gnss.nmea, with host receive times from gnss-times.csv when present) as
/// <see cref="GnssFix"/> messages for a run, in time order, with ids <c>MessageIds.For(runId, "fix", n)</c>.
/// </summary>
public static class NmeaReplay
{
    /// <summary>Decodes the recording's NMEA into the run's fix messages (the scan publishes them interleaved with the frames).</summary>
    public static (IReadOnlyList<GnssFix> Fixes, NmeaReplayResult Result) Read(Recording recording, string runId, GnssSigmaOptions? sigma = null)
    {
        sigma ??= new GnssSigmaOptions();
        var path = recording.PathOf(Recording.NmeaFile);
        if (!File.Exists(path))
        {
            throw new InvalidDataException($"{path}: recording has no {Recording.NmeaFile}");
        }
        var times = recording.ReadNmeaTimes().ToDictionary(t => t.Line, t => t.HostTimeUtc);
        var (received, stats) = NmeaDecoder.DecodeFile(path, line => times.TryGetValue(line, out var at) ? at : null);
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
        return (messages, new NmeaReplayResult(stats.LinesRead, stats.SentencesDecoded, messages.Count, undated, stats.Malformed, stats.RejectedByReason(), times.Count > 0));
    }
}
