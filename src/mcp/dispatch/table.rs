//! The request table: every client request in flight (its handle, session, JSON-RPC id and
//! method) and every request we sent a client, with the per-session caps. One table for every
//! transport, so the caps are the same everywhere.

use crate::idmap::{IdMap, IdSet};
use crate::mcp::handler::{OutgoingId, RequestHandle, SessionKey};
use crate::mcp::jsonrpc::{self, ErrorObject, Id};
use std::borrow::Cow;

/// The methods clients call most, kept as static text rather than copied per request.
const COMMON_METHODS: [&str; 15] = [
    "tools/call",
    "tools/list",
    "initialize",
    "ping",
    "resources/list",
    "resources/read",
    "resources/templates/list",
    "resources/subscribe",
    "resources/unsubscribe",
    "prompts/list",
    "prompts/get",
    "completion/complete",
    "logging/setLevel",
    "server/discover",
    "subscriptions/listen",
];

/// `method` as static text when it is one of [`COMMON_METHODS`], else a copy.
fn interned(method: &str) -> Cow<'static, str> {
    match COMMON_METHODS.iter().find(|common| **common == method) {
        Some(common) => Cow::Borrowed(common),
        None => Cow::Owned(method.to_string()),
    }
}

/// A client request in flight.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct InFlight {
    /// The session it belongs to.
    pub session: SessionKey,
    /// The id the client gave it, echoed on the answer.
    pub client_id: Id,
    /// Its method (stateless results are completed per method); the methods of the
    /// specification are not copied ([`interned`]).
    pub method: Cow<'static, str>,
    /// Where the transport answers it (Streamable HTTP: the stream number; stdio: 0).
    pub route: u32,
}

/// What one session has in flight: its client requests (an index into the table, so closing
/// a session, finding a request by id and listing a session's requests touch only its own)
/// and the ids of its requests to the client.
#[derive(Default)]
struct PerSession {
    /// Its client requests in flight; as many as `pending`, at most the pending cap.
    requests: Vec<RequestHandle>,
    outgoing: IdSet<u64>,
}

/// Requests in flight both ways. A session's counts live from its first request until
/// [`Table::close`], so the table is bounded by the live sessions (every transport closes the
/// sessions it ends through the dispatcher).
pub(super) struct Table {
    requests: IdMap<RequestHandle, InFlight>,
    sessions: IdMap<SessionKey, PerSession>,
    next_handle: u64,
    caps: Caps,
    /// Entries of `requests` looked at by `find` and `close` (tests check they stay within
    /// the session's own).
    #[cfg(test)]
    looked_at: std::cell::Cell<usize>,
}

/// The per-session caps of the request table, from [`crate::config::Limits`]
/// (`max_pending_per_session`, `max_outgoing_per_session`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Caps {
    /// Client requests in flight in one session.
    pub pending: usize,
    /// Requests to the client awaiting answers in one session.
    pub outgoing: usize,
}

impl Caps {
    /// The caps `limits` sets.
    pub(crate) fn of(limits: &crate::config::Limits) -> Caps {
        Caps {
            pending: limits.max_pending_per_session,
            outgoing: limits.max_outgoing_per_session,
        }
    }
}

impl Table {
    pub(super) fn new(caps: Caps) -> Table {
        Table {
            requests: IdMap::default(),
            sessions: IdMap::default(),
            next_handle: 1,
            caps,
            #[cfg(test)]
            looked_at: std::cell::Cell::new(0),
        }
    }

    pub(super) fn max_pending(&self) -> usize {
        self.caps.pending
    }

    pub(super) fn len(&self) -> usize {
        self.requests.len()
    }

    pub(super) fn pending_in(&self, session: SessionKey) -> usize {
        self.sessions.get(&session).map_or(0, |s| s.requests.len())
    }

    pub(super) fn has_room(&self, session: SessionKey, n: usize) -> bool {
        self.pending_in(session) + n <= self.caps.pending
    }

    pub(super) fn track(
        &mut self,
        session: SessionKey,
        client_id: Id,
        method: &str,
        route: u32,
    ) -> RequestHandle {
        let handle = RequestHandle(self.next_handle);
        self.next_handle += 1;
        self.sessions
            .entry(session)
            .or_default()
            .requests
            .push(handle);
        let method = interned(method);
        let entry = InFlight {
            session,
            client_id,
            method,
            route,
        };
        self.requests.insert(handle, entry);
        handle
    }

    pub(super) fn get(&self, request: RequestHandle) -> Option<&InFlight> {
        self.requests.get(&request)
    }

    pub(super) fn finish(&mut self, request: RequestHandle) -> Option<InFlight> {
        let entry = self.requests.remove(&request)?;
        // The session's entry stays until it closes: no map churn per request.
        if let Some(mine) = self.sessions.get_mut(&entry.session) {
            if let Some(at) = mine.requests.iter().position(|h| *h == request) {
                mine.requests.swap_remove(at);
            }
        }
        Some(entry)
    }

    pub(super) fn of_session(&self, session: SessionKey) -> Vec<RequestHandle> {
        let mine = self.sessions.get(&session);
        mine.map(|s| s.requests.clone()).unwrap_or_default()
    }

