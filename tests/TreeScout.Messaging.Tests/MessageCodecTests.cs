using System.Text;
using TreeScout.Contracts;

namespace TreeScout.Messaging.Tests;

[Trait("Category", "Unit")]
public class MessageCodecTests
{
    private static FrameCaptured Frame(long sequence) => new()
    {
        MessageId = MessageIds.For("run-1", "frame", sequence),
        RunId = "run-1",
        Sequence = sequence,
        CameraId = "cam-right",
        CapturedAtUtc = new DateTimeOffset(2026, 4, 20, 10, 0, 1, 250, TimeSpan.Zero),
        MonotonicNs = 123_456_789,
        Width = 1280,
        Height = 720,
        Jpeg = [0xFF, 0xD8, 0xFF, 0xD9],
    };

    [Fact]
    public void Frame_travels_as_raw_jpeg_body_with_metadata_in_headers()
    {
        var frame = Frame(7) with { MountRotationDeg = 180 };

        var envelope = MessageCodec.Encode(frame);
        Assert.Equal("image/jpeg", envelope.ContentType);
        Assert.Equal(frame.Jpeg, envelope.Body.ToArray());
        Assert.Equal("7", envelope.Headers[WireHeaders.Sequence]);

        var decoded = Assert.IsType<FrameCaptured>(MessageCodec.Decode(envelope));
        Assert.Equal(frame.CapturedAtUtc, decoded.CapturedAtUtc);
        Assert.Equal(frame.Jpeg, decoded.Jpeg);
        Assert.Equal(frame with { Jpeg = decoded.Jpeg }, decoded);
    }

    [Fact]
    public void Frame_plan_marks_travel_as_headers_only_when_set()
    {
        var frame = Frame(8);
        Assert.False(MessageCodec.Encode(frame).Headers.ContainsKey(WireHeaders.Decimated));
        Assert.False(MessageCodec.Encode(frame).Headers.ContainsKey(WireHeaders.CanopyBand));

        var banded = MessageCodec.Encode(frame with { CanopyBand = new ImageRows(103, 591) });
        Assert.Equal("103,591", banded.Headers[WireHeaders.CanopyBand]);
        Assert.Equal(new ImageRows(103, 591), Assert.IsType<FrameCaptured>(MessageCodec.Decode(banded)).CanopyBand);

        var decimated = MessageCodec.Encode(frame with { Decimated = true, Jpeg = [] });
        Assert.Equal("true", decimated.Headers[WireHeaders.Decimated]);
        var back = Assert.IsType<FrameCaptured>(MessageCodec.Decode(decimated));
        Assert.True(back.Decimated);
        Assert.Empty(back.Jpeg);
    }

    [Theory]
    [InlineData("591,103")]
    [InlineData("103")]
    [InlineData("-1,591")]
    [InlineData("a,b")]
    public void A_canopy_band_header_that_is_not_two_rows_top_first_is_malformed(string band)
    {
        var envelope = MessageCodec.Encode(Frame(1));
        var headers = new Dictionary<string, string>(envelope.Headers) { [WireHeaders.CanopyBand] = band };

        var ex = Assert.Throws<MalformedMessageException>(() => MessageCodec.Decode(envelope with { Headers = headers }));

        Assert.Equal($"frame-captured: header ts-canopy-band '{band}' is not \"top,bottom\" rows", ex.Message);
    }

    [Fact]
    public void Json_message_round_trips_with_enums_as_strings()
    {
        var fix = new GnssFix
        {
            MessageId = Guid.NewGuid(),
            RunId = "run-1",
            Sequence = 3,
            TimeUtc = DateTimeOffset.UnixEpoch,
            ReceivedAtUtc = DateTimeOffset.UnixEpoch.AddMilliseconds(40),
            Latitude = 51.93,
            Longitude = 5.70,
            Mode = 3,
            Quality = GnssQuality.RtkFixed,
            HorizontalSigmaM = 0.015,
        };
        var envelope = MessageCodec.Encode(fix);
        Assert.Contains("\"quality\":\"RtkFixed\"", Encoding.UTF8.GetString(envelope.Body.Span), StringComparison.Ordinal);
        Assert.Equal(fix, MessageCodec.Decode(envelope));
    }

    /// <summary>An observation's revision (docs/adr/0073) travels in the body; one from a sender that predates it is revision 1, not retracted.</summary>
    [Fact]
    public void Observation_revisions_round_trip_and_an_older_senders_observation_is_its_first_and_final_revision()
    {
        var corrected = new TreeObservations
        {
            MessageId = Guid.NewGuid(),
            RunId = "run-1",
            Observations =
            [
                new BlossomClusterObservation
                {
                    ObservationId = Guid.NewGuid(), Latitude = 51.93, Longitude = 5.70, PositionSigmaM = 0.03, LowConfidence = false,
                    Stage = BbchStage.Bbch65, StageProbabilities = [0.5f, 0.5f], Score = 0.9f, FramesSeen = 4, FirstFrameSequence = 10,
                    LastFrameSequence = 13, CameraId = "left", GnssQuality = GnssQuality.RtkFixed, ObservedAtUtc = DateTimeOffset.UnixEpoch,
                    Revision = 3, Retracted = true,
                },
            ],
        };
        var envelope = MessageCodec.Encode(corrected);
        var decoded = Assert.IsType<TreeObservations>(MessageCodec.Decode(envelope)).Observations.Single();
        Assert.Equal((3, true), (decoded.Revision, decoded.Retracted));

        var body = Encoding.UTF8.GetString(envelope.Body.Span);
        var older = body.Replace(",\"revision\":3", "", StringComparison.Ordinal).Replace(",\"retracted\":true", "", StringComparison.Ordinal);
        Assert.DoesNotContain("revision", older, StringComparison.Ordinal);
        Assert.DoesNotContain("retracted", older, StringComparison.Ordinal);
        var old = Assert.IsType<TreeObservations>(MessageCodec.Decode(envelope with { Body = Encoding.UTF8.GetBytes(older) })).Observations.Single();
        Assert.Equal((1, false), (old.Revision, old.Retracted));
        Assert.Equal(decoded with { Revision = 1, Retracted = false, StageProbabilities = old.StageProbabilities }, old);
    }

    [Theory]
    [InlineData("gnss-fix", "1", "{not json", "not valid JSON")]
    [InlineData("gnss-fix", "9", "{}", "unsupported schema version 9")]
    [InlineData("no-such-type", "1", "{}", "unknown message type")]
    [InlineData("gnss-fix", "", "{}", "missing or invalid ts-schema")]
    public void Malformed_envelopes_are_rejected_with_a_reason(string type, string schema, string body, string expected)
    {
        var envelope = new MessageEnvelope(Guid.NewGuid(), type, MessageCodec.JsonContentType,
            new Dictionary<string, string> { [WireHeaders.SchemaVersion] = schema, [WireHeaders.RunId] = "run-1" }, Encoding.UTF8.GetBytes(body));
        var ex = Assert.Throws<MalformedMessageException>(() => MessageCodec.Decode(envelope));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Derived_ids_are_deterministic_and_distinct()
    {
        var frame = MessageIds.For("run-1", "frame", 1);
        Assert.Equal(frame, MessageIds.For("run-1", "frame", 1));
        Assert.NotEqual(frame, MessageIds.For("run-1", "frame", 2));
        Assert.Equal(MessageIds.Derive(frame, "detections"), MessageIds.Derive(frame, "detections"));
        Assert.NotEqual(MessageIds.Derive(frame, "detections"), frame);
    }
}
