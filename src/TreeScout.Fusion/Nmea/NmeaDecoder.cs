using System.Globalization;

namespace TreeScout.Fusion.Nmea;

/// <summary>What happened to the lines of one NMEA stream: read, decoded, and rejected by reason.</summary>
public sealed class NmeaStatistics
{
    private readonly long[] _rejected = new long[NmeaRejectReasons.All.Count];

    public long LinesRead { get; private set; }

    /// <summary>Sentences of a type fusion uses that decoded cleanly.</summary>
    public long SentencesDecoded { get; private set; }

    public long Fixes { get; private set; }

    public long Rejected(NmeaRejectReason reason) => _rejected[(int)reason];

    public long RejectedTotal => _rejected.Sum();

    /// <summary>Damaged lines (everything rejected except well-formed sentences of unused types).</summary>
    public long Malformed => NmeaRejectReasons.All.Where(NmeaRejectReasons.IsMalformed).Sum(Rejected);

    public IReadOnlyDictionary<string, long> RejectedByReason() =>
        NmeaRejectReasons.All.Where(r => Rejected(r) > 0).ToDictionary(NmeaRejectReasons.Label, Rejected, StringComparer.Ordinal);

    internal void Line() => LinesRead++;

    internal void Decoded() => SentencesDecoded++;

    internal void Fix(int count) => Fixes += count;

    internal void Reject(NmeaRejectReason reason) => _rejected[(int)reason]++;

    /// <summary>"lines 120, decoded 80, fixes 20, rejected 40 (checksum 2, unknown_type 38)".</summary>
    public string Summary()
    {
        var reasons = RejectedByReason();
        var detail = reasons.Count == 0 ? "" : " (" + string.Join(", ", reasons.Select(r => $"{r.Key} {r.Value}")) + ")";
        return string.Create(CultureInfo.InvariantCulture, $"lines {LinesRead}, decoded {SentencesDecoded}, fixes {Fixes}, rejected {RejectedTotal}{detail}, malformed {Malformed}");
    }
}

/// <summary>
/// Line-oriented NMEA 0183 decoding: verify, decode, assemble epochs into fixes, count everything. Never throws on
/// input: garbled, truncated, binary or unknown lines are counted by reason and skipped.
/// </summary>
public sealed class NmeaDecoder
{
    private readonly NmeaFixAssembler _assembler = new();
    private readonly List<ReceiverFix> _scratch = [];

    public NmeaStatistics Statistics { get; } = new();

    /// <summary>
    /// Decodes a whole NMEA file; <paramref name="receivedAt"/> gives the host receive time of a line (1-based), when known.
    /// Latin-1 maps every byte to one char, so binary noise reaches the decoder (and is counted) instead of failing the read.
    /// </summary>
    public static (List<ReceiverFix> Fixes, NmeaStatistics Statistics) DecodeFile(string path, Func<int, DateTimeOffset?>? receivedAt = null)
    {
        var decoder = new NmeaDecoder();
        var fixes = new List<ReceiverFix>();
        var lineNumber = 0;
        foreach (var line in File.ReadLines(path, System.Text.Encoding.Latin1))
        {
            lineNumber++;
            decoder.Add(line, receivedAt?.Invoke(lineNumber), fixes);
        }
        decoder.Flush(fixes);
        return (fixes, decoder.Statistics);
    }

    /// <summary>Decodes one line; fixes completed by it are added to <paramref name="fixes"/>. Returns the rejection reason, or null when decoded.</summary>
    public NmeaRejectReason? Add(string line, DateTimeOffset? receivedAtUtc, ICollection<ReceiverFix> fixes)
    {
        Statistics.Line();
        if (!NmeaSentence.TryParse(line, out var sentence, out var reason)
            || !NmeaMessageDecoder.TryDecode(sentence!, out var message, out reason))
        {
            Statistics.Reject(reason);
            return reason;
        }
        Statistics.Decoded();
        _scratch.Clear();
        _assembler.Add(message!, receivedAtUtc, _scratch);
        Deliver(fixes);
        return null;
    }

    /// <summary>End of the stream: emits the last epoch.</summary>
    public void Flush(ICollection<ReceiverFix> fixes)
    {
        _scratch.Clear();
        _assembler.Flush(_scratch);
        Deliver(fixes);
    }

    private void Deliver(ICollection<ReceiverFix> fixes)
    {
        Statistics.Fix(_scratch.Count);
        foreach (var fix in _scratch)
        {
            fixes.Add(fix);
        }
    }
}
