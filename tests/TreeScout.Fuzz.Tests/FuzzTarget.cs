using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using CsCheck;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace TreeScout.Fuzz.Tests;

/// <summary>
/// How long the fuzz targets run and on which inputs. By default each target runs its fixed number of inputs, input i
/// always generated from the same seed, so a CI failure is the same failure on every machine and every run.
/// </summary>
public static class FuzzSettings
{
    /// <summary>Seconds per target: fuzz longer than CI does, continuing the same input sequence past CI's inputs.</summary>
    public const string SecondsVariable = "TREESCOUT_FUZZ_SECONDS";

    /// <summary>A seed printed by a failure: every selected target runs just that input (select one with --filter).</summary>
    public const string ReplayVariable = "TREESCOUT_FUZZ_REPLAY";

    public static double? Seconds =>
        Environment.GetEnvironmentVariable(SecondsVariable) is { Length: > 0 } text
            ? double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var s) && s > 0
                ? s
                : throw new InvalidOperationException($"{SecondsVariable}='{text}' is not a positive number of seconds")
            : null;

    public static string? Replay => Environment.GetEnvironmentVariable(ReplayVariable) is { Length: > 0 } seed ? seed : null;

    /// <summary>How long a failure is shrunk to a smaller input that still fails (single-threaded).</summary>
    public const int ShrinkSeconds = 30;
}

/// <summary>The input broke the reader's contract (as opposed to the reader's own documented error).</summary>
public sealed class ContractViolationException : Exception
{
    public ContractViolationException(string message)
        : base(message)
    {
    }

    public ContractViolationException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public ContractViolationException()
    {
    }
}

/// <summary>
/// One reader under fuzz: inputs from a CsCheck generator, a property that throws on a broken contract, and a memory
/// bound (managed bytes allocated while the property handles one input, measured on the test's thread).
/// </summary>
public sealed class FuzzTarget<T>
{
    public required string Name { get; init; }

    public required Gen<T> Inputs { get; init; }

    public required Action<T> Property { get; init; }

    /// <summary>Inputs run by default (CI); sized so the whole project takes about a minute on two cores.</summary>
    public required int Iterations { get; init; }

    /// <summary>Most managed bytes the reader may allocate for one input.</summary>
    public required Func<T, long> AllocationLimit { get; init; }

    /// <summary>The input as the file a reader would be given, for the failures folder and the corpus.</summary>
    public required Func<T, byte[]> ToFile { get; init; }

    public required string FileExtension { get; init; }

    /// <summary>The input for the failure report; by default its file with control and non-ASCII bytes escaped.</summary>
    public Func<T, string>? Print { get; init; }

    /// <summary>Runs the target's inputs (or the replayed one); fails the test with seed, input and replay command on the first broken property.</summary>
    public void Run(ITestOutputHelper output, string testClass, [CallerMemberName] string testMethod = "")
    {
        var testName = testClass + "." + testMethod;
        if (FuzzSettings.Replay is { } replay)
        {
            RunReplay(replay, testName, output);
            return;
        }
        var stream = Stream;
        var seconds = FuzzSettings.Seconds;
        var clock = Stopwatch.StartNew();
        long most = 0;
        ulong index = 0;
        while (seconds is null ? index < (ulong)Iterations : clock.Elapsed.TotalSeconds < seconds)
        {
            var (seed, input) = Input(stream, index);
            try
            {
                most = Math.Max(most, Check(input));
            }
            catch (Exception ex)
            {
                Fail(index, seed, input, ex, testName);
            }
            index++;
        }
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{Name}: {index} inputs in {clock.Elapsed.TotalSeconds:F1} s, no contract broken; most managed memory for one input {most:N0} bytes"));
    }

    /// <summary>The property plus the memory bound for one input (a corpus file, or a generated one); returns the bytes allocated.</summary>
    public long Check(T input)
    {
        var allocated = Allocated(input);
        var limit = AllocationLimit(input);
        // The first time a code path runs, type initialisation (serializer metadata, regexes) allocates too: measure again.
        if (allocated > limit && (allocated = Allocated(input)) > limit)
        {
            throw new ContractViolationException(string.Create(CultureInfo.InvariantCulture,
                $"allocated {allocated:N0} bytes for one {ToFile(input).Length:N0}-byte input (limit {limit:N0})"));
        }
        return allocated;
    }

    private long Allocated(T input)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        Property(input);
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    /// <summary>Input <paramref name="index"/> of the target's sequence, and the seed that replays it.</summary>
    public (string Seed, T Input) Input(uint stream, ulong index)
    {
        var pcg = new PCG(stream, index);
        var seed = pcg.ToString(pcg.State);
        return (seed, Inputs.Generate(pcg, null, out _));
    }

