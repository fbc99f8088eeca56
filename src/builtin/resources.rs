//! The resources: three fixed ones and the template `test://template/{id}/data`, as the
//! conformance 0.1.16 fixture contract ("Resources") fixes them.
//!
//! Resources never change, so subscribing succeeds but no `notifications/resources/updated` is
//! ever sent. An unknown URI is "Resource not found" with `data.uri`: -32002 up to 2025-11-25,
//! -32602 at 2026-07-28 (MCP server/resources, "Error Handling", of each revision).

use super::fixtures::PNG_1X1;
use super::invalid_params;
use crate::mcp::jsonrpc::RESOURCE_NOT_FOUND;
use crate::mcp::ErrorObject;
use serde_json::{json, Value};

/// The URI template of the one resource template (RFC 6570 level 1).
pub(super) const TEMPLATE: &str = "test://template/{id}/data";

/// What comes before and after `{id}` in [`TEMPLATE`].
const TEMPLATE_PARTS: (&str, &str) = ("test://template/", "/data");

/// The fixed resources: uri, name, description, mimeType.
const FIXED: [(&str, &str, &str, &str); 3] = [
    (
        "test://static-text",
        "Static Text Resource",
        "A static text resource for testing.",
        "text/plain",
    ),
    (
        "test://static-binary",
        "Static Binary Resource",
        "A static binary resource (a 1x1 PNG) for testing.",
        "image/png",
    ),
    (
        "test://watched-resource",
        "Watched Resource",
        "A resource clients may subscribe to.",
        "text/plain",
    ),
];

/// The URIs of the fixed resources, for completion.
pub(super) fn fixed_uris() -> impl Iterator<Item = &'static str> {
    FIXED.iter().map(|(uri, ..)| *uri)
}

/// The `resources/list` result.
pub(super) fn list() -> Value {
    let resources: Vec<Value> = FIXED
        .iter()
        .map(|(uri, name, description, mime)| {
            json!({"uri": uri, "name": name, "description": description, "mimeType": mime})
        })
        .collect();
    json!({ "resources": resources })
}

/// The `resources/templates/list` result.
pub(super) fn templates() -> Value {
    json!({"resourceTemplates": [{
        "uriTemplate": TEMPLATE,
        "name": "Template Data",
        "description": "JSON data for any id.",
        "mimeType": "application/json",
    }]})
}

/// The `resources/read` result for `uri`, or the not-found error of the era.
pub(super) fn read(uri: &str, modern: bool) -> Result<Value, ErrorObject> {
    let content = match uri {
        "test://static-text" => json!({
            "uri": uri,
            "mimeType": "text/plain",
            "text": "This is the content of the static text resource.",
        }),
        "test://static-binary" => json!({"uri": uri, "mimeType": "image/png", "blob": PNG_1X1}),
        "test://watched-resource" => json!({
            "uri": uri,
            "mimeType": "text/plain",
            "text": "This is the content of the watched resource.",
        }),
        _ => match template_id(uri) {
            Some(id) => {
                json!({"uri": uri, "mimeType": "application/json", "text": template_text(id)})
            }
            None if modern => return Err(modern_not_found(uri)),
            None => return Err(not_found(uri)),
        },
    };
    Ok(json!({ "contents": [content] }))
}

/// Whether `uri` names a readable resource; `resources/subscribe` accepts only those.
pub(super) fn exists(uri: &str) -> bool {
    FIXED.iter().any(|(u, ..)| *u == uri) || template_id(uri).is_some()
}

/// -32002 for `uri`.
pub(super) fn not_found(uri: &str) -> ErrorObject {
    ErrorObject::new(RESOURCE_NOT_FOUND, "Resource not found").with_data(json!({ "uri": uri }))
}

/// -32602 for `uri`: MCP 2026-07-28 server/resources, "Error Handling" (-32002 is retired).
fn modern_not_found(uri: &str) -> ErrorObject {
    invalid_params("Resource not found").with_data(json!({ "uri": uri }))
}

/// The `{id}` of a template URI: non-empty, without `/`.
fn template_id(uri: &str) -> Option<&str> {
    let (prefix, suffix) = TEMPLATE_PARTS;
    let id = uri.strip_prefix(prefix)?.strip_suffix(suffix)?;
    (!id.is_empty() && !id.contains('/')).then_some(id)
}

/// The template's JSON text, keys in the contract's order (a `json!` object would sort them).
fn template_text(id: &str) -> String {
    let quoted = |s: &str| Value::from(s).to_string();
    format!(
        "{{\"id\":{},\"templateTest\":true,\"data\":{}}}",
        quoted(id),
        quoted(&format!("Data for ID: {id}"))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_legacy(uri: &str) -> Result<Value, ErrorObject> {
        read(uri, false)
    }

    #[test]
    fn unknown_uri_at_2026_is_invalid_params_with_the_uri() {
        let e = read("test://nonexistent-resource-for-conformance-testing", true).unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (-32602, "Resource not found"));
        assert_eq!(
            e.data,
            Some(json!({"uri": "test://nonexistent-resource-for-conformance-testing"}))
        );
        assert_eq!(
            read("test://static-text", true),
            read_legacy("test://static-text")
        );
    }

    #[test]
    fn static_resources_read_as_the_contract_says() {
        assert_eq!(
            read_legacy("test://static-text").unwrap(),
            json!({"contents":[{"uri":"test://static-text","mimeType":"text/plain",
                "text":"This is the content of the static text resource."}]})
        );
        assert_eq!(
            read_legacy("test://static-binary").unwrap(),
            json!({"contents":[{"uri":"test://static-binary","mimeType":"image/png","blob":PNG_1X1}]})
        );
        assert!(read_legacy("test://watched-resource").unwrap()["contents"][0]["text"].is_string());
    }

    #[test]
    fn template_reads_exact_text_for_its_id() {
        assert_eq!(
            read_legacy("test://template/123/data").unwrap(),
            json!({"contents":[{"uri":"test://template/123/data","mimeType":"application/json",
                "text":"{\"id\":\"123\",\"templateTest\":true,\"data\":\"Data for ID: 123\"}"}]})
        );
    }

    #[test]
    fn template_text_escapes_odd_ids() {
        let text = template_text("a\"b");
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["id"], "a\"b");
        assert_eq!(parsed["data"], "Data for ID: a\"b");
    }

    #[test]
    fn unknown_uris_are_resource_not_found_with_the_uri() {
        for uri in [
            "test://nope",
            "test://template//data",
            "test://template/1/2/data",
            "test://template/1",
            "",
        ] {
            let e = read_legacy(uri).unwrap_err();
            assert_eq!(e.code, -32002, "{uri}");
            assert_eq!(e.message, "Resource not found");
            assert_eq!(e.data, Some(json!({ "uri": uri })));
            assert!(!exists(uri));
        }
    }

    #[test]
    fn every_listed_resource_is_readable_and_described() {
        for r in list()["resources"].as_array().unwrap() {
            let uri = r["uri"].as_str().unwrap();
            assert!(exists(uri));
            assert_eq!(
                read_legacy(uri).unwrap()["contents"][0]["mimeType"],
                r["mimeType"]
            );
            assert!(!r["name"].as_str().unwrap().is_empty());
            assert!(!r["description"].as_str().unwrap().is_empty());
        }
        assert_eq!(templates()["resourceTemplates"][0]["uriTemplate"], TEMPLATE);
    }
}
