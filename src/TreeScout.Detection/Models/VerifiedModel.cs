using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using TreeScout.Contracts;

namespace TreeScout.Detection.Models;

/// <summary>
/// An ONNX session whose file was checked against its card: same sha256, same input/output names, ranks and fixed
/// dimensions. One per model per process (sessions are thread-safe; buffers around them are not, see the callers).
/// </summary>
public sealed class VerifiedModel : IDisposable
{
    private VerifiedModel(ModelCard card, InferenceSession session, InferenceAccelerator runsOn, string? acceleratorProblem)
    {
        Card = card;
        Session = session;
        Identity = new ModelIdentity(card.Name, card.Version, card.Sha256);
        RunsOn = runsOn;
        AcceleratorProblem = acceleratorProblem;
    }

    public ModelCard Card { get; }

    public InferenceSession Session { get; }

    public ModelIdentity Identity { get; }

    /// <summary>Where the session runs: the accelerator asked for, or Cpu when it could not be used.</summary>
    public InferenceAccelerator RunsOn { get; }

    /// <summary>Why the accelerator asked for is not used (the session fell back to the CPU); null when it is.</summary>
    public string? AcceleratorProblem { get; }

    /// <summary>Opens the model on the CPU.</summary>
    /// <exception cref="ModelCardException">Missing file, sha256 mismatch, or tensors that differ from the card.</exception>
    public static VerifiedModel Open(string cardPath, int intraOpThreads) => Open(cardPath, new InferenceSettings(intraOpThreads));

    /// <exception cref="ModelCardException">Missing file, sha256 mismatch, or tensors that differ from the card.</exception>
    public static VerifiedModel Open(string cardPath, InferenceSettings inference)
    {
        var card = ModelCard.Load(cardPath);
        VerifySha256(card);
        string? problem = null;
        InferenceSession session;
        try
        {
            if (inference.Accelerator == InferenceAccelerator.Cuda)
            {
                try
                {
                    using var cuda = SessionOptionsFor(inference, InferenceAccelerator.Cuda);
                    session = new InferenceSession(card.ModelPath, cuda);
                    return Verified(card, session, InferenceAccelerator.Cuda, null);
                }
                catch (Exception ex) when (ex is OnnxRuntimeException or EntryPointNotFoundException or DllNotFoundException)
                {
                    // The CPU build of ONNX Runtime has no CUDA provider; the GPU build without a GPU, driver or
                    // CUDA libraries fails the same way. Detection still works, slower: run on the CPU and say so.
                    problem = $"CUDA device {inference.GpuDeviceId} not usable ({FirstLine(ex.Message)}); running on the CPU";
                }
            }
            using var cpu = SessionOptionsFor(inference, InferenceAccelerator.Cpu);
            session = new InferenceSession(card.ModelPath, cpu);
        }
        catch (OnnxRuntimeException ex)
        {
            throw new ModelCardException($"{card.ModelPath} (card {card.CardPath}) is not a loadable ONNX model: {ex.Message}", ex);
        }
        return Verified(card, session, InferenceAccelerator.Cpu, problem);
    }

    private static SessionOptions SessionOptionsFor(InferenceSettings inference, InferenceAccelerator accelerator)
    {
        var options = new SessionOptions
        {
            IntraOpNumThreads = inference.IntraOpThreads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        try
        {
            // The node's cores are shared by every worker: threads that spin-wait between runs steal them from the
            // others (measured: ~1 frame/s instead of ~6 under load), so they sleep instead.
            options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
            if (accelerator == InferenceAccelerator.Cuda)
            {
                options.AppendExecutionProvider_CUDA(inference.GpuDeviceId);
            }
            return options;
        }
        catch
        {
            options.Dispose();
            throw;
        }
    }

    private static string FirstLine(string message) => message.Split('\n', 2)[0].Trim();

    private static VerifiedModel Verified(ModelCard card, InferenceSession session, InferenceAccelerator runsOn, string? problem)
    {
        try
        {
            VerifyTensor(card, "input", card.Input.Name, card.Input.Shape, session.InputMetadata);
            foreach (var output in card.AllOutputs)
            {
                VerifyTensor(card, "output", output.Name, output.Shape, session.OutputMetadata);
            }
        }
        catch
        {
            session.Dispose();
            throw;
        }
        return new VerifiedModel(card, session, runsOn, problem);
    }

    /// <summary>Hex sha256 of a file, lower case (the card's format).</summary>
    public static string Sha256Of(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    private static void VerifySha256(ModelCard card)
    {
        if (!File.Exists(card.ModelPath))
        {
            throw new ModelCardException($"model file {card.ModelPath} named by card {card.CardPath} does not exist");
        }
        var actual = Sha256Of(card.ModelPath);
        if (!string.Equals(actual, card.Sha256, StringComparison.OrdinalIgnoreCase))
        {
            throw new ModelCardException(
                $"{card.ModelPath} does not match its card {card.CardPath}: the file's sha256 is {actual}, the card says {card.Sha256} " +
                "(a model must ship with the card that describes it; regenerate the card or restore the file)");
        }
    }

    private static void VerifyTensor(ModelCard card, string kind, string name, IReadOnlyList<JsonElement> cardShape, IReadOnlyDictionary<string, NodeMetadata> graph)
    {
        if (!graph.TryGetValue(name, out var meta))
        {
            throw new ModelCardException(
                $"{card.ModelPath}: the card {card.CardPath} names {kind} '{name}', the graph's {kind}s are {string.Join(", ", graph.Keys.Select(k => $"'{k}'"))}");
        }
        var dims = meta.Dimensions;
        var described = "[" + string.Join(",", cardShape.Select(d => d.ToString())) + "]";
        var actual = "[" + string.Join(",", dims.Select((d, i) => d >= 0 ? d.ToString(System.Globalization.CultureInfo.InvariantCulture) : meta.SymbolicDimensions[i] is { Length: > 0 } s ? s : "?")) + "]";
        if (dims.Length != cardShape.Count)
        {
            throw new ModelCardException($"{card.ModelPath}: {kind} '{name}' has shape {actual}, its card {card.CardPath} says {described}");
        }
        for (var i = 0; i < dims.Length; i++)
        {
            var expected = cardShape[i];
            var matches = expected.ValueKind == JsonValueKind.Number
                ? dims[i] == expected.GetInt64()
                : dims[i] < 0; // the card says dynamic: the graph must not fix it either
            if (!matches)
            {
                throw new ModelCardException($"{card.ModelPath}: {kind} '{name}' has shape {actual}, its card {card.CardPath} says {described} (axis {i} differs)");
            }
        }
    }

    public void Dispose() => Session.Dispose();
}
