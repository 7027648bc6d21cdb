namespace TreeScout.RunControl;

/// <summary>
/// Run control refused or could not do what was asked; the message is one line the operator can act on. A usage error
/// is the request's own fault (a bad plan, a missing block), not the pipeline's: the CLI exits 2 for it.
/// </summary>
public sealed class RunControlException : Exception
{
    public RunControlException(string message, bool isUsageError)
        : base(message) => IsUsageError = isUsageError;

    public RunControlException(string message)
        : this(message, isUsageError: false)
    {
    }

    public RunControlException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public RunControlException()
        : this("run control failed")
    {
    }

    public bool IsUsageError { get; }
}
