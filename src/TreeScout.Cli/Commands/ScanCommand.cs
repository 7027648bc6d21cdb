using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Serilog;
using Serilog.Events;
using Serilog.Extensions.Logging;
using TreeScout.Capture;
using TreeScout.Cli.RunControl;
using TreeScout.Cli.Scanning;
using TreeScout.Contracts;
using TreeScout.Hosting;
using TreeScout.Orchard;

namespace TreeScout.Cli.Commands;

/// <summary>`treescout scan RECORDING --out OUT`: a recorded run through the whole pipeline to its thinning map.</summary>
public static class ScanCommand
{
    public static Command Create()
    {
        var recording = new Argument<string>("recording") { Description = "Recording folder (docs/recording-format.md), e.g. samples/betuwe-rtk-2x12" };
        var output = new Option<string>("--out") { Description = "Run output folder: store.gpkg, run.json, exports/", Required = true };
        var broker = new Option<string?>("--broker")
        {
            Description = $"RabbitMQ URI of running workers (default: env {BrokerSession.BrokerEnvironmentVariable}); without one the workers run embedded in this process",
        };
        var speedup = new Option<double?>("--speedup") { Description = "Replay at N times the recorded frame rate (default: --max-rate)" };
        var maxRate = new Option<bool>("--max-rate") { Description = "Replay as fast as the pipeline accepts (the default)" };
        var block = new Option<string?>("--block") { Description = "Block name (default: the plan's, else the folder name)" };
        var variety = new Option<string?>("--variety") { Description = "Apple variety, selects the thinning profile (default: the plan's)" };
        var spacing = new SpacingOptions();
        var wait = new BrokerWaitOption(null);
        var force = new Option<bool>("--force") { Description = "Replace the run already in --out (its store.gpkg, run.json, score.json, exports/); without it such a folder is refused" };
        var ignorePlanMismatch = new Option<bool>("--ignore-plan-mismatch")
        {
            Description = $"Exit 0 even when the recording's block plan does not fit the block scanned (without it such a scan exits {Cli.PlanDoesNotFit} after writing the map)",
        };
        var verbose = new Option<bool>("--verbose") { Description = "Workers' informational logs on stderr (default: warnings only)" };
        var command = new Command("scan", "Scan a recorded run: detect blossom clusters, geo-reference them to trees, write the per-tree map, prescription and exports.")
        {
            recording, output, broker, wait.Option, speedup, maxRate, block, variety, spacing.Tree, spacing.Row, force, ignorePlanMismatch, verbose,
        };
        command.SetAction(async (parse, ct) =>
        {
            if (parse.GetValue(maxRate) && parse.GetValue(speedup) is not null)
            {
                throw new CliException("--speedup and --max-rate exclude each other", Cli.UsageError);
            }
            var pace = parse.GetValue(speedup) switch
            {
                null => ReplayPace.AsFastAsAccepted,
                > 0 and <= 1000 and var n => ReplayPace.Faster(n),
                var n => throw new CliException($"--speedup {n}: expected a factor in (0, 1000]", Cli.UsageError),
            };
            var request = new ScanRequest(parse.GetValue(recording)!, parse.GetValue(output)!, pace, parse.GetValue(block), parse.GetValue(variety), spacing.Read(parse), parse.GetValue(force));
            var brokerUri = parse.GetValue(broker) ?? Environment.GetEnvironmentVariable(BrokerSession.BrokerEnvironmentVariable);
            using var loggerFactory = CreateLoggerFactory(parse.GetValue(verbose));
            var pipeline = new ScanPipeline(Configuration(), loggerFactory, Console.Error);
            ScanResult result;
            if (string.IsNullOrWhiteSpace(brokerUri))
            {
                if (parse.GetValue(wait.Option) is not null)
                {
                    throw new CliException($"--broker-wait applies to a scan on a broker (--broker or {BrokerSession.BrokerEnvironmentVariable})", Cli.UsageError);
                }
                result = await pipeline.RunEmbeddedAsync(request, ct);
            }
            else
            {
                await using var session = await BrokerSession.ConnectAsync(brokerUri, wait.Read(parse), Console.Error, ct);
                result = await session.RunAsync(token => pipeline.RunOnBrokerAsync(session.Bus, request, token), ct);
            }
            var map = result.Map;
            await Console.Out.WriteLineAsync(
                $"run {result.RunId}: {map.Trees} trees, {map.TreesWithClusters} with blossom clusters, {map.Observations} clusters mapped from {result.Frames.FramesPublished} frames in {result.Elapsed.TotalSeconds:0.0}s");
            await Console.Out.WriteLineAsync($"map: {Path.GetFullPath(request.OutDirectory)} (store.gpkg, run.json, exports/)");
            foreach (var warning in map.Warnings)
            {
                await Console.Out.WriteLineAsync($"warning: {warning}");
            }
            if (result.Fusion.PlanMismatch is { } mismatch)
            {
                var problem = PlanMismatchProblem(Path.Combine(request.RecordingDirectory, Recording.BlockFile), mismatch);
                if (!parse.GetValue(ignorePlanMismatch))
                {
                    throw new CliException($"{problem}; check the plan, or pass --ignore-plan-mismatch to keep this map", Cli.PlanDoesNotFit);
                }
                await Console.Out.WriteLineAsync($"warning: {problem} (--ignore-plan-mismatch)");
            }
            return 0;
        });
        return command;
    }

    private static string PlanMismatchProblem(string plan, PlanMismatch mismatch) => string.Create(CultureInfo.InvariantCulture,
        $"{plan} does not fit the block scanned: in {mismatch.FramesOffPlan} frames the cameras saw canopy far from every planned row ({mismatch.DistanceM:F0} m at the last one; another block's plan, or latitude and longitude swapped?), so no cluster there is counted on a tree");

    /// <summary>
    /// The embedded workers run on their modules' defaults, changed by the same TREESCOUT__ variables a worker process
    /// reads. Not appsettings.json: beside the CLI that would be whichever worker's file the build copied last.
    /// </summary>
    private static IConfiguration Configuration() => new ConfigurationBuilder().AddEnvironmentVariables(WorkerHost.EnvironmentPrefix).Build();

    private static SerilogLoggerFactory CreateLoggerFactory(bool verbose) => new(
        new LoggerConfiguration()
            .MinimumLevel.Is(verbose ? LogEventLevel.Information : LogEventLevel.Warning)
            .WriteTo.Console(
                outputTemplate: "{Timestamp:HH:mm:ss} {Level:u3} {SourceContext}: {Message:lj}{NewLine}{Exception}",
                standardErrorFromLevel: LogEventLevel.Verbose,
                formatProvider: System.Globalization.CultureInfo.InvariantCulture)
            .CreateLogger(),
        dispose: true);
}
