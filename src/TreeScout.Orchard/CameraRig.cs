using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using TreeScout.Contracts;

namespace TreeScout.Orchard;

/// <summary>
/// A camera file could not be used; the message names the file, the camera and the field, on one line (a value quoted
/// from the file may hold line breaks, a parser's message may quote the rest of the file).
/// </summary>
public sealed class CameraRigException : Exception
{
    public CameraRigException(string message)
        : base(Reasons.OneLine(message))
    {
    }

    public CameraRigException(string message, Exception inner)
        : base(Reasons.OneLine(message), inner)
    {
    }

    public CameraRigException()
    {
    }
}

/// <summary>
/// camera.json: the cameras of a recording or of the tractor (format: docs/recording-format.md). Read field by field and
/// checked as a whole before anything starts: a missing or impossible value (a focal length of 0, a principal point
/// outside the image) would otherwise let a run go on and map nothing, or place every cluster wrong.
/// </summary>
public sealed partial record CameraRig(IReadOnlyList<CameraMounting> Cameras)
{
    /// <summary>Largest image side a JPEG can describe.</summary>
    public const int MaxImageSide = 65_535;

    /// <summary>Lever arm components and antenna height beyond this are not a tractor, metres.</summary>
    public const double MaxOffsetM = 10;

    /// <summary>Camera ids travel in message ids and log lines; the capture worker's Capture:CameraId follows the same rule.</summary>
    public const string CameraIdRule = "^[A-Za-z0-9._-]{1,40}$";

    [GeneratedRegex(CameraIdRule)]
    private static partial Regex CameraIdPattern();

