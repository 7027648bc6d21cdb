using System.Text.Json;
using NetTopologySuite.Geometries;
using Npgsql;
using NpgsqlTypes;
using TreeScout.Contracts;
using TreeScout.MapWriter;
using TreeScout.MapWriter.Prescription;
using TreeScout.MapWriter.Store;
using TreeScout.Messaging;
using TreeScout.Orchard;

namespace TreeScout.Central;

/// <summary>What one message changed in the season store.</summary>
public sealed record IngestOutcome(int ObservationsInserted, int ObservationsDuplicate, int TreesUpdated, int ObservationsCorrected = 0)
{
    /// <summary>A message the season store acknowledges without keeping anything of it.</summary>
    public static readonly IngestOutcome NothingKept = new(0, 0, 0);
}

/// <summary>
/// The central season store on PostgreSQL + PostGIS: each method is one transaction, idempotent, so a message
/// redelivered after a crash or a duplicate from the uplink changes nothing. A tree's values are computed by the map
/// writer's own <see cref="TreeAggregate.Of"/> from the clusters stored for it (in the order they were stored), with the
/// variety profile the central catalog has for the run's variety.
/// </summary>
public sealed class SeasonStore(NpgsqlDataSource db, VarietyCatalog varieties, MapWriterOptions mapWriter)
{
    private static readonly GeometryFactory Wgs84 = new(new PrecisionModel(), 4326);

    // Seasons whose partition this process made sure of (callers may write concurrently).
    private readonly System.Collections.Concurrent.ConcurrentDictionary<int, bool> _partitions = new();

    public NpgsqlDataSource DataSource => db;

    /// <summary>A data source with PostGIS geometry mapped to NetTopologySuite.</summary>
    public static NpgsqlDataSource Open(string connectionString)
    {
        var builder = new NpgsqlDataSourceBuilder(connectionString);
        builder.UseNetTopologySuite();
        return builder.Build();
    }

    /// <summary>The season a time belongs to: its UTC year (orchards bloom in spring, so no run crosses New Year).</summary>
    public static int SeasonOf(DateTimeOffset time) => time.UtcDateTime.Year;

    // ---------------------------------------------------------------- farm registry

    /// <summary>
    /// Registers (or moves) a tractor to a farm, creating the farm; runs of this tractor stored without a farm (it was
    /// not registered when they arrived) get this farm. Returns how many such runs were assigned.
    /// </summary>
    public async Task<int> RegisterTractorAsync(string tractorId, string farmId, CancellationToken cancellationToken)
    {
        CentralTopology.CheckTractorId(tractorId);
        if (string.IsNullOrWhiteSpace(farmId))
        {
            throw new ArgumentException("farm id is empty", nameof(farmId));
        }
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        await Exec(connection, tx, "INSERT INTO farms (farm_id) VALUES (@f) ON CONFLICT DO NOTHING", cancellationToken, ("f", farmId));
        await Exec(connection, tx, "INSERT INTO tractors (tractor_id, farm_id) VALUES (@t, @f) ON CONFLICT (tractor_id) DO UPDATE SET farm_id = excluded.farm_id, registered_at = now()",
            cancellationToken, ("t", tractorId), ("f", farmId));
        var assigned = await Exec(connection, tx, "UPDATE runs SET farm_id = @f WHERE tractor_id = @t AND farm_id IS NULL", cancellationToken, ("t", tractorId), ("f", farmId));
        await tx.CommitAsync(cancellationToken);
        return assigned;
    }

    // ---------------------------------------------------------------- ingest

