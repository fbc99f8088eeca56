//! What each `tools/call` does; the table `tools/list` shows is `tool_list.rs`.
//!
//! A call becomes a [`Plan`]: an answer now, a short script of notifications and pauses run by
//! the handler on timers, or a request to the client whose answer [`finish`] turns into the tool
//! result. Outputs follow the conformance 0.1.16 fixture contract ("Tools") to the letter.
//!
//! Errors: an unknown tool or bad arguments is a JSON-RPC -32602 (MCP server/tools "Error
//! Handling": protocol errors); a missing client capability or a failed client request is a tool
//! result with `isError: true` (an execution error the model may see).

use super::fixtures::{PNG_1X1, WAV_SILENCE};
use super::invalid_params;
use super::logging::Level;
use crate::mcp::jsonrpc::{params, text};
use crate::mcp::{ErrorObject, RawResult};
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::VecDeque;
use std::time::Duration;

/// Spacing of the logging and progress notifications (conformance "Tools": "~50 ms").
const PACE: Duration = Duration::from_millis(50);

/// How long `test_reconnection` waits after closing its stream (conformance 3.6: long enough
/// for the client to reconnect with `Last-Event-ID`, well inside its 5 s window).
const RECONNECT_DELAY: Duration = Duration::from_millis(100);

/// One step of a scripted tool call.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Step {
    /// Send `notifications/message` at this level, if the session's level lets it through.
    Log(Level, &'static str),
    /// Send `notifications/progress` with these params.
    Progress(Value),
    /// Wait this long (a timer) before the next step.
    Pause(Duration),
    /// End the HTTP stream of the call before its answer (SEP-1699 polling).
    CloseStream,
    /// Send this list-changed notification outside the call: to the session, or at 2026-07-28
    /// to every `subscriptions/listen` stream that asked for it.
    ListChanged(&'static str),
}

/// How the handler carries out one `tools/call`.
#[derive(Debug, PartialEq)]
pub(super) enum Plan {
    /// Answer at once.
    Answer(Result<Value, ErrorObject>),
    /// Answer at once with a result already written as JSON text.
    Encoded(RawResult),
    /// Run `steps` in order, then answer with `result`.
    Script {
        /// What to do before answering.
        steps: VecDeque<Step>,
        /// The tool result sent after the last step.
        result: Value,
    },
    /// Send the client a request; its answer goes through [`finish`].
    Ask {
        /// The client method.
        method: &'static str,
        /// Its params.
        params: Value,
        /// How to turn the client's answer into the tool result.
        finish: Finish,
    },
}

/// Which client answer a pending call waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Finish {
    /// `sampling/createMessage` for `test_sampling`.
    Sampling,
    /// `elicitation/create` for `test_elicitation`.
    Elicitation,
    /// `elicitation/create` for the SEP-1034 and SEP-1330 schema tools.
    ElicitationSummary,
    /// `roots/list` for `list_roots`.
    Roots,
}

/// A successful tool result holding one text item.
pub(super) fn text_result(text: &str) -> Value {
    json!({"content": [{"type": "text", "text": text}]})
}

