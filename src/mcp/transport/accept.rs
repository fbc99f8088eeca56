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
    for value in head.headers_named(Field::Accept) {
        any_field = true;
        let Ok(value) = std::str::from_utf8(value) else {
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
        let media = match item.bytes().position(|b| b == b';') {
            Some(semicolon) => item.get(..semicolon)?,
            None => item,
        };
        Some(media.trim())
    })
}

/// Whether `Accept` admits both JSON and SSE, as a POST needs: [`accepts`] for each in one pass.
pub(super) fn accepts_json_and_sse(head: &RequestHead) -> bool {
    let (mut json, mut sse, mut any_field) = (false, false, false);
    for value in head.headers_named(Field::Accept) {
        any_field = true;
        let Ok(value) = std::str::from_utf8(value) else {
            continue;
        };
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
