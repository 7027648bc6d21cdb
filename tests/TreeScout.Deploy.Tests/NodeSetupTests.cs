using k8s.Models;
using TreeScout.Deploy.Tests.Support;
using TreeScout.Tests;

namespace TreeScout.Deploy.Tests;

/// <summary>The tractor's node prerequisites: the device plugin advertises exactly what the tractor overlay requests.</summary>
public class NodeSetupTests
{
    private const string Domain = "squat.ai";

    [Trait("Category", "Integration")]
    [Fact]
    public async Task Device_plugin_advertises_exactly_the_devices_the_tractor_pods_request()
    {
        var yaml = (await File.ReadAllTextAsync(Path.Combine(RepoPaths.Root, "deploy/node/generic-device-plugin.yaml")))
            .Replace("${DEVICE_PLUGIN_IMAGE}", "registry.example/generic-device-plugin@sha256:" + new string('0', 64), StringComparison.Ordinal);
        var daemonSet = Assert.IsType<V1DaemonSet>(KubernetesTypes.Deserialize(YamlToJson.Documents(yaml).Single()));
        var args = daemonSet.Spec.Template.Spec.Containers.Single().Args;
        var advertised = args.Where((_, i) => i > 0 && args[i - 1] == "--device").Select(a => $"{Domain}/{a.Split(',')[0]}").Order(StringComparer.Ordinal).ToList();

        var tractor = await Overlay.RenderAsync(Overlay.Tractor);
        var requested = tractor.Containers().SelectMany(c => c.Container.Resources.Limits.Keys).Where(k => k.StartsWith(Domain + "/", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(advertised, requested);
        Assert.Contains(args, a => a.StartsWith("video,/dev/video", StringComparison.Ordinal));
        Assert.Contains(args, a => a.StartsWith("serial,", StringComparison.Ordinal) && a.Contains("/dev/ttyACM*", StringComparison.Ordinal) && a.Contains("/dev/ttyUSB*", StringComparison.Ordinal));
    }

    [Trait("Category", "Unit")]
    [Theory]
    [InlineData("ghcr.io/squat/generic-device-plugin:latest", "not pinned by digest")]
    [InlineData("ghcr.io/squat/generic-device-plugin", "not pinned by digest")]
    [InlineData("ghcr.io/squat/generic-device-plugin@sha256:1234", "is not a sha256 digest")]
    public async Task Device_plugin_install_refuses_an_image_not_pinned_by_digest(string image, string message)
    {
        var result = await Tool.RunAsync("sh", ["deploy/node/install-device-plugin.sh", image]);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains(message, result.Stderr, StringComparison.Ordinal);
    }
}
