//! The sans-IO core: connections, routing, timers, and the MCP transport behind them.
//!
//! The event loop owns sockets and the clock; this type owns everything else. Contract:
//!
//! - inputs: [`Server::handle_connect`] for an accepted socket, [`Server::handle_input`] with the
//!   bytes read (never more than [`Server::input_room`]), [`Server::handle_sent`] with how many
//!   of [`Server::pending_output`] the socket took, [`Server::handle_eof`] when the peer
//!   half-closed, [`Server::handle_reset`] when the socket failed, [`Server::handle_timeout`]
//!   when [`Server::next_deadline`] has passed;
//! - outputs: after every input, drain [`Server::poll_output`] before waiting again, then sleep
//!   until [`Server::next_deadline`].
//!
//! A connection reads one request at a time: while its answer is pending or streaming, later
//! pipelined bytes wait in its bounded input buffer, so answers leave in request order.
//!
//! ```text
//!            request complete            JSON / 202 written
//! Reading ───────────────────► route ────────────────────────► Reading (keep-alive)
//!    ▲                           │ SSE opened        │ deferred JSON
//!    │      stream ended         ▼                   ▼
//!    └──────────────────── Streaming             Waiting ──► Reading
//!  framing error, timeout, Connection: close ──► Closing (flush, then close)
//! ```

use crate::config::Config;
use crate::http::{
    self, BodyFraming, Method, ReadEvent, ReaderLimits, Request, RequestHead, RequestReader,
    Version,
};
use crate::id::Slots;
use crate::log;
use crate::mcp::handler::Handler;
use crate::mcp::jsonrpc::{self, ErrorObject, Message};
use crate::mcp::streamable::{self, Action, Reply, ReplyBody, Settings, Transport};
use crate::sse::{self, OutboundBuffer};
use crate::timer::{TimerKey, TimerWheel};
use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::Instant;

pub use crate::mcp::session::ConnId;

/// Bytes of pipelined input kept beyond a full request head while a connection is busy.
const INPUT_SLACK: usize = 16 * 1024;

