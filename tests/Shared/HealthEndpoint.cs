using System.Net;

namespace TreeScout.Tests;

/// <summary>A worker's health endpoints (/healthz, /readyz, /metrics) on 127.0.0.1, as the kubelet probes them.</summary>
public static class HealthEndpoint
{
    public static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };

    public static Uri Url(int port, string path) => new($"http://127.0.0.1:{port}{path}");

    /// <summary>Polls until <paramref name="path"/> answers <paramref name="status"/>; throws naming what did not happen in time.</summary>
    public static async Task WaitForStatusAsync(int port, string path, HttpStatusCode status, TimeSpan patience)
    {
        var deadline = DateTime.UtcNow + patience;
        while (true)
        {
            try
            {
                if ((await Http.GetAsync(Url(port, path))).StatusCode == status)
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                // Not listening yet, or slow to answer while starting.
            }
            if (DateTime.UtcNow >= deadline)
            {
                throw new TimeoutException($"{path} on port {port} did not answer {(int)status} {status} within {patience.TotalSeconds:0}s");
            }
            await Task.Delay(100);
        }
    }
}
