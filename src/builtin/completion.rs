//! `completion/complete`: argument suggestions for the prompts and the resource template (MCP
//! server/utilities/completion).
//!
//! Suggestions come from small fixed lists filtered by prefix. A reference or argument we do
//! not know gets an empty list rather than an error; malformed params are -32602.

use super::invalid_params;
use super::{prompts, resources};
use crate::mcp::ErrorObject;
use serde_json::{json, Value};

/// Values offered for `test_prompt_with_arguments`' `arg1` and `arg2`.
const PROMPT_VALUES: [&str; 5] = ["test", "testing", "tested", "value1", "value2"];

/// Values offered for the `id` of the resource template.
const TEMPLATE_IDS: [&str; 4] = ["1", "2", "3", "123"];

/// The `completion/complete` result for `params`.
pub(super) fn complete(params: &Value) -> Result<Value, ErrorObject> {
    let field = |object: &str, key: &str| {
        params
            .get(object)
            .and_then(|o| o.get(key))
            .and_then(Value::as_str)
            .ok_or_else(|| invalid_params(format!("{object}.{key} must be a string")))
    };
    let kind = field("ref", "type")?;
    let argument = field("argument", "name")?;
    let prefix = field("argument", "value")?;
    let candidates: Vec<&str> = match kind {
        "ref/prompt" => {
            let name = field("ref", "name")?;
            match (name, argument) {
                ("test_prompt_with_arguments", "arg1" | "arg2") => PROMPT_VALUES.to_vec(),
                ("test_prompt_with_embedded_resource", "resourceUri") => {
                    resources::fixed_uris().collect()
                }
                _ if prompts::has_argument(name, argument) => Vec::new(),
                _ => return Ok(empty()),
            }
        }
        "ref/resource" => match (field("ref", "uri")?, argument) {
            (resources::TEMPLATE, "id") => TEMPLATE_IDS.to_vec(),
            _ => return Ok(empty()),
        },
        _ => return Ok(empty()),
    };
    let values: Vec<&str> = candidates
        .into_iter()
        .filter(|v| v.starts_with(prefix))
        .collect();
    Ok(json!({"completion": {"values": values, "total": values.len(), "hasMore": false}}))
}

/// The answer for a reference we know nothing about.
fn empty() -> Value {
    json!({"completion": {"values": []}})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompt(name: &str, arg: &str, value: &str) -> Value {
        complete(&json!({"ref":{"type":"ref/prompt","name":name},
            "argument":{"name":arg,"value":value}}))
        .unwrap()
    }

    #[test]
    fn prompt_arguments_complete_by_prefix() {
        assert_eq!(
            prompt("test_prompt_with_arguments", "arg1", "test"),
            json!({"completion":{"values":["test","testing","tested"],"total":3,"hasMore":false}})
        );
        assert_eq!(
            prompt("test_prompt_with_arguments", "arg2", "")["completion"]["total"],
            5
        );
        assert_eq!(
            prompt("test_prompt_with_arguments", "arg1", "zzz")["completion"]["values"],
            json!([])
        );
    }

    #[test]
    fn template_id_completes_by_prefix() {
        let got = complete(
            &json!({"ref":{"type":"ref/resource","uri":"test://template/{id}/data"},
            "argument":{"name":"id","value":"1"}}),
        )
        .unwrap();
        assert_eq!(
            got,
            json!({"completion":{"values":["1","123"],"total":2,"hasMore":false}})
        );
    }

    #[test]
    fn unknown_references_complete_to_nothing() {
        assert_eq!(prompt("nope", "arg1", ""), empty());
        assert_eq!(prompt("test_prompt_with_arguments", "arg9", ""), empty());
        let got = complete(&json!({"ref":{"type":"ref/resource","uri":"test://other"},
            "argument":{"name":"id","value":""}}))
        .unwrap();
        assert_eq!(got, empty());
    }

    #[test]
    fn malformed_params_are_invalid_params() {
        for params in [
            json!({}),
            json!({"ref":{"type":"ref/prompt"},"argument":{"name":"arg1","value":""}}),
            json!({"ref":{"type":"ref/prompt","name":"x"},"argument":{"name":"arg1"}}),
            json!({"ref":"x","argument":{"name":"a","value":"b"}}),
        ] {
            assert_eq!(complete(&params).unwrap_err().code, -32602, "{params}");
        }
    }
}
