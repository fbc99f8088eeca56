//! Which connection carries which stream: one table that answers both ways.
//!
//! A connection carries at most one stream (the answer of the request it is waiting on, or the
//! event stream it opened), and a stream is on at most one connection. Both directions live in
//! [`Attachments`], and every change goes through a method that updates both, so a lookup from
//! either side always agrees with the other. A stream without an entry is detached: its events
//! wait in its replay buffer for a client that resumes.
//!
//! The newest attachment of a fresh stream (a POST's, [`Attachments::attach_new`]) is held
//! aside until anything else changes the table: most POSTs are answered at once with plain JSON
//! and their stream detached before anyone asks where it is, so the two maps never see it.
//! Every lookup counts it, so the table answers the same either way.
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
/// Invariant: `by_conn[c] == (k, n)` exactly when `by_stream[(k, n)]` is on connection `c`;
/// `newest` is a live attachment in neither map (its connection carries nothing else there).
/// Bounded by the streams of live sessions: every stream that is dropped, and every session
/// that ends, is detached here (sessions own their stream numbers and name them when asked).
#[derive(Debug, Default)]
pub struct Attachments {
    by_conn: IdMap<ConnId, (SessionKey, StreamNo)>,
    by_stream: IdMap<(SessionKey, StreamNo), Carrier>,
    /// The latest [`Attachments::attach_new`], live on its connection, until something else
    /// changes the table ([`Attachments::settle`]) or it is detached.
    newest: Option<(ConnId, SessionKey, StreamNo)>,
}

impl Attachments {
    /// Puts stream `no` of session `key`, never attached before (a new POST's), on `conn`, head
    /// out, as [`Attachments::attach`] would. It stays out of the maps until something else
    /// changes the table: a POST answered at once is detached again without touching them.
    pub fn attach_new(&mut self, conn: ConnId, key: SessionKey, no: StreamNo) {
        self.settle();
        debug_assert!(
            !self.by_stream.contains_key(&(key, no)),
            "{key:?} {no} is new"
        );
        self.detach_conn(conn);
        self.newest = Some((conn, key, no));
    }

    /// Moves the attachment held aside into the maps, before any other change.
    fn settle(&mut self) {
        if let Some((conn, key, no)) = self.newest.take() {
            self.by_stream.insert((key, no), Carrier::Live(conn));
            self.by_conn.insert(conn, (key, no));
        }
    }

    /// The attachment held aside, if it is stream `no` of session `key`.
    fn newest_is(&self, key: SessionKey, no: StreamNo) -> Option<ConnId> {
        self.newest
            .and_then(|(conn, k, n)| (k == key && n == no).then_some(conn))
    }

    /// Puts stream `no` of session `key` on `conn`, head out ([`Carrier::Live`]). `conn` leaves
    /// any stream it carried; the connection the stream was on before is returned (to be
    /// closed: a resumption takes the stream over). Attaching a pair that is already attached
    /// changes nothing (an opening head stays pending).
    pub fn attach(&mut self, conn: ConnId, key: SessionKey, no: StreamNo) -> Option<ConnId> {
        self.settle();
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
        self.settle();
        let carrier = match self.by_stream.get(&(key, no)).and_then(Carrier::conn) {
            Some(conn) => Carrier::Opening { conn, pending },
            None => Carrier::Released { pending },
        };
        self.by_stream.insert((key, no), carrier);
    }

    /// The bytes waiting for the stream's head, which is now written: an opening stream goes
    /// live, a released one is detached. `None` if nothing was waiting.
    pub fn take_pending(&mut self, key: SessionKey, no: StreamNo) -> Option<Vec<u8>> {
        self.settle();
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
        // The attachment held aside is in neither map, and live: its head is out.
        matches!(
            self.by_stream.get(&(key, no)),
            Some(Carrier::Opening { .. } | Carrier::Released { .. })
        )
    }

    /// The connection carrying the stream.
    pub fn conn_of(&self, key: SessionKey, no: StreamNo) -> Option<ConnId> {
        if let Some(conn) = self.newest_is(key, no) {
            return Some(conn);
        }
        self.by_stream.get(&(key, no)).and_then(Carrier::conn)
    }

    /// The stream `conn` carries.
    pub fn stream_of(&self, conn: ConnId) -> Option<(SessionKey, StreamNo)> {
        match self.newest {
            Some((c, key, no)) if c == conn => Some((key, no)),
            _ => self.by_conn.get(&conn).copied(),
        }
    }

    /// `conn` carries nothing any more; the stream it carried, now detached.
    pub fn detach_conn(&mut self, conn: ConnId) -> Option<(SessionKey, StreamNo)> {
        if let Some((c, key, no)) = self.newest {
            if c == conn {
                self.newest = None;
                return Some((key, no));
            }
        }
        let pair = self.by_conn.remove(&conn)?;
        self.by_stream.remove(&pair);
        Some(pair)
    }

    /// The stream is detached (or gone); the connection it was on.
    pub fn detach_stream(&mut self, key: SessionKey, no: StreamNo) -> Option<ConnId> {
        if let Some(conn) = self.newest_is(key, no) {
            self.newest = None;
            return Some(conn);
        }
        let conn = self.by_stream.remove(&(key, no))?.conn()?;
        self.by_conn.remove(&conn);
        Some(conn)
    }

    /// SSE polling lets the stream's connection go before its answer. Returns the connection
    /// to end now if the head is out; a stream whose head is pending becomes
    /// [`Carrier::Released`] (the reply being built ends it).
    pub fn release(&mut self, key: SessionKey, no: StreamNo) -> Option<ConnId> {
        self.settle();
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
        self.by_conn.len() + usize::from(self.newest.is_some())
    }

