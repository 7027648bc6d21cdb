using System.Diagnostics;
using TreeScout.Deploy.Tests.Support;
using TreeScout.Tests;
using Xunit.Abstractions;

namespace TreeScout.Deploy.Tests;

/// <summary>Publishes the image's /app with the Dockerfile's own script (deploy/image/publish.sh) once, for the tests below.</summary>
public sealed class PublishedApp : IAsyncLifetime
{
    public DirectoryInfo Root { get; private set; } = null!;

    public string Log { get; private set; } = "";

    public async Task InitializeAsync()
    {
        Root = Directory.CreateTempSubdirectory("ts-image-");
        var result = await Tool.RunAsync("sh", ["deploy/image/publish.sh", Path.Combine(Root.FullName, "app"), "0.1.0-test"], TimeSpan.FromMinutes(20));
        Log = result.Stdout + result.Stderr;
        Assert.True(result.ExitCode == 0, $"publish.sh failed: {Log}");
    }

    public Task DisposeAsync()
    {
        Root.Delete(recursive: true);
        return Task.CompletedTask;
    }

    public string App(params string[] parts) => Path.Combine([Root.FullName, "app", .. parts]);
}

[Trait("Category", "Integration")]
public sealed class PublishedImageTests(PublishedApp published, ITestOutputHelper output) : IClassFixture<PublishedApp>
{
    private static readonly string[] Workers = ["capture", "detection", "fusion", "mapwriter"];

    [Fact]
    public void Each_process_has_its_own_folder_and_shares_every_identical_file_with_the_CLI_once()
    {
        var cli = new DirectoryInfo(published.App("cli"));
        Assert.True(File.Exists(Path.Combine(cli.FullName, "treescout")), "no CLI apphost");
        long logical = 0;
        long stored = cli.EnumerateFiles().Sum(f => f.Length);
        foreach (var worker in Workers)
        {
            var dir = new DirectoryInfo(published.App(worker));
            var app = Path.GetFileNameWithoutExtension(dir.GetFiles("*.runtimeconfig.json").Single().Name.Replace(".runtimeconfig", "", StringComparison.Ordinal));
            var own = dir.EnumerateFiles().Where(f => f.LinkTarget is null).Select(f => f.Name).Order(StringComparer.Ordinal).ToList();
            Assert.Equal(new[] { app, $"{app}.deps.json", $"{app}.dll", $"{app}.pdb", $"{app}.runtimeconfig.json", "appsettings.json" }.Order(StringComparer.Ordinal), own);
            foreach (var link in dir.EnumerateFiles().Where(f => f.LinkTarget is not null))
            {
                Assert.Equal($"../cli/{link.Name}", link.LinkTarget);
                Assert.True(File.Exists(Path.Combine(cli.FullName, link.Name)), $"{worker}/{link.Name} links to nothing");
            }
            logical += dir.EnumerateFiles().Sum(f => new FileInfo(f.ResolveLinkTarget(true)?.FullName ?? f.FullName).Length);
            stored += dir.EnumerateFiles().Where(f => f.LinkTarget is null).Sum(f => f.Length);
        }
        logical += cli.EnumerateFiles().Sum(f => f.Length);
        output.WriteLine($"published /app: {stored / 1048576.0:F0} MiB stored, {logical / 1048576.0:F0} MiB without sharing (ratio {logical / (double)stored:F2})");
        Assert.True(logical > 2 * stored, "sharing should save most of the size (OpenCV's native library is used by the CLI, capture and detection)");
        Assert.Empty(Directory.EnumerateFiles(published.App(), "onnxruntime*.dll", SearchOption.AllDirectories));
    }

