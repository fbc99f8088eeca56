//! The I/O of `mcpd --stdio`: stdin and stdout through mio (non-blocking), handler timers on
//! the wheel. Stdin is read only while the transport wants input, so a reader that stops
//! reading stdout stops mcpd from taking more work instead of growing its memory. Exits when
//! stdin ends and every request has been answered, or on SIGTERM/SIGINT.
//!
//! Stdout that is not a pipe or socket (a file, a terminal) cannot be polled usefully; it is
//! written blocking, as such writes finish promptly.

use crate::config::Config;
use crate::log;
use crate::mcp::transport::stdio::StdioTransport;
use crate::mcp::Handler;
use crate::sys;
use mio::unix::pipe;
use mio::{Events, Interest, Poll, Token};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::FileTypeExt;
use std::time::Instant;

const STDIN: Token = Token(0);
const SIGNALS: Token = Token(1);
const STDOUT: Token = Token(2);
const STDERR: Token = Token(3);

/// Where the transport's output goes.
enum Output {
    /// A pipe or socket, non-blocking, polled for writability.
    Polled(pipe::Sender),
    /// A file or terminal, written blocking.
    Blocking(File),
}

impl Output {
    fn open(poll: &Poll) -> io::Result<Output> {
        let fd: OwnedFd = io::stdout().as_fd().try_clone_to_owned()?;
        let file = File::from(fd);
        let kind = file.metadata()?.file_type();
        if !(kind.is_fifo() || kind.is_socket()) {
            return Ok(Output::Blocking(file));
        }
        let mut sender = pipe::Sender::from(OwnedFd::from(file));
        sender.set_nonblocking(true)?;
        poll.registry()
            .register(&mut sender, STDOUT, Interest::WRITABLE)?;
        Ok(Output::Polled(sender))
    }

    /// Writes what it can of `bytes` now; 0 when the stream takes nothing more at the moment.
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let result = match self {
            Output::Polled(sender) => sender.write(bytes),
            Output::Blocking(file) => file.write(bytes),
        };
        match result {
            Ok(0) => Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(0),
            Err(e) => Err(e),
        }
    }
}

/// Serves `handler` over stdin and stdout (the MCP stdio transport, both eras on one stream)
/// until stdin ends or a stop signal.
pub fn run<H: Handler + 'static>(config: Config, handler: H) -> io::Result<()> {
    crate::log::start(&config);
    let mut input = pipe::Receiver::from(io::stdin().as_fd().try_clone_to_owned()?);
    input.set_nonblocking(true)?;
    let mut poll = Poll::new()?;
    poll.registry()
        .register(&mut input, STDIN, Interest::READABLE)?;
    let (signal_tx, mut signal_rx) = pipe::new()?;
    sys::install_stop_signals(signal_tx.as_raw_fd())?;
    poll.registry()
        .register(&mut signal_rx, SIGNALS, Interest::READABLE)?;
    // Time requests in flight get to finish once stdin has ended.
    let drain_grace = config.limits.shutdown_grace;
    let mut transport = StdioTransport::new(Box::new(handler), &config.limits);
    let mut output = Output::open(&poll)?;
    // Edge-triggered: input may be left unread (while the output is behind) until WouldBlock.
    let mut input_ready = true;
    let mut events = Events::with_capacity(16);
    let mut buf = vec![0u8; 64 * 1024];
    let mut eof_at: Option<Instant> = None;
    let mut stderr = super::StderrWatch::new(STDERR);
    log::debug(format_args!("serving MCP on stdin/stdout"));
    loop {
        let now = Instant::now();
        if let Some(at) = eof_at {
            let done = transport.pending_requests() == 0 && transport.pending_output().is_empty();
            if done || now >= at + drain_grace {
                return Ok(());
            }
        }
        let mut timeout = transport
            .next_deadline()
            .map(|d: Instant| d.saturating_duration_since(now));
        if let Some(at) = eof_at {
            let left = (at + drain_grace).saturating_duration_since(now);
            timeout = Some(timeout.map_or(left, |t| t.min(left)));
        }
        stderr.flush(poll.registry());
        if let Err(e) = poll.poll(&mut events, timeout) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        for event in events.iter() {
            match event.token() {
                SIGNALS => return Ok(()),
                STDIN => input_ready = true,
                _ => {}
            }
        }
        loop {
            while input_ready && eof_at.is_none() && transport.wants_input() {
                match input.read(&mut buf) {
                    Ok(0) => {
                        eof_at = Some(Instant::now());
                        let _ = poll.registry().deregister(&mut input);
                    }
                    Ok(n) => transport.handle_input(&buf[..n], Instant::now()),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => input_ready = false,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            let now = Instant::now();
            transport.handle_timeout(now);
            transport.pump_backend(now);
            let mut wrote = 0;
            while !transport.pending_output().is_empty() {
                let n = output.write(transport.pending_output())?;
                if n == 0 {
                    break;
                }
                transport.consume_output(n);
                wrote += n;
            }
            // Writing may have made room for input that is still waiting.
            let more = wrote > 0 && input_ready && eof_at.is_none() && transport.wants_input();
            if !more {
                break;
            }
        }
        if transport.is_ended() {
            return Ok(());
        }
    }
}
