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
//! Rules (citations in `shared/research/mcp-spec.md` 2A and "Easy to get wrong"): `Accept` must
//! list JSON and SSE (406), bodies are JSON (415); unparseable 400/-32700; not JSON-RPC
//! 400/-32600; `initialize` makes a session; other requests need `Mcp-Session-Id` (400 when
//! missing, 404 when unknown); a present `MCP-Protocol-Version` must be one we support (400);
//! notifications and responses get 202; batches only for sessions on 2025-03-26.

use super::handler::{
    run_callback, Command, Context, Handler, OutgoingId, Panicked, RequestHandle, SessionKey,
    SessionView,
};
use super::jsonrpc::{self, Body, ErrorObject, Id, Message};
use super::session::{self, ConnId, Delivery, Pending, Session, Stream, StreamNo, STANDALONE};
use super::version;
use crate::config::ResponseMode;
use crate::http::RequestHead;
use crate::log;
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

mod http_sse;
pub mod stateless;

/// Client requests in flight per session; beyond it a request is refused with 503.
pub const MAX_PENDING_PER_SESSION: usize = 256;
/// Our requests to one client awaiting answers; beyond it the handler gets an error at once.
pub const MAX_OUTGOING_PER_SESSION: usize = 256;
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
}

/// The body of a reply to one HTTP request.
#[derive(Debug, PartialEq)]
pub enum ReplyBody {
    /// No body (202, DELETE).
    Empty,
    /// `application/json`.
    Json(String),
    /// `text/event-stream`: the first bytes, and whether the stream already ended.
    Stream {
        /// Events to send right after the head.
        initial: Vec<u8>,
        /// The stream is complete: end the response after `initial`.
        end: bool,
    },
    /// JSON that comes later as [`Action::Reply`] (response mode `json`, answer not ready).
    Deferred,
}

/// The answer to one HTTP request.
#[derive(Debug, PartialEq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Extra headers (`Mcp-Session-Id`, `Retry-After`, `Allow`).
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: ReplyBody,
}

impl Reply {
    /// A JSON-RPC error answer with a given HTTP status.
    pub fn rejection(status: u16, id: Option<Id>, error: ErrorObject) -> Reply {
        let body = Message::Error { id, error }.to_json();
        Reply {
            status,
            headers: Vec::new(),
            body: ReplyBody::Json(body),
        }
    }

    fn empty(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: ReplyBody::Empty,
        }
    }

    /// An HTTP error whose body is a JSON-RPC error (id omitted when unknown: MCP 2025-11-25
    /// schema, "except in error cases where the ID could not be read").
    pub fn error(status: u16, id: Option<Id>, code: i64, message: impl Into<String>) -> Reply {
        let body = Message::Error {
            id,
            error: ErrorObject::new(code, message),
        }
        .to_json();
        Reply {
            status,
            headers: Vec::new(),
            body: ReplyBody::Json(body),
        }
    }

    /// The same reply with one more header.
    pub fn with_header(mut self, name: &'static str, value: String) -> Reply {
        self.headers.push((name, value));
        self
    }
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
}

/// Deadlines the transport asks for. Stale ones are harmless: each is re-checked when it fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// Check whether a session has been idle too long.
    SessionExpiry(SessionKey),
    /// A handler timer.
    Handler {
        /// The session that set it (`None`: set outside any session).
        session: Option<SessionKey>,
        /// The handler's token.
        token: u64,
    },
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
pub struct Transport<H: Handler> {
    handler: H,
    settings: Settings,
    sessions: HashMap<SessionKey, Session>,
    by_id: HashMap<String, SessionKey>,
    owners: HashMap<RequestHandle, SessionKey>,
    attached: HashMap<ConnId, (SessionKey, StreamNo)>,
    next_session: u64,
    next_handle: u64,
    total_sessions: u64,
    actions: VecDeque<Action>,
    /// Open `subscriptions/listen` streams, by their stateless session.
    listeners: HashMap<SessionKey, stateless::Listener>,
    /// Stateless sessions to forget once their request is answered.
    reap: Vec<SessionKey>,
}

enum Accept {
    Json,
    Sse,
}

impl<H: Handler> Transport<H> {
    /// A transport serving `handler`.
    pub fn new(handler: H, settings: Settings) -> Transport<H> {
        Transport {
            handler,
            settings,
            sessions: HashMap::new(),
            by_id: HashMap::new(),
            owners: HashMap::new(),
            attached: HashMap::new(),
            next_session: 1,
            next_handle: 1,
            total_sessions: 0,
            actions: VecDeque::new(),
            listeners: HashMap::new(),
            reap: Vec::new(),
        }
    }

