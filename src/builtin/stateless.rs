//! Tools that exist only for stateless (2026-07-28) requests, as conformance 0.2.0-alpha.12
//! (section 4) names them, and the per-request inputs they read: the client capabilities and
//! log level of `_meta`, and the `Mcp-Param-*` headers.
//!
//! The `input_required` fixtures live in `input_required`; this file holds the ones that answer
//! at once or with a notification. Typed errors: a capability the client did not declare is
//! -32021 with `data.requiredCapabilities`; a `Mcp-Param-*` header that disagrees with its
//! argument is -32020 (MCP 2026-07-28 basic, "Error Codes"; transports, "Custom Headers").

use super::invalid_params;
use super::logging::{Level, LogFilter};
use super::tool_list::{no_arguments, ToolDef};
use super::tools::{declared, text_result, Plan, Step};
use crate::mcp::transport::param_headers;
use crate::mcp::{ErrorObject, SessionView};
use serde_json::{json, Map, Value};
use std::collections::VecDeque;

/// `MissingRequiredClientCapability` (MCP 2026-07-28).
pub(super) const MISSING_CAPABILITY: i64 = -32021;

/// The `_meta` key of a request's minimum log level (MCP 2026-07-28 server/utilities/logging).
const LOG_LEVEL: &str = "io.modelcontextprotocol/logLevel";

/// The argument `test_x_mcp_header` mirrors into a header, and that header's name.
const REGION: (&str, &str) = ("region", "Region");

/// The 2026-only tools of this file, in listing order.
pub(super) fn tools() -> Vec<ToolDef> {
    let region = json!({
        "type": "object",
        "properties": {REGION.0: {
            "type": "string",
            "description": "A region, mirrored in the Mcp-Param-Region header",
            "x-mcp-header": REGION.1,
        }},
    });
    vec![
        (
            "test_missing_capability",
            "Needs the sampling capability; without it, fails with -32021.",
            no_arguments(),
        ),
        (
            "test_logging_tool",
            "Logs one info message, only if the request's _meta asks for logs.",
            no_arguments(),
        ),
        (
            "test_trigger_tool_change",
            "Sends notifications/tools/list_changed to listening clients.",
            no_arguments(),
        ),
        (
            "test_trigger_prompt_change",
            "Sends notifications/prompts/list_changed to listening clients.",
            no_arguments(),
        ),
        (
            "test_x_mcp_header",
            "Returns its region argument, which must match the Mcp-Param-Region header.",
            region,
        ),
    ]
}

/// Plans a call of one of [`tools`]; `None` for any other name.
pub(super) fn plan(name: &str, args: &Map<String, Value>, view: &SessionView) -> Option<Plan> {
    let script = |step: Step, text: &str| Plan::Script {
        steps: VecDeque::from([step]),
        result: text_result(text),
    };
    let caps = Some(&view.client_capabilities);
    Some(match name {
        "test_missing_capability" if !declared(caps, "sampling") => {
            Plan::Answer(Err(missing_capabilities(&["sampling"])))
        }
        "test_missing_capability" => Plan::Answer(Ok(text_result(
            "The client declared the sampling capability.",
        ))),
        "test_logging_tool" => script(
            Step::Log(Level::Info, "test_logging_tool was called"),
            "Logging tool completed.",
        ),
        "test_trigger_tool_change" => script(
            Step::ListChanged("notifications/tools/list_changed"),
            "Sent notifications/tools/list_changed.",
        ),
        "test_trigger_prompt_change" => script(
            Step::ListChanged("notifications/prompts/list_changed"),
            "Sent notifications/prompts/list_changed.",
        ),
        "test_x_mcp_header" => Plan::Answer(region(args, view)),
        _ => return None,
    })
}

/// -32021 naming `capabilities`, each as an empty capability object.
pub(super) fn missing_capabilities(capabilities: &[&str]) -> ErrorObject {
    let required: Map<String, Value> = capabilities
        .iter()
        .map(|c| (c.to_string(), json!({})))
        .collect();
    let message = format!(
        "Missing required client capability: {}",
        capabilities.join(", ")
    );
    ErrorObject::new(MISSING_CAPABILITY, message)
        .with_data(json!({ "requiredCapabilities": required }))
}

/// Which log messages a stateless request asked for in `_meta`; an unknown level is -32602.
pub(super) fn log_filter(params: &Value) -> Result<LogFilter, ErrorObject> {
    match params.get("_meta").and_then(|m| m.get(LOG_LEVEL)) {
        None | Some(Value::Null) => Ok(LogFilter::Silent),
        Some(level) => level
            .as_str()
            .and_then(Level::parse)
            .map(LogFilter::AtLeast)
            .ok_or_else(|| invalid_params(format!("Invalid log level: {level}"))),
    }
}

