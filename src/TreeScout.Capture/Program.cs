using TreeScout.Capture;
using TreeScout.Hosting;

return await WorkerHost.RunAsync(WorkerHost.CreateBuilder(args, new CaptureWorkerModule()));
