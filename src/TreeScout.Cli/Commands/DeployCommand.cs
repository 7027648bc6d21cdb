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
        return deploy;
    }

    private static Command CreateRabbitMqDefinitions()
    {
        var vhost = new Option<string>("--vhost") { Description = "Virtual host the definitions create and grant.", DefaultValueFactory = _ => RabbitMqDefinitions.DefaultVhost };
        var userPrefix = new Option<string>("--user-prefix") { Description = "Prefix of the per-worker user names (user = prefix + role).", DefaultValueFactory = _ => RabbitMqDefinitions.DefaultUserPrefix };
        var output = new Option<FileInfo?>("--out") { Description = "Write to this file instead of standard output." };
        var check = new Option<FileInfo?>("--check") { Description = "Exit 1 if this committed file differs from the generated definitions." };
        var command = new Command("rabbitmq-definitions", "RabbitMQ definitions (vhost, exchanges, quorum queues, bindings, dead-letter pairs, per-worker permissions) from the code's topology; no users or passwords.")
        {
            vhost, userPrefix, output, check,
        };
        command.SetAction(async (parse, ct) =>
        {
            var definitions = RabbitMqDefinitions.Generate(new Topology(new TopologyOptions()), parse.GetValue(vhost)!, parse.GetValue(userPrefix)!);
            if (parse.GetValue(check) is { } committed)
            {
                if (!committed.Exists)
                {
                    throw new CliException($"{committed.FullName} does not exist; generate it with --out");
                }
                if (await File.ReadAllTextAsync(committed.FullName, ct) != definitions)
                {
                    throw new CliException($"{committed.FullName} differs from the topology in code; regenerate it: treescout deploy rabbitmq-definitions --out {committed.FullName}");
                }
                await Console.Out.WriteLineAsync($"{committed.FullName} matches the topology in code");
                return 0;
            }
            if (parse.GetValue(output) is { } file)
            {
                await File.WriteAllTextAsync(file.FullName, definitions, ct);
                return 0;
            }
            await Console.Out.WriteAsync(definitions);
            return 0;
        });
        return command;
    }
}