    /// The next queued action.
    pub fn poll_action(&mut self) -> Option<Action> {
        while let Some(key) = self.reap.pop() {
            let done = self.sessions.get(&key).is_some_and(|s| {
                s.ephemeral && s.pending.is_empty() && !self.listeners.contains_key(&key)
            });
            if done {
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
        if !accepts(head, Accept::Json) || !accepts(head, Accept::Sse) {
            return Reply::error(
                406,
                None,
                jsonrpc::SERVER_ERROR,
                "Not Acceptable: Accept must list application/json and text/event-stream",
            );
        }
        if !is_json_content(head) {
            return Reply::error(
                415,
                None,
                jsonrpc::SERVER_ERROR,
                "Unsupported Media Type: Content-Type must be application/json",
            );
        }
        let body = match jsonrpc::parse_body(body) {
            Ok(body) => body,
            Err(e) => {
                return Reply::error(400, None, jsonrpc::PARSE_ERROR, format!("Parse error: {e}"))
            }
        };
        let single = match &body {
            Body::Single(Ok(message)) => Some(message),
            _ => None,
        };
        if stateless::is_stateless(head, single) {
            return self.post_stateless(conn, head, body, now);
        }
        if let Some(reply) = check_protocol_header(head) {
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
        let batch = matches!(body, Body::Batch(_));
        let items = match body {
            Body::Single(Ok(message)) => vec![Ok(message)],
            Body::Single(Err(invalid)) => {
                return Reply::error(
                    400,
                    invalid.id.clone(),
                    jsonrpc::INVALID_REQUEST,
                    invalid.to_error().message,
                )
            }
            Body::Batch(items) => {
                let allowed = self
                    .sessions
                    .get(&key)
                    .is_some_and(|s| version::allows_batches(&s.view.protocol_version));
                if !allowed {
                    return Reply::error(
                        400,
                        None,
                        jsonrpc::INVALID_REQUEST,
                        "Invalid Request: JSON-RPC batches are only accepted on protocol version 2025-03-26",
                    );
                }
                if items.is_empty() {
                    return Reply::error(
                        400,
                        None,
                        jsonrpc::INVALID_REQUEST,
                        "Invalid Request: empty batch",
                    );
                }
                items
            }
        };
        self.exchange(conn, key, items, batch, None, now)
    }

    /// `initialize`: a new session, then the request like any other.
    fn initialize(&mut self, conn: ConnId, body: Body, now: Instant) -> Reply {
        if self.legacy_sessions() >= self.settings.max_sessions {
            log::warn(format_args!(
                "session limit of {} reached",
                self.settings.max_sessions
            ));
            return Reply::error(
                503,
                request_id(&body),
                jsonrpc::SERVER_ERROR,
                format!(
                    "Service Unavailable: the session limit ({}) is reached; raise --max-sessions or retry later",
                    self.settings.max_sessions
                ),
            )
            .with_header("Retry-After", RETRY_AFTER_SECS.to_string());
        }
        let Body::Single(Ok(message)) = body else {
            return Reply::error(400, None, jsonrpc::INVALID_REQUEST, "Invalid Request");
        };
        let params = match &message {
            Message::Request { params, .. } => params.clone().unwrap_or(Value::Null),
            _ => Value::Null,
        };
        let requested = params.get("protocolVersion").and_then(Value::as_str);
        let id = uuid::Uuid::new_v4().to_string();
        let view = SessionView {
            id: id.clone(),
            protocol_version: version::negotiate(requested).to_string(),
            client_capabilities: params.get("capabilities").cloned().unwrap_or(Value::Null),
            client_info: params.get("clientInfo").cloned().unwrap_or(Value::Null),
            param_headers: None,
        };
        let key = SessionKey(self.next_session);
        self.next_session += 1;
        self.total_sessions += 1;
        let session = Session::new(key, id.clone(), view, self.settings.replay_bytes, now);
        self.sessions.insert(key, session);
        self.by_id.insert(id.clone(), key);
        self.arm_expiry(key, now);
        log::info(format_args!("session {id} created"));
        self.exchange(conn, key, vec![Ok(message)], false, Some(id), now)
    }

    /// Runs the messages of one POST in a session and builds its reply.
    fn exchange(
        &mut self,
        conn: ConnId,
        key: SessionKey,
        items: Vec<Result<Message, jsonrpc::Invalid>>,
        batch: bool,
        new_session_id: Option<String>,
        now: Instant,
    ) -> Reply {
        let Some(session) = self.sessions.get_mut(&key) else {
            return Reply::error(404, None, jsonrpc::SERVER_ERROR, "Not Found: session ended");
        };
        session.last_activity = now;
        let mut requests = Vec::new();
        let mut others = Vec::new();
        let mut answers = Vec::new();
        for item in items {
            match item {
                Ok(Message::Request { id, method, .. }) if batch && method == "initialize" => {
                    answers.push(
                        Message::Error {
                            id: Some(id),
                            error: ErrorObject::new(
                                jsonrpc::INVALID_REQUEST,
                                "Invalid Request: initialize must not be batched",
                            ),
                        }
                        .to_value(),
                    )
                }
                Ok(Message::Request { id, method, params }) => requests.push((id, method, params)),
                Ok(other) => others.push(other),
                Err(invalid) => answers.push(
                    Message::Error {
                        id: invalid.id.clone(),
                        error: invalid.to_error(),
                    }
                    .to_value(),
                ),
            }
        }
        if session.pending.len() + requests.len() > MAX_PENDING_PER_SESSION {
            return Reply::error(
                503,
                None,
                jsonrpc::SERVER_ERROR,
                format!("Service Unavailable: {MAX_PENDING_PER_SESSION} requests are already in flight in this session"),
            )
            .with_header("Retry-After", "1".to_string());
        }
        for message in others {
            self.dispatch_other(key, message, now);
        }
        if requests.is_empty() && answers.is_empty() {
            return Reply::empty(202);
        }
        let Some(session) = self.sessions.get_mut(&key) else {
            return Reply::error(404, None, jsonrpc::SERVER_ERROR, "Not Found: session ended");
        };
        let no = session.next_stream;
        session.next_stream += 1;
        let mut stream = Stream::new(Delivery::Undecided, self.settings.replay_bytes);
        stream.batch = batch;
        stream.conn = Some(conn);
        stream.outstanding = requests.len();
        stream.json_answers = answers;
        session.streams.insert(no, stream);
        if self.settings.response_mode == ResponseMode::Sse {
            self.open_sse(key, no);
        }
        let mut handles = Vec::new();
        for (id, method, params) in requests {
            let handle = RequestHandle(self.next_handle);
            self.next_handle += 1;
            if let Some(session) = self.sessions.get_mut(&key) {
                session.pending.insert(
                    handle,
                    Pending {
                        client_id: id,
                        method: method.clone(),
                        stream: no,
                    },
                );
            }
            self.owners.insert(handle, key);
            handles.push((handle, method, params));
        }
        for (handle, method, params) in handles {
            self.call_request(key, handle, &method, params, now);
        }
        let mut reply = self.finish_post(conn, key, no);
        if let Some(id) = new_session_id {
            reply.headers.push(("Mcp-Session-Id", id));
        }
        reply
    }

    /// The reply of a POST once the handler has run: JSON if everything is answered and
    /// nothing else was sent first, otherwise an event stream (or a deferred JSON answer).
    fn finish_post(&mut self, conn: ConnId, key: SessionKey, no: StreamNo) -> Reply {
        let mode = self.settings.response_mode;
        let Some(stream) = self
            .sessions
            .get_mut(&key)
            .and_then(|s| s.streams.get_mut(&no))
        else {
            // The session ended while the handler ran (for example a failed initialize).
            return Reply::error(404, None, jsonrpc::SERVER_ERROR, "Not Found: session ended");
        };
        if stream.delivery == Delivery::Undecided {
            if stream.outstanding == 0 {
                let reply = json_reply(stream);
                if let Some(session) = self.sessions.get_mut(&key) {
                    session.drop_stream(no);
                }
                return reply;
            }
            if mode == ResponseMode::Json {
                stream.delivery = Delivery::Json;
                self.attached.insert(conn, (key, no));
                return Reply {
                    status: 200,
                    headers: Vec::new(),
                    body: ReplyBody::Deferred,
                };
            }
            if let Some(reply) = self.hold_stateless(conn, key, no) {
                return reply;
            }
            self.open_sse(key, no);
        }
        let Some(session) = self.sessions.get_mut(&key) else {
            return Reply::error(404, None, jsonrpc::SERVER_ERROR, "Not Found: session ended");
        };
        let Some(stream) = session.streams.get_mut(&no) else {
            return Reply::error(404, None, jsonrpc::SERVER_ERROR, "Not Found: stream ended");
        };
        let initial = stream.opening.take().unwrap_or_default();
        let end = stream.is_finished(no) || stream.conn.is_none();
        if stream.is_finished(no) {
            session.drop_stream(no);
        } else if stream.conn.is_none() {
            // Closed before its answer (SSE polling): kept for resumption.
        } else {
            self.attached.insert(conn, (key, no));
        }
        Reply {
            status: 200,
            headers: Vec::new(),
            body: ReplyBody::Stream { initial, end },
        }
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
        stream.opening = Some(opening);
        for answer in std::mem::take(&mut stream.json_answers) {
            stream.push_event(no, answer.to_string());
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
            return Reply::error(
                406,
                None,
                jsonrpc::SERVER_ERROR,
                "Not Acceptable: Accept must list text/event-stream",
            );
        }
        if let Some(reply) = refuse_stateless(head) {
            return reply;
        }
        if let Some(reply) = check_protocol_header(head) {
            return reply;
        }
        let key = match self.session_of(head, path_session) {
            Ok(key) => key,
            Err(reply) => return reply,
        };
        let last_event = head.header_str("last-event-id").map(str::to_string);
        let Some(session) = self.sessions.get_mut(&key) else {
            return Reply::error(
                404,
                None,
                jsonrpc::SERVER_ERROR,
                "Not Found: unknown session",
            );
        };
        session.last_activity = now;
        let polling = version::has_sse_polling(&session.view.protocol_version);
        let mut initial = Vec::new();
        let no = match last_event {
            Some(value) => {
                let Some((no, seq)) = session::parse_event_id(&value) else {
                    return Reply::error(
                        400,
                        None,
                        jsonrpc::SERVER_ERROR,
                        "Bad Request: Last-Event-ID was not issued by this server",
                    );
                };
                let Some(stream) = session.streams.get_mut(&no) else {
                    return Reply::error(
                        400,
                        None,
                        jsonrpc::SERVER_ERROR,
                        "Bad Request: the stream of Last-Event-ID can no longer be resumed",
                    );
                };
                if stream.replay_after(no, seq, &mut initial).is_err() {
                    return Reply::error(
                        400,
                        None,
                        jsonrpc::SERVER_ERROR,
                        "Bad Request: events after Last-Event-ID are no longer buffered",
                    );
                }
                if let Some(previous) = stream.conn.replace(conn) {
                    self.attached.remove(&previous);
                    self.actions.push_back(Action::Close { conn: previous });
                }
                no
            }
            None => {
                let Some(stream) = session.streams.get_mut(&STANDALONE) else {
                    return Reply::error(
                        500,
                        None,
                        jsonrpc::INTERNAL_ERROR,
                        "standalone stream missing",
                    );
                };
                if stream.conn.is_some() {
                    return Reply::error(
                        409,
                        None,
                        jsonrpc::SERVER_ERROR,
                        "Conflict: this session already has a standalone stream open",
                    );
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
                stream.conn = Some(conn);
                STANDALONE
            }
        };
        let finished = session.streams.get(&no).is_some_and(|s| s.is_finished(no));
        if finished {
            session.drop_stream(no);
        } else {
            session.detached.retain(|d| *d != no);
            self.attached.insert(conn, (key, no));
        }
        Reply {
            status: 200,
            headers: Vec::new(),
            body: ReplyBody::Stream {
                initial,
                end: finished,
            },
        }
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
        let Some((key, no)) = self.attached.remove(&conn) else {
            return;
        };
        let Some(session) = self.sessions.get_mut(&key) else {
            return;
        };
        let Some(stream) = session.streams.get_mut(&no) else {
            return;
        };
        if stream.conn != Some(conn) {
            return;
        }
        stream.conn = None;
        if session.ephemeral {
            // 2026-07-28: closing the response stream cancels the request.
            let handles: Vec<RequestHandle> = session.pending.keys().copied().collect();
            let now = session.last_activity;
            for handle in handles {
                self.cancel(key, handle, now);
            }
            self.listeners.remove(&key);
            self.end_session(key, "stream closed by the client");
            return;
        }
        if session.http_sse && no == STANDALONE {
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
                let due = session.last_activity + self.settings.session_timeout;
                if session.is_idle() && due <= now {
                    log::info(format_args!("session {} expired", session.id));
                    self.end_session(key, "expired");
                } else {
                    let at = if session.is_idle() {
                        due
                    } else {
                        now + self.settings.session_timeout
                    };
                    self.actions.push_back(Action::Arm { at, timer });
                }
            }
            Timer::Handler { session, token } => {
                if session.is_none_or(|key| self.sessions.contains_key(&key)) {
                    let commands = self.call(session, now, |h, ctx| h.handle_timer(ctx, token));
                    self.apply_in(session, commands, now);
                }
            }
        }
    }

    /// Ends every session (shutdown).
    pub fn end_all(&mut self) {
        let keys: Vec<SessionKey> = self.sessions.keys().copied().collect();
        for key in keys {
            self.end_session(key, "server shutting down");
        }
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
        for conn in session.connections() {
            self.attached.remove(&conn);
            self.actions.push_back(Action::Close { conn });
        }
        for handle in session.pending.keys() {
            self.owners.remove(handle);
        }
        self.listeners.remove(&key);
        if session.ephemeral {
            log::debug(format_args!("stateless request {}: {why}", key.0));
        } else {
            log::info(format_args!("session {} ended: {why}", session.id));
        }
        let now = session.last_activity;
        let _ = self.invoke(None, now, |h, _| h.session_closed(key));
    }

    /// The session a request names: header, or the id in a compatibility path.
    fn session_of(
        &self,
        head: &RequestHead,
        path_session: Option<&str>,
    ) -> Result<SessionKey, Reply> {
        let Some(id) = path_session.or_else(|| head.header_str("mcp-session-id")) else {
            return Err(Reply::error(
                400,
                None,
                jsonrpc::SERVER_ERROR,
                "Bad Request: Mcp-Session-Id header is required",
            ));
        };
        self.by_id.get(id).copied().ok_or_else(|| {
            Reply::error(
                404,
                None,
                jsonrpc::SERVER_ERROR,
                "Not Found: session does not exist or has ended",
            )
        })
    }

    /// Notifications and client responses of a POST.
    fn dispatch_other(&mut self, key: SessionKey, message: Message, now: Instant) {
        match message {
            Message::Notification { method, params } if method == "notifications/cancelled" => {
                let target = params
                    .as_ref()
                    .and_then(|p| p.get("requestId"))
                    .and_then(Id::from_value);
                let handle = target.and_then(|id| {
                    let session = self.sessions.get(&key)?;
                    session
                        .pending
                        .iter()
                        .find(|(_, p)| p.client_id == id)
                        .map(|(h, _)| *h)
                });
                if let Some(handle) = handle {
                    self.cancel(key, handle, now);
                }
            }
            Message::Notification { method, params } => {
                let commands = self.call(Some(key), now, |h, ctx| {
                    h.handle_notification(ctx, &method, params)
                });
                self.apply(key, commands, now);
            }
            Message::Response { id, result } => self.client_answer(key, id, Ok(result), now),
            Message::Error {
                id: Some(id),
                error,
            } => self.client_answer(key, id, Err(error), now),
            Message::Error { id: None, error } => {
                log::debug(format_args!(
                    "client sent an error without id: {}",
                    error.message
                ));
            }
            Message::Request { .. } => {}
        }
    }

    fn client_answer(
        &mut self,
        key: SessionKey,
        id: Id,
        outcome: Result<Value, ErrorObject>,
        now: Instant,
    ) {
        let known = match (&id, self.sessions.get_mut(&key)) {
            (Id::Number(n), Some(session)) => n.as_u64().filter(|n| session.outgoing.remove(n)),
            _ => None,
        };
        let Some(n) = known else {
            log::debug(format_args!(
                "ignoring a client response to unknown id {id}"
            ));
            return;
        };
        let commands = self.call(Some(key), now, |h, ctx| {
            h.handle_response(ctx, OutgoingId(n), outcome)
        });
        self.apply(key, commands, now);
    }

    fn cancel(&mut self, key: SessionKey, handle: RequestHandle, now: Instant) {
        let commands = self.call(Some(key), now, |h, ctx| h.handle_cancel(ctx, handle));
        self.apply(key, commands, now);
        // No answer is due any more (MCP cancellation: the receiver SHOULD NOT respond).
        self.retire(key, handle);
    }

    /// Forgets a pending request and counts its answer as done on its stream.
    fn retire(&mut self, key: SessionKey, handle: RequestHandle) -> Option<Pending> {
        self.owners.remove(&handle);
        let session = self.sessions.get_mut(&key)?;
        let pending = session.pending.remove(&handle)?;
        if let Some(stream) = session.streams.get_mut(&pending.stream) {
            stream.outstanding = stream.outstanding.saturating_sub(1);
        }
        if session.ephemeral && session.pending.is_empty() {
            self.reap.push(key);
        }
        self.finish_stream_if_done(key, pending.stream);
        Some(pending)
    }

    fn call_request(
        &mut self,
        key: SessionKey,
        handle: RequestHandle,
        method: &str,
        params: Option<Value>,
        now: Instant,
    ) {
        let commands = match self.invoke(Some(key), now, |h, ctx| {
            h.handle_request(ctx, handle, method, params)
        }) {
            Ok(commands) => commands,
            Err(Panicked) => {
                let message = format!("Internal error: the handler failed on {method}");
                let error = ErrorObject::new(jsonrpc::INTERNAL_ERROR, message);
                vec![Command::Respond {
                    request: handle,
                    outcome: Err(error),
                }]
            }
        };
        self.apply(key, commands, now);
    }

    /// Runs a callback that answers nothing by itself; a panic only loses what it queued.
    fn call(
        &mut self,
        key: Option<SessionKey>,
        now: Instant,
        f: impl FnOnce(&mut dyn Handler, &mut Context<'_>),
    ) -> Vec<Command> {
        self.invoke(key, now, f).unwrap_or_default()
    }

    fn invoke(
        &mut self,
        key: Option<SessionKey>,
        now: Instant,
        f: impl FnOnce(&mut dyn Handler, &mut Context<'_>),
    ) -> Result<Vec<Command>, Panicked> {
        let mut scratch = 0;
        let (view, next) = match key.and_then(|k| self.sessions.get_mut(&k)) {
            Some(Session {
                view,
                next_outgoing,
                ..
            }) => (Some(&*view), next_outgoing),
            None => (None, &mut scratch),
        };
        run_callback(&mut self.handler, now, key, view, next, f)
    }

    /// Carries out what a handler callback of session `key` queued.
    fn apply(&mut self, key: SessionKey, commands: Vec<Command>, now: Instant) {
        self.apply_in(Some(key), commands, now);
    }

    /// Carries out commands of session `key`; without a session only answers, timers and
    /// nothing else make sense (there is no stream to carry a notification).
    fn apply_in(&mut self, key: Option<SessionKey>, commands: Vec<Command>, now: Instant) {
        let mut refused = Vec::new();
        for command in commands {
            match (command, key) {
                (Command::Respond { request, outcome }, _) => self.respond(request, outcome),
                (
                    Command::Notify {
                        related,
                        method,
                        params,
                    },
                    Some(key),
                ) => {
                    let session = self.sessions.get(&key);
                    let on_request = related
                        .is_some_and(|h| session.is_some_and(|s| s.pending.contains_key(&h)));
                    if session.is_some_and(|s| s.ephemeral) && !on_request {
                        // A stateless request has no standalone stream: server-wide news
                        // goes to the listen streams that asked for it.
                        self.fan_out(&method, &params);
                        continue;
                    }
                    let message = Message::Notification {
                        method,
                        params: Some(params),
                    };
                    self.route(key, related, message.to_json(), false);
                }
                (
                    Command::Request {
                        related,
                        id,
                        method,
                        params,
                    },
                    Some(key),
                ) => {
                    let Some(session) = self.sessions.get_mut(&key) else {
                        continue;
                    };
                    if session.outgoing.len() >= MAX_OUTGOING_PER_SESSION {
                        refused.push((key, id));
                        continue;
                    }
                    session.outgoing.insert(id.0);
                    let message = Message::Request {
                        id: Id::from(id.0),
                        method,
                        params: Some(params),
                    };
                    self.route(key, related, message.to_json(), false);
                }
                (Command::Timer { after, token }, session) => {
                    let timer = Timer::Handler { session, token };
                    self.actions.push_back(Action::Arm {
                        at: now + after,
                        timer,
                    });
                }
                (Command::CloseStream { request }, _) => self.close_stream(request),
                (Command::Overloaded { request, message }, _) => self.refuse(request, message),
                (Command::EndSession, Some(key)) => self.end_session(key, "ended by its backend"),
                (command, None) => {
                    log::debug(format_args!("dropping {command:?}: it needs a session"));
                }
            }
        }
        for (key, id) in refused {
            let error = ErrorObject::new(
                jsonrpc::SERVER_ERROR,
                format!("too many requests to the client in flight ({MAX_OUTGOING_PER_SESSION})"),
            );
            let commands = self.call(Some(key), now, |h, ctx| {
                h.handle_response(ctx, id, Err(error))
            });
            self.apply(key, commands, now);
        }
    }

    /// Carries out what the handler produced outside callbacks ([`Handler::poll_command`]).
    pub fn pump_backend(&mut self, now: Instant) {
        while let Some((key, command)) = self.handler.poll_command() {
            if key.is_some_and(|k| !self.sessions.contains_key(&k)) {
                continue;
            }
            self.apply_in(key, vec![command], now);
        }
    }

    /// The handler, for reading its state.
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// The handler, for an event loop that feeds it inputs of its own (child processes).
    pub fn handler_mut(&mut self) -> &mut H {
        &mut self.handler
    }

    /// An overloaded backend's refusal: 503 if the answer is still plain JSON.
    fn refuse(&mut self, request: RequestHandle, message: String) {
        let stream = self.owners.get(&request).and_then(|key| {
            let session = self.sessions.get_mut(key)?;
            let no = session.pending.get(&request)?.stream;
            session.streams.get_mut(&no)
        });
        if let Some(stream) = stream {
            if stream.delivery != Delivery::Sse {
                stream.http_status = 503;
            }
        }
        let error = ErrorObject::new(
            jsonrpc::SERVER_ERROR,
            format!("Service Unavailable: {message}"),
        );
        self.respond(request, Err(error));
    }

    fn respond(&mut self, request: RequestHandle, mut outcome: Result<Value, ErrorObject>) {
        let Some(&key) = self.owners.get(&request) else {
            return;
        };
        let Some(session) = self.sessions.get_mut(&key) else {
            return;
        };
        let Some(pending) = session.pending.get(&request).cloned() else {
            return;
        };
        let initialize = pending.method == "initialize" && !session.ephemeral;
        let failed_initialize = initialize && outcome.is_err();
        if initialize {
            if let Ok(result) = &outcome {
                if let Some(v) = result.get("protocolVersion").and_then(Value::as_str) {
                    session.view.protocol_version = v.to_string();
                }
                session.initialized = true;
            }
        }
        if session.view.is_modern() {
            match &mut outcome {
                Ok(result) => stateless::decorate_result(&pending.method, result),
                Err(error) => {
                    if let Some(stream) = session.streams.get_mut(&pending.stream) {
                        stream.http_status = stateless::status_for(error.code);
                    }
                }
            }
        }
        let message = match outcome {
            Ok(result) => Message::Response {
                id: pending.client_id,
                result,
            },
            Err(error) => Message::Error {
                id: Some(pending.client_id),
                error,
            },
        };
        self.deliver(key, pending.stream, message.to_json(), true);
        self.retire(key, request);
        if failed_initialize {
            self.end_session(key, "initialize failed");
        }
    }

    /// Sends a non-response message on the stream of `related`, else the standalone stream.
    fn route(
        &mut self,
        key: SessionKey,
        related: Option<RequestHandle>,
        json: String,
        is_response: bool,
    ) {
        let stream = related
            .and_then(|h| self.sessions.get(&key)?.pending.get(&h).map(|p| p.stream))
            .unwrap_or(STANDALONE);
        self.deliver(key, stream, json, is_response);
    }

    fn deliver(&mut self, key: SessionKey, no: StreamNo, json: String, is_response: bool) {
        let json_mode = self.settings.response_mode == ResponseMode::Json;
        let Some(session) = self.sessions.get_mut(&key) else {
            return;
        };
        let delivery = match session.streams.get(&no) {
            Some(stream) => stream.delivery,
            None => {
                log::debug(format_args!("dropping a message for an ended stream {no}"));
                return;
            }
        };
        match (delivery, is_response) {
            (Delivery::Undecided | Delivery::Json | Delivery::Held, true) => {
                if let Some(stream) = session.streams.get_mut(&no) {
                    stream
                        .json_answers
                        .push(serde_json::from_str(&json).unwrap_or(Value::Null));
                }
                return;
            }
            (Delivery::Json, false) | (Delivery::Undecided, false) if json_mode => {
                return self.deliver(key, STANDALONE, json, false);
            }
            (Delivery::Held, false) => return self.stream_held(key, no, json),
            (Delivery::Undecided, false) => self.open_sse(key, no),
            _ => {}
        }
        let Some(stream) = self
            .sessions
            .get_mut(&key)
            .and_then(|s| s.streams.get_mut(&no))
        else {
            return;
        };
        if let Some(bytes) = stream.push_event(no, json) {
            if let Some(conn) = stream.conn {
                self.actions.push_back(Action::Event { conn, bytes });
            }
        }
    }

    /// Ends a POST stream whose answers are all written.
    fn finish_stream_if_done(&mut self, key: SessionKey, no: StreamNo) {
        let Some(session) = self.sessions.get_mut(&key) else {
            return;
        };
        let Some(stream) = session.streams.get_mut(&no) else {
            return;
        };
        if !stream.is_finished(no)
            || stream.delivery == Delivery::Undecided
            || stream.opening.is_some()
        {
            return;
        }
        match (stream.delivery, stream.conn) {
            (Delivery::Json | Delivery::Held, Some(conn)) => {
                let reply = json_reply(stream);
                self.attached.remove(&conn);
                session.drop_stream(no);
                self.actions.push_back(Action::Reply { conn, reply });
            }
            (Delivery::Sse, Some(conn)) => {
                self.attached.remove(&conn);
                session.drop_stream(no);
                self.actions.push_back(Action::EndStream { conn });
            }
            (Delivery::Sse, None) => session.park(no),
            _ => session.drop_stream(no),
        }
    }

    /// SSE polling: ends the connection of a request's stream before its answer.
    fn close_stream(&mut self, request: RequestHandle) {
        let Some(&key) = self.owners.get(&request) else {
            return;
        };
        let Some(session) = self.sessions.get(&key) else {
            return;
        };
        if !version::has_sse_polling(&session.view.protocol_version) {
            return;
        }
        let Some(no) = session.pending.get(&request).map(|p| p.stream) else {
            return;
        };
        if self.settings.response_mode == ResponseMode::Json {
            return;
        }
        self.open_sse(key, no);
        let Some(stream) = self
            .sessions
            .get_mut(&key)
            .and_then(|s| s.streams.get_mut(&no))
        else {
            return;
        };
        let Some(conn) = stream.conn.take() else {
            return;
        };
        if stream.opening.is_none() {
            self.attached.remove(&conn);
            self.actions.push_back(Action::EndStream { conn });
        }
    }
}

/// The JSON answer of a POST whose answers are all collected (an array for a batch).
fn json_reply(stream: &mut Stream) -> Reply {
    let mut answers = std::mem::take(&mut stream.json_answers);
    if answers.is_empty() && !stream.batch {
        // Its one request was cancelled: no JSON-RPC answer is due (MCP cancellation), and an
        // empty array would not be one. 202 says the message was taken and nothing follows.
        return Reply::empty(202);
    }
    let body = if stream.batch || answers.len() != 1 {
        Value::Array(answers).to_string()
    } else {
        answers.pop().unwrap_or(Value::Null).to_string()
    };
    let reply = Reply {
        status: stream.http_status,
        headers: Vec::new(),
        body: ReplyBody::Json(body),
    };
    if stream.http_status == 503 {
        return reply.with_header("Retry-After", RETRY_AFTER_SECS.to_string());
    }
    reply
}

fn request_id(body: &Body) -> Option<Id> {
    match body {
        Body::Single(Ok(Message::Request { id, .. })) => Some(id.clone()),
        _ => None,
    }
}

/// Whether `Accept` admits `kind` (any order; `*/*` and `type/*` count; absent means anything).
fn accepts(head: &RequestHead, kind: Accept) -> bool {
    let (full, range) = match kind {
        Accept::Json => ("application/json", "application/*"),
        Accept::Sse => ("text/event-stream", "text/*"),
    };
    let mut any_field = false;
    for value in head.headers_named("accept") {
        any_field = true;
        let Ok(value) = std::str::from_utf8(value) else {
            continue;
        };
        for item in value.split(',') {
            let media = item.split(';').next().unwrap_or("").trim();
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

fn is_json_content(head: &RequestHead) -> bool {
    head.header_str("content-type")
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("application/json")
        })
        .unwrap_or(false)
}

/// GET and DELETE do not exist in the stateless revision (SH0728 "Backwards compatibility").
fn refuse_stateless(head: &RequestHead) -> Option<Reply> {
    let version = head.header_str("mcp-protocol-version")?;
    if !version::is_modern(version) {
        return None;
    }
    let reply = Reply::error(
        405,
        None,
        jsonrpc::SERVER_ERROR,
        format!("Method Not Allowed: protocol version {version} has no GET stream and no sessions"),
    );
    Some(reply.with_header("Allow", "POST".to_string()))
}

/// A present `MCP-Protocol-Version` must name a revision we support; absent means 2025-03-26.
fn check_protocol_header(head: &RequestHead) -> Option<Reply> {
    let value = head.header("mcp-protocol-version")?;
    let text = std::str::from_utf8(value).unwrap_or("").trim();
    if version::is_supported(text) {
        return None;
    }
    Some(Reply::error(
        400,
        None,
        jsonrpc::SERVER_ERROR,
        format!(
            "Bad Request: unsupported MCP-Protocol-Version {text:?}; supported: {}",
            version::LEGACY.join(", ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin::Builtin;
    use crate::http::{Header, Method, Version};
    use crate::mcp::handler::OutgoingId;
    use crate::sse::{EventReader, ParsedEvent};
    use serde_json::json;

    const BOTH: &str = "application/json, text/event-stream";

    fn head(method: Method, headers: &[(&str, &str)]) -> RequestHead {
        RequestHead {
            method,
            target: "/mcp".into(),
            version: Version::Http11,
            headers: headers
                .iter()
                .map(|(name, value)| Header {
                    name: name.to_string(),
                    value: value.as_bytes().to_vec(),
                })
                .collect(),
        }
    }

    fn events(bytes: &[u8]) -> Vec<ParsedEvent> {
        let mut reader = EventReader::new(1 << 20);
        reader.feed(bytes).unwrap();
        std::iter::from_fn(|| reader.next_event()).collect()
    }

    fn body_json(reply: &Reply) -> Value {
        match &reply.body {
            ReplyBody::Json(text) => serde_json::from_str(text).unwrap(),
            other => panic!("not JSON: {other:?}"),
        }
    }

    fn stream_events(reply: &Reply) -> (Vec<ParsedEvent>, bool) {
        match &reply.body {
            ReplyBody::Stream { initial, end } => (events(initial), *end),
            other => panic!("not a stream: {other:?}"),
        }
    }

    fn header<'a>(reply: &'a Reply, name: &str) -> Option<&'a str> {
        reply
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn request(id: u64, method: &str, params: Value) -> String {
        json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string()
    }

    fn progress_call(id: u64) -> String {
        request(
            id,
            "tools/call",
            json!({"name": "test_tool_with_progress", "arguments": {},
                   "_meta": {"progressToken": format!("p{id}")}}),
        )
    }

    /// A transport with a fake clock that fires the timers it asks for.
    struct Rig<H: Handler> {
        t: Transport<H>,
        now: Instant,
        timers: Vec<(Instant, Timer)>,
        actions: Vec<Action>,
    }

    impl Rig<Builtin> {
        fn new(mode: ResponseMode) -> Rig<Builtin> {
            Rig::with(Builtin::new(), mode, |_| {})
        }
    }

    impl<H: Handler> Rig<H> {
        fn with(handler: H, mode: ResponseMode, f: impl FnOnce(&mut Settings)) -> Rig<H> {
            let mut settings = Settings {
                response_mode: mode,
                replay_bytes: 64 * 1024,
                session_timeout: Duration::from_secs(60),
                max_sessions: 100,
            };
            f(&mut settings);
            Rig {
                t: Transport::new(handler, settings),
                now: Instant::now(),
                timers: Vec::new(),
                actions: Vec::new(),
            }
        }

        fn drain(&mut self) {
            while let Some(action) = self.t.poll_action() {
                match action {
                    Action::Arm { at, timer } => self.timers.push((at, timer)),
                    other => self.actions.push(other),
                }
            }
        }

        fn post_with(&mut self, conn: ConnId, headers: &[(&str, &str)], body: &str) -> Reply {
            let reply = self.t.post(
                conn,
                &head(Method::Post, headers),
                body.as_bytes(),
                self.now,
            );
            self.drain();
            reply
        }

        fn post(&mut self, conn: ConnId, session: &str, body: &str) -> Reply {
            self.post_with(
                conn,
                &[
                    ("Accept", BOTH),
                    ("Content-Type", "application/json"),
                    ("Mcp-Session-Id", session),
                ],
                body,
            )
        }

        fn get(&mut self, conn: ConnId, session: &str, last_event: Option<&str>) -> Reply {
            let mut headers = vec![("Accept", "text/event-stream"), ("Mcp-Session-Id", session)];
            if let Some(last) = last_event {
                headers.push(("Last-Event-ID", last));
            }
            let reply = self
                .t
                .get(conn, &head(Method::Get, &headers), None, self.now);
            self.drain();
            reply
        }

        fn delete(&mut self, session: &str) -> Reply {
            let reply = self
                .t
                .delete(&head(Method::Delete, &[("Mcp-Session-Id", session)]), None);
            self.drain();
            reply
        }

        fn close(&mut self, conn: ConnId) {
            self.t.connection_closed(conn);
            self.drain();
        }

        fn initialize(&mut self, version: &str, capabilities: Value) -> Reply {
            let body = request(
                1,
                "initialize",
                json!({"protocolVersion": version, "capabilities": capabilities,
                       "clientInfo": {"name": "t", "version": "1"}}),
            );
            self.post_with(
                99,
                &[("Accept", BOTH), ("Content-Type", "application/json")],
                &body,
            )
        }

        /// A session on `version`, initialized; its id.
        fn session(&mut self, version: &str) -> String {
            let reply = self.initialize(version, json!({"sampling": {}}));
            assert_eq!(reply.status, 200, "{reply:?}");
            let id = header(&reply, "Mcp-Session-Id").unwrap().to_string();
            let note = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
            assert_eq!(self.post(99, &id, note).status, 202);
            id
        }

        /// Fires every timer due within `d`, in deadline order.
        fn advance(&mut self, d: Duration) {
            let target = self.now + d;
            loop {
                self.timers.sort_by_key(|(at, _)| *at);
                match self.timers.first() {
                    Some((at, _)) if *at <= target => {
                        let (at, timer) = self.timers.remove(0);
                        self.now = self.now.max(at);
                        self.t.on_timer(timer, self.now);
                        self.drain();
                    }
                    _ => break,
                }
            }
            self.now = target;
        }

        /// Events sent to `conn` by actions so far, and whether its stream ended.
        fn sent_to(&self, conn: ConnId) -> (Vec<ParsedEvent>, bool) {
            let mut bytes = Vec::new();
            let mut ended = false;
            for action in &self.actions {
                match action {
                    Action::Event { conn: c, bytes: b } if *c == conn => bytes.extend_from_slice(b),
                    Action::EndStream { conn: c } | Action::Close { conn: c } if *c == conn => {
                        ended = true
                    }
                    _ => {}
                }
            }
            (events(&bytes), ended)
        }
    }

    fn error_of(reply: &Reply) -> (Option<Value>, i64) {
        let body = body_json(reply);
        let code = body["error"]["code"].as_i64().unwrap();
        (body.get("id").cloned(), code)
    }

    #[test]
    fn initialize_creates_a_session_id_header() {
        let mut rig = Rig::new(ResponseMode::Auto);
        let reply = rig.initialize("2025-06-18", json!({}));
        assert_eq!(reply.status, 200);
        let id = header(&reply, "Mcp-Session-Id").unwrap();
        assert!(id.bytes().all(|b| (0x21..=0x7e).contains(&b)));
        assert_eq!(body_json(&reply)["result"]["protocolVersion"], "2025-06-18");
        let other = rig.initialize("1999-01-01", json!({}));
        assert_ne!(header(&other, "Mcp-Session-Id").unwrap(), id);
        assert_eq!(body_json(&other)["result"]["protocolVersion"], "2025-11-25");
        assert_eq!(rig.t.stats().active_sessions, 2);
    }

    #[test]
    fn missing_session_is_400_and_unknown_is_404() {
        let mut rig = Rig::new(ResponseMode::Auto);
        let ping = request(2, "ping", json!({}));
        let reply = rig.post_with(
            1,
            &[("Accept", BOTH), ("Content-Type", "application/json")],
            &ping,
        );
        assert_eq!(reply.status, 400);
        assert_eq!(error_of(&reply), (None, jsonrpc::SERVER_ERROR));
        assert_eq!(rig.post(1, "no-such-session", &ping).status, 404);
        assert_eq!(rig.get(1, "no-such-session", None).status, 404);
        assert_eq!(rig.delete("no-such-session").status, 404);
        let get = rig.t.get(
            1,
            &head(Method::Get, &[("Accept", "text/event-stream")]),
            None,
            rig.now,
        );
        assert_eq!(get.status, 400);
    }

    #[test]
    fn accept_must_admit_json_and_sse_in_any_order() {
        let mut rig = Rig::new(ResponseMode::Auto);
        let id = rig.session("2025-06-18");
        let ping = request(2, "ping", json!({}));
        let cases: [(Option<&str>, u16); 8] = [
            (Some("application/json"), 406),
            (Some("text/event-stream"), 406),
            (Some("text/html"), 406),
            (Some("text/event-stream, application/json"), 200),
            (Some("application/json;q=0.9, text/event-stream;q=0.1"), 200),
            (Some("*/*"), 200),
            (Some("application/*, text/*"), 200),
            (None, 200),
        ];
        for (accept, status) in cases {
            let mut headers = vec![
                ("Content-Type", "application/json"),
                ("Mcp-Session-Id", &id),
            ];
            if let Some(accept) = accept {
                headers.push(("Accept", accept));
            }
            let reply = rig.post_with(1, &headers, &ping);
            assert_eq!(reply.status, status, "Accept {accept:?}: {reply:?}");
            if status == 406 {
                assert_eq!(error_of(&reply), (None, jsonrpc::SERVER_ERROR));
            }
        }
        let get = head(
            Method::Get,
            &[("Accept", "application/json"), ("Mcp-Session-Id", &id)],
        );
        assert_eq!(rig.t.get(2, &get, None, rig.now).status, 406);
    }

    #[test]
    fn body_must_be_declared_json() {
        let mut rig = Rig::new(ResponseMode::Auto);
        let id = rig.session("2025-06-18");
        let ping = request(2, "ping", json!({}));
        for (content_type, status) in [
            (Some("text/plain"), 415),
            (Some("application/jsonx"), 415),
            (None, 415),
            (Some("application/json; charset=utf-8"), 200),
            (Some("Application/JSON"), 200),
        ] {
            let mut headers = vec![("Accept", BOTH), ("Mcp-Session-Id", &id)];
            if let Some(ct) = content_type {
                headers.push(("Content-Type", ct));
            }
            let reply = rig.post_with(1, &headers, &ping);
            assert_eq!(reply.status, status, "{content_type:?}");
        }
    }

    #[test]
    fn parse_error_is_400_without_id() {
        let mut rig = Rig::new(ResponseMode::Auto);
        let id = rig.session("2025-06-18");
        let reply = rig.post(1, &id, "{\"jsonrpc\":\"2.0\",\"id\":1,");
        assert_eq!(reply.status, 400);
        assert_eq!(error_of(&reply), (None, jsonrpc::PARSE_ERROR));
        // Before any session check: an unparseable initialize is a parse error too.
        let reply = rig.post_with(
            1,
            &[("Accept", BOTH), ("Content-Type", "application/json")],
            "not json",
        );
        assert_eq!(error_of(&reply), (None, jsonrpc::PARSE_ERROR));
    }

    #[test]
    fn invalid_request_is_400_keeping_a_readable_id() {
        let mut rig = Rig::new(ResponseMode::Auto);
        let id = rig.session("2025-06-18");
        for (body, want) in [
            (
                r#"{"jsonrpc":"2.0","id":"abc","method":5}"#,
                Some(json!("abc")),
            ),
            (
                r#"{"jsonrpc":"1.0","id":7,"method":"ping"}"#,
                Some(json!(7)),
            ),
            (r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#, None),
            (r#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#, None),
            ("42", None),
        ] {
            let reply = rig.post(1, &id, body);
            assert_eq!(reply.status, 400, "{body}");
            assert_eq!(error_of(&reply), (want, jsonrpc::INVALID_REQUEST), "{body}");
        }
    }

    #[test]
    fn notifications_and_responses_get_202_without_body() {
        let mut rig = Rig::new(ResponseMode::Auto);
        let id = rig.session("2025-06-18");
        for body in [
            r#"{"jsonrpc":"2.0","method":"notifications/roots/list_changed"}"#,
            r#"{"jsonrpc":"2.0","id":12345,"result":{}}"#,
            r#"{"jsonrpc":"2.0","id":12345,"error":{"code":-1,"message":"x"}}"#,
        ] {
            assert_eq!(rig.post(1, &id, body), Reply::empty(202), "{body}");
        }
    }

    #[test]
    fn batch_on_2025_03_26_answers_an_array() {
        let mut rig = Rig::new(ResponseMode::Auto);
        let id = rig.session("2025-03-26");
        let batch = format!(
            "[{},{},{}]",
            request(2, "ping", json!({})),
            r#"{"jsonrpc":"2.0","method":"notifications/roots/list_changed"}"#,
            request(3, "tools/list", json!({}))
        );
        let reply = rig.post(1, &id, &batch);
        assert_eq!(reply.status, 200);
        let answers = body_json(&reply);
        let ids: Vec<&Value> = answers
            .as_array()
            .unwrap()
            .iter()
            .map(|a| &a["id"])
            .collect();
        assert_eq!(ids, [&json!(2), &json!(3)]);
        let notes = r#"[{"jsonrpc":"2.0","method":"notifications/roots/list_changed"}]"#;
        assert_eq!(rig.post(1, &id, notes).status, 202);
        assert_eq!(rig.post(1, &id, "[]").status, 400);
        // A batch of one request is still answered with an array.
        let one = format!("[{}]", request(4, "ping", json!({})));
        assert!(body_json(&rig.post(1, &id, &one)).is_array());
    }

    #[test]
    fn batch_on_2025_06_18_is_400() {
        let mut rig = Rig::new(ResponseMode::Auto);
        let id = rig.session("2025-06-18");
        let batch = format!("[{}]", request(2, "ping", json!({})));
        let reply = rig.post(1, &id, &batch);
        assert_eq!(reply.status, 400);
        assert_eq!(error_of(&reply), (None, jsonrpc::INVALID_REQUEST));
    }

    #[test]
    fn initialize_in_a_batch_is_an_error_element() {
        let mut rig = Rig::new(ResponseMode::Auto);
        let id = rig.session("2025-03-26");
        let batch = format!(
            "[{},{},{}]",
            request(5, "initialize", json!({"protocolVersion": "2025-03-26"})),
            request(6, "ping", json!({})),
            r#"{"jsonrpc":"2.0","id":"x","method":false}"#
        );
        let reply = rig.post(1, &id, &batch);
        assert_eq!(reply.status, 200);
        let answers = body_json(&reply);
        let answers = answers.as_array().unwrap();
        assert_eq!(answers.len(), 3);
        let by_id = |want: Value| answers.iter().find(|a| a["id"] == want).unwrap();
        assert_eq!(by_id(json!(5))["error"]["code"], jsonrpc::INVALID_REQUEST);
        assert_eq!(by_id(json!("x"))["error"]["code"], jsonrpc::INVALID_REQUEST);
        assert_eq!(by_id(json!(6))["result"], json!({}));
        assert_eq!(rig.t.stats().total_sessions, 1);
    }

    #[test]
    fn protocol_header_must_name_a_supported_revision() {
        let mut rig = Rig::new(ResponseMode::Auto);
        let id = rig.session("2025-11-25");
        let ping = request(2, "ping", json!({}));
        for (version, status) in [
            ("1999-01-01", 400),
            ("2026-07-28", 400),
            ("garbage", 400),
            ("2025-11-25", 200),
            ("2025-03-26", 200),
        ] {
            let headers = [
                ("Accept", BOTH),
                ("Content-Type", "application/json"),
                ("Mcp-Session-Id", id.as_str()),
                ("MCP-Protocol-Version", version),
            ];
            let reply = rig.post_with(1, &headers, &ping);
            assert_eq!(reply.status, status, "{version}");
        }
        let get = head(
            Method::Get,
            &[
                ("Accept", "text/event-stream"),
                ("Mcp-Session-Id", &id),
                ("MCP-Protocol-Version", "1999-01-01"),
            ],
        );
        // A version that is not a handshake revision selects the stateless era, which has no GET.
        assert_eq!(rig.t.get(2, &get, None, rig.now).status, 405);
    }

    #[test]
    fn auto_mode_answers_json_when_ready_and_sse_when_streaming() {
        let mut rig = Rig::new(ResponseMode::Auto);
        let id = rig.session("2025-06-18");
        let reply = rig.post(1, &id, &request(2, "tools/list", json!({})));
        assert!(matches!(reply.body, ReplyBody::Json(_)));
        let reply = rig.post(2, &id, &progress_call(3));
        let (first, end) = stream_events(&reply);
        assert!(!end);
        assert_eq!(first.len(), 1, "progress 0 before the head leaves");
        assert!(first[0].data.contains("notifications/progress"));
        rig.advance(Duration::from_millis(100));
        let (rest, ended) = rig.sent_to(2);
        assert!(ended);
        assert_eq!(rest.len(), 3);
        let last: Value = serde_json::from_str(&rest[2].data).unwrap();
        assert_eq!(last["id"], 3);
        assert_eq!(rig.t.stats().open_streams, 0);
    }

    #[test]
    fn json_mode_defers_and_sends_notifications_to_the_standalone_stream() {
        let mut rig = Rig::new(ResponseMode::Json);
        let id = rig.session("2025-06-18");
        let standalone = rig.get(7, &id, None);
        assert_eq!(standalone.status, 200);
        let reply = rig.post(2, &id, &progress_call(3));
        assert_eq!(reply.body, ReplyBody::Deferred);
        rig.advance(Duration::from_millis(100));
        let deferred: Vec<&Reply> = rig
            .actions
            .iter()
            .filter_map(|a| match a {
                Action::Reply { conn: 2, reply } => Some(reply),
                _ => None,
            })
            .collect();
        assert_eq!(deferred.len(), 1);
        assert_eq!(body_json(deferred[0])["id"], 3);
        let (notes, ended) = rig.sent_to(7);
        assert!(!ended);
        assert_eq!(notes.len(), 3);
        assert!(notes
            .iter()
            .all(|e| e.data.contains("notifications/progress")));
    }

    #[test]
    fn sse_mode_always_streams() {
        let mut rig = Rig::new(ResponseMode::Sse);
        let id = rig.session("2025-06-18");
        let reply = rig.post(1, &id, &request(2, "ping", json!({})));
        let (events, end) = stream_events(&reply);
        assert!(end);
        assert_eq!(events.len(), 1);
        assert_eq!(
            serde_json::from_str::<Value>(&events[0].data).unwrap()["id"],
            2
        );
        assert_eq!(
            rig.post(1, &id, r#"{"jsonrpc":"2.0","method":"x"}"#).status,
            202
        );
    }

    #[test]
    fn priming_event_only_from_2025_11_25() {
        for (version, primed) in [("2025-06-18", false), ("2025-11-25", true)] {
            let mut rig = Rig::new(ResponseMode::Sse);
            let id = rig.session(version);
            let (events, _) = stream_events(&rig.post(1, &id, &request(2, "ping", json!({}))));
            let first = &events[0];
            assert_eq!(first.data.is_empty(), primed, "{version}");
            if primed {
                assert_eq!(first.retry, Some(session::RETRY_MS));
                assert!(first.id.as_deref().unwrap().ends_with("-0"));
                assert_eq!(events.len(), 2);
            }
            let (standalone, _) = stream_events(&rig.get(3, &id, None));
            assert_eq!(!standalone.is_empty(), primed, "{version} GET");
        }
    }

    #[test]
    fn event_ids_are_unique_and_name_their_stream() {
        let mut rig = Rig::new(ResponseMode::Auto);
        let id = rig.session("2025-11-25");
        let mut ids = Vec::new();
        for conn in [1, 2, 3] {
            let reply = rig.post(conn, &id, &progress_call(conn as u64 + 10));
            ids.extend(stream_events(&reply).0.into_iter().map(|e| (conn, e.id)));
        }
        rig.advance(Duration::from_millis(100));
        for conn in [1, 2, 3] {
            ids.extend(rig.sent_to(conn).0.into_iter().map(|e| (conn, e.id)));
        }
        assert_eq!(ids.len(), 3 * 5, "priming, three progress, result");
        let mut seen = std::collections::HashSet::new();
        for (conn, event_id) in &ids {
            let event_id = event_id.clone().unwrap();
            let (stream, _) = session::parse_event_id(&event_id).unwrap();
            let stream_of_conn = ids
                .iter()
                .find(|(c, _)| c == conn)
                .and_then(|(_, e)| session::parse_event_id(e.as_deref()?))
                .unwrap()
                .0;
            assert_eq!(stream, stream_of_conn, "{event_id} names its stream");
            assert!(seen.insert(event_id.clone()), "{event_id} repeated");
        }
    }

    #[test]
    fn resumption_replays_exactly_that_stream() {
        let mut rig = Rig::new(ResponseMode::Auto);
        let id = rig.session("2025-06-18");
        let (a, _) = stream_events(&rig.post(1, &id, &progress_call(21)));
        let (b, _) = stream_events(&rig.post(2, &id, &progress_call(22)));
        let a_first = a[0].id.clone().unwrap();
        let b_first = b[0].id.clone().unwrap();
        rig.close(1);
        rig.advance(Duration::from_millis(100));
        let (b_rest, b_ended) = rig.sent_to(2);
        assert!(b_ended && b_rest.len() == 3);
        assert!(
            rig.sent_to(1).0.is_empty(),
            "nothing goes to a closed connection"
        );
        let reply = rig.get(5, &id, Some(&a_first));
        assert_eq!(reply.status, 200);
        let (replayed, end) = stream_events(&reply);
        assert!(end, "A is complete: replay then end");
        let prefix = a_first.split('-').next().unwrap().to_string() + "-";
        assert_eq!(replayed.len(), 3);
        assert!(replayed
            .iter()
            .all(|e| e.id.as_ref().unwrap().starts_with(&prefix)));
        let last: Value = serde_json::from_str(&replayed[2].data).unwrap();
        assert_eq!(last["id"], 21);
        // B finished on its connection and is gone; foreign ids are refused.
        assert_eq!(rig.get(6, &id, Some(&b_first)).status, 400);
        assert_eq!(rig.get(6, &id, Some("99-1")).status, 400);
        assert_eq!(rig.get(6, &id, Some("not-an-id")).status, 400);
    }

    #[test]
    fn reconnection_tool_answer_arrives_on_resumed_get() {
        let mut rig = Rig::new(ResponseMode::Auto);
        let id = rig.session("2025-11-25");
        let call = request(
            2,
            "tools/call",
            json!({"name": "test_reconnection", "arguments": {}}),
        );
        let (primed, end) = stream_events(&rig.post(1, &id, &call));
        assert!(end, "the POST stream ends after priming");
        assert_eq!(primed.len(), 1);
        assert!(primed[0].data.is_empty());
        rig.advance(Duration::from_millis(200));
        let reply = rig.get(2, &id, primed[0].id.as_deref());
        let (events, end) = stream_events(&reply);
        assert!(end);
        assert_eq!(events.len(), 1);
        let answer: Value = serde_json::from_str(&events[0].data).unwrap();
        assert_eq!(answer["id"], 2);
        assert!(answer["result"].is_object());
    }

    #[test]
    fn second_standalone_get_is_409() {
        let mut rig = Rig::new(ResponseMode::Auto);
        let id = rig.session("2025-06-18");
        assert_eq!(rig.get(1, &id, None).status, 200);
        let second = rig.get(2, &id, None);
        assert_eq!(second.status, 409);
        assert_eq!(error_of(&second), (None, jsonrpc::SERVER_ERROR));
        rig.close(1);
        assert_eq!(rig.get(2, &id, None).status, 200);
    }

    #[test]
    fn delete_ends_the_session_and_its_streams() {
        let mut rig = Rig::new(ResponseMode::Auto);
        let id = rig.session("2025-06-18");
        assert_eq!(rig.get(4, &id, None).status, 200);
        assert_eq!(rig.delete(&id), Reply::empty(200));
        assert!(rig.actions.contains(&Action::Close { conn: 4 }));
        assert_eq!(rig.post(1, &id, &request(2, "ping", json!({}))).status, 404);
        assert_eq!(rig.get(5, &id, None).status, 404);
        assert_eq!(rig.delete(&id).status, 404);
        assert_eq!(rig.t.stats().active_sessions, 0);
    }

    #[test]
    fn idle_session_expires_after_the_timeout() {
        let mut rig = Rig::with(Builtin::new(), ResponseMode::Auto, |s| {
            s.session_timeout = Duration::from_secs(1)
        });
        let id = rig.session("2025-06-18");
        rig.advance(Duration::from_millis(900));
        assert_eq!(rig.post(1, &id, &request(2, "ping", json!({}))).status, 200);
        rig.advance(Duration::from_millis(900));
        assert_eq!(
            rig.t.stats().active_sessions,
            1,
            "activity restarts the clock"
        );
        rig.advance(Duration::from_millis(100));
        assert_eq!(rig.t.stats().active_sessions, 0);
        assert_eq!(rig.post(1, &id, &request(3, "ping", json!({}))).status, 404);
    }

    #[test]
    fn session_with_a_request_in_flight_does_not_expire() {
        let mut rig = Rig::with(Builtin::new(), ResponseMode::Auto, |s| {
            s.session_timeout = Duration::from_secs(1)
        });
        let id = rig.session("2025-06-18");
        let call = request(
            2,
            "tools/call",
            json!({"name": "test_sampling", "arguments": {"prompt": "hi"}}),
        );
        let (asked, _) = stream_events(&rig.post(1, &id, &call));
        let asked: Value = serde_json::from_str(&asked[0].data).unwrap();
        assert_eq!(asked["method"], "sampling/createMessage");
        rig.advance(Duration::from_secs(10));
        assert_eq!(rig.t.stats().active_sessions, 1);
        let answer = json!({"jsonrpc": "2.0", "id": asked["id"],
            "result": {"role": "assistant", "content": {"type": "text", "text": "ok"}, "model": "m"}});
        assert_eq!(rig.post(2, &id, &answer.to_string()).status, 202);
        assert!(rig.sent_to(1).1, "the call's stream ended with its answer");
        rig.advance(Duration::from_secs(2));
        assert_eq!(rig.t.stats().active_sessions, 0);
    }

    #[test]
    fn session_with_an_open_stream_does_not_expire() {
        let mut rig = Rig::with(Builtin::new(), ResponseMode::Auto, |s| {
            s.session_timeout = Duration::from_secs(1)
        });
        let id = rig.session("2025-06-18");
        assert_eq!(rig.get(1, &id, None).status, 200);
        rig.advance(Duration::from_secs(10));
        assert_eq!(rig.t.stats().active_sessions, 1);
        rig.close(1);
        rig.advance(Duration::from_secs(2));
        assert_eq!(rig.t.stats().active_sessions, 0);
    }

    #[test]
    fn session_cap_is_503_with_retry_after() {
        let mut rig = Rig::with(Builtin::new(), ResponseMode::Auto, |s| s.max_sessions = 2);
        let first = rig.session("2025-06-18");
        rig.session("2025-06-18");
        let reply = rig.initialize("2025-06-18", json!({}));
        assert_eq!(reply.status, 503);
        assert_eq!(header(&reply, "Retry-After"), Some("5"));
        let body = body_json(&reply);
        assert_eq!(body["id"], 1);
        assert_eq!(body["error"]["code"], jsonrpc::SERVER_ERROR);
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--max-sessions"));
        assert_eq!(rig.t.stats().total_sessions, 2);
        rig.delete(&first);
        assert_eq!(rig.initialize("2025-06-18", json!({})).status, 200);
    }

    /// Builtin, except that `boom` panics.
    struct Explosive(Builtin);

    impl Handler for Explosive {
        fn handle_request(
            &mut self,
            ctx: &mut Context<'_>,
            request: RequestHandle,
            method: &str,
            params: Option<Value>,
        ) {
            if method == "boom" {
                ctx.respond(request, Ok(json!({"lost": true})));
                panic!("boom");
            }
            self.0.handle_request(ctx, request, method, params)
        }

        fn handle_notification(
            &mut self,
            ctx: &mut Context<'_>,
            method: &str,
            params: Option<Value>,
        ) {
            self.0.handle_notification(ctx, method, params)
        }

        fn handle_response(
            &mut self,
            ctx: &mut Context<'_>,
            id: OutgoingId,
            outcome: Result<Value, ErrorObject>,
        ) {
            self.0.handle_response(ctx, id, outcome)
        }

        fn handle_timer(&mut self, ctx: &mut Context<'_>, token: u64) {
            self.0.handle_timer(ctx, token)
        }
    }

    #[test]
    fn handler_panic_fails_only_that_request() {
        let mut rig = Rig::with(Explosive(Builtin::new()), ResponseMode::Auto, |_| {});
        let id = rig.session("2025-06-18");
        let reply = rig.post(1, &id, &request(2, "boom", json!({})));
        assert_eq!(reply.status, 200);
        let body = body_json(&reply);
        assert_eq!(body["id"], 2);
        assert_eq!(body["error"]["code"], jsonrpc::INTERNAL_ERROR);
        assert!(
            body.get("result").is_none(),
            "what the panicking callback queued is dropped"
        );
        let ping = rig.post(1, &id, &request(3, "ping", json!({})));
        assert_eq!(body_json(&ping)["result"], json!({}));
    }

    #[test]
    fn cancelled_request_gets_no_answer_and_its_stream_ends() {
        let mut rig = Rig::new(ResponseMode::Auto);
        let id = rig.session("2025-06-18");
        let (first, _) = stream_events(&rig.post(1, &id, &progress_call(7)));
        assert_eq!(first.len(), 1);
        let cancel = json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                            "params": {"requestId": 7, "reason": "test"}});
        assert_eq!(rig.post(2, &id, &cancel.to_string()).status, 202);
        rig.advance(Duration::from_millis(500));
        let (later, ended) = rig.sent_to(1);
        assert!(later.is_empty(), "{later:?}");
        assert!(ended);
        assert_eq!(rig.t.stats().open_streams, 0);
        // Cancelling an id that is not in flight changes nothing.
        let stray = json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                           "params": {"requestId": 7}});
        assert_eq!(rig.post(2, &id, &stray.to_string()).status, 202);
    }

    #[test]
    fn cancelled_json_mode_request_is_answered_202_not_an_empty_array() {
        let mut rig = Rig::new(ResponseMode::Json);
        let id = rig.session("2025-06-18");
        assert_eq!(
            rig.post(1, &id, &progress_call(7)).body,
            ReplyBody::Deferred
        );
        let cancel = json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                            "params": {"requestId": 7}});
        assert_eq!(rig.post(2, &id, &cancel.to_string()).status, 202);
        let deferred = rig.actions.iter().find_map(|a| match a {
            Action::Reply { conn: 1, reply } => Some(reply),
            _ => None,
        });
        let reply = deferred.expect("the waiting POST gets its answer");
        assert_eq!((reply.status, &reply.body), (202, &ReplyBody::Empty));
    }

    #[test]
    fn compatibility_paths_name_the_session() {
        let mut rig = Rig::new(ResponseMode::Auto);
        let id = rig.session("2025-06-18");
        let get = head(Method::Get, &[("Accept", "text/event-stream")]);
        assert_eq!(rig.t.get(1, &get, Some(&id), rig.now).status, 200);
        assert_eq!(
            rig.t.delete(&head(Method::Delete, &[]), Some(&id)).status,
            200
        );
        assert_eq!(
            rig.t.delete(&head(Method::Delete, &[]), Some(&id)).status,
            404
        );
    }

    /// Headers and `_meta` of a stateless (2026-07-28) request for `method`.
    fn stateless_post(
        rig: &mut Rig<Builtin>,
        conn: ConnId,
        id: u64,
        method: &str,
        mut params: Value,
        name: Option<&str>,
    ) -> Reply {
        params["_meta"]["io.modelcontextprotocol/protocolVersion"] = json!("2026-07-28");
        params["_meta"]["io.modelcontextprotocol/clientCapabilities"] = json!({});
        let mut headers = vec![
            ("Accept", BOTH),
            ("Content-Type", "application/json"),
            ("MCP-Protocol-Version", "2026-07-28"),
            ("Mcp-Method", method),
        ];
        if let Some(name) = name {
            headers.push(("Mcp-Name", name));
        }
        rig.post_with(conn, &headers, &request(id, method, params))
    }

    #[test]
    fn stateless_request_leaves_no_session_behind() {
        let mut rig = Rig::new(ResponseMode::Auto);
        let reply = stateless_post(&mut rig, 1, 5, "tools/list", json!({}), None);
        assert_eq!(reply.status, 200);
        assert!(header(&reply, "Mcp-Session-Id").is_none());
        assert_eq!(body_json(&reply)["result"]["resultType"], "complete");
        assert!(
            rig.t.sessions.is_empty(),
            "the one-request session is reaped"
        );
        assert_eq!(rig.t.stats().active_sessions, 0);
    }

    #[test]
    fn closing_a_stateless_stream_cancels_and_forgets_the_request() {
        let mut rig = Rig::new(ResponseMode::Auto);
        let mut params = json!({"name": "test_tool_with_progress", "arguments": {}});
        params["_meta"] = json!({"progressToken": 1});
        let reply = stateless_post(
            &mut rig,
            1,
            5,
            "tools/call",
            params,
            Some("test_tool_with_progress"),
        );
        let (events, ended) = stream_events(&reply);
        assert_eq!(
            (events.len(), ended),
            (1, false),
            "first progress, no priming"
        );
        rig.close(1);
        assert!(rig.t.sessions.is_empty());
        rig.advance(Duration::from_secs(1));
        let (later, _) = rig.sent_to(1);
        assert!(
            later.is_empty(),
            "nothing is sent for a cancelled request: {later:?}"
        );
    }

    #[test]
    fn listen_streams_get_only_the_notifications_they_asked_for() {
        let mut rig = Rig::new(ResponseMode::Auto);
        let tools = json!({"notifications": {"toolsListChanged": true}});
        let reply = stateless_post(&mut rig, 1, 70, "subscriptions/listen", tools, None);
        let (ack, ended) = stream_events(&reply);
        assert!(!ended);
        assert!(ack[0]
            .data
            .contains("notifications/subscriptions/acknowledged"));
        let prompts = json!({"notifications": {"promptsListChanged": true}});
        stateless_post(&mut rig, 2, 71, "subscriptions/listen", prompts, None);
        let trigger = json!({"name": "test_trigger_tool_change", "arguments": {}});
        let reply = stateless_post(
            &mut rig,
            3,
            72,
            "tools/call",
            trigger,
            Some("test_trigger_tool_change"),
        );
        assert_eq!(reply.status, 200);
        let (to_tools, _) = rig.sent_to(1);
        let (to_prompts, _) = rig.sent_to(2);
        assert_eq!(to_tools.len(), 1, "{to_tools:?}");
        assert!(to_tools[0]
            .data
            .contains("notifications/tools/list_changed"));
        assert!(to_tools[0]
            .data
            .contains("\"io.modelcontextprotocol/subscriptionId\":70"));
        assert!(to_prompts.is_empty(), "{to_prompts:?}");
        rig.close(1);
        assert_eq!(
            rig.t.listeners.len(),
            1,
            "a closed listen stream is forgotten"
        );
    }
}
