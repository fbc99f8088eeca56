//! Sessions of the handshake era and their SSE streams (MCP 2025-03-26 .. 2025-11-25
//! transports, "Session Management", "Resumability and Redelivery").
//!
//! A session owns its streams. Stream 0 is the standalone stream a client opens with GET; every
//! POST whose answer is an event stream gets the next number. An event id is
//! `"{stream}-{seq}"`, unique within the session and naming its stream, so `Last-Event-ID`
//! finds exactly one stream to replay (never another stream's messages).
//!
//! Every event written to a stream is also kept in that stream's bounded replay buffer, so a
//! client that lost the connection resumes with GET + `Last-Event-ID`, and messages for a
//! standalone stream that is not open yet wait there until it opens.

use super::attach::Attachments;
use crate::idmap::IdMap;
use crate::mcp::handler::{SessionKey, SessionView};
use crate::sse::{self, ReplayBuffer, ReplayGap};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

pub use crate::id::ConnId;

/// Stream number within a session; 0 is the standalone GET stream.
pub type StreamNo = u32;

/// The standalone stream's number.
pub const STANDALONE: StreamNo = 0;

/// `retry` advertised in priming events (MCP 2025-11-25 SSE polling), in milliseconds.
pub const RETRY_MS: u64 = 1000;

/// How the answers of one POST travel back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Still inside the POST's own processing: JSON if everything is answered at once.
    Undecided,
    /// An event stream.
    Sse,
    /// One JSON object (or array for a batch), sent when the last answer is in.
    Json,
    /// A stateless request (or `initialize`) answered later: its reply waits, and the first
    /// message decides it (the answer alone: JSON with its status; a notification: an event
    /// stream).
    Held,
}

/// One SSE stream of a session (or, for `Delivery::Json`, one POST waiting for its answers).
/// Which connection carries it is not here but in [`super::attach::Attachments`].
#[derive(Debug)]
pub struct Stream {
    /// How answers travel.
    pub delivery: Delivery,
    /// Whether the POST carried a JSON-RPC batch (answers form an array in JSON mode).
    pub batch: bool,
    /// Responses still due on this stream; the stream ends when it reaches 0 (POST streams).
    pub outstanding: usize,
    /// Answers collected for a JSON reply.
    pub json_answers: JsonAnswers,
    /// Next event sequence number; 0 is the priming event.
    pub next_seq: u64,
    /// Highest sequence number written to a connection.
    pub delivered: u64,
    /// Past events for `Last-Event-ID`.
    pub replay: ReplayBuffer,
    /// Status of a plain JSON answer (503 when the backend refused the request).
    pub http_status: u16,
    /// The new session's id for a deferred answer to `initialize`: sent as `Mcp-Session-Id`
    /// only if `initialize` succeeds, so a failed one never hands out a dead session.
    pub session_id: Option<String>,
}

impl Stream {
    /// A new stream whose replay buffer holds at most `replay_bytes`.
    pub fn new(delivery: Delivery, replay_bytes: usize) -> Stream {
        Stream {
            delivery,
            batch: false,
            outstanding: 0,
            json_answers: JsonAnswers::default(),
            next_seq: 1,
            delivered: 0,
            replay: ReplayBuffer::new(replay_bytes),
            http_status: 200,
            session_id: None,
        }
    }

    /// Appends one message as an event, kept for replay; its sequence number and encoding.
    /// Where the bytes go (if anywhere) is for [`super::attach::Attachments::push_event`].
    pub fn record_event(&mut self, no: StreamNo, message: String) -> (u64, Vec<u8>) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let mut bytes = Vec::with_capacity(message.len() + 32);
        encode(no, seq, &message, &mut bytes);
        self.replay.push(seq, message);
        (seq, bytes)
    }

    /// The priming event of MCP 2025-11-25: an id and empty data, with `retry`.
    pub fn priming(no: StreamNo, out: &mut Vec<u8>) {
        let id = event_id(no, 0);
        let event = sse::Event {
            id: Some(&id),
            event: None,
            retry: Some(RETRY_MS),
            data: "",
        };
        sse::encode_event(&event, out);
    }

    /// Encodes every event after `after` into `out` (replay on resumption).
    pub fn replay_after(
        &mut self,
        no: StreamNo,
        after: u64,
        out: &mut Vec<u8>,
    ) -> Result<(), ReplayGap> {
        let mut last = after;
        for (seq, message) in self.replay.replay_after(after)? {
            encode(no, seq, message, out);
            last = seq;
        }
        self.delivered = self.delivered.max(last);
        Ok(())
    }

    /// Whether every response this stream carries has been written to it.
    pub fn is_finished(&self, no: StreamNo) -> bool {
        no != STANDALONE && self.outstanding == 0
    }
}

