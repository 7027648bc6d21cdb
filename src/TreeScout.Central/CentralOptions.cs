using System.ComponentModel.DataAnnotations;

namespace TreeScout.Central;

/// <summary>The central ingest worker's settings (section "Central"; env TREESCOUT__Central__...).</summary>
public sealed class CentralOptions
{
    public const string Section = "Central";

    /// <summary>The season store: an Npgsql connection string (Host=...;Database=...;Username=...;Password=...).</summary>
    [Required]
    public string Database { get; set; } = "";

    /// <summary>The central broker's vhost: amqp://user:password@host:5672/treescout-central.</summary>
    [Required]
    public string Broker { get; set; } = "";

    /// <summary>Deliveries in flight; they are handled one at a time in queue order, the rest wait ready in the client.</summary>
    [Range(1, 1000)]
    public ushort Prefetch { get; set; } = 32;

    /// <summary>
    /// True: the worker declares the central exchange, ingest queue and its dead-letter pair at connect (development,
    /// tests). False: the central broker's definitions own them and the worker only checks they exist.
    /// </summary>
    public bool DeclareTopology { get; set; } = true;

    /// <summary>Failed attempts of a delivery (other than the database being unreachable) before it is dead-lettered.</summary>
    [Range(1, 100)]
    public int DeliveryLimit { get; set; } = 5;

    /// <summary>Variety profiles (the map writer's YAML files) the per-tree prescription is computed with.</summary>
    [Required]
    public string Varieties { get; set; } = "Varieties";
}
