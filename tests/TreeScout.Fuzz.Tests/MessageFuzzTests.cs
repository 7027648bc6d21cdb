using System.Text;
using System.Text.Json;
using CsCheck;
using TreeScout.Contracts;
using TreeScout.Messaging;
using Xunit.Abstractions;

namespace TreeScout.Fuzz.Tests;

/// <summary>An envelope as a corpus file: its fields, and the body as JSON when it is JSON, else base64.</summary>
public static class EnvelopeFile
{
    public static byte[] Write(MessageEnvelope envelope)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("messageId", envelope.MessageId);
            json.WriteString("type", envelope.Type);
            json.WriteString("contentType", envelope.ContentType);
            json.WriteStartObject("headers");
            foreach (var (name, value) in envelope.Headers)
            {
                json.WriteString(name, value);
            }
            json.WriteEndObject();
            if (IsJson(envelope.Body.Span))
            {
                json.WritePropertyName("body");
                json.WriteRawValue(envelope.Body.Span);
            }
            else
            {
                json.WriteBase64String("bodyBase64", envelope.Body.Span);
            }
            json.WriteEndObject();
        }
        return buffer.ToArray();
    }

    public static MessageEnvelope Read(byte[] file)
    {
        using var doc = JsonDocument.Parse(file);
        var root = doc.RootElement;
        var body = root.TryGetProperty("body", out var json) ? Encoding.UTF8.GetBytes(json.GetRawText()) : root.GetProperty("bodyBase64").GetBytesFromBase64();
        return new MessageEnvelope(
            root.GetProperty("messageId").GetGuid(),
            root.GetProperty("type").GetString()!,
            root.GetProperty("contentType").GetString()!,
            root.GetProperty("headers").EnumerateObject().ToDictionary(h => h.Name, h => h.Value.GetString()!, StringComparer.Ordinal),
            body);
    }

    private static bool IsJson(ReadOnlySpan<byte> body)
    {
        try
        {
            var reader = new Utf8JsonReader(body);
            reader.Read();
            reader.Skip();
            return !reader.Read();
        }
        catch (JsonException)
        {
            return false;
        }
    }
}

/// <summary>
/// Envelopes as a broker could deliver them to <see cref="MessageCodec.Decode"/>: one valid message of every type, then
/// its body mutated (structurally as JSON, or byte by byte), headers removed or set to edge values, type and content
/// type changed. The codec's contract: a valid message of the envelope's type, or <see cref="MalformedMessageException"/>.
/// </summary>
[Trait("Category", "Unit")]
public sealed class MessageFuzzTests(ITestOutputHelper output)
{
    private const string CorpusName = "messages";
    private const string RunId = "20260420-100000-noord-3-a1b2";

    private static readonly string[] HeaderNames =
    [
        WireHeaders.SchemaVersion, WireHeaders.RunId, WireHeaders.Sequence, WireHeaders.CameraId, WireHeaders.CapturedAt,
        WireHeaders.MonotonicNs, WireHeaders.Width, WireHeaders.Height, WireHeaders.MountRotation,
    ];

    private static readonly string[] HeaderValues =
    [
        "", "0", "1", "2", "-1", "+1", " 1", "1 ", "01", "1.0", "1e3", "\u0661", "2147483648", "-2147483649", "9223372036854775807",
        "-9223372036854775809", "99999999999999999999", "NaN", "2026-04-20T10:00:01.25Z", "9999-12-31T23:59:59+14:00",
        "0001-01-01T00:00:00-14:00", "20260420", "not a date", RunId, "run-1", "..", "a..b", "../x", "a/b", new string('r', 81), "\0", "cam-right",
    ];

    private static readonly string[] Types = [.. MessageTypes.All.Select(t => t.Name), "", "Gnss-Fix", "gnss-fix ", "frame", "worker-status\0"];

    private static readonly string[] ContentTypes = [MessageCodec.JsonContentType, MessageCodec.JpegContentType, "application/json; charset=utf-8", "", "text/plain"];

    /// <summary>Enum names, UUIDs and dates the contracts use, beside the common JSON edge values.</summary>
    private static readonly IReadOnlyList<string> JsonValues =
    [
        .. JsonMutations.CommonValues, "\"RtkFixed\"", "\"rtkFixed\"", "\"Bbch65\"", "\"Bbch99\"", "\"Left\"", "\"7\"", "\"" + Guid.Empty + "\"",
        "\"not-a-guid\"", "\"2026-04-20T10:00:00+25:00\"", "[0.1,0.9]", "{\"a\":1}", "\"" + RunId + "\"", "1.5e-45", "3.5e38",
    ];

    /// <summary>Bytes that are not UTF-8: a lone 0xFF, a cut two-byte sequence, an encoded surrogate.</summary>
    private static readonly IReadOnlyList<byte[]> InvalidUtf8 = [[0xFF], [0xC3], [0xED, 0xA0, 0x80]];

