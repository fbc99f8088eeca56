//! The built-in server under [`crate::testing::Harness`]: sessions declared as the conformance
//! client declares them, and the answers it gives to input requests.

use super::Builtin;
use serde_json::{json, Map, Value};

/// The shared harness, driving the built-in server.
pub(super) type Harness = crate::testing::Harness<Builtin>;

/// A handshake session (2025-11-25) that declared sampling and elicitation, as the
/// conformance client does.
pub(super) fn builtin_session() -> Harness {
    let mut h = Harness::new(Builtin::new());
    h.declare(json!({"sampling": {}, "elicitation": {}}));
    if let Some(view) = &mut h.view {
        view.client_info = json!({"name": "test-client", "version": "1"});
    }
    h
}

/// Stateless (2026-07-28) requests whose `_meta` declares sampling, elicitation and roots,
/// as the conformance client does; no `Mcp-Param-*` headers.
pub(super) fn builtin_stateless() -> Harness {
    let mut h = Harness::stateless(Builtin::new());
    h.declare(json!({"sampling": {}, "elicitation": {}, "roots": {"listChanged": true}}));
    if let Some(view) = &mut h.view {
        view.client_info = json!({"name": "conformance-test-client", "version": "1.0.0"});
    }
    h
}

/// An accepted elicitation with `content`.
pub(super) fn accept(content: Value) -> Value {
    json!({"action": "accept", "content": content})
}

/// The answer the conformance client gives to each input request of `asked`.
pub(super) fn answer_all(asked: &Value) -> Value {
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

/// The params a retry of `asked` adds: every question answered, its state echoed.
pub(super) fn retry(asked: &Value) -> Value {
    let mut extra = json!({"inputResponses": answer_all(asked)});
    if let Some(state) = asked.get("requestState") {
        extra["requestState"] = state.clone();
    }
    extra
}

/// The text of a complete (not `input_required`) tool result.
pub(super) fn complete_text(result: &Value) -> &str {
    assert_ne!(result["resultType"], "input_required", "{result}");
    result["content"][0]["text"].as_str().unwrap()
}

/// Key and method of every input request of `asked`, in key order.
pub(super) fn asked_methods(asked: &Value) -> Vec<(String, String)> {
    let requests = asked["inputRequests"].as_object().unwrap();
    let method = |r: &Value| r["method"].as_str().unwrap().to_string();
    requests
        .iter()
        .map(|(k, r)| (k.clone(), method(r)))
        .collect()
}
