namespace TreeScout.Contracts;

/// <summary>The thinning-map writer refreshed a run's map; <see cref="Final"/> once the run is complete and all exports are written.</summary>
public sealed record MapUpdated : IMessage
{
    public const int CurrentSchemaVersion = 1;

    public required Guid MessageId { get; init; }

    public required string RunId { get; init; }

    public int SchemaVersion { get; init; } = CurrentSchemaVersion;

    public required bool Final { get; init; }

    public required DateTimeOffset UpdatedAtUtc { get; init; }

    public required int Trees { get; init; }

    public required int TreesWithClusters { get; init; }

    public required long Observations { get; init; }

    /// <summary>The run's store (GeoPackage) on the writer's disk.</summary>
    public required string StorePath { get; init; }

    /// <summary>Export files written for this update, paths on the writer's disk.</summary>
    public required IReadOnlyList<string> Exports { get; init; }

    public IReadOnlyList<string> Warnings { get; init; } = [];
}
