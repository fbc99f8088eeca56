//! `input_required` results (MCP 2026-07-28, "Multi Round-Trip Requests", SEP-2322): how a
//! stateless request gets sampling, elicitation or roots from the client without ever sending
//! it a request.
//!
//! A call that needs input answers `{resultType: "input_required", inputRequests: {key:
//! {method, params}}, requestState?}`; the client retries the same call, with a new id, adding
//! `inputResponses: {key: answer}` and the `requestState` it got. Fixtures that need no memory
//! between rounds work from `inputResponses` alone; the others keep theirs in
//! [`RequestStates`] (unknown or expired handle: -32602). Only declared capabilities are asked
//! for: a fixture that needs an undeclared one fails with -32021.
//!
//! Fixtures and texts follow conformance 0.2.0-alpha.12, section 4. The handshake-era tools
//! that ask the client (`test_sampling`, `list_roots`, ...) take the same path at 2026 through
//! [`ask_once`]. Answers are checked only where read: a non-object answer is -32602, extra keys
//! are ignored, a declined elicitation completes saying so.

use super::request_state::RequestStates;
use super::stateless::missing_capabilities;
use super::tools::{self, declared, no_arguments, text_result, Finish, ToolDef};
use super::{invalid_params, str_param, Builtin};
use crate::mcp::{ErrorObject, SessionView};
use serde_json::{json, Map, Value};
use std::time::Instant;

/// The fixture prompt that asks for input: name and description (it takes no arguments).
pub(super) const PROMPT: (&str, &str) = (
    "test_input_required_result_prompt",
    "Asks the client, through an input_required result, for the context to use.",
);

/// What a `requestState` handle stands for: the fixture that issued it and how far it got.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Saved {
    tool: &'static str,
    /// `test_input_required_result_multi_round`: the name given in round 1.
    name: Option<String>,
}

/// The 2026-only tools of this file, in listing order.
pub(super) fn tools() -> Vec<ToolDef> {
    [
        (
            "test_streaming_elicitation",
            "Asks for a response with one elicitation, answering at once (input_required).",
        ),
        (
            "test_input_required_result_elicitation",
            "Asks for the user's name (elicitation), then greets them. Needs no requestState.",
        ),
        (
            "test_input_required_result_sampling",
            "Asks the client's model for the capital of France (sampling).",
        ),
        (
            "test_input_required_result_list_roots",
            "Asks for the client's roots, then counts them.",
        ),
        (
            "test_input_required_result_request_state",
            "Asks for a confirmation and checks the requestState it issued.",
        ),
        (
            "test_input_required_result_multiple_inputs",
            "Asks for a name, a sampled greeting and the roots in one round.",
        ),
        (
            "test_input_required_result_multi_round",
            "Asks for a name, then for a favourite colour, in two rounds.",
        ),
        (
            "test_input_required_result_tampered_state",
            "Asks for a confirmation; a modified requestState is rejected with -32602.",
        ),
        (
            "test_input_required_result_capabilities",
            "Asks only for inputs whose capability the client declared.",
        ),
    ]
    .into_iter()
    .map(|(name, description)| (name, description, no_arguments()))
    .collect()
}

/// The fixtures that keep state between rounds; the others ignore any `requestState`.
const STATEFUL: [&str; 4] = [
    "test_input_required_result_request_state",
    "test_input_required_result_tampered_state",
    "test_input_required_result_multiple_inputs",
    "test_input_required_result_multi_round",
];

impl Builtin {
    /// Calls one of [`tools`] by `name` at time `now`; `None` for any other tool.
    pub(super) fn input_required_tool(
        &mut self,
        now: Instant,
        name: &str,
        params: &Value,
        view: &SessionView,
    ) -> Option<Result<Value, ErrorObject>> {
        let tool = tools()
            .into_iter()
            .map(|(tool, ..)| tool)
            .find(|t| *t == name)?;
        Some(run_tool(&mut self.states, now, tool, params, view))
    }
}

