//! The only I/O in mcpd: a mio `Poll` over the listener, client sockets and the signal pipe,
//! and the clock. Everything it reads goes into the connection layer (`server::Server`); everything it writes comes from it.
//!
//! Shape (mio's `tcp_server` example): edge-triggered readiness, read and write until
//! `WouldBlock`, writable interest only while bytes are pending, tokens index the server's
//! connection slab, and the poll timeout is the server's next deadline, so an idle server
//! sleeps. After every call into the server its outputs are drained at once, so a connection
//! number the server has freed is never confused with a new socket. Each listener or socket
//! event goes through `Shell::dispatch` as a `Ready` value, so the tests (`tests.rs`) feed
//! batches in an order they choose instead of the kernel's.
//!
//! The same loop serves every handler: one that hosts child processes (the stdio bridge,
//! through [`crate::process::ProcessHost`]) has them added as `Sources` (`children`), whose
//! pipes sit in the same `Poll` under tokens of their own and whose exits arrive as SIGCHLD on
//! the signal pipe. The loop never names a concrete backend.

use crate::config::Config;
use crate::log;
use crate::mcp::Handler;
use crate::server::{ConnId, Output, Server};
use crate::sys;

mod children;
mod listen;
mod stdio;
use listen::{Listener, Stream};
use mio::event::Event;
use mio::unix::{pipe, SourceFd};
use mio::{Events, Interest, Poll, Registry, Token};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};
pub use stdio::run as run_stdio;

const SIGNALS: Token = Token(usize::MAX - 2);
/// Listener `i` is registered as `LISTENERS + i` (child pipes start at `usize::MAX / 2`).
const LISTENERS: usize = usize::MAX / 4 * 3;

/// After `accept` failed for want of file descriptors (EMFILE, ENFILE), it is retried this
/// often, and whenever a connection closes: the kernel queue gives no new readiness edge by
/// itself, so without a retry the listener would stay silent for good.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);
/// stderr has room again for buffered log lines (see [`crate::log`]).
const STDERR: Token = Token(usize::MAX - 8);

/// Bytes read from a socket per call.
const READ_CHUNK: usize = 64 * 1024;

/// Binds every address `config` names (sockets systemd passed, `--listen`, or
/// `config.host:config.port`) and serves until SIGTERM or SIGINT.
/// A handler that hosts child processes ([`Handler::processes`], the stdio bridge) has them run
/// in the same loop; every child is ended and reaped before this returns.
pub fn run<H: Handler + 'static>(config: Config, handler: H) -> io::Result<()> {
    let listeners = listen::bind_all(&config)?;
    serve_boxed(listeners, config, Box::new(handler))
}

/// Serves `handler`, with its child processes as a source of events when it has any.
fn serve_boxed(
    listeners: Vec<Listener>,
    config: Config,
    mut handler: Box<dyn Handler>,
) -> io::Result<()> {
    log::start(&config);
    if handler.processes().is_some() {
        let children = children::Children::new(&config.bridge);
        return serve_with(listeners, config, handler, children, true);
    }
    serve_with(listeners, config, handler, (), false)
}

/// Event sources besides sockets that one loop serves next to the server (the bridge's child
/// processes); `()` is none.
trait Sources {
    /// Carries out what the backend asked for during the last server call; true when it called
    /// the server again (so its outputs need draining).
    fn pump(&mut self, server: &mut Server, registry: &Registry) -> bool;
    /// A readiness event; false when the token is not one of these sources'.
    fn ready(&mut self, event: &Event, server: &mut Server, registry: &Registry) -> bool;
    /// Whether input was left unread at the end of a turn, for fairness: the loop then polls
    /// without waiting and calls [`Sources::resume`].
    fn has_backlog(&self) -> bool;
    /// Reads on where the last turn stopped.
    fn resume(&mut self, server: &mut Server, registry: &Registry);
    /// SIGCHLD arrived: reap.
    fn reap(&mut self, server: &mut Server, registry: &Registry);
    /// Shutdown begins.
    fn stop(&mut self, server: &mut Server);
    /// Something must still finish before the process may exit.
    fn busy(&self) -> bool;
    /// Longest time finishing may take.
    fn grace(&self) -> Duration;
    /// The shutdown deadline passed: end everything now.
    fn abort(&mut self);
}

