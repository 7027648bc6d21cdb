using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Runtime.InteropServices;

namespace TreeScout.Tests;

/// <summary>
/// A .NET program of this repository run as a real separate process (`dotnet path/to/Program.dll`), with its output
/// lines collected, so tests can signal it (SIGTERM), kill it (SIGKILL) and read what it logged.
/// </summary>
public sealed class WorkerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly Action<string>? _echo;

    private WorkerProcess(Process process, Action<string>? echo)
    {
        _process = process;
        _echo = echo;
        process.OutputDataReceived += (_, e) => Collect(e.Data);
        process.ErrorDataReceived += (_, e) => Collect(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>Standard output and error lines so far, in arrival order.</summary>
    public IReadOnlyList<string> Lines => [.. _lines];

    /// <summary>
    /// The build output of a project of this repository, e.g. ("tests", "TreeScout.TestWorker") or ("src", "TreeScout.Cli", "treescout"),
    /// in the configuration the tests were built with.
    /// </summary>
    public static string ProjectDll(string folder, string project, string? assemblyName = null)
    {
        var configuration = typeof(WorkerProcess).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        var dll = Path.Combine(RepoPaths.Root, folder, project, "bin", configuration, "net10.0", (assemblyName ?? project) + ".dll");
        return File.Exists(dll) ? dll : throw new FileNotFoundException($"{dll} is not built (build the solution, or `dotnet build {folder}/{project}`)");
    }

    public static WorkerProcess Start(string dll, IReadOnlyDictionary<string, string> environment, IEnumerable<string>? args = null, Action<string>? echo = null)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(dll)!,
        };
        psi.ArgumentList.Add(dll);
        foreach (var a in args ?? [])
        {
            psi.ArgumentList.Add(a);
        }
        // Output is redirected: the worker picks its container (JSON) log format unless told otherwise.
        psi.Environment.Remove("TREESCOUT__Broker__Uri");
        foreach (var (key, value) in environment)
        {
            psi.Environment[key] = value;
        }
        return new WorkerProcess(Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {dll}"), echo);
    }

    /// <summary>
    /// Starts a worker with its health endpoint on <paramref name="healthPort"/> (set in <paramref name="environment"/>)
    /// and returns once /readyz answers 200; a worker not ready in time is killed and the timeout rethrown (its output went
    /// to <paramref name="echo"/>), one that exits first (a bad setting) is reported at once with its last output.
    /// </summary>
    public static async Task<WorkerProcess> StartReadyAsync(string dll, IReadOnlyDictionary<string, string> environment, int healthPort, TimeSpan patience, IEnumerable<string>? args = null, Action<string>? echo = null)
    {
        var worker = Start(dll, environment, args, echo);
        var deadline = DateTime.UtcNow + patience;
        try
        {
            while (true)
            {
                if (worker.HasExited)
                {
                    throw new InvalidOperationException($"{Path.GetFileName(dll)} exited ({worker._process.ExitCode}) before it was ready; its last output:\n{string.Join('\n', worker.Lines.TakeLast(20))}");
                }
                try
                {
                    await HealthEndpoint.WaitForStatusAsync(healthPort, "/readyz", HttpStatusCode.OK, TimeSpan.FromSeconds(1));
                    return worker;
                }
                catch (TimeoutException) when (DateTime.UtcNow < deadline)
                {
                }
            }
        }
        catch
        {
            await worker.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// A worker process's environment on <paramref name="broker"/>: health endpoint on 127.0.0.1:<paramref name="healthPort"/>,
    /// text logs, the map writer's run stores under <paramref name="storeRoot"/>; <paramref name="settings"/> (Section:Key or
    /// TREESCOUT__ names) come first.
    /// </summary>
    public static Dictionary<string, string> WorkerEnvironment(Uri broker, int healthPort, string storeRoot, IReadOnlyDictionary<string, string>? settings = null)
    {
        var environment = (settings ?? new Dictionary<string, string>()).ToDictionary(
            s => s.Key.StartsWith(EnvironmentPrefix, StringComparison.Ordinal) ? s.Key : EnvironmentPrefix + s.Key.Replace(":", "__", StringComparison.Ordinal), s => s.Value);
        environment[EnvironmentPrefix + "Broker__Uri"] = broker.ToString();
        environment[EnvironmentPrefix + "Health__BindAddress"] = "127.0.0.1";
        environment[EnvironmentPrefix + "Health__Port"] = healthPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        environment[EnvironmentPrefix + "Logging__Format"] = "text";
        environment[EnvironmentPrefix + "MapWriter__StoreRoot"] = storeRoot;
        return environment;
    }

    /// <summary>The prefix of the workers' settings in the environment (WorkerHost.EnvironmentPrefix; this file does not reference the workers).</summary>
    private const string EnvironmentPrefix = "TREESCOUT__";

    /// <summary>Waits for an output line matching <paramref name="match"/>; fails with the output so far on timeout or exit.</summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> match, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (_lines.FirstOrDefault(match) is { } line)
            {
                return line;
            }
            if (DateTime.UtcNow > deadline || _process.HasExited)
            {
                await Task.Delay(200); // let the last lines arrive
                throw new TimeoutException($"{(_process.HasExited ? $"process exited ({_process.ExitCode})" : $"timed out after {timeout.TotalSeconds}s")} before {what}. Output:\n{string.Join('\n', _lines)}");
            }
            await Task.Delay(50);
        }
    }

    /// <summary>SIGTERM, as Kubernetes stops a pod; returns the exit code.</summary>
    public Task<int> TerminateAsync(TimeSpan timeout) => SignalAsync(SigTerm, timeout);

    /// <summary>SIGINT, as Ctrl-C in a terminal; returns the exit code.</summary>
    public Task<int> InterruptAsync(TimeSpan timeout) => SignalAsync(SigInt, timeout);

    private const int SigInt = 2;
    private const int SigTerm = 15;

    // kill(2) directly: the kill program (procps) is not on every machine that has the .NET SDK, and unit tests signal too.
    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    private async Task<int> SignalAsync(int signal, TimeSpan timeout)
    {
        if (!_process.HasExited && Kill(_process.Id, signal) != 0 && !_process.HasExited)
        {
            throw new InvalidOperationException($"kill({_process.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
        return await WaitForExitAsync(timeout);
    }

    /// <summary>SIGKILL: the process gets no chance to clean up or acknowledge anything (a power cut, an OOM kill).</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        return _process.ExitCode;
    }

    /// <summary>A TCP port nobody listens on right now.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            await KillAsync();
        }
        _process.Dispose();
    }

    private void Collect(string? line)
    {
        if (line is null)
        {
            return;
        }
        _lines.Enqueue(line);
        try
        {
            _echo?.Invoke(line);
        }
        catch (InvalidOperationException)
        {
            // The test already finished.
        }
    }
}
