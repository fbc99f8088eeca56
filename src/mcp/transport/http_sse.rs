//! The 2024-11-05 HTTP+SSE transport (MCP 2024-11-05 `basic/transports`, "HTTP with SSE"),
//! deprecated since 2025-03-26 but still what older clients and fallbacks speak.
//!
//! A GET on the SSE path opens a stream whose first event, `endpoint`, names the URL to POST
//! messages to (same origin, relative, carrying the session id). Every POST there is answered
//! 202; replies and server messages travel as `message` events on the stream. Each stream is
//! its own session, and the session ends when its connection closes.

use super::{accepts, json_body, Accept, Reply, ReplyBody, Transport};
use crate::http::RequestHead;
use crate::mcp::error::Error;
use crate::mcp::handler::{Handler, SessionView};
use crate::mcp::jsonrpc::{Body, Message};
use crate::mcp::transport::session::{ConnId, Lifecycle, SessionKind, STANDALONE};
use crate::sse;
use std::time::Instant;

impl<H: Handler + ?Sized> Transport<H> {
    /// GET on the SSE path: a new session and its stream, announced by the `endpoint` event.
    pub fn open_http_sse(
        &mut self,
        conn: ConnId,
        head: &RequestHead,
        messages_path: &str,
        now: Instant,
    ) -> Reply {
        if let Some(reply) = super::eras::refuse_http_sse(&self.settings.eras) {
            return reply;
        }
        if !accepts(head, Accept::Sse) {
            return Error::NotAcceptable("text/event-stream").reply(None);
        }
        let view = SessionView {
            protocol_version: "2024-11-05".into(),
            ..SessionView::default()
        };
        let kind = SessionKind::HttpSse(Lifecycle::Initializing);
        let (key, id) = match self.open_session(kind, view, None, now) {
            Ok(opened) => opened,
            Err(reply) => return reply,
        };
        self.attached.attach(conn, key, STANDALONE);
        let endpoint = format!("{messages_path}?sessionId={id}");
        let mut initial = Vec::new();
        let event = sse::Event {
            id: None,
            event: Some("endpoint"),
            retry: None,
            data: &endpoint,
        };
        sse::encode_event(&event, &mut initial);
        Reply::stream(initial, false)
    }

    /// POST on the messages path: 202, and the answers go out on the session's stream.
    pub fn post_http_sse(&mut self, head: &RequestHead, body: &[u8], now: Instant) -> Reply {
        if let Some(reply) = super::eras::refuse_http_sse(&self.settings.eras) {
            return reply;
        }
        let Some(id) = session_id_param(head.query()) else {
            return Error::SessionIdRequired("the sessionId query parameter").reply(None);
        };
        let key = match self.by_id.get(id).copied() {
            Some(key)
                if self
                    .sessions
                    .get(&key)
                    .is_some_and(|s| s.kind.is_http_sse()) =>
            {
                key
            }
            _ => return Error::UnknownSession.reply(None),
        };
        let items = match json_body(head, body) {
            Ok(Body::Single(item)) => vec![item],
            Ok(Body::Batch(items)) if !items.is_empty() => items,
            Ok(Body::Batch(_)) => return Error::InvalidRequest("empty batch").reply(None),
            Err(reply) => return reply,
        };
        if let Some(session) = self.sessions.get_mut(&key) {
            session.last_activity = now;
        }
        for item in items {
            // An earlier item may have ended the session (its backend did): the rest has
            // nowhere to go and must not reach the handler after `session_closed`.
            if !self.sessions.contains_key(&key) {
                break;
            }
            match item {
                Ok(Message::Request { id, method, params }) => {
                    if !self.dispatcher.has_room(key, 1) {
                        let error = Error::TooManyRequests(self.dispatcher.max_pending());
                        let message = Message::Error {
                            id: Some(id),
                            error: error.object(),
                        };
                        self.deliver(key, STANDALONE, message.to_json(), false);
                        continue;
                    }
                    let handle = self.dispatcher.track(key, id, &method, STANDALONE);
                    if let Some(session) = self.sessions.get_mut(&key) {
                        if method == "initialize" {
                            fill_view(&mut session.view, params.as_deref());
                        }
                    }
                    self.call_request(key, handle, &method, params, now);
                }
                Ok(other) => self.dispatch_other(key, other, now),
                Err(invalid) => {
                    let message = Message::Error {
                        id: invalid.id.clone(),
                        error: invalid.to_error(),
                    };
                    self.deliver(key, STANDALONE, message.to_json(), false);
                }
            }
        }
        Reply {
            status: 202,
            headers: Vec::new(),
            body: ReplyBody::Empty,
        }
    }
}

/// The session's view from its `initialize` params: the session exists from the GET, but what
/// the client declares (capabilities, clientInfo, revision) arrives only now, and the handler
/// (sampling, elicitation, roots; the bridge's members) reads it from the view.
fn fill_view(view: &mut SessionView, params: Option<&serde_json::Value>) {
    let Some(params) = params else {
        return;
    };
    if let Some(capabilities) = params.get("capabilities") {
        view.client_capabilities = capabilities.clone();
    }
    if let Some(info) = params.get("clientInfo") {
        view.client_info = info.clone();
    }
}

/// The `sessionId` of a query string (our ids are UUIDs: no percent-decoding needed).
fn session_id_param(query: Option<&str>) -> Option<&str> {
    query?
        .split('&')
        .find_map(|pair| pair.strip_prefix("sessionId="))
        .filter(|id| !id.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_id_is_read_from_the_query() {
        assert_eq!(session_id_param(Some("sessionId=abc")), Some("abc"));
        assert_eq!(session_id_param(Some("x=1&sessionId=abc&y=2")), Some("abc"));
        assert_eq!(session_id_param(Some("sessionId=")), None);
        assert_eq!(session_id_param(Some("session=abc")), None);
        assert_eq!(session_id_param(None), None);
    }
}
