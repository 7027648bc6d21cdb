using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using TreeScout.Central;
using TreeScout.Hosting;

var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.Configuration.AddEnvironmentVariables(WorkerHost.EnvironmentPrefix);
CentralWorker.ConfigureServices(builder.Services, builder.Configuration);
try
{
    await builder.Build().RunAsync();
    return 0;
}
catch (OptionsValidationException ex)
{
    await Console.Error.WriteLineAsync($"central-ingest: invalid configuration: {string.Join("; ", ex.Failures)}");
    return WorkerHost.ConfigurationError;
}
