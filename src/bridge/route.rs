//! Id and progress-token rewriting between clients and one child (MCP basic, "Requests";
//! utilities/progress; utilities/cancellation).
//!
//! Every client request gets a fresh integer id on its way into the child, and a
//! `_meta.progressToken` a fresh integer token; the originals are restored on the way out. So
//! two sessions sharing a child may use equal ids and equal tokens and still get only their own
//! answers and progress. The child's own requests to a client get an [`OutgoingId`] of that
//! session; the client's answer is written back under the child's original id.
//!
//! Not here: which session a message without an id belongs to (the [`super::Bridge`] decides),
//! framing, or the child's lifecycle.

use crate::mcp::jsonrpc::{ErrorObject, Id, Message, Params};
use crate::mcp::{OutgoingId, RequestHandle, SessionKey};
use serde_json::Value;
use std::collections::HashMap;

/// Who is waiting for a child's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A client request, answered through the transport.
    Client {
        /// Its session.
        session: SessionKey,
        /// The transport's handle for it.
        request: RequestHandle,
    },
    /// mcpd's own `initialize` of the shared (or stateless) child.
    Initialize,
    /// mcpd's own `tools/list` of that child (for the `Mcp-Param-*` check).
    ListTools,
    /// mcpd's own `server/discover` of that child (see [`super::era`]); `refresh`: the era is
    /// known and only the cached answer is renewed.
    Probe {
        /// Whether this renews a known answer.
        refresh: bool,
    },
    /// A client request whose 2026 answer was `input_required`: it waits in the child for the
    /// client's retry (see the bridge's `translate.rs`), which [`Routes::resume`] binds it to.
    Parked,
    /// mcpd's own request whose answer nobody needs (`logging/setLevel`,
    /// `resources/subscribe`).
    Internal,
}

/// Where a `notifications/progress` of the child goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgressTo {
    /// To this request of this session (its client's token restored).
    Request(SessionKey, RequestHandle),
    /// The request is parked (child-side id): no client request to carry it until the retry
    /// comes, so the translator holds it (the token is left as the child sent it).
    Parked(u64),
}

/// A progress token mcpd gave the child.
#[derive(Clone, Debug)]
struct TokenRoute {
    /// The request it reports on; `None` while parked.
    to: Option<(SessionKey, RequestHandle)>,
    /// The client's own token.
    original: Value,
    /// The child-side id of the request.
    id: u64,
}

#[derive(Clone, Debug)]
struct Pending {
    origin: Origin,
    token: Option<u64>,
}

/// The routing tables of one child.
#[derive(Debug, Default)]
pub struct Routes {
    next_id: u64,
    pending: HashMap<u64, Pending>,
    by_request: HashMap<RequestHandle, u64>,
    next_token: u64,
    tokens: HashMap<u64, TokenRoute>,
    asked: HashMap<(SessionKey, OutgoingId), Id>,
}

impl Routes {
    /// A request for the child with a fresh id (and progress token), as one JSON line.
    pub fn request(&mut self, origin: Origin, method: &str, mut params: Option<Params>) -> Vec<u8> {
        self.next_id += 1;
        let id = self.next_id;
        let mut token = None;
        if let Origin::Client { session, request } = origin {
            self.by_request.insert(request, id);
            // Only a progress token is rewritten. Params that may hold one (a `_meta`, or any
            // `\u` escape, which could spell it) go through a `Value`, which keeps the last of a
            // repeated key as the child is then sure to see; the rest go as they came.
            let tokened = params.take_if(|p| {
                let text = p.as_str();
                text.contains("_meta") || text.contains("\\u")
            });
            if let Some(tokened) = tokened {
                let mut value = tokened.into_value();
                let meta = value.get_mut("_meta").and_then(Value::as_object_mut);
                if let Some(meta) = meta.filter(|m| m.contains_key("progressToken")) {
                    self.next_token += 1;
                    let ours = self.next_token;
                    let original = meta.insert("progressToken".into(), Value::from(ours));
                    let route = TokenRoute {
                        to: Some((session, request)),
                        original: original.unwrap_or(Value::Null),
                        id,
                    };
                    self.tokens.insert(ours, route);
                    token = Some(ours);
                }
                params = Some(value.into());
            }
        }
        self.pending.insert(id, Pending { origin, token });
        let message = Message::Request {
            id: Id::from(id),
            method: method.to_string(),
            params,
        };
        message.to_json().into_bytes()
    }

    /// The child answered `id`: who asked, and the route is forgotten.
    pub fn answer(&mut self, id: &Id) -> Option<Origin> {
        let Id::Number(n) = id else { return None };
        let pending = self.pending.remove(&n.as_u64()?)?;
        self.forget(&pending);
        Some(pending.origin)
    }

