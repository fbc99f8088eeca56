//! Which connection carries which stream: one table that answers both ways.
//!
//! A connection carries at most one stream (the answer of the request it is waiting on, or the
//! event stream it opened), and a stream is on at most one connection. Both directions live in
//! [`Attachments`], and every change goes through a method that updates both, so a lookup from
//! either side always agrees with the other. A stream without an entry is detached: its events
//! wait in its replay buffer for a client that resumes.
//!
//! The server's connection phase (`server::Conn.phase`) is the connection's own HTTP state
//! (reading, waiting for a deferred answer, streaming, closing); it does not say which stream,
//! and this table does not say how the connection frames its bytes.

use super::session::{ConnId, Stream, StreamNo};
use crate::idmap::IdMap;
use crate::mcp::handler::SessionKey;

/// Where the events of an attached stream go.
#[derive(Debug, PartialEq, Eq)]
pub enum Carrier {
    /// On `conn`, whose HTTP response head is not out yet: events gather in `pending`, written
    /// with the head.
    Opening {
        /// The connection.
        conn: ConnId,
        /// Encoded events (and the priming event) waiting for the head.
        pending: Vec<u8>,
    },
    /// On `conn`, head out: events go straight to it.
    Live(ConnId),
    /// Let go (SSE polling) before its head went out: `pending` still goes out with the reply
    /// being built, which then ends; later events wait for the client to resume.
    Released {
        /// Encoded events that go out with the reply.
        pending: Vec<u8>,
    },
}

impl Carrier {
    /// The connection, if the stream is on one.
    pub fn conn(&self) -> Option<ConnId> {
        match self {
            Carrier::Opening { conn, .. } | Carrier::Live(conn) => Some(*conn),
            Carrier::Released { .. } => None,
        }
    }
}

/// The stream each connection carries and the carrier of each attached stream, kept in step.
///
/// Invariant: `by_conn[c] == (k, n)` exactly when `by_stream[(k, n)]` is on connection `c`.
/// Bounded by the streams of live sessions: every stream that is dropped, and every session
/// that ends, is detached here (sessions own their stream numbers and name them when asked).
#[derive(Debug, Default)]
pub struct Attachments {
    by_conn: IdMap<ConnId, (SessionKey, StreamNo)>,
    by_stream: IdMap<(SessionKey, StreamNo), Carrier>,
}

impl Attachments {
    /// Puts stream `no` of session `key` on `conn`, head out ([`Carrier::Live`]). `conn` leaves
    /// any stream it carried; the connection the stream was on before is returned (to be
    /// closed: a resumption takes the stream over). Attaching a pair that is already attached
    /// changes nothing (an opening head stays pending).
    pub fn attach(&mut self, conn: ConnId, key: SessionKey, no: StreamNo) -> Option<ConnId> {
        if self.by_conn.get(&conn) == Some(&(key, no)) {
            return None;
        }
        self.detach_conn(conn);
        let previous = self
            .by_stream
            .insert((key, no), Carrier::Live(conn))
            .and_then(|old| old.conn());
        if let Some(previous) = previous {
            self.by_conn.remove(&previous);
        }
        self.by_conn.insert(conn, (key, no));
        previous
    }

    /// The response head of the stream is not written yet: events gather in `pending` (the
    /// priming event, if any) until [`Attachments::take_pending`]. A detached stream keeps them
    /// as [`Carrier::Released`], for the reply being built.
    pub fn open(&mut self, key: SessionKey, no: StreamNo, pending: Vec<u8>) {
        let carrier = match self.by_stream.get(&(key, no)).and_then(Carrier::conn) {
            Some(conn) => Carrier::Opening { conn, pending },
            None => Carrier::Released { pending },
        };
        self.by_stream.insert((key, no), carrier);
    }

    /// The bytes waiting for the stream's head, which is now written: an opening stream goes
    /// live, a released one is detached. `None` if nothing was waiting.
    pub fn take_pending(&mut self, key: SessionKey, no: StreamNo) -> Option<Vec<u8>> {
        let entry = self.by_stream.get_mut(&(key, no))?;
        match entry {
            Carrier::Live(_) => None,
            Carrier::Opening { conn, pending } => {
                let pending = std::mem::take(pending);
                *entry = Carrier::Live(*conn);
                Some(pending)
            }
            Carrier::Released { .. } => match self.by_stream.remove(&(key, no)) {
                Some(Carrier::Released { pending }) => Some(pending),
                _ => None,
            },
        }
    }

    /// Whether the stream's head is still to be written (opening or released).
    pub fn is_pending(&self, key: SessionKey, no: StreamNo) -> bool {
        matches!(
            self.by_stream.get(&(key, no)),
            Some(Carrier::Opening { .. } | Carrier::Released { .. })
        )
    }

    /// The connection carrying the stream.
    pub fn conn_of(&self, key: SessionKey, no: StreamNo) -> Option<ConnId> {
        self.by_stream.get(&(key, no)).and_then(Carrier::conn)
    }

