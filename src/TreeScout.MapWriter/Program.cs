using TreeScout.MapWriter;
using TreeScout.Hosting;

return await WorkerHost.RunAsync(WorkerHost.CreateBuilder(args, new MapWriterWorkerModule()));
