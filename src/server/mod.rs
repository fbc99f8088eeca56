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
//!
//! This file holds the connection table and the inputs above; the rest is one file per
//! mechanism: `route` (path and method to an answer), `guard` (Host/Origin, CORS, the bearer
//! token), `probe` (`/health`, `/metrics`), `reply` (answers and SSE streams onto the
//! connection), `deadline` (head and keep-alive timeouts), `drain` (listen addresses, accept
//! exhaustion, shutdown refusals), `metrics` (the counters behind `/metrics`).

use crate::config::Config;
use crate::http::{self, ReadEvent, RequestReader, Version};
use crate::id::Slots;
use crate::idmap::IdMap;
use crate::log;
use crate::mcp;
use crate::mcp::handler::Handler;
use crate::mcp::jsonrpc::{self, ErrorObject, Message};
use crate::mcp::transport::{self, Action, Settings, Transport};
use crate::sse::OutboundBuffer;
use crate::timer::{TimerKey, TimerWheel};
use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::Instant;

pub use crate::id::ConnId;

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
    Mcp(transport::Timer),
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
pub struct Server<H: Handler + ?Sized = dyn Handler> {
    config: Config,
    /// The IP addresses of the TCP listeners, for the Host guard (a Unix socket adds none).
    listen_ips: Vec<IpAddr>,
    conns: Slots<Conn>,
    wheel: TimerWheel<TimerEvent>,
    /// The wheel entry of each armed handler timer, so a cancelled one leaves the wheel at
    /// once ([`Action::Disarm`]) instead of holding memory until its deadline.
    handler_timers: IdMap<mcp::dispatch::TimerKey, TimerKey>,
    heartbeat_armed: bool,
    /// Shutting down: no new requests; connections close once their answer is out.
    draining: bool,
    transport: Transport<H>,
    outputs: VecDeque<Output>,
    counters: Counters,
    metrics: Metrics,
    started: Instant,
}

impl<H: Handler + ?Sized> Server<H> {
    /// A server for `config` with `handler` answering MCP requests.
    pub fn new(config: Config, handler: Box<H>, now: Instant) -> Server<H> {
        let listen_ips = vec![config.host];
        let settings = Settings {
            response_mode: config.response_mode,
            replay_bytes: config.limits.replay_buffer_bytes,
            session_timeout: config.limits.session_timeout,
            max_sessions: config.limits.max_sessions,
            instance_id: config.instance_id.clone(),
            eras: crate::mcp::version::Eras::from_list(&config.eras),
            max_listen_uris: config.limits.max_listen_uris,
            caps: crate::mcp::dispatch::Caps::of(&config.limits),
            max_parked_streams: config.limits.max_parked_streams,
        };
        Server {
            listen_ips,
            config,
            conns: Slots::default(),
            wheel: TimerWheel::new(now),
            handler_timers: IdMap::default(),
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

    #[cfg(any(test, fuzzing))]
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
            reader: RequestReader::new(limits.reader()),
            out: OutboundBuffer::new(
                limits.max_outbound_bytes + limits.max_body_bytes + limits.input_slack_bytes,
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
        let cap = self.config.limits.max_head_bytes + self.config.limits.input_slack_bytes;
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

    /// The socket of `conn` took `n` bytes of [`Server::pending_output`]. Takes no time: nothing
    /// here depends on it, and the event loop reads no clock per write.
    pub fn handle_sent(&mut self, conn: ConnId, n: usize) {
        let cap = self.config.limits.max_head_bytes + self.config.limits.input_slack_bytes;
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
        // The event loop calls this every turn and nearly every turn has nothing due: reading
        // the earliest deadline is cheaper than the wheel's conversion of `now` to its clock,
        // and says the same (nothing is due while the earliest deadline is later than now).
        if self.wheel.next_deadline().is_none_or(|due| due > now) {
            return;
        }
        while let Some((_, event)) = self.wheel.poll_expired(now) {
            match event {
                TimerEvent::Conn(conn) => self.conn_timer(conn, now),
                TimerEvent::Heartbeat => self.heartbeat(now),
                TimerEvent::Mcp(timer) => {
                    if let transport::Timer::Handler(key) = timer {
                        self.handler_timers.remove(&key);
                    }
                    self.transport.on_timer(timer, now)
                }
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

    #[cfg(any(test, fuzzing))]
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
                            self.route(conn, &request, now);
                            if let Some(c) = self.conn_mut(conn) {
                                // The next request reuses this one's storage, unless a stream
                                // holds the connection (maybe for hours) until then.
                                if matches!(c.phase, Phase::Reading | Phase::Waiting(_)) {
                                    c.reader.recycle(request);
                                }
                            }
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
                    let entry = self.wheel.insert(at, TimerEvent::Mcp(timer));
                    if let transport::Timer::Handler(key) = timer {
                        self.handler_timers.insert(key, entry);
                    }
                }
                Action::Disarm { timer } => {
                    let transport::Timer::Handler(key) = timer else {
                        continue; // Session expiry checks are lazy: they re-check when due.
                    };
                    if let Some(entry) = self.handler_timers.remove(&key) {
                        self.wheel.cancel(entry);
                    }
                }
            }
        }
    }

    fn resume_if_paused(&mut self, conn: ConnId) {
        let cap = self.config.limits.max_head_bytes + self.config.limits.input_slack_bytes;
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

mod answer;
mod deadline;
mod drain;
mod guard;
mod metrics;
mod probe;
mod reply;
mod route;
pub use answer::{Reply, ReplyBody};
pub use metrics::{Gauges, Metrics};
#[cfg(test)]
mod tests;