    /// Whether no connection carries a stream.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
        self.settle();
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
        if let Some((conn, key, no)) = self.newest {
            assert!(!self.by_conn.contains_key(&conn), "{conn:?} is held aside");
            assert!(
                !self.by_stream.contains_key(&(key, no)),
                "{key:?} {no} held aside"
            );
        }
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
        let held = self.newest.iter().copied();
        let mapped = self
            .by_conn
            .iter()
            .map(|(&conn, &(key, no))| (conn, key, no));
        held.chain(mapped).collect()
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

    /// Every answer of the table about connections 1 to 4 and streams `nos` of both sessions,
    /// to compare two tables.
    fn answers(a: &Attachments, nos: std::ops::Range<StreamNo>) -> Vec<String> {
        let mut out = vec![format!("len {}", a.len())];
        for c in 1..=4 {
            out.push(format!("{c}: {:?}", a.stream_of(conn(c))));
        }
        for key in [S1, S2] {
            for no in nos.clone() {
                let (on, pending) = (a.conn_of(key, no), a.is_pending(key, no));
                out.push(format!("{key:?} {no}: {on:?} {pending}"));
            }
            out.push(format!("first {:?}", a.first_attached(key, nos.clone())));
        }
        let mut on = a.attached_streams();
        on.sort();
        out.push(format!("{on:?}"));
        out
    }

    #[test]
    fn a_new_stream_held_aside_answers_as_if_attached_through_any_sequence() {
        // The same operations on two tables, one attaching new streams with `attach`, the other
        // with `attach_new`: every result and every later answer must agree. Operations pick
        // among the newest streams, where the one held aside is.
        let (mut plain, mut held) = (Attachments::default(), Attachments::default());
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let mut fresh: StreamNo = 1;
        let mut held_aside = 0;
        for step in 0..4000 {
            let c = conn(1 + next(4));
            let key = [S1, S2][next(2) as usize];
            let no = fresh - 1 - next(u64::from(fresh.min(6))) as StreamNo;
            let (a, b) = (&mut plain, &mut held);
            let (ra, rb) = match next(10) {
                0..=2 => {
                    let new = fresh;
                    fresh += 1;
                    a.attach(c, key, new);
                    b.attach_new(c, key, new);
                    (String::new(), String::new())
                }
                3 => (
                    format!("{:?}", a.attach(c, key, no)),
                    format!("{:?}", b.attach(c, key, no)),
                ),
                4 => {
                    a.open(key, no, vec![1]);
                    b.open(key, no, vec![1]);
                    (String::new(), String::new())
                }
                5 => (
                    format!("{:?}", a.take_pending(key, no)),
                    format!("{:?}", b.take_pending(key, no)),
                ),
                6 => (
                    format!("{:?}", a.detach_conn(c)),
                    format!("{:?}", b.detach_conn(c)),
                ),
                7 => (
                    format!("{:?}", a.detach_stream(key, no)),
                    format!("{:?}", b.detach_stream(key, no)),
                ),
                8 => (
                    format!("{:?}", a.release(key, no)),
                    format!("{:?}", b.release(key, no)),
                ),
                _ => {
                    let (mut sa, mut sb) = (
                        Stream::new(Delivery::Sse, 64),
                        Stream::new(Delivery::Sse, 64),
                    );
                    let ea = a.push_event(key, no, &mut sa, "{}".into());
                    let eb = b.push_event(key, no, &mut sb, "{}".into());
                    (
                        format!("{ea:?} {}", sa.delivered),
                        format!("{eb:?} {}", sb.delivered),
                    )
                }
            };
            held_aside += usize::from(held.newest.is_some());
            assert_eq!(ra, rb, "step {step}");
            check(&plain);
            check(&held);
            let nos = fresh.saturating_sub(8)..fresh;
            assert_eq!(
                answers(&plain, nos.clone()),
                answers(&held, nos),
                "step {step}"
            );
        }
        assert!(
            held_aside > 1000,
            "the held-aside path was exercised: {held_aside}"
        );
        let (mut a_closed, mut b_closed) = (
            plain.detach_session(S1, 0..fresh),
            held.detach_session(S1, 0..fresh),
        );
        a_closed.sort();
        b_closed.sort();
        assert_eq!(a_closed, b_closed);
        assert_eq!(answers(&plain, 0..fresh), answers(&held, 0..fresh));
    }

    #[test]
    fn a_new_stream_answered_at_once_never_reaches_the_maps() {
        let mut a = Attachments::default();
        a.attach_new(conn(1), S1, 1);
        assert_eq!(a.len(), 1);
        assert_eq!(a.conn_of(S1, 1), Some(conn(1)));
        assert_eq!(a.detach_stream(S1, 1), Some(conn(1)));
        assert!(a.is_empty() && a.by_conn.is_empty() && a.by_stream.is_empty());
        // The next one settles an earlier one still attached (a deferred answer) first.
        a.attach_new(conn(1), S1, 2);
        a.attach_new(conn(2), S1, 3);
        assert_eq!(a.by_conn.get(&conn(1)), Some(&(S1, 2)));
        assert_eq!(a.stream_of(conn(2)), Some((S1, 3)));
        // A connection that carried a stream leaves it for the new one.
        a.attach_new(conn(1), S1, 4);
        assert_eq!(a.conn_of(S1, 2), None);
        assert_eq!(a.len(), 2);
        check(&a);
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