/// [`text_result`] written straight as JSON text: `echo` and `test_simple_text`, the calls
/// clients and benchmarks make most, answer without a `Value` tree to build, serialize and free.
pub(super) fn encoded_text_result(text: &str) -> RawResult {
    // Members in a `Value`'s sorted order, so the bytes are what `text_result` would give.
    let mut json = String::with_capacity(text.len() + 48);
    json.push_str(r#"{"content":[{"text":"#);
    text::push_string(&mut json, text);
    json.push_str(r#","type":"text"}]}"#);
    RawResult::encoded(json)
}

/// A tool result flagged `isError`, holding one text item.
fn error_result(text: &str) -> Value {
    json!({"isError": true, "content": [{"type": "text", "text": text}]})
}

/// Whether the client declared `capability` (present and not null).
pub(super) fn declared(capabilities: Option<&Value>, capability: &str) -> bool {
    capabilities
        .and_then(|c| c.get(capability))
        .is_some_and(|v| !v.is_null())
}

/// Plans the call of tool `name` with `args`. `progress_token` is `params._meta.progressToken`;
/// `client_capabilities` is what the session's client declared, if known.
pub(super) fn plan(
    name: &str,
    args: &Arguments<'_>,
    progress_token: Option<&Value>,
    client_capabilities: Option<&Value>,
) -> Plan {
    let declared = |capability: &str| declared(client_capabilities, capability);
    let lacks = |capability: &str| {
        Plan::Answer(Ok(error_result(&format!(
            "The client did not declare the {capability} capability"
        ))))
    };
    let answer = |result: Value| Plan::Answer(Ok(result));
    match name {
        "echo" => match args.str("message") {
            Ok(message) => Plan::Encoded(encoded_text_result(&message)),
            Err(e) => Plan::Answer(Err(e)),
        },
        "test_simple_text" => Plan::Encoded(encoded_text_result(
            "This is a simple text response for testing.",
        )),
        "test_image_content" => answer(json!({"content": [image()]})),
        "test_audio_content" => answer(json!({
            "content": [{"type": "audio", "data": WAV_SILENCE, "mimeType": "audio/wav"}]
        })),
        "test_embedded_resource" => answer(json!({"content": [{
            "type": "resource",
            "resource": {
                "uri": "test://embedded-resource",
                "mimeType": "text/plain",
                "text": "This is an embedded resource content.",
            },
        }]})),
        "test_multiple_content_types" => answer(json!({"content": [
            {"type": "text", "text": "Multiple content types test:"},
            image(),
            {"type": "resource", "resource": {
                "uri": "test://mixed-content-resource",
                "mimeType": "application/json",
                "text": "{\"test\":\"data\",\"value\":123}",
            }},
        ]})),
        "test_error_handling" => answer(error_result(
            "This tool intentionally returns an error for testing",
        )),
        "test_tool_with_logging" => Plan::Script {
            steps: VecDeque::from([
                Step::Log(Level::Info, "Tool execution started"),
                Step::Pause(PACE),
                Step::Log(Level::Info, "Tool processing data"),
                Step::Pause(PACE),
                Step::Log(Level::Info, "Tool execution completed"),
            ]),
            result: text_result("Logging test completed: 3 messages sent"),
        },
        "test_tool_with_progress" => {
            let result = text_result("Progress test completed");
            let Some(token) = progress_token else {
                return answer(result);
            };
            let progress = |n: u64| {
                Step::Progress(json!({"progressToken": token, "progress": n, "total": 100}))
            };
            Plan::Script {
                steps: VecDeque::from([
                    progress(0),
                    Step::Pause(PACE),
                    progress(50),
                    Step::Pause(PACE),
                    progress(100),
                ]),
                result,
            }
        }
        "test_reconnection" => Plan::Script {
            steps: VecDeque::from([Step::CloseStream, Step::Pause(RECONNECT_DELAY)]),
            result: text_result("Reconnection test completed"),
        },
        "test_sampling" => match args.str("prompt") {
            Err(e) => Plan::Answer(Err(e)),
            Ok(_) if !declared("sampling") => lacks("sampling"),
            Ok(prompt) => Plan::Ask {
                method: "sampling/createMessage",
                params: json!({
                    "messages": [{"role": "user", "content": {"type": "text", "text": prompt}}],
                    "maxTokens": 100,
                }),
                finish: Finish::Sampling,
            },
        },
        "test_elicitation" => match args.str("message") {
            Err(e) => Plan::Answer(Err(e)),
            Ok(_) if !declared("elicitation") => lacks("elicitation"),
            Ok(message) => Plan::Ask {
                method: "elicitation/create",
                params: json!({
                    "message": message,
                    "requestedSchema": {
                        "type": "object",
                        "properties": {
                            "username": {"type": "string", "description": "User's response"},
                            "email": {"type": "string", "description": "User's email address"},
                        },
                        "required": ["username", "email"],
                    },
                }),
                finish: Finish::Elicitation,
            },
        },
        "test_elicitation_sep1034_defaults" if !declared("elicitation") => lacks("elicitation"),
        "test_elicitation_sep1034_defaults" => Plan::Ask {
            method: "elicitation/create",
            params: json!({
                "message": "Please review and update the form fields with defaults",
                "requestedSchema": {"type": "object", "properties": {
                    "name": {"type": "string", "default": "John Doe"},
                    "age": {"type": "integer", "default": 30},
                    "score": {"type": "number", "default": 95.5},
                    "status": {
                        "type": "string",
                        "enum": ["active", "inactive", "pending"],
                        "default": "active",
                    },
                    "verified": {"type": "boolean", "default": true},
                }},
            }),
            finish: Finish::ElicitationSummary,
        },
        "test_elicitation_sep1330_enums" if !declared("elicitation") => lacks("elicitation"),
        "test_elicitation_sep1330_enums" => Plan::Ask {
            method: "elicitation/create",
            params: json!({
                "message": "Please choose from each kind of enum field",
                "requestedSchema": {"type": "object", "properties": {
                    "untitledSingle": {"type": "string", "enum": ["option1", "option2", "option3"]},
                    "titledSingle": {"type": "string", "oneOf": [
                        {"const": "value1", "title": "First Option"},
                        {"const": "value2", "title": "Second Option"},
                        {"const": "value3", "title": "Third Option"},
                    ]},
                    "legacyEnum": {
                        "type": "string",
                        "enum": ["opt1", "opt2", "opt3"],
                        "enumNames": ["Option One", "Option Two", "Option Three"],
                    },
                    "untitledMulti": {"type": "array", "items": {
                        "type": "string",
                        "enum": ["option1", "option2", "option3"],
                    }},
                    "titledMulti": {"type": "array", "items": {"anyOf": [
                        {"const": "value1", "title": "First Choice"},
                        {"const": "value2", "title": "Second Choice"},
                        {"const": "value3", "title": "Third Choice"},
                    ]}},
                }},
            }),
            finish: Finish::ElicitationSummary,
        },
        "json_schema_2020_12_tool" => match check_person(args.map()) {
            Ok(()) => answer(text_result(&format!(
                "Received arguments: {}",
                Value::Object(args.map().clone())
            ))),
            Err(e) => Plan::Answer(Err(e)),
        },
        "list_roots" if !declared("roots") => lacks("roots"),
        "list_roots" => Plan::Ask {
            method: "roots/list",
            params: json!({}),
            finish: Finish::Roots,
        },
        _ => Plan::Answer(Err(invalid_params(format!("Unknown tool: {name}")))),
    }
}

/// Turns the client's answer to a [`Plan::Ask`] request into the tool result.
pub(super) fn finish(finish: Finish, outcome: Result<Value, ErrorObject>) -> Value {
    let answer = match outcome {
        Ok(answer) => answer,
        Err(e) => {
            let method = match finish {
                Finish::Sampling => "sampling/createMessage",
                Finish::Elicitation | Finish::ElicitationSummary => "elicitation/create",
                Finish::Roots => "roots/list",
            };
            return error_result(&format!(
                "The client answered {method} with error {}: {}",
                e.code, e.message
            ));
        }
    };
    let content = || match answer.get("content") {
        Some(content) => content.to_string(),
        None => "null".to_string(),
    };
    let action = answer.get("action").and_then(Value::as_str);
    match finish {
        Finish::Sampling => match sampled_text(&answer) {
            Some(text) => text_result(&format!("LLM response: {text}")),
            None => error_result("The sampling result holds no text content"),
        },
        Finish::Elicitation => match action {
            Some(action) => text_result(&format!("User response: {action}, {}", content())),
            None => error_result("The elicitation result holds no action"),
        },
        Finish::ElicitationSummary => match action {
            Some(action) => text_result(&format!(
                "Elicitation completed: action={action}, content={}",
                content()
            )),
            None => error_result("The elicitation result holds no action"),
        },
        Finish::Roots => match answer.get("roots").and_then(Value::as_array) {
            Some(roots) if roots.is_empty() => text_result("The client has no roots."),
            Some(roots) => {
                let lines: Vec<String> = roots
                    .iter()
                    .map(|root| {
                        let uri = root.get("uri").and_then(Value::as_str).unwrap_or("?");
                        match root.get("name").and_then(Value::as_str) {
                            Some(name) => format!("{uri} ({name})"),
                            None => uri.to_string(),
                        }
                    })
                    .collect();
                text_result(&format!("Client roots:\n{}", lines.join("\n")))
            }
            None => error_result("The roots/list result holds no roots array"),
        },
    }
}

/// The text of a `sampling/createMessage` result: `content` is one block, or (MCP 2025-11-25,
/// tool use in sampling) an array whose text blocks are joined.
pub(super) fn sampled_text(answer: &Value) -> Option<String> {
    let content = answer.get("content")?;
    let blocks = match content {
        Value::Array(blocks) => blocks.iter().collect(),
        block => vec![block],
    };
    let texts: Vec<&str> = blocks
        .into_iter()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|b| b.get("text").and_then(Value::as_str))
        .collect();
    (!texts.is_empty()).then(|| texts.concat())
}

/// The image content item shared by the image and mixed tools.
fn image() -> Value {
    json!({"type": "image", "data": PNG_1X1, "mimeType": "image/png"})
}

/// A required string argument, or the -32602 that names what is wrong.
/// A tool call's `arguments`, read from the params text: most tools take one string, and the
/// whole object is built only for the few that read more.
pub(super) struct Arguments<'a> {
    /// The JSON text of the arguments object, if there is one.
    raw: Option<&'a str>,
    map: OnceCell<Map<String, Value>>,
}

