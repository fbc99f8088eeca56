//! One child process as the bridge sees it: its lifecycle, its bounded stdin buffer, its stdout
//! cut into messages, its stderr cut into log lines with a bounded tail, and the routing table
//! of the messages in flight through it.
//!
//! ```text
//!          handle_spawned             stop (SIGTERM)            handle_exit
//! Starting ──────────────► Running ─────────────────► Stopping ─────────────► Exited
//!    │ spawn failed           │ handle_exit              │ grace over: SIGKILL
//!    └────────────────────────┴──────────────► Exited ◄──┘ (once)
//! ```
//!
//! Not here: deciding when to stop a child (the [`super::Bridge`] does), I/O (the event loop).

use super::route::Routes;
use crate::config::BridgeLimits;
use crate::lines::LineFramer;
use crate::mcp::SessionKey;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::time::Instant;

pub use crate::process::{ChildId, ExitKind};

/// Where a child is in its life.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// The event loop was asked to spawn it.
    Starting,
    /// The process runs.
    Running {
        /// Its pid, which is also its process group id.
        pid: u32,
    },
    /// SIGTERM was sent (or will be, once spawned); SIGKILL follows at `kill_at`.
    Stopping {
        /// Its pid, once known.
        pid: Option<u32>,
        /// When the grace ends.
        kill_at: Instant,
        /// SIGKILL was sent.
        killed: bool,
    },
    /// Reaped; nothing of it is left.
    Exited(ExitKind),
}

/// A message did not fit the stdin buffer: the child is not reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StdinFull;

/// One child process and everything in flight through it.
#[derive(Debug)]
pub struct Child {
    /// Its id.
    pub id: ChildId,
    /// The session it serves; `None` for the shared child.
    pub owner: Option<SessionKey>,
    /// Whom it serves, for logs ("session `<id>`", "shared").
    pub label: String,
    /// Its lifecycle state.
    pub state: State,
    /// Why mcpd ended it, when it did (for the error its pending requests get).
    pub failure: Option<String>,
    /// Requests in flight through it, both ways.
    pub routes: Routes,
    /// Stdout lines dropped because they were not JSON-RPC (the log shows only some).
    pub dropped_lines: u64,
    /// How many of its stderr lines reach the log.
    pub stderr_limit: crate::log::RateLimit,
    stdin: Vec<u8>,
    stdin_cap: usize,
    stdin_closed: bool,
    stdout: LineFramer,
    stderr: LineFramer,
    tail: VecDeque<String>,
    /// Stderr lines kept in `tail` ([`BridgeLimits::stderr_tail_lines`]).
    tail_lines: usize,
    /// Stderr lines per second logged, for the report of the rest.
    stderr_per_sec: u64,
}

impl Child {
    /// A child about to be spawned, within `limits`. Its stdin buffer holds
    /// `max(limits.stdin_buffer_bytes, max_message + 1)` bytes, so an empty buffer always takes
    /// one message of the size clients may send.
    pub fn new(
        id: ChildId,
        owner: Option<SessionKey>,
        max_message: usize,
        limits: &BridgeLimits,
    ) -> Child {
        Child {
            id,
            owner,
            label: String::new(),
            state: State::Starting,
            failure: None,
            routes: Routes::default(),
            dropped_lines: 0,
            stderr_limit: crate::log::RateLimit::new(
                limits.stderr_lines_per_sec,
                limits.stderr_burst_lines,
            ),
            stdin: Vec::new(),
            stdin_cap: limits.stdin_buffer_bytes.max(max_message.saturating_add(1)),
            stdin_closed: false,
            stdout: LineFramer::new(max_message),
            stderr: LineFramer::truncating(limits.stderr_line_bytes),
            tail: VecDeque::new(),
            tail_lines: limits.stderr_tail_lines,
            stderr_per_sec: limits.stderr_lines_per_sec,
        }
    }

    /// The pid (and process group id) while the process may still run.
    pub fn pid(&self) -> Option<u32> {
        match self.state {
            State::Running { pid } => Some(pid),
            State::Stopping { pid, .. } => pid,
            State::Starting | State::Exited(_) => None,
        }
    }