    /// A `notifications/progress` from the child: where it goes; for a request, the client's
    /// token is restored in `params`.
    pub fn progress(&self, params: &mut Value) -> Option<ProgressTo> {
        let ours = params.get("progressToken")?.as_u64()?;
        let route = self.tokens.get(&ours)?;
        let Some((session, request)) = route.to else {
            return Some(ProgressTo::Parked(route.id));
        };
        params["progressToken"] = route.original.clone();
        Some(ProgressTo::Request(session, request))
    }

    /// The client cancelled `request`: the `notifications/cancelled` line for the child, if the
    /// request is still in flight there.
    pub fn cancel(&mut self, request: RequestHandle) -> Option<Vec<u8>> {
        self.cancel_because(request, "cancelled by the client")
    }

    /// As [`Routes::cancel`], with the `reason` the child is told (mcpd gave up waiting).
    pub fn cancel_because(&mut self, request: RequestHandle, reason: &str) -> Option<Vec<u8>> {
        let id = self.by_request.remove(&request)?;
        if let Some(pending) = self.pending.remove(&id) {
            self.forget(&pending);
        }
        Some(cancelled_line(id, reason))
    }

    /// Client `request` waits for its client's retry: its route is kept, bound to no request
    /// (its progress is [`ProgressTo::Parked`] until [`Routes::resume`]). Returns the
    /// child-side id (`None`: not in flight).
    pub fn park(&mut self, request: RequestHandle) -> Option<u64> {
        let id = self.by_request.remove(&request)?;
        let pending = self.pending.get_mut(&id)?;
        pending.origin = Origin::Parked;
        if let Some(route) = pending.token.and_then(|t| self.tokens.get_mut(&t)) {
            route.to = None;
        }
        Some(id)
    }

    /// The retry `request` of `session` takes over parked child-side request `id`: its answer
    /// and progress go to the retry (progress under `token`, the retry's own, if it has one).
    pub fn resume(
        &mut self,
        id: u64,
        session: SessionKey,
        request: RequestHandle,
        token: Option<Value>,
    ) -> bool {
        let Some(pending) = self.pending.get_mut(&id) else {
            return false;
        };
        if pending.origin != Origin::Parked {
            return false;
        }
        pending.origin = Origin::Client { session, request };
        self.by_request.insert(request, id);
        if let Some(ours) = pending.token {
            match token {
                Some(original) => {
                    let route = TokenRoute {
                        to: Some((session, request)),
                        original,
                        id,
                    };
                    self.tokens.insert(ours, route);
                }
                None => {
                    self.tokens.remove(&ours);
                    pending.token = None;
                }
            }
        }
        true
    }

    /// Forgets parked request `id` (its client never retried): the line that cancels it.
    pub fn drop_parked(&mut self, id: u64) -> Option<Vec<u8>> {
        if self.pending.get(&id)?.origin != Origin::Parked {
            return None;
        }
        let pending = self.pending.remove(&id)?;
        self.forget(&pending);
        Some(cancelled_line(id, "the client did not retry in time"))
    }

    /// Client requests in flight, in no particular order.
    pub fn in_flight(&self) -> impl Iterator<Item = (SessionKey, RequestHandle)> + '_ {
        self.pending.values().filter_map(|p| match p.origin {
            Origin::Client { session, request } => Some((session, request)),
            _ => None,
        })
    }

    /// Everything still waiting for the child (it died): the routes are emptied.
    pub fn take_pending(&mut self) -> Vec<Origin> {
        let mut ids: Vec<u64> = self.pending.keys().copied().collect();
        ids.sort_unstable();
        let origins = ids
            .iter()
            .filter_map(|id| self.pending.get(id).map(|p| p.origin))
            .collect();
        self.pending.clear();
        self.by_request.clear();
        self.tokens.clear();
        origins
    }

    /// Remembers a child's request sent to `session` as `ours`.
    pub fn asked(&mut self, session: SessionKey, ours: OutgoingId, child_id: Id) {
        self.asked.insert((session, ours), child_id);
    }

    /// The client of `session` answered `ours`: the response line for the child.
    pub fn client_answer(
        &mut self,
        session: SessionKey,
        ours: OutgoingId,
        outcome: Result<Value, ErrorObject>,
    ) -> Option<Vec<u8>> {
        let id = self.asked.remove(&(session, ours))?;
        Some(response_line(id, outcome))
    }

    /// The child cancelled its own request `child_id`: which session and id the client knows.
    pub fn asked_by_child(&mut self, child_id: &Id) -> Option<(SessionKey, OutgoingId)> {
        let key = *self.asked.iter().find(|(_, id)| *id == child_id)?.0;
        self.asked.remove(&key);
        Some(key)
    }

    /// `session` ended: the lines that tell the child (its requests cancelled, its own requests
    /// to that client failed), and the routes are forgotten.
    pub fn session_ended(&mut self, session: SessionKey) -> Vec<Vec<u8>> {
        let mut lines = Vec::new();
        let mut ids: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| matches!(p.origin, Origin::Client { session: s, .. } if s == session))
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        for id in ids {
            if let Some(pending) = self.pending.remove(&id) {
                self.forget(&pending);
            }
            lines.push(cancelled_line(id, "the client's session ended"));
        }
        let mut asked: Vec<(SessionKey, OutgoingId)> = self
            .asked
            .keys()
            .filter(|(s, _)| *s == session)
            .copied()
            .collect();
        asked.sort_unstable();
        for key in asked {
            if let Some(id) = self.asked.remove(&key) {
                let error = ErrorObject::new(
                    crate::mcp::jsonrpc::INTERNAL_ERROR,
                    "the client's session ended before it answered",
                );
                lines.push(response_line(id, Err(error)));
            }
        }
        lines
    }

    fn forget(&mut self, pending: &Pending) {
        if let Origin::Client { request, .. } = pending.origin {
            self.by_request.remove(&request);
        }
        if let Some(token) = pending.token {
            self.tokens.remove(&token);
        }
    }
}

