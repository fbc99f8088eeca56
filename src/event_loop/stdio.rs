//! The I/O of `mcpd --stdio`: stdin through mio (non-blocking), stdout written whole, handler
//! timers on the wheel. Exits when stdin ends and every request has been answered, or on
//! SIGTERM/SIGINT.

use crate::config::Config;
use crate::log;
use crate::mcp::stdio::StdioTransport;
use crate::mcp::Handler;
use crate::sys;
use crate::timer::TimerWheel;
use mio::unix::pipe;
use mio::{Events, Interest, Poll, Token};
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

const STDIN: Token = Token(0);
const SIGNALS: Token = Token(1);

/// Time requests in flight get to finish once stdin has ended.
const DRAIN_GRACE: Duration = Duration::from_secs(5);

/// Serves `handler` over stdin and stdout until stdin ends or a stop signal.
pub fn run(config: Config, handler: Box<dyn Handler>) -> io::Result<()> {
    let mut input = pipe::Receiver::from(io::stdin().as_fd().try_clone_to_owned()?);
    input.set_nonblocking(true)?;
    let mut poll = Poll::new()?;
    poll.registry()
        .register(&mut input, STDIN, Interest::READABLE)?;
    let (signal_tx, mut signal_rx) = pipe::new()?;
    sys::install_stop_signals(signal_tx.as_raw_fd())?;
    poll.registry()
        .register(&mut signal_rx, SIGNALS, Interest::READABLE)?;
    let mut transport = StdioTransport::new(handler, config.limits.max_body_bytes);
    let mut wheel = TimerWheel::new(Instant::now());
    let mut stdout = io::stdout().lock();
    let mut events = Events::with_capacity(16);
    let mut buf = vec![0u8; 64 * 1024];
    let mut eof_at: Option<Instant> = None;
    log::debug(format_args!("serving MCP on stdin/stdout"));
    loop {
        let now = Instant::now();
        if let Some(at) = eof_at {
            if transport.pending_requests() == 0 || now >= at + DRAIN_GRACE {
                return Ok(());
            }
        }
        let mut timeout = wheel
            .next_deadline()
            .map(|d: Instant| d.saturating_duration_since(now));
        if let Some(at) = eof_at {
            let left = (at + DRAIN_GRACE).saturating_duration_since(now);
            timeout = Some(timeout.map_or(left, |t| t.min(left)));
        }
        if let Err(e) = poll.poll(&mut events, timeout) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        for event in events.iter() {
            if event.token() == SIGNALS {
                return Ok(());
            }
            loop {
                match input.read(&mut buf) {
                    Ok(0) => {
                        eof_at.get_or_insert(Instant::now());
                        let _ = poll.registry().deregister(&mut input);
                        break;
                    }
                    Ok(n) => transport.handle_input(&buf[..n], Instant::now()),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            }
        }
        let now = Instant::now();
        while let Some((_, token)) = wheel.poll_expired(now) {
            transport.on_timer(token, now);
        }
        while let Some((at, token)) = transport.poll_timer() {
            wheel.insert(at, token);
        }
        let pending = transport.pending_output();
        if !pending.is_empty() {
            stdout.write_all(pending)?;
            stdout.flush()?;
            let n = pending.len();
            transport.consume_output(n);
        }
    }
}