    [Theory]
    [InlineData("capture", "libOpenCvSharpExtern.so")]
    [InlineData("detection", "libOpenCvSharpExtern.so")]
    [InlineData("detection", "libonnxruntime.so")]
    public async Task Native_libraries_are_next_to_the_processes_that_load_them_and_resolve_every_dependency(string process, string library)
    {
        var path = published.App(process, library);
        Assert.True(File.Exists(path), $"{process} has no {library}");
        var ldd = await Tool.OutputAsync("ldd", [path]);
        Assert.DoesNotContain("not found", ldd, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Published_worker_starts_from_its_own_folder_and_the_published_CLI_health_probe_sees_it_ready()
    {
        var vhost = $"ts-deploy-image-{Guid.NewGuid():N}"[..32];
        var admin = new Uri(Environment.GetEnvironmentVariable("TREESCOUT_TEST_AMQP") is { Length: > 0 } u ? u : "amqp://guest:guest@127.0.0.1:5672/");
        var adminUser = Uri.UnescapeDataString(admin.UserInfo.Split(':')[0]);
        await Tool.OutputAsync("rabbitmqctl", ["-q", "add_vhost", vhost]);
        try
        {
            await Tool.OutputAsync("rabbitmqctl", ["-q", "set_permissions", "-p", vhost, adminUser, ".*", ".*", ".*"]);
            var port = WorkerProcess.FreePort();
            var psi = new ProcessStartInfo("sh")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = "/",
            };
            // The image's entrypoint, pointed at the published tree instead of /app.
            var entrypoint = (await File.ReadAllTextAsync(Path.Combine(RepoPaths.Root, "deploy/image/entrypoint.sh"))).Replace("/app/", published.App() + "/", StringComparison.Ordinal);
            var script = Path.Combine(published.Root.FullName, "entrypoint.sh");
            await File.WriteAllTextAsync(script, entrypoint);
            psi.ArgumentList.Add(script);
            psi.ArgumentList.Add("capture");
            psi.Environment["TREESCOUT__Broker__Uri"] = new UriBuilder(admin) { Path = "/" + vhost }.Uri.ToString();
            psi.Environment["TREESCOUT__Health__Port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
            psi.Environment["TREESCOUT__Health__BindAddress"] = "127.0.0.1";
            psi.Environment["TREESCOUT__Logging__Format"] = "json";
            // Capture needs a source; the dev overlay's: the bundled sample (played only when a run starts).
            psi.Environment["TREESCOUT__Capture__Source"] = Path.Combine(RepoPaths.Samples, "betuwe-rtk-2x12");
            using var worker = Process.Start(psi)!;
            var logs = worker.StandardOutput.ReadToEndAsync();
            var errors = worker.StandardError.ReadToEndAsync();
            try
            {
                var ready = false;
                for (var attempt = 0; attempt < 60 && !ready && !worker.HasExited; attempt++)
                {
                    await Task.Delay(500);
                    ready = (await Tool.RunAsync(published.App("cli", "treescout"), ["health", "--url", $"http://127.0.0.1:{port}/readyz"])).ExitCode == 0;
                }
                Assert.True(ready, $"published capture worker never became ready: {(worker.HasExited ? await errors : "")}");
                var notThere = await Tool.RunAsync(published.App("cli", "treescout"), ["health", "--url", $"http://127.0.0.1:{WorkerProcess.FreePort()}/healthz", "--timeout", "1"]);
                Assert.Equal(1, notThere.ExitCode);
                Assert.Contains("unreachable", notThere.Stderr, StringComparison.Ordinal);
            }
            finally
            {
                // SIGTERM, as the kubelet sends it: the entrypoint exec'd the worker, so it receives it directly.
                await Tool.RunAsync("kill", ["-TERM", worker.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                await worker.WaitForExitAsync(cts.Token);
            }
            var log = await logs;
            output.WriteLine(log.Length > 2000 ? log[..2000] : log);
            Assert.Equal(0, worker.ExitCode);
            Assert.Contains($"Content root path: \\\"{published.App("capture")}/\\\"", log, StringComparison.Ordinal);
            Assert.Contains("\"Worker\":\"capture\"", log, StringComparison.Ordinal);
            Assert.Contains("\"Version\":\"0.1.0-test", log, StringComparison.Ordinal);
        }
        finally
        {
            await Tool.RunAsync("rabbitmqctl", ["-q", "delete_vhost", vhost]);
        }
    }
}
