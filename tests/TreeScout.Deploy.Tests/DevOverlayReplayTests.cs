using System.Globalization;
using System.Text.Json;
using k8s.Models;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using TreeScout.Capture;
using TreeScout.Cli.RunControl;
using TreeScout.Cli.Scanning;
using TreeScout.Contracts;
using TreeScout.Deploy.Tests.Support;
using TreeScout.Messaging;
using TreeScout.Orchard;
using TreeScout.Tests;
using Xunit.Abstractions;

namespace TreeScout.Deploy.Tests;

/// <summary>
/// The dev overlay as a developer's cluster runs it, minus Kubernetes: every worker Deployment of the rendered overlay
/// as a real process with its container's environment (the overlay's ConfigMaps, env and $(VAR) expansion, the image's
/// paths mapped onto this checkout), the start-run Job's command, on the test broker in a virtual host of its own. Its
/// map of the bundled sample must be the embedded scan's, tree by tree. Needs the broker .ci/run starts and kubectl.
/// </summary>
[Trait("Category", "Integration")]
public sealed class DevOverlayReplayTests(ITestOutputHelper output)
{
    private const string StartRunJob = "treescout-start-sample-run";

    /// <summary>deploy/image/entrypoint.sh: the container's first argument selects the program.</summary>
    private static readonly Dictionary<string, (string Project, string? Assembly)> Programs = new(StringComparer.Ordinal)
    {
        ["capture"] = ("TreeScout.Capture", null),
        ["detection"] = ("TreeScout.Detection", null),
        ["fusion"] = ("TreeScout.Fusion", null),
        ["mapwriter"] = ("TreeScout.MapWriter", null),
        ["cli"] = ("TreeScout.Cli", "treescout"),
    };

    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task The_dev_overlay_workers_map_the_bundled_sample_tree_by_tree_as_the_embedded_scan_does()
    {
        var overlay = await Overlay.RenderAsync(Overlay.Dev);
        var root = Directory.CreateTempSubdirectory("treescout-dev-overlay-").FullName;
        var processes = new List<WorkerProcess>();
        try
        {
            var paths = ImagePathsOnThisCheckout(overlay, root);
            var job = overlay.Single<V1Job>(StartRunJob).Spec.Template.Spec.Containers.Single();
            var jobEnvironment = ProcessEnvironment(overlay, job, paths);
            var recording = jobEnvironment["RECORDING"];
            Assert.StartsWith(RepoPaths.Samples, recording, StringComparison.Ordinal);

            // The reference: `treescout scan` of the same recording, embedded.
            using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(10));
            var embeddedOut = Path.Combine(root, "embedded");
            var embedded = await new ScanPipeline(new ConfigurationBuilder().Build(), NullLoggerFactory.Instance, TextWriter.Null)
                .RunEmbeddedAsync(new ScanRequest(recording, embeddedOut, ReplayPace.AsFastAsAccepted), deadline.Token);

            await using var vhost = await TestBroker.CreateVhostAsync("dev-overlay");
            // In the cluster the broker's boot definitions hold the topology (the workers only check it): declared here.
            await using var session = await BrokerSession.ConnectAsync(vhost.Uri.ToString(), null, TextWriter.Null, deadline.Token);
            var finalMap = new TaskCompletionSource<MapUpdated>(TaskCreationOptions.RunContinuationsAsynchronously);
            await using var maps = await session.Bus.ListenAsync(Topology.MapsExchange, "#", envelope =>
            {
                if (MessageCodec.Decode(envelope) is MapUpdated { Final: true } map)
                {
                    finalMap.TrySetResult(map);
                }
                return Task.CompletedTask;
            }, deadline.Token);

            foreach (var deployment in overlay.OfType<V1Deployment>())
            {
                var container = deployment.Spec.Template.Spec.Containers.Single();
                if (!Programs.ContainsKey(container.Args[0]))
                {
                    // Not a pipeline worker (the console): it only reads what the workers make; Console.Tests cover it.
                    continue;
                }
                for (var replica = 0; replica < deployment.Spec.Replicas; replica++)
                {
                    processes.Add(await StartWorkerAsync(deployment.Metadata.Name, container, ProcessEnvironment(overlay, container, paths), vhost.Uri));
                }
            }

            // The Job: `treescout run start` with the overlay's arguments.
            var start = Start(StartRunJob, job, jobEnvironment, vhost.Uri);
            processes.Add(start);
            Assert.Equal(0, await start.WaitForExitAsync(TimeSpan.FromMinutes(1)));
            var runId = start.Lines.Single(RunIds.IsValid);

            var map = await finalMap.Task.WaitAsync(deadline.Token);
            Assert.Equal(runId, map.RunId);
            var runFolder = Path.GetDirectoryName(map.StorePath)!;
            Assert.StartsWith(root, runFolder, StringComparison.Ordinal);

            var frames = new Recording(recording).ReadFrames().Count();
            var (viaWorkers, viaScan) = (Fusion(runFolder), Fusion(embeddedOut));
            output.WriteLine($"{frames} frames; workers: {viaWorkers}; embedded scan: {viaScan}");
            var expected = PerTreeMap.Read(embeddedOut);
            var actual = PerTreeMap.Read(runFolder);
            foreach (var tree in expected.Keys)
            {
                output.WriteLine($"{tree}: embedded {expected[tree]} | dev overlay {actual.GetValueOrDefault(tree, "-")}");
            }

            Assert.Equal(24, expected.Count);
            Assert.Equal((frames, 0L), (viaScan.FramesFused, viaScan.FramesWithoutPose));
            Assert.Equal((frames, 0L), (viaWorkers.FramesFused, viaWorkers.FramesWithoutPose));
            // Frames and fixes on one time base: the recorded clock offset, not the months between recording and today.
            Assert.Equal(viaScan.ClockOffsetMs, viaWorkers.ClockOffsetMs);
            Assert.Equal(viaScan.RtkFixedFixes, viaWorkers.RtkFixedFixes);
            Assert.Equal(embedded.Map.Observations, map.Observations);
            Assert.Equal(expected, actual);
        }
        finally
        {
            foreach (var process in processes)
            {
                await process.DisposeAsync();
            }
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>
    /// Where the image's paths are on this machine: the Dockerfile copies samples/ to /app/samples/; the map writer's
    /// store volume is a folder of this test's.
    /// </summary>
    private static Dictionary<string, string> ImagePathsOnThisCheckout(Overlay overlay, string root)
    {
        var mapwriter = overlay.Single<V1Deployment>("treescout-mapwriter").Spec.Template.Spec;
        var store = mapwriter.Containers.Single().VolumeMounts.Single(m => mapwriter.Volumes.Single(v => v.Name == m.Name).PersistentVolumeClaim is not null);
        var volume = Directory.CreateDirectory(Path.Combine(root, "store")).FullName;
        return new(StringComparer.Ordinal)
        {
            ["/app/samples/"] = RepoPaths.Samples + "/",
            [store.MountPath.TrimEnd('/') + "/"] = volume + "/",
        };
    }

    /// <summary>The container's environment with the image's paths mapped; fails on a path this test does not know (the overlay changed).</summary>
    private static Dictionary<string, string> ProcessEnvironment(Overlay overlay, V1Container container, Dictionary<string, string> paths)
    {
        var environment = ContainerEnvironment.Resolve(overlay, container, key => $"unused-{key.Key}-password");
        return environment.ToDictionary(e => e.Key, e => OnThisCheckout(e.Value, paths), StringComparer.Ordinal);
    }

    private static string OnThisCheckout(string value, Dictionary<string, string> paths)
    {
        foreach (var (image, local) in paths)
        {
            if (value.StartsWith(image, StringComparison.Ordinal))
            {
                return local + value[image.Length..];
            }
        }
        Assert.False(value.StartsWith('/'), $"'{value}' is a path in the image this test does not map onto the checkout");
        return value;
    }

    private Task<WorkerProcess> StartWorkerAsync(string name, V1Container container, Dictionary<string, string> environment, Uri broker)
    {
        var port = WorkerProcess.FreePort();
        var (dll, process, args) = Program(name, container, environment, broker, new()
        {
            // Four processes on one host: each its own health port, on loopback.
            ["TREESCOUT__Health__Port"] = port.ToString(CultureInfo.InvariantCulture),
            ["TREESCOUT__Health__BindAddress"] = "127.0.0.1",
        });
        return WorkerProcess.StartReadyAsync(dll, process, port, ReadyTimeout, args, Echo(name));
    }

    private WorkerProcess Start(string name, V1Container container, Dictionary<string, string> environment, Uri broker)
    {
        var (dll, process, args) = Program(name, container, environment, broker, []);
        return WorkerProcess.Start(dll, process, args, Echo(name));
    }

    private Action<string> Echo(string name) => line => output.WriteLine($"[{name}] {line}");

    /// <summary>
    /// The container's program, environment and arguments; only the broker (this test's virtual host instead of the
    /// cluster's service), the log format (text, for the test log) and <paramref name="local"/> differ from the pod's.
    /// </summary>
    private static (string Dll, Dictionary<string, string> Environment, List<string> Args) Program(
        string name, V1Container container, Dictionary<string, string> environment, Uri broker, Dictionary<string, string> local)
    {
        Assert.True(environment.ContainsKey("TREESCOUT__Broker__Uri"), $"{name}: no TREESCOUT__Broker__Uri in the overlay");
        var args = container.Args.Select(a => ContainerEnvironment.Expand(a, environment)).ToList();
        var (project, assembly) = Programs[args[0]];
        var process = new Dictionary<string, string>(environment)
        {
            ["TREESCOUT__Broker__Uri"] = broker.ToString(),
            ["TREESCOUT__Logging__Format"] = "text",
        };
        foreach (var (key, value) in local)
        {
            process[key] = value;
        }
        return (WorkerProcess.ProjectDll("src", project, assembly), process, args[1..]);
    }

    private sealed record FusionSummary(long FramesFused, long FramesWithoutPose, double? ClockOffsetMs, long RtkFixedFixes);

    /// <summary>The fusion section of the run folder's run.json (RunFused as the map writer recorded it).</summary>
    private static FusionSummary Fusion(string runFolder)
    {
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(runFolder, "run.json")));
        var fusion = json.RootElement.GetProperty("fusion");
        var offset = fusion.GetProperty("clockOffsetMs");
        return new FusionSummary(
            fusion.GetProperty("framesFused").GetInt64(),
            fusion.GetProperty("framesWithoutPose").GetInt64(),
            offset.ValueKind == JsonValueKind.Null ? null : Math.Round(offset.GetDouble(), 3),
            fusion.GetProperty("gnss").GetProperty("rtkFixed").GetInt64());
    }
}