    private static readonly IReadOnlyList<MessageEnvelope> Seeds =
        [.. SeedMessages().Select(MessageCodec.Encode), .. Corpus.Bytes(CorpusName).Select(EnvelopeFile.Read)];

    private static readonly FuzzTarget<MessageEnvelope> Target = new()
    {
        Name = CorpusName,
        Inputs = from seed in Gen.Int[0, Seeds.Count - 1]
                 from body in Gen.Frequency(
                     (4, JsonMutations.Of([Encoding.UTF8.GetString(Seeds[seed].Body.Span)], JsonValues, InvalidUtf8)),
                     (2, ByteMutations.Of([Seeds[seed].Body.ToArray()], [.. JsonMutations.CommonTokens, .. InvalidUtf8])),
                     (1, Gen.Const(Seeds[seed].Body.ToArray())))
                 from headerEdits in Gen.Select(Gen.Int[0, 2], Gen.Int[0, HeaderNames.Length - 1], Gen.Int[0, HeaderValues.Length - 1]).Array[0, 3]
                 from type in Gen.Frequency((8, Gen.Const(Seeds[seed].Type)), (1, Gen.OneOf(Types)))
                 from contentType in Gen.Frequency((8, Gen.Const(Seeds[seed].ContentType)), (1, Gen.OneOf(ContentTypes)))
                 from emptyId in Gen.Int[0, 19]
                 select new MessageEnvelope(emptyId == 0 ? Guid.Empty : Seeds[seed].MessageId, type, contentType, EditHeaders(Seeds[seed].Headers, headerEdits), body),
        Property = DecodesOrRejects,
        Iterations = 150_000,
        AllocationLimit = e => 256 * 1024 + 64L * e.Body.Length,
        ToFile = EnvelopeFile.Write,
        FileExtension = ".json",
        Print = e => Printable.Escape(Encoding.UTF8.GetString(EnvelopeFile.Write(e))),
    };

    public static TheoryData<string> CorpusFiles => Corpus.Names(CorpusName);

    [Fact]
    public void Mutated_envelopes_decode_to_valid_messages_or_throw_only_MalformedMessageException() =>
        Target.Run(output, nameof(MessageFuzzTests));

    [Theory]
    [MemberData(nameof(CorpusFiles))]
    public void Corpus_envelope_decodes_or_is_rejected_as_malformed(string file) =>
        Target.Check(EnvelopeFile.Read(Corpus.Read(CorpusName, file)));

    [Fact]
    public void Every_seed_message_decodes_unchanged()
    {
        foreach (var message in SeedMessages())
        {
            var decoded = MessageCodec.Decode(MessageCodec.Encode(message));
            Assert.Equal(JsonSerializer.Serialize(message, message.GetType()), JsonSerializer.Serialize(decoded, decoded.GetType()));
        }
    }

    /// <summary>
    /// Decode either throws <see cref="MalformedMessageException"/> with a one-line reason, or returns a message of the
    /// envelope's type and schema whose id and run id are valid and whose non-nullable members are all present.
    /// </summary>
    private static void DecodesOrRejects(MessageEnvelope envelope)
    {
        IMessage message;
        try
        {
            message = MessageCodec.Decode(envelope);
        }
        catch (MalformedMessageException ex)
        {
            if (!Refusal.IsOneLine(ex.Message))
            {
                throw new ContractViolationException($"dead-letter reason is not a short line ({ex.Message.Length} characters): '{ex.Message}'", ex);
            }
            return;
        }
        if (!MessageTypes.TryGet(envelope.Type, out var info) || message.GetType() != info.Type || message.SchemaVersion != info.CurrentSchemaVersion
            || message.MessageId == Guid.Empty || !RunIds.IsValid(message.RunId))
        {
            throw new ContractViolationException($"decoded {message.GetType().Name} {message.MessageId} of run '{message.RunId}' from a '{envelope.Type}' envelope");
        }
        if (NonNullable.FirstMissing(message, message.GetType().Name) is { } missing)
        {
            throw new ContractViolationException($"decoded {envelope.Type} has no {missing}, which the contract declares non-nullable");
        }
    }

    private static Dictionary<string, string> EditHeaders(IReadOnlyDictionary<string, string> headers, (int Edit, int Header, int Value)[] edits)
    {
        var edited = new Dictionary<string, string>(headers, StringComparer.Ordinal);
        foreach (var (edit, header, value) in edits)
        {
            if (edit == 0)
            {
                edited.Remove(HeaderNames[header]);
            }
            else
            {
                edited[HeaderNames[header]] = HeaderValues[value];
            }
        }
        return edited;
    }

