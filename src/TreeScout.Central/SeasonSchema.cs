using System.Globalization;
using Npgsql;

namespace TreeScout.Central;

/// <summary>
/// The season store's tables (docs/central.md, docs/adr/0070): farms and the tractor → farm registry; runs keyed by run
/// id with farm, block, tractor and season; observations partitioned by season (a LIST partition per year, created when
/// its first observation arrives) with the observation id in the primary key, so a redelivered message changes nothing;
/// trees per run with their values and a PostGIS point (SRID 4326, GiST index). Every statement is idempotent, so the
/// worker and every command run it at start.
/// </summary>
public static class SeasonSchema
{
    /// <summary>Bumped when a statement below changes; recorded in schema_version.</summary>
    public const int Version = 1;

    private const string Tables = """
        CREATE EXTENSION IF NOT EXISTS postgis;
        CREATE TABLE IF NOT EXISTS schema_version (version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());
        CREATE TABLE IF NOT EXISTS farms (
          farm_id text PRIMARY KEY,
          created_at timestamptz NOT NULL DEFAULT now());
        CREATE TABLE IF NOT EXISTS tractors (
          tractor_id text PRIMARY KEY,
          farm_id text NOT NULL REFERENCES farms,
          registered_at timestamptz NOT NULL DEFAULT now());
        CREATE TABLE IF NOT EXISTS runs (
          run_id text PRIMARY KEY,
          tractor_id text NOT NULL,
          farm_id text REFERENCES farms,
          season int NOT NULL,
          block text,
          variety text,
          source text,
          started_at timestamptz,
          stopped_at timestamptz,
          stop_reason text,
          fused_at timestamptz,
          interrupted_at timestamptz,
          tree_spacing_m double precision,
          observations_published bigint,
          tractor_map_trees int,
          tractor_map_observations bigint,
          run_started jsonb,
          run_fused jsonb,
          first_seen_at timestamptz NOT NULL DEFAULT now());
        CREATE INDEX IF NOT EXISTS runs_farm_season_block ON runs (farm_id, season, block, started_at DESC);
        CREATE INDEX IF NOT EXISTS runs_tractor ON runs (tractor_id);
        CREATE SEQUENCE IF NOT EXISTS observation_seq;
        CREATE TABLE IF NOT EXISTS observations (
          season int NOT NULL,
          run_id text NOT NULL,
          observation_id uuid NOT NULL,
          seq bigint NOT NULL DEFAULT nextval('observation_seq'),
          message_id uuid NOT NULL,
          tree_id text,
          low_confidence boolean NOT NULL,
          stage text NOT NULL,
          score double precision NOT NULL,
          camera_id text NOT NULL,
          first_frame bigint NOT NULL,
          last_frame bigint NOT NULL,
          observed_at timestamptz NOT NULL,
          geom geometry(Point, 4326) NOT NULL,
          observation jsonb NOT NULL,
          PRIMARY KEY (season, run_id, observation_id)
        ) PARTITION BY LIST (season);
        CREATE INDEX IF NOT EXISTS observations_run_tree ON observations (run_id, tree_id, seq);
        CREATE INDEX IF NOT EXISTS observations_geom ON observations USING gist (geom);
        CREATE TABLE IF NOT EXISTS trees (
          run_id text NOT NULL REFERENCES runs ON DELETE CASCADE,
          tree_id text NOT NULL,
          row_id text,
          tree_index int,
          in_plan boolean NOT NULL,
          spacing_m double precision,
          clusters_total int NOT NULL DEFAULT 0,
          clusters_per_stage int[] NOT NULL,
          clusters_low_confidence int NOT NULL DEFAULT 0,
          frames_seen int NOT NULL DEFAULT 0,
          density_per_m double precision,
          confidence double precision NOT NULL DEFAULT 0,
          mean_score double precision,
          excess double precision,
          dose_pct double precision,
          rate_l_ha double precision,
          zone_class text,
          geom geometry(Point, 4326),
          PRIMARY KEY (run_id, tree_id));
        CREATE INDEX IF NOT EXISTS trees_geom ON trees USING gist (geom);
        -- Both sides of a row (docs/adr/0035): clusters_total is the whole-tree count, these the confident clusters per side.
        ALTER TABLE trees ADD COLUMN IF NOT EXISTS clusters_seen_left int NOT NULL DEFAULT 0;
        ALTER TABLE trees ADD COLUMN IF NOT EXISTS clusters_seen_right int NOT NULL DEFAULT 0;
        -- Provisional observations corrected later (docs/adr/0073): a newer revision replaces the stored one; a retracted one
        -- leaves its revision here, so an older copy arriving late cannot bring it back. Existing observations are revision 1.
        ALTER TABLE observations ADD COLUMN IF NOT EXISTS revision int NOT NULL DEFAULT 1;
        CREATE TABLE IF NOT EXISTS retracted_observations (
          run_id text NOT NULL, observation_id uuid NOT NULL, revision int NOT NULL, PRIMARY KEY (run_id, observation_id));
        INSERT INTO schema_version (version) VALUES (1) ON CONFLICT DO NOTHING;
        """;

