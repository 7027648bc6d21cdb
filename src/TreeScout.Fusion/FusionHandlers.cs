using Microsoft.Extensions.Hosting;
using TreeScout.Contracts;
using TreeScout.Messaging;

namespace TreeScout.Fusion;

/// <summary>The fusion worker's message handlers: both queues feed the one <see cref="FusionEngine"/>.</summary>
public sealed class FusionHandlers(FusionEngine engine) :
    IMessageHandler<RunStarted>,
    IMessageHandler<RunStopped>,
    IMessageHandler<FrameDetections>,
    IMessageHandler<GnssFix>
{
    public Task HandleAsync(RunStarted message, MessageContext context, CancellationToken cancellationToken) =>
        engine.OnRunStartedAsync(message, context, cancellationToken);

    public Task HandleAsync(RunStopped message, MessageContext context, CancellationToken cancellationToken) =>
        engine.OnRunStoppedAsync(message, context, cancellationToken);

    public Task HandleAsync(FrameDetections message, MessageContext context, CancellationToken cancellationToken) =>
        engine.OnDetectionsAsync(message, context, cancellationToken);

    public Task HandleAsync(GnssFix message, MessageContext context, CancellationToken cancellationToken) =>
        engine.OnFixAsync(message, context, cancellationToken);
}

/// <summary>Drives the engine's timeouts (a stopped run whose last frames never come is closed after the quiet timeout).</summary>
public sealed class FusionTickService(FusionEngine engine, IMessageBus bus, TimeProvider clock) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1), clock);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await engine.TickAsync(bus, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down.
        }
    }
}
