//! The only I/O in mcpd: a mio `Poll` over the listener, client sockets and the signal pipe,
//! and the clock. Everything it reads goes into [`Server`]; everything it writes comes from it.
//!
//! Shape (mio's `tcp_server` example): edge-triggered readiness, read and write until
//! `WouldBlock`, writable interest only while bytes are pending, tokens index the server's
//! connection slab, and the poll timeout is the server's next deadline, so an idle server
//! sleeps. After every call into the server its outputs are drained at once, so a connection
//! number the server has freed is never confused with a new socket.
//!
//! The same loop serves the built-in server and the stdio bridge: a bridge adds its child
//! processes as `Sources` (`children`), whose pipes sit in the same `Poll` under tokens of
//! their own and whose exits arrive as SIGCHLD on the signal pipe.

use crate::config::Config;
use crate::log;
use crate::mcp::Handler;
use crate::server::{ConnId, Output, Server};
use crate::sys;

mod children;
pub mod stdio;
use crate::bridge::Bridge;
use mio::event::Event;
use mio::net::{TcpListener, TcpStream};
use mio::unix::pipe;
use mio::{Events, Interest, Poll, Registry, Token};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

const LISTENER: Token = Token(usize::MAX - 1);
const SIGNALS: Token = Token(usize::MAX - 2);

/// Bytes read from a socket per call.
const READ_CHUNK: usize = 64 * 1024;

/// Time in-flight answers get to finish after SIGTERM before the process exits.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Binds `config.host:config.port` and serves until SIGTERM or SIGINT.
pub fn run<H: Handler>(config: Config, handler: H) -> io::Result<()> {
    let addr = listen_addr(&config)?;
    let listener = std::net::TcpListener::bind(addr)?;
    serve(listener, config, handler)
}

/// Binds like [`run`] and serves `config.bridge.command` through the stdio bridge until SIGTERM
/// or SIGINT; every child is ended and reaped before it returns.
pub fn run_bridge(config: Config) -> io::Result<()> {
    let addr = listen_addr(&config)?;
    let listener = std::net::TcpListener::bind(addr)?;
    serve_bridge(listener, config)
}

/// Serves the stdio bridge on an already bound listener until SIGTERM or SIGINT.
pub fn serve_bridge(listener: std::net::TcpListener, config: Config) -> io::Result<()> {
    let bridge = Bridge::new(&config, Instant::now());
    let children = children::Children::new(config.bridge.kill_grace);
    serve_with(listener, config, bridge, children)
}

/// Event sources besides sockets that one loop serves next to the server (the bridge's child
/// processes); `()` is none.
trait Sources<H: Handler> {
    /// Carries out what the backend asked for during the last server call; true when it called
    /// the server again (so its outputs need draining).
    fn pump(&mut self, server: &mut Server<H>, registry: &Registry) -> bool;
    /// A readiness event; false when the token is not one of these sources'.
    fn ready(&mut self, event: &Event, server: &mut Server<H>, registry: &Registry) -> bool;
    /// SIGCHLD arrived: reap.
    fn reap(&mut self, server: &mut Server<H>, registry: &Registry);
    /// Shutdown begins.
    fn stop(&mut self, server: &mut Server<H>);
    /// Something must still finish before the process may exit.
    fn busy(&self) -> bool;
    /// Longest time finishing may take.
    fn grace(&self) -> Duration;
    /// The shutdown deadline passed: end everything now.
    fn abort(&mut self);
}

impl<H: Handler> Sources<H> for () {
    fn pump(&mut self, _: &mut Server<H>, _: &Registry) -> bool {
        false
    }
    fn ready(&mut self, _: &Event, _: &mut Server<H>, _: &Registry) -> bool {
        false
    }
    fn reap(&mut self, _: &mut Server<H>, _: &Registry) {}
    fn stop(&mut self, _: &mut Server<H>) {}
    fn busy(&self) -> bool {
        false
    }
    fn grace(&self) -> Duration {
        Duration::ZERO
    }
    fn abort(&mut self) {}
}

fn listen_addr(config: &Config) -> io::Result<SocketAddr> {
    let ip = config.host.parse().map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid --host {:?}", config.host),
        )
    })?;
    Ok(SocketAddr::new(ip, config.port))
}

/// Serves on an already bound listener until SIGTERM or SIGINT.
pub fn serve<H: Handler>(
    listener: std::net::TcpListener,
    config: Config,
    handler: H,
) -> io::Result<()> {
    serve_with(listener, config, handler, ())
}

