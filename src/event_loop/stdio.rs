//! The I/O of `mcpd --stdio`: stdin and stdout through mio (non-blocking), handler timers on
//! the wheel. Stdin is read only while the transport wants input, so a reader that stops
//! reading stdout stops mcpd from taking more work instead of growing its memory. Exits when
//! stdin ends and every request has been answered, when the handler ends the session (once
//! what it queued is written), or on SIGTERM/SIGINT; either drain lasts at most the shutdown
//! grace.
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
/// until stdin ends or a stop signal. A handler hosting child processes
/// ([`Handler::processes`], the bridge) is refused at once: this loop runs no children.
pub fn run<H: Handler + 'static>(config: Config, mut handler: H) -> io::Result<()> {
    if handler.processes().is_some() {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "the stdio transport cannot host child processes",
        ));
    }
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
    // When the handler ended the session: what it queued still gets written.
    let mut ended_at: Option<Instant> = None;
    loop {
        let now = Instant::now();
        let drain = Drain {
            eof_at,
            ended_at,
            grace: drain_grace,
        };
        if drain.finished(
            now,
            transport.pending_requests(),
            transport.pending_output().is_empty(),
        ) {
            return Ok(());
        }
        let mut timeout = transport
            .next_deadline()
            .map(|d: Instant| d.saturating_duration_since(now));
        if let Some(at) = drain.since() {
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
            while input_ready && eof_at.is_none() && ended_at.is_none() && transport.wants_input() {
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
        if transport.is_ended() && ended_at.is_none() {
            ended_at = Some(Instant::now());
        }
    }
}

/// When the stdio loop may stop, once stdin or the session has ended.
struct Drain {
    /// When stdin ended.
    eof_at: Option<Instant>,
    /// When the handler ended the session.
    ended_at: Option<Instant>,
    /// How long either end waits for answers to be written (the shutdown grace).
    grace: std::time::Duration,
}

impl Drain {
    /// The earliest end, from which the grace runs.
    fn since(&self) -> Option<Instant> {
        match (self.eof_at, self.ended_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Done: after the session ended, once its output is written; after stdin ended, once
    /// every request is answered and written; either way once the grace has passed.
    fn finished(&self, now: Instant, pending_requests: usize, output_empty: bool) -> bool {
        let Some(since) = self.since() else {
            return false;
        };
        let settled = output_empty && (self.ended_at.is_some() || pending_requests == 0);
        settled || now >= since + self.grace
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn an_ended_session_waits_for_its_output_within_the_grace() {
        let t = Instant::now();
        let grace = Duration::from_secs(5);
        let ended = Drain {
            eof_at: None,
            ended_at: Some(t),
            grace,
        };
        assert!(!ended.finished(t, 0, false), "output still unwritten");
        assert!(
            ended.finished(t, 3, true),
            "written: requests in flight don't hold it"
        );
        assert!(ended.finished(t + grace, 0, false), "the grace is over");
        let eof = Drain {
            eof_at: Some(t),
            ended_at: None,
            grace,
        };
        assert!(!eof.finished(t, 1, true), "stdin ended: answers still owed");
        assert!(eof.finished(t, 0, true));
        let running = Drain {
            eof_at: None,
            ended_at: None,
            grace,
        };
        assert!(!running.finished(t + grace * 10, 0, true));
    }

    /// A backend with child processes (none ever asked for).
    struct Hosting(crate::process::SpawnSpec);

    impl crate::process::ProcessHost for Hosting {
        fn poll_process_action(&mut self) -> Option<crate::process::ProcessAction> {
            None
        }
        fn spawn_spec(&self) -> &crate::process::SpawnSpec {
            &self.0
        }
        fn handle_spawned(&mut self, _: crate::process::ChildId, _: u32, _: Instant) {}
        fn handle_spawn_failed(&mut self, _: crate::process::ChildId, _: &str, _: Instant) {}
        fn stdin_pending(&self, _: crate::process::ChildId) -> &[u8] {
            &[]
        }
        fn handle_stdin_written(&mut self, _: crate::process::ChildId, _: usize) {}
        fn handle_stdout(&mut self, _: crate::process::ChildId, _: &[u8], _: Instant) {}
        fn handle_stdout_closed(&mut self, _: crate::process::ChildId, _: Instant) {}
        fn handle_stderr(&mut self, _: crate::process::ChildId, _: &[u8], _: Instant) {}
        fn handle_exit(
            &mut self,
            _: crate::process::ChildId,
            _: crate::process::ExitKind,
            _: Instant,
        ) {
        }
        fn shutdown(&mut self, _: Instant) {}
    }

    impl Handler for Hosting {
        fn handle_request(
            &mut self,
            _: &mut crate::mcp::Context<'_>,
            _: crate::mcp::RequestHandle,
            _: &str,
            _: Option<crate::mcp::Params>,
        ) {
        }
        fn processes(&mut self) -> Option<&mut dyn crate::process::ProcessHost> {
            Some(self)
        }
    }

    #[test]
    fn a_process_hosting_handler_is_refused_at_once() {
        let spec = crate::process::SpawnSpec {
            program: "true".into(),
            args: Vec::new(),
            env: Vec::new(),
            cwd: None,
        };
        let error = run(Config::default(), Hosting(spec)).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::Unsupported);
        assert!(error.to_string().contains("cannot host child processes"));
    }
}
