using System.Globalization;
using System.Text;
using CsCheck;
using TreeScout.Fusion.Nmea;
using Xunit.Abstractions;

namespace TreeScout.Fuzz.Tests;

/// <summary>
/// Receiver output as the NMEA decoder reads it (gnss.nmea of a recording, the serial line): the bytes of a stream of
/// lines, and the host receive time of its first line (gnss-times.csv), 100 ms per line after it. A corpus file gives
/// the host time on a first line "# received from &lt;ISO time&gt;", which the decoder itself rejects as not NMEA.
/// </summary>
public sealed record NmeaStream(byte[] Bytes, DateTimeOffset? ReceivedFrom)
{
    private const string ReceivedFromPrefix = "# received from ";

    public IEnumerable<(string Line, DateTimeOffset? ReceivedAt)> Lines()
    {
        // StringReader splits on \r, \n and \r\n exactly as File.ReadLines does for NmeaDecoder.DecodeFile.
        using var reader = new StringReader(Encoding.Latin1.GetString(Bytes));
        var n = 0;
        while (reader.ReadLine() is { } line)
        {
            yield return (line, ReceivedFrom is { } from ? from.AddTicks(Math.Min(n++ * TimeSpan.TicksPerMillisecond * 100, (DateTimeOffset.MaxValue - from).Ticks)) : null);
        }
    }

    public byte[] ToFile() => ReceivedFrom is { } from
        ? [.. Encoding.Latin1.GetBytes(ReceivedFromPrefix + from.ToString("O", CultureInfo.InvariantCulture) + "\n"), .. Bytes]
        : Bytes;

    public static NmeaStream FromFile(byte[] file)
    {
        var text = Encoding.Latin1.GetString(file);
        if (!text.StartsWith(ReceivedFromPrefix, StringComparison.Ordinal))
        {
            return new NmeaStream(file, null);
        }
        var end = text.IndexOf('\n', StringComparison.Ordinal);
        var from = DateTimeOffset.Parse(text[ReceivedFromPrefix.Length..end], CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
        return new NmeaStream(file[(end + 1)..], from);
    }
}

[Trait("Category", "Unit")]
public sealed class NmeaFuzzTests(ITestOutputHelper output)
{
    private const string CorpusName = "nmea";

    /// <summary>Pieces of sentences that reach the field decoders' edge cases: times, dates, coordinates, types.</summary>
    private static readonly IReadOnlyList<byte[]> Dictionary = ByteMutations.Tokens(
    [
        ",", ",,", ",,,,,,", "*", "$", "$$", "-", ".", "..", "+", " ", "GGA", "RMC", "GSA", "GST", "GNS", "ZDA", "VTG", "GLL", "HDT", "THS",
        "GPGGA", "GNRMC", "P", "235959.99", "240000", "235960", "000000", "123456.1234567890", "9999999",
        "8960.000000", "9000.0000", "18000.0000", "17959.9999", "0000.0000", "00000", "N", "S", "E", "W", "A", "V", "D", "R", "F", "M", "T",
        "290224", "310299", "000000", "311279", "2200", "1979", "99", "-1", "0", "1", "3", "4", "7", "9", "2147483648", "1e5", "NaN",
        "1.7976931348623157E+308", "00000000000000000000001", "AAN", "NNN", "RRR",
    ]);

    private static readonly List<string> SeedLines =
        Corpus.Bytes(CorpusName).SelectMany(b => Encoding.Latin1.GetString(b).Split('\n')).Select(l => l.TrimEnd('\r'))
            .Where(l => l.StartsWith('$')).Distinct(StringComparer.Ordinal).ToList();

    private static Gen<string> RandomBytesLine { get; } = Gen.Byte.Array[0, 200].Select(b => Encoding.Latin1.GetString(b));

    /// <summary>A sentence-shaped line of NMEA characters with a valid checksum, so it passes the framing checks.</summary>
    private static Gen<string> AlphabetSentence { get; } =
        Gen.Char["ABCDEGHLMNPRSTVWZ0123456789,,,,..-"].Array[2, 100].Select(body => WithChecksum(new string(body)));

    /// <summary>A real sentence with a few edits, the checksum recomputed nine times in ten (else it is rejected at once).</summary>
    private static Gen<string> MutatedSentence { get; } =
        from seed in Gen.Int[0, SeedLines.Count - 1]
        from edits in ByteMutation.Any.Array[1, 4]
        from repair in Gen.Int[0, 9]
        select Mutate(SeedLines[seed], edits, repair > 0);

    private static Gen<string> Line { get; } =
        Gen.Frequency((1, RandomBytesLine), (1, AlphabetSentence), (6, MutatedSentence), (3, Gen.OneOf(SeedLines.ToArray())));

