using Microsoft.Extensions.Logging;
using TreeScout.Contracts;
using TreeScout.Messaging;

namespace TreeScout.Central;

/// <summary>
/// One uplinked message into the season store: the tractor from the routing key (<see cref="CentralTopology.TractorOf"/>),
/// then the store's idempotent write for the message's type (the bus has decoded it with the wire format's own
/// <see cref="MessageCodec"/>). Returns once the write has committed, so the caller acknowledges after it. A delivery that can never be stored
/// throws <see cref="MalformedMessageException"/> with the reason the dead-letter queue keeps.
/// </summary>
public sealed class CentralIngest(SeasonStore store, TimeProvider clock, ILogger<CentralIngest> logger)
{
    public async Task<IngestOutcome> HandleAsync(string routingKey, IMessage message, CancellationToken cancellationToken)
    {
        var tractor = CentralTopology.TractorOf(routingKey)
            ?? throw new MalformedMessageException($"routing key '{Reasons.OneLine(routingKey)}' is not a tractor's (tractor.<tractor id>.<key>)");
        var outcome = message switch
        {
            RunStarted m => await store.StartRunAsync(tractor, m, cancellationToken),
            TreeObservations m => await store.AddObservationsAsync(tractor, m, cancellationToken),
            RunStopped m => await store.StopRunAsync(tractor, m, cancellationToken),
            RunFused m => await store.FuseRunAsync(tractor, m, clock.GetUtcNow(), cancellationToken),
            RunInterrupted m => await store.InterruptRunAsync(tractor, m, cancellationToken),
            MapUpdated m => await store.RecordTractorMapAsync(tractor, m, cancellationToken),
            // The uplink's ledger binding (progress) also carries capture's and fusion's running accounts, which only a
            // restarting tractor worker needs: acknowledged, not kept.
            RunCaptureProgress or RunFusionProgress => IngestOutcome.NothingKept,
            _ => throw new MalformedMessageException($"{MessageTypes.Of(message.GetType()).Name} of run {message.RunId} from tractor {tractor}: the season store keeps run lifecycle, observations and final maps only"),
        };
        if (outcome.ObservationsDuplicate > 0)
        {
            logger.LogInformation("Tractor {Tractor} run {RunId}: {Duplicates} observations of {MessageId} were already stored (redelivery)",
                tractor, message.RunId, outcome.ObservationsDuplicate, message.MessageId);
        }
        return outcome;
    }
}