    /// The stream `conn` carries.
    pub fn stream_of(&self, conn: ConnId) -> Option<(SessionKey, StreamNo)> {
        self.by_conn.get(&conn).copied()
    }

    /// `conn` carries nothing any more; the stream it carried, now detached.
    pub fn detach_conn(&mut self, conn: ConnId) -> Option<(SessionKey, StreamNo)> {
        let pair = self.by_conn.remove(&conn)?;
        self.by_stream.remove(&pair);
        Some(pair)
    }

    /// The stream is detached (or gone); the connection it was on.
    pub fn detach_stream(&mut self, key: SessionKey, no: StreamNo) -> Option<ConnId> {
        let conn = self.by_stream.remove(&(key, no))?.conn()?;
        self.by_conn.remove(&conn);
        Some(conn)
    }

    /// SSE polling lets the stream's connection go before its answer. Returns the connection
    /// to end now if the head is out; a stream whose head is pending becomes
    /// [`Carrier::Released`] (the reply being built ends it).
    pub fn release(&mut self, key: SessionKey, no: StreamNo) -> Option<ConnId> {
        let entry = self.by_stream.get_mut(&(key, no))?;
        match entry {
            Carrier::Live(conn) => {
                let conn = *conn;
                self.by_stream.remove(&(key, no));
                self.by_conn.remove(&conn);
                Some(conn)
            }
            Carrier::Opening { conn, pending } => {
                let conn = *conn;
                let pending = std::mem::take(pending);
                *entry = Carrier::Released { pending };
                self.by_conn.remove(&conn);
                None
            }
            Carrier::Released { .. } => None,
        }
    }

    /// Detaches the streams `nos` of session `key` (all it has, when it ends); the
    /// connections they were on.
    pub fn detach_session(
        &mut self,
        key: SessionKey,
        nos: impl IntoIterator<Item = StreamNo>,
    ) -> Vec<ConnId> {
        nos.into_iter()
            .filter_map(|no| self.detach_stream(key, no))
            .collect()
    }

    /// The first of the streams `nos` of session `key` that is on a connection. The caller
    /// names the session's streams (it owns them), so no lookup walks other sessions.
    pub fn first_attached(
        &self,
        key: SessionKey,
        nos: impl IntoIterator<Item = StreamNo>,
    ) -> Option<StreamNo> {
        nos.into_iter().find(|&no| self.conn_of(key, no).is_some())
    }

    /// Connections carrying a stream.
    pub fn len(&self) -> usize {
        self.by_conn.len()
    }

