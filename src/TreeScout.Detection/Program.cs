using TreeScout.Detection;
using TreeScout.Hosting;

return await WorkerHost.RunAsync(WorkerHost.CreateBuilder(args, new DetectionWorkerModule()));
