//! Backends that host child processes (the stdio bridge): what they ask of the event loop and
//! what it reports back. The event loop drives any [`ProcessHost`] a handler exposes through
//! [`crate::mcp::Handler::processes`], so it never names a concrete backend.

use serde_json::{json, Value};
use std::fmt;
use std::time::Instant;

/// Names one child for as long as mcpd runs; never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChildId(pub u64);

impl fmt::Display for ChildId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "child {}", self.0)
    }
}

/// How a child ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExitKind {
    /// It exited with this status.
    Code(i32),
    /// A signal killed it.
    Signal(i32),
    /// It never started (exec failed); the reason.
    NotStarted(String),
}

impl ExitKind {
    /// The `exit` member of an error's data.
    pub fn to_value(&self) -> Value {
        match self {
            ExitKind::Code(code) => json!({"code": code}),
            ExitKind::Signal(signal) => json!({"signal": signal}),
            ExitKind::NotStarted(why) => json!({"spawn_error": why}),
        }
    }
}

impl fmt::Display for ExitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitKind::Code(code) => write!(f, "exited with status {code}"),
            ExitKind::Signal(signal) => write!(f, "was killed by signal {signal}"),
            ExitKind::NotStarted(why) => write!(f, "could not be started: {why}"),
        }
    }
}

/// A signal for a child's process group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// Ask it to stop.
    Term,
    /// Stop it now.
    Kill,
}

/// What the event loop must do for a child.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProcessAction {
    /// Start it with [`ProcessHost::spawn_spec`]; report with [`ProcessHost::handle_spawned`] or
    /// [`ProcessHost::handle_spawn_failed`].
    Spawn {
        /// The child.
        child: ChildId,
    },
    /// Its stdin has bytes in [`ProcessHost::stdin_pending`].
    Write {
        /// The child.
        child: ChildId,
    },
    /// Send `signal` to its process group (only while the child is not reaped yet).
    Signal {
        /// The child.
        child: ChildId,
        /// Which.
        signal: Signal,
    },
    /// Close its stdin.
    CloseStdin {
        /// The child.
        child: ChildId,
    },
}

/// How to start a child: the command after `--`, already wrapped in `sh -c` for `--shell`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpawnSpec {
    /// The program (looked up in `PATH`).
    pub program: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Variables added to the inherited environment.
    pub env: Vec<(String, String)>,
    /// Working directory, if not mcpd's.
    pub cwd: Option<std::path::PathBuf>,
}

/// A sans-IO backend with child processes. The event loop carries out its
/// [`ProcessAction`]s (spawning from [`ProcessHost::spawn_spec`], writing
/// [`ProcessHost::stdin_pending`], signalling) and feeds back what the processes did; after
/// every input it drains [`ProcessHost::poll_process_action`] and wakes the handler
/// ([`crate::mcp::Handler::handle_wake`]) so what the children said reaches clients.
pub trait ProcessHost {
    /// The next thing the event loop must do for a child.
    fn poll_process_action(&mut self) -> Option<ProcessAction>;
    /// How every child is started.
    fn spawn_spec(&self) -> &SpawnSpec;
    /// The child was spawned with process (and process group) id `pid`.
    fn handle_spawned(&mut self, id: ChildId, pid: u32, now: Instant);
    /// The child could not be spawned.
    fn handle_spawn_failed(&mut self, id: ChildId, error: &str, now: Instant);
    /// Bytes waiting for the child's stdin.
    fn stdin_pending(&self, id: ChildId) -> &[u8];
    /// The child's stdin took `n` bytes of [`ProcessHost::stdin_pending`].
    fn handle_stdin_written(&mut self, id: ChildId, n: usize);
    /// Bytes the child wrote to stdout.
    fn handle_stdout(&mut self, id: ChildId, bytes: &[u8], now: Instant);
    /// The child's stdout ended (or its stdin broke).
    fn handle_stdout_closed(&mut self, id: ChildId, now: Instant);
    /// Bytes the child wrote to stderr.
    fn handle_stderr(&mut self, id: ChildId, bytes: &[u8], now: Instant);
    /// The child was reaped (its pipes read dry first).
    fn handle_exit(&mut self, id: ChildId, kind: ExitKind, now: Instant);
    /// Shutdown begins: stop every child.
    fn shutdown(&mut self, now: Instant);
}

/// A [`ProcessHost`] whose panics stop at its door: the event loop calls a library backend
/// through this, so one panic is logged and counted as "nothing" (no action, no bytes to
/// write, an unspawnable spec) instead of stopping the server.
pub(crate) struct Guarded<'a>(pub &'a mut dyn ProcessHost);

