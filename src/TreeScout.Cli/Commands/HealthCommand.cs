using System.CommandLine;

namespace TreeScout.Cli.Commands;

/// <summary>
/// `treescout health`: probes a worker's /healthz (or /readyz). The container image's HEALTHCHECK uses it, so the
/// runtime image needs no curl or wget.
/// </summary>
public static class HealthCommand
{
    public static Command Create()
    {
        var url = new Option<string>("--url") { Description = "Endpoint to probe.", DefaultValueFactory = _ => "http://127.0.0.1:8080/healthz" };
        var timeout = new Option<double>("--timeout") { Description = "Seconds to wait for the answer.", DefaultValueFactory = _ => 3 };
        var command = new Command("health", "Probe a worker's health endpoint: exit 0 on HTTP 2xx, 1 otherwise (one line on stderr).") { url, timeout };
        command.SetAction(async (parse, ct) =>
        {
            if (!Uri.TryCreate(parse.GetValue(url), UriKind.Absolute, out var endpoint) || endpoint.Scheme is not ("http" or "https"))
            {
                throw new CliException($"--url '{parse.GetValue(url)}' is not an absolute http:// or https:// URL", Cli.UsageError);
            }
            var seconds = parse.GetValue(timeout);
            if (seconds is <= 0 or > 300)
            {
                throw new CliException($"--timeout {seconds} is outside (0, 300] seconds", Cli.UsageError);
            }
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(seconds) };
            try
            {
                using var response = await http.GetAsync(endpoint, ct);
                if (!response.IsSuccessStatusCode)
                {
                    throw new CliException($"{endpoint} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(ct)}");
                }
                return 0;
            }
            catch (HttpRequestException ex)
            {
                throw new CliException($"{endpoint} unreachable: {ex.Message}", ex);
            }
            catch (TaskCanceledException ex) when (!ct.IsCancellationRequested)
            {
                throw new CliException($"{endpoint} did not answer within {seconds}s", ex);
            }
        });
        return command;
    }
}
