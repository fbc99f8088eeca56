//! The bridge's child processes: spawning, their pipes in the loop's `Poll`, signals, reaping.
//!
//! Each child is started directly (`sh -c` only with `--shell`) in a process group of its own
//! (`process_group(0)`), with a parent-death SIGKILL, without mcpd's `MCPD_*` variables, with
//! every descriptor above 2 closed at exec, and with stdin, stdout and stderr as
//! non-blocking `mio::unix::pipe`s registered under tokens from [`CHILD_TOKENS`] up (three per
//! slot). Stdout and stderr stay readable-registered; stdin is registered for writability only
//! while bytes wait. On SIGCHLD every live child is checked with `waitid(WNOWAIT)`: an exited
//! one gets SIGKILL to its group while its zombie still pins the group id (so helpers it left
//! behind go too), its pipes are read dry (so the stderr tail is whole), then it is reaped
//! and the bridge told. Nothing else ever waits on a child, and a group is signalled only
//! before its leader is reaped.
//! Every call into the host goes through [`Guarded`]: a library backend's panic is logged and
//! counts as no action / no output, and the server stays up.

use super::Sources;
use crate::config::BridgeConfig;
use crate::exec;
use crate::log;
use crate::process::{ChildId, ExitKind, Guarded, ProcessAction, ProcessHost, Signal};
use crate::server::Server;
use crate::sys;
use mio::event::Event;
use mio::unix::pipe::{Receiver, Sender};
use mio::{Interest, Registry, Token};
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// First token of child pipes; far above any connection number.
const CHILD_TOKENS: usize = usize::MAX / 2;
/// Bytes read from a child pipe per call.
const READ_CHUNK: usize = 64 * 1024;

/// How a bounded read of a pipe ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Drained {
    /// Empty for now (`WouldBlock`), closed, or gone.
    Dry,
    /// The turn's reads were used up: bytes may be waiting.
    MoreMayWait,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pipe {
    Stdin = 0,
    Stdout = 1,
    Stderr = 2,
}

/// One spawned, not yet reaped child.
struct Proc {
    id: ChildId,
    process: std::process::Child,
    pid: u32,
    stdin: Option<Sender>,
    stdin_registered: bool,
    stdout: Option<Receiver>,
    stderr: Option<Receiver>,
}

/// The bridge's live child processes, in a slab indexed by token.
pub(super) struct Children {
    slots: Vec<Option<Proc>>,
    free: Vec<usize>,
    by_id: HashMap<ChildId, usize>,
    /// Pipes whose last turn ended with bytes possibly left (at most two per child).
    backlog: Vec<(ChildId, Pipe)>,
    buf: Vec<u8>,
    grace: Duration,
    /// Reads from one pipe per loop turn ([`crate::config::BridgeLimits::reads_per_turn`]); a
    /// pipe with more waits for the next turn (the backlog).
    reads_per_turn: usize,
    /// Reads of an exited child's pipes while reaping it.
    reads_at_reap: usize,
}

fn token(slot: usize, pipe: Pipe) -> Token {
    Token(CHILD_TOKENS + slot * 3 + pipe as usize)
}

impl Children {
    /// The children of a bridge run with `config` (`--kill-grace` and its read bounds).
    pub(super) fn new(config: &BridgeConfig) -> Children {
        Children {
            slots: Vec::new(),
            free: Vec::new(),
            by_id: HashMap::new(),
            backlog: Vec::new(),
            buf: vec![0; READ_CHUNK],
            grace: config.kill_grace,
            reads_per_turn: config.limits.reads_per_turn,
            reads_at_reap: config.limits.reads_at_reap,
        }
    }

    fn proc_mut(&mut self, id: ChildId) -> Option<(usize, &mut Proc)> {
        let slot = *self.by_id.get(&id)?;
        self.slots.get_mut(slot)?.as_mut().map(|p| (slot, p))
    }

