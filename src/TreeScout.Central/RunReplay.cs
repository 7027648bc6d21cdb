using System.Text.Json;
using Microsoft.Extensions.Logging;
using Npgsql;
using TreeScout.Contracts;
using TreeScout.Hosting;
using TreeScout.MapWriter;
using TreeScout.MapWriter.Prescription;
using TreeScout.Messaging;

namespace TreeScout.Central;

/// <summary>A run cannot be exported from the season store; the message says why.</summary>
public sealed class RunReplayException(string message) : Exception(message);

/// <summary>
/// Rebuilds a run's folder from the season store by handing its stored messages — RunStarted, the observations in the
/// order they were stored, RunFused — to the map writer's own handler, as on the tractor: the folder then holds the same
/// store.gpkg, run.json and exports/ (every format) the tractor's map writer wrote, computed by the same code.
/// </summary>
public static class RunReplay
{
    /// <summary>Observations per replayed message (the map writer stores each message in one transaction).</summary>
    private const int BatchSize = 500;

    /// <summary>Writes run <paramref name="runId"/>'s folder into <paramref name="folder"/> (new or empty); returns the export files.</summary>
    /// <exception cref="RunReplayException">Unknown run, a run not fused yet, or a folder that is not empty.</exception>
    public static async Task<IReadOnlyList<string>> WriteRunFolderAsync(NpgsqlDataSource db, string runId, string folder, VarietyCatalog varieties, ILoggerFactory logs, CancellationToken cancellationToken)
    {
        folder = Path.GetFullPath(folder);
        if (Directory.Exists(folder) && Directory.EnumerateFileSystemEntries(folder).Any())
        {
            throw new RunReplayException($"{folder}: not empty; a run folder holds one run, give a new or empty folder");
        }
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        var (started, fused) = await ReadLifecycleAsync(connection, runId, cancellationToken);

        var options = Microsoft.Extensions.Options.Options.Create(new MapWriterOptions { StoreRoot = folder, LiveUpdateInterval = TimeSpan.MaxValue });
        var folders = new FixedRunFolder(folder);
        var warnings = new WorkerWarnings();
        using var counters = new WorkerCounters();
        var disk = new StoreDiskSpace(folders, options, warnings, counters, TimeProvider.System, logs.CreateLogger<StoreDiskSpace>());
        using var handler = new MapWriterHandler(folders, varieties, options, counters, warnings, new ActiveRun(), disk, TimeProvider.System, logs.CreateLogger<MapWriterHandler>());
        var published = new PublishedMessages();
        var context = new MessageContext(Topology.MapWriterObservationsQueue, published);

        await handler.HandleAsync(started, context, cancellationToken);
        await using (var cmd = new NpgsqlCommand("SELECT observation::text FROM observations WHERE run_id = @r ORDER BY seq", connection))
        {
            cmd.Parameters.AddWithValue("r", runId);
            await using var reader = await cmd.ExecuteReaderAsync(cancellationToken);
            var batch = new List<BlossomClusterObservation>(BatchSize);
            var sequence = 0;
            while (true)
            {
                var more = await reader.ReadAsync(cancellationToken);
                if (more)
                {
                    batch.Add(JsonSerializer.Deserialize(reader.GetString(0), ContractsJsonContext.Default.BlossomClusterObservation)!);
                }
                if (batch.Count == BatchSize || (!more && batch.Count > 0))
                {
                    var message = new TreeObservations { MessageId = MessageIds.For(runId, "central-replay", sequence++), RunId = runId, Observations = [.. batch] };
                    await handler.HandleAsync(message, context, cancellationToken);
                    batch.Clear();
                }
                if (!more)
                {
                    break;
                }
            }
        }
        await handler.HandleAsync(fused, context, cancellationToken);
        return published.OfType<MapUpdated>().Last(m => m.Final).Exports;
    }

    private static async Task<(RunStarted Started, RunFused Fused)> ReadLifecycleAsync(NpgsqlConnection connection, string runId, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand("SELECT run_started::text, run_fused::text FROM runs WHERE run_id = @r", connection);
        cmd.Parameters.AddWithValue("r", runId);
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        if (!await r.ReadAsync(cancellationToken))
        {
            throw new RunReplayException($"run {runId}: not in the season store");
        }
        if (r.IsDBNull(0))
        {
            throw new RunReplayException($"run {runId}: its RunStarted has not arrived yet (block, variety and plan unknown); export it once it has");
        }
        if (r.IsDBNull(1))
        {
            throw new RunReplayException($"run {runId}: not finished yet (no RunFused has arrived); its final map is exported once it has");
        }
        return (JsonSerializer.Deserialize(r.GetString(0), ContractsJsonContext.Default.RunStarted)!,
            JsonSerializer.Deserialize(r.GetString(1), ContractsJsonContext.Default.RunFused)!);
    }
}
