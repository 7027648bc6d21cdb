using System.CommandLine;
using TreeScout.RunControl;

namespace TreeScout.Cli;

/// <summary>Shared conventions of every command: one clear error line on stderr and a non-zero exit code, never a stack trace.</summary>
public static class Cli
{
    public const int UsageError = 2;
    public const int Failure = 1;

    /// <summary>`scan`: the map is written, but the recording's block plan does not fit the block scanned (docs/recording-format.md).</summary>
    public const int PlanDoesNotFit = 3;

    /// <summary>Ctrl-C (SIGINT) or SIGTERM, as shells report it.</summary>
    public const int Interrupted = 130;

    public static async Task<int> InvokeAsync(RootCommand root, string[] args)
    {
        try
        {
            return await root.Parse(args).InvokeAsync(new InvocationConfiguration
            {
                EnableDefaultExceptionHandler = false,
                // Ctrl-C cancels the command's token; it then closes its broker connection and says one line. Only a
                // command that does not end within this is cut off (by System.CommandLine, with exit code 130).
                ProcessTerminationTimeout = TimeSpan.FromSeconds(15),
            });
        }
        catch (CliException ex)
        {
            await Console.Error.WriteLineAsync($"treescout: {ex.Message}");
            return ex.ExitCode;
        }
        catch (RunControlException ex)
        {
            await Console.Error.WriteLineAsync($"treescout: {ex.Message}");
            return ex.IsUsageError ? UsageError : Failure;
        }
        catch (OperationCanceledException)
        {
            await Console.Error.WriteLineAsync("treescout: interrupted");
            return Interrupted;
        }
    }
}

/// <summary>A failure the user can act on: printed as one line, no stack trace.</summary>
public sealed class CliException : Exception
{
    public CliException(string message, int exitCode = Cli.Failure)
        : base(message) => ExitCode = exitCode;

    public CliException(string message, Exception inner)
        : base(message, inner) => ExitCode = Cli.Failure;

    public CliException()
        : this("failed")
    {
    }

    public CliException(string message)
        : this(message, Cli.Failure)
    {
    }

    public int ExitCode { get; }
}
