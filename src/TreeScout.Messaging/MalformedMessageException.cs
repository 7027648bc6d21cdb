namespace TreeScout.Messaging;

/// <summary>
/// The message can never be handled as it is (undecodable body, unknown type or schema version, a frame
/// that is not an image). It goes to the dead-letter queue at once with <see cref="Exception.Message"/> as reason.
/// </summary>
public sealed class MalformedMessageException : Exception
{
    public MalformedMessageException(string reason)
        : base(reason)
    {
    }

    public MalformedMessageException(string reason, Exception inner)
        : base(reason, inner)
    {
    }

    public MalformedMessageException()
    {
    }
}

/// <summary>The broker (or in-memory bus) refused a message, e.g. because its queue is full; it was not stored.</summary>
public sealed class PublishRejectedException : Exception
{
    public PublishRejectedException(string message)
        : base(message)
    {
    }

    public PublishRejectedException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public PublishRejectedException()
    {
    }
}
