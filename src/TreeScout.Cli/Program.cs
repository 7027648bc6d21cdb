using System.CommandLine;
using TreeScout.Cli;

// Each command lives in Commands/<Name>Command.cs and adds itself here, one line each.
var root = new RootCommand("TreeScout: orchard blossom scanning — scan recorded runs, control live runs, export thinning maps.");
root.Subcommands.Add(TreeScout.Cli.Commands.SimulateCommand.Create());
root.Subcommands.Add(TreeScout.Cli.Commands.ScoreCommand.Create());
root.Subcommands.Add(ExportCommand.Create());
root.Subcommands.Add(TreeScout.Cli.Commands.GnssCommand.Create());
return await Cli.InvokeAsync(root, args);
