//! Streamable HTTP, handshake era (MCP 2025-03-26, 2025-06-18, 2025-11-25 "Transports").
//!
//! Sans-IO: the server hands in parsed HTTP requests with the connection they came on and the
//! current time; this module answers with a [`Reply`] for that request and queues [`Action`]s
//! for other connections (events on open streams, streams ending, deferred JSON answers) and
//! timers. It never reads a clock or touches a socket.
//!
//! Order of calls: `post`/`get`/`delete` for each request, `connection_closed` when a
//! connection carrying a stream goes away, `on_timer` for each expired [`Timer`]; after each,
//! drain [`Transport::poll_action`].
//!
//! Which connection carries which stream is recorded once, both ways, in
//! [`attach::Attachments`]; a session's kind and handshake state are [`session::SessionKind`].
//!
//! Rules (citations in `shared/research/mcp-spec.md` 2A and "Easy to get wrong"): `Accept` must
//! list JSON and SSE (406), bodies are JSON (415); unparseable 400/-32700; not JSON-RPC
//! 400/-32600; `initialize` makes a session; other requests need `Mcp-Session-Id` (400 when
//! missing, 404 when unknown); a present `MCP-Protocol-Version` must be one we support (400);
//! notifications and responses get 202; batches only for sessions on 2025-03-26.

use super::dispatch::{Caps, Dispatcher, TimerKey};
use super::error::Error;
use super::handler::{Handler, RequestHandle, SessionKey, SessionView};
use super::jsonrpc::{self, Body, Id, Message, Params};
use super::version;
use crate::config::ResponseMode;
use crate::http::{Field, RequestHead};
use crate::idmap::{IdMap, SessionIdMap};
use crate::log;
use crate::server::{Reply, ReplyBody};
use attach::Attachments;
use serde_json::Value;
use session::{
    ConnId, Delivery, JsonAnswers, Lifecycle, Session, SessionKind, Stream, StreamNo, STANDALONE,
};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

mod accept;
#[cfg(test)]
use accept::media_ranges;
use accept::{accepts, accepts_json_and_sse, Accept};
pub mod attach;
mod deliver;
pub mod eras;
mod http_sse;
pub mod param_headers;
mod post_stream;
pub mod session;
pub mod stateless;
pub mod stdio;

/// Seconds a client is told to wait when the session table is full.
pub const RETRY_AFTER_SECS: u64 = 5;

/// What the transport needs from the configuration.
#[derive(Clone, Debug)]
pub struct Settings {
    /// JSON, SSE, or whichever fits.
    pub response_mode: ResponseMode,
    /// Replay bytes kept per stream.
    pub replay_bytes: usize,
    /// Idle time after which a session ends.
    pub session_timeout: Duration,
    /// Live sessions at most.
    pub max_sessions: usize,
    /// Prefix of session ids (`--instance-id`).
    pub instance_id: Option<String>,
    /// Revisions offered and accepted (`--eras`).
    pub eras: version::Eras,
    /// Resource URIs one `subscriptions/listen` stream may follow.
    pub max_listen_uris: usize,
    /// Requests in flight per session, both ways (`max_pending_per_session`,
    /// `max_outgoing_per_session` of [`crate::config::Limits`]).
    pub caps: Caps,
    /// Finished POST streams a session keeps for resumption
    /// ([`crate::config::Limits::max_parked_streams`]).
    pub max_parked_streams: usize,
}

/// Work for connections other than the one whose request is being answered.
#[derive(Debug, PartialEq)]
pub enum Action {
    /// SSE bytes for the stream open on `conn`.
    Event {
        /// The connection.
        conn: ConnId,
        /// Encoded events.
        bytes: Vec<u8>,
    },
    /// The stream on `conn` is complete; end its response (the connection may be reused).
    EndStream {
        /// The connection.
        conn: ConnId,
    },
    /// The deferred JSON answer for `conn`.
    Reply {
        /// The connection.
        conn: ConnId,
        /// The answer.
        reply: Reply,
    },
    /// End whatever `conn` is sending and close it (session ended, stream taken over).
    Close {
        /// The connection.
        conn: ConnId,
    },
    /// Call [`Transport::on_timer`] with `timer` at `at`.
    Arm {
        /// When.
        at: Instant,
        /// What.
        timer: Timer,
    },
    /// A handler timer armed earlier was cancelled (by the handler, or its session ended):
    /// take it off the wheel, so it holds no memory until its deadline.
    Disarm {
        /// What.
        timer: Timer,
    },
}

