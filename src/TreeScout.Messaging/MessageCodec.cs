using System.Globalization;
using System.Text.Json;
using TreeScout.Contracts;

namespace TreeScout.Messaging;

/// <summary>
/// The one wire format: UTF-8 JSON from the source-generated <see cref="ContractsJsonContext"/>, except frames,
/// whose body is the raw JPEG with the metadata in headers (no 33 % base64 overhead on the busiest queue).
/// </summary>
public static class MessageCodec
{
    public const string JsonContentType = "application/json";
    public const string JpegContentType = "image/jpeg";

    public static MessageEnvelope Encode(IMessage message)
    {
        var info = MessageTypes.Of(message.GetType());
        var headers = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [WireHeaders.SchemaVersion] = message.SchemaVersion.ToString(CultureInfo.InvariantCulture),
            [WireHeaders.RunId] = message.RunId,
        };
        if (message is FrameCaptured frame)
        {
            headers[WireHeaders.Sequence] = frame.Sequence.ToString(CultureInfo.InvariantCulture);
            headers[WireHeaders.CameraId] = frame.CameraId;
            headers[WireHeaders.CapturedAt] = frame.CapturedAtUtc.ToString("O", CultureInfo.InvariantCulture);
            headers[WireHeaders.MonotonicNs] = frame.MonotonicNs.ToString(CultureInfo.InvariantCulture);
            headers[WireHeaders.Width] = frame.Width.ToString(CultureInfo.InvariantCulture);
            headers[WireHeaders.Height] = frame.Height.ToString(CultureInfo.InvariantCulture);
            headers[WireHeaders.MountRotation] = frame.MountRotationDeg.ToString(CultureInfo.InvariantCulture);
            return new MessageEnvelope(frame.MessageId, info.Name, JpegContentType, headers, frame.Jpeg);
        }
        var body = JsonSerializer.SerializeToUtf8Bytes(message, info.Type, ContractsJsonContext.Default);
        return new MessageEnvelope(message.MessageId, info.Name, JsonContentType, headers, body);
    }

    /// <summary>Decodes and validates an envelope; anything that cannot become a valid message throws <see cref="MalformedMessageException"/>.</summary>
    public static IMessage Decode(MessageEnvelope envelope)
    {
        if (!MessageTypes.TryGet(envelope.Type, out var info))
        {
            throw new MalformedMessageException($"unknown message type '{envelope.Type}'");
        }
        var schema = envelope.Header(WireHeaders.SchemaVersion);
        if (!int.TryParse(schema, NumberStyles.None, CultureInfo.InvariantCulture, out var version))
        {
            throw new MalformedMessageException($"{info.Name}: missing or invalid {WireHeaders.SchemaVersion} header '{schema}'");
        }
        if (version != info.CurrentSchemaVersion)
        {
            throw new MalformedMessageException($"{info.Name}: unsupported schema version {version} (this worker understands {info.CurrentSchemaVersion})");
        }

        var message = info.Type == typeof(FrameCaptured) ? DecodeFrame(envelope) : DecodeJson(envelope, info);
        if (message.SchemaVersion != version)
        {
            throw new MalformedMessageException($"{info.Name}: body schema version {message.SchemaVersion} disagrees with header {version}");
        }
        if (message.MessageId == Guid.Empty)
        {
            throw new MalformedMessageException($"{info.Name}: empty message id");
        }
        if (!RunIds.IsValid(message.RunId))
        {
            throw new MalformedMessageException($"{info.Name}: invalid run id '{message.RunId}'");
        }
        return message;
    }

    private static IMessage DecodeJson(MessageEnvelope envelope, MessageTypes.Info info)
    {
        if (envelope.ContentType != JsonContentType)
        {
            throw new MalformedMessageException($"{info.Name}: content type '{envelope.ContentType}', expected {JsonContentType}");
        }
        try
        {
            return JsonSerializer.Deserialize(envelope.Body.Span, info.Type, ContractsJsonContext.Default) as IMessage
                ?? throw new MalformedMessageException($"{info.Name}: body is JSON null");
        }
        catch (JsonException ex)
        {
            throw new MalformedMessageException($"{info.Name}: body is not valid JSON for this type ({ex.Message})", ex);
        }
    }

    private static FrameCaptured DecodeFrame(MessageEnvelope envelope)
    {
        if (envelope.ContentType != JpegContentType)
        {
            throw new MalformedMessageException($"frame-captured: content type '{envelope.ContentType}', expected {JpegContentType}");
        }
        return new FrameCaptured
        {
            MessageId = envelope.MessageId,
            RunId = Required(envelope, WireHeaders.RunId),
            SchemaVersion = int.Parse(Required(envelope, WireHeaders.SchemaVersion), CultureInfo.InvariantCulture),
            Sequence = ParseLong(envelope, WireHeaders.Sequence),
            CameraId = Required(envelope, WireHeaders.CameraId),
            CapturedAtUtc = DateTimeOffset.TryParse(Required(envelope, WireHeaders.CapturedAt), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)
                ? at
                : throw new MalformedMessageException($"frame-captured: invalid {WireHeaders.CapturedAt} header"),
            MonotonicNs = ParseLong(envelope, WireHeaders.MonotonicNs),
            Width = (int)ParseLong(envelope, WireHeaders.Width),
            Height = (int)ParseLong(envelope, WireHeaders.Height),
            MountRotationDeg = envelope.Header(WireHeaders.MountRotation) is null ? 0 : (int)ParseLong(envelope, WireHeaders.MountRotation),
            Jpeg = envelope.Body.ToArray(),
        };
    }

    private static string Required(MessageEnvelope envelope, string header) =>
        envelope.Header(header) is { Length: > 0 } value ? value : throw new MalformedMessageException($"{envelope.Type}: missing header {header}");

    private static long ParseLong(MessageEnvelope envelope, string header) =>
        long.TryParse(Required(envelope, header), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v)
            ? v
            : throw new MalformedMessageException($"{envelope.Type}: header {header} is not an integer");
}
