using System.Xml;
using System.Xml.Schema;

namespace TreeScout.Tests;

/// <summary>ISO 11783-10 task data checked against the standard's XSD (../shared/spec/isoxml): every error with its line.</summary>
public static class IsoXmlSchema
{
    public static IReadOnlyList<string> Errors(string path)
    {
        using var xml = File.OpenRead(path);
        return Errors(xml);
    }

    public static IReadOnlyList<string> Errors(Stream xml)
    {
        var schemas = new XmlSchemaSet { XmlResolver = new XmlUrlResolver() };
        schemas.Add(null, Path.Combine(RepoPaths.Shared, "spec", "isoxml", "ISO11783_TaskFile_V4-3.xsd"));
        var errors = new List<string>();
        var settings = new XmlReaderSettings { ValidationType = ValidationType.Schema, Schemas = schemas };
        settings.ValidationEventHandler += (_, e) => errors.Add($"{e.Severity} line {e.Exception?.LineNumber}: {e.Message}");
        using var reader = XmlReader.Create(xml, settings);
        while (reader.Read())
        {
        }
        return errors;
    }
}
