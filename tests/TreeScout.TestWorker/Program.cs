using TreeScout.Hosting;
using TreeScout.TestWorker;

return await WorkerHost.RunAsync(WorkerHost.CreateBuilder(args, new RelayWorkerModule()));
