//! `Mcp-Param-*` headers (MCP 2026-07-28 transports, "Custom Headers"): a tool argument whose
//! input-schema property carries `"x-mcp-header": "<Name>"` is mirrored in the request header
//! `Mcp-Param-<Name>`, so that intermediaries can route on it without reading the body.
//!
//! The server checks that the two agree ("Server Validation"): a value in the body needs its
//! header, a header needs its value (`null` counts as absent), and they are equal (strings
//! exactly, since values are case-sensitive; numbers numerically; booleans by name). Otherwise
//! -32020 (`HeaderMismatch`), which the stateless transport sends with HTTP 400.
//!
//! The transport decodes the headers (`=?base64?...?=`) into
//! [`SessionView::param_headers`]; whoever knows the tool's schema calls [`check`]: the
//! built-in for its own tools, the bridge against its child's cached `tools/list`. Where the
//! transport has no headers (stdio, handshake sessions) there is nothing to check.

use super::stateless::HEADER_MISMATCH;
use crate::mcp::jsonrpc::ErrorObject;
use crate::mcp::SessionView;
use serde_json::Value;

/// Whether the `Mcp-Param-*` headers of `view` agree with `arguments` of a call to a tool
/// whose input schema is `input_schema`.
pub fn check(
    input_schema: &Value,
    arguments: &Value,
    view: &SessionView,
) -> Result<(), ErrorObject> {
    if view.param_headers.is_none() {
        return Ok(());
    }
    let Some(properties) = input_schema.get("properties").and_then(Value::as_object) else {
        return Ok(());
    };
    for (argument, schema) in properties {
        let Some(header) = schema.get("x-mcp-header").and_then(Value::as_str) else {
            continue;
        };
        let body = arguments.get(argument).filter(|v| !v.is_null());
        let mismatch = |why: &str| {
            Err(ErrorObject::new(
                HEADER_MISMATCH,
                format!("Header mismatch: Mcp-Param-{header} {why}"),
            ))
        };
        match (body, view.param_header(header)) {
            (Some(_), None) => return mismatch(&format!("is missing, {argument} is given")),
            (None, Some(_)) => return mismatch(&format!("is given, {argument} is not")),
            (Some(value), Some(sent)) if !matches(value, sent) => {
                return mismatch(&format!("differs from {argument}"))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Whether header text `sent` carries body value `value`.
fn matches(value: &Value, sent: &str) -> bool {
    match value {
        Value::String(s) => s == sent,
        Value::Number(n) => sent.parse::<f64>().ok() == n.as_f64(),
        Value::Bool(b) => sent == if *b { "true" } else { "false" },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn view(headers: Option<&[(&str, &str)]>) -> SessionView {
        SessionView {
            param_headers: headers.map(|h| {
                h.iter()
                    .map(|(n, v)| (n.to_string(), v.to_string()))
                    .collect()
            }),
            ..SessionView::default()
        }
    }

    #[test]
    fn annotated_arguments_and_headers_must_agree() {
        let schema = json!({"type": "object", "properties": {
            "region": {"type": "string", "x-mcp-header": "Region"},
            "count": {"type": "number", "x-mcp-header": "Count"},
            "flag": {"type": "boolean", "x-mcp-header": "Flag"},
            "plain": {"type": "string"},
        }});
        type Headers<'a> = &'a [(&'a str, &'a str)];
        let cases: [(Headers, Value, bool); 9] = [
            (&[], json!({}), true),
            (&[], json!({"region": null, "plain": "x"}), true),
            (&[("region", "eu")], json!({"region": "eu"}), true),
            (&[("count", "42")], json!({"count": 42.0}), true),
            (&[("flag", "true")], json!({"flag": true}), true),
            (&[], json!({"region": "eu"}), false),
            (&[("region", "eu")], json!({}), false),
            (&[("region", "EU")], json!({"region": "eu"}), false),
            (&[("count", "43")], json!({"count": 42}), false),
        ];
        for (headers, args, ok) in cases {
            let got = check(&schema, &args, &view(Some(headers)));
            match ok {
                true => assert_eq!(got, Ok(()), "{headers:?} {args}"),
                false => assert_eq!(got.unwrap_err().code, HEADER_MISMATCH, "{headers:?} {args}"),
            }
        }
    }

    #[test]
    fn nothing_is_checked_without_headers_or_annotations() {
        let schema = json!({"properties": {"region": {"x-mcp-header": "Region"}}});
        assert_eq!(
            check(&schema, &json!({"region": "eu"}), &view(None)),
            Ok(())
        );
        assert_eq!(
            check(&json!({}), &json!({"region": "eu"}), &view(Some(&[]))),
            Ok(())
        );
    }
}
