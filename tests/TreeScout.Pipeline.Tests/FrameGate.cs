using TreeScout.Contracts;
using TreeScout.Messaging;

namespace TreeScout.Pipeline.Tests;

/// <summary>
/// The scan's bus with a gate on its frames: <see cref="HoldAfterAsync"/> lets a number of frames through, then holds
/// the next one until <see cref="Release"/>. A disruption test puts its fault between the two, so the fault lands with
/// frames still to send however long the machine takes to restart a broker or a worker — a replay catches up on the
/// frames a stall made overdue, so a schedule in seconds alone can find the scan already finished.
/// </summary>
internal sealed class FrameGate(IMessageBus bus) : DelegatingMessageBus(bus)
{
    private readonly object _lock = new();
    private long _framesPassed;
    private long _holdAfter = long.MaxValue;
    private TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Returns once <paramref name="frames"/> frames went through and the next one is held.</summary>
    public Task HoldAfterAsync(long frames, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_framesPassed > frames)
            {
                throw new InvalidOperationException($"{_framesPassed} frames already went through, more than {frames}");
            }
            _holdAfter = frames;
            _reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _released = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _reached.Task.WaitAsync(cancellationToken);
        }
    }

    /// <summary>Lets the held frame, and every later one, through.</summary>
    public void Release()
    {
        lock (_lock)
        {
            _holdAfter = long.MaxValue;
            _released.TrySetResult();
        }
    }

    public override async Task PublishAsync(IMessage message, CancellationToken cancellationToken = default)
    {
        if (message is FrameCaptured)
        {
            Task? held = null;
            lock (_lock)
            {
                if (_framesPassed >= _holdAfter)
                {
                    _reached.TrySetResult();
                    held = _released.Task;
                }
            }
            if (held is not null)
            {
                await held.WaitAsync(cancellationToken);
            }
        }
        await base.PublishAsync(message, cancellationToken);
        if (message is FrameCaptured)
        {
            lock (_lock)
            {
                _framesPassed++;
            }
        }
    }
}