    /// Whether new work may be sent to it.
    pub fn accepts_work(&self) -> bool {
        matches!(self.state, State::Starting | State::Running { .. })
    }

    /// Whether it still counts against `--max-children` (not reaped yet).
    pub fn is_alive(&self) -> bool {
        !matches!(self.state, State::Exited(_))
    }

    /// Queues one message (without its newline) for stdin; `Err` when it does not fit.
    /// Returns whether the buffer was empty before, so the caller can ask for a write.
    pub fn send(&mut self, message: &[u8]) -> Result<bool, StdinFull> {
        if self.stdin_closed || !self.accepts_work() {
            return Ok(false);
        }
        if self.stdin.len() + message.len() + 1 > self.stdin_cap {
            return Err(StdinFull);
        }
        let was_empty = self.stdin.is_empty();
        self.stdin.extend_from_slice(message);
        self.stdin.push(b'\n');
        Ok(was_empty)
    }

    /// Bytes waiting for the child's stdin.
    pub fn stdin_pending(&self) -> &[u8] {
        if self.stdin_closed {
            &[]
        } else {
            &self.stdin
        }
    }

    /// The pipe took `n` bytes of [`Child::stdin_pending`].
    pub fn stdin_written(&mut self, n: usize) {
        self.stdin.drain(..n.min(self.stdin.len()));
    }

    /// Stdin is (to be) closed: nothing more is written.
    pub fn close_stdin(&mut self) {
        self.stdin_closed = true;
        self.stdin = Vec::new();
    }

    /// Feeds stdout bytes; take messages with [`Child::next_stdout_line`].
    pub fn push_stdout(&mut self, bytes: &[u8]) {
        self.stdout.push(bytes);
    }

    /// The next stdout line, or the report of one over the message limit.
    pub fn next_stdout_line(&mut self) -> Option<Result<Vec<u8>, crate::lines::LineTooLong>> {
        self.stdout.next_line()
    }

    /// Feeds stderr bytes; returns the complete lines (cut at
    /// [`BridgeLimits::stderr_line_bytes`]) for the log, and keeps the last
    /// [`BridgeLimits::stderr_tail_lines`].
    pub fn push_stderr(&mut self, bytes: &[u8]) -> Vec<String> {
        self.stderr.push(bytes);
        let mut lines = Vec::new();
        while let Some(Ok(line)) = self.stderr.next_line() {
            let line = String::from_utf8_lossy(&line).into_owned();
            if self.tail.len() >= self.tail_lines {
                self.tail.pop_front();
            }
            self.tail.push_back(line.clone());
            lines.push(line);
        }
        lines
    }

    /// Logs how many stderr lines the rate limit kept out of the log since the last report.
    pub fn report_suppressed(&mut self) {
        let n = self.stderr_limit.take_suppressed();
        if n > 0 {
            crate::log::warn(format_args!(
                "{} ({}) stderr: {n} lines not logged (over {} lines/s; {} in all)",
                self.id,
                self.label,
                self.stderr_per_sec,
                self.stderr_limit.total_suppressed()
            ));
        }
    }

    /// The last lines of stderr, oldest first.
    pub fn stderr_tail(&self) -> Vec<String> {
        self.tail.iter().cloned().collect()
    }

    /// Running → Stopping: returns the pid to send SIGTERM to now (`None` while the spawn is
    /// still pending: the signal goes out in [`Child::spawned`]). A no-op once stopping.
    pub fn stop(&mut self, kill_at: Instant) -> Option<u32> {
        match self.state {
            State::Starting => {
                self.state = State::Stopping {
                    pid: None,
                    kill_at,
                    killed: false,
                };
                None
            }
            State::Running { pid } => {
                self.state = State::Stopping {
                    pid: Some(pid),
                    kill_at,
                    killed: false,
                };
                Some(pid)
            }
            State::Stopping { .. } | State::Exited(_) => None,
        }
    }

