//! The `Accept` checks of the MCP endpoint: a POST must admit JSON and SSE, a GET SSE (406).

use crate::http::{Field, RequestHead};

/// A media type the endpoint may answer with.
pub(super) enum Accept {
    /// Only tests ask for JSON alone (POST checks both at once: [`accepts_json_and_sse`]).
    #[cfg(test)]
    /// `application/json`.
    Json,
    /// `text/event-stream`.
    Sse,
}

/// Whether `Accept` admits `kind` (any order; `*/*` and `type/*` count; absent means anything).
pub(super) fn accepts(head: &RequestHead, kind: Accept) -> bool {
    let (full, range) = match kind {
        #[cfg(test)]
        Accept::Json => ("application/json", "application/*"),
        Accept::Sse => ("text/event-stream", "text/*"),
    };
    let mut any_field = false;
    for value in head.headers_named_str(Field::Accept) {
        any_field = true;
        let Some(value) = value else {
            continue;
        };
        for media in media_ranges(value) {
            if media.eq_ignore_ascii_case(full)
                || media.eq_ignore_ascii_case(range)
                || media == "*/*"
            {
                return true;
            }
        }
    }
    // RFC 9110 12.5.1: no Accept field means any media type is acceptable.
    !any_field
}

/// The media ranges of an `Accept` value: each comma-separated item up to its parameters
/// (`;`), trimmed. Split at byte positions (`,` and `;` are ASCII, so always char boundaries):
/// `str::split` with a char pattern cost a tenth of a `tools/call` here.
pub(super) fn media_ranges(value: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(value);
    std::iter::from_fn(move || {
        let current = rest?;
        let (item, next) = match current.bytes().position(|b| b == b',') {
            Some(comma) => (current.get(..comma)?, current.get(comma + 1..)),
            None => (current, None),
        };
        rest = next;
        Some(media_type(item))
    })
}

/// The media type of a media range or a `Content-Type` value: up to its parameters (`;`),
/// trimmed.
pub(super) fn media_type(item: &str) -> &str {
    let media = match item.bytes().position(|b| b == b';') {
        Some(semicolon) => item.get(..semicolon).unwrap_or(item),
        None => item,
    };
    trim(media)
}

/// `text.trim()`, skipping the Unicode whitespace walk when both ends are visible ASCII (so
/// not whitespace), as in what clients send: the walk cost ~50 instructions per value.
pub(super) fn trim(text: &str) -> &str {
    match (text.as_bytes().first(), text.as_bytes().last()) {
        (Some(first), Some(last)) if first.is_ascii_graphic() && last.is_ascii_graphic() => text,
        _ => text.trim(),
    }
}

/// `Accept` values that admit both JSON and SSE as the SDKs send them (Python and TypeScript:
/// the first), compared whole before the general walk, which costs some 300 instructions
/// per POST splitting and comparing item by item.
const USUAL_JSON_AND_SSE: [&str; 2] = [
    "application/json, text/event-stream",
    "text/event-stream, application/json",
];

/// Whether `Accept` admits both JSON and SSE, as a POST needs: [`accepts`] for each in one pass.
pub(super) fn accepts_json_and_sse(head: &RequestHead) -> bool {
    let (mut json, mut sse, mut any_field) = (false, false, false);
    for value in head.headers_named_str(Field::Accept) {
        any_field = true;
        let Some(value) = value else {
            continue;
        };
        if USUAL_JSON_AND_SSE.contains(&value) {
            // Both admitted by this one value, whatever any other `Accept` line says.
            return true;
        }
        for media in media_ranges(value) {
            if media == "*/*" {
                return true;
            }
            json |= media.eq_ignore_ascii_case("application/json")
                || media.eq_ignore_ascii_case("application/*");
            sse |= media.eq_ignore_ascii_case("text/event-stream")
                || media.eq_ignore_ascii_case("text/*");
        }
    }
    (json && sse) || !any_field
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trim_is_str_trim() {
        for text in [
            "",
            " ",
            "a",
            "application/json",
            " application/json",
            "application/json\t",
            "\u{a0}x\u{a0}",
            "x\u{2003}",
            "\u{85}x",
            "caf\u{e9}",
            "\u{e9}",
            "x\u{b}",
            "\u{c}x",
            "a b",
        ] {
            assert_eq!(trim(text), text.trim(), "{text:?}");
        }
    }

    #[test]
    fn media_type_stops_at_parameters() {
        for (item, media) in [
            ("application/json", "application/json"),
            (" application/json ; charset=utf-8", "application/json"),
            ("application/json;q=1", "application/json"),
            ("text/*,x", "text/*,x"),
            (";x", ""),
            ("", ""),
        ] {
            assert_eq!(media_type(item), media, "{item:?}");
        }
    }
}
