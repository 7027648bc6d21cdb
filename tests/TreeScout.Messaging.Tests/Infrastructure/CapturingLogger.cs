using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using TreeScout.Tests;
using Xunit.Abstractions;

namespace TreeScout.Messaging.Tests.Infrastructure;

/// <summary>Keeps every log event (debug and up) for assertions; information and up also go to the test output.</summary>
public sealed class CapturingLoggerProvider(ITestOutputHelper output) : ILoggerProvider
{
    public sealed record Entry(LogLevel Level, string Category, string Message);

    private readonly ConcurrentQueue<Entry> _entries = new();
    private readonly TestOutputLoggerProvider _echo = new(output);

    public IReadOnlyList<Entry> Entries => [.. _entries];

    public ILoggerFactory CreateFactory() => LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Debug).AddProvider(this));

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName, _echo.CreateLogger(categoryName));

    public void Dispose() => _echo.Dispose();

    private sealed class Logger(CapturingLoggerProvider provider, string category, ILogger echo) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            provider._entries.Enqueue(new Entry(logLevel, category, formatter(state, exception)));
            echo.Log(logLevel, eventId, state, exception, formatter);
        }
    }
}
