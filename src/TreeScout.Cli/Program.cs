using System.CommandLine;
using TreeScout.Cli;
using TreeScout.Cli.Commands;

// Each command lives in Commands/<Name>Command.cs and adds itself here, one line each.
var root = new RootCommand("TreeScout: orchard blossom scanning — scan recorded runs, control live runs, export thinning maps.");
root.Subcommands.Add(ScanCommand.Create());
root.Subcommands.Add(SimulateCommand.Create());
root.Subcommands.Add(ScoreCommand.Create());
root.Subcommands.Add(ExportCommand.Create());
root.Subcommands.Add(CalibrateCommand.Create());
root.Subcommands.Add(DetectCommand.Create());
root.Subcommands.Add(ClassifyStageCommand.Create());
root.Subcommands.Add(RunCommand.Create());
root.Subcommands.Add(DeployCommand.Create());
root.Subcommands.Add(HealthCommand.Create());
root.Subcommands.Add(GnssCommand.Create());
root.Subcommands.Add(ConsoleCommand.Create());
root.Subcommands.Add(CentralCommand.Create());
root.Subcommands.Add(DatasetCommand.Create());
return await Cli.InvokeAsync(root, args);
