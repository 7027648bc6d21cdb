using System.Text.Json.Serialization;

namespace TreeScout.Contracts;

/// <summary>Source-generated System.Text.Json metadata for every message: the one wire format (docs/wire-format.md).</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UseStringEnumConverter = true,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(RunStarted))]
[JsonSerializable(typeof(RunStopRequested))]
[JsonSerializable(typeof(RunStopped))]
[JsonSerializable(typeof(FrameCaptured))]
[JsonSerializable(typeof(GnssFix))]
[JsonSerializable(typeof(FrameDetections))]
[JsonSerializable(typeof(TreeObservations))]
[JsonSerializable(typeof(RunFused))]
[JsonSerializable(typeof(MapUpdated))]
[JsonSerializable(typeof(WorkerStatus))]
[JsonSerializable(typeof(RunLedgerMark))]
[JsonSerializable(typeof(RunFusionProgress))]
[JsonSerializable(typeof(RunCaptureProgress))]
[JsonSerializable(typeof(RunInterrupted))]
[JsonSerializable(typeof(ReviewFrameSampled))]
[JsonSerializable(typeof(ReviewFramePose))]
[JsonSerializable(typeof(CameraMounting))]
public sealed partial class ContractsJsonContext : JsonSerializerContext;