impl<'a> Arguments<'a> {
    /// The arguments whose JSON text is `raw` (a member of params already checked as JSON);
    /// absent or null means none, anything else but an object is -32602.
    pub(super) fn of(raw: Option<&'a str>) -> Result<Arguments<'a>, ErrorObject> {
        let raw = match raw {
            None | Some("null") => None,
            Some(raw) if raw.starts_with('{') => Some(raw),
            Some(_) => return Err(invalid_params("arguments must be an object")),
        };
        Ok(Arguments {
            raw,
            map: OnceCell::new(),
        })
    }

    /// The required string argument `name`.
    pub(super) fn str(&self, name: &str) -> Result<Cow<'a, str>, ErrorObject> {
        match self.raw.and_then(|raw| params::member(raw, name)) {
            None => Err(invalid_params(format!("Missing required argument: {name}"))),
            Some(raw) => params::string(raw)
                .ok_or_else(|| invalid_params(format!("Argument {name} must be a string"))),
        }
    }

    /// The whole object (empty when absent or null).
    pub(super) fn map(&self) -> &Map<String, Value> {
        self.map.get_or_init(|| {
            // The params text was checked on arrival, so its members parse.
            self.raw
                .and_then(|raw| serde_json::from_str(raw).ok())
                .unwrap_or_default()
        })
    }
}