/// Deadlines the transport asks for. Stale ones are harmless: each is re-checked when it fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// Check whether a session has been idle too long.
    SessionExpiry(SessionKey),
    /// A handler timer (cancelled ones are ignored when they fire).
    Handler(TimerKey),
}

/// Counters for `/health`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Live sessions.
    pub active_sessions: usize,
    /// Sessions created since start.
    pub total_sessions: u64,
    /// Streams currently on a connection.
    pub open_streams: usize,
}

/// The session-era Streamable HTTP transport with its sessions and the handler behind it.
/// The server uses it as `Transport<dyn Handler>` (the default): one instantiation whatever
/// the backend; tests may name a concrete handler to inspect it.
pub struct Transport<H: Handler + ?Sized = dyn Handler> {
    dispatcher: Dispatcher<H>,
    settings: Settings,
    sessions: IdMap<SessionKey, Session>,
    by_id: SessionIdMap<SessionKey>,
    /// Which connection carries which stream, both ways (the only record of it).
    attached: Attachments,
    next_session: u64,
    total_sessions: u64,
    actions: VecDeque<Action>,
    /// Open `subscriptions/listen` streams, by their stateless session.
    listeners: IdMap<SessionKey, stateless::Listener>,
    /// Stateless sessions to forget once their request is answered.
    reap: Vec<SessionKey>,
    /// The requests of the POST being exchanged (client id until tracked, then the handle),
    /// kept between POSTs for its memory.
    scratch: Vec<(Result<RequestHandle, Id>, String, Option<Params>)>,
}