impl Sources for () {
    fn pump(&mut self, _: &mut Server, _: &Registry) -> bool {
        false
    }
    fn ready(&mut self, _: &Event, _: &mut Server, _: &Registry) -> bool {
        false
    }
    fn has_backlog(&self) -> bool {
        false
    }
    fn resume(&mut self, _: &mut Server, _: &Registry) {}
    fn reap(&mut self, _: &mut Server, _: &Registry) {}
    fn stop(&mut self, _: &mut Server) {}
    fn busy(&self) -> bool {
        false
    }
    fn grace(&self) -> Duration {
        Duration::ZERO
    }
    fn abort(&mut self) {}
}

/// Writes buffered log lines to stderr without blocking, and polls stderr for room (under
/// `token`) only while lines wait, so a drained stderr never wakes the loop. A stderr that
/// cannot be polled (`/dev/null`) never makes a writer wait anyway.
pub(crate) struct StderrWatch {
    token: Token,
    registered: bool,
}

impl StderrWatch {
    pub(crate) fn new(token: Token) -> StderrWatch {
        StderrWatch {
            token,
            registered: false,
        }
    }

    /// Call once per loop turn, before polling.
    pub(crate) fn flush(&mut self, registry: &Registry) {
        let waiting = log::flush();
        if waiting == self.registered {
            return;
        }
        let Some(fd) = log::writable_fd() else {
            return;
        };
        let mut source = SourceFd(&fd);
        self.registered = if waiting {
            registry
                .register(&mut source, self.token, Interest::WRITABLE)
                .is_ok()
        } else {
            let _ = registry.deregister(&mut source);
            false
        };
    }
}

/// Serves on an already bound listener until SIGTERM or SIGINT.
pub fn serve<H: Handler + 'static>(
    listener: std::net::TcpListener,
    config: Config,
    handler: H,
) -> io::Result<()> {
    serve_boxed(vec![listen::from_std(listener)?], config, Box::new(handler))
}

