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