    /// <summary>
    /// RunStarted: the run's block, variety, start and plan; the plan's trees are added (or marked planned, with the
    /// plan's position and spacing), and every tree of the run is recomputed (observations may have come first).
    /// </summary>
    public async Task<IngestOutcome> StartRunAsync(string tractorId, RunStarted message, CancellationToken cancellationToken)
    {
        BlockPlan? plan = null;
        if (message.BlockPlanGeoJson is { Length: > 0 } json)
        {
            try
            {
                plan = BlockPlan.Parse(json, $"block plan of run {message.RunId}");
            }
            catch (BlockPlanException)
            {
                // As on the tractor: the run is kept, its trees come from the observations.
            }
        }
        var variety = message.Variety ?? plan?.Variety;
        var season = SeasonOf(message.StartedAtUtc);
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        await EnsureRunAsync(connection, tx, tractorId, message.RunId, season, cancellationToken);
        await Exec(connection, tx, """
            UPDATE runs SET season = @s, block = @b, variety = @v, source = @src, started_at = @at, tree_spacing_m = @sp,
              run_started = @msg::jsonb
            WHERE run_id = @r
            """, cancellationToken, ("r", message.RunId), ("s", season), ("b", message.Block), ("v", (object?)variety ?? DBNull.Value),
            ("src", message.Source), ("at", message.StartedAtUtc), ("sp", (object?)(message.TreeSpacingM ?? plan?.TreeSpacingM) ?? DBNull.Value),
            ("msg", Json(message)));
        if (plan is not null)
        {
            var spacing = MapWriterHandler.PlannedSpacing(plan, mapWriter.DefaultTreeSpacingM);
            await using var add = new NpgsqlCommand("""
                INSERT INTO trees (run_id, tree_id, row_id, tree_index, in_plan, spacing_m, clusters_per_stage, geom)
                VALUES (@r, @t, @row, @idx, true, @sp, @stages, @g)
                ON CONFLICT (run_id, tree_id) DO UPDATE SET in_plan = true, row_id = excluded.row_id, tree_index = excluded.tree_index,
                  spacing_m = excluded.spacing_m, geom = excluded.geom
                """, connection, tx);
            foreach (var t in plan.Trees)
            {
                add.Parameters.Clear();
                add.Parameters.AddWithValue("r", message.RunId);
                add.Parameters.AddWithValue("t", t.Id);
                add.Parameters.AddWithValue("row", t.RowId);
                add.Parameters.AddWithValue("idx", t.Index);
                add.Parameters.AddWithValue("sp", spacing.TryGetValue(t.Id, out var s) ? s : DBNull.Value);
                add.Parameters.AddWithValue("stages", new int[BbchStages.Count]);
                add.Parameters.AddWithValue("g", Point(t.Latitude, t.Longitude));
                await add.ExecuteNonQueryAsync(cancellationToken);
            }
        }
        var updated = await RecomputeAsync(connection, tx, message.RunId, treeIds: null, cancellationToken);
        await tx.CommitAsync(cancellationToken);
        return new IngestOutcome(0, 0, updated);
    }

