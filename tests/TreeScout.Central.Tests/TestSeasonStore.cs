using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using TreeScout.MapWriter;
using TreeScout.MapWriter.Prescription;

namespace TreeScout.Central.Tests;

/// <summary>
/// The real PostgreSQL + PostGIS the integration tests run against (started by .ci/postgres). Connection string from
/// TREESCOUT_TEST_POSTGRES, default the CI role and database on 127.0.0.1:5432. Each test gets its own schema (the
/// postgis extension stays in public), dropped on dispose, so tests running in parallel never see each other's rows.
/// </summary>
public sealed class TestSeasonStore : IAsyncDisposable
{
    public static string BaseConnectionString { get; } = Environment.GetEnvironmentVariable("TREESCOUT_TEST_POSTGRES") is { Length: > 0 } cs
        ? cs
        : "Host=127.0.0.1;Port=5432;Username=treescout;Password=treescout;Database=treescout_test";

    public static VarietyCatalog Varieties { get; } = VarietyCatalog.Load(Path.Combine(AppContext.BaseDirectory, "Varieties"));

    private TestSeasonStore(string schema, string connectionString)
    {
        Schema = schema;
        ConnectionString = connectionString;
        DataSource = SeasonStore.Open(connectionString);
        Store = new SeasonStore(DataSource, Varieties, new MapWriterOptions());
    }

    public string Schema { get; }

    /// <summary>The test schema first on the search path, then public (PostGIS).</summary>
    public string ConnectionString { get; }

    public NpgsqlDataSource DataSource { get; }

    public SeasonStore Store { get; }

    public static async Task<TestSeasonStore> CreateAsync()
    {
        var schema = $"t_{Guid.NewGuid():N}";
        try
        {
            await using var admin = NpgsqlDataSource.Create(BaseConnectionString);
            await using var cmd = admin.CreateCommand($"CREATE SCHEMA {schema}");
            await cmd.ExecuteNonQueryAsync();
        }
        catch (NpgsqlException ex)
        {
            throw new InvalidOperationException(
                $"PostgreSQL is not usable at {BaseConnectionString.Split(";Password")[0]} ({ex.Message}). The central store's integration tests need it: " +
                "run `sudo .ci/postgres start` from the repository root (Debian packages postgresql, postgresql-15-postgis-3), or point TREESCOUT_TEST_POSTGRES at one.", ex);
        }
        var store = new TestSeasonStore(schema, new NpgsqlConnectionStringBuilder(BaseConnectionString) { SearchPath = $"{schema},public" }.ConnectionString);
        await SeasonSchema.MigrateAsync(store.DataSource, CancellationToken.None);
        return store;
    }

    /// <summary>The central ingest worker storing into this schema, consuming the ingest queue at <paramref name="broker"/>.</summary>
    public IngestConsumer Ingest(Uri broker, ILoggerFactory logs, bool declareTopology = true) => new(
        new CentralIngest(Store, TimeProvider.System, logs.CreateLogger<CentralIngest>()),
        new SeasonStoreReadiness(DataSource, TimeProvider.System, logs.CreateLogger<SeasonStoreReadiness>()),
        new IngestMetrics(),
        new Messaging.MessagingMetrics(),
        Options.Create(new CentralOptions { Broker = broker.ToString(), Database = ConnectionString, DeclareTopology = declareTopology }),
        TimeProvider.System,
        logs);

    public async Task<T> ScalarAsync<T>(string sql)
    {
        await using var cmd = DataSource.CreateCommand(sql);
        return (T)(await cmd.ExecuteScalarAsync())!;
    }

    public async ValueTask DisposeAsync()
    {
        await DataSource.DisposeAsync();
        await using var admin = NpgsqlDataSource.Create(BaseConnectionString);
        await using var cmd = admin.CreateCommand($"DROP SCHEMA {Schema} CASCADE");
        await cmd.ExecuteNonQueryAsync();
    }
}
