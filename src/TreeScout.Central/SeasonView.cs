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
    long? ObservationsPublished)
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

/// <summary>The season view: every block of a farm with its latest run (by start) of the season.</summary>
public static class SeasonView
{
    /// <summary>Blocks in name order. Runs whose RunStarted has not arrived have no block yet and are not listed.</summary>
    public static async Task<IReadOnlyList<BlockSeason>> ReadAsync(NpgsqlDataSource db, string farmId, int season, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        var runs = new List<SeasonRun>();
        await using (var cmd = new NpgsqlCommand("""
            SELECT DISTINCT ON (r.block) r.run_id, r.block, r.tractor_id, r.variety, r.started_at, r.stopped_at, r.fused_at, r.interrupted_at,
                   (SELECT count(*) FROM observations o WHERE o.run_id = r.run_id), r.observations_published
            FROM runs r
            WHERE r.farm_id = @f AND r.season = @s AND r.block IS NOT NULL
            ORDER BY r.block, r.started_at DESC, r.run_id DESC
            """, connection))
        {
            cmd.Parameters.AddWithValue("f", farmId);
            cmd.Parameters.AddWithValue("s", season);
            await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
            while (await r.ReadAsync(cancellationToken))
            {
                runs.Add(new SeasonRun(r.GetString(0), r.GetString(1), r.GetString(2), r.IsDBNull(3) ? null : r.GetString(3),
                    Time(r, 4), Time(r, 5), Time(r, 6), Time(r, 7), r.GetInt64(8), r.IsDBNull(9) ? null : r.GetInt64(9)));
            }
        }
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
