using TreeScout.WebConsole;

// The console's own process (the container's `console` command); `treescout console` runs the same host.
return await ConsoleHost.RunAsync(ConsoleHost.CreateBuilder(args));

