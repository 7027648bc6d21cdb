using System.Diagnostics;

namespace TreeScout.Tests;

public sealed record ToolResult(int ExitCode, string Stdout, string Stderr);

/// <summary>Runs a command-line tool (rabbitmqctl, kubectl, `treescout`, a published app) and captures its output.</summary>
public static class Tool
{
    /// <summary>
    /// Runs <paramref name="tool"/> in <paramref name="workingDirectory"/> (default: the repository root);
    /// <paramref name="environment"/> sets variables, a null value removes one.
    /// </summary>
    public static async Task<ToolResult> RunAsync(
        string tool, IEnumerable<string> args, TimeSpan? timeout = null, string? workingDirectory = null, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var psi = new ProcessStartInfo(tool)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? RepoPaths.Root,
        };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                psi.Environment.Remove(key);
            }
            else
            {
                psi.Environment[key] = value;
            }
        }
        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {tool}");
        var stdout = new Output(process.StandardOutput);
        var stderr = new Output(process.StandardError);
        var limit = timeout ?? TimeSpan.FromSeconds(60);
        using var cts = new CancellationTokenSource(limit);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{tool} {string.Join(' ', psi.ArgumentList)} did not finish within {limit.TotalSeconds}s");
        }
        return new ToolResult(process.ExitCode, await stdout.ReadAsync(), await stderr.ReadAsync());
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

    /// <summary>
    /// Collects a redirected stream in the background. A daemon the tool started (erl starts epmd, rabbitmq-server
    /// -detached) can inherit the pipes and keep them open, so <see cref="ReadAsync"/> waits only briefly for the end.
    /// </summary>
    private sealed class Output
    {
        private readonly System.Text.StringBuilder _text = new();
        private readonly Task _pump;

        public Output(StreamReader reader) => _pump = Task.Run(async () =>
        {
            var buffer = new char[4096];
            int n;
            while ((n = await reader.ReadAsync(buffer)) > 0)
            {
                lock (_text)
                {
                    _text.Append(buffer, 0, n);
                }
            }
        });

        public async Task<string> ReadAsync()
        {
            await Task.WhenAny(_pump, Task.Delay(TimeSpan.FromSeconds(2)));
            lock (_text)
            {
                return _text.ToString();
            }
        }
    }
}
