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

/// An input schema with one required string argument.
fn one_string(name: &str, description: &str) -> Value {
    json!({
        "type": "object",
        "properties": {name: {"type": "string", "description": description}},
        "required": [name],
    })
}

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

/// The `tools/list` result: every tool with a name, a description and an object input schema,
/// in a fixed order. `test_simple_text` comes first: conformance calls `tools[0]` with `{}`.
/// The 2026-07-28 fixtures are listed only to stateless requests.
pub(super) fn list(modern: bool) -> Value {
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

#[cfg(test)]
mod tests {
    use super::*;

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