/// The answers collected for a POST's JSON reply, in order. The first is held without a vector
/// of its own: most POSTs carry one request, whose answer then costs no allocation here.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct JsonAnswers {
    first: Option<String>,
    rest: Vec<String>,
}

impl JsonAnswers {
    /// Appends an answer (JSON text).
    pub fn push(&mut self, answer: String) {
        match self.first {
            None => self.first = Some(answer),
            Some(_) => self.rest.push(answer),
        }
    }

    /// Whether no answer was collected.
    pub fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    /// The body of the JSON reply: the one answer of a single request as it is, or the answers
    /// of a batch joined into an array (JSON text already, never parsed again).
    pub fn into_body(self, batch: bool) -> String {
        match self.first {
            Some(only) if !batch && self.rest.is_empty() => only,
            first => {
                let answers = first.into_iter().chain(self.rest);
                let mut body = String::from("[");
                for (n, answer) in answers.enumerate() {
                    if n > 0 {
                        body.push(',');
                    }
                    body.push_str(&answer);
                }
                body.push(']');
                body
            }
        }
    }
}

impl From<Vec<String>> for JsonAnswers {
    fn from(answers: Vec<String>) -> JsonAnswers {
        let mut collected = JsonAnswers::default();
        for answer in answers {
            collected.push(answer);
        }
        collected
    }
}

impl IntoIterator for JsonAnswers {
    type Item = String;
    type IntoIter = std::iter::Chain<std::option::IntoIter<String>, std::vec::IntoIter<String>>;

    fn into_iter(self) -> Self::IntoIter {
        self.first.into_iter().chain(self.rest)
    }
}

fn encode(no: StreamNo, seq: u64, message: &str, out: &mut Vec<u8>) {
    let id = event_id(no, seq);
    let event = sse::Event {
        id: Some(&id),
        event: Some("message"),
        retry: None,
        data: message,
    };
    sse::encode_event(&event, out);
}

/// The SSE event id of event `seq` on stream `no`.
pub fn event_id(no: StreamNo, seq: u64) -> String {
    format!("{no}-{seq}")
}

/// Reads a `Last-Event-ID` we issued; `None` for anything else.
pub fn parse_event_id(value: &str) -> Option<(StreamNo, u64)> {
    let (no, seq) = value.trim().split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(no) || !digits(seq) {
        return None;
    }
    Some((no.parse().ok()?, seq.parse().ok()?))
}

/// What made a session, which decides how it is named, what carries its messages and when it
/// ends. A stateless session has no handshake, so only the other two carry a [`Lifecycle`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionKind {
    /// Streamable HTTP of the handshake era: made by `initialize`, named by `Mcp-Session-Id`,
    /// ended by DELETE or expiry.
    Handshake(Lifecycle),
    /// 2024-11-05 HTTP+SSE: made by the GET before any `initialize`; everything travels on its
    /// one standalone stream, and the session ends with that connection.
    HttpSse(Lifecycle),
    /// One 2026-07-28 request (or `subscriptions/listen` stream): everything `initialize` would
    /// say comes with the request, and the session is gone once it is answered.
    Stateless,
}

/// Where a handshake session is in its `initialize` exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lifecycle {
    /// `initialize` not answered yet: its reply is held so a failure gets its HTTP status and
    /// no session id.
    Initializing,
    /// The handler answered `initialize` successfully.
    Ready,
    /// `initialize` failed: the session ends as soon as that answer is on its way. Final.
    Failed,
}