/// `prompts/get` at 2026: [`PROMPT`] asks for its context; `None` for any other prompt.
pub(super) fn prompt(params: &Value, view: &SessionView) -> Option<Result<Value, ErrorObject>> {
    if str_param(params, "name").ok() != Some(PROMPT.0) {
        return None;
    }
    let run = || {
        needs(view, &["elicitation"])?;
        let key = "user_context";
        Ok(match Responses::of(params)?.get(key)? {
            Some(answer) => match elicited(key, answer, "context")? {
                Ok(context) => json!({"messages": [{"role": "user", "content": {
                    "type": "text",
                    "text": format!("Use the following context: {}", text_of(context)),
                }}]}),
                Err(action) => return Err(invalid_params(format!("The user chose to {action}"))),
            },
            None => {
                let question = elicit("What context should the prompt use?", "context", "string");
                asking(&[(key, question)], None)
            }
        })
    };
    Some(run())
}

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

/// One fixture tool; `tool` is one of [`tools`].
fn run_tool(
    states: &mut RequestStates<Saved>,
    now: Instant,
    tool: &'static str,
    params: &Value,
    view: &SessionView,
) -> Result<Value, ErrorObject> {
    needs(
        view,
        match tool {
            "test_input_required_result_capabilities" => &[],
            "test_input_required_result_sampling" => &["sampling"],
            "test_input_required_result_list_roots" => &["roots"],
            "test_input_required_result_multiple_inputs" => &["elicitation", "sampling", "roots"],
            _ => &["elicitation"],
        },
    )?;
    let responses = Responses::of(params)?;
    let saved = match STATEFUL.contains(&tool) {
        true => saved_state(states, now, tool, params)?,
        false => None,
    };
    let ask_name = || elicit("What is your name?", "name", "string");
    let list_roots = || json!({"method": "roots/list"});
    Ok(match tool {
        "test_streaming_elicitation" => match responses.get("response")? {
            Some(answer) => match elicited("response", answer, "response")? {
                Ok(response) => text_result(&format!("Received: {}", text_of(response))),
                Err(action) => declined(action),
            },
            None => {
                let question = elicit("Please send a response", "response", "string");
                asking(&[("response", question)], None)
            }
        },
        "test_input_required_result_elicitation" => match responses.get("user_name")? {
            Some(answer) => match elicited("user_name", answer, "name")? {
                Ok(name) => text_result(&format!("Hello, {}!", text_of(name))),
                Err(action) => declined(action),
            },
            None => asking(&[("user_name", ask_name())], None),
        },
        "test_input_required_result_sampling" => match responses.get("capital_question")? {
            Some(answer) => {
                let said = sampled("capital_question", answer)?;
                text_result(&format!("Model said: {said}"))
            }
            None => {
                let question = sample("What is the capital of France?", 100);
                asking(&[("capital_question", question)], None)
            }
        },
        "test_input_required_result_list_roots" => match responses.get("client_roots")? {
            Some(answer) => {
                let n = roots("client_roots", answer)?;
                text_result(&format!("Client exposed {n} root(s)."))
            }
            None => asking(&[("client_roots", list_roots())], None),
        },
        "test_input_required_result_request_state"
        | "test_input_required_result_tampered_state" => match (saved, responses.get("confirm")?) {
            (Some(_), Some(answer)) => match elicited("confirm", answer, "ok")? {
                Ok(ok) => text_result(&format!("state-ok: confirmed={ok}")),
                Err(action) => declined(action),
            },
            _ => {
                let state = states.issue(now, Saved { tool, name: None });
                let question = elicit("Please confirm", "ok", "boolean");
                asking(&[("confirm", question)], Some(state))
            }
        },
        "test_input_required_result_multiple_inputs" => {
            let answers = (
                responses.get("user_name")?,
                responses.get("greeting")?,
                responses.get("client_roots")?,
            );
            match (saved, answers) {
                (Some(_), (Some(name), Some(greeting), Some(client_roots))) => {
                    sampled("greeting", greeting)?;
                    roots("client_roots", client_roots)?;
                    match elicited("user_name", name, "name")? {
                        Ok(_) => text_result("All inputs received."),
                        Err(action) => declined(action),
                    }
                }
                _ => {
                    let state = states.issue(now, Saved { tool, name: None });
                    let greeting = sample("Generate a greeting", 50);
                    let questions = [
                        ("user_name", ask_name()),
                        ("greeting", greeting),
                        ("client_roots", list_roots()),
                    ];
                    asking(&questions, Some(state))
                }
            }
        }
        "test_input_required_result_multi_round" => {
            let step1 = responses.get("step1")?;
            let step2 = responses.get("step2")?;
            let round = saved.map(|s| s.name);
            match (round, step1, step2) {
                (Some(Some(name)), _, Some(answer)) => match elicited("step2", answer, "color")? {
                    Ok(color) => text_result(&format!("{name} likes {}.", text_of(color))),
                    Err(action) => declined(action),
                },
                (Some(None), Some(answer), _) => match elicited("step1", answer, "name")? {
                    Ok(name) => {
                        let name = Some(text_of(name));
                        let state = states.issue(now, Saved { tool, name });
                        let question =
                            elicit("Step 2: What is your favorite color?", "color", "string");
                        asking(&[("step2", question)], Some(state))
                    }
                    Err(action) => declined(action),
                },
                _ => {
                    let state = states.issue(now, Saved { tool, name: None });
                    let question = elicit("Step 1: What is your name?", "name", "string");
                    asking(&[("step1", question)], Some(state))
                }
            }
        }
        _ => capability_gated(&responses, view)?,
    })
}

