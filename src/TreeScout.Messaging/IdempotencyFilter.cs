namespace TreeScout.Messaging;

/// <summary>
/// Remembers the ids of the last N messages a consumer completed, so a redelivery of a message already handled
/// (e.g. its ack was lost with a connection) is acknowledged without running the handler again. Durable
/// idempotency across restarts is the handlers' job (e.g. the store's primary key); this catches the common case cheaply.
/// </summary>
public sealed class IdempotencyFilter(int capacity = 100_000)
{
    private readonly Lock _gate = new();
    private readonly HashSet<Guid> _seen = [];
    private readonly Queue<Guid> _order = new();

    public bool Contains(Guid id)
    {
        lock (_gate)
        {
            return _seen.Contains(id);
        }
    }

    public void Add(Guid id)
    {
        lock (_gate)
        {
            if (!_seen.Add(id))
            {
                return;
            }
            _order.Enqueue(id);
            if (_order.Count > capacity)
            {
                _seen.Remove(_order.Dequeue());
            }
        }
    }
}
