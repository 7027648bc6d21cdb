using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TreeScout.Contracts;
using TreeScout.Fusion.Nmea;
using TreeScout.Hosting;
using TreeScout.Messaging;

namespace TreeScout.Fusion.Gnss;

/// <summary>
/// The fusion worker's GNSS reader: reads the configured receiver (serial, TCP, gpsd, file), reconnects with backoff,
/// counts malformed NMEA, and publishes each fix as <see cref="GnssFix"/> for the active run (id from the fix time, so a
/// restarted reader republishes the same ids). Warns operators when fixes stop or degrade.
/// </summary>
public sealed class GnssReaderService(
    IOptions<GnssOptions> options,
    GnssRunTagger tagger,
    IMessageBus bus,
    WorkerCounters counters,
    WorkerWarnings warnings,
    WorkerGnssStatus gnssStatus,
    TimeProvider clock,
    ILogger<GnssReaderService> logger) : BackgroundService
{
    private long _lastFixTimestamp;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        if (GnssSources.Create(settings, clock) is not { } source)
        {
            logger.LogInformation("No GNSS receiver configured (Gnss:Source None): fixes come from replays");
            return;
        }
        _lastFixTimestamp = clock.GetTimestamp();
        using var watchdog = new PeriodicTimer(TimeSpan.FromSeconds(1), clock);
        var watching = WatchAsync(watchdog, settings, source, stoppingToken);
        var delay = TimeSpan.FromMilliseconds(500);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                logger.LogInformation("Reading GNSS from {Source}", source.Description);
                await foreach (var fix in source.ReadAsync(Rejected, stoppingToken))
                {
                    delay = TimeSpan.FromMilliseconds(500);
                    await OnFixAsync(fix, settings, stoppingToken);
                }
                logger.LogWarning("GNSS source {Source} closed the connection; reconnecting", source.Description);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or UnauthorizedAccessException or InvalidOperationException or TimeoutException)
            {
                warnings.Raise("gnss-source", $"GNSS source {source.Description} unavailable: {ex.Message}");
                logger.LogWarning("GNSS source {Source} failed ({Reason}); retrying in {Delay}s", source.Description, ex.Message, delay.TotalSeconds);
            }
            try
            {
                await Task.Delay(delay, clock, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            delay = TimeSpan.FromTicks(Math.Min(settings.MaxReconnectDelay.Ticks, delay.Ticks * 2));
        }
        await watching;
    }

    private void Rejected(NmeaRejectReason reason)
    {
        counters.Add($"nmea_rejected_{NmeaRejectReasons.Label(reason)}");
        if (NmeaRejectReasons.IsMalformed(reason))
        {
            counters.Add("nmea_malformed");
        }
    }

    private async Task OnFixAsync(ReceiverFix fix, GnssOptions settings, CancellationToken cancellationToken)
    {
        Interlocked.Exchange(ref _lastFixTimestamp, clock.GetTimestamp());
        warnings.Clear("gnss-source");
        if (fix.DateFromHostClock)
        {
            // Not wrong (the time of day is the receiver's), but a host clock set to the wrong day would misdate the run.
            warnings.Raise("gnss-date", "the GNSS receiver sends no RMC/ZDA: fix dates are taken from the host clock");
        }
        else if (fix.TimeUtc is not null)
        {
            warnings.Clear("gnss-date");
        }
        gnssStatus.Latest = fix.Quality;
        if (fix.TimeUtc is null)
        {
            counters.Add("gnss_fixes_undated");
            return;
        }
        foreach (var (runId, f) in tagger.Accept(fix, clock.GetUtcNow()))
        {
            // The fix time in milliseconds is the sequence: deterministic across reader restarts.
            var message = GnssFixes.ToMessage(f, runId, f.TimeUtc!.Value.ToUnixTimeMilliseconds(), settings.Sigma)!;
            try
            {
                await bus.PublishAsync(message, cancellationToken);
                counters.Add("gnss_fixes_published");
            }
            catch (PublishRejectedException ex)
            {
                counters.Add("gnss_fixes_unpublished");
                logger.LogWarning("GNSS fix {Time:O} for run {RunId} not published: {Reason}", f.TimeUtc, runId, ex.Message);
            }
        }
    }

    private async Task WatchAsync(PeriodicTimer timer, GnssOptions settings, IGnssSource source, CancellationToken stoppingToken)
    {
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                var silent = clock.GetElapsedTime(Interlocked.Read(ref _lastFixTimestamp));
                if (tagger.CurrentRun is not null && silent > settings.StaleAfter)
                {
                    if (warnings.Raise("gnss-stale", $"no GNSS fix for {silent.TotalSeconds:F0} s from {source.Description}: frames are held until fixes return"))
                    {
                        logger.LogWarning("No GNSS fix for {Seconds:F0} s from {Source}", silent.TotalSeconds, source.Description);
                    }
                }
                else
                {
                    warnings.Clear("gnss-stale");
                }
                if (gnssStatus.Latest is { } q && GnssFixes.Rank(q) < GnssFixes.Rank(GnssQuality.RtkFloat))
                {
                    warnings.Raise("gnss-quality", $"GNSS fix quality is {GnssFixes.Label(q)}: tree attribution needs RTK; observations are flagged low-confidence");
                }
                else
                {
                    warnings.Clear("gnss-quality");
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Shutting down.
        }
    }
}
