using System.ComponentModel.DataAnnotations;

namespace TreeScout.Hosting;

public sealed class HealthOptions
{
    public const string Section = "Health";

    /// <summary>Port of /healthz, /readyz and /metrics.</summary>
    [Range(1, 65535)]
    public int Port { get; set; } = 8080;

    /// <summary>Address to bind: 0.0.0.0 in a pod, 127.0.0.1 on a developer machine or in CI.</summary>
    [Required]
    public string BindAddress { get; set; } = "0.0.0.0";
}

public sealed class LoggingFormatOptions
{
    /// <summary>"json" (compact JSON, for containers), "text" (readable), or "auto": JSON when running in a container or with redirected output.</summary>
    [RegularExpression("^(auto|json|text)$")]
    public string Format { get; set; } = "auto";
}
