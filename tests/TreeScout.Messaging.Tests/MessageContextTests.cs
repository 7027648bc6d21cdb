using TreeScout.Contracts;
using TreeScout.Messaging.Tests.Infrastructure;

namespace TreeScout.Messaging.Tests;

/// <summary>A <see cref="MessageContext"/> made for calling a handler directly, without a bus.</summary>
[Trait("Category", "Unit")]
public sealed class MessageContextTests
{
    [Fact]
    public async Task A_handler_called_directly_publishes_into_the_given_publisher_and_its_deferred_acknowledgement_is_visible()
    {
        var published = new PublishedMessages();
        IDeferredAcknowledgement? held = null;
        var handler = new RecordingHandler<GnssFix>(async (fix, context) =>
        {
            await context.Publisher.PublishAsync(TestMessages.Observations(fix.Sequence));
            held = context.DeferAcknowledgement();
        });
        var first = new MessageContext(Topology.FusionGnssQueue, published);
        var again = new MessageContext(Topology.FusionGnssQueue, published, deliveryCount: 3);

        await handler.HandleAsync(TestMessages.Fix(1), first, CancellationToken.None);
        Assert.True(first.IsAcknowledgementDeferred);
        Assert.True(first.IsAcknowledgementPending);
        held!.Acknowledge();
        Assert.False(first.IsAcknowledgementPending);

        await handler.HandleAsync(TestMessages.Fix(2), again, CancellationToken.None);
        Assert.Equal((1, false, 3, true), (first.DeliveryCount, first.IsRedelivery, again.DeliveryCount, again.IsRedelivery));
        Assert.Equal([MessageIds.For(TestMessages.RunId, "observations", 1), MessageIds.For(TestMessages.RunId, "observations", 2)], published.Select(m => m.MessageId));
        Assert.True(again.IsAcknowledgementPending);
    }

    [Fact]
    public async Task Without_a_publisher_a_handler_that_publishes_fails_naming_the_queue_and_the_message()
    {
        var context = new MessageContext(Topology.MapWriterObservationsQueue);

        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => context.Publisher.PublishAsync(TestMessages.Observations(0)));
        Assert.Equal("the handler of treescout.mapwriter.observations published a TreeObservations, but its MessageContext was made without a publisher", ex.Message);
        Assert.False(context.IsAcknowledgementDeferred);
        Assert.Throws<ArgumentOutOfRangeException>(() => new MessageContext(Topology.MapWriterObservationsQueue, deliveryCount: 0));
    }
}
