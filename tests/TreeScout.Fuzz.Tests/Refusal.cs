namespace TreeScout.Fuzz.Tests;

/// <summary>A reader's documented way to refuse an input: its own exception type with a one-line message naming the problem.</summary>
public static class Refusal
{
    /// <summary>The reader's result, or default when it refused the input cleanly; any other exception is left to the fuzz target.</summary>
    public static T? ReadOrRefuse<T, TRefusal>(Func<T> read)
        where TRefusal : Exception
    {
        try
        {
            return read();
        }
        catch (TRefusal ex)
        {
            if (!IsOneLine(ex.Message))
            {
                throw new ContractViolationException($"{typeof(TRefusal).Name} without a short one-line message ({ex.Message.Length} characters): '{ex.Message}'", ex);
            }
            return default;
        }
    }

    /// <summary>A message an operator reads on one line (or a dead-letter header carries): not empty, no line breaks, not a copy of the input.</summary>
    public static bool IsOneLine(string message) =>
        !string.IsNullOrWhiteSpace(message) && message.Length <= 1000 && !message.Contains('\n', StringComparison.Ordinal) && !message.Contains('\r', StringComparison.Ordinal);
}