/// Checks arguments against `json_schema_2020_12` (in `tool_list.rs`): property types,
/// `additionalProperties: false`, a phone or an email (`allOf`/`anyOf`), and the one
/// `contactMethod` names (`if`).
fn check_person(args: &Map<String, Value>) -> Result<(), ErrorObject> {
    for (key, value) in args {
        let ok = match key.as_str() {
            "name" | "phone" | "email" => value.is_string(),
            "contactMethod" => matches!(value.as_str(), Some("phone" | "email")),
            "address" => value.as_object().is_some_and(|address| {
                ["street", "city"]
                    .iter()
                    .all(|field| address.get(*field).is_none_or(Value::is_string))
            }),
            _ => return Err(invalid_params(format!("Unexpected argument: {key}"))),
        };
        if !ok {
            return Err(invalid_params(format!(
                "Argument {key} does not match the input schema"
            )));
        }
    }
    let by_phone = args.get("contactMethod").and_then(Value::as_str) == Some("phone");
    let needed = if by_phone { "phone" } else { "email" };
    if !args.contains_key(needed) {
        return Err(invalid_params(format!(
            "Missing required argument: {needed}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin::tool_list::list;
    use crate::mcp::Params;

    /// `args` as the arguments of a call's params, as they arrive.
    fn with_args(args: Value, run: impl FnOnce(&Arguments<'_>) -> Plan) -> Plan {
        let params = Params::from(json!({"arguments": args}));
        run(&Arguments::of(params.get_raw(&["arguments"])).unwrap())
    }

    fn call(name: &str, args: Value) -> Plan {
        let caps = json!({"sampling": {}, "elicitation": {}, "roots": {}});
        with_args(args, |args| plan(name, args, None, Some(&caps)))
    }

    fn answer(name: &str) -> Value {
        match call(name, json!({})) {
            Plan::Answer(Ok(v)) => v,
            Plan::Encoded(raw) => raw.to_value().unwrap(),
            other => panic!("{name}: {other:?}"),
        }
    }

    fn asked(name: &str, args: Value) -> (&'static str, Value, Finish) {
        match call(name, args) {
            Plan::Ask {
                method,
                params,
                finish,
            } => (method, params, finish),
            other => panic!("{name}: {other:?}"),
        }
    }

    #[test]
    fn static_tools_return_the_contract_outputs() {
        assert_eq!(
            answer("test_simple_text"),
            json!({"content":[{"type":"text","text":"This is a simple text response for testing."}]})
        );
        assert_eq!(
            answer("test_image_content"),
            json!({"content":[{"type":"image","data":PNG_1X1,"mimeType":"image/png"}]})
        );
        assert_eq!(
            answer("test_audio_content"),
            json!({"content":[{"type":"audio","data":WAV_SILENCE,"mimeType":"audio/wav"}]})
        );
        assert_eq!(
            answer("test_embedded_resource"),
            json!({"content":[{"type":"resource","resource":{"uri":"test://embedded-resource",
                "mimeType":"text/plain","text":"This is an embedded resource content."}}]})
        );
        assert_eq!(
            answer("test_multiple_content_types"),
            json!({"content":[
                {"type":"text","text":"Multiple content types test:"},
                {"type":"image","data":PNG_1X1,"mimeType":"image/png"},
                {"type":"resource","resource":{"uri":"test://mixed-content-resource",
                    "mimeType":"application/json","text":"{\"test\":\"data\",\"value\":123}"}}]})
        );
        assert_eq!(
            answer("test_error_handling"),
            json!({"isError":true,"content":[{"type":"text",
                "text":"This tool intentionally returns an error for testing"}]})
        );
    }

    #[test]
    fn echo_returns_the_message_exactly_and_rejects_bad_arguments() {
        match call("echo", json!({"message": " hi\n\"there\" "})) {
            Plan::Encoded(raw) => {
                let wire = r#"{"content":[{"text":" hi\n\"there\" ","type":"text"}]}"#;
                assert_eq!(raw.as_str(), wire, "the bytes a Value would give");
                assert_eq!(raw.to_value().unwrap(), text_result(" hi\n\"there\" "));
            }
            other => panic!("{other:?}"),
        }
        for args in [json!({}), json!({"message": 5}), json!({"message": null})] {
            match call("echo", args.clone()) {
                Plan::Answer(Err(e)) => assert_eq!(e.code, -32602, "{args}"),
                other => panic!("{args}: {other:?}"),
            }
        }
    }

    #[test]
    fn unknown_tool_is_invalid_params_naming_it() {
        match call("nope", json!({})) {
            Plan::Answer(Err(e)) => {
                assert_eq!(e.code, -32602);
                assert_eq!(e.message, "Unknown tool: nope");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_listed_tool_has_name_description_and_object_schema() {
        let list = list(false);
        let tools = list["tools"].as_array().unwrap();
        assert_eq!(tools.len(), 16);
        assert_eq!(tools[0]["name"], "test_simple_text");
        for tool in tools {
            assert!(!tool["name"].as_str().unwrap().is_empty());
            assert!(!tool["description"].as_str().unwrap().is_empty(), "{tool}");
            assert_eq!(tool["inputSchema"]["type"], "object", "{tool}");
            let name = tool["name"].as_str().unwrap();
            let args = json!({"message": "m", "prompt": "p"});
            if let Plan::Answer(Err(e)) = call(name, args) {
                assert_ne!(e.message, format!("Unknown tool: {name}"));
            }
        }
    }

    #[test]
    fn json_schema_tool_enforces_its_schema() {
        for ok in [
            json!({"name": "Ada", "address": {"street": "1 Loop", "city": "X"}, "email": "a@x"}),
            json!({"contactMethod": "phone", "phone": "123"}),
            json!({"contactMethod": "email", "email": "a@x", "phone": "123"}),
        ] {
            assert!(
                matches!(
                    call("json_schema_2020_12_tool", ok.clone()),
                    Plan::Answer(Ok(_))
                ),
                "{ok}"
            );
        }
        for bad in [
            json!({"extra": 1, "email": "a@x"}),
            json!({"name": 1, "email": "a@x"}),
            json!({"address": {"city": 2}, "email": "a@x"}),
            json!({"name": "Ada"}),
            json!({"contactMethod": "phone", "email": "a@x"}),
            json!({"contactMethod": "fax", "email": "a@x"}),
        ] {
            match call("json_schema_2020_12_tool", bad.clone()) {
                Plan::Answer(Err(e)) => assert_eq!(e.code, -32602, "{bad}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn progress_without_token_answers_at_once() {
        assert_eq!(
            call("test_tool_with_progress", json!({})),
            Plan::Answer(Ok(text_result("Progress test completed")))
        );
    }

    #[test]
    fn sampling_request_has_the_contract_shape() {
        let (method, params, finish) = asked(
            "test_sampling",
            json!({"prompt": "Test prompt for sampling"}),
        );
        assert_eq!(method, "sampling/createMessage");
        assert_eq!(finish, Finish::Sampling);
        assert_eq!(
            params,
            json!({"messages":[{"role":"user","content":{"type":"text",
                "text":"Test prompt for sampling"}}],"maxTokens":100})
        );
    }

    #[test]
    fn elicitation_request_has_the_contract_shape() {
        let (method, params, _) = asked(
            "test_elicitation",
            json!({"message": "Please provide your information"}),
        );
        assert_eq!(method, "elicitation/create");
        assert_eq!(
            params,
            json!({"message":"Please provide your information","requestedSchema":{"type":"object",
                "properties":{"username":{"type":"string","description":"User's response"},
                "email":{"type":"string","description":"User's email address"}},
                "required":["username","email"]}})
        );
    }

    #[test]
    fn sep1034_schema_has_a_default_of_every_primitive_type() {
        let (_, params, _) = asked("test_elicitation_sep1034_defaults", json!({}));
        let p = &params["requestedSchema"]["properties"];
        assert_eq!(p["name"], json!({"type":"string","default":"John Doe"}));
        assert_eq!(p["age"], json!({"type":"integer","default":30}));
        assert_eq!(p["score"], json!({"type":"number","default":95.5}));
        assert_eq!(
            p["status"],
            json!({"type":"string","enum":["active","inactive","pending"],"default":"active"})
        );
        assert_eq!(p["verified"], json!({"type":"boolean","default":true}));
    }

    #[test]
    fn sep1330_schema_has_all_five_enum_variants() {
        let (_, params, _) = asked("test_elicitation_sep1330_enums", json!({}));
        let p = &params["requestedSchema"]["properties"];
        assert!(p["untitledSingle"]["enum"].is_array());
        assert!(p["untitledSingle"].get("oneOf").is_none());
        assert!(p["untitledSingle"].get("enumNames").is_none());
        assert_eq!(
            p["titledSingle"]["oneOf"][1],
            json!({"const":"value2","title":"Second Option"})
        );
        assert!(p["titledSingle"].get("enum").is_none());
        assert_eq!(p["legacyEnum"]["enum"].as_array().unwrap().len(), 3);
        assert_eq!(p["legacyEnum"]["enumNames"].as_array().unwrap().len(), 3);
        assert_eq!(
            p["untitledMulti"]["items"]["enum"],
            json!(["option1", "option2", "option3"])
        );
        assert!(p["untitledMulti"]["items"].get("anyOf").is_none());
        assert_eq!(
            p["titledMulti"]["items"]["anyOf"][2],
            json!({"const":"value3","title":"Third Choice"})
        );
        assert!(p["titledMulti"]["items"].get("enum").is_none());
    }

    #[test]
    fn missing_client_capability_is_an_error_result() {
        for name in [
            "test_sampling",
            "test_elicitation",
            "test_elicitation_sep1330_enums",
            "list_roots",
        ] {
            let args = json!({"prompt": "p", "message": "m"});
            match with_args(args, |args| plan(name, args, None, Some(&json!({})))) {
                Plan::Answer(Ok(v)) => assert_eq!(v["isError"], true, "{name}"),
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    #[test]
    fn client_answers_become_tool_results() {
        let sampled = json!({"role":"assistant","content":{"type":"text",
            "text":"This is a test response from the client"},"model":"test-model","stopReason":"endTurn"});
        assert_eq!(
            finish(Finish::Sampling, Ok(sampled)),
            text_result("LLM response: This is a test response from the client")
        );
        let elicited =
            json!({"action":"accept","content":{"username":"testuser","email":"test@example.com"}});
        assert_eq!(
            finish(Finish::Elicitation, Ok(elicited.clone())),
            text_result(
                "User response: accept, {\"email\":\"test@example.com\",\"username\":\"testuser\"}"
            )
        );
        assert_eq!(
            finish(Finish::ElicitationSummary, Ok(json!({"action":"decline"}))),
            text_result("Elicitation completed: action=decline, content=null")
        );
        assert_eq!(
            finish(
                Finish::Roots,
                Ok(json!({"roots":[{"uri":"file:///a","name":"A"},{"uri":"file:///b"}]}))
            ),
            text_result("Client roots:\nfile:///a (A)\nfile:///b")
        );
    }

    #[test]
    fn client_errors_and_malformed_answers_are_error_results() {
        let failed = finish(Finish::Sampling, Err(ErrorObject::new(-1, "User rejected")));
        assert_eq!(failed["isError"], true);
        assert!(failed["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("User rejected"));
        assert_eq!(finish(Finish::Sampling, Ok(json!({})))["isError"], true);
        assert_eq!(finish(Finish::Elicitation, Ok(json!({})))["isError"], true);
        assert_eq!(
            finish(Finish::Roots, Ok(json!({"roots": 1})))["isError"],
            true
        );
    }
}