    fn spawn(
        &mut self,
        bridge: &mut dyn ProcessHost,
        id: ChildId,
        registry: &Registry,
        now: Instant,
    ) {
        match self.start(bridge, id, registry) {
            Ok(pid) => bridge.handle_spawned(id, pid, now),
            Err(e) => bridge.handle_spawn_failed(id, &e.to_string(), now),
        }
    }

    fn start(
        &mut self,
        bridge: &dyn ProcessHost,
        id: ChildId,
        registry: &Registry,
    ) -> io::Result<u32> {
        let spec = bridge.spawn_spec();
        let mut command = Command::new(&spec.program);
        // mcpd's own settings (the auth token among them) stay out of a third-party server.
        let inherited: Vec<String> = std::env::vars_os()
            .filter_map(|(name, _)| name.into_string().ok())
            .collect();
        for name in exec::scrubbed(inherited.iter().map(String::as_str), &spec.env) {
            command.env_remove(name);
        }
        command
            .args(&spec.args)
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        if let Some(dir) = &spec.cwd {
            command.current_dir(dir);
        }
        sys::kill_with_parent(&mut command);
        sys::close_fds_on_exec(&mut command);
        let mut process = command.spawn()?;
        let pid = process.id();
        let pipes = (
            process.stdin.take(),
            process.stdout.take(),
            process.stderr.take(),
        );
        let (Some(stdin), Some(stdout), Some(stderr)) = pipes else {
            unreachable!("all three pipes were asked for with Stdio::piped above");
        };
        let slot = self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            self.slots.len() - 1
        });
        let stdin = Sender::from(stdin);
        let mut stdout = Receiver::from(stdout);
        let mut stderr = Receiver::from(stderr);
        let registered = stdin
            .set_nonblocking(true)
            .and_then(|()| stdout.set_nonblocking(true))
            .and_then(|()| stderr.set_nonblocking(true))
            .and_then(|()| {
                registry.register(&mut stdout, token(slot, Pipe::Stdout), Interest::READABLE)
            })
            .and_then(|()| {
                registry.register(&mut stderr, token(slot, Pipe::Stderr), Interest::READABLE)
            });
        self.slots[slot] = Some(Proc {
            id,
            process,
            pid,
            stdin: Some(stdin),
            stdin_registered: false,
            stdout: Some(stdout),
            stderr: Some(stderr),
        });
        self.by_id.insert(id, slot);
        if let Err(e) = registered {
            // The process runs: it is stopped and reaped like any other.
            log::error(format_args!("{id}: cannot watch its pipes: {e}"));
            let _ = sys::signal_group(pid, true);
        }
        Ok(pid)
    }

    /// Writes what the bridge has for `id`'s stdin until it blocks.
    fn flush(
        &mut self,
        bridge: &mut dyn ProcessHost,
        id: ChildId,
        registry: &Registry,
        now: Instant,
    ) {
        let Some((slot, proc)) = self.proc_mut(id) else {
            return;
        };
        loop {
            let Some(stdin) = proc.stdin.as_mut() else {
                return;
            };
            let pending = bridge.stdin_pending(id);
            if pending.is_empty() {
                if proc.stdin_registered {
                    proc.stdin_registered = false;
                    let _ = registry.deregister(stdin);
                }
                return;
            }
            match stdin.write(pending) {
                Ok(n) => bridge.handle_stdin_written(id, n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if !proc.stdin_registered {
                        proc.stdin_registered = true;
                        let _ =
                            registry.register(stdin, token(slot, Pipe::Stdin), Interest::WRITABLE);
                    }
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    log::warn(format_args!("{id}: writing its stdin failed: {e}"));
                    close_stdin(proc, registry);
                    bridge.handle_stdout_closed(id, now);
                    return;
                }
            }
        }
    }

    /// Reads one pipe of `slot` until it blocks or ends, at most `reads` times.
    fn drain(
        &mut self,
        bridge: &mut dyn ProcessHost,
        slot: usize,
        pipe: Pipe,
        registry: &Registry,
        now: Instant,
        reads: usize,
    ) -> Drained {
        for _ in 0..reads {
            let Some(proc) = self.slots.get_mut(slot).and_then(Option::as_mut) else {
                return Drained::Dry;
            };
            let id = proc.id;
            let receiver = match pipe {
                Pipe::Stdout => proc.stdout.as_mut(),
                Pipe::Stderr => proc.stderr.as_mut(),
                Pipe::Stdin => None,
            };
            let Some(receiver) = receiver else {
                return Drained::Dry;
            };
            match receiver.read(&mut self.buf) {
                Ok(0) => {
                    let _ = registry.deregister(receiver);
                    if pipe == Pipe::Stdout {
                        proc.stdout = None;
                        bridge.handle_stdout_closed(id, now);
                    } else {
                        proc.stderr = None;
                    }
                    return Drained::Dry;
                }
                Ok(n) if pipe == Pipe::Stdout => bridge.handle_stdout(id, &self.buf[..n], now),
                Ok(n) => bridge.handle_stderr(id, &self.buf[..n], now),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Drained::Dry,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    log::warn(format_args!("{id}: reading its {pipe:?} failed: {e}"));
                    return Drained::Dry;
                }
            }
        }
        Drained::MoreMayWait
    }

    /// Reads `pipe` of `slot` for one turn; a pipe that may hold more joins the backlog.
    fn read_turn(
        &mut self,
        bridge: &mut dyn ProcessHost,
        slot: usize,
        pipe: Pipe,
        registry: &Registry,
        now: Instant,
    ) {
        let drained = self.drain(bridge, slot, pipe, registry, now, self.reads_per_turn);
        let Some(id) = self.slots.get(slot).and_then(Option::as_ref).map(|p| p.id) else {
            return;
        };
        if drained == Drained::MoreMayWait && !self.backlog.contains(&(id, pipe)) {
            self.backlog.push((id, pipe));
        }
    }

    /// Reaps `slot`'s child, which has exited: its group is killed, its pipes read dry and
    /// closed, the bridge told how it ended.
    fn reap_slot(
        &mut self,
        bridge: &mut dyn ProcessHost,
        slot: usize,
        registry: &Registry,
        now: Instant,
    ) {
        let Some(pid) = self.slots[slot].as_ref().map(|p| p.pid) else {
            return;
        };
        // The leader is a zombie: the group id is still ours. Whatever it left behind goes.
        let _ = sys::signal_group(pid, true);
        self.drain(
            bridge,
            slot,
            Pipe::Stdout,
            registry,
            now,
            self.reads_at_reap,
        );
        self.drain(
            bridge,
            slot,
            Pipe::Stderr,
            registry,
            now,
            self.reads_at_reap,
        );
        let Some(mut proc) = self.slots[slot].take() else {
            return;
        };
        self.free.push(slot);
        self.by_id.remove(&proc.id);
        close_stdin(&mut proc, registry);
        for receiver in [proc.stdout.as_mut(), proc.stderr.as_mut()]
            .into_iter()
            .flatten()
        {
            let _ = registry.deregister(receiver);
        }
        let kind = match proc.process.wait() {
            Ok(status) => match (status.code(), status.signal()) {
                (Some(code), _) => ExitKind::Code(code),
                (None, Some(signal)) => ExitKind::Signal(signal),
                (None, None) => ExitKind::Code(-1),
            },
            Err(e) => {
                log::error(format_args!("{}: wait failed: {e}", proc.id));
                ExitKind::Code(-1)
            }
        };
        bridge.handle_exit(proc.id, kind, now);
    }
}

