using System.Text.Json;
using Npgsql;
using TreeScout.Contracts;

namespace TreeScout.Central;

/// <summary>A run as the season view lists it (one row of the runs table).</summary>
public sealed record SeasonRun(
    string RunId,
    string Block,
    string TractorId,
    string? Variety,
    DateTimeOffset? StartedAt,
    DateTimeOffset? StoppedAt,
    DateTimeOffset? FusedAt,
    DateTimeOffset? InterruptedAt,
    long Observations,
    long? ObservationsPublished,
    string? FarmId = null,
    int Season = 0)
{
    /// <summary>complete (fused), stopped, interrupted or running: how far the run had come when its messages arrived.</summary>
    public string Status =>
        FusedAt is not null ? "complete" : StoppedAt is not null ? "stopped" : InterruptedAt is not null ? "interrupted" : "running";
}

/// <summary>A block's latest run in a season: its counts and bloom stage.</summary>
/// <param name="MeanClustersPerTree">Confident clusters per tree, over every tree of the run (trees without clusters count).</param>
/// <param name="DominantStage">The stage with most confident clusters over the block (the earlier stage on a tie); null without clusters.</param>
public sealed record BlockSeason(
    SeasonRun Run,
    int Trees,
    int TreesWithClusters,
    long Clusters,
    double MeanClustersPerTree,
    BbchStage? DominantStage,
    IReadOnlyList<long> ClustersPerStage)
{
    /// <summary>Summarizes a run from its trees' stored values (clusters_total and clusters per stage, in BBCH order).</summary>
    public static BlockSeason Of(SeasonRun run, IReadOnlyCollection<(int Clusters, IReadOnlyList<int> PerStage)> trees)
    {
        var perStage = new long[BbchStages.Count];
        foreach (var (_, stages) in trees)
        {
            for (var i = 0; i < perStage.Length; i++)
            {
                perStage[i] += stages[i];
            }
        }
        var clusters = trees.Sum(t => (long)t.Clusters);
        var top = perStage.Max();
        return new BlockSeason(
            run,
            trees.Count,
            trees.Count(t => t.Clusters > 0),
            clusters,
            trees.Count == 0 ? 0 : (double)clusters / trees.Count,
            top == 0 ? null : BbchStages.Ordered[Array.IndexOf(perStage, top)],
            perStage);
    }
}

/// <summary>Which runs of the season store a listing shows; null: any.</summary>
public sealed record SeasonFilter(string? FarmId = null, string? TractorId = null, string? Block = null, int? Season = null);

/// <summary>A tractor of the registry (or one that sent runs before it was registered: no farm) and how many runs it sent.</summary>
public sealed record SeasonTractor(string TractorId, string? FarmId, int Runs, DateTimeOffset? LastRunAt);

/// <summary>A run's row as the console's run page needs it: the listing's run and its stored lifecycle messages (null until they arrive).</summary>
public sealed record StoredSeasonRun(SeasonRun Run, RunStarted? Started, RunFused? Fused);

/// <summary>
/// The season view and the other read-only queries on the season store (the `treescout central season` command and the
/// console's central mode): every block of a farm with its latest run of the season, runs by farm, tractor, block and
/// season, the tractors, one run with its lifecycle. Reads only; nothing here writes or migrates.
/// </summary>
public static class SeasonView
{
    /// <summary>The most runs one listing returns, newest first: a season page, not an archive dump.</summary>
    public const int ListLimit = 500;

    private const string RunColumns = """
        r.run_id, r.block, r.tractor_id, r.variety, r.started_at, r.stopped_at, r.fused_at, r.interrupted_at,
        (SELECT count(*) FROM observations o WHERE o.run_id = r.run_id), r.observations_published, r.farm_id, r.season
        """;

    /// <summary>Blocks in name order. Runs whose RunStarted has not arrived have no block yet and are not listed.</summary>
    public static async Task<IReadOnlyList<BlockSeason>> ReadAsync(NpgsqlDataSource db, string farmId, int season, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        var runs = await RunsAsync(connection, $"""
            SELECT DISTINCT ON (r.block) {RunColumns}
            FROM runs r
            WHERE r.farm_id = @f AND r.season = @s AND r.block IS NOT NULL
            ORDER BY r.block, r.started_at DESC, r.run_id DESC
            """, cancellationToken, ("f", farmId), ("s", season));
        return await SummarizeAsync(connection, runs, cancellationToken);
    }

    /// <summary>
    /// The runs <paramref name="filter"/> selects, newest first (at most <see cref="ListLimit"/>), each summarized as the
    /// season view summarizes a block's latest run. Runs without a block (RunStarted not arrived) are not listed.
    /// </summary>
    public static async Task<IReadOnlyList<BlockSeason>> ListRunsAsync(NpgsqlDataSource db, SeasonFilter filter, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        var runs = await RunsAsync(connection, $"""
            SELECT {RunColumns}
            FROM runs r
            WHERE r.block IS NOT NULL AND (@f::text IS NULL OR r.farm_id = @f) AND (@t::text IS NULL OR r.tractor_id = @t)
              AND (@b::text IS NULL OR r.block = @b) AND (@s::int IS NULL OR r.season = @s)
            ORDER BY r.started_at DESC NULLS LAST, r.run_id DESC
            LIMIT {ListLimit}
            """, cancellationToken, ("f", (object?)filter.FarmId ?? DBNull.Value), ("t", (object?)filter.TractorId ?? DBNull.Value),
            ("b", (object?)filter.Block ?? DBNull.Value), ("s", (object?)filter.Season ?? DBNull.Value));
        return await SummarizeAsync(connection, runs, cancellationToken);
    }

