//! JSON-RPC parsing and classification never panic, the quick path reads every body as the
//! general one does, and every message that classifies as valid survives `to_json` then
//! `parse_body` unchanged (floats up to serde_json's parsing precision).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcpd::fuzzing::{parse_body, Body, Message};
use mcpd::mcp::INVALID_REQUEST;
use serde_json::Value;

/// Equal JSON, except that floats may differ in their last bit: serde_json without
/// `float_roundtrip` parses floats to best effort, not exactly.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            let (x, y) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            x == y || (x - y).abs() <= 4.0 * f64::EPSILON * x.abs().max(y.abs())
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((kx, x), (ky, y))| kx == ky && same(x, y))
        }
        _ => a == b,
    }
}

fuzz_target!(|data: &[u8]| {
    // The quick path (the envelope read member by member, params scanned as text) reads what
    // the general path reads: the whole body as a `Value`, then classified.
    let general = serde_json::from_slice::<Value>(data).map(|value| match value {
        Value::Array(items) => Body::Batch(items.into_iter().map(Message::from_value).collect()),
        other => Body::Single(Message::from_value(other)),
    });
    let parsed = parse_body(data);
    assert_eq!(parsed.as_ref().ok(), general.as_ref().ok(), "{data:?}");
    let Ok(body) = parsed else {
        return;
    };
    let items = match body {
        Body::Single(item) => vec![item],
        Body::Batch(items) => items,
    };
    for item in items {
        let message = match item {
            Ok(message) => message,
            Err(invalid) => {
                assert_eq!(invalid.to_error().code, INVALID_REQUEST);
                continue;
            }
        };
        let json = message.to_json();
        assert!(!json.contains(['\n', '\r']), "one line: {json}");
        let again = match parse_body(json.as_bytes()) {
            Ok(Body::Single(Ok(again))) => again,
            other => panic!("{json} parsed back as {other:?}"),
        };
        assert!(
            same(&again.to_value(), &message.to_value()),
            "{message:?} became {again:?}"
        );
        assert_eq!(
            std::mem::discriminant(&again),
            std::mem::discriminant(&message)
        );
        let _: Option<&str> = Message::method(&again);
    }
});