    /// The oldest request in flight of `session` with client id `id`.
    pub(super) fn find(&self, session: SessionKey, id: &Id) -> Option<RequestHandle> {
        let mine = self.sessions.get(&session)?;
        let matching = mine.requests.iter().copied().filter(|h| {
            #[cfg(test)]
            self.looked_at.set(self.looked_at.get() + 1);
            self.requests
                .get(h)
                .is_some_and(|r| r.session == session && r.client_id == *id)
        });
        matching.min()
    }

    pub(super) fn sent(&mut self, session: SessionKey, id: OutgoingId) -> Result<(), ErrorObject> {
        let counts = self.sessions.entry(session).or_default();
        if counts.outgoing.len() >= self.caps.outgoing {
            let message = format!(
                "too many requests to the client in flight ({})",
                self.caps.outgoing
            );
            return Err(ErrorObject::new(jsonrpc::SERVER_ERROR, message));
        }
        counts.outgoing.insert(id.0);
        Ok(())
    }

    /// The id of ours `id` answers, forgotten now; `None` for ids we never sent.
    pub(super) fn answered(&mut self, session: SessionKey, id: &Id) -> Option<OutgoingId> {
        let Id::Number(n) = id else { return None };
        let n = n.as_u64()?;
        let counts = self.sessions.get_mut(&session)?;
        if !counts.outgoing.remove(&n) {
            return None;
        }
        Some(OutgoingId(n))
    }

    pub(super) fn close(&mut self, session: SessionKey) {
        let Some(mine) = self.sessions.remove(&session) else {
            return;
        };
        for handle in mine.requests {
            #[cfg(test)]
            self.looked_at.set(self.looked_at.get() + 1);
            self.requests.remove(&handle);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pending_cap_is_per_session_and_answers_free_room() {
        let mut t = Table::new(Caps {
            pending: 2,
            outgoing: 4,
        });
        let (a, b) = (SessionKey(1), SessionKey(2));
        let first = t.track(a, Id::from(1), "x", 0);
        t.track(a, Id::from(2), "x", 0);
        assert!(!t.has_room(a, 1));
        assert!(t.has_room(b, 2));
        assert!(t.find(a, &Id::from(2)).is_some());
        assert_eq!(t.finish(first).map(|r| r.method), Some("x".into()));
        assert!(t.has_room(a, 1));
        t.close(a);
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn finding_closing_and_listing_touch_only_the_sessions_own_requests() {
        let mut t = Table::new(Caps {
            pending: 4,
            outgoing: 4,
        });
        // Many sessions with a request in flight each, as under stateless load.
        for n in 0..1000 {
            t.track(SessionKey(100 + n), Id::from(1), "tools/call", 0);
        }
        let s = SessionKey(1);
        let first = t.track(s, Id::from(7), "tools/call", 0);
        let second = t.track(s, Id::from(8), "tools/call", 0);
        t.track(s, Id::from(7), "tools/call", 0);
        t.looked_at.set(0);
        assert_eq!(
            t.find(s, &Id::from(7)),
            Some(first),
            "the oldest of equal ids"
        );
        assert_eq!(t.find(s, &Id::from(9)), None);
        assert_eq!(t.find(SessionKey(2), &Id::from(1)), None);
        assert!(t.looked_at.get() <= 6, "{} looked at", t.looked_at.get());
        assert_eq!(t.of_session(s).len(), 3);
        assert_eq!(t.finish(second).map(|r| r.client_id), Some(Id::from(8)));
        assert_eq!(t.pending_in(s), 2);
        t.looked_at.set(0);
        t.close(s);
        assert_eq!(t.looked_at.get(), 2, "only its own two requests");
        assert_eq!(t.len(), 1000);
        assert_eq!(t.sessions.len(), 1000, "the closed session's entry is gone");
        assert!(t.of_session(s).is_empty() && t.get(first).is_none());
    }

    #[test]
    fn common_methods_are_not_copied_and_others_are_kept_as_sent() {
        let mut t = Table::new(Caps {
            pending: 4,
            outgoing: 4,
        });
        let s = SessionKey(1);
        let call = t.track(s, Id::from(1), "tools/call", 0);
        let odd = t.track(s, Id::from(2), "x/tools/call", 0);
        let near = t.track(s, Id::from(3), "tools/Call", 0);
        let method = |t: &Table, h| t.get(h).map(|r| r.method.clone());
        assert!(matches!(
            method(&t, call),
            Some(Cow::Borrowed("tools/call"))
        ));
        assert!(matches!(method(&t, odd), Some(Cow::Owned(m)) if m == "x/tools/call"));
        assert!(matches!(method(&t, near), Some(Cow::Owned(m)) if m == "tools/Call"));
        assert!(COMMON_METHODS.iter().all(|m| interned(m) == *m));
    }

    #[test]
    fn outgoing_ids_are_capped_and_answered_once_in_their_own_session() {
        let mut t = Table::new(Caps {
            pending: 1,
            outgoing: 4,
        });
        let s = SessionKey(1);
        for n in 0..4 {
            t.sent(s, OutgoingId(n)).unwrap();
        }
        assert!(t.sent(s, OutgoingId(999)).is_err());
        assert_eq!(t.answered(SessionKey(2), &Id::from(3)), None);
        assert_eq!(t.answered(s, &Id::from(3)), Some(OutgoingId(3)));
        assert_eq!(t.answered(s, &Id::from(3)), None);
        assert_eq!(t.answered(s, &Id::String("3".into())), None);
    }
}
