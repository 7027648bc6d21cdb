using System.CommandLine;
using System.Globalization;
using TreeScout.Cli.RunControl;
using TreeScout.WebConsole;
using TreeScout.WebConsole.Security;

namespace TreeScout.Cli.Commands;

/// <summary>
/// `treescout console --runs DIR`: the operator's cab screen and the agronomists' run maps in a browser, the same host
/// the container runs (docs/console.md); `--season-store CONNECTION` shows every tractor's runs from the central season
/// store instead, read-only. `treescout console hash-password` makes the account and PIN lines ops mount.
/// </summary>
public static class ConsoleCommand
{
    public static Command Create()
    {
        var runs = new Option<string?>("--runs") { Description = "Folder of run folders (or one run folder, e.g. scan --out's); only read" };
        var seasonStore = new Option<string?>("--season-store") { Description = "Central mode instead of --runs: every tractor's runs from the season store at this PostgreSQL connection string (a read-only role; default: env TREESCOUT__Central__ConnectionString), no run control" };
        var broker = new Option<string?>("--broker") { Description = $"RabbitMQ URI of the tractor's workers for live status and run control (default: env {BrokerSession.BrokerEnvironmentVariable}); without one the console only shows the runs" };
        var port = new Option<int>("--port") { Description = "Port to serve on", DefaultValueFactory = _ => new ConsoleOptions().Port };
        var bind = new Option<string>("--bind") { Description = "Address to serve on (127.0.0.1: this machine only; another address needs --accounts)", DefaultValueFactory = _ => new ConsoleOptions().BindAddress };
        var accounts = new Option<string?>("--accounts") { Description = "Accounts file (name:role:hash lines); with it, pages need signing in" };
        var pin = new Option<string?>("--pin-file") { Description = "File with the operator PIN's hash; without it run control is locked" };
        var plans = new Option<string?>("--plans") { Description = "Folder uploaded block plans are kept in (default: treescout/plans in the user's data folder)" };
        var cameras = new Option<string?>("--cameras") { Description = $"The tractor's camera rig sent with a run's start (default {TreeScout.RunControl.RunController.DefaultCamerasPath})" };
        var command = new Command("console", "Serve the console: the cab screen (start, stop, live status and map) and the run maps, in a browser.")
        {
            runs, seasonStore, broker, port, bind, accounts, pin, plans, cameras,
        };
        command.Subcommands.Add(HashPassword());
        command.SetAction(async (result, ct) =>
        {
            if (result.GetValue(runs) is not null && result.GetValue(seasonStore) is not null)
            {
                await Console.Error.WriteLineAsync("console: give --runs (a tractor's run folders) or --season-store (the central season store), not both");
                return Cli.UsageError;
            }
            var settings = new Dictionary<string, string?>
            {
                ["Console:Port"] = result.GetValue(port).ToString(CultureInfo.InvariantCulture),
                ["Console:BindAddress"] = result.GetValue(bind),
                // Readable lines in a terminal, unless the environment asks for JSON (TREESCOUT__Logging__Format).
                ["Logging:Format"] = Environment.GetEnvironmentVariable("TREESCOUT__Logging__Format") ?? "text",
            };
            Add(settings, "Console:Runs", result.GetValue(runs));
            if (result.GetValue(seasonStore) is { } connection)
            {
                settings["Console:Mode"] = nameof(ConsoleMode.Central);
                settings[ConsoleOptions.SeasonStoreSetting] = connection;
            }
            if (result.GetValue(broker) is { } uri)
            {
                settings["Broker:Uri"] = BrokerSession.ResolveUri(uri);
            }
            Add(settings, "Console:Accounts", result.GetValue(accounts));
            Add(settings, "Console:Pin", result.GetValue(pin));
            Add(settings, "Console:Plans", result.GetValue(plans));
            Add(settings, "Console:Cameras", result.GetValue(cameras));
            var exit = await ConsoleHost.RunAsync(ConsoleHost.CreateBuilder([], settings), Console.Error);
            return exit == 0 || exit == Cli.Failure ? exit : Cli.UsageError;
        });
        return command;
    }

    private static void Add(Dictionary<string, string?> settings, string key, string? path)
    {
        if (path is not null)
        {
            settings[key] = Path.GetFullPath(path);
        }
    }

    private static Command HashPassword()
    {
        var user = new Option<string?>("--user") { Description = "Account name (letters, digits, . _ -)" };
        var role = new Option<string?>("--role") { Description = $"Account role: {string.Join(" or ", ConsoleRoles.AccountRoles)}" };
        var pin = new Option<bool>("--pin") { Description = "Hash the operator PIN (4 to 8 digits) instead of an account's password" };
        var command = new Command("hash-password", "Read a password (or the PIN) from standard input and print the line for the accounts (or PIN) file.") { user, role, pin };
        command.SetAction(async (result, ct) =>
        {
            var secret = (await Console.In.ReadLineAsync(ct))?.TrimEnd('\r') ?? "";
            await Console.Out.WriteLineAsync(AccountLine(result.GetValue(user), result.GetValue(role), result.GetValue(pin), secret));
            return 0;
        });
        return command;
    }

    /// <summary>The line to add: "name:role:hash" for an account, the hash alone for the PIN; a weak secret is refused.</summary>
    public static string AccountLine(string? user, string? role, bool pin, string secret)
    {
        if (pin)
        {
            if (user is not null || role is not null)
            {
                throw new CliException("--pin hashes the operator PIN: leave out --user and --role", Cli.UsageError);
            }
            return secret.Length is >= 4 and <= 8 && secret.All(char.IsAsciiDigit)
                ? SecretHash.Create(secret)
                : throw new CliException("the PIN must be 4 to 8 digits", Cli.UsageError);
        }
        if (string.IsNullOrWhiteSpace(user) || !user.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
        {
            throw new CliException("--user NAME is required (letters, digits, . _ -), or --pin for the operator PIN", Cli.UsageError);
        }
        if (role is null || !ConsoleRoles.AccountRoles.Contains(role))
        {
            throw new CliException($"--role must be {string.Join(" or ", ConsoleRoles.AccountRoles)}", Cli.UsageError);
        }
        return secret.Length >= 10
            ? $"{user}:{role}:{SecretHash.Create(secret)}"
            : throw new CliException("the password must have at least 10 characters", Cli.UsageError);
    }
}