    /// <summary>One run with its stored RunStarted and RunFused; null when the store does not have it.</summary>
    public static async Task<StoredSeasonRun?> FindAsync(NpgsqlDataSource db, string runId, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        var run = (await RunsAsync(connection, $"SELECT {RunColumns} FROM runs r WHERE r.run_id = @r AND r.block IS NOT NULL", cancellationToken, ("r", runId))).SingleOrDefault();
        if (run is null)
        {
            return null;
        }
        await using var cmd = new NpgsqlCommand("SELECT run_started::text, run_fused::text FROM runs WHERE run_id = @r", connection);
        cmd.Parameters.AddWithValue("r", runId);
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        await r.ReadAsync(cancellationToken);
        return new StoredSeasonRun(run,
            r.IsDBNull(0) ? null : JsonSerializer.Deserialize(r.GetString(0), ContractsJsonContext.Default.RunStarted),
            r.IsDBNull(1) ? null : JsonSerializer.Deserialize(r.GetString(1), ContractsJsonContext.Default.RunFused));
    }

    /// <summary>Every tractor that is registered or sent a run, with its farm and runs, by tractor id.</summary>
    public static async Task<IReadOnlyList<SeasonTractor>> TractorsAsync(NpgsqlDataSource db, CancellationToken cancellationToken)
    {
        await using var cmd = db.CreateCommand("""
            SELECT t.tractor_id, coalesce(reg.farm_id, (SELECT r.farm_id FROM runs r WHERE r.tractor_id = t.tractor_id AND r.farm_id IS NOT NULL LIMIT 1)),
                   (SELECT count(*) FROM runs r WHERE r.tractor_id = t.tractor_id AND r.block IS NOT NULL),
                   (SELECT max(r.started_at) FROM runs r WHERE r.tractor_id = t.tractor_id)
            FROM (SELECT tractor_id FROM tractors UNION SELECT tractor_id FROM runs) t
            LEFT JOIN tractors reg ON reg.tractor_id = t.tractor_id
            ORDER BY t.tractor_id
            """);
        var tractors = new List<SeasonTractor>();
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        while (await r.ReadAsync(cancellationToken))
        {
            tractors.Add(new SeasonTractor(r.GetString(0), r.IsDBNull(1) ? null : r.GetString(1), (int)r.GetInt64(2), Time(r, 3)));
        }
        return tractors;
    }

    /// <summary>The seasons that have runs, newest first.</summary>
    public static async Task<IReadOnlyList<int>> SeasonsAsync(NpgsqlDataSource db, CancellationToken cancellationToken)
    {
        await using var cmd = db.CreateCommand("SELECT DISTINCT season FROM runs ORDER BY season DESC");
        var seasons = new List<int>();
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        while (await r.ReadAsync(cancellationToken))
        {
            seasons.Add(r.GetInt32(0));
        }
        return seasons;
    }

    private static async Task<List<SeasonRun>> RunsAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken, params (string Name, object Value)[] parameters)
    {
        await using var cmd = new NpgsqlCommand(sql, connection);
        foreach (var (name, value) in parameters)
        {
            cmd.Parameters.AddWithValue(name, value);
        }
        var runs = new List<SeasonRun>();
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        while (await r.ReadAsync(cancellationToken))
        {
            runs.Add(new SeasonRun(r.GetString(0), r.GetString(1), r.GetString(2), r.IsDBNull(3) ? null : r.GetString(3),
                Time(r, 4), Time(r, 5), Time(r, 6), Time(r, 7), r.GetInt64(8), r.IsDBNull(9) ? null : r.GetInt64(9),
                r.IsDBNull(10) ? null : r.GetString(10), r.GetInt32(11)));
        }
        return runs;
    }

    /// <summary>Each run summarized from its trees' stored values (<see cref="BlockSeason.Of"/>).</summary>
    private static async Task<IReadOnlyList<BlockSeason>> SummarizeAsync(NpgsqlConnection connection, List<SeasonRun> runs, CancellationToken cancellationToken)
    {
        var trees = runs.ToDictionary(r => r.RunId, _ => new List<(int, IReadOnlyList<int>)>(), StringComparer.Ordinal);
        await using (var cmd = new NpgsqlCommand("SELECT run_id, clusters_total, clusters_per_stage FROM trees WHERE run_id = ANY(@runs)", connection))
        {
            cmd.Parameters.AddWithValue("runs", trees.Keys.ToArray());
            await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
            while (await r.ReadAsync(cancellationToken))
            {
                trees[r.GetString(0)].Add((r.GetInt32(1), r.GetFieldValue<int[]>(2)));
            }
        }
        return runs.Select(run => BlockSeason.Of(run, trees[run.RunId])).ToList();
    }

    private static DateTimeOffset? Time(NpgsqlDataReader r, int i) => r.IsDBNull(i) ? null : r.GetFieldValue<DateTimeOffset>(i);
}