fn close_stdin(proc: &mut Proc, registry: &Registry) {
    if let Some(mut stdin) = proc.stdin.take() {
        if proc.stdin_registered {
            proc.stdin_registered = false;
            let _ = registry.deregister(&mut stdin);
        }
    }
}

impl Sources for Children {
    fn pump(&mut self, server: &mut Server, registry: &Registry) -> bool {
        let now = Instant::now();
        let mut any = false;
        loop {
            let Some(host) = server.handler_mut().processes() else {
                return false;
            };
            let bridge = &mut Guarded(host);
            let Some(action) = bridge.poll_process_action() else {
                break;
            };
            any = true;
            match action {
                ProcessAction::Spawn { child } => self.spawn(bridge, child, registry, now),
                ProcessAction::Write { child } => self.flush(bridge, child, registry, now),
                ProcessAction::Signal { child, signal } => {
                    if let Some((_, proc)) = self.proc_mut(child) {
                        let kill = signal == Signal::Kill;
                        if let Err(e) = sys::signal_group(proc.pid, kill) {
                            log::debug(format_args!("{child}: signal {signal:?}: {e}"));
                        }
                    }
                }
                ProcessAction::CloseStdin { child } => {
                    if let Some((_, proc)) = self.proc_mut(child) {
                        close_stdin(proc, registry);
                    }
                }
            }
        }
        if any {
            server.handle_backend(now);
        }
        any
    }