/// A response (or error) to the child's request `id`, as one JSON line.
pub fn response_line(id: Id, outcome: Result<Value, ErrorObject>) -> Vec<u8> {
    let message = match outcome {
        Ok(result) => Message::Response { id, result },
        Err(error) => Message::Error {
            id: Some(id),
            error,
        },
    };
    message.to_json().into_bytes()
}

/// A notification as one JSON line.
pub fn notification_line(method: &str, params: Option<Params>) -> Vec<u8> {
    let message = Message::Notification {
        method: method.to_string(),
        params,
    };
    message.to_json().into_bytes()
}

fn cancelled_line(id: u64, reason: &str) -> Vec<u8> {
    notification_line(
        "notifications/cancelled",
        Some(serde_json::json!({"requestId": id, "reason": reason}).into()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn client(session: u64, request: u64) -> Origin {
        Origin::Client {
            session: SessionKey(session),
            request: RequestHandle(request),
        }
    }

    fn parse(line: &[u8]) -> Value {
        serde_json::from_slice(line).unwrap()
    }

    #[test]
    fn ids_are_fresh_and_answers_find_their_origin() {
        let mut routes = Routes::default();
        let a = parse(&routes.request(client(1, 10), "tools/call", Some(json!({}).into())));
        let b = parse(&routes.request(client(2, 10), "tools/call", None));
        assert_ne!(a["id"], b["id"]);
        let b_id = Id::from_value(&b["id"]).unwrap();
        assert_eq!(routes.answer(&b_id), Some(client(2, 10)));
        assert_eq!(routes.answer(&b_id), None, "answered once");
        assert_eq!(routes.answer(&Id::String("1".into())), None);
    }

    #[test]
    fn equal_progress_tokens_of_two_sessions_stay_apart() {
        let mut routes = Routes::default();
        let params = json!({"name": "x", "_meta": {"progressToken": "p"}});
        let a = parse(&routes.request(client(1, 1), "tools/call", Some(params.clone().into())));
        let b = parse(&routes.request(client(2, 2), "tools/call", Some(params.into())));
        let (ta, tb) = (
            &a["params"]["_meta"]["progressToken"],
            &b["params"]["_meta"]["progressToken"],
        );
        assert_ne!(ta, tb);
        let mut note = json!({"progressToken": tb, "progress": 1});
        assert_eq!(
            routes.progress(&mut note),
            Some(ProgressTo::Request(SessionKey(2), RequestHandle(2)))
        );
        assert_eq!(note["progressToken"], "p");
        routes.answer(&Id::from_value(&b["id"]).unwrap());
        let mut late = json!({"progressToken": tb});
        assert_eq!(
            routes.progress(&mut late),
            None,
            "token retired with its request"
        );
    }

    #[test]
    fn cancel_names_the_child_side_id_once() {
        let mut routes = Routes::default();
        let a = parse(&routes.request(client(1, 5), "tools/call", None));
        let line = parse(&routes.cancel(RequestHandle(5)).unwrap());
        assert_eq!(line["method"], "notifications/cancelled");
        assert_eq!(line["params"]["requestId"], a["id"]);
        assert_eq!(routes.cancel(RequestHandle(5)), None);
        assert_eq!(routes.in_flight().count(), 0);
    }

    #[test]
    fn child_requests_round_trip_and_fail_when_the_session_ends() {
        let mut routes = Routes::default();
        routes.asked(SessionKey(1), OutgoingId(1), Id::from(0));
        routes.asked(SessionKey(2), OutgoingId(1), Id::String("s".into()));
        let back = parse(
            &routes
                .client_answer(SessionKey(1), OutgoingId(1), Ok(json!({"ok": 1})))
                .unwrap(),
        );
        assert_eq!(back["id"], 0);
        assert_eq!(back["result"], json!({"ok": 1}));
        routes.request(client(2, 9), "tools/call", None);
        let lines: Vec<Value> = routes
            .session_ended(SessionKey(2))
            .iter()
            .map(|l| parse(l))
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["method"], "notifications/cancelled");
        assert_eq!(lines[1]["id"], "s");
        assert!(lines[1]["error"].is_object());
        assert_eq!(routes.in_flight().count(), 0);
    }

    /// Params as they arrive from a client: read from the body's text.
    fn arrived(params: &str) -> Params {
        let body = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{params}}}"#);
        match crate::mcp::jsonrpc::parse_body(body.as_bytes()) {
            Ok(crate::mcp::jsonrpc::Body::Single(Ok(Message::Request {
                params: Some(params),
                ..
            }))) => params,
            other => panic!("{params}: {other:?}"),
        }
    }

    #[test]
    fn params_go_to_the_child_as_they_came_unless_a_progress_token_may_be_in_them() {
        let mut routes = Routes::default();
        let text = |line: &[u8]| String::from_utf8(line.to_vec()).unwrap();
        // No `_meta`: the text as written, member order, spacing and duplicates included.
        let plain = r#"{"name": "echo", "arguments":{"message":"-0 1.50 \/"},"name":"echo"}"#;
        let line = text(&routes.request(client(1, 1), "tools/call", Some(arrived(plain))));
        assert!(line.ends_with(&format!(r#""params":{plain}}}"#)), "{line}");
        // A `_meta` without a token gets none.
        let line = parse(&routes.request(
            client(1, 2),
            "tools/call",
            Some(arrived(r#"{"_meta":{"x":1},"name":"echo"}"#)),
        ));
        assert_eq!(line["params"]["_meta"], json!({"x": 1}));
        // A token in an earlier `_meta` than the last: the child sees the last one, as a
        // parsed object keeps it, so no client token reaches it unrewritten.
        let line = text(&routes.request(
            client(1, 3),
            "tools/call",
            Some(arrived(r#"{"_meta":{"progressToken":5},"_meta":{}}"#)),
        ));
        assert!(line.ends_with(r#""params":{"_meta":{}}}"#), "{line}");
        // A key spelled with an escape is the same key: rewritten.
        let line = parse(&routes.request(
            client(1, 4),
            "tools/call",
            Some(arrived(r#"{"_meta":{"progress\u0054oken":5}}"#)),
        ));
        let ours = &line["params"]["_meta"]["progressToken"];
        assert!(ours.is_u64() && *ours != json!(5), "{line}");
    }

    #[test]
    fn a_parked_request_is_answered_to_the_retry_that_resumes_it() {
        let mut routes = Routes::default();
        let line = parse(&routes.request(
            client(1, 10),
            "tools/call",
            Some(json!({"_meta": {"progressToken": "a"}}).into()),
        ));
        let id = routes.park(RequestHandle(10)).unwrap();
        assert_eq!(Some(Value::from(id)), Some(line["id"].clone()));
        assert_eq!(routes.in_flight().count(), 0, "bound to no request");
        assert!(
            routes.session_ended(SessionKey(1)).is_empty(),
            "survives its session"
        );
        let mut parked = json!({"progressToken": line["params"]["_meta"]["progressToken"]});
        assert_eq!(
            routes.progress(&mut parked),
            Some(ProgressTo::Parked(id)),
            "held, not sent to the answered request"
        );
        assert!(routes.resume(id, SessionKey(2), RequestHandle(20), Some(json!("b"))));
        assert!(
            !routes.resume(id, SessionKey(3), RequestHandle(30), None),
            "once"
        );
        let mut progress = json!({"progressToken": line["params"]["_meta"]["progressToken"]});
        assert_eq!(
            routes.progress(&mut progress),
            Some(ProgressTo::Request(SessionKey(2), RequestHandle(20)))
        );
        assert_eq!(progress["progressToken"], "b");
        assert_eq!(routes.answer(&Id::from(id)), Some(client(2, 20)));
        routes.request(client(1, 11), "tools/call", None);
        let other = routes.park(RequestHandle(11)).unwrap();
        assert!(routes.drop_parked(other).is_some());
        assert_eq!(routes.answer(&Id::from(other)), None);
    }
}