impl<H: Handler + ?Sized> Transport<H> {
    /// A transport serving `handler`.
    pub fn new(handler: Box<H>, settings: Settings) -> Transport<H> {
        Transport {
            dispatcher: Dispatcher::new(handler, settings.caps),
            settings,
            sessions: IdMap::default(),
            by_id: SessionIdMap::default(),
            attached: Attachments::default(),
            next_session: 1,
            total_sessions: 0,
            actions: VecDeque::new(),
            listeners: IdMap::default(),
            reap: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// The next queued action.
    pub fn poll_action(&mut self) -> Option<Action> {
        while let Some(key) = self.reap.pop() {
            let Some(s) = self.sessions.get(&key) else {
                continue;
            };
            if s.kind.has_failed() {
                self.end_session(key, "initialize failed");
            } else if s.kind.is_stateless()
                && self.dispatcher.pending_in(key) == 0
                && !self.listeners.contains_key(&key)
            {
                self.end_session(key, "answered");
            }
        }
        self.actions.pop_front()
    }

    /// Sessions of the handshake eras (not the one-request sessions of the stateless path).
    fn legacy_sessions(&self) -> usize {
        self.by_id.len()
    }

    /// Counters for `/health`.
    pub fn stats(&self) -> Stats {
        Stats {
            active_sessions: self.legacy_sessions(),
            total_sessions: self.total_sessions,
            open_streams: self.attached.len(),
        }
    }

    /// POST on the MCP endpoint.
    pub fn post(&mut self, conn: ConnId, head: &RequestHead, body: &[u8], now: Instant) -> Reply {
        if !accepts_json_and_sse(head) {
            return Error::NotAcceptable("application/json and text/event-stream").reply(None);
        }
        let body = match json_body(head, body) {
            Ok(body) => body,
            Err(reply) => return reply,
        };
        let single = match &body {
            Body::Single(Ok(message)) => Some(message),
            _ => None,
        };
        // Read once for both the path and the era check.
        let version = head.header_str(Field::McpProtocolVersion);
        if stateless::is_stateless_with(version, single) {
            return self.post_stateless(conn, head, body, now);
        }
        if let Some(reply) = eras::check_protocol_value(version, head, &self.settings.eras) {
            return reply;
        }
        if let Body::Single(Ok(Message::Request { method, .. })) = &body {
            if method == "initialize" {
                return self.initialize(conn, body, now);
            }
        }
        let key = match self.session_of(head, None) {
            Ok(key) => key,
            Err(reply) => return reply,
        };
        let body = match body {
            Body::Single(Err(invalid)) => return invalid_reply(&invalid),
            // Nearly every POST: straight to its exchange, the message not moved into a new
            // body first (as `exchange` would send it on).
            Body::Single(Ok(request @ Message::Request { .. })) => {
                return self.exchange_one(conn, key, request, None, now);
            }
            Body::Single(Ok(message)) => Body::Single(Ok(message)),
            Body::Batch(items) => {
                let allowed = self
                    .sessions
                    .get(&key)
                    .is_some_and(|s| version::allows_batches(&s.view.protocol_version));
                if !allowed {
                    return Error::InvalidRequest(
                        "JSON-RPC batches are only accepted on protocol version 2025-03-26",
                    )
                    .reply(None);
                }
                if items.is_empty() {
                    return Error::InvalidRequest("empty batch").reply(None);
                }
                Body::Batch(items)
            }
        };
        self.exchange(conn, key, body, None, now)
    }

    /// `initialize`: a new session, then the request like any other.
    fn initialize(&mut self, conn: ConnId, body: Body, now: Instant) -> Reply {
        let Body::Single(Ok(message)) = body else {
            return Error::InvalidRequest("initialize must be a single request").reply(None);
        };
        let null = Value::Null;
        let params = match &message {
            Message::Request {
                params: Some(params),
                ..
            } => &**params,
            _ => &null,
        };
        let requested = params.get("protocolVersion").and_then(Value::as_str);
        let request_id = match &message {
            Message::Request { id, .. } => Some(id.clone()),
            _ => None,
        };
        if let Some(reply) = eras::refuse_initialize(&self.settings.eras, request_id, requested) {
            return reply;
        }
        let negotiated = self.settings.eras.negotiate(requested);
        let view = SessionView {
            protocol_version: negotiated.unwrap_or(version::LATEST_LEGACY).to_string(),
            client_capabilities: params.get("capabilities").cloned().unwrap_or(Value::Null),
            client_info: params.get("clientInfo").cloned().unwrap_or(Value::Null),
            ..SessionView::default()
        };
        let request = match &message {
            Message::Request { id, .. } => Some(id.clone()),
            _ => None,
        };
        let kind = SessionKind::Handshake(Lifecycle::Initializing);
        let (key, id) = match self.open_session(kind, view, request, now) {
            Ok(opened) => opened,
            Err(reply) => return reply,
        };
        self.exchange(conn, key, Body::Single(Ok(message)), Some(id), now)
    }

    /// A new handshake-era session with a fresh CSPRNG id, or 503 at `--max-sessions`.
    fn open_session(
        &mut self,
        kind: SessionKind,
        mut view: SessionView,
        request: Option<Id>,
        now: Instant,
    ) -> Result<(SessionKey, String), Reply> {
        let max = self.settings.max_sessions;
        if self.legacy_sessions() >= max {
            log::warn(format_args!("session limit of {max} reached"));
            let error = Error::TooManySessions {
                max,
                retry_after: RETRY_AFTER_SECS,
            };
            return Err(error.reply(request));
        }
        let key = SessionKey(self.next_session);
        self.next_session += 1;
        self.total_sessions += 1;
        let uuid = uuid::Uuid::new_v4();
        let id = match &self.settings.instance_id {
            None => uuid.to_string(),
            Some(prefix) => format!("{prefix}-{uuid}"),
        };
        view.id = id.clone();
        self.sessions.insert(
            key,
            Session::new(key, id.clone(), kind, view, self.settings.replay_bytes, now),
        );
        self.by_id.insert(id.clone(), key);
        self.arm_expiry(key, now);
        log::info(format_args!("session {id} created"));
        Ok((key, id))
    }

    /// Runs the messages of one POST in a session and builds its reply.
    fn exchange(
        &mut self,
        conn: ConnId,
        key: SessionKey,
        body: Body,
        new_session_id: Option<String>,
        now: Instant,
    ) -> Reply {
        let body = match body {
            Body::Single(Ok(request @ Message::Request { .. })) => {
                return self.exchange_one(conn, key, request, new_session_id, now);
            }
            other => other,
        };
        let Some(session) = self.sessions.get_mut(&key) else {
            return Error::UnknownSession.reply(None);
        };
        session.last_activity = now;
        // A single message goes through without a Vec of its own (`Vec::new` allocates
        // nothing); the requests go through the transport's reused vector.
        let (batch, single, items) = match body {
            Body::Single(item) => (false, Some(item), Vec::new()),
            Body::Batch(items) => (true, None, items),
        };
        let mut requests = std::mem::take(&mut self.scratch);
        requests.clear();
        let mut others = Vec::new();
        let mut answers = Vec::new();
        for item in single.into_iter().chain(items) {
            match item {
                Ok(Message::Request { id, method, .. }) if batch && method == "initialize" => {
                    answers.push(
                        Message::Error {
                            id: Some(id),
                            error: Error::InvalidRequest("initialize must not be batched").object(),
                        }
                        .to_json(),
                    )
                }
                Ok(Message::Request { id, method, params }) => {
                    requests.push((Err(id), method, params))
                }
                Ok(other) => others.push(other),
                Err(invalid) => answers.push(
                    Message::Error {
                        id: invalid.id.clone(),
                        error: invalid.to_error(),
                    }
                    .to_json(),
                ),
            }
        }
        if !self.dispatcher.has_room(key, requests.len()) {
            self.scratch = requests;
            return Error::TooManyRequests(self.dispatcher.max_pending()).reply(None);
        }
        for message in others {
            self.dispatch_other(key, message, now);
        }
        if requests.is_empty() && answers.is_empty() {
            self.scratch = requests;
            return Reply::empty(202);
        }
        let outstanding = requests.len();
        let answers = answers.into();
        let Some(no) = self.open_post_stream(conn, key, batch, outstanding, answers, now) else {
            self.scratch = requests;
            return Error::UnknownSession.reply(None);
        };
        // Every request is tracked before the first runs (a batch's stream counts them all).
        for entry in &mut requests {
            if let Err(client_id) = &mut entry.0 {
                let client_id = std::mem::replace(client_id, Id::Number(0.into()));
                entry.0 = Ok(self.dispatcher.track(key, client_id, &entry.1, no));
            }
        }
        for (handle, method, params) in requests.drain(..) {
            if let Ok(handle) = handle {
                self.call_request(key, handle, &method, params, now);
            }
        }
        self.scratch = requests;
        self.finish_exchange(key, no, new_session_id)
    }

    /// [`Transport::exchange`] of a POST holding one request (nearly every POST): no vectors
    /// to sort messages into, the same steps.
    fn exchange_one(
        &mut self,
        conn: ConnId,
        key: SessionKey,
        request: Message,
        new_session_id: Option<String>,
        now: Instant,
    ) -> Reply {
        let Message::Request { id, method, params } = request else {
            // Only requests come here; anything else takes the general way.
            return self.exchange(conn, key, Body::Single(Ok(request)), new_session_id, now);
        };
        if !self.dispatcher.has_room(key, 1) {
            let Some(session) = self.sessions.get_mut(&key) else {
                return Error::UnknownSession.reply(None);
            };
            session.last_activity = now;
            return Error::TooManyRequests(self.dispatcher.max_pending()).reply(None);
        }
        // The session is looked up once, where its stream is opened (with its activity).
        let answers = JsonAnswers::default();
        let Some(no) = self.open_post_stream(conn, key, false, 1, answers, now) else {
            return Error::UnknownSession.reply(None);
        };
        let handle = self.dispatcher.track(key, id, &method, no);
        self.call_request(key, handle, &method, params, now);
        self.finish_exchange(key, no, new_session_id)
    }

    /// Turns a POST's pending answer into an event stream: priming event for clients that
    /// understand it, then any answers already collected.
    fn open_sse(&mut self, key: SessionKey, no: StreamNo) {
        let Some(session) = self.sessions.get_mut(&key) else {
            return;
        };
        let polling = version::has_sse_polling(&session.view.protocol_version);
        let Some(stream) = session.streams.get_mut(&no) else {
            return;
        };
        if stream.delivery == Delivery::Sse {
            return;
        }
        stream.delivery = Delivery::Sse;
        let mut opening = Vec::new();
        if polling {
            Stream::priming(no, &mut opening);
        }
        self.attached.open(key, no, opening);
        for answer in std::mem::take(&mut stream.json_answers) {
            // Gathered with the head (or only kept for replay): nothing goes out yet.
            self.attached.push_event(key, no, stream, answer);
        }
    }

    /// GET on the MCP endpoint (or `/mcp/sse/{id}`): the standalone stream, or resumption.
    pub fn get(
        &mut self,
        conn: ConnId,
        head: &RequestHead,
        path_session: Option<&str>,
        now: Instant,
    ) -> Reply {
        if !accepts(head, Accept::Sse) {
            return Error::NotAcceptable("text/event-stream").reply(None);
        }
        if let Some(reply) = refuse_stateless(head) {
            return reply;
        }
        if let Some(reply) = eras::check_protocol_header(head, &self.settings.eras) {
            return reply;
        }
        let key = match self.session_of(head, path_session) {
            Ok(key) => key,
            Err(reply) => return reply,
        };
        let last_event = head.header_str(Field::LastEventId).map(str::to_string);
        let Some(session) = self.sessions.get_mut(&key) else {
            return Error::UnknownSession.reply(None);
        };
        session.last_activity = now;
        let polling = version::has_sse_polling(&session.view.protocol_version);
        let mut initial = Vec::new();
        let no = match last_event {
            Some(value) => {
                let Some((no, seq)) = session::parse_event_id(&value) else {
                    return Error::CannotResume("Last-Event-ID was not issued by this server")
                        .reply(None);
                };
                let Some(stream) = session.streams.get_mut(&no) else {
                    return Error::CannotResume(
                        "the stream of Last-Event-ID can no longer be resumed",
                    )
                    .reply(None);
                };
                if stream.replay_after(no, seq, &mut initial).is_err() {
                    return Error::CannotResume(
                        "events after Last-Event-ID are no longer buffered",
                    )
                    .reply(None);
                }
                if let Some(previous) = self.attached.attach(conn, key, no) {
                    self.actions.push_back(Action::Close { conn: previous });
                }
                no
            }
            None => {
                let Some(stream) = session.streams.get_mut(&STANDALONE) else {
                    return Error::Internal("standalone stream missing").reply(None);
                };
                if self.attached.conn_of(key, STANDALONE).is_some() {
                    return Error::StreamConflict.reply(None);
                }
                if polling {
                    Stream::priming(STANDALONE, &mut initial);
                }
                let after = stream.delivered;
                if stream
                    .replay_after(STANDALONE, after, &mut initial)
                    .is_err()
                {
                    log::warn(format_args!("session {}: messages queued for the standalone stream were dropped (replay buffer full)", session.id));
                }
                self.attached.attach(conn, key, STANDALONE);
                STANDALONE
            }
        };
        let finished = session.streams.get(&no).is_some_and(|s| s.is_finished(no));
        if finished {
            session.drop_stream(no);
            self.attached.detach_stream(key, no);
        } else {
            session.detached.retain(|d| *d != no);
        }
        Reply::stream(initial, finished)
    }

    /// DELETE on the MCP endpoint (or `/mcp/sessions/{id}`): ends the session.
    pub fn delete(&mut self, head: &RequestHead, path_session: Option<&str>) -> Reply {
        if let Some(reply) = refuse_stateless(head) {
            return reply;
        }
        let key = match self.session_of(head, path_session) {
            Ok(key) => key,
            Err(reply) => return reply,
        };
        self.end_session(key, "deleted by the client");
        Reply::empty(200)
    }

    /// A connection went away; its stream (if any) stays resumable.
    pub fn connection_closed(&mut self, conn: ConnId) {
        let Some((key, no)) = self.attached.detach_conn(conn) else {
            return;
        };
        let Some(session) = self.sessions.get_mut(&key) else {
            return;
        };
        let Some(stream) = session.streams.get_mut(&no) else {
            return;
        };
        if session.kind.is_stateless() {
            // 2026-07-28: closing the response stream cancels the request.
            let now = session.last_activity;
            let handles = self.dispatcher.requests_of(key);
            for handle in handles {
                self.cancel(key, handle, now);
            }
            self.end_session(key, "stream closed by the client");
            return;
        }
        if session.kind.is_http_sse() && no == STANDALONE {
            self.end_session(key, "HTTP+SSE stream closed");
            return;
        }
        if stream.delivery == Delivery::Json {
            // Nobody is left to receive the JSON answer.
            session.drop_stream(no);
        }
    }

    /// A timer this transport armed has expired.
    pub fn on_timer(&mut self, timer: Timer, now: Instant) {
        match timer {
            Timer::SessionExpiry(key) => {
                let Some(session) = self.sessions.get(&key) else {
                    return;
                };
                let timeout = session
                    .idle_timeout
                    .unwrap_or(self.settings.session_timeout);
                let due = session.last_activity + timeout;
                let idle = session.is_idle(self.dispatcher.pending_in(key), &self.attached);
                if idle && due <= now {
                    log::info(format_args!("session {} expired", session.id));
                    self.end_session(key, "expired");
                } else {
                    let at = if idle { due } else { now + timeout };
                    self.actions.push_back(Action::Arm { at, timer });
                }
            }
            Timer::Handler(key) => {
                let Some((session, token)) = self.dispatcher.fire_timer(key) else {
                    return;
                };
                if session.is_none_or(|key| self.sessions.contains_key(&key)) {
                    let work = self.call(session, now, |h, ctx| h.handle_timer(ctx, token));
                    self.apply(work, now);
                }
            }
        }
    }

    /// Whether `conn` carries a stream that never ends by itself (standalone GET,
    /// `subscriptions/listen`, HTTP+SSE), as opposed to the answer of a request in flight.
    pub fn is_long_lived(&self, conn: ConnId) -> bool {
        let Some((key, no)) = self.attached.stream_of(conn) else {
            return false;
        };
        no == STANDALONE
            || self.listeners.contains_key(&key)
            || self
                .sessions
                .get(&key)
                .is_some_and(|s| s.kind.is_http_sse())
    }

    fn arm_expiry(&mut self, key: SessionKey, now: Instant) {
        let at = now + self.settings.session_timeout;
        self.actions.push_back(Action::Arm {
            at,
            timer: Timer::SessionExpiry(key),
        });
    }

    fn end_session(&mut self, key: SessionKey, why: &str) {
        let Some(session) = self.sessions.remove(&key) else {
            return;
        };
        self.by_id.remove(&session.id);
        for conn in self
            .attached
            .detach_session(key, session.streams.keys().copied())
        {
            self.actions.push_back(Action::Close { conn });
        }
        let listened = self.listeners.remove(&key).is_some();
        if session.kind.is_stateless() {
            log::debug(format_args!("stateless request {}: {why}", key.0));
        } else {
            log::info(format_args!("session {} ended: {why}", session.id));
        }
        for timer in self.dispatcher.close_session(key) {
            let timer = Timer::Handler(timer);
            self.actions.push_back(Action::Disarm { timer });
        }
        if listened {
            self.listened_changed();
        }
    }

    /// The session a request names: header, or the id in a compatibility path.
    fn session_of(
        &self,
        head: &RequestHead,
        path_session: Option<&str>,
    ) -> Result<SessionKey, Reply> {
        let Some(id) = path_session.or_else(|| head.header_str(Field::McpSessionId)) else {
            return Err(Error::SessionIdRequired("Mcp-Session-Id header").reply(None));
        };
        self.by_id
            .get(id)
            .copied()
            .ok_or_else(|| Error::UnknownSession.reply(None))
    }
}

/// A POST body declared and parsed as JSON: 415 for another `Content-Type`, 400 with -32700
/// for bytes that are not JSON.
/// 400 with the -32600 error of a message that is not JSON-RPC, keeping its id if readable.
fn invalid_reply(invalid: &jsonrpc::Invalid) -> Reply {
    Error::InvalidRequest(invalid.reason).reply(invalid.id.clone())
}

fn json_body(head: &RequestHead, body: &[u8]) -> Result<Body, Reply> {
    if !is_json_content(head) {
        return Err(Error::UnsupportedMediaType.reply(None));
    }
    jsonrpc::parse_body(body).map_err(|e| Error::BodyNotJson(e.to_string()).reply(None))
}

/// Whether `Content-Type` is JSON; the bare value clients send is compared whole first (the
/// parameter scan and case-blind compare cost ~100 instructions per POST).
fn is_json_content(head: &RequestHead) -> bool {
    head.header_str(Field::ContentType).is_some_and(|v| {
        v == "application/json" || accept::media_type(v).eq_ignore_ascii_case("application/json")
    })
}

/// GET and DELETE do not exist in the stateless revision (SH0728 "Backwards compatibility").
fn refuse_stateless(head: &RequestHead) -> Option<Reply> {
    let version = head.header_str(Field::McpProtocolVersion)?;
    if !version::is_modern(version) {
        return None;
    }
    let message =
        format!("Method Not Allowed: protocol version {version} has no GET stream and no sessions");
    Some(
        Error::WrongMethod {
            message,
            allow: "POST",
        }
        .reply(None),
    )
}

#[cfg(test)]
mod tests;