fn serve_with<H: Handler, S: Sources<H>>(
    listener: std::net::TcpListener,
    config: Config,
    handler: H,
    sources: S,
) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let local = listener.local_addr()?;
    let mut listener = TcpListener::from_std(listener);
    let poll = Poll::new()?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    let (signal_tx, mut signal_rx) = pipe::new()?;
    sys::install_stop_signals(signal_tx.as_raw_fd())?;
    if !config.bridge.command.is_empty() {
        sys::install_child_signal()?;
    }
    poll.registry()
        .register(&mut signal_rx, SIGNALS, Interest::READABLE)?;
    if let Err(e) = sys::raise_fd_limit() {
        log::warn(format_args!("could not raise the open-file limit: {e}"));
    }
    if !local.ip().is_loopback() && config.auth_token.is_empty() {
        log::warn(format_args!(
            "listening on a non-loopback address {} without --auth-token: anyone who can reach it can use this server",
            local.ip()
        ));
    }
    log::info(format_args!("listening on http://{local}{}", config.path));
    let mut shell = Shell {
        poll,
        server: Server::new(config, handler, Instant::now()),
        sockets: Vec::new(),
        buf: vec![0; READ_CHUNK],
        sources,
    };
    shell.pump();
    let mut events = Events::with_capacity(1024);
    let mut stopping: Option<Stopping> = None;
    loop {
        let now = Instant::now();
        if let Some(stop) = &mut stopping {
            // Answers in flight first (children still serve them), then the sources.
            if !stop.sources_stopped && (shell.server.is_drained() || now >= stop.drained_by) {
                stop.sources_stopped = true;
                stop.deadline = now + shell.sources.grace();
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
        if let Err(e) = shell.poll.poll(&mut events, timeout) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        for event in events.iter() {
            match event.token() {
                LISTENER => shell.accept(&listener),
                SIGNALS => {
                    let mut drain = [0u8; 64];
                    while matches!(signal_rx.read(&mut drain), Ok(n) if n > 0) {}
                    if sys::take_child_exit() {
                        shell.sources.reap(&mut shell.server, shell.poll.registry());
                        shell.pump();
                    }
                    if sys::take_stop_request() && stopping.is_none() {
                        log::info(format_args!("stopping: finishing answers in flight"));
                        shell.poll.registry().deregister(&mut listener)?;
                        let now = Instant::now();
                        let drained_by = now + SHUTDOWN_GRACE;
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
                Token(conn) => {
                    if event.is_readable() || event.is_read_closed() || event.is_error() {
                        shell.read(conn);
                    }
                    if event.is_writable() {
                        shell.write(conn);
                    }
                }
            }
        }
        shell.server.handle_timeout(Instant::now());
        shell.pump();
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

struct Shell<H: Handler, S: Sources<H>> {
    poll: Poll,
    server: Server<H>,
    sockets: Vec<Option<Socket>>,
    buf: Vec<u8>,
    sources: S,
}

struct Socket {
    stream: TcpStream,
    writable: bool,
}

impl<H: Handler, S: Sources<H>> Shell<H, S> {
    fn accept(&mut self, listener: &TcpListener) {
        loop {
            match listener.accept() {
                Ok((mut stream, _peer)) => {
                    let Some(conn) = self.server.handle_connect(Instant::now()) else {
                        drop(stream);
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    if let Err(e) =
                        self.poll
                            .registry()
                            .register(&mut stream, Token(conn), Interest::READABLE)
                    {
                        log::warn(format_args!("register failed: {e}"));
                        self.server.handle_reset(conn, Instant::now());
                        self.pump();
                        continue;
                    }
                    if self.sockets.len() <= conn {
                        self.sockets.resize_with(conn + 1, || None);
                    }
                    self.sockets[conn] = Some(Socket {
                        stream,
                        writable: false,
                    });
                    self.pump();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    log::warn(format_args!("accept failed: {e}"));
                    return;
                }
            }
        }
    }

    /// Reads until `WouldBlock`, EOF, or the server has no room.
    fn read(&mut self, conn: ConnId) {
        loop {
            let room = self.server.input_room(conn).min(self.buf.len());
            if room == 0 {
                return;
            }
            let Some(socket) = self.sockets.get_mut(conn).and_then(Option::as_mut) else {
                return;
            };
            let now;
            match socket.stream.read(&mut self.buf[..room]) {
                Ok(0) => {
                    now = Instant::now();
                    self.server.handle_eof(conn, now);
                    self.pump();
                    return;
                }
                Ok(n) => {
                    now = Instant::now();
                    self.server.handle_input(conn, &self.buf[..n], now);
                    self.pump();
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
            let Some(socket) = self.sockets.get_mut(conn).and_then(Option::as_mut) else {
                return;
            };
            let pending = self.server.pending_output(conn);
            if pending.is_empty() {
                if socket.writable {
                    socket.writable = false;
                    let _ = self.poll.registry().reregister(
                        &mut socket.stream,
                        Token(conn),
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
                Ok(n) => self.server.handle_sent(conn, n, Instant::now()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if !socket.writable {
                        socket.writable = true;
                        let interest = Interest::READABLE | Interest::WRITABLE;
                        let _ = self.poll.registry().reregister(
                            &mut socket.stream,
                            Token(conn),
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
                Output::ResumeRead(conn) => self.read(conn),
                Output::Close(conn) => {
                    if let Some(mut socket) = self.sockets.get_mut(conn).and_then(Option::take) {
                        let _ = self.poll.registry().deregister(&mut socket.stream);
                    }
                }
            }
        }
    }
}
