using Xunit.Abstractions;

namespace TreeScout.Tests;

/// <summary>Programs from Debian packages that tests run (gpsfake, socat): .ci/run installs them.</summary>
public static class DebianTool
{
    /// <summary>
    /// True when <paramref name="path"/> exists. Missing in CI (CI=true) it fails the test, since .ci/run installs the packages;
    /// elsewhere the test is skipped with the apt-get line that installs it.
    /// </summary>
    public static bool IsInstalled(string path, string packages, ITestOutputHelper output)
    {
        if (File.Exists(path))
        {
            return true;
        }
        Assert.False(Environment.GetEnvironmentVariable("CI") == "true", $"{path} not found: CI must install {packages}");
        output.WriteLine($"SKIPPED: {path} not installed (apt-get install {packages})");
        return false;
    }
}