fn serve_with<S: Sources>(
    mut listeners: Vec<Listener>,
    config: Config,
    handler: Box<dyn Handler>,
    sources: S,
    children: bool,
) -> io::Result<()> {
    let poll = Poll::new()?;
    for (i, listener) in listeners.iter_mut().enumerate() {
        listener.register(poll.registry(), Token(LISTENERS + i))?;
    }
    let (signal_tx, mut signal_rx) = pipe::new()?;
    sys::install_stop_signals(signal_tx.as_raw_fd())?;
    if children {
        sys::install_child_signal()?;
    }
    poll.registry()
        .register(&mut signal_rx, SIGNALS, Interest::READABLE)?;
    if let Err(e) = sys::raise_fd_limit() {
        log::warn(format_args!("could not raise the open-file limit: {e}"));
    }
    for listener in &listeners {
        match listener.tcp_addr() {
            Some(local) if !local.ip().is_loopback() && config.auth_token.is_none() => {
                log::warn(format_args!(
                    "listening on a non-loopback address {} without --auth-token: anyone who can reach it can use this server",
                    local.ip()
                ));
            }
            _ => {}
        }
        log::info(format_args!(
            "listening on {}",
            listener.describe(&config.path)
        ));
    }
    let mut server = Server::new(config, handler, Instant::now());
    server.listening_on(listen::tcp_ips(&listeners));
    let mut shell = Shell::new(poll, server, listeners, sources);
    shell.pump();
    let mut events = Events::with_capacity(1024);
    let mut stopping: Option<Stopping> = None;
    let mut stderr = StderrWatch::new(STDERR);
    loop {
        let now = Instant::now();
        if let Some(stop) = &mut stopping {
            // Answers in flight first (children still serve them), then the sources.
            if !stop.sources_stopped && (shell.server.is_drained() || now >= stop.drained_by) {
                stop.sources_stopped = true;
                stop.deadline = now + shell.sources.grace();
                // Nothing is in flight: from now on new connections are refused.
                shell.close_listeners();
                shell.sources.stop(&mut shell.server);
                shell.pump();
            }
            let idle = stop.sources_stopped && shell.server.is_drained() && !shell.sources.busy();
            if idle || now >= stop.deadline {
                if shell.sources.busy() {
                    shell.sources.abort();
                }
                log::info(format_args!("stopped"));
                return Ok(());
            }
        }
        let mut timeout = shell
            .server
            .next_deadline()
            .map(|d| d.saturating_duration_since(now));
        if let Some(stop) = &stopping {
            let next = if stop.sources_stopped {
                stop.deadline
            } else {
                stop.drained_by
            };
            let left = next.saturating_duration_since(now);
            timeout = Some(timeout.map_or(left, |t| t.min(left)));
        }
        if let Some(retry) = shell.accept_retry {
            let left = retry.saturating_duration_since(now);
            timeout = Some(timeout.map_or(left, |t| t.min(left)));
        }
        if shell.sources.has_backlog() {
            // Only look for what else is ready; the backlog is read on after it.
            timeout = Some(Duration::ZERO);
        }
        // Log lines go out as stderr takes them, never blocking the loop.
        stderr.flush(shell.poll.registry());
        if let Err(e) = shell.poll.poll(&mut events, timeout) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        // The turn's clock (as libuv's loop time): every read of this turn and the timers after
        // it are stamped with the time the poll returned. A clock read costs about 30 ns (vDSO)
        // and was made per socket read; the turn's work moves a deadline by microseconds.
        shell.now = Instant::now();
        if shell.sources.has_backlog() {
            shell
                .sources
                .resume(&mut shell.server, shell.poll.registry());
            shell.pump();
        }
        for event in events.iter() {
            match event.token() {
                STDERR => {}
                Token(t) if (LISTENERS..LISTENERS + shell.listeners.len()).contains(&t) => {
                    shell.dispatch(Ready::Accept(t - LISTENERS));
                }
                SIGNALS => {
                    let mut drain = [0u8; 64];
                    while matches!(signal_rx.read(&mut drain), Ok(n) if n > 0) {}
                    if sys::take_child_exit() {
                        shell.sources.reap(&mut shell.server, shell.poll.registry());
                        shell.pump();
                    }
                    if sys::take_stop_request() && stopping.is_none() {
                        // The listeners stay open while answers in flight finish, so /health
                        // can say "draining" and new work gets a 503 a balancer retries.
                        log::info(format_args!("stopping: finishing answers in flight"));
                        let now = Instant::now();
                        let drained_by = now + shell.server.config().limits.shutdown_grace;
                        let deadline = drained_by + shell.sources.grace();
                        stopping = Some(Stopping {
                            drained_by,
                            deadline,
                            sources_stopped: false,
                        });
                        shell.server.shutdown(now);
                        shell.pump();
                    }
                }
                _ if shell
                    .sources
                    .ready(event, &mut shell.server, shell.poll.registry()) =>
                {
                    shell.pump();
                }
                Token(slot) => {
                    let closed = event.is_read_closed() || event.is_error();
                    shell.dispatch(Ready::Socket {
                        slot,
                        read: event.is_readable() || closed,
                        closed,
                        write: event.is_writable(),
                    })
                }
            }
        }
        shell.server.handle_timeout(shell.now);
        shell.pump();
        shell.retry_accept();
    }
}

/// Where a graceful stop stands.
struct Stopping {
    /// Answers in flight get until then.
    drained_by: Instant,
    /// Everything ends by then at the latest.
    deadline: Instant,
    /// Whether the sources (bridge children) were told to stop.
    sources_stopped: bool,
}

struct Shell<S: Sources> {
    poll: Poll,
    server: Server,
    sockets: SocketTable<Socket>,
    buf: Vec<u8>,
    sources: S,
    listeners: Vec<Listener>,
    /// Set when `accept` ran out of descriptors: retry at this time, or sooner once a
    /// connection closes (`fd_freed`).
    accept_retry: Option<Instant>,
    /// A connection closed since the last accept retry.
    fd_freed: bool,
    /// When the current turn's poll returned: the time given to the server with each read.
    now: Instant,
}

/// The open sockets by slot, each with the id of the connection it carries: an output naming an
/// older connection of the same slot finds nothing.
struct SocketTable<S> {
    slots: Vec<Option<(ConnId, S)>>,
}