    /// <summary>
    /// TreeObservations: stores each observation whose revision is newer than the stored one (the key includes the
    /// observation id; a lower or equal revision is a redelivery), takes retracted ones off the map, creates the trees that
    /// confident observations name, and recomputes the trees that gained or lost one (docs/adr/0073). A run whose RunStarted has not
    /// arrived yet is created with what is known (tractor, season); RunStarted completes it later.
    /// </summary>
    /// <exception cref="MalformedMessageException">An observation no store can hold, or from a season out of range.</exception>
    public async Task<IngestOutcome> AddObservationsAsync(string tractorId, TreeObservations message, CancellationToken cancellationToken)
    {
        MapWriterHandler.Validate(message);
        if (message.Observations.Count == 0)
        {
            return new IngestOutcome(0, 0, 0);
        }
        var seasons = message.Observations.Select(o => SeasonOf(o.ObservedAtUtc)).Distinct().ToList();
        foreach (var season in seasons)
        {
            if (season is < 2000 or > 2999)
            {
                throw new MalformedMessageException($"tree-observations {message.MessageId} of run {message.RunId}: observed in {season}, outside the seasons 2000-2999");
            }
            if (!_partitions.ContainsKey(season))
            {
                await SeasonSchema.EnsurePartitionAsync(db, season, cancellationToken);
                _partitions[season] = true;
            }
        }
        var n = message.Observations.Count;
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        await EnsureRunAsync(connection, tx, tractorId, message.RunId, seasons.Min(), cancellationToken);
        // The newest revision of each id in the message, kept only when it is newer than what is stored (or retracted).
        var stored = await StoredRevisionsAsync(connection, tx, message.RunId, [.. message.Observations.Select(o => o.ObservationId).Distinct()], cancellationToken);
        var newer = message.Observations.GroupBy(o => o.ObservationId).Select(g => g.MaxBy(o => o.Revision)!)
            .Where(o => !stored.TryGetValue(o.ObservationId, out var known) || o.Revision > known.Revision).ToList();
        var touched = new HashSet<string>(newer.Select(o => stored.GetValueOrDefault(o.ObservationId).Tree).OfType<string>(), StringComparer.Ordinal);
        var retracted = newer.Where(o => o.Retracted).ToList();
        var shown = newer.Where(o => !o.Retracted).ToList();
        await Exec(connection, tx, """
            DELETE FROM observations WHERE run_id = @r AND observation_id = ANY(@gone);
            DELETE FROM retracted_observations WHERE run_id = @r AND observation_id = ANY(@back);
            INSERT INTO retracted_observations (run_id, observation_id, revision) SELECT @r, t.id, t.rev FROM unnest(@gone, @revs) AS t(id, rev)
            ON CONFLICT (run_id, observation_id) DO UPDATE SET revision = excluded.revision WHERE excluded.revision > retracted_observations.revision
            """, cancellationToken, ("r", message.RunId), ("gone", retracted.Select(o => o.ObservationId).ToArray()),
            ("revs", retracted.Select(o => o.Revision).ToArray()), ("back", shown.Select(o => o.ObservationId).ToArray()));
        var inserted = new List<(string? TreeId, bool Low, string? RowId)>();
        await using (var insert = new NpgsqlCommand("""
            INSERT INTO observations (season, run_id, observation_id, message_id, tree_id, low_confidence, stage, score, camera_id,
              first_frame, last_frame, observed_at, geom, observation, revision)
            SELECT o.season, @r, o.id, @m, o.tree, o.low, o.stage, o.score, o.cam, o.first, o.last, o.at,
                   ST_SetSRID(ST_MakePoint(o.lon, o.lat), 4326), o.json::jsonb, o.rev
            FROM unnest(@season, @id, @tree, @low, @stage, @score, @cam, @first, @last, @at, @lon, @lat, @json, @rev)
                 WITH ORDINALITY AS o(season, id, tree, low, stage, score, cam, first, last, at, lon, lat, json, rev, ord)
            ORDER BY o.ord
            ON CONFLICT (season, run_id, observation_id) DO UPDATE SET message_id = excluded.message_id, tree_id = excluded.tree_id,
              low_confidence = excluded.low_confidence, stage = excluded.stage, score = excluded.score, camera_id = excluded.camera_id,
              first_frame = excluded.first_frame, last_frame = excluded.last_frame, observed_at = excluded.observed_at,
              geom = excluded.geom, observation = excluded.observation, revision = excluded.revision
            WHERE excluded.revision > observations.revision
            RETURNING tree_id, low_confidence, observation ->> 'rowId'
            """, connection, tx))
        {
            var o = shown;
            insert.Parameters.AddWithValue("rev", o.Select(x => x.Revision).ToArray());
            insert.Parameters.AddWithValue("r", message.RunId);
            insert.Parameters.AddWithValue("m", message.MessageId);
            insert.Parameters.AddWithValue("season", o.Select(x => SeasonOf(x.ObservedAtUtc)).ToArray());
            insert.Parameters.AddWithValue("id", o.Select(x => x.ObservationId).ToArray());
            insert.Parameters.Add(new NpgsqlParameter("tree", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = o.Select(x => x.TreeId).ToArray() });
            insert.Parameters.AddWithValue("low", o.Select(x => x.LowConfidence).ToArray());
            insert.Parameters.AddWithValue("stage", o.Select(x => BbchStages.Label(x.Stage)).ToArray());
            insert.Parameters.AddWithValue("score", o.Select(x => (double)x.Score).ToArray());
            insert.Parameters.AddWithValue("cam", o.Select(x => x.CameraId).ToArray());
            insert.Parameters.AddWithValue("first", o.Select(x => x.FirstFrameSequence).ToArray());
            insert.Parameters.AddWithValue("last", o.Select(x => x.LastFrameSequence).ToArray());
            insert.Parameters.AddWithValue("at", o.Select(x => x.ObservedAtUtc.ToUniversalTime()).ToArray());
            insert.Parameters.AddWithValue("lon", o.Select(x => x.Longitude).ToArray());
            insert.Parameters.AddWithValue("lat", o.Select(x => x.Latitude).ToArray());
            insert.Parameters.AddWithValue("json", o.Select(x => JsonSerializer.Serialize(x, ContractsJsonContext.Default.BlossomClusterObservation)).ToArray());
            await using var reader = await insert.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                inserted.Add((reader.IsDBNull(0) ? null : reader.GetString(0), reader.GetBoolean(1), reader.IsDBNull(2) ? null : reader.GetString(2)));
            }
        }
        // A tree the plan does not have (or a run without plan) is created from a confident observation only, as on the
        // tractor, so an uncertain position never invents a tree.
        var newTrees = inserted.Where(i => i is { TreeId: not null, Low: false }).DistinctBy(i => i.TreeId).ToList();
        if (newTrees.Count > 0)
        {
            await Exec(connection, tx, """
                INSERT INTO trees (run_id, tree_id, row_id, in_plan, clusters_per_stage)
                SELECT @r, t.id, t.row, false, @stages FROM unnest(@ids, @rows) AS t(id, row)
                ON CONFLICT DO NOTHING
                """, cancellationToken, ("r", message.RunId), ("ids", newTrees.Select(t => t.TreeId!).ToArray()),
                ("rows", new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text, Value = newTrees.Select(t => t.RowId).ToArray() }),
                ("stages", new int[BbchStages.Count]));
        }
        touched.UnionWith(inserted.Select(i => i.TreeId).OfType<string>());
        var updated = touched.Count == 0 ? 0 : await RecomputeAsync(connection, tx, message.RunId, [.. touched], cancellationToken);
        await tx.CommitAsync(cancellationToken);
        var corrected = newer.Count(o => stored.ContainsKey(o.ObservationId));
        var added = shown.Count(o => !stored.ContainsKey(o.ObservationId));
        return new IngestOutcome(added, n - newer.Count, updated, corrected);
    }

    /// <summary>The stored revision of each of a run's observations (a retracted one's too) and the tree it is on.</summary>
    private static async Task<Dictionary<Guid, (string? Tree, int Revision)>> StoredRevisionsAsync(
        NpgsqlConnection connection, NpgsqlTransaction tx, string runId, Guid[] ids, CancellationToken cancellationToken)
    {
        await using var select = new NpgsqlCommand("""
            SELECT observation_id, tree_id, revision FROM observations WHERE run_id = @r AND observation_id = ANY(@ids)
            UNION ALL SELECT observation_id, NULL, revision FROM retracted_observations WHERE run_id = @r AND observation_id = ANY(@ids)
            """, connection, tx);
        select.Parameters.AddWithValue("r", runId);
        select.Parameters.AddWithValue("ids", ids);
        var stored = new Dictionary<Guid, (string?, int)>();
        await using var reader = await select.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            stored[reader.GetGuid(0)] = (reader.IsDBNull(1) ? null : reader.GetString(1), reader.GetInt32(2));
        }
        return stored;
    }

    /// <summary>RunStopped: when capture ended and why.</summary>
    public Task<IngestOutcome> StopRunAsync(string tractorId, RunStopped message, CancellationToken cancellationToken) =>
        UpdateRunAsync(tractorId, message.RunId, SeasonOf(message.StoppedAtUtc),
            "UPDATE runs SET stopped_at = @at, stop_reason = @why WHERE run_id = @r", cancellationToken,
            ("at", message.StoppedAtUtc), ("why", message.Reason));

    /// <summary>RunInterrupted: the run lost its source (power cut, crash) at this time.</summary>
    public Task<IngestOutcome> InterruptRunAsync(string tractorId, RunInterrupted message, CancellationToken cancellationToken) =>
        UpdateRunAsync(tractorId, message.RunId, SeasonOf(message.InterruptedAtUtc),
            "UPDATE runs SET interrupted_at = @at WHERE run_id = @r", cancellationToken, ("at", message.InterruptedAtUtc));

    /// <summary>MapUpdated (final): the tractor's own tree and observation counts, to compare with what arrived here.</summary>
    public Task<IngestOutcome> RecordTractorMapAsync(string tractorId, MapUpdated message, CancellationToken cancellationToken) =>
        message.Final
            ? UpdateRunAsync(tractorId, message.RunId, SeasonOf(message.UpdatedAtUtc),
                "UPDATE runs SET tractor_map_trees = @t, tractor_map_observations = @o WHERE run_id = @r", cancellationToken,
                ("t", message.Trees), ("o", message.Observations))
            : Task.FromResult(new IngestOutcome(0, 0, 0));

    /// <summary>
    /// RunFused: fusion's summary is kept (exports replay it), and the spacing of trees the plan does not have is settled
    /// from their positions by the map writer's rule, which changes their density.
    /// </summary>
    public async Task<IngestOutcome> FuseRunAsync(string tractorId, RunFused message, DateTimeOffset receivedAt, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        await EnsureRunAsync(connection, tx, tractorId, message.RunId, SeasonOf(receivedAt), cancellationToken);
        await Exec(connection, tx, "UPDATE runs SET fused_at = coalesce(fused_at, @at), observations_published = @n, run_fused = @msg::jsonb WHERE run_id = @r",
            cancellationToken, ("r", message.RunId), ("at", receivedAt), ("n", message.ObservationsPublished), ("msg", Json(message)));
        var fallback = await ScalarAsync<double?>(connection, tx, "SELECT tree_spacing_m FROM runs WHERE run_id = @r", cancellationToken, ("r", message.RunId))
            ?? mapWriter.DefaultTreeSpacingM;
        var spacing = MapWriterHandler.InferredSpacing(await ReadTreesAsync(connection, tx, message.RunId, cancellationToken), fallback);
        var updated = 0;
        if (spacing.Count > 0)
        {
            await Exec(connection, tx, "UPDATE trees SET spacing_m = s.sp FROM unnest(@ids, @sps) AS s(id, sp) WHERE run_id = @r AND tree_id = s.id",
                cancellationToken, ("r", message.RunId), ("ids", spacing.Keys.ToArray()), ("sps", spacing.Values.ToArray()));
            updated = await RecomputeAsync(connection, tx, message.RunId, [.. spacing.Keys], cancellationToken);
        }
        await tx.CommitAsync(cancellationToken);
        return new IngestOutcome(0, 0, updated);
    }

    private async Task<IngestOutcome> UpdateRunAsync(string tractorId, string runId, int season, string sql, CancellationToken cancellationToken, params (string Name, object Value)[] parameters)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        await EnsureRunAsync(connection, tx, tractorId, runId, season, cancellationToken);
        await Exec(connection, tx, sql, cancellationToken, [("r", runId), .. parameters]);
        await tx.CommitAsync(cancellationToken);
        return new IngestOutcome(0, 0, 0);
    }

    /// <summary>
    /// Locks the run for this transaction, then makes sure of its row: created on the run's first message whatever its
    /// type, with the farm the registry has for the tractor now. A run id another tractor already sent is refused: run
    /// ids are unique per tractor by construction, so that is a misconfigured uplink, and mixing two tractors'
    /// observations would corrupt both maps.
    /// </summary>
    private static async Task EnsureRunAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string tractorId, string runId, int season, CancellationToken cancellationToken)
    {
        // One writer per run at a time, also across ingest replicas: a tree is recomputed from the clusters its
        // transaction sees, so two concurrent transactions of one run could each miss the other's clusters.
        await Exec(connection, tx, "SELECT pg_advisory_xact_lock(7007002, hashtext(@r))", cancellationToken, ("r", runId));
        await Exec(connection, tx, """
            INSERT INTO runs (run_id, tractor_id, farm_id, season)
            VALUES (@r, @t, (SELECT farm_id FROM tractors WHERE tractor_id = @t), @s)
            ON CONFLICT (run_id) DO NOTHING
            """, cancellationToken, ("r", runId), ("t", tractorId), ("s", season));
        var owner = await ScalarAsync<string>(connection, tx, "SELECT tractor_id FROM runs WHERE run_id = @r", cancellationToken, ("r", runId));
        if (owner != tractorId)
        {
            throw new MalformedMessageException($"run {runId} came from tractor {owner} before; tractor {tractorId} sent it now, so none of it is stored (check the uplink's tractor id)");
        }
    }

    /// <summary>Reads each tree and its clusters, lets <see cref="TreeAggregate.Of"/> compute its values, writes them. Null ids: every tree of the run.</summary>
    private async Task<int> RecomputeAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string runId, string[]? treeIds, CancellationToken cancellationToken)
    {
        var variety = await ScalarAsync<string>(connection, tx, "SELECT variety FROM runs WHERE run_id = @r", cancellationToken, ("r", runId));
        var profile = varieties.Find(variety);
        var trees = new Dictionary<string, TreeRecord>(StringComparer.Ordinal);
        await using (var info = new NpgsqlCommand("SELECT tree_id, in_plan, spacing_m FROM trees WHERE run_id = @r AND (@all OR tree_id = ANY(@ids))", connection, tx))
        {
            info.Parameters.AddWithValue("r", runId);
            info.Parameters.AddWithValue("all", treeIds is null);
            info.Parameters.AddWithValue("ids", treeIds ?? []);
            await using var r = await info.ExecuteReaderAsync(cancellationToken);
            while (await r.ReadAsync(cancellationToken))
            {
                // Its stored position is not passed: TreeAggregate.Of gives one only for a tree the plan does not have.
                trees[r.GetString(0)] = new TreeRecord { TreeId = r.GetString(0), InPlan = r.GetBoolean(1), SpacingM = r.IsDBNull(2) ? null : r.GetDouble(2) };
            }
        }
        if (trees.Count == 0)
        {
            return 0;
        }
        var clusters = trees.Keys.ToDictionary(id => id, _ => new List<TreeCluster>(), StringComparer.Ordinal);
        await using (var select = new NpgsqlCommand("""
            SELECT tree_id, stage, low_confidence, score, camera_id, first_frame, last_frame, ST_Y(geom), ST_X(geom), observation->>'rowSide'
            FROM observations WHERE run_id = @r AND tree_id = ANY(@ids) ORDER BY seq
            """, connection, tx))
        {
            select.Parameters.AddWithValue("r", runId);
            select.Parameters.AddWithValue("ids", trees.Keys.ToArray());
            await using var r = await select.ExecuteReaderAsync(cancellationToken);
            while (await r.ReadAsync(cancellationToken))
            {
                clusters[r.GetString(0)].Add(new TreeCluster(
                    BbchStages.TryParse(r.GetString(1), out var stage) ? stage : null,
                    r.GetBoolean(2), r.GetDouble(3), r.GetString(4), r.GetInt64(5), r.GetInt64(6), r.GetDouble(7), r.GetDouble(8),
                    r.IsDBNull(9) ? null : r.GetString(9)));
            }
        }
        var batch = new NpgsqlBatch(connection, tx);
        await using (batch)
        {
            foreach (var (id, tree) in trees)
            {
                var v = TreeAggregate.Of(tree, clusters[id], profile);
                var cmd = new NpgsqlBatchCommand("""
                    UPDATE trees SET clusters_total = $3, clusters_per_stage = $4, clusters_low_confidence = $5, frames_seen = $6,
                      density_per_m = $7, confidence = $8, mean_score = $9, excess = $10, dose_pct = $11, rate_l_ha = $12, zone_class = $13,
                      clusters_seen_left = $14, clusters_seen_right = $15, geom = coalesce($16, geom)
                    WHERE run_id = $1 AND tree_id = $2
                    """);
                object?[] values =
                [
                    runId, id, v.ClustersTotal, v.ClustersPerStage.ToArray(), v.ClustersLowConfidence, v.FramesSeen, v.DensityPerM,
                    v.Confidence, v.MeanScore, v.Excess, v.DosePercent, v.RateLPerHa, v.ZoneClass, v.ClustersSeenLeft, v.ClustersSeenRight,
                ];
                foreach (var value in values)
                {
                    cmd.Parameters.Add(new NpgsqlParameter { Value = value ?? DBNull.Value });
                }
                cmd.Parameters.Add(new NpgsqlParameter<Point?> { TypedValue = v is { Latitude: { } lat, Longitude: { } lon } ? Point(lat, lon) : null });
                batch.BatchCommands.Add(cmd);
            }
            await batch.ExecuteNonQueryAsync(cancellationToken);
        }
        return trees.Count;
    }

    // ---------------------------------------------------------------- read side

    /// <summary>A run's trees with their stored values, ordered by row and tree as in the map writer's store.</summary>
    public async Task<IReadOnlyList<TreeRecord>> ReadTreesAsync(string runId, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        return await ReadTreesAsync(connection, null, runId, cancellationToken);
    }

    private static async Task<List<TreeRecord>> ReadTreesAsync(NpgsqlConnection connection, NpgsqlTransaction? tx, string runId, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand("""
            SELECT tree_id, row_id, tree_index, in_plan, spacing_m, clusters_total, clusters_per_stage, clusters_low_confidence, frames_seen,
                   density_per_m, confidence, mean_score, excess, dose_pct, rate_l_ha, zone_class, ST_Y(geom), ST_X(geom),
                   clusters_seen_left, clusters_seen_right
            FROM trees WHERE run_id = @r ORDER BY row_id, tree_index, tree_id
            """, connection, tx);
        cmd.Parameters.AddWithValue("r", runId);
        var trees = new List<TreeRecord>();
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        while (await r.ReadAsync(cancellationToken))
        {
            trees.Add(new TreeRecord
            {
                TreeId = r.GetString(0),
                RowId = r.IsDBNull(1) ? null : r.GetString(1),
                TreeIndex = r.IsDBNull(2) ? null : r.GetInt32(2),
                InPlan = r.GetBoolean(3),
                SpacingM = NullableDouble(r, 4),
                ClustersTotal = r.GetInt32(5),
                ClustersPerStage = r.GetFieldValue<int[]>(6),
                ClustersLowConfidence = r.GetInt32(7),
                FramesSeen = r.GetInt32(8),
                DensityPerM = NullableDouble(r, 9),
                Confidence = r.GetDouble(10),
                MeanScore = NullableDouble(r, 11),
                Excess = NullableDouble(r, 12),
                DosePercent = NullableDouble(r, 13),
                RateLPerHa = NullableDouble(r, 14),
                ZoneClass = r.IsDBNull(15) ? null : r.GetString(15),
                Latitude = NullableDouble(r, 16),
                Longitude = NullableDouble(r, 17),
                ClustersSeenLeft = r.GetInt32(18),
                ClustersSeenRight = r.GetInt32(19),
            });
        }
        return trees;
    }

    /// <summary>Stored observations of a run.</summary>
    public async Task<long> CountObservationsAsync(string runId, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        return await ScalarAsync<long>(connection, null, "SELECT count(*) FROM observations WHERE run_id = @r", cancellationToken, ("r", runId));
    }

    private static Point Point(double latitude, double longitude) => Wgs84.CreatePoint(new Coordinate(longitude, latitude));

    private static string Json<T>(T message)
        where T : class, IMessage => JsonSerializer.Serialize(message, MessageTypes.Of<T>().Type, ContractsJsonContext.Default);

    private static double? NullableDouble(NpgsqlDataReader r, int i) => r.IsDBNull(i) ? null : r.GetDouble(i);

    internal static async Task<int> Exec(NpgsqlConnection connection, NpgsqlTransaction? tx, string sql, CancellationToken cancellationToken, params (string Name, object Value)[] parameters)
    {
        await using var cmd = Command(connection, tx, sql, parameters);
        return await cmd.ExecuteNonQueryAsync(cancellationToken);
    }

    internal static async Task<T?> ScalarAsync<T>(NpgsqlConnection connection, NpgsqlTransaction? tx, string sql, CancellationToken cancellationToken, params (string Name, object Value)[] parameters)
    {
        await using var cmd = Command(connection, tx, sql, parameters);
        var value = await cmd.ExecuteScalarAsync(cancellationToken);
        return value is null or DBNull ? default : (T)value;
    }

    private static NpgsqlCommand Command(NpgsqlConnection connection, NpgsqlTransaction? tx, string sql, (string Name, object Value)[] parameters)
    {
        var cmd = new NpgsqlCommand(sql, connection, tx);
        foreach (var (name, value) in parameters)
        {
            if (value is NpgsqlParameter p)
            {
                p.ParameterName = name;
                cmd.Parameters.Add(p);
            }
            else
            {
                cmd.Parameters.AddWithValue(name, value);
            }
        }
        return cmd;
    }
}
