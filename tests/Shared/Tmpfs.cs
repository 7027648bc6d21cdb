using Xunit;

namespace TreeScout.Tests;

/// <summary>
/// A small tmpfs mounted for one test: a filesystem that really runs full, filled and freed on demand, unmounted on
/// dispose. Mounting needs root (CI runs as root).
/// </summary>
public sealed class Tmpfs : IDisposable
{
    /// <summary>Why a test that mounts a tmpfs cannot run here, or null. In CI it always runs (and fails if it cannot mount).</summary>
    public static string? Unavailable =>
        Environment.IsPrivilegedProcess || !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI"))
            ? null
            : "mounts a tmpfs to fill it, which needs root (CI runs it as root)";

    private readonly string _filler;

    public Tmpfs(long sizeBytes)
    {
        Path = Directory.CreateTempSubdirectory("treescout-tmpfs-").FullName;
        Run("mount", "-t", "tmpfs", "-o", $"size={sizeBytes}", "tmpfs", Path);
        _filler = System.IO.Path.Combine(Path, "filler.bin");
    }

    public string Path { get; }

    public long FreeBytes => new DriveInfo(Path).AvailableFreeSpace;

    /// <summary>Writes a filler file until at most <paramref name="leaveBytes"/> are free (0: until the filesystem refuses).</summary>
    public void Fill(long leaveBytes = 0)
    {
        using var file = new FileStream(_filler, FileMode.Append, FileAccess.Write, FileShare.Read, 1 << 16);
        var block = new byte[1 << 16];
        try
        {
            while (FreeBytes > leaveBytes)
            {
                file.Write(block, 0, (int)Math.Min(block.Length, Math.Max(4096, FreeBytes - leaveBytes)));
                file.Flush();
            }
        }
        catch (IOException) when (leaveBytes == 0)
        {
            // Full: what was asked for.
        }
    }

    /// <summary>Removes the filler: the space comes back.</summary>
    public void Free() => File.Delete(_filler);

    public void Dispose()
    {
        // Lazy: a file a failed test still holds open must not leave the mount behind.
        Run("umount", "-l", Path);
        Directory.Delete(Path);
    }

    private static void Run(string tool, params string[] args)
    {
        var result = Tool.RunAsync(tool, args, TimeSpan.FromSeconds(30)).GetAwaiter().GetResult();
        Assert.True(result.ExitCode == 0, $"{tool} {string.Join(' ', args)}: exit {result.ExitCode}: {result.Stderr.Trim()}");
    }
}

/// <summary>A [Fact] that mounts a <see cref="Tmpfs"/>: skipped, saying why, only outside CI and without root.</summary>
public sealed class TmpfsFactAttribute : FactAttribute
{
    public TmpfsFactAttribute() => Skip = Tmpfs.Unavailable;
}

/// <summary>A [Theory] that mounts a <see cref="Tmpfs"/>: skipped, saying why, only outside CI and without root.</summary>
public sealed class TmpfsTheoryAttribute : TheoryAttribute
{
    public TmpfsTheoryAttribute() => Skip = Tmpfs.Unavailable;
}
