using TreeScout.Tests;
using Xunit.Abstractions;

namespace TreeScout.Pipeline.Tests;

/// <summary>`treescout` as a real process, as a user runs it: exit code, stdout and stderr, echoed to the test's output.</summary>
internal static class TreescoutCli
{
    public static async Task<ToolResult> RunAsync(ITestOutputHelper output, TimeSpan patience, params string[] args)
    {
        // Embedded, whatever broker the environment names.
        var result = await Tool.RunAsync("dotnet", [WorkerProcess.ProjectDll("src", "TreeScout.Cli", "treescout"), .. args], patience,
            environment: new Dictionary<string, string?> { ["TREESCOUT__Broker__Uri"] = null });
        output.WriteLine($"$ treescout {string.Join(' ', args)}\n{result.Stdout}{result.Stderr}exit {result.ExitCode}");
        return result;
    }
}