/// `test_input_required_result_capabilities`: asks only what the client can answer, and
/// completes once every question asked has its answer.
fn capability_gated(responses: &Responses<'_>, view: &SessionView) -> Result<Value, ErrorObject> {
    let caps = Some(&view.client_capabilities);
    let mut questions = Vec::new();
    if declared(caps, "sampling") {
        questions.push(("sample", sample("Say hello", 50)));
    }
    if declared(caps, "elicitation") {
        questions.push(("ask", elicit("Anything to add?", "answer", "string")));
    }
    if questions.is_empty() {
        return Ok(text_result(
            "The client declared no capability this tool can ask through.",
        ));
    }
    let mut received = Vec::new();
    for (key, _) in &questions {
        if responses.get(key)?.is_some() {
            received.push(*key);
        }
    }
    Ok(match received.len() == questions.len() {
        true => text_result(&format!("Received: {}.", received.join(", "))),
        false => asking(&questions, None),
    })
}

/// -32021 unless the client declared every one of `capabilities`.
fn needs(view: &SessionView, capabilities: &[&str]) -> Result<(), ErrorObject> {
    let caps = Some(&view.client_capabilities);
    let missing: Vec<&str> = capabilities
        .iter()
        .copied()
        .filter(|c| !declared(caps, c))
        .collect();
    match missing.is_empty() {
        true => Ok(()),
        false => Err(missing_capabilities(&missing)),
    }
}

/// The state `params.requestState` names, if any; one this server did not issue for `tool`, or
/// that expired, is -32602.
fn saved_state(
    states: &RequestStates<Saved>,
    now: Instant,
    tool: &str,
    params: &Value,
) -> Result<Option<Saved>, ErrorObject> {
    let handle = match params.get("requestState") {
        None | Some(Value::Null) => return Ok(None),
        Some(handle) => handle.as_str(),
    };
    handle
        .and_then(|h| states.get(h, now))
        .filter(|saved| saved.tool == tool)
        .map(|saved| Some(saved.clone()))
        .ok_or_else(|| invalid_params("Invalid or expired requestState"))
}

/// The `inputResponses` of a retried call: absent or null means none.
struct Responses<'a>(Option<&'a Map<String, Value>>);

