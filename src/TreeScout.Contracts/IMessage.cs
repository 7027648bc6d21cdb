namespace TreeScout.Contracts;

/// <summary>Every message on the bus: who it belongs to, which one it is, which shape it has.</summary>
public interface IMessage
{
    /// <summary>Unique per logical message; redeliveries and re-publications of the same fact keep it (idempotency key).</summary>
    Guid MessageId { get; }

    /// <summary>The scan run this message belongs to (see <see cref="RunIds"/>).</summary>
    string RunId { get; }

    /// <summary>Version of this record's shape; consumers reject versions they do not know.</summary>
    int SchemaVersion { get; }
}
