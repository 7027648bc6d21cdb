using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace TreeScout.Messaging.Tests;

/// <summary>Keeps every log event (debug and up) for assertions and echoes information and up to the test output.</summary>
public sealed class CapturingLoggerProvider(ITestOutputHelper output) : ILoggerProvider
{
    public sealed record Entry(LogLevel Level, string Category, string Message);

    private readonly ConcurrentQueue<Entry> _entries = new();

    public IReadOnlyList<Entry> Entries => [.. _entries];

    public ILoggerFactory CreateFactory() => LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Debug).AddProvider(this));

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(CapturingLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var message = formatter(state, exception);
            provider._entries.Enqueue(new Entry(logLevel, category, message));
            if (logLevel < LogLevel.Information)
            {
                return;
            }
            try
            {
                provider._output.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel} {category}: {message}");
            }
            catch (InvalidOperationException)
            {
                // The test already finished.
            }
        }
    }

    private readonly ITestOutputHelper _output = output;
}