impl SessionKind {
    /// The handshake state; `None` for a stateless session, which has no handshake.
    pub fn lifecycle(self) -> Option<Lifecycle> {
        match self {
            SessionKind::Handshake(l) | SessionKind::HttpSse(l) => Some(l),
            SessionKind::Stateless => None,
        }
    }

    /// Whether this is a one-request 2026-07-28 session.
    pub fn is_stateless(self) -> bool {
        self == SessionKind::Stateless
    }

    /// Whether this is a 2024-11-05 HTTP+SSE session.
    pub fn is_http_sse(self) -> bool {
        matches!(self, SessionKind::HttpSse(_))
    }

    /// Whether `initialize` succeeded (never for a stateless session).
    pub fn is_ready(self) -> bool {
        self.lifecycle() == Some(Lifecycle::Ready)
    }

    /// Whether `initialize` failed (never for a stateless session).
    pub fn has_failed(self) -> bool {
        self.lifecycle() == Some(Lifecycle::Failed)
    }

    /// Records the outcome of `initialize`: success makes an initializing session ready, a
    /// failure makes any handshake session failed, and a failed one stays failed. A stateless
    /// session has no handshake and does not change.
    pub fn initialize_answered(&mut self, ok: bool) {
        let (SessionKind::Handshake(state) | SessionKind::HttpSse(state)) = self else {
            return;
        };
        *state = match (*state, ok) {
            (_, false) | (Lifecycle::Failed, true) => Lifecycle::Failed,
            (Lifecycle::Initializing | Lifecycle::Ready, true) => Lifecycle::Ready,
        };
    }
}

/// Stream `no` of session `key`, if both still exist. A free function over the session table,
/// so a caller can hold the stream while it uses the transport's other tables.
pub fn stream_mut(
    sessions: &mut IdMap<SessionKey, Session>,
    key: SessionKey,
    no: StreamNo,
) -> Option<&mut Stream> {
    sessions.get_mut(&key)?.streams.get_mut(&no)
}

/// One session: created by `initialize` (or the HTTP+SSE GET, or a stateless request), ended
/// by DELETE, expiry, or as its [`SessionKind`] says.
#[derive(Debug)]
pub struct Session {
    /// Handler-facing key.
    pub key: SessionKey,
    /// The `Mcp-Session-Id` value (empty for a stateless session, which has none).
    pub id: String,
    /// What `initialize` agreed on.
    pub view: SessionView,
    /// What made it, and where its handshake stands.
    pub kind: SessionKind,
    /// Open and resumable streams by number.
    pub streams: IdMap<StreamNo, Stream>,
    /// Next POST stream number.
    pub next_stream: StreamNo,
    /// Finished streams without a connection, oldest first, for eviction.
    pub detached: VecDeque<StreamNo>,
    /// When the session last saw a request or stream activity.
    pub last_activity: Instant,
    /// Idle time after which it ends, when the handler asked for less than the session timeout
    /// ([`crate::mcp::Command::IdleTimeout`]).
    pub idle_timeout: Option<Duration>,
}

impl Session {
    /// A new session of `kind` with an empty standalone stream.
    pub fn new(
        key: SessionKey,
        id: String,
        kind: SessionKind,
        view: SessionView,
        replay_bytes: usize,
        now: Instant,
    ) -> Session {
        let mut streams = IdMap::default();
        streams.insert(STANDALONE, Stream::new(Delivery::Sse, replay_bytes));
        Session {
            key,
            id,
            view,
            kind,
            streams,
            next_stream: 1,
            detached: VecDeque::new(),
            last_activity: now,
            idle_timeout: None,
        }
    }

    /// Idle = nothing in flight (`in_flight`: the dispatcher's count for this session) and no
    /// stream on a connection (DESIGN 5: session idle timeout).
    pub fn is_idle(&self, in_flight: usize, attached: &Attachments) -> bool {
        in_flight == 0
            && attached
                .first_attached(self.key, self.streams.keys().copied())
                .is_none()
    }

