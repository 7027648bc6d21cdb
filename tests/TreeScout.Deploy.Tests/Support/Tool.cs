using System.Diagnostics;

namespace TreeScout.Deploy.Tests.Support;

public sealed record ToolResult(int ExitCode, string Stdout, string Stderr);

/// <summary>Runs a command-line tool (kubectl, rabbitmqctl, sh, a published app) and captures its output.</summary>
public static class Tool
{
    public static async Task<ToolResult> RunAsync(string tool, IEnumerable<string> args, TimeSpan? timeout = null, string? workingDirectory = null, IDictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo(tool)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? TreeScout.Tests.RepoPaths.Root,
        };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[key] = value;
        }
        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {tool}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{tool} {string.Join(' ', psi.ArgumentList)} did not finish within {(timeout ?? TimeSpan.FromSeconds(60)).TotalSeconds}s");
        }
        return new ToolResult(process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Runs the tool and returns its standard output; throws with its error output when it fails.</summary>
    public static async Task<string> OutputAsync(string tool, IEnumerable<string> args, TimeSpan? timeout = null, string? workingDirectory = null)
    {
        var list = args.ToList();
        var result = await RunAsync(tool, list, timeout, workingDirectory);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"{tool} {string.Join(' ', list)} failed ({result.ExitCode}): {result.Stderr}{result.Stdout}");
        }
        return result.Stdout;
    }
}
