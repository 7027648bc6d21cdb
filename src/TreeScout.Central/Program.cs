using TreeScout.Central;

return await CentralWorker.RunAsync(args);