    public static CameraRig Load(string path)
    {
        try
        {
            return Parse(File.ReadAllText(path), path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CameraRigException($"{path}: cannot read camera file: {ex.Message}", ex);
        }
    }

    /// <summary>Parses and checks every camera; throws <see cref="CameraRigException"/> at the first problem, naming <paramref name="source"/>.</summary>
    public static CameraRig Parse(string json, string source)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException ex)
        {
            throw new CameraRigException($"{source}: not JSON: {ex.Message}", ex);
        }
        using (document)
        {
            try
            {
                return Read(document, source);
            }
            catch (InvalidOperationException ex)
            {
                // A name or string with a lone UTF-16 surrogate (\ud800) parses as JSON but cannot be read as text.
                throw new CameraRigException($"{source}: unreadable text: {ex.Message}", ex);
            }
        }
    }

    private static CameraRig Read(JsonDocument document, string source)
    {
        if (document.RootElement.ValueKind != JsonValueKind.Object
            || Property(document.RootElement, "cameras") is not { ValueKind: JsonValueKind.Array } list
            || list.GetArrayLength() == 0)
        {
            throw new CameraRigException($"{source}: expected {{\"cameras\": [...]}} with at least one camera");
        }
        var cameras = new List<CameraMounting>();
        foreach (var element in list.EnumerateArray())
        {
            var camera = new CameraReader(source, element, cameras.Count + 1).Read();
            if (cameras.Any(c => c.CameraId == camera.CameraId))
            {
                throw new CameraRigException($"{source}: camera \"{camera.CameraId}\" is listed twice");
            }
            cameras.Add(camera);
        }
        return new CameraRig(cameras);
    }

    /// <summary>Property names as the rest of the JSON files are read: camelCase, case-insensitive.</summary>
    private static JsonElement? Property(JsonElement element, string name)
    {
        foreach (var property in element.EnumerateObject())
        {
            if (string.Equals(property.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                return property.Value;
            }
        }
        return null;
    }

    /// <summary>One camera of the file; every error names the file, the camera (by id, else by position) and the field.</summary>
    private sealed class CameraReader(string source, JsonElement element, int position)
    {
        private string _label = $"camera {position}";

        public CameraMounting Read()
        {
            if (element.ValueKind != JsonValueKind.Object)
            {
                throw Problem($"expected an object, got {element.GetRawText()}");
            }
            var id = Text("cameraId");
            if (!CameraIdPattern().IsMatch(id))
            {
                throw Problem($"cameraId must be 1-40 letters, digits, '.', '_' or '-' (got \"{id}\")");
            }
            _label = $"camera \"{id}\"";
            var side = Text("side").ToLowerInvariant() switch
            {
                "left" => CameraSide.Left,
                "right" => CameraSide.Right,
                var other => throw Problem($"side must be \"left\" or \"right\" (got \"{other}\")"),
            };
            var arm = Field("leverArm") is { ValueKind: JsonValueKind.Object } armElement
                ? new LeverArm(Offset(armElement, "leverArm.forwardM"), Offset(armElement, "leverArm.rightM"), Offset(armElement, "leverArm.upM"))
                : throw Problem("leverArm must be an object {\"forwardM\", \"rightM\", \"upM\"} in metres");
            var antenna = Number("antennaHeightM");
            if (antenna is <= 0 or > MaxOffsetM)
            {
                throw Problem(Got($"antennaHeightM must be > 0 and at most {MaxOffsetM} m", antenna));
            }
            if (antenna + arm.UpM <= 0)
            {
                throw Problem(string.Create(CultureInfo.InvariantCulture,
                    $"the camera would be {antenna + arm.UpM:0.###} m above the ground (antennaHeightM {antenna} + leverArm.upM {arm.UpM}); it must be above it"));
            }
            var yaw = Number("yawDeg");
            CheckLooksToItsSide(side, yaw);
            var pitch = Number("pitchDeg", required: false);
            if (pitch is <= -90 or >= 90)
            {
                throw Problem(Got("pitchDeg must be between -90 and 90", pitch));
            }
            var rotation = Whole("mountRotationDeg", required: false);
            if (rotation is not (0 or 90 or 180 or 270))
            {
                throw Problem(Got("mountRotationDeg must be 0, 90, 180 or 270", rotation));
            }
            var width = ImageSide("imageWidth");
            var height = ImageSide("imageHeight");
            var fx = FocalLength("fx");
            var fy = FocalLength("fy");
            var cx = PrincipalPoint("cx", width, "imageWidth");
            var cy = PrincipalPoint("cy", height, "imageHeight");
            return new CameraMounting
            {
                CameraId = id,
                Side = side,
                LeverArm = arm,
                AntennaHeightM = antenna,
                YawDeg = yaw,
                PitchDeg = pitch,
                MountRotationDeg = rotation,
                ImageWidth = width,
                ImageHeight = height,
                Fx = fx,
                Fy = fy,
                Cx = cx,
                Cy = cy,
            };
        }

        // A left camera copied from the right one's block and its side changed (or the reverse) would map every
        // cluster onto the wrong row: the side and the direction the yaw looks must agree.
        private void CheckLooksToItsSide(CameraSide side, double yaw)
        {
            if (yaw is < -360 or > 360)
            {
                throw Problem(Got("yawDeg must be between -360 and 360", yaw));
            }
            var normalised = Math.IEEERemainder(yaw, 360); // (-180, 180]
            var looksRight = normalised is > 0 and < 180;
            var looksLeft = normalised is < 0 and > -180;
            if ((side == CameraSide.Right && !looksRight) || (side == CameraSide.Left && !looksLeft))
            {
                throw Problem(Got($"yawDeg must look to the camera's side \"{side.ToString().ToLowerInvariant()}\" (right: between 0 and 180, about 90; left: between -180 and 0, about -90)", yaw));
            }
        }

        private double Offset(JsonElement arm, string name)
        {
            var value = Number(arm, name, name["leverArm.".Length..], required: true);
            return Math.Abs(value) <= MaxOffsetM ? value : throw Problem(Got($"{name} must be between -{MaxOffsetM} and {MaxOffsetM} m", value));
        }

        private int ImageSide(string name)
        {
            var value = Whole(name, required: true);
            return value is > 0 and <= MaxImageSide ? value : throw Problem(Got($"{name} must be > 0 pixels", value));
        }

        private double FocalLength(string name)
        {
            var value = Number(name);
            return value > 0 ? value : throw Problem(Got($"{name} must be > 0", value));
        }

        private double PrincipalPoint(string name, int size, string sizeName)
        {
            var value = Number(name);
            return value >= 0 && value <= size
                ? value
                : throw Problem(Got($"{name} must lie within the image, 0 to {sizeName} {size}", value));
        }

        private JsonElement? Field(string name) => Property(element, name) is { ValueKind: not JsonValueKind.Null } value ? value : null;

        private string Text(string name) => Field(name) switch
        {
            null => throw Problem($"{name} is missing"),
            { ValueKind: JsonValueKind.String } value => value.GetString()!,
            var value => throw Problem($"{name} must be a string (got {value.Value.GetRawText()})"),
        };

        private double Number(string name, bool required = true) => Number(element, name, name, required);

        private double Number(JsonElement owner, string name, string property, bool required) => Property(owner, property) switch
        {
            null or { ValueKind: JsonValueKind.Null } when required => throw Problem($"{name} is missing"),
            null or { ValueKind: JsonValueKind.Null } => 0,
            { ValueKind: JsonValueKind.Number } value when value.TryGetDouble(out var number) && double.IsFinite(number) => number,
            var value => throw Problem($"{name} must be a number (got {value.Value.GetRawText()})"),
        };

        private int Whole(string name, bool required) => Field(name) switch
        {
            null when required => throw Problem($"{name} is missing"),
            null => 0,
            { ValueKind: JsonValueKind.Number } value when value.TryGetInt32(out var number) => number,
            var value => throw Problem($"{name} must be a whole number (got {value.Value.GetRawText()})"),
        };

        private static string Got(string rule, double value) => string.Create(CultureInfo.InvariantCulture, $"{rule} (got {value})");

        private CameraRigException Problem(string what) => new($"{source}: {_label}: {what}");
    }
}
