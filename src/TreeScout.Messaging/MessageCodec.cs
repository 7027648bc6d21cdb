using System.Collections;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
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
            if (frame.Decimated)
            {
                headers[WireHeaders.Decimated] = "true";
            }
            if (frame.CanopyBand is { } band)
            {
                headers[WireHeaders.CanopyBand] = string.Create(CultureInfo.InvariantCulture, $"{band.Top},{band.Bottom}");
            }
            return new MessageEnvelope(frame.MessageId, info.Name, JpegContentType, headers, frame.Jpeg);
        }
        var body = JsonSerializer.SerializeToUtf8Bytes(message, info.Type, ContractsJsonContext.Default);
        return new MessageEnvelope(message.MessageId, info.Name, JsonContentType, headers, body);
    }

    /// <summary>
    /// Decodes and validates an envelope; anything that cannot become a valid message throws <see cref="MalformedMessageException"/>,
    /// whose reason (the dead-letter header) is one short line even when the envelope's values are long.
    /// </summary>
    public static IMessage Decode(MessageEnvelope envelope)
    {
        if (!MessageTypes.TryGet(envelope.Type, out var info))
        {
            throw new MalformedMessageException($"unknown message type '{Reasons.OneLine(envelope.Type)}'");
        }
        var schema = envelope.Header(WireHeaders.SchemaVersion);
        if (!int.TryParse(schema, NumberStyles.None, CultureInfo.InvariantCulture, out var version))
        {
            throw new MalformedMessageException($"{info.Name}: missing or invalid {WireHeaders.SchemaVersion} header '{Reasons.OneLine(schema ?? "")}'");
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
            throw new MalformedMessageException($"{info.Name}: invalid run id '{Reasons.OneLine(message.RunId ?? "")}'");
        }
        return message;
    }

    private static IMessage DecodeJson(MessageEnvelope envelope, MessageTypes.Info info)
    {
        if (envelope.ContentType != JsonContentType)
        {
            throw new MalformedMessageException($"{info.Name}: content type '{Reasons.OneLine(envelope.ContentType)}', expected {JsonContentType}");
        }
        IMessage message;
        try
        {
            message = JsonSerializer.Deserialize(envelope.Body.Span, info.Type, ContractsJsonContext.Default) as IMessage
                ?? throw new MalformedMessageException($"{info.Name}: body is JSON null");
        }
        catch (JsonException ex)
        {
            throw new MalformedMessageException($"{info.Name}: body is not valid JSON for this type ({Reasons.OneLine(ex.Message)})", ex);
        }
        return FirstMissing(message, ContractsJsonContext.Default.Options.GetTypeInfo(info.Type)) is { } missing
            ? throw new MalformedMessageException($"{info.Name}: body has no {missing}")
            : message;
    }

    /// <summary>
    /// The first member the contract declares non-nullable that is null after decoding ("detector.name", "cameras[0]"), or
    /// null. System.Text.Json lets null through for such a member when the body says null or leaves it out (even one with
    /// an initializer, under the source generator) and for list elements; a handler would then fail on it at every retry.
    /// </summary>
    private static string? FirstMissing(object value, JsonTypeInfo type)
    {
        foreach (var property in type.Properties)
        {
            var member = property.Get?.Invoke(value);
            if (member is null)
            {
                if (!property.IsGetNullable && !property.PropertyType.IsValueType)
                {
                    return property.Name;
                }
                continue;
            }
            var inner = type.Options.GetTypeInfo(property.PropertyType);
            var missing = inner.Kind switch
            {
                JsonTypeInfoKind.Object => FirstMissing(member, inner),
                JsonTypeInfoKind.Enumerable when inner.ElementType is { IsValueType: false } element => FirstMissingElement((IEnumerable)member, type.Options.GetTypeInfo(element)),
                _ => null,
            };
            if (missing is not null)
            {
                return $"{property.Name}{(missing[0] == '[' ? "" : ".")}{missing}";
            }
        }
        return null;
    }

    private static string? FirstMissingElement(IEnumerable items, JsonTypeInfo element)
    {
        var i = 0;
        foreach (var item in items)
        {
            var missing = item is null ? "" : element.Kind == JsonTypeInfoKind.Object ? FirstMissing(item, element) : null;
            if (missing is not null)
            {
                return $"[{i}]{(missing.Length == 0 ? "" : ".")}{missing}";
            }
            i++;
        }
        return null;
    }

    private static FrameCaptured DecodeFrame(MessageEnvelope envelope)
    {
        if (envelope.ContentType != JpegContentType)
        {
            throw new MalformedMessageException($"frame-captured: content type '{Reasons.OneLine(envelope.ContentType)}', expected {JpegContentType}");
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
            Decimated = envelope.Header(WireHeaders.Decimated) == "true",
            CanopyBand = envelope.Header(WireHeaders.CanopyBand) is { } band ? ParseBand(envelope, band) : null,
        };
    }

    /// <summary>"top,bottom" with 0 ≤ top &lt; bottom ≤ the frame's height (checked by detection against the upright frame).</summary>
    private static ImageRows ParseBand(MessageEnvelope envelope, string value)
    {
        var parts = value.Split(',');
        return parts.Length == 2
            && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var top)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var bottom)
            && top < bottom
            ? new ImageRows(top, bottom)
            : throw new MalformedMessageException($"{envelope.Type}: header {WireHeaders.CanopyBand} '{Reasons.OneLine(value)}' is not \"top,bottom\" rows");
    }

    private static string Required(MessageEnvelope envelope, string header) =>
        envelope.Header(header) is { Length: > 0 } value ? value : throw new MalformedMessageException($"{envelope.Type}: missing header {header}");

    private static long ParseLong(MessageEnvelope envelope, string header) =>
        long.TryParse(Required(envelope, header), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v)
            ? v
            : throw new MalformedMessageException($"{envelope.Type}: header {header} is not an integer");
}
