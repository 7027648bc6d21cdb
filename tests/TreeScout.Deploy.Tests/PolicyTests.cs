using System.Text.RegularExpressions;
using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using TreeScout.Capture;
using TreeScout.Cli.Deploy;
using TreeScout.Deploy.Tests.Support;
using TreeScout.Hosting;
using TreeScout.Messaging;
using TreeScout.Tests;

namespace TreeScout.Deploy.Tests;

/// <summary>Policies every rendered overlay must meet: what a reviewer of a tractor deployment checks by hand.</summary>
[Trait("Category", "Integration")]
public partial class PolicyTests
{
    private const string OurImage = "ghcr.io/treescout/treescout";

    private static readonly WorkerRole[] Workers = [WorkerRole.Capture, WorkerRole.Detection, WorkerRole.Fusion, WorkerRole.MapWriter];

    public static TheoryData<string> Overlays => [.. Overlay.All];

    public static TheoryData<string> Tractors => [.. Overlay.Tractors];

    [Theory]
    [MemberData(nameof(Overlays))]
    public async Task Every_pod_runs_unprivileged_as_non_root_with_a_read_only_root_and_no_capabilities(string path)
    {
        var overlay = await Overlay.RenderAsync(path);
        foreach (var (owner, pod, _) in overlay.PodSpecs())
        {
            Assert.True(pod.SecurityContext?.RunAsNonRoot == true, $"{owner}: pod securityContext.runAsNonRoot must be true");
            Assert.True(pod.SecurityContext.RunAsUser is > 0, $"{owner}: pod must name a non-zero runAsUser (the image's user)");
            Assert.Equal("RuntimeDefault", pod.SecurityContext.SeccompProfile?.Type);
            Assert.False(pod.HostNetwork == true || pod.HostPID == true || pod.HostIPC == true, $"{owner}: shares a host namespace");
            Assert.False(pod.AutomountServiceAccountToken ?? true, $"{owner}: mounts a service account token it never uses");
            Assert.All(pod.Volumes ?? [], v => Assert.True(v.HostPath is null, $"{owner}: hostPath volume {v.Name}"));
        }
        foreach (var (where, c, pod, _) in overlay.Containers())
        {
            var sc = c.SecurityContext;
            Assert.True(sc is not null, $"{where}: no securityContext");
            Assert.True((sc.RunAsNonRoot ?? pod.SecurityContext?.RunAsNonRoot) == true, $"{where}: runAsNonRoot");
            Assert.True(sc.RunAsUser is null or > 0, $"{where}: runs as root");
            Assert.True(sc.AllowPrivilegeEscalation == false, $"{where}: allowPrivilegeEscalation must be false");
            Assert.True(sc.ReadOnlyRootFilesystem == true, $"{where}: readOnlyRootFilesystem must be true");
            Assert.True(sc.Privileged != true, $"{where}: privileged");
            Assert.True(sc.Capabilities?.Drop?.Contains("ALL") == true, $"{where}: must drop ALL capabilities");
            Assert.True(sc.Capabilities.Add is null || sc.Capabilities.Add.Count == 0, $"{where}: adds capabilities");
            Assert.Equal("RuntimeDefault", (sc.SeccompProfile ?? pod.SecurityContext?.SeccompProfile)?.Type);
        }
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public async Task Every_container_has_cpu_and_memory_requests_within_its_limits(string path)
    {
        var overlay = await Overlay.RenderAsync(path);
        foreach (var (where, c, _, _) in overlay.Containers())
        {
            foreach (var resource in new[] { "cpu", "memory" })
            {
                Assert.True(c.Resources?.Requests?.ContainsKey(resource) == true, $"{where}: no {resource} request");
                Assert.True(c.Resources.Limits?.ContainsKey(resource) == true, $"{where}: no {resource} limit");
                Assert.True(c.Resources.Requests[resource].ToDecimal() <= c.Resources.Limits[resource].ToDecimal(), $"{where}: {resource} request above its limit");
            }
        }
        // The whole deployment must fit a small edge box (4 cores, 8 GiB) with room for k3s itself.
        var requested = overlay.PodSpecs().Sum(p => Replicas(overlay, p.Owner) * p.Spec.Containers.Sum(c => c.Resources.Requests["memory"].ToDecimal()));
        Assert.True(requested <= 4m * 1024 * 1024 * 1024, $"{path}: {requested / 1024 / 1024:F0} MiB of memory requested");
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public async Task Every_long_running_container_has_liveness_and_readiness_probes(string path)
    {
        var overlay = await Overlay.RenderAsync(path);
        var longRunning = overlay.Containers().Where(c => !c.Init && !c.Where.StartsWith("Job/", StringComparison.Ordinal)).ToList();
        // Tractor: the broker, the four workers and the console. Central: the broker, PostGIS, the ingest worker, the console.
        Assert.Equal(path == Overlay.Central ? 4 : 6, longRunning.Count);
        foreach (var (where, c, _, _) in longRunning)
        {
            Assert.True(c.LivenessProbe is not null, $"{where}: no liveness probe");
            Assert.True(c.ReadinessProbe is not null, $"{where}: no readiness probe");
        }
        foreach (var (where, c, _, _) in longRunning.Where(c => c.Container.Name == "worker"))
        {
            Assert.Equal("/healthz", c.LivenessProbe.HttpGet.Path);
            Assert.Equal("/readyz", c.ReadinessProbe.HttpGet.Path);
            var port = c.Ports.Single(p => p.Name == (string)c.LivenessProbe.HttpGet.Port);
            Assert.True(port.ContainerPort == 8080, $"{where}: probes a port the worker does not listen on");
        }
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public async Task Every_image_is_pinned_to_a_release(string path)
    {
        var overlay = await Overlay.RenderAsync(path);
        foreach (var (where, c, _, _) in overlay.Containers())
        {
            var match = ImageReference().Match(c.Image);
            Assert.True(match.Success, $"{where}: image '{c.Image}' has neither a version tag nor a digest");
            var tag = match.Groups["tag"].Value;
            Assert.True(match.Groups["digest"].Success || FullVersion().IsMatch(tag), $"{where}: image '{c.Image}' is not pinned to a full x.y.z version");
            if (match.Groups["name"].Value == OurImage)
            {
                Assert.Equal("IfNotPresent", c.ImagePullPolicy ?? "IfNotPresent");
            }
        }
        Assert.Contains(overlay.Containers(), c => c.Container.Image.StartsWith(OurImage + ":", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public async Task No_secret_value_is_in_git(string path)
    {
        var overlay = await Overlay.RenderAsync(path);
        Assert.Empty(overlay.OfType<V1Secret>());
        foreach (var (where, c, _, _) in overlay.Containers())
        {
            foreach (var env in c.Env ?? [])
            {
                if (env.Value is { } value && value.Contains("://", StringComparison.Ordinal) && value.Contains('@', StringComparison.Ordinal))
                {
                    Assert.Matches(@"^amqp://[a-z-]+:\$\(BROKER_PASSWORD\)@", value);
                }
                Assert.False(env.Name.Contains("PASSWORD", StringComparison.OrdinalIgnoreCase) && env.Value is not null, $"{where}: {env.Name} has a literal value");
                // A connection string takes its password from a variable that comes from a Secret.
                if (env.Value is { } connection && connection.Contains("Password=", StringComparison.OrdinalIgnoreCase))
                {
                    var variable = Assert.Single(ConnectionPassword().Matches(connection)).Groups[1].Value;
                    Assert.NotNull(c.Env!.Single(e => e.Name == variable).ValueFrom?.SecretKeyRef);
                }
            }
        }
        var files = Directory.EnumerateFiles(Path.Combine(RepoPaths.Root, "deploy"), "*", SearchOption.AllDirectories).ToList();
        Assert.NotEmpty(files);
        foreach (var file in files)
        {
            var text = await File.ReadAllTextAsync(file);
            Assert.DoesNotMatch(@"(?m)^kind:\s*Secret\s*$", text);
            Assert.DoesNotMatch(@"(?i)password_hash|""password""\s*:\s*""[^$]", text);
            Assert.DoesNotMatch(@"guest:guest|default_pass|RABBITMQ_DEFAULT_PASS", text);
        }
    }

    [Fact]
    public async Task Only_capture_gets_the_camera_and_only_fusion_the_GNSS_serial_port()
    {
        var tractor = await Overlay.RenderAsync(Overlay.Tractor);
        foreach (var (where, c, pod, _) in tractor.Containers())
        {
            var devices = (c.Resources.Limits ?? new Dictionary<string, ResourceQuantity>()).Keys.Where(k => k is not ("cpu" or "memory")).ToList();
            var expected = where switch
            {
                "Deployment/treescout-capture container worker" => ["squat.ai/video"],
                "Deployment/treescout-fusion container worker" => ["squat.ai/serial"],
                _ => Array.Empty<string>(),
            };
            Assert.Equal(expected, devices);
            var groups = pod.SecurityContext.SupplementalGroups ?? [];
            Assert.Equal(expected.Length == 0 ? [] : expected[0] == "squat.ai/video" ? [44L] : [20L], groups);
        }

        var dev = await Overlay.RenderAsync(Overlay.Dev);
        Assert.All(dev.Containers(), c => Assert.Equal(["cpu", "memory"], c.Container.Resources.Limits.Keys.Order(StringComparer.Ordinal)));
        Assert.All(dev.PodSpecs(), p => Assert.Empty(p.Spec.SecurityContext.SupplementalGroups ?? []));
    }

    [Theory]
    [MemberData(nameof(Tractors))]
    public async Task Workers_get_longer_to_stop_than_the_host_takes_to_finish_its_message(string path)
    {
        var overlay = await Overlay.RenderAsync(path);
        await using var app = WorkerHost.CreateBuilder([], new CaptureWorkerModule()).Build();
        var shutdown = app.Services.GetRequiredService<IOptions<HostOptions>>().Value.ShutdownTimeout;
        Assert.True(shutdown > TimeSpan.Zero);

        foreach (var role in Workers)
        {
            var d = overlay.Single<V1Deployment>($"treescout-{Name(role)}");
            // SIGTERM, then the host's shutdown timeout for the handler in flight, then its ack and disconnect.
            Assert.True(d.Spec.Template.Spec.TerminationGracePeriodSeconds >= shutdown.TotalSeconds + 5,
                $"{d.Metadata.Name}: terminationGracePeriodSeconds {d.Spec.Template.Spec.TerminationGracePeriodSeconds} < host shutdown timeout {shutdown.TotalSeconds}s + 5s");
        }
    }

    [Theory]
    [MemberData(nameof(Tractors))]
    public async Task Each_worker_connects_as_its_own_broker_user_and_leaves_the_topology_to_the_broker(string path)
    {
        var overlay = await Overlay.RenderAsync(path);
        var shared = overlay.OfType<V1ConfigMap>().Single(c => c.Metadata.Name.StartsWith("treescout-workers-", StringComparison.Ordinal));
        Assert.Equal("false", shared.Data["TREESCOUT__Broker__DeclareTopology"]);
        Assert.DoesNotContain(shared.Data.Keys, k => k.StartsWith("TREESCOUT__Broker__Topology", StringComparison.Ordinal));

        foreach (var role in Workers)
        {
            var d = overlay.Single<V1Deployment>($"treescout-{Name(role)}");
            var worker = d.Spec.Template.Spec.Containers.Single();
            Assert.Equal([Name(role)], worker.Args);
            Assert.Contains(worker.EnvFrom, e => e.ConfigMapRef.Name == shared.Metadata.Name);
            var env = worker.Env.ToList();
            var password = env.FindIndex(e => e.Name == "BROKER_PASSWORD");
            var uri = env.FindIndex(e => e.Name == "TREESCOUT__Broker__Uri");
            Assert.True(password >= 0 && uri > password, $"{d.Metadata.Name}: BROKER_PASSWORD must be defined before the URI that uses it");
            Assert.Equal("treescout-broker-credentials", env[password].ValueFrom.SecretKeyRef.Name);
            Assert.Equal(Name(role), env[password].ValueFrom.SecretKeyRef.Key);
            Assert.Equal($"amqp://{RabbitMqDefinitions.UserName(role)}:$(BROKER_PASSWORD)@treescout-rabbitmq:5672/{RabbitMqDefinitions.DefaultVhost}", env[uri].Value);
            Assert.DoesNotContain(env, e => e.Name.StartsWith("TREESCOUT__Broker__Topology", StringComparison.Ordinal) || e.Name == "TREESCOUT__Broker__DeclareTopology");
        }
        var service = overlay.Single<V1Service>("treescout-rabbitmq");
        Assert.Contains(service.Spec.Ports, p => p.Port == 5672 && p.Name == "amqp");
    }

    [Fact]
    public async Task Single_writer_workers_never_run_twice_and_detection_scales_out()
    {
        var tractor = await Overlay.RenderAsync(Overlay.Tractor);
        foreach (var name in new[] { "capture", "fusion", "mapwriter" })
        {
            var d = tractor.Single<V1Deployment>($"treescout-{name}");
            Assert.Equal(1, d.Spec.Replicas);
            // A rolling update would briefly run two: two readers of one camera, two trackers, two writers of one GeoPackage.
            Assert.Equal("Recreate", d.Spec.Strategy.Type);
        }
        var detection = tractor.Single<V1Deployment>("treescout-detection");
        Assert.Equal(2, detection.Spec.Replicas);
        Assert.Equal("0", detection.Spec.Strategy.RollingUpdate.MaxSurge.Value);
        Assert.Equal(1, (await Overlay.RenderAsync(Overlay.Dev)).Single<V1Deployment>("treescout-detection").Spec.Replicas);
    }

    [Theory]
    [MemberData(nameof(Tractors))]
    public async Task The_map_store_and_the_broker_data_live_on_node_local_volumes_argo_never_prunes(string path)
    {
        var overlay = await Overlay.RenderAsync(path);
        var store = overlay.Single<V1PersistentVolumeClaim>("treescout-map-store");
        Assert.Equal("local-path", store.Spec.StorageClassName);
        Assert.Contains("Prune=false", store.Metadata.Annotations["argocd.argoproj.io/sync-options"], StringComparison.Ordinal);
        var mapwriter = overlay.Single<V1Deployment>("treescout-mapwriter").Spec.Template.Spec;
        var mount = mapwriter.Containers.Single().VolumeMounts.Single(m => mapwriter.Volumes.Single(v => v.Name == m.Name).PersistentVolumeClaim?.ClaimName == store.Metadata.Name);
        var storeRoot = mapwriter.Containers.Single().Env.Single(e => e.Name == "TREESCOUT__MapWriter__StoreRoot").Value;
        Assert.StartsWith(mount.MountPath + "/", storeRoot, StringComparison.Ordinal);

        var broker = overlay.Single<V1StatefulSet>("treescout-rabbitmq");
        var data = broker.Spec.VolumeClaimTemplates.Single();
        Assert.Equal("local-path", data.Spec.StorageClassName);
        Assert.Contains(broker.Spec.Template.Spec.Containers.Single().VolumeMounts, m => m.Name == data.Metadata.Name && m.MountPath == "/var/lib/rabbitmq");
    }

    [Theory]
    [MemberData(nameof(Tractors))]
    public async Task Sync_waves_bring_up_config_then_the_broker_then_the_workers(string path)
    {
        var overlay = await Overlay.RenderAsync(path);
        int Wave(IMetadata<V1ObjectMeta> o) => int.Parse(o.Metadata.Annotations?["argocd.argoproj.io/sync-wave"] ?? "0", System.Globalization.CultureInfo.InvariantCulture);
        var broker = Wave(overlay.Single<V1StatefulSet>("treescout-rabbitmq"));
        Assert.All(overlay.OfType<V1ConfigMap>(), c => Assert.True(Wave(c) < broker, $"ConfigMap {c.Metadata.Name} is not before the broker"));
        Assert.True(Wave(overlay.Single<V1Namespace>("treescout")) < broker);
        Assert.All(overlay.OfType<V1Deployment>(), d => Assert.True(Wave(d) > broker, $"{d.Metadata.Name} does not wait for the broker"));
    }

    [Theory]
    [MemberData(nameof(Tractors))]
    public async Task The_broker_boots_with_the_committed_definitions_rendered_with_the_secret(string path)
    {
        var overlay = await Overlay.RenderAsync(path);
        var config = overlay.OfType<V1ConfigMap>().Single(c => c.Metadata.Name.StartsWith("treescout-broker-", StringComparison.Ordinal));
        // Fleet tractors forward their runs to the central site (overlays/fleet has the uplink component).
        var uplink = path.StartsWith(Overlay.FleetPrefix, StringComparison.Ordinal);
        var committed = await File.ReadAllTextAsync(Path.Combine(RepoPaths.Root, uplink ? "deploy/k3s/components/uplink/definitions.json" : "deploy/k3s/base/rabbitmq/definitions.json"));
        Assert.Equal(committed, config.Data["definitions.json"]);
        Assert.Equal(RabbitMqDefinitions.Generate(uplink ? UplinkDefinitionsTests.WithUplink : new Topology(new TopologyOptions())), config.Data["definitions.json"]);

        var pod = overlay.Single<V1StatefulSet>("treescout-rabbitmq").Spec.Template.Spec;
        var render = pod.InitContainers.Single();
        var rabbit = pod.Containers.Single();
        var loadDefinitions = Regex.Match(config.Data["rabbitmq.conf"], @"(?m)^load_definitions\s*=\s*(\S+)$").Groups[1].Value;
        Assert.Equal(loadDefinitions, render.Command[^1]);
        Assert.Equal(rabbit.Image, render.Image);
        var secretVolume = pod.Volumes.Single(v => v.Secret is not null);
        Assert.Equal("treescout-broker-credentials", secretVolume.Secret.SecretName);
        Assert.Equal(render.VolumeMounts.Single(m => m.Name == secretVolume.Name).MountPath, render.Command[^2]);
        var definitionsVolume = pod.Volumes.Single(v => v.Name == render.VolumeMounts.Single(m => loadDefinitions.StartsWith(m.MountPath + "/", StringComparison.Ordinal)).Name);
        Assert.Equal("Memory", definitionsVolume.EmptyDir.Medium);
        Assert.Contains(rabbit.VolumeMounts, m => m.Name == definitionsVolume.Name && m.ReadOnlyProperty == true);
        Assert.Contains("loopback_users.guest = true", config.Data["rabbitmq.conf"], StringComparison.Ordinal);
        Assert.Equal("rabbit@localhost", rabbit.Env.Single(e => e.Name == "RABBITMQ_NODENAME").Value);
    }

    private static int Replicas(Overlay overlay, string owner) => owner.Split('/') switch
    {
        ["Deployment", var n] => overlay.Single<V1Deployment>(n).Spec.Replicas ?? 1,
        ["StatefulSet", var n] => overlay.Single<V1StatefulSet>(n).Spec.Replicas ?? 1,
        _ => 1,
    };

    private static string Name(WorkerRole role) => role.ToString().ToLowerInvariant();

    [GeneratedRegex(@"^(?<name>[a-z0-9.\-/]+)(:(?<tag>[A-Za-z0-9_.\-]+)(@(?<digest>sha256:[0-9a-f]{64}))?|@(?<digest>sha256:[0-9a-f]{64}))$")]
    private static partial Regex ImageReference();

    [GeneratedRegex(@"(?i)Password=\$\(([A-Z_]+)\)(;|$)")]
    private static partial Regex ConnectionPassword();

    [GeneratedRegex(@"^v?\d+\.\d+\.\d+([.\-+][A-Za-z0-9.\-]+)?$")]
    private static partial Regex FullVersion();
}