/// What [`Guarded::spawn_spec`] hands out when the host panicked: spawning it fails.
static NO_SPEC: SpawnSpec = SpawnSpec {
    program: String::new(),
    args: Vec::new(),
    env: Vec::new(),
    cwd: None,
};

/// Runs `f`, logging a panic (naming `what`) and returning `None` for it.
fn guard<T>(what: &str, f: impl FnOnce() -> T) -> Option<T> {
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    if caught.is_err() {
        crate::log::error(format_args!("process host panicked in {what}"));
    }
    caught.ok()
}

impl ProcessHost for Guarded<'_> {
    fn poll_process_action(&mut self) -> Option<ProcessAction> {
        guard("poll_process_action", || self.0.poll_process_action()).flatten()
    }
    fn spawn_spec(&self) -> &SpawnSpec {
        guard("spawn_spec", || self.0.spawn_spec()).unwrap_or(&NO_SPEC)
    }
    fn handle_spawned(&mut self, id: ChildId, pid: u32, now: Instant) {
        guard("handle_spawned", || self.0.handle_spawned(id, pid, now));
    }
    fn handle_spawn_failed(&mut self, id: ChildId, error: &str, now: Instant) {
        guard("handle_spawn_failed", || {
            self.0.handle_spawn_failed(id, error, now)
        });
    }
    fn stdin_pending(&self, id: ChildId) -> &[u8] {
        guard("stdin_pending", || self.0.stdin_pending(id)).unwrap_or(&[])
    }
    fn handle_stdin_written(&mut self, id: ChildId, n: usize) {
        guard("handle_stdin_written", || {
            self.0.handle_stdin_written(id, n)
        });
    }
    fn handle_stdout(&mut self, id: ChildId, bytes: &[u8], now: Instant) {
        guard("handle_stdout", || self.0.handle_stdout(id, bytes, now));
    }
    fn handle_stdout_closed(&mut self, id: ChildId, now: Instant) {
        guard("handle_stdout_closed", || {
            self.0.handle_stdout_closed(id, now)
        });
    }
    fn handle_stderr(&mut self, id: ChildId, bytes: &[u8], now: Instant) {
        guard("handle_stderr", || self.0.handle_stderr(id, bytes, now));
    }
    fn handle_exit(&mut self, id: ChildId, kind: ExitKind, now: Instant) {
        guard("handle_exit", || self.0.handle_exit(id, kind, now));
    }
    fn shutdown(&mut self, now: Instant) {
        guard("shutdown", || self.0.shutdown(now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Panics on every call but the first poll, which asks to spawn child 1.
    struct Fragile(bool);
    impl ProcessHost for Fragile {
        fn poll_process_action(&mut self) -> Option<ProcessAction> {
            if std::mem::replace(&mut self.0, true) {
                panic!("poll");
            }
            Some(ProcessAction::Spawn { child: ChildId(1) })
        }
        fn spawn_spec(&self) -> &SpawnSpec {
            panic!("spec")
        }
        fn handle_spawned(&mut self, _: ChildId, _: u32, _: Instant) {
            panic!("spawned")
        }
        fn handle_spawn_failed(&mut self, _: ChildId, _: &str, _: Instant) {
            panic!("failed")
        }
        fn stdin_pending(&self, _: ChildId) -> &[u8] {
            panic!("pending")
        }
        fn handle_stdin_written(&mut self, _: ChildId, _: usize) {
            panic!("written")
        }
        fn handle_stdout(&mut self, _: ChildId, _: &[u8], _: Instant) {
            panic!("stdout")
        }
        fn handle_stdout_closed(&mut self, _: ChildId, _: Instant) {
            panic!("closed")
        }
        fn handle_stderr(&mut self, _: ChildId, _: &[u8], _: Instant) {
            panic!("stderr")
        }
        fn handle_exit(&mut self, _: ChildId, _: ExitKind, _: Instant) {
            panic!("exit")
        }
        fn shutdown(&mut self, _: Instant) {
            panic!("shutdown")
        }
    }

    #[test]
    fn a_guarded_host_panic_is_no_output_not_a_crash() {
        let mut host = Fragile(false);
        let mut g = Guarded(&mut host);
        let (id, now) = (ChildId(1), Instant::now());
        assert!(g.poll_process_action().is_some());
        assert_eq!(g.poll_process_action(), None, "a panic is no action");
        assert!(g.spawn_spec().program.is_empty());
        assert!(g.stdin_pending(id).is_empty());
        g.handle_spawned(id, 1, now);
        g.handle_spawn_failed(id, "x", now);
        g.handle_stdin_written(id, 1);
        g.handle_stdout(id, b"{}\n", now);
        g.handle_stdout_closed(id, now);
        g.handle_stderr(id, b"x", now);
        g.handle_exit(id, ExitKind::Code(0), now);
        g.shutdown(now);
    }
}
