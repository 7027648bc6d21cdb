using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Npgsql;
using TreeScout.Hosting;
using TreeScout.Messaging;

namespace TreeScout.Central;

/// <summary>
/// The season store as /readyz sees it: migrated once at start (retried every 1–10 s while PostgreSQL is away, so an
/// outage is waited out, not a crash), then reachable at each probe. Not ready says what it waits for
/// ("waiting for PostgreSQL at db:5432/treescout (Connection refused), 12 s so far"); the password is never in it.
/// </summary>
public sealed class SeasonStoreReadiness(NpgsqlDataSource db, TimeProvider clock, ILogger<SeasonStoreReadiness> logger) : IHealthCheck
{
    public const string DataKey = "seasonStore";

    /// <summary>A probe that takes longer counts as unreachable: the kubelet's readiness timeout is 3 s.</summary>
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(2);

    private readonly TaskCompletionSource _migrated = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly string _target = Target(db.ConnectionString);
    private volatile BrokerOutage? _outage;

    private volatile string _pending = $"migrating the season store at {Target(db.ConnectionString)}";

    /// <summary>Completes once the schema is migrated: the ingest takes no delivery before.</summary>
    public Task Migrated => _migrated.Task;

    /// <summary>Creates or completes the schema (<see cref="SeasonSchema.MigrateAsync"/>), waiting out PostgreSQL being unreachable.</summary>
    public Task MigrateAsync(CancellationToken cancellationToken) => UntilAsync(() => SeasonSchema.MigrateAsync(db, cancellationToken), IsUnavailable, cancellationToken);

    /// <summary>
    /// For a reader that may not write (the central console): waits, writing nothing, until the schema the ingest worker
    /// creates is there (<see cref="SeasonSchema.CheckAsync"/>), waiting out PostgreSQL being unreachable too, and a
    /// refusal (wrong password, no permission): not ready with the reason until ops fix it, not a crash loop.
    /// </summary>
    public Task WaitForSchemaAsync(CancellationToken cancellationToken)
    {
        _pending = $"waiting for the season store's schema at {_target} (the central ingest worker creates it)";
        return UntilAsync(() => SeasonSchema.CheckAsync(db, cancellationToken),
            ex => IsUnavailable(ex) || ex is SeasonSchemaMissingException or PostgresException, cancellationToken);
    }

    /// <summary>
    /// PostgreSQL unreachable, or no answer in time: waited out, never a crash. Npgsql's own judgement: connection
    /// failures, server shutting down or out of resources, deadlocks.
    /// </summary>
    public static bool IsUnavailable(Exception ex) => ex is NpgsqlException { IsTransient: true } or TimeoutException;

    private async Task UntilAsync(Func<Task> attempt, Func<Exception, bool> waitOut, CancellationToken cancellationToken)
    {
        var delay = TimeSpan.FromSeconds(1);
        while (true)
        {
            try
            {
                await attempt();
                _outage = null;
                _migrated.TrySetResult();
                return;
            }
            catch (Exception ex) when (waitOut(ex) && !cancellationToken.IsCancellationRequested)
            {
                Unreachable(ex.GetBaseException().Message);
                logger.LogWarning("Season store unavailable ({Reason}); trying again in {Seconds} s", ex.GetBaseException().Message, delay.TotalSeconds);
                await Task.Delay(delay, clock, cancellationToken);
                delay = TimeSpan.FromSeconds(Math.Min(10, delay.TotalSeconds * 2));
            }
        }
    }

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (_migrated.Task.IsCompleted)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(ProbeTimeout);
            try
            {
                await using var probe = db.CreateCommand("SELECT 1");
                await probe.ExecuteScalarAsync(timeout.Token);
                _outage = null;
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                Unreachable($"no answer within {ProbeTimeout.TotalSeconds:0} s");
            }
            catch (Exception ex) when (IsUnavailable(ex))
            {
                Unreachable(ex.GetBaseException().Message);
            }
        }
        var ready = _migrated.Task.IsCompleted && _outage is null;
        var state = _outage is { } outage ? outage.WaitingLine(outage.Lasted(clock.GetUtcNow()), "PostgreSQL")
            : ready ? "ready" : _pending;
        return WorkerHealth.Readiness(context, ready, DataKey, state);
    }

    // The outage began with the first failure; later failures only say why.
    private void Unreachable(string reason) =>
        _outage = _outage is { } outage ? outage with { Reason = reason } : new BrokerOutage(_target, reason, clock.GetUtcNow());

    /// <summary>host:port/database: where the store is, without the credentials.</summary>
    public static string Target(string connectionString)
    {
        var cs = new NpgsqlConnectionStringBuilder(connectionString);
        return $"{cs.Host}:{cs.Port}/{cs.Database}";
    }
}