    /// The process started. Returns true when it was stopped meanwhile (send SIGTERM now).
    pub fn spawned(&mut self, new_pid: u32) -> bool {
        match &mut self.state {
            State::Starting => {
                self.state = State::Running { pid: new_pid };
                false
            }
            State::Stopping { pid, .. } => {
                *pid = Some(new_pid);
                true
            }
            State::Running { .. } | State::Exited(_) => false,
        }
    }

    /// The grace is over: whether SIGKILL is due now (once, and only if not reaped).
    pub fn kill_due(&mut self, now: Instant) -> bool {
        match &mut self.state {
            State::Stopping {
                pid: Some(_),
                kill_at,
                killed,
            } if !*killed && *kill_at <= now => {
                *killed = true;
                true
            }
            _ => false,
        }
    }

    /// Reaped (or never started).
    pub fn exited(&mut self, kind: ExitKind) {
        self.state = State::Exited(kind);
        self.close_stdin();
    }

    /// The `data` of the error a request gets when this child ends before answering.
    pub fn error_data(&self) -> Value {
        let exit = match &self.state {
            State::Exited(kind) => kind.to_value(),
            _ => Value::Null,
        };
        json!({"exit": exit, "stderr": self.stderr_tail()})
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn child() -> Child {
        child_with(&BridgeLimits::default())
    }

    fn child_with(limits: &BridgeLimits) -> Child {
        Child::new(ChildId(1), None, 16, limits)
    }

    #[test]
    fn lifecycle_term_then_one_kill() {
        let now = Instant::now();
        let mut c = child();
        assert!(!c.spawned(7));
        assert_eq!(c.pid(), Some(7));
        assert_eq!(c.stop(now + Duration::from_secs(5)), Some(7));
        assert_eq!(c.stop(now), None, "a second stop sends nothing");
        assert!(!c.kill_due(now));
        assert!(c.kill_due(now + Duration::from_secs(5)));
        assert!(!c.kill_due(now + Duration::from_secs(6)), "SIGKILL once");
        c.exited(ExitKind::Signal(9));
        assert!(!c.is_alive());
        assert_eq!(c.pid(), None);
        assert_eq!(c.error_data()["exit"], json!({"signal": 9}));
    }

    #[test]
    fn stop_before_spawn_signals_at_spawn() {
        let mut c = child();
        assert_eq!(c.stop(Instant::now()), None);
        assert!(c.spawned(9), "SIGTERM is due as soon as the pid is known");
        assert_eq!(c.pid(), Some(9));
    }

    #[test]
    fn stdin_is_bounded_and_drains() {
        let limits = BridgeLimits {
            stdin_buffer_bytes: 1000,
            ..BridgeLimits::default()
        };
        let mut c = child_with(&limits);
        let big = vec![b'x'; 500];
        assert_eq!(c.send(&big), Ok(true));
        assert_eq!(c.send(&big), Err(StdinFull));
        assert_eq!(c.send(b"{}"), Ok(false));
        c.stdin_written(big.len() + 1);
        assert_eq!(c.stdin_pending(), b"{}\n");
        c.close_stdin();
        assert!(c.stdin_pending().is_empty());
    }

    #[test]
    fn stderr_tail_keeps_the_last_lines_cut_short() {
        for (line_bytes, tail_lines) in [(512, 20), (40, 3)] {
            let limits = BridgeLimits {
                stderr_line_bytes: line_bytes,
                stderr_tail_lines: tail_lines,
                ..BridgeLimits::default()
            };
            let mut c = child_with(&limits);
            let long = "e".repeat(line_bytes + 100);
            let logged = c.push_stderr(format!("{long}\n").as_bytes());
            assert_eq!(logged, vec!["e".repeat(line_bytes)]);
            for i in 0..tail_lines + 5 {
                c.push_stderr(format!("line {i}\n").as_bytes());
            }
            let tail = c.stderr_tail();
            assert_eq!(tail.len(), tail_lines);
            let last = format!("line {}", tail_lines + 4);
            assert_eq!(tail.last(), Some(&last));
        }
    }
}
