using Microsoft.Extensions.Options;

namespace TreeScout.Detection;

/// <summary>
/// Start-time check that OpenCV's native library loads. It loads lazily, inside the frame handler: without its system
/// libraries every frame would fail there and be dead-lettered; checked at start it is one actionable line and no start.
/// </summary>
public sealed class OpenCvValidation : IValidateOptions<DetectionOptions>
{
    public ValidateOptionsResult Validate(string? name, DetectionOptions options)
    {
        try
        {
            _ = OpenCvSharp.Cv2.GetVersionString();
            return ValidateOptionsResult.Success;
        }
        catch (Exception ex) when (ex is TypeInitializationException or DllNotFoundException or BadImageFormatException)
        {
            var reason = ex is TypeInitializationException { InnerException: { } inner } ? inner.Message : ex.Message;
            return ValidateOptionsResult.Fail(
                $"Detection: OpenCV's native library cannot be loaded ({reason.Split('\n')[0].Trim()}); on Debian/Ubuntu install its dependencies: apt-get install libgtk-3-0");
        }
    }
}
