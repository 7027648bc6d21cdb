namespace TreeScout.Cli.Scanning;

/// <summary>
/// OpenCV's native library (frame decoding, resizing) loads lazily, deep inside a worker's handler; on a machine
/// without its system libraries every frame would fail there. Checked once up front, it becomes one actionable line.
/// </summary>
public static class OpenCvCheck
{
    public static void EnsureLoadable()
    {
        try
        {
            _ = OpenCvSharp.Cv2.GetVersionString();
        }
        catch (Exception ex) when (ex is TypeInitializationException or DllNotFoundException or BadImageFormatException)
        {
            var reason = ex is TypeInitializationException { InnerException: { } inner } ? inner.Message : ex.Message;
            throw new CliException($"OpenCV's native library cannot be loaded ({reason.Split('\n')[0].Trim()}); on Debian/Ubuntu install its dependencies: sudo apt-get install libgtk-3-0");
        }
    }
}