impl<S> Default for SocketTable<S> {
    fn default() -> Self {
        SocketTable { slots: Vec::new() }
    }
}

impl<S> SocketTable<S> {
    /// Stores `socket` for `conn`, replacing whatever its slot held.
    fn insert(&mut self, conn: ConnId, socket: S) {
        let slot = conn.slot();
        if self.slots.len() <= slot {
            self.slots.resize_with(slot + 1, || None);
        }
        self.slots[slot] = Some((conn, socket));
    }

    /// The connection whose socket sits in `slot` (a token).
    fn id_at(&self, slot: usize) -> Option<ConnId> {
        self.slots.get(slot)?.as_ref().map(|(id, _)| *id)
    }

    /// The socket of `conn`, if `conn` is still the connection in its slot.
    fn get_mut(&mut self, conn: ConnId) -> Option<&mut S> {
        match self.slots.get_mut(conn.slot())? {
            Some((id, socket)) if *id == conn => Some(socket),
            _ => None,
        }
    }

    /// Takes the socket of `conn` out, if `conn` is still the connection in its slot.
    fn take(&mut self, conn: ConnId) -> Option<S> {
        let entry = self.slots.get_mut(conn.slot())?;
        if entry.as_ref().is_some_and(|(id, _)| *id == conn) {
            return entry.take().map(|(_, socket)| socket);
        }
        None
    }
}

struct Socket {
    stream: Stream,
    writable: bool,
}

/// One readiness event on a listener or a client socket, as [`Shell::dispatch`] carries it out.
/// mio's `Event` cannot be built by hand; this can, so a test orders a batch itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ready {
    /// Listener `index` has connections queued.
    Accept(usize),
    /// The socket registered under `slot` can be read (data, hang-up or error: a read finds out
    /// which) and/or written.
    Socket {
        /// The token: a slot of the server's connection table.
        slot: usize,
        /// Readable, read-closed or failed.
        read: bool,
        /// Read-closed or failed: read until end of stream (a short read otherwise means the
        /// kernel's buffer is empty, and the next bytes bring a new edge).
        closed: bool,
        /// Writable.
        write: bool,
    },
}

impl<S: Sources> Shell<S> {
    fn new(poll: Poll, server: Server, listeners: Vec<Listener>, sources: S) -> Shell<S> {
        Shell {
            poll,
            server,
            sockets: SocketTable::default(),
            buf: vec![0; READ_CHUNK],
            sources,
            listeners,
            accept_retry: None,
            fd_freed: false,
            now: Instant::now(),
        }
    }

    /// Carries out one readiness event, outputs drained after every call into the server.
    fn dispatch(&mut self, ready: Ready) {
        match ready {
            Ready::Accept(index) => self.accept(index),
            Ready::Socket {
                slot,
                read,
                closed,
                write,
            } => {
                // A socket event names a slot; the table says which connection holds it now
                // (an event left over from a closed one is a harmless spurious wake-up).
                let Some(conn) = self.sockets.id_at(slot) else {
                    return;
                };
                if read {
                    self.read(conn, closed);
                }
                if write {
                    self.write(conn);
                    // Writing can finish a closing connection and free its number: carry
                    // out that close now, before a later event in this batch reuses it.
                    self.pump();
                }
            }
        }
    }

