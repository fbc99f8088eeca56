//! The prompts: what `prompts/list` shows and what `prompts/get` returns, as the conformance
//! 0.1.16 fixture contract ("Prompts") fixes them.
//!
//! An unknown prompt, a missing required argument or a non-string argument is -32602 (MCP
//! server/prompts, "Error Handling").

use super::fixtures::PNG_1X1;
use super::{input_fixtures, invalid_params};
use crate::mcp::ErrorObject;
use serde_json::{json, Map, Value};

/// Each prompt: name, description, and its arguments as (name, description, required).
type PromptDef = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str, bool)],
);

/// Every prompt this server offers.
const PROMPTS: [PromptDef; 4] = [
    (
        "test_simple_prompt",
        "A simple prompt without arguments.",
        &[],
    ),
    (
        "test_prompt_with_arguments",
        "A prompt that puts its two arguments into the message.",
        &[
            ("arg1", "First argument", true),
            ("arg2", "Second argument", true),
        ],
    ),
    (
        "test_prompt_with_embedded_resource",
        "A prompt that embeds the resource it is given.",
        &[("resourceUri", "URI of the resource to embed", true)],
    ),
    (
        "test_prompt_with_image",
        "A prompt that carries an image.",
        &[],
    ),
];

/// The `prompts/list` result; the 2026-07-28 fixture prompt is listed to stateless requests only.
pub(super) fn list(modern: bool) -> Value {
    let (name, description) = input_fixtures::PROMPT;
    let asking: PromptDef = (name, description, &[]);
    let prompts: Vec<Value> = PROMPTS
        .iter()
        .chain(modern.then_some(&asking))
        .map(|(name, description, args)| {
            let arguments: Vec<Value> = args
                .iter()
                .map(|(name, description, required)| {
                    json!({"name": name, "description": description, "required": required})
                })
                .collect();
            json!({"name": name, "description": description, "arguments": arguments})
        })
        .collect();
    json!({ "prompts": prompts })
}

/// Whether prompt `prompt` has an argument called `argument`, for completion.
pub(super) fn has_argument(prompt: &str, argument: &str) -> bool {
    PROMPTS
        .iter()
        .filter(|(name, ..)| *name == prompt)
        .any(|(_, _, args)| args.iter().any(|(a, ..)| *a == argument))
}

/// The `prompts/get` result for prompt `name` with `args`.
pub(super) fn get(name: &str, args: &Map<String, Value>) -> Result<Value, ErrorObject> {
    let Some((_, _, params)) = PROMPTS.iter().find(|(n, ..)| *n == name) else {
        return Err(invalid_params(format!("Unknown prompt: {name}")));
    };
    for (key, value) in args {
        if !value.is_string() {
            return Err(invalid_params(format!("Argument {key} must be a string")));
        }
    }
    if let Some((missing, ..)) = params
        .iter()
        .find(|(arg, _, required)| *required && !args.contains_key(*arg))
    {
        return Err(invalid_params(format!(
            "Missing required argument: {missing}"
        )));
    }
    let arg = |key: &str| args.get(key).and_then(Value::as_str).unwrap_or_default();
    let user = |content: Value| json!({"role": "user", "content": content});
    let text = |text: &str| user(json!({"type": "text", "text": text}));
    let messages = match name {
        "test_simple_prompt" => vec![text("This is a simple prompt for testing.")],
        "test_prompt_with_arguments" => vec![text(&format!(
            "Prompt with arguments: arg1='{}', arg2='{}'",
            arg("arg1"),
            arg("arg2")
        ))],
        "test_prompt_with_embedded_resource" => vec![
            user(json!({"type": "resource", "resource": {
                "uri": arg("resourceUri"),
                "mimeType": "text/plain",
                "text": "Embedded resource content for testing.",
            }})),
            text("Please process the embedded resource above."),
        ],
        _ => vec![
            user(json!({"type": "image", "data": PNG_1X1, "mimeType": "image/png"})),
            text("Please analyze the image above."),
        ],
    };
    Ok(json!({ "messages": messages }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get_with(name: &str, args: Value) -> Result<Value, ErrorObject> {
        get(name, args.as_object().unwrap())
    }

    #[test]
    fn prompts_return_the_contract_messages() {
        assert_eq!(
            get_with("test_simple_prompt", json!({})).unwrap(),
            json!({"messages":[{"role":"user","content":{"type":"text",
                "text":"This is a simple prompt for testing."}}]})
        );
        assert_eq!(
            get_with(
                "test_prompt_with_arguments",
                json!({"arg1":"testValue1","arg2":"testValue2"})
            )
            .unwrap(),
            json!({"messages":[{"role":"user","content":{"type":"text",
                "text":"Prompt with arguments: arg1='testValue1', arg2='testValue2'"}}]})
        );
        assert_eq!(
            get_with(
                "test_prompt_with_embedded_resource",
                json!({"resourceUri":"test://example-resource"})
            )
            .unwrap(),
            json!({"messages":[
                {"role":"user","content":{"type":"resource","resource":{"uri":"test://example-resource",
                    "mimeType":"text/plain","text":"Embedded resource content for testing."}}},
                {"role":"user","content":{"type":"text","text":"Please process the embedded resource above."}}]})
        );
        assert_eq!(
            get_with("test_prompt_with_image", json!({})).unwrap(),
            json!({"messages":[
                {"role":"user","content":{"type":"image","data":PNG_1X1,"mimeType":"image/png"}},
                {"role":"user","content":{"type":"text","text":"Please analyze the image above."}}]})
        );
    }

    #[test]
    fn missing_or_non_string_arguments_are_invalid_params() {
        let cases = [
            ("test_prompt_with_arguments", json!({"arg1": "x"})),
            (
                "test_prompt_with_arguments",
                json!({"arg1": "x", "arg2": 2}),
            ),
            ("test_prompt_with_embedded_resource", json!({})),
            ("no_such_prompt", json!({})),
        ];
        for (name, args) in cases {
            let e = get_with(name, args.clone()).unwrap_err();
            assert_eq!(e.code, -32602, "{name} {args}");
        }
        let e = get_with("no_such_prompt", json!({})).unwrap_err();
        assert_eq!(e.message, "Unknown prompt: no_such_prompt");
    }

    #[test]
    fn every_listed_prompt_is_described_with_its_arguments() {
        for p in list(true)["prompts"].as_array().unwrap() {
            assert!(!p["name"].as_str().unwrap().is_empty());
            assert!(!p["description"].as_str().unwrap().is_empty(), "{p}");
            for a in p["arguments"].as_array().unwrap() {
                assert!(a["required"].is_boolean());
                assert!(!a["description"].as_str().unwrap().is_empty());
            }
        }
        assert!(has_argument("test_prompt_with_arguments", "arg2"));
        assert!(!has_argument("test_simple_prompt", "arg1"));
    }
}
