using System.Net;
using TreeScout.Tests;
using Xunit.Abstractions;

namespace TreeScout.Pipeline.Tests;

/// <summary>Detection, Fusion and MapWriter, each as its own process on one broker, started until ready (/readyz); killed on dispose.</summary>
public sealed class PipelineWorkers : IAsyncDisposable
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(90);

    private readonly List<(string Project, WorkerProcess Process, int HealthPort)> _workers = [];

    private PipelineWorkers()
    {
    }

    /// <summary>Project name → its process and health port.</summary>
    public IReadOnlyDictionary<string, (WorkerProcess Process, int HealthPort)> Workers =>
        _workers.ToDictionary(w => w.Project, w => (w.Process, w.HealthPort), StringComparer.Ordinal);

    /// <summary>Starts the three workers on <paramref name="broker"/>; the map writer keeps its run stores under <paramref name="storeRoot"/>.</summary>
    public static async Task<PipelineWorkers> StartAsync(Uri broker, string storeRoot, ITestOutputHelper output)
    {
        var workers = new PipelineWorkers();
        try
        {
            foreach (var project in Projects)
            {
                var (process, port) = Start(project, broker, storeRoot, output);
                workers._workers.Add((project, process, port));
                // A worker that does not get ready: its output is in the test log.
                await HealthEndpoint.WaitForStatusAsync(port, "/readyz", HttpStatusCode.OK, ReadyTimeout);
            }
            return workers;
        }
        catch
        {
            await workers.DisposeAsync();
            throw;
        }
    }

    public static readonly string[] Projects = ["TreeScout.Detection", "TreeScout.Fusion", "TreeScout.MapWriter"];

    /// <summary>One worker's process on <paramref name="broker"/>, not waited for, and its health port; <paramref name="settings"/> are added to its environment.</summary>
    public static (WorkerProcess Process, int HealthPort) Start(string project, Uri broker, string storeRoot, ITestOutputHelper output, IReadOnlyDictionary<string, string>? settings = null)
    {
        var port = WorkerProcess.FreePort();
        var environment = WorkerProcess.WorkerEnvironment(broker, port, storeRoot, settings);
        var name = project["TreeScout.".Length..];
        return (WorkerProcess.Start(WorkerProcess.ProjectDll("src", project), environment, echo: l => output.WriteLine($"[{name}] {l}")), port);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var (_, process, _) in _workers)
        {
            await process.DisposeAsync();
        }
    }
}