    /// Accepts from listener `index` until its queue is empty. Out of descriptors, the rest
    /// wait in the kernel queue and [`Shell::retry_accept`] comes back for them.
    fn accept(&mut self, index: usize) {
        loop {
            let Some(listener) = self.listeners.get(index) else {
                return;
            };
            match listener.accept() {
                Ok(mut stream) => {
                    let Some(conn) = self.server.handle_connect(Instant::now()) else {
                        drop(stream);
                        continue;
                    };
                    if let Err(e) = self.poll.registry().register(
                        &mut stream,
                        Token(conn.slot()),
                        Interest::READABLE,
                    ) {
                        log::warn(format_args!("register failed: {e}"));
                        self.server.handle_reset(conn, Instant::now());
                        self.pump();
                        continue;
                    }
                    self.sockets.insert(
                        conn,
                        Socket {
                            stream,
                            writable: false,
                        },
                    );
                    self.pump();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if out_of_descriptors(&e) => {
                    self.server.handle_accept_exhausted(&e);
                    self.accept_retry = Some(Instant::now() + ACCEPT_RETRY);
                    self.fd_freed = false;
                    return;
                }
                Err(e) => {
                    // Per-connection failures (ECONNABORTED and the like): the next one may work.
                    log::debug(format_args!("accept failed: {e}"));
                }
            }
        }
    }

    /// Accepts again on every listener once the retry time has come or a connection closed.
    fn retry_accept(&mut self) {
        let Some(at) = self.accept_retry else { return };
        if !self.fd_freed && Instant::now() < at {
            return;
        }
        self.accept_retry = None;
        for index in 0..self.listeners.len() {
            self.accept(index);
            if self.accept_retry.is_some() {
                return;
            }
        }
    }

    /// Stops accepting: the listening sockets close (new connections are refused) and their
    /// Unix socket files go.
    fn close_listeners(&mut self) {
        for listener in &mut self.listeners {
            let _ = listener.deregister(self.poll.registry());
        }
        self.listeners.clear();
        self.accept_retry = None;
    }

    /// Reads until `WouldBlock`, EOF, or the server has no room.
    /// Reads what the socket holds into the server. A read shorter than asked means the
    /// kernel's buffer is empty (epoll(7) on stream sockets), so it stops there instead of
    /// paying a system call for `WouldBlock`, unless `to_end`: the peer closed or the socket
    /// failed, and that end must be read now (no later edge announces it).
    fn read(&mut self, conn: ConnId, to_end: bool) {
        loop {
            let room = self.server.input_room(conn).min(self.buf.len());
            if room == 0 {
                return;
            }
            let Some(socket) = self.sockets.get_mut(conn) else {
                return;
            };
            let now = self.now;
            match socket.stream.read(&mut self.buf[..room]) {
                Ok(0) => {
                    self.server.handle_eof(conn, now);
                    self.pump();
                    return;
                }
                Ok(n) => {
                    self.server.handle_input(conn, &self.buf[..n], now);
                    self.pump();
                    if n < room && !to_end {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.server.handle_reset(conn, Instant::now());
                    self.pump();
                    return;
                }
            }
        }
    }

    /// Writes until `WouldBlock` or nothing is pending; writable interest only while blocked.
    fn write(&mut self, conn: ConnId) {
        loop {
            let Some(socket) = self.sockets.get_mut(conn) else {
                return;
            };
            let pending = self.server.pending_output(conn);
            if pending.is_empty() {
                if socket.writable {
                    socket.writable = false;
                    let _ = self.poll.registry().reregister(
                        &mut socket.stream,
                        Token(conn.slot()),
                        Interest::READABLE,
                    );
                }
                return;
            }
            match socket.stream.write(pending) {
                Ok(0) => {
                    self.server.handle_reset(conn, Instant::now());
                    return;
                }
                Ok(n) => self.server.handle_sent(conn, n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if !socket.writable {
                        socket.writable = true;
                        let interest = Interest::READABLE | Interest::WRITABLE;
                        let _ = self.poll.registry().reregister(
                            &mut socket.stream,
                            Token(conn.slot()),
                            interest,
                        );
                    }
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.server.handle_reset(conn, Instant::now());
                    return;
                }
            }
        }
    }

    /// Carries out every queued server output and whatever the backend asked of its sources.
    fn pump(&mut self) {
        loop {
            self.pump_outputs();
            if !self.sources.pump(&mut self.server, self.poll.registry()) {
                return;
            }
        }
    }

    fn pump_outputs(&mut self) {
        while let Some(output) = self.server.poll_output() {
            match output {
                Output::Write(conn) => self.write(conn),
                Output::ResumeRead(conn) => self.read(conn, false),
                Output::Close(conn) => {
                    // A stale id (its slot already holds a newer connection) takes nothing.
                    if let Some(mut socket) = self.sockets.take(conn) {
                        let _ = self.poll.registry().deregister(&mut socket.stream);
                        self.fd_freed = true;
                    }
                }
            }
        }
    }
}

/// Whether an `accept` error means the process or the system has no descriptor to spare (the
/// connection stays queued) rather than a problem with one connection.
fn out_of_descriptors(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

#[cfg(test)]
mod tests;