    /// Whether no connection carries a stream.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.by_conn.is_empty()
    }

    /// Appends `message` to stream `no` of session `key` as an event (kept for replay either
    /// way); returns the connection and bytes to send now if the stream is live, gathers them
    /// if its head is pending.
    pub fn push_event(
        &mut self,
        key: SessionKey,
        no: StreamNo,
        stream: &mut Stream,
        message: String,
    ) -> Option<(ConnId, Vec<u8>)> {
        let (seq, bytes) = stream.record_event(no, message);
        match self.by_stream.get_mut(&(key, no)) {
            Some(Carrier::Live(conn)) => {
                stream.delivered = seq;
                Some((*conn, bytes))
            }
            Some(Carrier::Opening { pending, .. }) => {
                stream.delivered = seq;
                pending.extend_from_slice(&bytes);
                None
            }
            Some(Carrier::Released { .. }) | None => None,
        }
    }

    /// Panics unless both directions agree (for tests of the transport using this table).
    #[cfg(test)]
    pub(crate) fn assert_consistent(&self) {
        for (conn, pair) in &self.by_conn {
            assert_eq!(
                self.by_stream.get(pair).and_then(Carrier::conn),
                Some(*conn),
                "{conn:?} carries {pair:?}, which is not on it"
            );
        }
        for (pair, carrier) in &self.by_stream {
            if let Some(conn) = carrier.conn() {
                assert_eq!(self.by_conn.get(&conn), Some(pair), "{pair:?} on {conn:?}");
            }
        }
    }

    /// Every stream on a connection (for tests of the transport using this table).
    #[cfg(test)]
    pub(crate) fn attached_streams(&self) -> Vec<(ConnId, SessionKey, StreamNo)> {
        self.by_conn
            .iter()
            .map(|(&conn, &(key, no))| (conn, key, no))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::transport::session::Delivery;

    fn check(a: &Attachments) {
        a.assert_consistent();
    }

    const S1: SessionKey = SessionKey(1);
    const S2: SessionKey = SessionKey(2);

    fn conn(n: u64) -> ConnId {
        ConnId::new(n as u32, 1)
    }

    #[test]
    fn attach_and_detach_keep_both_directions_in_step() {
        let mut a = Attachments::default();
        assert_eq!(a.attach(conn(1), S1, 0), None);
        assert_eq!(a.attach(conn(2), S1, 3), None);
        assert_eq!(a.attach(conn(3), S2, 1), None);
        check(&a);
        assert_eq!(a.len(), 3);
        assert_eq!(a.stream_of(conn(2)), Some((S1, 3)));
        assert_eq!(a.conn_of(S2, 1), Some(conn(3)));
        assert_eq!(a.detach_conn(conn(2)), Some((S1, 3)));
        assert_eq!(a.conn_of(S1, 3), None);
        check(&a);
        assert_eq!(a.detach_stream(S2, 1), Some(conn(3)));
        assert_eq!(a.stream_of(conn(3)), None);
        assert_eq!(a.detach_stream(S2, 1), None);
        assert_eq!(a.detach_conn(conn(3)), None);
        check(&a);
        assert_eq!(a.len(), 1);
    }

    #[test]
    fn a_resumption_takes_the_stream_over_and_a_connection_carries_one_stream() {
        let mut a = Attachments::default();
        a.attach(conn(1), S1, 2);
        // Another connection resumes stream 2: the first one is handed back to be closed.
        assert_eq!(a.attach(conn(2), S1, 2), Some(conn(1)));
        assert_eq!(a.stream_of(conn(1)), None);
        check(&a);
        // Connection 2 moves to another stream: stream 2 is detached.
        assert_eq!(a.attach(conn(2), S1, 0), None);
        assert_eq!(a.conn_of(S1, 2), None);
        check(&a);
        assert_eq!(a.len(), 1);
    }

    #[test]
    fn a_pending_head_gathers_events_until_taken() {
        let mut a = Attachments::default();
        let mut stream = Stream::new(Delivery::Sse, 1024);
        a.attach(conn(1), S1, 1);
        a.open(S1, 1, b"prime\n".to_vec());
        // Attaching again to the same connection keeps the head pending.
        assert_eq!(a.attach(conn(1), S1, 1), None);
        assert!(a.is_pending(S1, 1));
        assert_eq!(a.push_event(S1, 1, &mut stream, "{}".into()), None);
        assert_eq!(stream.delivered, 1);
        let pending = a.take_pending(S1, 1).unwrap();
        assert_eq!(pending, b"prime\nid: 1-1\nevent: message\ndata: {}\n\n");
        assert!(!a.is_pending(S1, 1));
        let sent = a.push_event(S1, 1, &mut stream, "{}".into());
        assert_eq!(sent.map(|(c, _)| c), Some(conn(1)));
        assert_eq!(stream.delivered, 2);
        check(&a);
    }

    #[test]
    fn releasing_ends_a_live_stream_and_keeps_a_pending_head_for_the_reply() {
        let mut a = Attachments::default();
        a.attach(conn(1), S1, 1);
        assert_eq!(a.release(S1, 1), Some(conn(1)));
        assert_eq!(a.stream_of(conn(1)), None);
        check(&a);

        let mut stream = Stream::new(Delivery::Sse, 1024);
        a.attach(conn(2), S1, 2);
        a.open(S1, 2, b"prime\n".to_vec());
        assert_eq!(a.release(S1, 2), None);
        assert_eq!(a.stream_of(conn(2)), None, "the connection is free");
        assert_eq!(a.conn_of(S1, 2), None);
        assert!(a.is_pending(S1, 2));
        // Released: later events are only kept for replay.
        assert_eq!(a.push_event(S1, 2, &mut stream, "{}".into()), None);
        assert_eq!(stream.delivered, 0);
        assert_eq!(a.take_pending(S1, 2), Some(b"prime\n".to_vec()));
        assert!(a.is_empty());
        assert_eq!(a.by_stream.len(), 0);
        check(&a);
    }

    #[test]
    fn a_detached_stream_keeps_events_for_replay_only() {
        let mut a = Attachments::default();
        let mut stream = Stream::new(Delivery::Sse, 1024);
        assert_eq!(a.push_event(S1, 2, &mut stream, "{\"a\":1}".into()), None);
        let mut out = Vec::new();
        stream.replay_after(2, 0, &mut out).unwrap();
        assert_eq!(out, b"id: 2-1\nevent: message\ndata: {\"a\":1}\n\n");
        assert_eq!(stream.delivered, 1);
    }

    #[test]
    fn a_session_is_detached_as_a_whole_and_only_its_own_streams() {
        let mut a = Attachments::default();
        a.attach(conn(1), S1, 0);
        a.attach(conn(2), S1, 4);
        a.open(S1, 5, Vec::new()); // released, no connection
        a.attach(conn(3), S2, 0);
        let s1 = [0, 3, 4, 5];
        assert_eq!(a.first_attached(S1, s1), Some(0));
        assert_eq!(a.first_attached(S1, [3, 5, 4]), Some(4));
        let mut closed = a.detach_session(S1, s1);
        closed.sort();
        assert_eq!(closed, vec![conn(1), conn(2)]);
        assert_eq!(a.first_attached(S1, s1), None);
        assert!(!a.is_pending(S1, 5));
        assert_eq!(a.conn_of(S2, 0), Some(conn(3)));
        assert_eq!(a.first_attached(SessionKey(3), [0]), None);
        check(&a);
        assert_eq!(a.len(), 1);
    }
}
