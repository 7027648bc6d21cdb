using CsCheck;
using TreeScout.Capture;
using TreeScout.Contracts;
using TreeScout.Detection;
using TreeScout.Tests;
using Xunit.Abstractions;

namespace TreeScout.Fuzz.Tests;

/// <summary>
/// Frame bodies on their way from a recording or the broker to detection: capture reads the size from the JPEG header
/// (<see cref="JpegHeader.Problem"/>), detection checks that size (<see cref="JpegSize"/>), decodes
/// (<see cref="FrameImage.Decode"/>) and rotates it upright.
/// </summary>
[Trait("Category", "Unit")]
public sealed class FrameFuzzTests(ITestOutputHelper output)
{
    private const string CorpusName = "frames";

    /// <summary>JPEG markers and frame headers: forged sizes from nothing to 65535², restart intervals, fill bytes, metadata.</summary>
    private static readonly IReadOnlyList<byte[]> Markers =
    [
        [0xFF, 0xD8], [0xFF, 0xD9], [0xFF, 0xDA], [0xFF, 0xDB], [0xFF, 0xC4], [0xFF, 0xFF, 0xFF], [0xFF, 0x00], [0xFF, 0xD0],
        [0xFF, 0xDD, 0x00, 0x04, 0x00, 0x01], [0xFF, 0xFE, 0x00, 0x02], [0xFF, 0xE1, 0x00, 0x10, .. "Exif\0\0"u8, 0, 0, 0, 0, 0, 0, 0, 0],
        Sof(0xC0, 0, 0), Sof(0xC0, 1, 1), Sof(0xC0, 8, 8), Sof(0xC2, 90, 160), Sof(0xC0, 4321, 7680), Sof(0xC0, 30000, 30000),
        Sof(0xC0, 65535, 65535), Sof(0xC1, 16000, 65000), Sof(0xC3, 720, 1280), Sof(0xC9, 90, 160),
    ];

    /// <summary>Real frames of the bundled sample run (full size, ~100 KB each), to cut short and flip bits in.</summary>
    private static List<byte[]> SampleFrames { get; } =
        new[] { "000042.jpg", "000075.jpg", "000110.jpg" }.Select(f => File.ReadAllBytes(Path.Combine(RepoPaths.Samples, "betuwe-rtk-2x12", "frames", "cam-right", f))).ToList();

    private static readonly FuzzTarget<byte[]> Target = new()
    {
        Name = CorpusName,
        Inputs = Gen.Frequency(
            (4, ByteMutations.Of(Corpus.Bytes(CorpusName), Markers)),
            (2, from frame in Gen.Int[0, SampleFrames.Count - 1]
                from cut in Gen.Double.Unit
                from flips in Gen.Select(Gen.Double.Unit, Gen.Int[0, 7]).Array[0, 8]
                select CutAndFlip(SampleFrames[frame], cut, flips)),
            (1, from soi in Gen.Bool
                from bytes in Gen.Byte.Array[0, 2000]
                select soi ? [0xFF, 0xD8, .. bytes] : bytes)),
        Property = DecodesOrRefuses,
        Iterations = 20_000,
        AllocationLimit = bytes => 64 * 1024 + 4L * bytes.Length,
        ToFile = bytes => bytes,
        FileExtension = ".jpg",
        Print = bytes => Convert.ToHexString(bytes),
    };

    public static TheoryData<string> CorpusFiles => Corpus.Names(CorpusName);

    [Fact]
    public void Random_cut_and_bit_flipped_jpegs_are_decoded_or_refused_never_thrown_nor_oversized() =>
        Target.Run(output, nameof(FrameFuzzTests));

    [Theory]
    [MemberData(nameof(CorpusFiles))]
    public void Corpus_frame_is_decoded_or_refused(string file) =>
        Target.Check(Corpus.Read(CorpusName, file));

    [Fact]
    public void Frame_declaring_more_than_8k_pixels_is_refused_before_decoding()
    {
        var forged = Corpus.Read(CorpusName, "regression-declares-30000x30000.jpg");
        Assert.True(JpegSize.TryRead(forged, out var width, out var height));
        Assert.Equal((30000, 30000), (width, height));
        Assert.Null(FrameImage.Decode(forged));
        var seed = Corpus.Read(CorpusName, "betuwe-000075-160x90.jpg");
        Assert.True(JpegSize.TryRead(seed, out width, out height));
        Assert.Equal((160, 90), (width, height));
        using var decoded = FrameImage.Decode(seed);
        Assert.Equal((160, 90), (decoded!.Width, decoded.Height));
    }

    /// <summary>
    /// Capture's header read and detection's decode never throw; a decoded frame is a non-empty BGR image of at most
    /// <see cref="FrameImage.MaxPixels"/> (the bound on what one frame body can make detection allocate) that turns upright.
    /// </summary>
    private static void DecodesOrRefuses(byte[] bytes)
    {
        if (JpegHeader.Problem(bytes, out var width, out var height) is null && (width <= 0 || height <= 0))
        {
            throw new ContractViolationException($"JpegHeader.Problem accepted a {width}x{height} frame");
        }
        using var image = FrameImage.Decode(bytes);
        if (image is null)
        {
            return;
        }
        if (image.Empty() || image.Channels() != 3 || (long)image.Width * image.Height > FrameImage.MaxPixels)
        {
            throw new ContractViolationException($"decoded {image.Width}x{image.Height}x{image.Channels()}, expected a BGR frame of at most {FrameImage.MaxPixels} pixels");
        }
        // The bound holds only if the header read agrees with libjpeg on the size it decodes (EXIF orientation may turn it).
        if (bytes is [0xFF, 0xD8, ..] && !(JpegSize.TryRead(bytes, out var w, out var h)
            && ((image.Width, image.Height) == (w, h) || (image.Width, image.Height) == (h, w))))
        {
            throw new ContractViolationException($"decoded a {image.Width}x{image.Height} JPEG whose header reads {w}x{h}");
        }
        using var upright = FrameImage.Upright(image, 90);
        if ((upright.Width, upright.Height) != (image.Height, image.Width))
        {
            throw new ContractViolationException($"{image.Width}x{image.Height} turned a quarter is {upright.Width}x{upright.Height}");
        }
    }

    private static byte[] CutAndFlip(byte[] frame, double cut, (double At, int Bit)[] flips)
    {
        var bytes = frame[..(int)(cut * frame.Length)];
        foreach (var (at, bit) in flips)
        {
            if (bytes.Length > 0)
            {
                bytes[(int)(at * (bytes.Length - 1))] ^= (byte)(1 << bit);
            }
        }
        return bytes;
    }

    private static byte[] Sof(byte marker, int height, int width) =>
        [0xFF, marker, 0x00, 0x11, 0x08, (byte)(height >> 8), (byte)height, (byte)(width >> 8), (byte)width, 0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01];
}
