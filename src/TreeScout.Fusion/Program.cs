using TreeScout.Fusion;
using TreeScout.Hosting;

return await WorkerHost.RunAsync(WorkerHost.CreateBuilder(args, new FusionWorkerModule()));
