using System.Globalization;
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

    /// <summary>
    /// The value of the Prometheus text-format sample named <paramref name="name"/> whose labels contain every one of
    /// <paramref name="labels"/> (e.g. <c>queue="treescout.central.ingest"</c>); throws with the exposition when there is none.
    /// </summary>
    public static double MetricValue(string exposition, string name, params string[] labels)
    {
        var sample = exposition.Split('\n').FirstOrDefault(l =>
            (l.StartsWith(name + " ", StringComparison.Ordinal) || l.StartsWith(name + "{", StringComparison.Ordinal))
            && labels.All(label => l.Contains(label, StringComparison.Ordinal)));
        return sample is null
            ? throw new InvalidOperationException($"{name}{(labels.Length == 0 ? "" : "{" + string.Join(",", labels) + "}")} not in /metrics:\n{exposition}")
            : double.Parse(sample[(sample.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
    }
}
