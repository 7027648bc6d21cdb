using System.Text.RegularExpressions;
using TreeScout.Deploy.Tests.Support;
using TreeScout.Tests;

namespace TreeScout.Deploy.Tests;

/// <summary>The Dockerfile, checked offline (no container engine here): structure, pins, user, health check, and the native libraries.</summary>
public partial class ImageTests
{
    private static readonly Lazy<Dockerfile> File_ = new(() => Dockerfile.Parse(File.ReadAllText(Path.Combine(RepoPaths.Root, "Dockerfile"))));

    private static Dockerfile Docker => File_.Value;

    private static int Runtime => Docker.StageCount - 1;

    [Trait("Category", "Unit")]
    [Fact]
    public void Build_and_runtime_are_separate_stages_from_pinned_dotnet_images()
    {
        // build, aspnet, cuda-aspnet (the GPU flavour's base), runtime: from aspnet unless RUNTIME_BASE says otherwise.
        Assert.Equal(4, Docker.StageCount);
        var images = Docker.BaseImages().ToList();
        Assert.Matches(@"^mcr\.microsoft\.com/dotnet/sdk:\d+\.\d+\.\d+-noble$", images[0]);
        Assert.Matches(@"^mcr\.microsoft\.com/dotnet/aspnet:\d+\.\d+\.\d+-noble$", images[1]);
        // Pinned CUDA 12 and cuDNN, on the .NET image's Ubuntu (noble = 24.04).
        Assert.Matches(@"^nvidia/cuda:12\.\d+\.\d+-cudnn-runtime-ubuntu24\.04$", images[2]);
        Assert.Equal("aspnet", images[3]);
        Assert.Equal(("Cpu", "aspnet"), (Docker.GlobalArgs["ORT_FLAVOUR"], Docker.GlobalArgs["RUNTIME_BASE"]));
        // The SDK image's major must be the one global.json asks for.
        var sdk = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(RepoPaths.Root, "global.json")))!["sdk"]!["version"]!.ToString();
        Assert.StartsWith(sdk.Split('.')[0] + ".", images[0].Split(':')[1], StringComparison.Ordinal);
        // Only the build output crosses into the runtime image: no SDK, no sources.
        var runtimeCopies = Docker.InStage(Runtime).Where(i => i.Keyword == "COPY").Select(i => i.Arguments).ToList();
        Assert.Contains(runtimeCopies, c => c.StartsWith("--from=build /out/app/ /app/", StringComparison.Ordinal));
        Assert.DoesNotContain(runtimeCopies, c => c.Contains("src/", StringComparison.Ordinal));
    }

    [Trait("Category", "Unit")]
    [Fact]
    public void Runtime_runs_as_the_numeric_non_root_user_the_manifests_expect_with_a_health_check_and_labels()
    {
        var runtime = Docker.InStage(Runtime).ToList();
        var user = runtime.Last(i => i.Keyword == "USER").Arguments;
        Assert.Equal("1654:1654", user);
        Assert.True(runtime.FindLastIndex(i => i.Keyword == "USER") > runtime.FindLastIndex(i => i.Keyword == "RUN"), "USER must come after the last RUN");

        var health = runtime.Single(i => i.Keyword == "HEALTHCHECK").Arguments;
        Assert.Contains("CMD [\"/app/cli/treescout\", \"health\", \"--url\", \"http://127.0.0.1:8080/healthz\"]", health, StringComparison.Ordinal);
        Assert.Contains("EXPOSE 8080", runtime.Select(i => $"{i.Keyword} {i.Arguments}"));

        var labels = string.Join(' ', runtime.Where(i => i.Keyword == "LABEL").Select(i => i.Arguments));
        Assert.Contains("org.opencontainers.image.version=\"${VERSION}\"", labels, StringComparison.Ordinal);
        Assert.Contains("org.opencontainers.image.revision=\"${REVISION}\"", labels, StringComparison.Ordinal);
        Assert.Equal("[\"/usr/local/bin/treescout-entrypoint\"]", runtime.Single(i => i.Keyword == "ENTRYPOINT").Arguments);
    }

    [Trait("Category", "Unit")]
    [Fact]
    public void Every_file_the_build_copies_from_the_repository_exists_and_is_not_excluded_by_dockerignore()
    {
        var ignored = File.ReadAllLines(Path.Combine(RepoPaths.Root, ".dockerignore")).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
        var sources = Docker.Instructions.Where(i => i.Keyword == "COPY" && !i.Arguments.StartsWith("--from", StringComparison.Ordinal))
            .SelectMany(i => i.Arguments.Split(' ')[..^1]).ToList();
        Assert.Contains("models/", sources);
        // models/ and samples/ are produced by other work (the detector and stage models, the simulator's sample run);
        // the build needs them but this check cannot create them.
        foreach (var source in sources.Where(s => s is not ("models/" or "samples/")))
        {
            Assert.True(File.Exists(Path.Combine(RepoPaths.Root, source)) || Directory.Exists(Path.Combine(RepoPaths.Root, source)), $"COPY {source}: not in the repository");
            Assert.DoesNotContain(ignored, pattern => source.StartsWith(pattern.TrimStart('*', '/'), StringComparison.Ordinal));
        }
        foreach (var excluded in new[] { "**/bin/", "**/obj/", ".git/", "tests/" })
        {
            Assert.Contains(excluded, ignored);
        }
    }

    /// <summary>
    /// The runtime stage installs exactly the packages that provide the shared libraries libOpenCvSharpExtern.so and
    /// libonnxruntime.so link against (readelf NEEDED), minus those the .NET base image has (glibc, libstdc++, libgcc).
    /// Package names are looked up with dpkg on this Debian machine; Ubuntu noble renamed some for the 64-bit time_t
    /// transition (t64 suffix), which is the only difference allowed.
    /// </summary>
    [Trait("Category", "Integration")]
    [Fact]
    public async Task Runtime_installs_exactly_the_packages_providing_what_the_native_libraries_link_against()
    {
        var natives = new[] { "libOpenCvSharpExtern.so", "libonnxruntime.so" }
            .Select(n => Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", n)).ToList();
        Assert.All(natives, n => Assert.True(File.Exists(n), $"{n} not restored"));

        var needed = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var native in natives)
        {
            foreach (Match m in NeededPattern().Matches(await Tool.OutputAsync("readelf", ["-d", native])))
            {
                needed.Add(m.Groups[1].Value);
            }
        }
        var baseImage = new HashSet<string>(StringComparer.Ordinal) { "libc6", "libstdc++6", "libgcc-s1" };
        var required = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var soname in needed)
        {
            var package = await PackageOfAsync(soname);
            if (!baseImage.Contains(package))
            {
                required.Add(package);
            }
        }

        var install = Docker.InStage(Runtime).Single(i => i.Keyword == "RUN" && i.Arguments.Contains("apt-get install", StringComparison.Ordinal)).Arguments;
        Assert.Contains("--no-install-recommends", install, StringComparison.Ordinal);
        var installed = install[(install.IndexOf("--no-install-recommends", StringComparison.Ordinal) + "--no-install-recommends".Length)..]
            .Split("&&")[0].Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => p.EndsWith("t64", StringComparison.Ordinal) ? p[..^3] : p).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(required.ToList(), installed);
        Assert.Contains("libgtk-3-0", installed);
    }

    [Trait("Category", "Unit")]
    [Fact]
    public async Task Entrypoint_refuses_an_unknown_process_with_a_usage_line()
    {
        var result = await Tool.RunAsync("sh", ["deploy/image/entrypoint.sh", "camera"]);
        Assert.Equal(64, result.ExitCode);
        Assert.Contains("capture, detection, fusion, mapwriter, console, central-ingest or cli (got 'camera')", result.Stderr, StringComparison.Ordinal);
        foreach (var process in new[] { "capture", "detection", "fusion", "mapwriter", "console", "central-ingest", "cli" })
        {
            Assert.Contains($"  {process})", await File.ReadAllTextAsync(Path.Combine(RepoPaths.Root, "deploy/image/entrypoint.sh")), StringComparison.Ordinal);
        }
    }

    private static async Task<string> PackageOfAsync(string soname)
    {
        var cache = await Tool.OutputAsync("ldconfig", ["-p"]);
        var path = cache.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith(soname + " ", StringComparison.Ordinal)).Select(l => l[(l.LastIndexOf("=> ", StringComparison.Ordinal) + 3)..]).FirstOrDefault(p => p.Contains("x86_64", StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"{soname} is not installed on this machine (apt-get install the package that provides it)");
        // Debian 12 is merged-/usr: dpkg knows a library under whichever of /lib or /usr/lib its package ships it.
        var resolved = new FileInfo(path).ResolveLinkTarget(true)?.FullName ?? path;
        foreach (var candidate in new[] { path, resolved }.SelectMany(p => new[] { p, p.StartsWith("/usr/", StringComparison.Ordinal) ? p[4..] : "/usr" + p }))
        {
            var result = await Tool.RunAsync("dpkg", ["-S", candidate]);
            if (result.ExitCode == 0)
            {
                return result.Stdout.Split(':')[0].Trim();
            }
        }
        throw new InvalidOperationException($"no Debian package owns {path}");
    }

    [GeneratedRegex(@"\(NEEDED\)\s+Shared library: \[([^\]]+)\]")]
    private static partial Regex NeededPattern();
}
