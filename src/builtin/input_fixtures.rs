//! The conformance fixtures that ask for input (conformance 0.2.0-alpha.12, section 4): the
//! eight `test_input_required_result_*` tools, `test_streaming_elicitation` and the prompt
//! `test_input_required_result_prompt`, served to stateless (2026-07-28) requests only.
//!
//! Fixtures that need no memory between rounds work from `inputResponses` alone. The others
//! keep theirs in [`RequestStates`] under the `requestState` handle they hand out, a new one
//! every round; a handle that is unknown, expired or issued for another fixture is -32602.

use super::input_required::{
    asking, declined, elicit, elicited, needs, roots, sample, sampled, text_of, Responses,
};
use super::request_state::RequestStates;
use super::tool_list::{no_arguments, ToolDef};
use super::tools::{declared, text_result};
use super::{invalid_params, str_param, Builtin};
use crate::mcp::{ErrorObject, SessionView};
use serde_json::{json, Value};
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
    let saved = if STATEFUL.contains(&tool) {
        saved_state(states, now, tool, params)?
    } else {
        None
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
    Ok(if received.len() == questions.len() {
        text_result(&format!("Received: {}.", received.join(", ")))
    } else {
        asking(&questions, None)
    })
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

#[cfg(test)]
mod tests {
    use super::super::harness::{
        accept, answer_all, asked_methods, builtin_session, builtin_stateless, complete_text,
        retry, Harness,
    };
    use super::super::request_state::TTL;
    use super::*;
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

    #[test]
    fn elicitation_asks_without_state_and_completes_from_responses_alone() {
        let mut h = builtin_stateless();
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
            complete_text(&call(&mut h, ELICITATION, answer).unwrap()),
            "Hello, Alice!"
        );
        let mut fresh = builtin_stateless();
        let answer = json!({"inputResponses": {"user_name": accept(json!({"name": "Bob"}))}});
        assert_eq!(
            complete_text(&call(&mut fresh, ELICITATION, answer).unwrap()),
            "Hello, Bob!"
        );
    }

    #[test]
    fn elicitation_reasks_on_a_wrong_key_and_ignores_extra_keys() {
        let mut h = builtin_stateless();
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
            complete_text(&call(&mut h, ELICITATION, extra).unwrap()),
            "Hello, Alice!"
        );
    }

    #[test]
    fn elicitation_validates_what_it_reads() {
        let mut h = builtin_stateless();
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
        assert_eq!(complete_text(&got), "The user chose to decline.");
    }

    #[test]
    fn sampling_and_roots_fixtures_round_trip() {
        let mut h = builtin_stateless();
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
            assert_eq!(
                complete_text(&call(&mut h, tool, retry(&asked)).unwrap()),
                done
            );
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
        let mut h = builtin_stateless();
        let tool = "test_input_required_result_request_state";
        let asked = call(&mut h, tool, json!({})).unwrap();
        assert_eq!(
            asked_methods(&asked),
            [("confirm".into(), "elicitation/create".into())]
        );
        let state = asked["requestState"].as_str().unwrap().to_string();
        assert!(!state.is_empty());
        let got = call(&mut h, tool, retry(&asked)).unwrap();
        assert_eq!(complete_text(&got), "state-ok: confirmed=true");
        let stateless = json!({"inputResponses": answer_all(&asked)});
        let again = call(&mut h, tool, stateless).unwrap();
        assert_eq!(again["resultType"], "input_required");
        assert_ne!(again["requestState"], asked["requestState"]);
    }

    #[test]
    fn tampered_foreign_or_expired_state_is_invalid_params() {
        let mut h = builtin_stateless();
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
            complete_text(&call(&mut h, tool, retry(&asked)).unwrap()),
            "state-ok: confirmed=true"
        );
        h.advance(TTL + Duration::from_secs(1));
        assert_eq!(call(&mut h, tool, retry(&asked)).unwrap_err().code, -32602);
    }

    #[test]
    fn multiple_inputs_ask_all_three_and_complete_with_all_answers() {
        let mut h = builtin_stateless();
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
        assert_eq!(complete_text(&got), "All inputs received.");
    }

    #[test]
    fn multi_round_carries_the_name_in_a_new_state_each_round() {
        let mut h = builtin_stateless();
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
        assert_eq!(complete_text(&done), "Alice likes blue.");
        let restart = call(&mut h, tool, step2(&round1["requestState"])).unwrap();
        assert_eq!(
            asked_methods(&restart),
            [("step1".into(), "elicitation/create".into())]
        );
    }

    #[test]
    fn capabilities_fixture_asks_only_for_declared_capabilities() {
        let mut h = builtin_stateless();
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
            assert!(complete_text(&done).starts_with("Received: "), "{done}");
        }
        h.declare(json!({}));
        let got = call(&mut h, tool, json!({})).unwrap();
        assert!(!complete_text(&got).is_empty());
    }

    #[test]
    fn fixtures_needing_an_undeclared_capability_fail_with_32021() {
        let mut h = builtin_stateless();
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
        let mut h = builtin_stateless();
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
        assert_eq!(complete_text(&done), "Received: Alice");
    }

    #[test]
    fn prompt_asks_for_context_then_uses_it() {
        let mut h = builtin_stateless();
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
        let mut legacy = builtin_session();
        let e = legacy
            .call("prompts/get", json!({"name": PROMPT.0}))
            .unwrap_err();
        assert_eq!(e.message, format!("Unknown prompt: {}", PROMPT.0));
        let listed = legacy.call("prompts/list", json!({})).unwrap();
        assert!(!listed.to_string().contains(PROMPT.0));
    }
}
