namespace TreeScout.Contracts;

/// <summary>Why an input was refused, as the one short line that goes into an error message or a dead-letter header.</summary>
public static class Reasons
{
    public const int MaxLength = 240;

    /// <summary>
    /// A parser's message made one line of at most <see cref="MaxLength"/> characters. System.Text.Json quotes the whole
    /// rest of the input in some messages (an invalid literal: a megabyte body gave a megabyte message, newlines and all);
    /// the start says what went wrong and the end where ("Path: … | LineNumber: … | BytePositionInLine: …"), so both are kept.
    /// </summary>
    public static string OneLine(string message)
    {
        var line = string.Join(' ', message.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
        return line.Length <= MaxLength ? line : $"{line[..80]} … {line[^(MaxLength - 83)..]}";
    }
}
