using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace TreeScout.Deploy.Tests.Support;

/// <summary>
/// The part of Go's text/template the ApplicationSet's templates use, evaluated as Argo CD does with
/// <c>goTemplate: true</c> and <c>missingkey=error</c>: output actions, <c>if</c>/<c>else</c>/<c>end</c>, field paths
/// (<c>.metadata.labels</c>), <c>index</c>, <c>eq</c>, parentheses, string literals, and the <c>{{-</c> / <c>-}}</c>
/// whitespace trimming. Anything else throws <see cref="NotSupportedException"/>, so a template that starts using more
/// fails the tests instead of being rendered wrongly.
/// </summary>
public static partial class GoTemplate
{
    public static string Render(string template, JsonObject data)
    {
        var tokens = Tokenize(template);
        var position = 0;
        var output = new StringBuilder();
        Block(tokens, ref position, data, output, emit: true, terminators: []);
        if (position != tokens.Count)
        {
            throw new NotSupportedException($"unexpected {{{{{tokens[position].Text}}}}} in: {template}");
        }
        return output.ToString();
    }

    private sealed record Token(bool IsAction, string Text);

    private static List<Token> Tokenize(string template)
    {
        var tokens = new List<Token>();
        var rest = template;
        var trimNext = false;
        while (rest.Length > 0)
        {
            var open = rest.IndexOf("{{", StringComparison.Ordinal);
            var text = open < 0 ? rest : rest[..open];
            if (trimNext)
            {
                text = text.TrimStart();
            }
            if (open < 0)
            {
                tokens.Add(new Token(false, text));
                break;
            }
            var close = rest.IndexOf("}}", open, StringComparison.Ordinal);
            if (close < 0)
            {
                throw new NotSupportedException($"unclosed action in: {template}");
            }
            var action = rest[(open + 2)..close];
            if (action.StartsWith("- ", StringComparison.Ordinal))
            {
                text = text.TrimEnd();
                action = action[2..];
            }
            trimNext = action.EndsWith(" -", StringComparison.Ordinal);
            if (trimNext)
            {
                action = action[..^2];
            }
            tokens.Add(new Token(false, text));
            tokens.Add(new Token(true, action.Trim()));
            rest = rest[(close + 2)..];
        }
        return tokens;
    }

    /// <summary>Renders tokens until one of <paramref name="terminators"/> (returned, not consumed) or the end.</summary>
    private static string? Block(List<Token> tokens, ref int position, JsonObject data, StringBuilder output, bool emit, string[] terminators)
    {
        while (position < tokens.Count)
        {
            var token = tokens[position];
            if (!token.IsAction)
            {
                if (emit)
                {
                    output.Append(token.Text);
                }
                position++;
                continue;
            }
            if (terminators.Contains(token.Text))
            {
                return token.Text;
            }
            position++;
            if (token.Text.StartsWith("if ", StringComparison.Ordinal))
            {
                var condition = emit && Truthy(Evaluate(token.Text[3..], data));
                var end = Block(tokens, ref position, data, output, emit && condition, ["else", "end"]);
                if (end == "else")
                {
                    position++;
                    end = Block(tokens, ref position, data, output, emit && !condition, ["end"]);
                }
                if (end != "end")
                {
                    throw new NotSupportedException($"{{{{{token.Text}}}}} has no {{{{end}}}}");
                }
                position++;
            }
            else if (token.Text is "else" or "end")
            {
                throw new NotSupportedException($"{{{{{token.Text}}}}} without an if");
            }
            else if (emit)
            {
                output.Append(Evaluate(token.Text, data));
            }
        }
        return null;
    }

    private static bool Truthy(object? value) => value switch
    {
        null => false,
        bool b => b,
        string s => s.Length > 0,
        _ => true,
    };

    private static object? Evaluate(string expression, JsonObject data)
    {
        var terms = Terms(expression.Trim());
        return terms switch
        {
            ["index", var map, var key] => Index(Value(map, data), Value(key, data)),
            ["eq", var a, var b] => Equals(Value(a, data), Value(b, data)),
            [var single] => Value(single, data),
            _ => throw new NotSupportedException($"unsupported template expression: {expression}"),
        };
    }

    private static object? Value(string term, JsonObject data)
    {
        if (term.StartsWith('(') && term.EndsWith(')'))
        {
            return Evaluate(term[1..^1], data);
        }
        if (term.StartsWith('"') && term.EndsWith('"') && term.Length >= 2)
        {
            return term[1..^1];
        }
        if (term.StartsWith('.') && FieldPath().IsMatch(term))
        {
            JsonNode? node = data;
            foreach (var field in term[1..].Split('.'))
            {
                // missingkey=error: a missing map key stops the rendering (Argo CD reports the ApplicationSet in error).
                node = node is JsonObject o && o.TryGetPropertyValue(field, out var next)
                    ? next
                    : throw new KeyNotFoundException($"map has no entry for key \"{field}\" ({term})");
            }
            // (object?): JsonNode converts from string implicitly, which would turn the string back into a JsonValue.
            return node is JsonValue v && v.TryGetValue<string>(out var s) ? (object?)s : node;
        }
        throw new NotSupportedException($"unsupported template term: {term}");
    }

    /// <summary>Go's index on a map[string]string: a missing key is the zero value, whatever missingkey says.</summary>
    private static string Index(object? map, object? key) =>
        map is JsonObject o && key is string k
            ? (o.TryGetPropertyValue(k, out var v) ? (string?)v ?? "" : "")
            : throw new NotSupportedException("index takes a map and a string key");

    /// <summary>Splits on spaces outside parentheses and string literals.</summary>
    private static List<string> Terms(string expression)
    {
        var terms = new List<string>();
        var (depth, quoted, start) = (0, false, 0);
        for (var i = 0; i <= expression.Length; i++)
        {
            var c = i < expression.Length ? expression[i] : ' ';
            if (c == '"')
            {
                quoted = !quoted;
            }
            else if (!quoted && c == '(')
            {
                depth++;
            }
            else if (!quoted && c == ')')
            {
                depth--;
            }
            else if (!quoted && depth == 0 && c == ' ')
            {
                if (i > start)
                {
                    terms.Add(expression[start..i]);
                }
                start = i + 1;
            }
        }
        if (quoted || depth != 0)
        {
            throw new NotSupportedException($"unbalanced quotes or parentheses: {expression}");
        }
        return terms;
    }

    [GeneratedRegex(@"^(\.[A-Za-z_][A-Za-z0-9_]*)+$")]
    private static partial Regex FieldPath();
}