    /// <summary>Creates or completes the schema. Serialized by an advisory lock, so workers starting together do not race.</summary>
    public static async Task MigrateAsync(NpgsqlDataSource db, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        await using (var lockCmd = new NpgsqlCommand("SELECT pg_advisory_xact_lock(7007001)", connection, tx))
        {
            await lockCmd.ExecuteNonQueryAsync(cancellationToken);
        }
        await using (var cmd = new NpgsqlCommand(Tables, connection, tx))
        {
            await cmd.ExecuteNonQueryAsync(cancellationToken);
        }
        await tx.CommitAsync(cancellationToken);
        // The PostGIS types were created (or looked up) on this connection; new connections must know them.
        await connection.ReloadTypesAsync(cancellationToken);
    }

    /// <summary>Checks, reading only, that the schema is there (a reader may not create it).</summary>
    /// <exception cref="SeasonSchemaMissingException">No schema_version table, or an older version than this code reads.</exception>
    public static async Task CheckAsync(NpgsqlDataSource db, CancellationToken cancellationToken)
    {
        await using var cmd = db.CreateCommand("SELECT max(version) FROM schema_version");
        object? version;
        try
        {
            version = await cmd.ExecuteScalarAsync(cancellationToken);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            throw new SeasonSchemaMissingException("the season store has no schema yet (the central ingest worker or `treescout central migrate` creates it)");
        }
        if (version is not int v || v < Version)
        {
            throw new SeasonSchemaMissingException($"the season store's schema is version {version ?? "none"}, this code reads version {Version}: start the central ingest worker of this release (it migrates at start)");
        }
    }

    /// <summary>The partition holding a season's observations.</summary>
    public static string PartitionOf(int season) => string.Create(CultureInfo.InvariantCulture, $"observations_{season}");

    /// <summary>Creates <paramref name="season"/>'s partition unless it exists (another worker may create it at the same moment).</summary>
    public static async Task EnsurePartitionAsync(NpgsqlDataSource db, int season, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(season, 2000);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(season, 2999);
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        await using (var lockCmd = new NpgsqlCommand("SELECT pg_advisory_xact_lock(7007001)", connection, tx))
        {
            await lockCmd.ExecuteNonQueryAsync(cancellationToken);
        }
        await using (var cmd = new NpgsqlCommand(string.Create(CultureInfo.InvariantCulture,
            $"CREATE TABLE IF NOT EXISTS {PartitionOf(season)} PARTITION OF observations FOR VALUES IN ({season})"), connection, tx))
        {
            await cmd.ExecuteNonQueryAsync(cancellationToken);
        }
        await tx.CommitAsync(cancellationToken);
    }
}

/// <summary>The season store's schema is not there (or older) for a reader that may not create it; waited for.</summary>
public sealed class SeasonSchemaMissingException(string message) : Exception(message);