impl<'a> Responses<'a> {
    /// Reads `params.inputResponses`; anything but an object or null is -32602.
    fn of(params: &'a Value) -> Result<Responses<'a>, ErrorObject> {
        match params.get("inputResponses") {
            None | Some(Value::Null) => Ok(Responses(None)),
            Some(Value::Object(responses)) => Ok(Responses(Some(responses))),
            Some(_) => Err(invalid_params("inputResponses must be an object")),
        }
    }

    /// The answer under `key`; every answer (a client result) is an object, so anything else is
    /// -32602. Keys nobody asks about are never read.
    fn get(&self, key: &str) -> Result<Option<&'a Map<String, Value>>, ErrorObject> {
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
fn asking(questions: &[(&str, Value)], state: Option<String>) -> Value {
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
fn ask(method: &str, params: Value) -> Value {
    json!({"method": method, "params": params})
}

/// A form elicitation of one required `field` of JSON type `kind`.
fn elicit(message: &str, field: &str, kind: &str) -> Value {
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
fn sample(text: &str, max_tokens: u64) -> Value {
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
fn elicited<'a>(
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
fn sampled(key: &str, answer: &Map<String, Value>) -> Result<String, ErrorObject> {
    tools::sampled_text(&Value::Object(answer.clone()))
        .ok_or_else(|| invalid_params(format!("inputResponses.{key} holds no text content")))
}

/// How many roots the `roots/list` answer under `key` holds, or -32602.
fn roots(key: &str, answer: &Map<String, Value>) -> Result<usize, ErrorObject> {
    answer
        .get("roots")
        .and_then(Value::as_array)
        .map(Vec::len)
        .ok_or_else(|| invalid_params(format!("inputResponses.{key} holds no roots array")))
}

/// A value as text: strings as they are, anything else as JSON.
fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The result when the user declined or cancelled an elicitation.
fn declined(action: &str) -> Value {
    text_result(&format!("The user chose to {action}."))
}

#[cfg(test)]
mod tests {
    use super::super::harness::Harness;
    use super::super::request_state::TTL;
    use super::*;
    use crate::mcp::handler::Command;
    use std::time::Duration;

    const ELICITATION: &str = "test_input_required_result_elicitation";

    /// `tools/call` of `name` with no arguments plus `extra` params (`inputResponses`, ...).
    fn call(h: &mut Harness, name: &str, extra: Value) -> Result<Value, ErrorObject> {
        let mut params = json!({"name": name, "arguments": {}});
        params
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        h.call("tools/call", params)
    }

    fn accept(content: Value) -> Value {
        json!({"action": "accept", "content": content})
    }

    /// The answer the conformance client gives to each input request of `asked`.
    fn answer_all(asked: &Value) -> Value {
        let answers: Map<String, Value> = asked["inputRequests"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(key, request)| {
                let answer = match request["method"].as_str().unwrap() {
                    "elicitation/create" => {
                        let fields = request["params"]["requestedSchema"]["properties"]
                            .as_object()
                            .unwrap()
                            .iter()
                            .map(|(field, schema)| match schema["type"].as_str() {
                                Some("boolean") => (field.clone(), json!(true)),
                                Some("integer" | "number") => (field.clone(), json!(1)),
                                _ => (field.clone(), json!("Alice")),
                            })
                            .collect::<Map<String, Value>>();
                        accept(Value::Object(fields))
                    }
                    "sampling/createMessage" => json!({"role": "assistant",
                        "content": {"type": "text", "text": "The capital of France is Paris."},
                        "model": "test-model", "stopReason": "endTurn"}),
                    "roots/list" => {
                        json!({"roots": [{"uri": "file:///test/root", "name": "Test Root"}]})
                    }
                    other => panic!("unexpected input request {other}"),
                };
                (key.clone(), answer)
            })
            .collect();
        Value::Object(answers)
    }

    /// The retry of an `input_required` result with every question answered.
    fn retry(asked: &Value) -> Value {
        let mut extra = json!({"inputResponses": answer_all(asked)});
        if let Some(state) = asked.get("requestState") {
            extra["requestState"] = state.clone();
        }
        extra
    }

    fn text(result: &Value) -> &str {
        assert_ne!(result["resultType"], "input_required", "{result}");
        result["content"][0]["text"].as_str().unwrap()
    }

    fn asked_methods(asked: &Value) -> Vec<(String, String)> {
        let requests = asked["inputRequests"].as_object().unwrap();
        let method = |r: &Value| r["method"].as_str().unwrap().to_string();
        requests
            .iter()
            .map(|(k, r)| (k.clone(), method(r)))
            .collect()
    }

    #[test]
    fn elicitation_asks_without_state_and_completes_from_responses_alone() {
        let mut h = Harness::modern();
        let asked = call(&mut h, ELICITATION, json!({})).unwrap();
        assert_eq!(
            asked,
            json!({"resultType": "input_required", "inputRequests": {"user_name": {
                "method": "elicitation/create",
                "params": {"message": "What is your name?", "requestedSchema": {"type": "object",
                    "properties": {"name": {"type": "string"}}, "required": ["name"]}}}}})
        );
        let answer = json!({"inputResponses": {"user_name": accept(json!({"name": "Alice"}))}});
        assert_eq!(
            text(&call(&mut h, ELICITATION, answer).unwrap()),
            "Hello, Alice!"
        );
        let mut fresh = Harness::modern();
        let answer = json!({"inputResponses": {"user_name": accept(json!({"name": "Bob"}))}});
        assert_eq!(
            text(&call(&mut fresh, ELICITATION, answer).unwrap()),
            "Hello, Bob!"
        );
    }

    #[test]
    fn elicitation_reasks_on_a_wrong_key_and_ignores_extra_keys() {
        let mut h = Harness::modern();
        let wrong = json!({"inputResponses": {"wrong_key": accept(json!({"name": "Alice"}))}});
        let got = call(&mut h, ELICITATION, wrong).unwrap();
        assert_eq!(got["resultType"], "input_required");
        assert_eq!(
            asked_methods(&got),
            [("user_name".into(), "elicitation/create".into())]
        );
        let extra = json!({"inputResponses": {"user_name": accept(json!({"name": "Alice"})),
            "unknown_extra_key": {"x": 1}, "another_unexpected": 7}});
        assert_eq!(
            text(&call(&mut h, ELICITATION, extra).unwrap()),
            "Hello, Alice!"
        );
    }

    #[test]
    fn elicitation_validates_what_it_reads() {
        let mut h = Harness::modern();
        for bad in [
            json!({"inputResponses": {"user_name": 12345}}),
            json!({"inputResponses": {"user_name": "Alice"}}),
            json!({"inputResponses": [1]}),
            json!({"inputResponses": {"user_name": {"content": {"name": "A"}}}}),
            json!({"inputResponses": {"user_name": accept(json!({"nom": "A"}))}}),
        ] {
            assert_eq!(
                call(&mut h, ELICITATION, bad.clone()).unwrap_err().code,
                -32602,
                "{bad}"
            );
        }
        let null = call(&mut h, ELICITATION, json!({"inputResponses": null})).unwrap();
        assert_eq!(null["resultType"], "input_required");
        let declined = json!({"inputResponses": {"user_name": {"action": "decline"}}});
        let got = call(&mut h, ELICITATION, declined).unwrap();
        assert_eq!(text(&got), "The user chose to decline.");
    }

    #[test]
    fn sampling_and_roots_fixtures_round_trip() {
        let mut h = Harness::modern();
        let cases = [
            (
                "test_input_required_result_sampling",
                ("capital_question", "sampling/createMessage"),
                "Model said: The capital of France is Paris.",
            ),
            (
                "test_input_required_result_list_roots",
                ("client_roots", "roots/list"),
                "Client exposed 1 root(s).",
            ),
        ];
        for (tool, (key, method), done) in cases {
            let asked = call(&mut h, tool, json!({})).unwrap();
            assert_eq!(asked_methods(&asked), [(key.into(), method.into())]);
            assert!(asked.get("requestState").is_none());
            assert_eq!(text(&call(&mut h, tool, retry(&asked)).unwrap()), done);
        }
        let asked = call(&mut h, "test_input_required_result_sampling", json!({})).unwrap();
        assert_eq!(
            asked["inputRequests"]["capital_question"]["params"],
            json!({"messages": [{"role": "user", "content": {"type": "text",
                "text": "What is the capital of France?"}}], "maxTokens": 100})
        );
    }

    #[test]
    fn request_state_is_required_and_checked() {
        let mut h = Harness::modern();
        let tool = "test_input_required_result_request_state";
        let asked = call(&mut h, tool, json!({})).unwrap();
        assert_eq!(
            asked_methods(&asked),
            [("confirm".into(), "elicitation/create".into())]
        );
        let state = asked["requestState"].as_str().unwrap().to_string();
        assert!(!state.is_empty());
        let got = call(&mut h, tool, retry(&asked)).unwrap();
        assert_eq!(text(&got), "state-ok: confirmed=true");
        let stateless = json!({"inputResponses": answer_all(&asked)});
        let again = call(&mut h, tool, stateless).unwrap();
        assert_eq!(again["resultType"], "input_required");
        assert_ne!(again["requestState"], asked["requestState"]);
    }

    #[test]
    fn tampered_foreign_or_expired_state_is_invalid_params() {
        let mut h = Harness::modern();
        let tool = "test_input_required_result_tampered_state";
        let asked = call(&mut h, tool, json!({})).unwrap();
        let state = asked["requestState"].as_str().unwrap().to_string();
        let foreign = call(
            &mut h,
            "test_input_required_result_request_state",
            json!({}),
        )
        .unwrap()["requestState"]
            .clone();
        for bad in [
            json!(format!("{state}-TAMPERED")),
            foreign,
            json!(""),
            json!(7),
        ] {
            let mut extra = retry(&asked);
            extra["requestState"] = bad.clone();
            let e = call(&mut h, tool, extra).unwrap_err();
            assert_eq!(
                (e.code, e.message.as_str()),
                (-32602, "Invalid or expired requestState")
            );
        }
        assert_eq!(
            text(&call(&mut h, tool, retry(&asked)).unwrap()),
            "state-ok: confirmed=true"
        );
        h.advance(TTL + Duration::from_secs(1));
        assert_eq!(call(&mut h, tool, retry(&asked)).unwrap_err().code, -32602);
    }

    #[test]
    fn multiple_inputs_ask_all_three_and_complete_with_all_answers() {
        let mut h = Harness::modern();
        let tool = "test_input_required_result_multiple_inputs";
        let asked = call(&mut h, tool, json!({})).unwrap();
        assert_eq!(
            asked_methods(&asked),
            [
                ("client_roots".into(), "roots/list".into()),
                ("greeting".into(), "sampling/createMessage".into()),
                ("user_name".into(), "elicitation/create".into()),
            ]
        );
        assert_eq!(
            asked["inputRequests"]["greeting"]["params"]["maxTokens"],
            50
        );
        let mut partial = retry(&asked);
        partial["inputResponses"]
            .as_object_mut()
            .unwrap()
            .remove("greeting");
        let again = call(&mut h, tool, partial).unwrap();
        assert_eq!(asked_methods(&again).len(), 3);
        assert_ne!(again["requestState"], asked["requestState"]);
        let got = call(&mut h, tool, retry(&asked)).unwrap();
        assert_eq!(text(&got), "All inputs received.");
    }

    #[test]
    fn multi_round_carries_the_name_in_a_new_state_each_round() {
        let mut h = Harness::modern();
        let tool = "test_input_required_result_multi_round";
        let round1 = call(&mut h, tool, json!({})).unwrap();
        assert_eq!(
            asked_methods(&round1),
            [("step1".into(), "elicitation/create".into())]
        );
        let step1 = json!({"inputResponses": {"step1": accept(json!({"name": "Alice"}))},
            "requestState": round1["requestState"]});
        let round2 = call(&mut h, tool, step1).unwrap();
        assert_eq!(
            asked_methods(&round2),
            [("step2".into(), "elicitation/create".into())]
        );
        assert_eq!(
            round2["inputRequests"]["step2"]["params"]["message"],
            "Step 2: What is your favorite color?"
        );
        assert!(round2["requestState"].is_string());
        assert_ne!(round2["requestState"], round1["requestState"]);
        let step2 = |state: &Value| {
            json!({"inputResponses": {"step2": accept(json!({"color": "blue"}))},
                "requestState": state})
        };
        let done = call(&mut h, tool, step2(&round2["requestState"])).unwrap();
        assert_eq!(text(&done), "Alice likes blue.");
        let restart = call(&mut h, tool, step2(&round1["requestState"])).unwrap();
        assert_eq!(
            asked_methods(&restart),
            [("step1".into(), "elicitation/create".into())]
        );
    }

    #[test]
    fn capabilities_fixture_asks_only_for_declared_capabilities() {
        let mut h = Harness::modern();
        let tool = "test_input_required_result_capabilities";
        let cases = [
            (json!({"sampling": {}}), vec!["sample"]),
            (json!({"elicitation": {}}), vec!["ask"]),
            (
                json!({"sampling": {}, "elicitation": {}, "roots": {}}),
                vec!["ask", "sample"],
            ),
        ];
        for (caps, keys) in cases {
            h.declare(caps.clone());
            let asked = call(&mut h, tool, json!({})).unwrap();
            let got: Vec<String> = asked_methods(&asked).into_iter().map(|(k, _)| k).collect();
            assert_eq!(got, keys, "{caps}");
            let done = call(&mut h, tool, retry(&asked)).unwrap();
            assert!(text(&done).starts_with("Received: "), "{done}");
        }
        h.declare(json!({}));
        let got = call(&mut h, tool, json!({})).unwrap();
        assert!(!text(&got).is_empty());
    }

    #[test]
    fn fixtures_needing_an_undeclared_capability_fail_with_32021() {
        let mut h = Harness::modern();
        h.declare(json!({"sampling": {}}));
        let e = call(&mut h, ELICITATION, json!({})).unwrap_err();
        assert_eq!(e.code, -32021);
        assert_eq!(
            e.data,
            Some(json!({"requiredCapabilities": {"elicitation": {}}}))
        );
        let e = call(
            &mut h,
            "test_input_required_result_multiple_inputs",
            json!({}),
        )
        .unwrap_err();
        assert_eq!(
            e.data,
            Some(json!({"requiredCapabilities": {"elicitation": {}, "roots": {}}}))
        );
        let e = h
            .call("prompts/get", json!({"name": PROMPT.0}))
            .unwrap_err();
        assert_eq!(e.code, -32021);
    }

    #[test]
    fn streaming_elicitation_answers_at_once_with_one_question() {
        let mut h = Harness::modern();
        let call_handle = h.request(
            "tools/call",
            json!({"name": "test_streaming_elicitation", "arguments": {}}),
        );
        let asked = h.response(call_handle).unwrap().unwrap();
        assert_eq!(
            asked_methods(&asked),
            [("response".into(), "elicitation/create".into())]
        );
        let done = call(&mut h, "test_streaming_elicitation", retry(&asked)).unwrap();
        assert_eq!(text(&done), "Received: Alice");
    }

    #[test]
    fn prompt_asks_for_context_then_uses_it() {
        let mut h = Harness::modern();
        let listed = h.call("prompts/list", json!({})).unwrap();
        assert!(listed["prompts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == PROMPT.0));
        let asked = h.call("prompts/get", json!({"name": PROMPT.0})).unwrap();
        assert_eq!(
            asked_methods(&asked),
            [("user_context".into(), "elicitation/create".into())]
        );
        assert_eq!(
            asked["inputRequests"]["user_context"]["params"]["message"],
            "What context should the prompt use?"
        );
        let answer = json!({"name": PROMPT.0, "inputResponses":
            {"user_context": accept(json!({"context": "test context"}))}});
        assert_eq!(
            h.call("prompts/get", answer).unwrap(),
            json!({"messages": [{"role": "user", "content": {"type": "text",
                "text": "Use the following context: test context"}}]})
        );
        let mut legacy = Harness::new();
        let e = legacy
            .call("prompts/get", json!({"name": PROMPT.0}))
            .unwrap_err();
        assert_eq!(e.message, format!("Unknown prompt: {}", PROMPT.0));
        let listed = legacy.call("prompts/list", json!({})).unwrap();
        assert!(!listed.to_string().contains(PROMPT.0));
    }

    #[test]
    fn handshake_era_asking_tools_answer_input_required_at_2026() {
        let mut h = Harness::modern();
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
            assert!(text(&got).starts_with(done), "{tool}: {got}");
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
        let mut h = Harness::modern();
        let got = h.call_tool("test_reconnection", json!({})).unwrap();
        assert_eq!(text(&got), "Reconnection test completed");
        assert!(!h
            .log
            .iter()
            .any(|c| matches!(c, Command::CloseStream { .. })));
    }

    #[test]
    fn no_tool_sends_the_client_a_request_at_2026() {
        let mut h = Harness::modern();
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
            .log
            .iter()
            .any(|c| matches!(c, Command::CloseStream { .. })));
        assert!(h.builtin.sessions.is_empty());
        assert!(h.builtin.timers.is_empty() && h.builtin.asked.is_empty());
    }

    #[test]
    fn input_required_tools_are_unknown_to_handshake_sessions() {
        let mut h = Harness::new();
        for (name, ..) in tools() {
            let e = h.call_tool(name, json!({})).unwrap_err();
            assert_eq!(e.message, format!("Unknown tool: {name}"));
        }
        assert!(h.client_requests().is_empty());
    }
}
