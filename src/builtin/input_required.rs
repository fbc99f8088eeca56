//! `input_required` results (MCP 2026-07-28, "Multi Round-Trip Requests", SEP-2322): how a
//! stateless request gets sampling, elicitation or roots from the client without ever sending
//! it a request.
//!
//! A call that needs input answers `{resultType: "input_required", inputRequests: {key:
//! {method, params}}, requestState?}`; the client retries the same call, with a new id, adding
//! `inputResponses: {key: answer}` and the `requestState` it got. This file builds the
//! questions and reads the answers; `input_fixtures` holds the conformance fixtures built on it.
//! The handshake-era tools that ask the client (`test_sampling`, `list_roots`, ...) take this
//! path at 2026 through [`ask_once`].
//!
//! Only declared capabilities are asked for ([`needs`]: -32021 otherwise). Answers are checked
//! only where read: a non-object answer is -32602, keys nobody asks about are ignored, and a
//! declined elicitation is an answer too.

use super::invalid_params;
use super::stateless::missing_capabilities;
use super::tools::{self, declared, text_result, Finish};
use crate::mcp::{ErrorObject, SessionView};
use serde_json::{json, Map, Value};

/// The handshake-era tools at 2026: the one request a [`tools::Plan::Ask`] would send becomes
/// an input request keyed by its capability, and the answer finishes the call as before.
pub(super) fn ask_once(
    method: &str,
    request: Value,
    finish: Finish,
    params: &Value,
) -> Result<Value, ErrorObject> {
    let key = method.split('/').next().unwrap_or(method);
    match Responses::of(params)?.get(key)? {
        Some(answer) => Ok(tools::finish(finish, Ok(Value::Object(answer.clone())))),
        None => Ok(asking(&[(key, ask(method, request))], None)),
    }
}

/// -32021 unless the client declared every one of `capabilities`.
pub(super) fn needs(view: &SessionView, capabilities: &[&str]) -> Result<(), ErrorObject> {
    let caps = Some(&view.client_capabilities);
    let missing: Vec<&str> = capabilities
        .iter()
        .copied()
        .filter(|c| !declared(caps, c))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(missing_capabilities(&missing))
    }
}

/// The `inputResponses` of a retried call: absent or null means none.
pub(super) struct Responses<'a>(Option<&'a Map<String, Value>>);

impl<'a> Responses<'a> {
    /// Reads `params.inputResponses`; anything but an object or null is -32602.
    pub(super) fn of(params: &'a Value) -> Result<Responses<'a>, ErrorObject> {
        match params.get("inputResponses") {
            None | Some(Value::Null) => Ok(Responses(None)),
            Some(Value::Object(responses)) => Ok(Responses(Some(responses))),
            Some(_) => Err(invalid_params("inputResponses must be an object")),
        }
    }

    /// The answer under `key`; every answer (a client result) is an object, so anything else is
    /// -32602. Keys nobody asks about are never read.
    pub(super) fn get(&self, key: &str) -> Result<Option<&'a Map<String, Value>>, ErrorObject> {
        match self.0.and_then(|r| r.get(key)) {
            None => Ok(None),
            Some(Value::Object(answer)) => Ok(Some(answer)),
            Some(_) => Err(invalid_params(format!(
                "inputResponses.{key} must be an object"
            ))),
        }
    }
}

/// An `input_required` result with `questions` in order and an optional state handle.
pub(super) fn asking(questions: &[(&str, Value)], state: Option<String>) -> Value {
    let requests: Map<String, Value> = questions
        .iter()
        .map(|(key, request)| (key.to_string(), request.clone()))
        .collect();
    let mut result = json!({"resultType": "input_required", "inputRequests": requests});
    if let Some(state) = state {
        result["requestState"] = Value::String(state);
    }
    result
}

/// An input request: a client request without `jsonrpc` and `id`.
pub(super) fn ask(method: &str, params: Value) -> Value {
    json!({"method": method, "params": params})
}

/// A form elicitation of one required `field` of JSON type `kind`.
pub(super) fn elicit(message: &str, field: &str, kind: &str) -> Value {
    ask(
        "elicitation/create",
        json!({
            "message": message,
            "requestedSchema": {
                "type": "object",
                "properties": {field: {"type": kind}},
                "required": [field],
            },
        }),
    )
}

/// A sampling request for one user message.
pub(super) fn sample(text: &str, max_tokens: u64) -> Value {
    ask(
        "sampling/createMessage",
        json!({
            "messages": [{"role": "user", "content": {"type": "text", "text": text}}],
            "maxTokens": max_tokens,
        }),
    )
}

