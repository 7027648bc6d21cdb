using System.Globalization;

namespace TreeScout.Fusion.Nmea;

/// <summary>Why a line of receiver output was not used. Every rejected line is counted under one of these.</summary>
public enum NmeaRejectReason
{
    /// <summary>Not a sentence at all (no '$' address), e.g. a fragment of a line cut by a serial overrun.</summary>
    NotNmea,

    /// <summary>Contains bytes outside printable ASCII: binary protocol traffic or line noise.</summary>
    Binary,

    /// <summary>Longer than any sentence we decode could be; two lines run together.</summary>
    TooLong,

    /// <summary>No '*hh' checksum, or fewer fields than the sentence type requires: the line was cut short.</summary>
    Truncated,

    /// <summary>The checksum does not match the sentence: corrupted in transit.</summary>
    Checksum,

    /// <summary>A field that should be a number, time, date or coordinate is not.</summary>
    BadField,

    /// <summary>A well-formed sentence of a type fusion does not use (GSV, proprietary, ...). Not malformed.</summary>
    UnknownType,
}

public static class NmeaRejectReasons
{
    public static IReadOnlyList<NmeaRejectReason> All { get; } = Enum.GetValues<NmeaRejectReason>();

    /// <summary>Counter and report label, e.g. "checksum" → counter nmea_rejected_checksum.</summary>
    public static string Label(NmeaRejectReason reason) => reason switch
    {
        NmeaRejectReason.NotNmea => "not_nmea",
        NmeaRejectReason.Binary => "binary",
        NmeaRejectReason.TooLong => "too_long",
        NmeaRejectReason.Truncated => "truncated",
        NmeaRejectReason.Checksum => "checksum",
        NmeaRejectReason.BadField => "bad_field",
        NmeaRejectReason.UnknownType => "unknown_type",
        _ => throw new ArgumentOutOfRangeException(nameof(reason)),
    };

    /// <summary>Malformed = damaged input; an unknown but well-formed sentence type is merely not used.</summary>
    public static bool IsMalformed(NmeaRejectReason reason) => reason != NmeaRejectReason.UnknownType;
}

/// <summary>
/// One checksum-verified NMEA 0183 sentence split into fields: "$GNGGA,1,2*hh" → talker "GN", type "GGA",
/// fields ["1", "2"]. Proprietary sentences ("$PUBX,...") have talker "P" and the rest of the address as type.
/// </summary>
public sealed class NmeaSentence
{
    /// <summary>Longest line accepted. NMEA allows 82 characters; high-precision RTK receivers send up to ~100.</summary>
    public const int MaxLength = 160;

    private NmeaSentence(string talker, string type, string[] fields)
    {
        Talker = talker;
        Type = type;
        Fields = fields;
    }

    public string Talker { get; }

    public string Type { get; }

    /// <summary>Data fields after the address, empty strings for empty fields.</summary>
    public IReadOnlyList<string> Fields { get; }

    /// <summary>Field <paramref name="index"/> (0-based after the address), or "" when the sentence is shorter.</summary>
    public string Field(int index) => index < Fields.Count ? Fields[index] : "";

    /// <summary>
    /// Parses a line. Tolerates surrounding whitespace and a doubled '$' (some chipsets); everything else that
    /// is not a complete, checksum-verified sentence is rejected with a reason, never thrown.
    /// </summary>
    public static bool TryParse(string line, out NmeaSentence? sentence, out NmeaRejectReason reason)
    {
        sentence = null;
        var text = line.AsSpan().Trim();
        foreach (var c in text)
        {
            if (c is < ' ' or > '~')
            {
                reason = NmeaRejectReason.Binary;
                return false;
            }
        }
        var start = text.IndexOf('$');
        // Only a run of '$' may precede the address; anything else before it is a fragment of another line.
        if (start < 0 || text[..start].Trim('$').Length != 0)
        {
            reason = NmeaRejectReason.NotNmea;
            return false;
        }
        text = text[start..].TrimStart('$');
        if (text.Length > MaxLength)
        {
            reason = NmeaRejectReason.TooLong;
            return false;
        }
        var star = text.LastIndexOf('*');
        if (star < 0 || text.Length - star - 1 < 2)
        {
            reason = NmeaRejectReason.Truncated;
            return false;
        }
        if (text.Length - star - 1 > 2
            || !byte.TryParse(text.Slice(star + 1, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var expected))
        {
            reason = NmeaRejectReason.Checksum;
            return false;
        }
        byte actual = 0;
        foreach (var c in text[..star])
        {
            actual ^= (byte)c;
        }
        if (actual != expected)
        {
            reason = NmeaRejectReason.Checksum;
            return false;
        }
        var body = text[..star].ToString();
        var parts = body.Split(',');
        var address = parts[0];
        if (address.Length < 2 || !address.All(char.IsAsciiLetterOrDigit))
        {
            reason = NmeaRejectReason.NotNmea;
            return false;
        }
        string talker, type;
        if (address[0] == 'P')
        {
            (talker, type) = ("P", address[1..]);
        }
        else if (address.Length == 5 && char.IsAsciiLetterUpper(address[0]) && char.IsAsciiLetterUpper(address[1]))
        {
            (talker, type) = (address[..2], address[2..]);
        }
        else
        {
            reason = NmeaRejectReason.NotNmea;
            return false;
        }
        sentence = new NmeaSentence(talker, type, parts[1..]);
        reason = default;
        return true;
    }
}