    private static Gen<DateTimeOffset?> ReceivedFrom { get; } = Gen.OneOf<DateTimeOffset?>(
        null, null, new DateTimeOffset(2020, 7, 11, 22, 37, 45, TimeSpan.Zero), new DateTimeOffset(2026, 4, 20, 10, 0, 0, TimeSpan.Zero),
        DateTimeOffset.MinValue, DateTimeOffset.MaxValue.AddHours(-1), DateTimeOffset.MaxValue, new DateTimeOffset(1980, 1, 6, 0, 0, 0, TimeSpan.Zero));

    /// <summary>Streams: new lines, a corpus file with lines mutated, or one line repeated (a receiver stuck on one epoch).</summary>
    private static Gen<NmeaStream> Streams { get; } = Gen.Frequency(
        (4, from lines in Line.Array[1, 40]
            from crlf in Gen.Bool
            from at in ReceivedFrom
            select new NmeaStream(Encoding.Latin1.GetBytes(string.Join(crlf ? "\r\n" : "\n", lines)), at)),
        (3, from bytes in ByteMutations.Of(Corpus.Bytes(CorpusName), Dictionary)
            from at in ReceivedFrom
            select new NmeaStream(bytes, at)),
        (1, from line in Line
            from times in Gen.Int[2, 1000]
            from at in ReceivedFrom
            select new NmeaStream(Encoding.Latin1.GetBytes(string.Concat(Enumerable.Repeat(line + "\r\n", times))), at)));

    private static readonly FuzzTarget<NmeaStream> Target = new()
    {
        Name = CorpusName,
        Inputs = Streams,
        Property = Decodes,
        Iterations = 40_000,
        AllocationLimit = s => 256 * 1024 + 200L * s.Bytes.Length,
        ToFile = s => s.ToFile(),
        FileExtension = ".nmea",
    };

    public static TheoryData<string> CorpusFiles => Corpus.Names(CorpusName);

    [Fact]
    public void Random_and_mutated_receiver_output_never_throws_and_gives_only_valid_fixes() =>
        Target.Run(output, nameof(NmeaFuzzTests));

    [Fact]
    public void A_printed_seed_replays_exactly_the_input_it_was_printed_for()
    {
        for (ulong index = 0; index < 200; index++)
        {
            var (seed, input) = Target.Input(Target.Stream, index);
            var replayed = Target.Replayed(seed);
            Assert.Equal(input.Bytes, replayed.Bytes);
            Assert.Equal(input.ReceivedFrom, replayed.ReceivedFrom);
        }
    }

    [Theory]
    [MemberData(nameof(CorpusFiles))]
    public void Corpus_stream_decodes_within_the_contract(string file) =>
        Target.Check(NmeaStream.FromFile(Corpus.Read(CorpusName, file)));

    /// <summary>
    /// The decoder's contract (NmeaDecoder: "never throws on input"): every line is counted once, decoded or rejected by
    /// reason; every fix has a position on the globe and a 2-D or 3-D mode.
    /// </summary>
    private static void Decodes(NmeaStream stream)
    {
        var decoder = new NmeaDecoder();
        var fixes = new List<ReceiverFix>();
        var lines = 0;
        foreach (var (line, receivedAt) in stream.Lines())
        {
            lines++;
            if (NmeaSentence.TryParse(line, out var sentence, out _) != sentence is not null)
            {
                throw new ContractViolationException($"TryParse's result and sentence disagree for '{line}'");
            }
            decoder.Add(line, receivedAt, fixes);
        }
        decoder.Flush(fixes);
        var s = decoder.Statistics;
        if (s.LinesRead != lines || s.SentencesDecoded + s.RejectedTotal != lines || s.Fixes != fixes.Count)
        {
            throw new ContractViolationException($"{lines} lines but statistics say {s.Summary()} and {fixes.Count} fixes were delivered");
        }
        foreach (var fix in fixes)
        {
            if (!(fix.Latitude is >= -90 and <= 90) || !(fix.Longitude is >= -180 and <= 180) || fix.Mode is not (2 or 3))
            {
                throw new ContractViolationException($"invalid fix: {fix}");
            }
        }
    }

    private static string Mutate(string sentence, ByteMutation[] edits, bool repairChecksum)
    {
        var star = sentence.LastIndexOf('*');
        var body = sentence[1..(star < 0 ? sentence.Length : star)];
        var mutated = Encoding.Latin1.GetString(ByteMutations.Apply(Encoding.Latin1.GetBytes(body), edits, Dictionary));
        return repairChecksum ? WithChecksum(mutated) : "$" + mutated + (star < 0 ? "" : sentence[star..]);
    }

    private static string WithChecksum(string body)
    {
        byte sum = 0;
        foreach (var c in body)
        {
            sum ^= (byte)c;
        }
        return string.Create(CultureInfo.InvariantCulture, $"${body}*{sum:X2}");
    }
}
