//! The tool table: what `tools/list` shows, in a fixed order, with each tool's name,
//! description and input schema (conformance fixture contract, "Tools"). What a call does is
//! `tools.rs`; the 2026-07-28 fixtures add their own entries from `stateless.rs` and
//! `input_fixtures.rs`.

use super::{input_fixtures, stateless};
use serde_json::{json, Value};

/// One `tools/list` entry: name, description, input schema.
pub(super) type ToolDef = (&'static str, &'static str, Value);

/// An input schema for a tool without arguments.
pub(super) fn no_arguments() -> Value {
    json!({"type": "object", "properties": {}})
}

/// An input schema with one required string argument (the reference table of the tests).
#[cfg(test)]
fn one_string(name: &str, description: &str) -> Value {
    json!({
        "type": "object",
        "properties": {name: {"type": "string", "description": description}},
        "required": [name],
    })
}

/// The tools every request sees, as `tools/list` shows them, in order: static text parsed on
/// use (the `json!` tree it replaced compiled to about 10 KB of machine code; `tools/list` is
/// rare). `test_simple_text` comes first: conformance calls `tools[0]` with `{}`. The
/// `json_schema_2020_12_tool` input schema is exactly as conformance 0.2.0 lists it (SEP-1613,
/// SEP-2106: composition, conditionals and anchors must reach the client unchanged).
const TOOLS: &str = r##"[
{"name":"test_simple_text","description":"Returns a simple text response.","inputSchema":{"properties":{},"type":"object"}},
{"name":"echo","description":"Returns the given message unchanged.","inputSchema":{"properties":{"message":{"description":"Text to echo back","type":"string"}},"required":["message"],"type":"object"}},
{"name":"test_image_content","description":"Returns a 1x1 PNG image.","inputSchema":{"properties":{},"type":"object"}},
{"name":"test_audio_content","description":"Returns a short WAV audio clip.","inputSchema":{"properties":{},"type":"object"}},
{"name":"test_embedded_resource","description":"Returns an embedded text resource.","inputSchema":{"properties":{},"type":"object"}},
{"name":"test_multiple_content_types","description":"Returns text, an image and an embedded resource together.","inputSchema":{"properties":{},"type":"object"}},
{"name":"test_tool_with_logging","description":"Sends three log messages 50 ms apart, then returns.","inputSchema":{"properties":{},"type":"object"}},
{"name":"test_error_handling","description":"Always returns a tool result flagged as an error.","inputSchema":{"properties":{},"type":"object"}},
{"name":"test_tool_with_progress","description":"Reports progress 0, 50 and 100 of 100, 50 ms apart, when given a progress token.","inputSchema":{"properties":{},"type":"object"}},
{"name":"test_sampling","description":"Asks the client's LLM to answer the prompt (sampling/createMessage).","inputSchema":{"properties":{"prompt":{"description":"Prompt to send to the client's LLM","type":"string"}},"required":["prompt"],"type":"object"}},
{"name":"test_elicitation","description":"Asks the user for a username and an email (elicitation/create).","inputSchema":{"properties":{"message":{"description":"Message shown to the user","type":"string"}},"required":["message"],"type":"object"}},
{"name":"test_elicitation_sep1034_defaults","description":"Elicits a form whose fields carry default values (SEP-1034).","inputSchema":{"properties":{},"type":"object"}},
{"name":"test_elicitation_sep1330_enums","description":"Elicits a form using every enum schema variant (SEP-1330).","inputSchema":{"properties":{},"type":"object"}},
{"name":"json_schema_2020_12_tool","description":"Accepts arguments described by a JSON Schema 2020-12 input schema (SEP-1613).","inputSchema":{"$defs":{"address":{"$anchor":"addressDef","properties":{"city":{"type":"string"},"street":{"type":"string"}},"type":"object"}},"$schema":"https://json-schema.org/draft/2020-12/schema","additionalProperties":false,"allOf":[{"anyOf":[{"required":["phone"]},{"required":["email"]}]}],"else":{"required":["email"]},"if":{"properties":{"contactMethod":{"const":"phone"}},"required":["contactMethod"]},"properties":{"address":{"$ref":"#/$defs/address"},"contactMethod":{"enum":["phone","email"],"type":"string"},"email":{"type":"string"},"name":{"type":"string"},"phone":{"type":"string"}},"then":{"required":["phone"]},"type":"object"}},
{"name":"test_reconnection","description":"Closes its response stream, then answers after 100 ms for the client to resume.","inputSchema":{"properties":{},"type":"object"}},
{"name":"list_roots","description":"Lists the client's roots (roots/list).","inputSchema":{"properties":{},"type":"object"}}
]"##;