/// `test_x_mcp_header`: its argument must agree with the `Mcp-Param-Region` header.
fn region(args: &Map<String, Value>, view: &SessionView) -> Result<Value, ErrorObject> {
    let (argument, _) = REGION;
    let schema = tools()
        .into_iter()
        .find(|(name, _, _)| *name == "test_x_mcp_header")
        .map(|(_, _, schema)| schema)
        .unwrap_or_default();
    param_headers::check(&schema, &Value::Object(args.clone()), view)?;
    match args.get(argument).filter(|v| !v.is_null()) {
        None => Ok(text_result(&format!("{argument}=<none>"))),
        Some(Value::String(value)) => Ok(text_result(&format!("{argument}={value}"))),
        Some(_) => Err(invalid_params(format!(
            "Argument {argument} must be a string"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::super::harness::{builtin_stateless, Harness};
    use super::*;

    fn with_header(h: &mut Harness, value: Option<&str>) {
        let headers = h
            .view
            .as_mut()
            .unwrap()
            .param_headers
            .get_or_insert_with(Vec::new);
        headers.clear();
        headers.extend(value.map(|v| ("region".to_string(), v.to_string())));
    }

    #[test]
    fn missing_sampling_is_32021_naming_it_as_an_object() {
        let mut h = builtin_stateless();
        h.declare(json!({"elicitation": {}}));
        let e = h
            .call_tool("test_missing_capability", json!({}))
            .unwrap_err();
        assert_eq!(e.code, -32021);
        assert_eq!(
            e.data,
            Some(json!({"requiredCapabilities": {"sampling": {}}}))
        );
        h.declare(json!({"sampling": {}}));
        let got = h.call_tool("test_missing_capability", json!({})).unwrap();
        assert_ne!(got["isError"], true);
    }

    #[test]
    fn logging_tool_logs_only_when_meta_asks_at_a_permitting_level() {
        let cases = [
            (json!({}), 0),
            (json!({LOG_LEVEL: null}), 0),
            (json!({LOG_LEVEL: "info"}), 1),
            (json!({LOG_LEVEL: "debug"}), 1),
            (json!({LOG_LEVEL: "warning"}), 0),
        ];
        for (meta, want) in cases {
            let mut h = builtin_stateless();
            let call = h.request(
                "tools/call",
                json!({"name": "test_logging_tool", "arguments": {}, "_meta": meta}),
            );
            let logs = h.notifications("notifications/message");
            assert_eq!(logs.len(), want, "{meta}");
            assert!(logs.iter().all(|(related, _)| *related == Some(call)));
            assert!(h.response(call).unwrap().is_ok());
            assert!(h.handler().sessions.is_empty());
        }
    }

    #[test]
    fn unknown_log_level_in_meta_is_invalid_params() {
        let mut h = builtin_stateless();
        let got = h.call(
            "tools/call",
            json!({"name": "test_logging_tool", "_meta": {LOG_LEVEL: "loud"}}),
        );
        assert_eq!(got.unwrap_err().code, -32602);
    }

    #[test]
    fn legacy_logging_tool_is_silent_at_2026_without_a_level() {
        let mut h = builtin_stateless();
        h.call_tool("test_tool_with_logging", json!({})).unwrap();
        assert!(h.notifications("notifications/message").is_empty());
        h.call(
            "tools/call",
            json!({"name": "test_tool_with_logging", "_meta": {LOG_LEVEL: "info"}}),
        )
        .unwrap();
        assert_eq!(h.notifications("notifications/message").len(), 3);
    }

    #[test]
    fn triggers_send_list_changed_to_no_request_in_particular() {
        let mut h = builtin_stateless();
        for (tool, method) in [
            (
                "test_trigger_tool_change",
                "notifications/tools/list_changed",
            ),
            (
                "test_trigger_prompt_change",
                "notifications/prompts/list_changed",
            ),
        ] {
            let got = h.call_tool(tool, json!({})).unwrap();
            assert!(got["content"][0]["text"].as_str().unwrap().contains(method));
            assert_eq!(h.notifications(method), vec![(None, json!({}))]);
        }
    }

    #[test]
    fn x_mcp_header_must_match_its_argument() {
        let mut h = builtin_stateless();
        let cases = [
            (
                Some("Hello"),
                json!({"region": "Hello"}),
                Ok("region=Hello"),
            ),
            (
                Some("SGVsbG8="),
                json!({"region": "SGVsbG8="}),
                Ok("region=SGVsbG8="),
            ),
            (None, json!({}), Ok("region=<none>")),
            (None, json!({"region": null}), Ok("region=<none>")),
            (None, json!({"region": "test-value"}), Err(-32020)),
            (Some("Hello"), json!({}), Err(-32020)),
            (Some("Hello"), json!({"region": null}), Err(-32020)),
            (Some("hello"), json!({"region": "Hello"}), Err(-32020)),
            (Some("42.0"), json!({"region": 42}), Err(-32602)),
            (Some("43"), json!({"region": 42}), Err(-32020)),
        ];
        for (header, args, want) in cases {
            with_header(&mut h, header);
            let got = h.call_tool("test_x_mcp_header", args.clone());
            let got = got
                .map(|v| v["content"][0]["text"].as_str().unwrap().to_string())
                .map_err(|e| e.code);
            assert_eq!(got, want.map(str::to_string), "{header:?} {args}");
        }
    }

    #[test]
    fn only_test_x_mcp_header_carries_the_annotation() {
        let mut h = builtin_stateless();
        let list = h.call("tools/list", json!({})).unwrap();
        let annotated: Vec<&Value> = list["tools"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["inputSchema"].to_string().contains("x-mcp-header"))
            .map(|t| &t["name"])
            .collect();
        assert_eq!(annotated, ["test_x_mcp_header"]);
    }
}
