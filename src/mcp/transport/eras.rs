//! `--eras`: which protocol revisions the transport offers and accepts, checked where a request
//! picks its era (MCP versioning; 2026-07-28 `UnsupportedProtocolVersion`).
//!
//! - a handshake-era `MCP-Protocol-Version` header not offered: 400;
//! - `initialize` when no handshake revision is offered: 400 with -32022 listing the offered
//!   ones (what 2026-07-28 asks of a modern-only server); otherwise it is answered with the
//!   offered revision [`Eras::negotiate`] picks, even when the handler named another;
//! - a 2026-07-28 request when 2026-07-28 is not offered: 400 with -32022 listing the offered
//!   revisions. Today's clients in auto mode read that as "fall back to `initialize`" (Python
//!   SDK 2.x `mcp/client/_probe.py`: every error falls back except -32022 whose list holds only
//!   modern revisions; TS SDK 2.x `classifyRpcError`: the same);
//! - the 2024-11-05 HTTP+SSE transport when 2024-11-05 is not offered: 404.

use super::Reply;
use crate::http::{Field, RequestHead};
use crate::mcp::error::{AskedIn, Error};
use crate::mcp::jsonrpc::Id;
use crate::mcp::version::{self, Eras};

/// -32022 naming what is offered, for a `requested` revision that is not.
pub fn unsupported(eras: &Eras, requested: &str) -> Error {
    Error::UnsupportedProtocolVersion {
        requested: requested.to_string(),
        supported: eras.offered().to_vec(),
        asked_in: AskedIn::NotOffered,
    }
}

/// A present `MCP-Protocol-Version` must name an offered handshake revision; absent means
/// 2025-03-26 (checked at `initialize` time instead).
pub fn check_protocol_header(head: &RequestHead, eras: &Eras) -> Option<Reply> {
    check_protocol_value(head.header_str(Field::McpProtocolVersion), head, eras)
}

/// [`check_protocol_header`] with the header's value as text (`header_str`) already read.
pub fn check_protocol_value(
    header: Option<&str>,
    head: &RequestHead,
    eras: &Eras,
) -> Option<Reply> {
    // One lookup when the value is text (always, from a client that follows the spec); a
    // value that is not UTF-8 is present all the same, and refused as "".
    let text = match header {
        Some(text) => super::accept::trim(text),
        None => {
            head.header(Field::McpProtocolVersion)?;
            ""
        }
    };
    if version::is_supported(text) && eras.offers(text) {
        return None;
    }
    let error = Error::UnsupportedProtocolVersion {
        requested: text.to_string(),
        supported: eras.handshake(),
        asked_in: AskedIn::Header,
    };
    Some(error.reply(None))
}

/// The refusal of an `initialize` (request `id`) when no handshake revision is offered.
pub fn refuse_initialize(eras: &Eras, id: Option<Id>, requested: Option<&str>) -> Option<Reply> {
    if !eras.handshake().is_empty() {
        return None;
    }
    Some(unsupported(eras, requested.unwrap_or("")).reply(id))
}

/// The refusal of a 2026-07-28 request (`id`, asking for `requested`) when that is not offered.
pub fn refuse_modern(eras: &Eras, id: Option<Id>, requested: &str) -> Option<Reply> {
    if eras.modern() {
        return None;
    }
    Some(unsupported(eras, requested).reply(id))
}

/// The refusal of the HTTP+SSE transport when 2024-11-05 is not offered.
pub fn refuse_http_sse(eras: &Eras) -> Option<Reply> {
    if eras.offers("2024-11-05") {
        return None;
    }
    Some(Error::TransportNotOffered.reply(None))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_refusal_of_2026_lists_what_is_offered() {
        let eras = Eras::from_list(&["2025-11-25".to_string()]);
        let error = unsupported(&eras, "2026-07-28").object();
        assert_eq!(error.code, -32022);
        assert_eq!(
            error.data,
            Some(json!({"supported": ["2025-11-25"], "requested": "2026-07-28"}))
        );
        assert!(refuse_modern(&eras, None, "2026-07-28").is_some());
        assert!(refuse_modern(&Eras::default(), None, "2026-07-28").is_none());
        assert!(refuse_http_sse(&eras).is_some());
        assert!(refuse_initialize(&eras, None, None).is_none());
        let modern_only = Eras::from_list(&["2026-07-28".to_string()]);
        assert_eq!(
            refuse_initialize(&modern_only, None, None).unwrap().status,
            400
        );
    }
}
