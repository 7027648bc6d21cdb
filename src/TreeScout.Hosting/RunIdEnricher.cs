using Serilog.Core;
using Serilog.Events;

namespace TreeScout.Hosting;

/// <summary>Adds the worker's active run (or "idle") to events that do not already carry a RunId from a handler scope.</summary>
public sealed class RunIdEnricher(ActiveRun activeRun) : ILogEventEnricher
{
    public void Enrich(LogEvent logEvent, ILogEventPropertyFactory propertyFactory) =>
        logEvent.AddPropertyIfAbsent(propertyFactory.CreateProperty("RunId", activeRun.RunId ?? "idle"));
}
