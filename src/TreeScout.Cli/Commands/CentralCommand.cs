using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using TreeScout.Central;
using TreeScout.Contracts;
using TreeScout.MapWriter;
using TreeScout.MapWriter.Exports;
using TreeScout.MapWriter.Prescription;

namespace TreeScout.Cli.Commands;

/// <summary>`treescout central ...`: the farm office's side of the season store (docs/central.md).</summary>
public static class CentralCommand
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public static Command Create()
    {
        var db = new Option<string?>("--db") { Description = "Season store connection string (default: $TREESCOUT__Central__Database)" };
        var command = new Command("central", "The central season store: register tractors, the season view, exports of any run");
        command.Subcommands.Add(Migrate(db));
        command.Subcommands.Add(RegisterTractor(db));
        command.Subcommands.Add(Season(db));
        command.Subcommands.Add(Export(db));
        return command;
    }

    private static Command Migrate(Option<string?> db)
    {
        var command = new Command("migrate", "Create or complete the season store's schema (the ingest worker also does this at start)") { db };
        command.SetAction((parse, ct) => WithStoreAsync(parse, db, async source =>
        {
            await SeasonSchema.MigrateAsync(source, ct);
            Console.WriteLine($"season store schema version {SeasonSchema.Version}");
            return 0;
        }));
        return command;
    }

    private static Command RegisterTractor(Option<string?> db)
    {
        var tractor = new Option<string>("--tractor") { Description = "Tractor id (as in its uplink routing keys)", Required = true };
        var farm = new Option<string>("--farm") { Description = "Farm the tractor's runs belong to from now on", Required = true };
        var command = new Command("register-tractor", "Assign a tractor to a farm; its runs stored without a farm get it too") { db, tractor, farm };
        command.SetAction((parse, ct) => WithStoreAsync(parse, db, async source =>
        {
            await SeasonSchema.MigrateAsync(source, ct);
            int assigned;
            try
            {
                assigned = await Store(source).RegisterTractorAsync(parse.GetValue(tractor)!, parse.GetValue(farm)!, ct);
            }
            catch (ArgumentException ex)
            {
                throw new CliException(ex.Message.Split(" (Parameter")[0], Cli.UsageError);
            }
            Console.WriteLine($"tractor {parse.GetValue(tractor)} → farm {parse.GetValue(farm)}; {assigned} earlier run(s) assigned");
            return 0;
        }));
        return command;
    }

    private static Command Season(Option<string?> db)
    {
        var farm = new Option<string>("--farm") { Description = "Farm id", Required = true };
        var season = new Option<int>("--season") { Description = "Season (year)", Required = true };
        var json = new Option<bool>("--json") { Description = "One JSON document instead of a table" };
        var command = new Command("season", "Every block of a farm with its latest run of the season: counts, clusters per tree, dominant bloom stage") { db, farm, season, json };
        command.SetAction((parse, ct) => WithStoreAsync(parse, db, async source =>
        {
            var blocks = await SeasonView.ReadAsync(source, parse.GetValue(farm)!, parse.GetValue(season), ct);
            if (parse.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(blocks.Select(b => new
                {
                    block = b.Run.Block,
                    runId = b.Run.RunId,
                    tractor = b.Run.TractorId,
                    variety = b.Run.Variety,
                    startedAt = b.Run.StartedAt,
                    status = b.Run.Status,
                    observations = b.Run.Observations,
                    observationsPublished = b.Run.ObservationsPublished,
                    trees = b.Trees,
                    treesWithClusters = b.TreesWithClusters,
                    clusters = b.Clusters,
                    meanClustersPerTree = Math.Round(b.MeanClustersPerTree, 2),
                    dominantStage = b.DominantStage is { } s ? BbchStages.Label(s) : null,
                    clustersPerStage = BbchStages.Ordered.Select((s, i) => (s, i)).ToDictionary(x => BbchStages.Label(x.s), x => b.ClustersPerStage[x.i]),
                }), Json));
                return 0;
            }
            if (blocks.Count == 0)
            {
                Console.WriteLine($"farm {parse.GetValue(farm)}: no runs in season {parse.GetValue(season)}");
                return 0;
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{"block",-20} {"run",-34} {"tractor",-12} {"status",-11} {"trees",6} {"clusters",9} {"per tree",9} {"stage",7}"));
            foreach (var b in blocks)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{b.Run.Block,-20} {b.Run.RunId,-34} {b.Run.TractorId,-12} {b.Run.Status,-11} {b.Trees,6} {b.Clusters,9} {b.MeanClustersPerTree,9:0.0} {(b.DominantStage is { } s ? BbchStages.Label(s) : "-"),7}"));
            }
            return 0;
        }));
        return command;
    }

    private static Command Export(Option<string?> db)
    {
        var run = new Option<string>("--run") { Description = "Run id", Required = true };
        var output = new Option<string>("--out") { Description = "New or empty folder: receives the run folder (store.gpkg, run.json, exports/)", Required = true };
        var command = new Command("export", "Rebuild a run's folder and every export from the season store, with the map writer's own code") { db, run, output };
        command.SetAction((parse, ct) => WithStoreAsync(parse, db, async source =>
        {
            try
            {
                var files = await RunReplay.WriteRunFolderAsync(source, parse.GetValue(run)!, parse.GetValue(output)!, Varieties(), NullLoggerFactory.Instance, ct);
                foreach (var file in files)
                {
                    Console.WriteLine(file);
                }
                return 0;
            }
            catch (Exception ex) when (ex is RunReplayException or ExportException)
            {
                throw new CliException(ex.Message);
            }
        }));
        return command;
    }

    private static SeasonStore Store(NpgsqlDataSource source) => new(source, Varieties(), new MapWriterOptions());

    private static VarietyCatalog Varieties() => VarietyCatalog.Load(VarietyProfilesValidation.Resolve(new MapWriterOptions().Varieties));

    /// <summary>Opens the store named by --db or the environment; an unusable connection string or an unreachable server is one line.</summary>
    private static async Task<int> WithStoreAsync(ParseResult parse, Option<string?> db, Func<NpgsqlDataSource, Task<int>> action)
    {
        var connectionString = parse.GetValue(db) ?? Environment.GetEnvironmentVariable("TREESCOUT__Central__Database");
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new CliException("no season store: give --db \"Host=...;Database=...;Username=...;Password=...\" or set TREESCOUT__Central__Database", Cli.UsageError);
        }
        NpgsqlDataSource source;
        try
        {
            source = SeasonStore.Open(connectionString);
        }
        catch (ArgumentException ex)
        {
            throw new CliException($"--db: not a usable connection string: {ex.Message}", Cli.UsageError);
        }
        await using (source)
        {
            try
            {
                return await action(source);
            }
            catch (NpgsqlException ex)
            {
                throw new CliException($"season store: {ex.Message}");
            }
        }
    }
}
