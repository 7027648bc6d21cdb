using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TreeScout.Hosting;
using TreeScout.Messaging;
using TreeScout.Orchard;

namespace TreeScout.Fusion.Gnss;

/// <summary>
/// <c>Gnss:Source Recording</c>: the GNSS half of a recording replayed by the workers (the dev overlay, where Capture
/// replays the same recording's frames). Every run fusion starts gets the recording's fixes from <see cref="NmeaReplay"/>,
/// the reader `treescout scan` uses: receive times from gnss-times.csv, on the host clock frames.csv's capture times are
/// on, so frames and fixes keep the recording's time base on both paths and the clock offset is the recorded one. The
/// fixes go out at once when the run starts: fusion's result does not depend on how fixes and frames interleave
/// (FusionDeterminismTests), and frames then never wait for one. Ids are the scan's (<c>"fix"</c>/n), so a fusion
/// restart that begins the run again republishes the same messages and fusion drops the duplicates.
/// </summary>
public sealed class GnssRecordingReplayService(
    IOptions<GnssOptions> options,
    GnssRunTagger tagger,
    IMessageBus bus,
    WorkerCounters counters,
    WorkerWarnings warnings,
    WorkerGnssStatus gnssStatus,
    ILogger<GnssRecordingReplayService> logger) : BackgroundService
{
    private readonly GnssOptions _settings = options.Value;

    // Subscribed when constructed: the host builds every hosted service before the bus delivers a RunStarted.
    private readonly Channel<string> _runs = RunsBeginningIn(tagger, options.Value.Source == GnssSourceKind.Recording);

    private static Channel<string> RunsBeginningIn(GnssRunTagger tagger, bool replaying)
    {
        var runs = Channel.CreateUnbounded<string>();
        if (replaying)
        {
            tagger.RunBegan += runId => runs.Writer.TryWrite(runId);
        }
        return runs;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_settings.Source != GnssSourceKind.Recording)
        {
            return;
        }
        var recording = new Recording(_settings.Recording!);
        logger.LogInformation("GNSS: each run gets the fixes of recording {Recording}", recording.Directory);
        try
        {
            await foreach (var runId in _runs.Reader.ReadAllAsync(stoppingToken))
            {
                await ReplayAsync(recording, runId, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down; an interrupted run gets its fixes again when fusion restarts it.
        }
    }

    private async Task ReplayAsync(Recording recording, string runId, CancellationToken cancellationToken)
    {
        IReadOnlyList<Contracts.GnssFix> fixes;
        NmeaReplayResult result;
        try
        {
            (fixes, result) = NmeaReplay.Read(recording, runId, _settings.Sigma);
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            warnings.Raise("gnss-source", $"GNSS recording {recording.Directory} unreadable, run {runId} gets no fixes: {ex.Message}");
            logger.LogError("Run {RunId}: GNSS recording {Recording} unreadable: {Reason}", runId, recording.Directory, ex.Message);
            return;
        }
        warnings.Clear("gnss-source");
        foreach (var (label, count) in result.RejectedByReason)
        {
            counters.Add($"nmea_rejected_{label}", count);
        }
        counters.Add("nmea_malformed", result.MalformedLines);
        foreach (var fix in fixes)
        {
            await GnssFixes.PublishAsync(bus, fix, counters, logger, cancellationToken);
        }
        if (fixes.Count > 0)
        {
            gnssStatus.Latest = fixes[^1].Quality;
        }
        logger.LogInformation("Run {RunId}: {Summary}", runId, result.Summary());
    }
}
