using System.CommandLine;
using TreeScout.Cli.RunControl;
using TreeScout.RunControl;

namespace TreeScout.Cli.Commands;

/// <summary>`treescout run start|stop|status`: operator control of a live scan run over the workers' RabbitMQ.</summary>
public static class RunCommand
{
    /// <summary>A bit more than one worker heartbeat interval (2 s by default, Status:HeartbeatInterval).</summary>
    private static readonly TimeSpan DefaultListen = TimeSpan.FromSeconds(2.5);

    /// <summary>`run status` is a snapshot: with the broker away it says so within seconds instead of waiting for it.</summary>
    public static readonly TimeSpan StatusBrokerWait = TimeSpan.FromSeconds(5);

    public static Command Create()
    {
        var run = new Command("run", "Start, stop and watch a live scan run (talks to the workers over RabbitMQ).");
        run.Subcommands.Add(Start());
        run.Subcommands.Add(Stop());
        run.Subcommands.Add(Status());
        return run;
    }

    private static Option<string?> BrokerOption() => new("--broker")
    {
        Description = $"RabbitMQ URI of the tractor's workers, amqp://user:password@host:5672/ (default: env {BrokerSession.BrokerEnvironmentVariable})",
    };

    private static Option<double> ListenOption() => new("--listen")
    {
        Description = "Seconds to listen for worker heartbeats (a bit more than one heartbeat interval)",
        DefaultValueFactory = _ => DefaultListen.TotalSeconds,
    };

    private static Command Start()
    {
        var block = new Option<string>("--block") { Description = "Orchard block name as the grower knows it", Required = true };
        var variety = new Option<string?>("--variety") { Description = "Apple variety (selects the thinning profile); default: the plan's" };
        var plan = new Option<string?>("--plan") { Description = "The block's planting plan, block.geojson (docs/recording-format.md); without it rows and trees are inferred" };
        var cameras = new Option<string>("--cameras")
        {
            Description = "The tractor's camera rig, camera.json (docs/recording-format.md)",
            DefaultValueFactory = _ => RunController.DefaultCamerasPath,
        };
        var spacing = new SpacingOptions();
        var broker = BrokerOption();
        var wait = new BrokerWaitOption(null);
        var listen = ListenOption();
        var command = new Command("start", "Start a scan run: capture starts filming, fusion and the map writer prepare the block's map.")
        {
            block, variety, plan, cameras, spacing.Tree, spacing.Row, broker, wait.Option, listen,
        };
        command.SetAction(async (result, ct) =>
        {
            // Read the local files and values first: a typo should not need a broker to be reported.
            var rig = RunController.ReadCameras(result.GetRequiredValue(cameras));
            var (planJson, blockPlan) = RunStarts.ReadPlan(result.GetValue(plan));
            var orchard = spacing.Read(result);
            var window = Listen(result, listen);
            await using var session = await BrokerSession.ConnectAsync(result.GetValue(broker), wait.Read(result), Console.Error, ct);
            var controller = new RunController(session.Bus, new HeartbeatWindow(session, window), Console.Error);
            var request = new RunStartRequest(result.GetRequiredValue(block), result.GetValue(variety), planJson, blockPlan, rig, orchard);
            var started = await session.RunAsync(token => controller.StartAsync(request, DateTimeOffset.UtcNow, token), ct);
            await Console.Error.WriteLineAsync($"started run {started.RunId}: block {started.Block}{(started.Variety is null ? "" : ", " + started.Variety)}, {started.Cameras.Count} camera(s){(started.BlockPlanGeoJson is null ? ", no plan" : "")}");
            await Console.Out.WriteLineAsync(started.RunId);
            return 0;
        });
        return command;
    }

    private static Command Stop()
    {
        var runId = new Option<string?>("--run") { Description = "Run to stop (default: the run capture reports as active)" };
        var broker = BrokerOption();
        var wait = new BrokerWaitOption(null);
        var listen = ListenOption();
        var command = new Command("stop", "Stop the active scan run: capture stops, fusion and the map writer finish and write the final map.") { runId, broker, wait.Option, listen };
        command.SetAction(async (result, ct) =>
        {
            var window = Listen(result, listen);
            await using var session = await BrokerSession.ConnectAsync(result.GetValue(broker), wait.Read(result), Console.Error, ct);
            var controller = new RunController(session.Bus, new HeartbeatWindow(session, window), Console.Error);
            var stop = await session.RunAsync(token => controller.StopAsync(result.GetValue(runId), DateTimeOffset.UtcNow, token), ct);
            await Console.Error.WriteLineAsync($"stop requested for run {stop.RunId}; `treescout run status` shows when the final map is written");
            await Console.Out.WriteLineAsync(stop.RunId);
            return 0;
        });
        return command;
    }

    private static Command Status()
    {
        var runId = new Option<string?>("--run") { Description = "Only succeed if this run is active" };
        var json = new Option<bool>("--json") { Description = "Machine-readable output" };
        var broker = BrokerOption();
        var wait = new BrokerWaitOption(StatusBrokerWait);
        var listen = ListenOption();
        var command = new Command("status", "Per-worker health, frames captured/detected/fused/written, dead letters, queue depths, GNSS fix quality, warnings.")
        {
            runId, json, broker, wait.Option, listen,
        };
        command.SetAction(async (result, ct) =>
        {
            var window = Listen(result, listen);
            await using var session = await BrokerSession.ConnectAsync(result.GetValue(broker), wait.Read(result), Console.Error, ct);
            await Console.Error.WriteLineAsync($"listening for worker heartbeats on {session.Broker} for {window.TotalSeconds:0.#}s ...");
            var report = await session.RunAsync(token => RunStatusReport.CollectAsync(session.Bus, session.Broker, new HeartbeatWindow(session, window), result.GetValue(runId), token), ct);
            await Console.Out.WriteAsync(result.GetValue(json) ? report.ToJson() + Environment.NewLine : report.ToText());
            return 0;
        });
        return command;
    }

    private static TimeSpan Listen(ParseResult result, Option<double> listen)
    {
        var seconds = result.GetValue(listen);
        return seconds is > 0 and <= 600
            ? TimeSpan.FromSeconds(seconds)
            : throw new CliException($"--listen {seconds}: expected seconds between 0 and 600", Cli.UsageError);
    }
}
