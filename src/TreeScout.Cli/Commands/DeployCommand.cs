using System.CommandLine;
using TreeScout.Cli.Deploy;
using TreeScout.Messaging;

namespace TreeScout.Cli.Commands;

/// <summary>`treescout deploy ...`: artefacts of the k3s deployment that are derived from code.</summary>
public static class DeployCommand
{
    public static Command Create()
    {
        var deploy = new Command("deploy", "Generate deployment artefacts that are derived from the code (deploy/, docs/operations.md).");
        deploy.Subcommands.Add(CreateRabbitMqDefinitions());
        deploy.Subcommands.Add(CreateCentralDefinitions());
        return deploy;
    }

    private static Command CreateRabbitMqDefinitions()
    {
        var vhost = new Option<string>("--vhost") { Description = "Virtual host the definitions create and grant.", DefaultValueFactory = _ => RabbitMqDefinitions.DefaultVhost };
        var userPrefix = new Option<string>("--user-prefix") { Description = "Prefix of the per-worker user names (user = prefix + role).", DefaultValueFactory = _ => RabbitMqDefinitions.DefaultUserPrefix };
        var uplink = new Option<bool>("--uplink") { Description = "Add the uplink queue and its shovel to the central broker (docs/adr/0057); the tractor id and central URI come from the broker Secret at boot." };
        var output = OutputOption();
        var check = CheckOption();
        var command = new Command("rabbitmq-definitions", "RabbitMQ definitions (vhost, exchanges, quorum queues, bindings, dead-letter pairs, per-worker permissions) from the code's topology; no users or passwords.")
        {
            vhost, userPrefix, uplink, output, check,
        };
        command.SetAction((parse, ct) =>
        {
            var topology = new Topology(new TopologyOptions { Uplink = parse.GetValue(uplink) });
            var definitions = RabbitMqDefinitions.Generate(topology, parse.GetValue(vhost)!, parse.GetValue(userPrefix)!);
            return EmitAsync(definitions, parse.GetValue(output), parse.GetValue(check), "the topology in code", "treescout deploy rabbitmq-definitions", ct);
        });
        return command;
    }

    private static Command CreateCentralDefinitions()
    {
        var tractors = new Option<string>("--tractors") { Description = "Comma-separated ids of the tractors that may forward their runs (each gets the user tractor-<id>).", Required = true };
        var output = OutputOption();
        var check = CheckOption();
        var command = new Command("central-definitions", "The central broker's RabbitMQ definitions: vhost, exchange, ingest queue, the ingest user's and each tractor's permissions (own routing keys only); no users or passwords.")
        {
            tractors, output, check,
        };
        command.SetAction((parse, ct) =>
        {
            string definitions;
            try
            {
                definitions = CentralDefinitions.Generate(parse.GetValue(tractors)!.Split(',', StringSplitOptions.TrimEntries));
            }
            catch (ArgumentException ex)
            {
                // Without ArgumentException's " (Parameter 'x')" suffix: the user named no parameter.
                throw new CliException($"--tractors: {ex.Message.Replace($" (Parameter '{ex.ParamName}')", "", StringComparison.Ordinal)}", Cli.UsageError);
            }
            return EmitAsync(definitions, parse.GetValue(output), parse.GetValue(check), "the tractor list", "treescout deploy central-definitions --tractors ...", ct);
        });
        return command;
    }

    private static Option<FileInfo?> OutputOption() => new("--out") { Description = "Write to this file instead of standard output." };

    private static Option<FileInfo?> CheckOption() => new("--check") { Description = "Exit 1 if this committed file differs from the generated definitions." };

    private static async Task<int> EmitAsync(string definitions, FileInfo? output, FileInfo? check, string source, string regenerate, CancellationToken ct)
    {
        if (check is { } committed)
        {
            if (!committed.Exists)
            {
                throw new CliException($"{committed.FullName} does not exist; generate it with --out");
            }
            if (await File.ReadAllTextAsync(committed.FullName, ct) != definitions)
            {
                throw new CliException($"{committed.FullName} differs from {source}; regenerate it: {regenerate} --out {committed.FullName}");
            }
            await Console.Out.WriteLineAsync($"{committed.FullName} matches {source}");
            return 0;
        }
        if (output is { } file)
        {
            await File.WriteAllTextAsync(file.FullName, definitions, ct);
            return 0;
        }
        await Console.Out.WriteAsync(definitions);
        return 0;
    }
}
