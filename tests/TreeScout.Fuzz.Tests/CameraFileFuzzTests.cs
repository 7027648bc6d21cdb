using TreeScout.Orchard;
using Xunit.Abstractions;

namespace TreeScout.Fuzz.Tests;

/// <summary>camera.json of a recording (<see cref="Recording.ReadCameras"/>), read by `treescout scan` and the capture replay.</summary>
[Trait("Category", "Unit")]
public sealed class CameraFileFuzzTests(ITestOutputHelper output)
{
    private const string CorpusName = "camera";

    private static readonly IReadOnlyList<string> JsonValues =
        [.. JsonMutations.CommonValues, "\"left\"", "\"right\"", "\"Left\"", "\"up\"", "\"cam-left\"", "{\"forwardM\":0}", "[null]", "[{}]"];

    private static readonly FuzzTarget<byte[]> Target = ConfigFiles.Target(
        CorpusName,
        ConfigFiles.Inputs(CorpusName, JsonValues, ByteMutations.Tokens("\"cameras\"", "\"leverArm\"")),
        ReadsOrRefuses,
        iterations: 20_000,
        Recording.CameraFile);

    public static TheoryData<string> CorpusFiles => Corpus.Names(CorpusName);

    [Fact]
    public void Mutated_camera_files_read_as_cameras_or_throw_only_InvalidDataException() =>
        Target.Run(output, nameof(CameraFileFuzzTests));

    [Theory]
    [MemberData(nameof(CorpusFiles))]
    public void Corpus_camera_file_reads_or_is_refused(string file) => Target.Check(Corpus.Read(CorpusName, file));

    /// <summary>
    /// The reader's contract (<see cref="Recording.ReadCameras"/>): <see cref="CameraRigException"/> naming the file, or
    /// at least one camera with every member the contract declares non-nullable.
    /// </summary>
    private static void ReadsOrRefuses(string path)
    {
        var recording = new Recording(Path.GetDirectoryName(path)!);
        if (Refusal.ReadOrRefuse<CameraRig, CameraRigException>(recording.ReadCameras) is not { } rig)
        {
            return;
        }
        if ((rig.Cameras.Count == 0 ? "camera" : NonNullable.FirstMissing(rig, "rig")) is { } missing)
        {
            throw new ContractViolationException($"accepted camera file has no {missing}");
        }
    }
}