    /// Remembers a finished stream that lost its connection; evicts the oldest beyond `max`
    /// ([`crate::config::Limits::max_parked_streams`]: sessions whose clients never come back
    /// for their answers stay bounded), and returns the evicted numbers (to detach them
    /// everywhere else too).
    pub fn park(&mut self, no: StreamNo, max: usize) -> Vec<StreamNo> {
        let mut evicted = Vec::new();
        if self.detached.contains(&no) {
            return evicted;
        }
        self.detached.push_back(no);
        while self.detached.len() > max {
            if let Some(old) = self.detached.pop_front() {
                self.streams.remove(&old);
                evicted.push(old);
            }
        }
        evicted
    }

    /// Forgets a stream entirely.
    pub fn drop_stream(&mut self, no: StreamNo) {
        if no != STANDALONE {
            self.streams.remove(&no);
            if !self.detached.is_empty() {
                self.detached.retain(|d| *d != no);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_round_trip_and_reject_foreign_values() {
        assert_eq!(parse_event_id(&event_id(3, 17)), Some((3, 17)));
        assert_eq!(parse_event_id(" 0-0 "), Some((0, 0)));
        for bad in [
            "",
            "-",
            "3-",
            "-3",
            "a-1",
            "1-b",
            "1-2-3",
            "99999999999999999999999-1",
            "4294967296-1",
        ] {
            assert_eq!(parse_event_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn lifecycle_moves_forward_only_and_stateless_has_none() {
        let mut kind = SessionKind::Handshake(Lifecycle::Initializing);
        assert!(!kind.is_ready() && !kind.has_failed());
        kind.initialize_answered(true);
        assert!(kind.is_ready());
        kind.initialize_answered(false);
        assert!(kind.has_failed());
        kind.initialize_answered(true);
        assert!(kind.has_failed(), "a failed session stays failed");
        let mut sse = SessionKind::HttpSse(Lifecycle::Initializing);
        sse.initialize_answered(false);
        assert_eq!(sse, SessionKind::HttpSse(Lifecycle::Failed));
        assert!(sse.is_http_sse() && !sse.is_stateless());
        let mut stateless = SessionKind::Stateless;
        stateless.initialize_answered(false);
        assert_eq!(stateless, SessionKind::Stateless);
        assert_eq!(stateless.lifecycle(), None);
        assert!(!stateless.is_ready() && !stateless.has_failed());
    }

    #[test]
    fn json_answers_keep_their_order_and_form_the_reply_body() {
        let mut answers = JsonAnswers::default();
        assert!(answers.is_empty());
        assert_eq!(JsonAnswers::default().into_body(true), "[]");
        answers.push("1".into());
        assert!(!answers.is_empty());
        assert_eq!(
            answers.into_body(false),
            "1",
            "a single answer goes out as it is"
        );
        let batch = JsonAnswers::from(vec!["1".to_string(), "2".into(), "3".into()]);
        assert_eq!(batch.into_body(true), "[1,2,3]");
        let mut one = JsonAnswers::default();
        one.push("{}".into());
        assert_eq!(
            one.into_body(true),
            "[{}]",
            "a batch of one is still an array"
        );
        let mut pushed = JsonAnswers::from(vec!["a".to_string()]);
        pushed.push("b".into());
        pushed.push("c".into());
        assert_eq!(pushed.into_iter().collect::<Vec<_>>(), ["a", "b", "c"]);
    }

    #[test]
    fn parked_streams_are_bounded() {
        let t0 = Instant::now();
        let kind = SessionKind::Handshake(Lifecycle::Initializing);
        let mut session = Session::new(
            SessionKey(1),
            "x".into(),
            kind,
            SessionView::default(),
            64,
            t0,
        );
        let mut evicted = Vec::new();
        for no in 1..=(16 + 5) {
            session.streams.insert(no, Stream::new(Delivery::Sse, 64));
            evicted.extend(session.park(no, 16));
        }
        assert_eq!(evicted, vec![1, 2, 3, 4, 5]);
        assert_eq!(session.detached.len(), 16);
        assert!(!session.streams.contains_key(&1));
        assert!(session.streams.contains_key(&STANDALONE));
    }
}