    fn ready(&mut self, event: &Event, server: &mut Server, registry: &Registry) -> bool {
        let Some(n) = event.token().0.checked_sub(CHILD_TOKENS) else {
            return false;
        };
        let (slot, pipe) = (n / 3, n % 3);
        let now = Instant::now();
        let Some(host) = server.handler_mut().processes() else {
            return false;
        };
        let bridge = &mut Guarded(host);
        match pipe {
            0 => {
                if let Some(id) = self.slots.get(slot).and_then(Option::as_ref).map(|p| p.id) {
                    self.flush(bridge, id, registry, now);
                }
            }
            1 => self.read_turn(bridge, slot, Pipe::Stdout, registry, now),
            _ => self.read_turn(bridge, slot, Pipe::Stderr, registry, now),
        }
        server.handle_backend(now);
        true
    }

    fn has_backlog(&self) -> bool {
        !self.backlog.is_empty()
    }

    fn resume(&mut self, server: &mut Server, registry: &Registry) {
        let now = Instant::now();
        let Some(host) = server.handler_mut().processes() else {
            return;
        };
        let bridge = &mut Guarded(host);
        for (id, pipe) in std::mem::take(&mut self.backlog) {
            if let Some(&slot) = self.by_id.get(&id) {
                self.read_turn(bridge, slot, pipe, registry, now);
            }
        }
        server.handle_backend(now);
    }

    fn reap(&mut self, server: &mut Server, registry: &Registry) {
        let now = Instant::now();
        for slot in 0..self.slots.len() {
            let Some(pid) = self.slots[slot].as_ref().map(|p| p.pid) else {
                continue;
            };
            match sys::has_exited(pid) {
                Ok(false) => {}
                Ok(true) => {
                    if let Some(host) = server.handler_mut().processes() {
                        self.reap_slot(&mut Guarded(host), slot, registry, now);
                    }
                }
                Err(e) => log::error(format_args!("waitid on pid {pid}: {e}")),
            }
        }
        server.handle_backend(now);
    }

    fn stop(&mut self, server: &mut Server) {
        let now = Instant::now();
        if let Some(host) = server.handler_mut().processes() {
            Guarded(host).shutdown(now);
        }
        server.handle_backend(now);
    }

    fn busy(&self) -> bool {
        !self.by_id.is_empty()
    }

    fn grace(&self) -> Duration {
        self.grace + Duration::from_secs(1)
    }

    fn abort(&mut self) {
        for proc in self.slots.iter_mut().filter_map(Option::take) {
            log::warn(format_args!("{} still runs at exit: SIGKILL", proc.id));
            let _ = sys::signal_group(proc.pid, true);
            let mut process = proc.process;
            let _ = process.wait();
        }
        self.by_id.clear();
    }
}
