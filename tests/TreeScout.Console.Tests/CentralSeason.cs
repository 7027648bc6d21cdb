using Microsoft.Extensions.Logging.Abstractions;
using TreeScout.Central;
using TreeScout.Central.Tests;
using TreeScout.Contracts;
using TreeScout.MapWriter.Tests;
using TreeScout.Messaging;

namespace TreeScout.WebConsole.Tests;

/// <summary>
/// A season store as the farm office has it, in a schema of its own on the real PostgreSQL + PostGIS: four synthetic
/// runs (the MapWriter tests' <see cref="SyntheticRun"/>) delivered as the uplink delivers them, through the central
/// ingest's own <see cref="CentralIngest"/> (routing key, codec, store). Tractors t-01 and t-02 belong to farm hof-a:
/// block Noord 3 scanned twice by t-01 (the later run is the block's latest), Zuid 1 once by t-02; t-03, not registered,
/// has a run of Oost 2 still running (no RunFused: not exportable yet).
/// </summary>
public sealed class CentralSeason : IAsyncLifetime
{
    public const string Farm = "hof-a";

    internal SyntheticRun NoordOlder { get; } = new("20260415-090000-noord-3-0001", rows: 2, treesPerRow: 6, seed: 1, variety: "Elstar", clustersPerTree: (4, 20));

    internal SyntheticRun NoordLatest { get; } = new("20260421-090000-noord-3-0002", rows: 2, treesPerRow: 6, seed: 2, variety: "Elstar", clustersPerTree: (10, 40));

    internal SyntheticRun Zuid { get; } = new("20260420-140000-zuid-1-0001", rows: 3, treesPerRow: 5, seed: 3, clustersPerTree: (20, 60));

    internal SyntheticRun Oost { get; } = new("20260422-080000-oost-2-0001", rows: 1, treesPerRow: 4, seed: 4, clustersPerTree: (5, 10));

    public TestSeasonStore Db { get; private set; } = null!;

    /// <summary>
    /// Settings that point a console at this season store in central mode, in read-only transactions as the site's
    /// treescout_console login is (deploy/central/postgis/20-console-reader.sh): any write the console tried would fail.
    /// </summary>
    public Dictionary<string, string?> Settings => new()
    {
        ["Console:Mode"] = "central",
        [ConsoleOptions.SeasonStoreSetting] = new Npgsql.NpgsqlConnectionStringBuilder(Db.ConnectionString) { Options = "-c default_transaction_read_only=on" }.ConnectionString,
    };

    public async Task InitializeAsync()
    {
        Db = await TestSeasonStore.CreateAsync();
        var ingest = new CentralIngest(Db.Store, TimeProvider.System, NullLogger<CentralIngest>.Instance);
        await DeliverAsync(ingest, "t-01", NoordOlder, "Noord 3", new DateTimeOffset(2026, 4, 15, 9, 0, 0, TimeSpan.Zero), fused: true);
        await DeliverAsync(ingest, "t-01", NoordLatest, "Noord 3", new DateTimeOffset(2026, 4, 21, 9, 0, 0, TimeSpan.Zero), fused: true);
        await DeliverAsync(ingest, "t-02", Zuid, "Zuid 1", new DateTimeOffset(2026, 4, 20, 14, 0, 0, TimeSpan.Zero), fused: true);
        await DeliverAsync(ingest, "t-03", Oost, "Oost 2", new DateTimeOffset(2026, 4, 22, 8, 0, 0, TimeSpan.Zero), fused: false);
        await Db.Store.RegisterTractorAsync("t-01", Farm, CancellationToken.None);
        await Db.Store.RegisterTractorAsync("t-02", Farm, CancellationToken.None);
    }

    /// <summary>RunStarted, every observation batch and, when <paramref name="fused"/>, RunStopped and RunFused, in uplink order.</summary>
    private static async Task DeliverAsync(CentralIngest ingest, string tractor, SyntheticRun run, string block, DateTimeOffset startedAt, bool fused)
    {
        var key = CentralTopology.RoutingKey(tractor, CentralTopology.UplinkKey);
        IEnumerable<IMessage> messages = [run.Started with { Block = block, StartedAtUtc = startedAt }, .. run.Batches];
        if (fused)
        {
            messages = messages.Append(run.Fused);
        }
        foreach (var message in messages)
        {
            await ingest.HandleAsync(key, message, CancellationToken.None);
        }
    }

    public async Task DisposeAsync() => await Db.DisposeAsync();
}