/// The `tools/list` result: every tool with a name, a description and an object input schema,
/// in a fixed order. The 2026-07-28 fixtures are listed only to stateless requests.
pub(super) fn list(modern: bool) -> Value {
    // The text is a constant checked by the tests below.
    let mut tools = match serde_json::from_str(TOOLS) {
        Ok(Value::Array(tools)) => tools,
        _ => Vec::new(),
    };
    tools.extend(
        modern
            .then(stateless::tools)
            .into_iter()
            .flatten()
            .chain(modern.then(input_fixtures::tools).into_iter().flatten())
            .map(|(name, description, schema)| {
                json!({"name": name, "description": description, "inputSchema": schema})
            }),
    );
    json!({ "tools": tools })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `json_schema_2020_12_tool` input schema, exactly as conformance 0.2.0 lists it (SEP-1613,
    /// SEP-2106: composition, conditionals and anchors must reach the client unchanged).
    fn json_schema_2020_12() -> Value {
        json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "$defs": {
                "address": {
                    "$anchor": "addressDef",
                    "type": "object",
                    "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
                },
            },
            "properties": {
                "name": {"type": "string"},
                "address": {"$ref": "#/$defs/address"},
                "contactMethod": {"type": "string", "enum": ["phone", "email"]},
                "phone": {"type": "string"},
                "email": {"type": "string"},
            },
            "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
            "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
            "then": {"required": ["phone"]},
            "else": {"required": ["email"]},
            "additionalProperties": false,
        })
    }

    /// The `json!` construction the static text replaced, kept as the reference. The `tools/list` result: every tool with a name, a description and an object input schema,
    /// in a fixed order. `test_simple_text` comes first: conformance calls `tools[0]` with `{}`.
    /// The 2026-07-28 fixtures are listed only to stateless requests.
    fn reference_list(modern: bool) -> Value {
        let tools: Vec<Value> = [
            ("test_simple_text", "Returns a simple text response.", no_arguments()),
            ("echo", "Returns the given message unchanged.", one_string("message", "Text to echo back")),
            ("test_image_content", "Returns a 1x1 PNG image.", no_arguments()),
            ("test_audio_content", "Returns a short WAV audio clip.", no_arguments()),
            ("test_embedded_resource", "Returns an embedded text resource.", no_arguments()),
            (
                "test_multiple_content_types",
                "Returns text, an image and an embedded resource together.",
                no_arguments(),
            ),
            (
                "test_tool_with_logging",
                "Sends three log messages 50 ms apart, then returns.",
                no_arguments(),
            ),
            (
                "test_error_handling",
                "Always returns a tool result flagged as an error.",
                no_arguments(),
            ),
            (
                "test_tool_with_progress",
                "Reports progress 0, 50 and 100 of 100, 50 ms apart, when given a progress token.",
                no_arguments(),
            ),
            (
                "test_sampling",
                "Asks the client's LLM to answer the prompt (sampling/createMessage).",
                one_string("prompt", "Prompt to send to the client's LLM"),
            ),
            (
                "test_elicitation",
                "Asks the user for a username and an email (elicitation/create).",
                one_string("message", "Message shown to the user"),
            ),
            (
                "test_elicitation_sep1034_defaults",
                "Elicits a form whose fields carry default values (SEP-1034).",
                no_arguments(),
            ),
            (
                "test_elicitation_sep1330_enums",
                "Elicits a form using every enum schema variant (SEP-1330).",
                no_arguments(),
            ),
            (
                "json_schema_2020_12_tool",
                "Accepts arguments described by a JSON Schema 2020-12 input schema (SEP-1613).",
                json_schema_2020_12(),
            ),
            (
                "test_reconnection",
                "Closes its response stream, then answers after 100 ms for the client to resume.",
                no_arguments(),
            ),
            ("list_roots", "Lists the client's roots (roots/list).", no_arguments()),
        ]
        .into_iter()
        .chain(modern.then(stateless::tools).into_iter().flatten())
        .chain(modern.then(input_fixtures::tools).into_iter().flatten())
        .map(|(name, description, schema)| {
            json!({"name": name, "description": description, "inputSchema": schema})
        })
        .collect();
        json!({ "tools": tools })
    }

    #[test]
    fn static_tool_table_is_the_json_macro_table() {
        for modern in [false, true] {
            assert_eq!(list(modern), reference_list(modern), "modern {modern}");
            assert_eq!(
                crate::mcp::jsonrpc::encode(&list(modern)),
                crate::mcp::jsonrpc::encode(&reference_list(modern))
            );
        }
        assert!(matches!(serde_json::from_str(TOOLS), Ok(Value::Array(_))));
    }

    #[test]
    fn json_schema_tool_lists_its_2020_12_schema_exactly() {
        let want: Value = serde_json::from_str(
            r##"{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object",
 "$defs":{"address":{"$anchor":"addressDef","type":"object","properties":{"street":{"type":"string"},"city":{"type":"string"}}}},
 "properties":{"name":{"type":"string"},"address":{"$ref":"#/$defs/address"},
               "contactMethod":{"type":"string","enum":["phone","email"]},"phone":{"type":"string"},"email":{"type":"string"}},
 "allOf":[{"anyOf":[{"required":["phone"]},{"required":["email"]}]}],
 "if":{"properties":{"contactMethod":{"const":"phone"}},"required":["contactMethod"]},
 "then":{"required":["phone"]},"else":{"required":["email"]},"additionalProperties":false}"##,
        )
        .unwrap();
        for modern in [false, true] {
            let list = list(modern);
            let tool = list["tools"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["name"] == "json_schema_2020_12_tool")
                .unwrap();
            assert_eq!(tool["inputSchema"], want);
        }
    }
}
