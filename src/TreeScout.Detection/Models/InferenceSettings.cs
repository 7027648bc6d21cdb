namespace TreeScout.Detection.Models;

/// <summary>Where ONNX Runtime runs the models.</summary>
public enum InferenceAccelerator
{
    Cpu,

    /// <summary>ONNX Runtime's CUDA execution provider on an NVIDIA GPU; needs the GPU build of ONNX Runtime.</summary>
    Cuda,
}

/// <summary>How a model's session runs: CPU threads, and the accelerator asked for.</summary>
public sealed record InferenceSettings(int IntraOpThreads, InferenceAccelerator Accelerator = InferenceAccelerator.Cpu, int GpuDeviceId = 0);