    /// <summary>The input a seed printed by a failure stands for (same commit: same generators and corpus).</summary>
    public T Replayed(string seed) => Inputs.Generate(PCG.Parse(seed), null, out _);

    private void RunReplay(string seed, string testName, ITestOutputHelper output)
    {
        var input = Replayed(seed);
        output.WriteLine($"{Name}: replaying {seed}: {Truncate(Printed(input))}");
        try
        {
            Check(input);
        }
        catch (Exception ex)
        {
            var path = Save(seed, input);
            throw new XunitException($"{Name}: replayed input {seed} breaks the contract: {Describe(ex)}\n  input saved to {path}\n  {Truncate(Printed(input))}\n  replay: {ReplayCommand(seed, testName)}");
        }
    }

    private void Fail(ulong index, string seed, T input, Exception ex, string testName)
    {
        var path = Save(seed, input);
        var report = new StringBuilder()
            .Append(CultureInfo.InvariantCulture, $"{Name}: input {index} (seed {seed}) breaks the contract: {Describe(ex)}\n")
            .Append(CultureInfo.InvariantCulture, $"  input saved to {path}\n  {Truncate(Printed(input))}\n")
            .Append(CultureInfo.InvariantCulture, $"  replay: {ReplayCommand(seed, testName)}\n");
        var (shrunkSeed, shrunk, shrunkError) = Shrink(seed);
        if (shrunkSeed is not null && shrunkSeed != seed)
        {
            report.Append(CultureInfo.InvariantCulture, $"  shrunk to seed {shrunkSeed}: {Describe(shrunkError!)}\n")
                .Append(CultureInfo.InvariantCulture, $"  saved to {Save(shrunkSeed, shrunk!)}\n  {Truncate(Printed(shrunk!))}\n");
        }
        throw new XunitException(report.ToString());
    }

    /// <summary>CsCheck's shrinker from the failing seed: smaller inputs (by generator size) that still fail.</summary>
    private (string? Seed, T? Input, Exception? Error) Shrink(string seed)
    {
        T? smallest = default;
        Exception? error = null;
        try
        {
            Inputs.Sample(input =>
            {
                try
                {
                    Check(input);
                }
                catch (Exception ex)
                {
                    (smallest, error) = (input, ex);
                    throw;
                }
            }, seed: seed, time: FuzzSettings.ShrinkSeconds, threads: 1, print: _ => "");
        }
        catch (CsCheckException ex)
        {
            // "Set seed: "<seed>" or ..." is how CsCheck names the smallest failing input.
            var start = ex.Message.IndexOf('"', StringComparison.Ordinal) + 1;
            var end = ex.Message.IndexOf('"', start);
            return start > 0 && end > start ? (ex.Message[start..end], smallest, error) : (null, default, null);
        }
        return (null, default, null);
    }

    private string Save(string seed, T input)
    {
        var folder = Path.Combine(AppContext.BaseDirectory, "fuzz-failures");
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, $"{Name}-{seed}{FileExtension}");
        File.WriteAllBytes(path, ToFile(input));
        return path;
    }

    private string Printed(T input) => Print?.Invoke(input) ?? Printable.Escape(Encoding.Latin1.GetString(ToFile(input)));

    private static string Describe(Exception ex) =>
        ex is ContractViolationException { InnerException: { } inner } cv ? $"{cv.Message}\n{inner}" : ex.ToString();

    private static string ReplayCommand(string seed, string testName) =>
        $"{FuzzSettings.ReplayVariable}={seed} dotnet test tests/TreeScout.Fuzz.Tests -c Release --filter \"FullyQualifiedName~{testName}\"";

    /// <summary>A stable stream per target (FNV-1a of its name), so targets draw different inputs from the same seeds.</summary>
    public uint Stream
    {
        get
        {
            var hash = 2166136261u;
            foreach (var c in Name)
            {
                hash = (hash ^ c) * 16777619u;
            }
            return hash;
        }
    }

    private static string Truncate(string text) => text.Length <= 4000 ? text : text[..4000] + $"… ({text.Length} characters)";
}

/// <summary>Inputs as text for failure reports.</summary>
public static class Printable
{
    /// <summary>Control and non-ASCII characters as \xNN, so a failing input can be read and pasted from the log.</summary>
    public static string Escape(string text)
    {
        var sb = new StringBuilder(text.Length + 16);
        foreach (var c in text)
        {
            _ = c switch
            {
                '\n' => sb.Append("\\n"),
                '\r' => sb.Append("\\r"),
                '\\' => sb.Append("\\\\"),
                < ' ' or (> '~' and <= '\xff') => sb.Append(CultureInfo.InvariantCulture, $"\\x{(int)c:X2}"),
                > '\xff' => sb.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}"),
                _ => sb.Append(c),
            };
        }
        return sb.ToString();
    }
}
