//! The usual body, one JSON object, read without a `Value` map for its envelope: the members go
//! into [`Members`] as the text is scanned, each member's value parsed on its own by serde_json.
//! A `Value` map would allocate a B-tree node and a key `String` per member only for
//! [`Message::from_value`] to take them apart again (bench/RESULTS.md).
//!
//! Only the plain case is read here; anything else (a batch, a key with an escape, bytes that
//! are not JSON, nesting that could reach serde_json's recursion limit, trailing characters)
//! gets `None` and the caller parses the whole body into a `Value` as before. So every error,
//! and every body that is not plain, goes through the one general path, and a plain body gives
//! what that path gives: each member's value is the same `Value`, the last of a repeated key
//! wins as in serde_json's map, and classification is the same code ([`Members::classify`]).

use super::text::{self, skip_ws};
use super::{params, Body, Members};
use serde_json::Value;

/// At most this many `{` and `[` in a body read here: nesting then stays far below serde_json's
/// recursion limit (128 levels fail), which counts the envelope as one level and a member alone
/// would not.
const MAX_OPENINGS: usize = 64;

/// Bodies shorter than this cannot nest 128 levels (each level takes two bytes), so they are
/// not counted: the usual request is.
const MIN_COUNTED: usize = 256;

/// The body `text` as one message, or `None` when it needs the general path.
pub(super) fn parse_plain(text: &str) -> Option<Body> {
    let bytes = text.as_bytes();
    if bytes.len() >= MIN_COUNTED {
        let openings = bytes.iter().filter(|&&b| b == b'{' || b == b'[').count();
        if openings > MAX_OPENINGS {
            return None;
        }
    }
    let mut at = skip_ws(bytes, 0);
    if bytes.get(at) != Some(&b'{') {
        return None;
    }
    at = skip_ws(bytes, at + 1);
    let mut members = Members::default();
    if bytes.get(at) == Some(&b'}') {
        at += 1;
    } else {
        loop {
            // A key: a string without escapes or control characters.
            if bytes.get(at) != Some(&b'"') {
                return None;
            }
            // A key without escapes or control characters ends at the first stop.
            let end = text::string_stop(bytes, at + 1);
            if bytes.get(end) != Some(&b'"') {
                return None;
            }
            let len = end - (at + 1);
            let key = text.get(at + 1..end)?;
            at = skip_ws(bytes, at + len + 2);
            if bytes.get(at) != Some(&b':') {
                return None;
            }
            at = skip_ws(bytes, at + 1);
            let rest = text.get(at..)?;
            if key == "jsonrpc" && rest.starts_with("\"2.0\"") {
                // The usual version, compared without building a string.
                members.version_ok = true;
                at += 5;
            } else if key == "params" {
                // Kept as text: most handlers read a member or two, a proxy none.
                let (member, used) = params::checked(rest)?;
                members.params = Some(member);
                at += used;
            } else if let Some((value, used)) = plain_scalar(rest) {
                members.set(key, value);
                at += used;
            } else {
                let mut values = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
                let value = values.next()?.ok()?;
                at += values.byte_offset();
                members.set(key, value);
            }
            at = skip_ws(bytes, at);
            match bytes.get(at) {
                Some(b',') => at = skip_ws(bytes, at + 1),
                Some(b'}') => {
                    at += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    if skip_ws(bytes, at) != bytes.len() {
        return None;
    }
    Some(Body::Single(members.classify()))
}

/// The usual method and id, read without serde_json's machinery: a string with no escape and
/// no control character, or a non-negative integer of at most 18 digits without a leading zero
/// (what a `u64` holds, as serde_json reads it). The value and the bytes it took; `None` for
/// anything else, which serde_json reads (negative numbers included: it reads `-0` as a float).
fn plain_scalar(text: &str) -> Option<(Value, usize)> {
    let bytes = text.as_bytes();
    match bytes.first()? {
        b'"' => {
            let end = text::string_stop(bytes, 1);
            if bytes.get(end) != Some(&b'"') {
                return None;
            }
            Some((Value::String(text.get(1..end)?.to_owned()), end + 1))
        }
        b'0'..=b'9' => {
            let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
            let leading_zero = digits > 1 && bytes[0] == b'0';
            let more = matches!(bytes.get(digits), Some(b'.' | b'e' | b'E'));
            if digits > 18 || leading_zero || more {
                return None;
            }
            let n = bytes[..digits]
                .iter()
                .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
            Some((Value::from(n), digits))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{parse_body, Message};
    use super::*;

    /// The general path alone: the whole body into a `Value`, then classified.
    fn general(text: &str) -> Result<Body, String> {
        let value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        Ok(match value {
            Value::Array(items) => {
                Body::Batch(items.into_iter().map(Message::from_value).collect())
            }
            other => Body::Single(Message::from_value(other)),
        })
    }

    fn check(text: &str) -> bool {
        let fast = parse_plain(text);
        if let Some(fast) = &fast {
            assert_eq!(Ok(fast), general(text).as_ref(), "{text}");
        }
        let whole = parse_body(text.as_bytes()).map_err(|e| e.to_string());
        assert_eq!(whole, general(text), "{text}");
        fast.is_some()
    }

    #[test]
    fn plain_bodies_read_as_the_general_path_reads_them() {
        let keys = [
            "jsonrpc",
            "id",
            "method",
            "params",
            "result",
            "error",
            "x",
            "",
            "jso\\u006erpc",
            "é",
            "id\u{1}",
        ];
        let values = [
            "\"2.0\"",
            "\"1.0\"",
            "\"2.0\" ",
            "\"2\\u002e0\"",
            "1",
            "-3",
            "0",
            "1.5",
            "1e400",
            "18446744073709551615",
            "18446744073709551616",
            "-9223372036854775809",
            "null",
            "true",
            "false",
            "\"tools/call\"",
            "\"ping\"",
            "{}",
            "[]",
            "{\"a\":1}",
            "[1,2",
            "{\"code\":1,\"message\":\"x\"}",
            "{\"code\":\"1\",\"message\":\"x\"}",
            "\"unterminated",
            "\"\\ud800\"",
            "\"a\\nb\"",
            "tru",
            "01",
            "1.",
            "{\"a\":{\"b\":[{}]}}",
            "\"{[\"",
            "{\"a\":\"\\ud800\"}",
            "{\"a\":1e400}",
            "{\"a\":1E2,\"b\":[]}",
            "{\"k\":\"v\",\"k\":\"w\"}",
            "{\"n\\u0061me\":1}",
            "{\n\"a\":\r1}",
            "{\"a\":\"\\u0001\",\"b\":-0}",
            "{\"a\":01}",
            "{\"a\":\"\u{1}\"}",
            "123456789012345678",
            "1234567890123456789",
            "-0",
            "0.0",
            "7e1",
            "\"tab\u{9}in\"",
            "\"\\u0041\"",
        ];
        let gaps = ["", " ", "\n\t", "\r"];
        // A deterministic generator (64-bit LCG): no dependency, the same inputs every run.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: usize| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as usize % n
        };
        let (mut plain, mut total) = (0, 0);
        for _ in 0..20_000 {
            let mut text = String::from(gaps[next(gaps.len())]);
            text.push('{');
            let members = next(6);
            for m in 0..members {
                if m > 0 {
                    text.push_str([",", ",", ",", ";", ",,"][next(5)]);
                }
                text.push_str(gaps[next(gaps.len())]);
                text.push_str(&format!("\"{}\"", keys[next(keys.len())]));
                text.push_str(gaps[next(gaps.len())]);
                text.push_str([":", ":", ":", ""][next(4)]);
                text.push_str(gaps[next(gaps.len())]);
                text.push_str(values[next(values.len())]);
            }
            text.push_str(gaps[next(gaps.len())]);
            text.push_str(["}", "}", "}", "", "}}", "} x", "]"][next(7)]);
            text.push_str(gaps[next(gaps.len())]);
            total += 1;
            plain += usize::from(check(&text));
            // The same members as a batch element and after a prefix take the general path.
            check(&format!("[{text}]"));
        }
        assert!(
            plain > total / 10,
            "the plain path was taken {plain} of {total} times"
        );
    }

    #[test]
    fn the_usual_shapes_are_read_here() {
        for text in [
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"}}}"#,
            r#" { "jsonrpc" : "2.0" , "method" : "notifications/initialized" } "#,
            r#"{"jsonrpc":"2.0","id":"a","result":{}}"#,
            r#"{"jsonrpc":"2.0","id":7,"error":{"code":-1,"message":"x"}}"#,
            r#"{"jsonrpc":"2.0","id":3,"method":7}"#,
            r#"{"jsonrpc":"1.0","jsonrpc":"2.0","id":3,"method":"m"}"#,
            r#"{"jsonrpc":"2.0","jsonrpc":"1.0","id":3,"method":"m"}"#,
            r#"{"id":3,"id":"x","method":"m","jsonrpc":"2.0"}"#,
            r#"{}"#,
        ] {
            assert!(check(text), "{text}");
        }
    }

    #[test]
    fn deep_nesting_escapes_batches_and_errors_take_the_general_path() {
        let deep = |n: usize| {
            let open = "[".repeat(n);
            let close = "]".repeat(n);
            format!(r#"{{"jsonrpc":"2.0","id":1,"method":"m","params":{{"a":{open}{close}}}}}"#)
        };
        // 126 brackets inside params and the envelope reach exactly serde_json's limit.
        for n in [60, 62, 63, 125, 126, 127, 200] {
            let text = deep(n);
            let plain = n + 2 <= MAX_OPENINGS || text.len() < MIN_COUNTED;
            assert_eq!(check(&text), plain, "depth {n}");
        }
        // Short bodies are not counted: the deepest that fits is well within the limit.
        let short = format!(r#"{{"":{}{}}}"#, "[".repeat(125), "]".repeat(125));
        assert!(short.len() == MIN_COUNTED - 1 && check(&short));
        let too_deep = format!(r#"{{"":{}{}}}"#, "[".repeat(127), "]".repeat(127));
        assert!(too_deep.len() >= MIN_COUNTED && !check(&too_deep));
        assert!(
            parse_body(too_deep.as_bytes()).is_err(),
            "128 levels are serde_json's limit"
        );
        for text in [
            r#"[{"jsonrpc":"2.0","method":"m"}]"#,
            r#"{"json\u0072pc":"2.0","method":"m"}"#,
            r#"{"jsonrpc":"2.0","method":"m"} x"#,
            r#"{"jsonrpc":"2.0","method":"m","x":1e400}"#,
            r#"{"jsonrpc":"2.0","method":"m""#,
            r#""just a string""#,
            "",
        ] {
            assert!(!check(text), "{text}");
        }
    }
}