/// The elicitation answer under `key`: `Ok` with the accepted `field`, or `Err` with the action
/// taken instead (decline, cancel). An accept without the field is -32602.
pub(super) fn elicited<'a>(
    key: &str,
    answer: &'a Map<String, Value>,
    field: &str,
) -> Result<Result<&'a Value, &'a str>, ErrorObject> {
    let malformed = || invalid_params(format!("inputResponses.{key} is not an elicitation result"));
    match answer.get("action").and_then(Value::as_str) {
        Some("accept") => answer
            .get("content")
            .and_then(|c| c.get(field))
            .filter(|v| !v.is_null())
            .map(Ok)
            .ok_or_else(malformed),
        Some(action) => Ok(Err(action)),
        None => Err(malformed()),
    }
}

/// The text of the sampling answer under `key`, or -32602.
pub(super) fn sampled(key: &str, answer: &Map<String, Value>) -> Result<String, ErrorObject> {
    tools::sampled_text(&Value::Object(answer.clone()))
        .ok_or_else(|| invalid_params(format!("inputResponses.{key} holds no text content")))
}

/// How many roots the `roots/list` answer under `key` holds, or -32602.
pub(super) fn roots(key: &str, answer: &Map<String, Value>) -> Result<usize, ErrorObject> {
    answer
        .get("roots")
        .and_then(Value::as_array)
        .map(Vec::len)
        .ok_or_else(|| invalid_params(format!("inputResponses.{key} holds no roots array")))
}

/// A value as text: strings as they are, anything else as JSON.
pub(super) fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The result when the user declined or cancelled an elicitation.
pub(super) fn declined(action: &str) -> Value {
    text_result(&format!("The user chose to {action}."))
}

#[cfg(test)]
mod tests {
    use super::super::harness::{
        answer_all, asked_methods, builtin_stateless, complete_text, retry,
    };
    use super::*;
    use crate::mcp::handler::Command;

    #[test]
    fn handshake_era_asking_tools_answer_input_required_at_2026() {
        let mut h = builtin_stateless();
        let cases = [
            (
                "test_sampling",
                json!({"prompt": "Hi"}),
                "sampling",
                "LLM response: ",
            ),
            (
                "test_elicitation",
                json!({"message": "Who?"}),
                "elicitation",
                "User response: ",
            ),
            (
                "test_elicitation_sep1034_defaults",
                json!({}),
                "elicitation",
                "Elicitation",
            ),
            (
                "test_elicitation_sep1330_enums",
                json!({}),
                "elicitation",
                "Elicitation",
            ),
            ("list_roots", json!({}), "roots", "Client roots:"),
        ];
        for (tool, args, key, done) in cases {
            let asked = h.call_tool(tool, args.clone()).unwrap();
            assert_eq!(asked["resultType"], "input_required", "{tool}");
            assert_eq!(asked_methods(&asked).len(), 1);
            assert!(asked["inputRequests"].get(key).is_some(), "{tool}: {asked}");
            let mut again = json!({"name": tool, "arguments": args});
            again["inputResponses"] = answer_all(&asked);
            let got = h.call("tools/call", again).unwrap();
            assert!(complete_text(&got).starts_with(done), "{tool}: {got}");
        }
        let asked = h
            .call_tool("test_sampling", json!({"prompt": "Hi"}))
            .unwrap();
        assert_eq!(
            asked["inputRequests"]["sampling"],
            json!({"method": "sampling/createMessage", "params": {"messages": [{"role": "user",
                "content": {"type": "text", "text": "Hi"}}], "maxTokens": 100}})
        );
    }

    #[test]
    fn reconnection_at_2026_answers_without_closing_its_stream() {
        let mut h = builtin_stateless();
        let got = h.call_tool("test_reconnection", json!({})).unwrap();
        assert_eq!(complete_text(&got), "Reconnection test completed");
        assert!(!h
            .commands()
            .iter()
            .any(|c| matches!(c, Command::CloseStream { .. })));
    }

    #[test]
    fn no_tool_sends_the_client_a_request_at_2026() {
        let mut h = builtin_stateless();
        let list = h.call("tools/list", json!({})).unwrap();
        let args = json!({"message": "m", "prompt": "p"});
        for tool in list["tools"].as_array().unwrap() {
            let name = tool["name"].as_str().unwrap();
            let first = h.request("tools/call", json!({"name": name, "arguments": args}));
            h.run_timers();
            let got = h.response(first).expect("answered");
            assert_eq!(h.responses(first), 1, "{name}");
            let mut asked = got.ok().filter(|r| r["resultType"] == "input_required");
            for _round in 0..3 {
                let Some(question) = asked else { break };
                let mut again = retry(&question);
                again["name"] = json!(name);
                again["arguments"] = args.clone();
                let got = h.call("tools/call", again).unwrap();
                asked = Some(got).filter(|r| r["resultType"] == "input_required");
            }
            assert_eq!(asked, None, "{name} never completes");
        }
        assert!(h.client_requests().is_empty());
        assert!(!h
            .commands()
            .iter()
            .any(|c| matches!(c, Command::CloseStream { .. })));
        assert!(h.handler().sessions.is_empty());
        assert!(h.handler().timers.is_empty() && h.handler().asked.is_empty());
    }
}