/// What the event loop must do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// `conn` has bytes in [`Server::pending_output`].
    Write(ConnId),
    /// Close and forget `conn`; the server already has.
    Close(ConnId),
    /// `conn` has room for input again after [`Server::input_room`] was 0.
    ResumeRead(ConnId),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ConnTimer {
    /// A request has started (or the connection is new) and must be complete by then.
    Request,
    /// Idle keep-alive between requests.
    Idle,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TimerEvent {
    Conn(ConnId),
    Heartbeat,
    Mcp(streamable::Timer),
}

/// How the answer to the request in progress is framed.
#[derive(Clone, Debug)]
struct Exchange {
    version: Version,
    keep_alive: bool,
    headers: Vec<(&'static str, String)>,
}

enum Phase {
    Reading,
    Waiting(Exchange),
    Streaming(Exchange),
    Closing,
}

struct Conn {
    input: Vec<u8>,
    reader: RequestReader,
    out: OutboundBuffer,
    phase: Phase,
    /// The connection's deadline and what happens then; `None` while an answer is pending or
    /// streaming.
    deadline: Option<(Instant, ConnTimer)>,
    /// The wheel entry that wakes the connection, and when. Lazy: it may be due earlier than
    /// `deadline` (it then re-arms itself when it fires), so a keep-alive request costs no
    /// cancellation; it is cancelled only when the deadline moves earlier or the connection goes.
    entry: Option<(TimerKey, Instant)>,
    peer_closed: bool,
    paused: bool,
    write_queued: bool,
}

/// Counters for `/health` and logs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Connections open now.
    pub connections: usize,
    /// Connections refused at the cap since start.
    pub refused: u64,
    /// Requests routed since start.
    pub requests: u64,
}

/// The whole server, minus sockets and clock.
pub struct Server<H: Handler> {
    config: Config,
    /// The IP addresses of the TCP listeners, for the Host guard (a Unix socket adds none).
    listen_ips: Vec<IpAddr>,
    conns: Slots<Conn>,
    wheel: TimerWheel<TimerEvent>,
    heartbeat_armed: bool,
    /// Shutting down: no new requests; connections close once their answer is out.
    draining: bool,
    transport: Transport<H>,
    outputs: VecDeque<Output>,
    counters: Counters,
    metrics: Metrics,
    started: Instant,
}

impl<H: Handler> Server<H> {
    /// A server for `config` with `handler` answering MCP requests.
    pub fn new(config: Config, handler: H, now: Instant) -> Server<H> {
        let listen_ips = config.host.parse().into_iter().collect();
        let settings = Settings {
            response_mode: config.response_mode,
            replay_bytes: config.limits.replay_buffer_bytes,
            session_timeout: config.limits.session_timeout,
            max_sessions: config.limits.max_sessions,
            instance_id: config.instance_id.clone(),
            eras: crate::mcp::version::Eras::from_list(&config.eras),
        };
        Server {
            listen_ips,
            config,
            conns: Slots::default(),
            wheel: TimerWheel::new(now),
            heartbeat_armed: false,
            draining: false,
            transport: Transport::new(handler, settings),
            outputs: VecDeque::new(),
            counters: Counters::default(),
            metrics: Metrics::default(),
            started: now,
        }
    }

    /// The configuration this server runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Counters for `/health`.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// A new connection; `None` when the connection cap is reached (close it at once).
    pub fn handle_connect(&mut self, now: Instant) -> Option<ConnId> {
        if self.counters.connections >= self.config.limits.max_connections {
            self.counters.refused += 1;
            self.metrics.refused += 1;
            if self.counters.refused.is_power_of_two() {
                log::warn(format_args!(
                    "connection limit ({}) reached; {} connections refused so far",
                    self.config.limits.max_connections, self.counters.refused
                ));
            }
            return None;
        }
        let limits = &self.config.limits;
        let conn = Conn {
            input: Vec::new(),
            reader: RequestReader::new(ReaderLimits {
                max_head_bytes: limits.max_head_bytes,
                max_headers: limits.max_headers,
                max_body_bytes: limits.max_body_bytes,
            }),
            out: OutboundBuffer::new(
                limits.max_outbound_bytes + limits.max_body_bytes + INPUT_SLACK,
            ),
            phase: Phase::Reading,
            deadline: None,
            entry: None,
            peer_closed: false,
            paused: false,
            write_queued: false,
        };
        let id = self.conns.insert(conn);
        self.counters.connections += 1;
        self.metrics.accepted += 1;
        self.arm(id, ConnTimer::Request, now);
        Some(id)
    }

    /// How many bytes `conn` can take now; 0 means stop reading until [`Output::ResumeRead`].
    pub fn input_room(&mut self, conn: ConnId) -> usize {
        let cap = self.config.limits.max_head_bytes + INPUT_SLACK;
        let Some(c) = self.conn_mut(conn) else {
            return 0;
        };
        let room = cap.saturating_sub(c.input.len());
        c.paused = room == 0;
        room
    }

    /// Bytes read from `conn`.
    pub fn handle_input(&mut self, conn: ConnId, bytes: &[u8], now: Instant) {
        self.metrics.bytes_in += bytes.len() as u64;
        let Some(c) = self.conn_mut(conn) else { return };
        c.input.extend_from_slice(bytes);
        self.advance(conn, now);
        self.drain_transport(now);
    }

    /// The peer will send no more (read returned 0).
    pub fn handle_eof(&mut self, conn: ConnId, now: Instant) {
        let Some(c) = self.conn_mut(conn) else { return };
        c.peer_closed = true;
        match c.phase {
            Phase::Streaming(_) | Phase::Waiting(_) => self.close(conn, false),
            Phase::Reading => {
                self.advance(conn, now);
                if matches!(self.conn_mut(conn).map(|c| &c.phase), Some(Phase::Reading)) {
                    self.close(conn, true);
                }
            }
            Phase::Closing => {}
        }
        self.drain_transport(now);
    }

    /// The socket failed (reset, broken pipe): forget `conn` now.
    pub fn handle_reset(&mut self, conn: ConnId, now: Instant) {
        self.close(conn, false);
        self.drain_transport(now);
    }

    /// Bytes waiting to be written to `conn`.
    pub fn pending_output(&self, conn: ConnId) -> &[u8] {
        match self.conns.get(conn) {
            Some(c) => c.out.pending(),
            None => &[],
        }
    }

    /// The socket of `conn` took `n` bytes of [`Server::pending_output`].
    pub fn handle_sent(&mut self, conn: ConnId, n: usize, _now: Instant) {
        let cap = self.config.limits.max_head_bytes + INPUT_SLACK;
        self.metrics.bytes_out += n as u64;
        let Some(c) = self.conn_mut(conn) else { return };
        c.out.consume(n);
        c.write_queued = false;
        if !c.out.is_empty() {
            return;
        }
        if matches!(c.phase, Phase::Closing) {
            self.remove(conn);
        } else if c.paused && c.input.len() < cap {
            c.paused = false;
            self.outputs.push_back(Output::ResumeRead(conn));
        }
    }

    /// Time has reached `now`: fire every expired deadline.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((_, event)) = self.wheel.poll_expired(now) {
            match event {
                TimerEvent::Conn(conn) => self.conn_timer(conn, now),
                TimerEvent::Heartbeat => self.heartbeat(now),
                TimerEvent::Mcp(timer) => self.transport.on_timer(timer, now),
            }
            self.drain_transport(now);
        }
    }

    /// Ends every session and closes every connection once its output is flushed (shutdown).
    ///
    /// Graceful: answers in flight still go out (the event loop gives them a grace period);
    /// idle connections and long-lived streams (standalone GET, `subscriptions/listen`,
    /// HTTP+SSE) end now, and every connection closes once its answer is written.
    pub fn shutdown(&mut self, now: Instant) {
        self.draining = true;
        for conn in self.conns.ids() {
            let Some(c) = self.conns.get(conn) else {
                continue;
            };
            let end = match c.phase {
                Phase::Reading => true,
                Phase::Streaming(_) => self.transport.is_long_lived(conn),
                Phase::Waiting(_) | Phase::Closing => false,
            };
            if end {
                self.end_stream_bytes(conn);
                self.close(conn, true);
            }
        }
        self.drain_transport(now);
    }

    /// Whether every answer in flight has gone out since [`Server::shutdown`]: no connection
    /// is waiting for, streaming or flushing an answer, or holds part of a request. Idle
    /// connections (health checks, a balancer's keep-alive pool) do not hold the exit up.
    pub fn is_drained(&self) -> bool {
        self.conns.ids().into_iter().all(|id| {
            self.conns.get(id).is_none_or(|c| {
                matches!(c.phase, Phase::Reading) && c.input.is_empty() && c.reader.is_idle()
            })
        })
    }

    /// The next output to act on.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When [`Server::handle_timeout`] is next due; `None` when nothing is scheduled.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.wheel.next_deadline()
    }

    /// Open connections.
    pub fn connection_count(&self) -> usize {
        self.counters.connections
    }

    fn conn_mut(&mut self, conn: ConnId) -> Option<&mut Conn> {
        self.conns.get_mut(conn)
    }

    /// Reads and answers requests from `conn`'s input while it is free to.
    fn advance(&mut self, conn: ConnId, now: Instant) {
        loop {
            let Some(c) = self.conn_mut(conn) else { return };
            if !matches!(c.phase, Phase::Reading) {
                return;
            }
            let was_idle = c.reader.is_idle() && c.input.is_empty();
            match c.reader.read(&c.input) {
                Ok((consumed, event)) => {
                    c.input.drain(..consumed);
                    match event {
                        Some(ReadEvent::Continue) => {
                            self.push_out(conn, http::CONTINUE);
                        }
                        Some(ReadEvent::Request(request)) => {
                            self.disarm(conn);
                            self.route(conn, request, now);
                            self.resume_if_paused(conn);
                        }
                        None => {
                            if consumed == 0 {
                                let idle = c.input.is_empty() && c.reader.is_idle();
                                if was_idle && !idle || c.deadline.is_none() {
                                    let kind = if idle {
                                        ConnTimer::Idle
                                    } else {
                                        ConnTimer::Request
                                    };
                                    self.arm(conn, kind, now);
                                } else if !idle && matches!(c.deadline, Some((_, ConnTimer::Idle)))
                                {
                                    self.arm(conn, ConnTimer::Request, now);
                                }
                                return;
                            }
                        }
                    }
                }
                Err(error) => {
                    log::debug(format_args!("connection {conn}: {error}"));
                    self.fail(conn, &error);
                    return;
                }
            }
        }
    }

    /// Answers a framing error once and closes (never reads the rest as a new request).
    fn fail(&mut self, conn: ConnId, error: &http::Error) {
        self.metrics.reject(error.status());
        // A JSON-RPC error (no id: no message was read) so MCP clients can show it (DESIGN 5).
        let message = format!("{} {}: {error}", error.status(), error.reason());
        let body = Message::Error {
            id: None,
            error: ErrorObject::new(jsonrpc::INVALID_REQUEST, message),
        }
        .to_json();
        let mut out = Vec::new();
        http::write_response(
            &mut out,
            Version::Http11,
            error.status(),
            &[("Content-Type", "application/json")],
            body.as_bytes(),
            false,
        );
        self.push_out(conn, &out);
        self.close(conn, true);
    }

    fn route(&mut self, conn: ConnId, request: Request, now: Instant) {
        self.counters.requests += 1;
        let Request {
            head,
            body,
            keep_alive,
        } = request;
        let keep_alive = keep_alive && !self.conn_mut(conn).is_some_and(|c| c.peer_closed);
        let mut exchange = Exchange {
            version: head.version,
            keep_alive,
            headers: Vec::new(),
        };
        let path = head.path();
        let under_base = path.strip_prefix(self.config.path.trim_end_matches('/'));
        let probe = path == "/metrics" || path == "/health" || under_base == Some("/health");
        let mcp = path == self.config.path
            || under_base.is_some_and(|rest| rest.starts_with('/'))
            || path == self.config.sse_path
            || path == self.config.messages_path;
        // The DNS-rebinding guard comes first on every route: a rebound page must not read
        // /health or /metrics either (they are readable without a token by default).
        let guarded = self.guard(&head);
        let reply = if let Err(reply) = guarded {
            reply
        } else if probe {
            let authorized = if self.config.public_health {
                Ok(())
            } else {
                self.authorize(&head)
            };
            match (authorized, &head.method) {
                (Err(reply), _) => reply,
                (Ok(()), Method::Get | Method::Head) if path == "/metrics" => {
                    self.metrics_reply(now)
                }
                (Ok(()), Method::Get | Method::Head) => self.health(now),
                (Ok(()), _) => method_not_allowed("GET, HEAD"),
            }
        } else if mcp {
            // Preflights carry no credentials (Fetch standard, CORS-preflight request).
            let authorized = if head.method == Method::Options {
                Ok(())
            } else {
                self.authorize(&head)
            };
            match guarded.and_then(|cors| authorized.map(|()| cors)) {
                Err(reply) => reply,
                Ok(cors) => {
                    if let Some(origin) = cors {
                        exchange
                            .headers
                            .push(("Access-Control-Allow-Origin", origin));
                        exchange
                            .headers
                            .push(("Access-Control-Expose-Headers", "Mcp-Session-Id".into()));
                        exchange.headers.push(("Vary", "Origin".into()));
                    }
                    self.route_mcp(conn, &head, &body, path, now)
                }
            }
        } else {
            Reply::error(
                404,
                None,
                jsonrpc::SERVER_ERROR,
                format!("Not Found: no route for {path}"),
            )
        };
        log::debug(format_args!(
            "{} {} -> {}",
            head.method.as_str(),
            head.target,
            reply.status
        ));
        self.metrics.record(&head.method, reply.status);
        if head.method == Method::Head {
            exchange.keep_alive = false;
        }
        self.write_reply(conn, exchange, reply, now);
    }

    fn route_mcp(
        &mut self,
        conn: ConnId,
        head: &RequestHead,
        body: &[u8],
        path: &str,
        now: Instant,
    ) -> Reply {
        if let Some(reply) = self.refuse_while_draining(head, path) {
            return reply;
        }
        if path == self.config.sse_path {
            return match head.method {
                Method::Get => {
                    let messages = self.config.messages_path.clone();
                    self.transport.open_http_sse(conn, head, &messages, now)
                }
                Method::Options => self.preflight(head),
                _ => method_not_allowed("GET, OPTIONS"),
            };
        }
        if path == self.config.messages_path {
            return match head.method {
                Method::Post => self.transport.post_http_sse(head, body, now),
                Method::Options => self.preflight(head),
                _ => method_not_allowed("POST, OPTIONS"),
            };
        }
        let base = self.config.path.trim_end_matches('/');
        if path == self.config.path {
            return match head.method {
                Method::Post => self.transport.post(conn, head, body, now),
                Method::Get => self.transport.get(conn, head, None, now),
                Method::Delete => self.transport.delete(head, None),
                Method::Options => self.preflight(head),
                _ => method_not_allowed("GET, POST, DELETE, OPTIONS"),
            };
        }
        let rest = &path[base.len()..];
        if let Some(id) = rest
            .strip_prefix("/sse/")
            .filter(|id| !id.is_empty() && !id.contains('/'))
        {
            return match head.method {
                Method::Get => self.transport.get(conn, head, Some(id), now),
                Method::Options => self.preflight(head),
                _ => method_not_allowed("GET, OPTIONS"),
            };
        }
        if let Some(id) = rest
            .strip_prefix("/sessions/")
            .filter(|id| !id.is_empty() && !id.contains('/'))
        {
            return match head.method {
                Method::Delete => self.transport.delete(head, Some(id)),
                Method::Options => self.preflight(head),
                _ => method_not_allowed("DELETE, OPTIONS"),
            };
        }
        Reply::error(
            404,
            None,
            jsonrpc::SERVER_ERROR,
            format!("Not Found: no route for {path}"),
        )
    }

    fn metrics_reply(&self, now: Instant) -> Reply {
        let stats = self.transport.stats();
        let gauges = Gauges {
            connections: self.counters.connections,
            sessions: stats.active_sessions,
            sessions_total: stats.total_sessions,
            streams: stats.open_streams,
            uptime_secs: now.saturating_duration_since(self.started).as_secs_f64(),
        };
        let text = self
            .metrics
            .render(gauges, self.transport.handler().health().as_ref());
        Reply {
            status: 200,
            headers: vec![(
                "Content-Type",
                "text/plain; version=0.0.4; charset=utf-8".into(),
            )],
            body: ReplyBody::Text(text),
        }
    }

    fn health(&self, now: Instant) -> Reply {
        let stats = self.transport.stats();
        let mut body = serde_json::json!({
            "status": "ok",
            "transport": "streamable-http",
            "active_sessions": stats.active_sessions,
            "total_sessions": stats.total_sessions,
            "streams": stats.open_streams,
            "connections": self.counters.connections,
            "uptime": now.saturating_duration_since(self.started).as_secs_f64(),
        });
        if let (Some(serde_json::Value::Object(extra)), Some(fields)) =
            (self.transport.handler().health(), body.as_object_mut())
        {
            fields.extend(extra);
        }
        if self.draining {
            // From SIGTERM on: a balancer's health check takes this instance out of rotation.
            body["status"] = "draining".into();
        }
        let healthy = body["status"] == "ok";
        Reply {
            status: if healthy { 200 } else { 503 },
            headers: Vec::new(),
            body: ReplyBody::Json(body.to_string()),
        }
    }

    /// Writes `reply` on `conn` and moves the connection to its next phase.
    fn write_reply(&mut self, conn: ConnId, exchange: Exchange, reply: Reply, now: Instant) {
        let mut out = Vec::new();
        let mut headers: Vec<(&str, &str)> = Vec::new();
        for (name, value) in exchange.headers.iter().chain(reply.headers.iter()) {
            headers.push((name, value.as_str()));
        }
        let keep_alive = exchange.keep_alive;
        let next = match reply.body {
            ReplyBody::Empty => {
                http::write_response(
                    &mut out,
                    exchange.version,
                    reply.status,
                    &headers,
                    b"",
                    keep_alive,
                );
                None
            }
            ReplyBody::Text(body) => {
                http::write_response(
                    &mut out,
                    exchange.version,
                    reply.status,
                    &headers,
                    body.as_bytes(),
                    keep_alive,
                );
                None
            }
            ReplyBody::Json(body) => {
                headers.push(("Content-Type", "application/json"));
                http::write_response(
                    &mut out,
                    exchange.version,
                    reply.status,
                    &headers,
                    body.as_bytes(),
                    keep_alive,
                );
                None
            }
            ReplyBody::Stream { initial, end } => {
                headers.push(("Content-Type", "text/event-stream"));
                headers.push(("Cache-Control", "no-cache"));
                headers.push(("X-Accel-Buffering", "no"));
                let chunked = exchange.version == Version::Http11;
                let keep = keep_alive && chunked;
                http::write_head(
                    &mut out,
                    exchange.version,
                    reply.status,
                    &headers,
                    BodyFraming::Chunked,
                    keep,
                );
                write_body_bytes(&mut out, chunked, &initial);
                if end {
                    if chunked {
                        http::write_last_chunk(&mut out);
                    }
                    None
                } else {
                    Some(Phase::Streaming(Exchange {
                        keep_alive: keep,
                        ..exchange.clone()
                    }))
                }
            }
            ReplyBody::Deferred => {
                // Headers decided now (the new session's id) go out with the answer later.
                let mut waiting = exchange.clone();
                waiting.headers.extend(reply.headers.iter().cloned());
                Some(Phase::Waiting(waiting))
            }
        };
        self.push_out(conn, &out);
        let streaming = matches!(next, Some(Phase::Streaming(_)));
        match next {
            Some(phase) => {
                if let Some(c) = self.conn_mut(conn) {
                    c.phase = phase;
                }
                if streaming {
                    self.arm_heartbeat(now);
                }
            }
            None => self.finish_exchange(conn, keep_alive, now),
        }
    }

    /// The answer is complete: keep the connection for the next request or close it. The caller
    /// reads on ([`Server::advance`] loops; never recurse, pipelined requests are many).
    fn finish_exchange(&mut self, conn: ConnId, keep_alive: bool, now: Instant) {
        let draining = self.draining;
        let Some(c) = self.conn_mut(conn) else { return };
        if !keep_alive || draining || c.peer_closed && c.input.is_empty() {
            self.close(conn, true);
            return;
        }
        c.phase = Phase::Reading;
        self.arm(conn, ConnTimer::Idle, now);
    }

    fn push_out(&mut self, conn: ConnId, bytes: &[u8]) -> bool {
        let Some(c) = self.conn_mut(conn) else {
            return false;
        };
        if bytes.is_empty() {
            // A Write with nothing pending gets no handle_sent, which would leave write_queued set.
            return true;
        }
        if c.out.push(bytes).is_err() {
            log::warn(format_args!(
                "connection {conn}: outbound buffer full; closing"
            ));
            self.close(conn, false);
            return false;
        }
        if !c.write_queued {
            c.write_queued = true;
            self.outputs.push_back(Output::Write(conn));
        }
        true
    }

    /// The handler, for an event loop that feeds it inputs of its own (child processes); call
    /// [`Server::handle_backend`] afterwards.
    pub fn handler_mut(&mut self) -> &mut H {
        self.transport.handler_mut()
    }

    /// The handler has news from outside a callback: carry it out.
    pub fn handle_backend(&mut self, now: Instant) {
        self.drain_transport(now);
    }

    /// Carries out transport actions for other connections, and arms its timers.
    fn drain_transport(&mut self, now: Instant) {
        self.transport.pump_backend(now);
        while let Some(action) = self.transport.poll_action() {
            match action {
                Action::Event { conn, bytes } => self.stream_bytes(conn, &bytes),
                Action::EndStream { conn } => {
                    self.end_stream(conn, now);
                    self.advance(conn, now);
                }
                Action::Reply { conn, reply } => {
                    let Some(c) = self.conn_mut(conn) else {
                        continue;
                    };
                    let Phase::Waiting(exchange) = std::mem::replace(&mut c.phase, Phase::Reading)
                    else {
                        continue;
                    };
                    self.write_reply(conn, exchange, reply, now);
                    self.advance(conn, now);
                }
                Action::Close { conn } => {
                    self.end_stream_bytes(conn);
                    self.close(conn, true);
                }
                Action::Arm { at, timer } => {
                    self.wheel.insert(at, TimerEvent::Mcp(timer));
                }
            }
        }
    }

    /// Queues SSE bytes on a streaming connection, closing it when its reader has fallen more
    /// than the outbound cap behind (the stream stays resumable from the replay buffer).
    fn stream_bytes(&mut self, conn: ConnId, bytes: &[u8]) {
        let cap = self.config.limits.max_outbound_bytes;
        let Some(c) = self.conn_mut(conn) else { return };
        let Phase::Streaming(exchange) = &c.phase else {
            return;
        };
        if !c.out.is_empty() && c.out.len() + bytes.len() > cap {
            log::warn(format_args!(
                "connection {conn}: SSE reader is {} bytes behind; closing the stream",
                c.out.len()
            ));
            self.metrics.slow_readers_closed += 1;
            self.close(conn, false);
            return;
        }
        let mut framed = Vec::with_capacity(bytes.len() + 16);
        write_body_bytes(&mut framed, exchange.version == Version::Http11, bytes);
        self.push_out(conn, &framed);
    }

    /// Writes the end of a streaming response, if `conn` is streaming.
    fn end_stream_bytes(&mut self, conn: ConnId) -> Option<bool> {
        let c = self.conn_mut(conn)?;
        let Phase::Streaming(exchange) = &c.phase else {
            return None;
        };
        let keep_alive = exchange.keep_alive;
        let chunked = exchange.version == Version::Http11;
        c.phase = Phase::Reading;
        if chunked {
            let mut out = Vec::new();
            http::write_last_chunk(&mut out);
            self.push_out(conn, &out);
        }
        Some(keep_alive)
    }

    fn end_stream(&mut self, conn: ConnId, now: Instant) {
        if let Some(keep_alive) = self.end_stream_bytes(conn) {
            self.finish_exchange(conn, keep_alive, now);
        }
    }

    fn heartbeat(&mut self, now: Instant) {
        self.heartbeat_armed = false;
        let mut any = false;
        for conn in self.conns.ids() {
            if matches!(
                self.conns.get(conn).map(|c| &c.phase),
                Some(Phase::Streaming(_))
            ) {
                any = true;
                self.metrics.heartbeats += 1;
                self.stream_bytes(conn, sse::HEARTBEAT);
            }
        }
        if any {
            self.arm_heartbeat(now);
        }
    }

    fn arm_heartbeat(&mut self, now: Instant) {
        if !self.heartbeat_armed {
            self.heartbeat_armed = true;
            self.wheel
                .insert(now + self.config.limits.heartbeat, TimerEvent::Heartbeat);
        }
    }

    /// A connection's wheel entry fired: act if its deadline has come, else re-arm for it.
    fn conn_timer(&mut self, conn: ConnId, now: Instant) {
        let Some(c) = self.conn_mut(conn) else { return };
        c.entry = None;
        let Some((at, kind)) = c.deadline else { return };
        if at > now {
            let key = self.wheel.insert(at, TimerEvent::Conn(conn));
            if let Some(c) = self.conn_mut(conn) {
                c.entry = Some((key, at));
            }
            return;
        }
        c.deadline = None;
        if !matches!(c.phase, Phase::Reading) {
            return;
        }
        match kind {
            ConnTimer::Idle => self.close(conn, true),
            ConnTimer::Request => {
                if c.input.is_empty() && c.reader.is_idle() {
                    self.close(conn, true);
                } else {
                    self.fail(conn, &http::Error::HeadTimeout);
                }
            }
        }
    }

    /// Sets the connection's deadline; the wheel is touched only if no entry is due by then.
    fn arm(&mut self, conn: ConnId, kind: ConnTimer, now: Instant) {
        let limits = &self.config.limits;
        let at = now
            + match kind {
                ConnTimer::Request => limits.head_timeout,
                ConnTimer::Idle => limits.keep_alive_timeout,
            };
        let Some(c) = self.conns.get_mut(conn) else {
            return;
        };
        c.deadline = Some((at, kind));
        match c.entry {
            Some((_, due)) if due <= at => {}
            Some((key, _)) => {
                self.wheel.cancel(key);
                let key = self.wheel.insert(at, TimerEvent::Conn(conn));
                c.entry = Some((key, at));
            }
            None => {
                let key = self.wheel.insert(at, TimerEvent::Conn(conn));
                c.entry = Some((key, at));
            }
        }
    }

    /// No deadline for now (an answer is pending or streaming); the entry, if any, stays.
    fn disarm(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.get_mut(conn) {
            c.deadline = None;
        }
    }

    fn resume_if_paused(&mut self, conn: ConnId) {
        let cap = self.config.limits.max_head_bytes + INPUT_SLACK;
        let Some(c) = self.conn_mut(conn) else { return };
        if c.paused && c.input.len() < cap {
            c.paused = false;
            self.outputs.push_back(Output::ResumeRead(conn));
        }
    }

    /// Closes `conn`: after its output is flushed when `flush`, else at once.
    fn close(&mut self, conn: ConnId, flush: bool) {
        let Some(c) = self.conn_mut(conn) else { return };
        let streaming = matches!(c.phase, Phase::Streaming(_) | Phase::Waiting(_));
        if flush && !c.out.is_empty() {
            c.phase = Phase::Closing;
            if streaming {
                self.transport.connection_closed(conn);
            }
            self.disarm(conn);
            return;
        }
        self.remove(conn);
    }

    fn remove(&mut self, conn: ConnId) {
        let Some(mut c) = self.conns.remove(conn) else {
            return;
        };
        // A stale timer would find nothing, but it would still hold a wheel entry.
        if let Some((key, _)) = c.entry.take() {
            self.wheel.cancel(key);
        }
        self.counters.connections -= 1;
        self.transport.connection_closed(conn);
        self.outputs.push_back(Output::Close(conn));
    }
}

fn write_body_bytes(out: &mut Vec<u8>, chunked: bool, bytes: &[u8]) {
    if chunked {
        http::write_chunk(out, bytes);
    } else {
        out.extend_from_slice(bytes);
    }
}

fn method_not_allowed(allow: &str) -> Reply {
    Reply::error(405, None, jsonrpc::SERVER_ERROR, "Method Not Allowed")
        .with_header("Allow", allow.to_string())
}

mod drain;
mod guard;
mod metrics;
pub use metrics::{Gauges, Metrics};
#[cfg(test)]
mod tests;