    /// <summary>One valid message of every type, with every optional member set, as the workers publish them.</summary>
    private static IEnumerable<IMessage> SeedMessages()
    {
        var at = new DateTimeOffset(2026, 4, 20, 10, 0, 1, 250, TimeSpan.Zero);
        var id = MessageIds.For(RunId, "seed", 1);
        var model = new ModelIdentity("blossom-detector", "1.2.0", new string('a', 64));
        float[] probabilities = [0f, 0f, 0f, 0f, 0.05f, 0.15f, 0.6f, 0.2f, 0f, 0f];
        var camera = new CameraMounting
        {
            CameraId = "cam-right", Side = CameraSide.Right, LeverArm = new LeverArm(-0.6, 0.25, -1.1), AntennaHeightM = 2.7, YawDeg = 90,
            PitchDeg = 3, MountRotationDeg = 180, ImageWidth = 1280, ImageHeight = 720, Fx = 500, Fy = 500, Cx = 640, Cy = 360,
        };
        yield return new RunStarted
        {
            MessageId = id, RunId = RunId, StartedAtUtc = at, Block = "Noord 3", Variety = "Elstar", TreeSpacingM = 1, RowSpacingM = 3.5,
            BlockPlanGeoJson = "{\"type\":\"FeatureCollection\",\"features\":[]}", Cameras = [camera], Source = "replay:betuwe-rtk-2x12",
        };
        yield return new RunStopRequested { MessageId = id, RunId = RunId, RequestedAtUtc = at, RequestedBy = "operator" };
        yield return new RunStopped
        {
            MessageId = id, RunId = RunId, StoppedAtUtc = at, FramesPublished = 173, FramesShed = 1, FramesUnreadable = 2, Reason = "end-of-recording",
            GnssFixesPublished = 1200,
        };
        yield return new FrameCaptured
        {
            MessageId = id, RunId = RunId, Sequence = 7, CameraId = "cam-right", CapturedAtUtc = at, MonotonicNs = 123_456_789, Width = 160, Height = 90,
            MountRotationDeg = 180, Jpeg = Corpus.Read("frames", "betuwe-000075-160x90.jpg"),
        };
        yield return new GnssFix
        {
            MessageId = id, RunId = RunId, Sequence = 3, TimeUtc = at, ReceivedAtUtc = at.AddMilliseconds(40), Latitude = 51.93, Longitude = 5.70,
            AltitudeM = 12.5, Mode = 3, Quality = GnssQuality.RtkFixed, SpeedMps = 1.4, CourseDeg = 7, HeadingDeg = 6.5, HorizontalSigmaM = 0.015,
            Satellites = 19, Hdop = 0.7,
        };
        yield return new FrameDetections
        {
            MessageId = id, RunId = RunId, FrameMessageId = MessageIds.For(RunId, "frame", 7), Sequence = 7, CameraId = "cam-right", CapturedAtUtc = at,
            MonotonicNs = 123_456_789, Width = 1280, Height = 720, Detector = model, StageClassifier = model with { Name = "stage-classifier" },
            Detections = [new BlossomDetection { X = 10, Y = 20, W = 30, H = 40, Score = 0.9f, Stage = BbchStage.Bbch65, StageProbabilities = probabilities }],
            Orientation = new OrientationCheck { AppliedRotationDeg = 180, SuspectedRotationDeg = 0, Confidence = 0.8 }, InferenceMs = 12.5,
        };
        yield return new TreeObservations
        {
            MessageId = id, RunId = RunId,
            Observations =
            [
                new BlossomClusterObservation
                {
                    ObservationId = MessageIds.For(RunId, "observation", 1), TreeId = "R01-T001", RowId = "R01", Latitude = 51.93, Longitude = 5.7,
                    HeightM = 1.8, AlongRowM = 0.4, PositionSigmaM = 0.05, LowConfidence = true, LowConfidenceReason = "float fix",
                    Stage = BbchStage.Bbch61, StageProbabilities = probabilities, Score = 0.8f, FramesSeen = 4, FirstFrameSequence = 5,
                    LastFrameSequence = 9, CameraId = "cam-right", GnssQuality = GnssQuality.RtkFloat, ObservedAtUtc = at,
                },
            ],
        };
        yield return new RunFused
        {
            MessageId = id, RunId = RunId, ObservationsPublished = 1187, FramesFused = 170, FramesWithoutPose = 2, FramesMissing = 1,
            Gnss = new GnssQualitySummary(1000, 150, 40, 10, 0, 3), ClockOffsetMs = -12.5, Models = [model],
        };
        yield return new MapUpdated
        {
            MessageId = id, RunId = RunId, Final = true, UpdatedAtUtc = at, Trees = 24, TreesWithClusters = 24, Observations = 1187,
            StorePath = "/var/lib/treescout/runs/x/store.gpkg", Exports = ["exports/trees.geojson"], Warnings = ["too early to thin"],
        };
        yield return new WorkerStatus
        {
            MessageId = id, RunId = RunId, Worker = "detection", Instance = "detection-0", Version = "0.1.0", AtUtc = at, Ready = true,
            Counters = new Dictionary<string, long> { ["frames_detected"] = 173 }, Warnings = ["camera upside down?"], GnssQuality = GnssQuality.RtkFixed,
        };
    }
}
