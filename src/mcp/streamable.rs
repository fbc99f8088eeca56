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
        }
    }

    /// The next queued action.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// Counters for `/health`.
    pub fn stats(&self) -> Stats {
        Stats {
            active_sessions: self.sessions.len(),
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
        if self.sessions.len() >= self.settings.max_sessions {
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
        let view = SessionView {
            protocol_version: version::negotiate(requested).to_string(),
            client_capabilities: params.get("capabilities").cloned().unwrap_or(Value::Null),
            client_info: params.get("clientInfo").cloned().unwrap_or(Value::Null),
        };
        let key = SessionKey(self.next_session);
        self.next_session += 1;
        self.total_sessions += 1;
        let id = uuid::Uuid::new_v4().to_string();
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
                let answers = std::mem::take(&mut stream.json_answers);
                let batch = stream.batch;
                if let Some(session) = self.sessions.get_mut(&key) {
                    session.drop_stream(no);
                }
                return json_reply(answers, batch);
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
            stream.push_event(no, jsonrpc::encode(&answer));
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
        log::info(format_args!("session {} ended: {why}", session.id));
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

    /// The handler, for an event loop that feeds it inputs of its own (child processes).
    pub fn handler_mut(&mut self) -> &mut H {
        &mut self.handler
    }

    fn respond(&mut self, request: RequestHandle, outcome: Result<Value, ErrorObject>) {
        let Some(&key) = self.owners.get(&request) else {
            return;
        };
        let Some(session) = self.sessions.get_mut(&key) else {
            return;
        };
        let Some(pending) = session.pending.get(&request).cloned() else {
            return;
        };
        let failed_initialize = !session.initialized && outcome.is_err();
        if !session.initialized {
            if let Ok(result) = &outcome {
                if let Some(v) = result.get("protocolVersion").and_then(Value::as_str) {
                    session.view.protocol_version = v.to_string();
                }
                session.initialized = true;
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
            (Delivery::Undecided | Delivery::Json, true) => {
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
            (Delivery::Json, Some(conn)) => {
                let reply = json_reply(std::mem::take(&mut stream.json_answers), stream.batch);
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

fn json_reply(mut answers: Vec<Value>, batch: bool) -> Reply {
    let body = if batch || answers.len() != 1 {
        jsonrpc::encode(&Value::Array(answers))
    } else {
        jsonrpc::encode(&answers.pop().unwrap_or(Value::Null))
    };
    Reply {
        status: 200,
        headers: Vec::new(),
        body: ReplyBody::Json(body),
    }
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
