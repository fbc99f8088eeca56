//! The stdio bridge (DESIGN 3.3): any stdio MCP server (MCP transports, "stdio") served over
//! Streamable HTTP, supervised.
//!
//! [`Bridge`] is a [`Handler`](crate::mcp::Handler): the transport hands it client messages, and it answers through
//! [`Handler::handle_wake`](crate::mcp::Handler::handle_wake) once a child has spoken. Towards the event loop it is sans-IO, in
//! the quinn-proto style:
//!
//! - inputs, each with `now`: [`Bridge::handle_spawned`] / [`Bridge::handle_spawn_failed`]
//!   after a [`ProcessAction::Spawn`], [`Bridge::handle_stdin_written`] with how much of
//!   [`Bridge::stdin_pending`] the pipe took, [`Bridge::handle_stdout`],
//!   [`Bridge::handle_stderr`], [`Bridge::handle_stdout_closed`], [`Bridge::handle_exit`] once
//!   a child is reaped (read what is left in its pipes first, so the stderr tail is whole),
//!   [`Bridge::shutdown`];
//! - outputs: after every input (and after every server call, which may run the handler),
//!   drain [`Bridge::poll_process_action`], then call `Server::handle_backend` so the queued
//!   commands reach clients. Timers (SIGKILL after the grace, restarts) travel as handler
//!   timers on the server's wheel.
//!
//! Modes. Default: one child per session, spawned by `initialize`, whose own `initialize`
//! result is the answer; DELETE, expiry and shutdown end it. `--shared`: one child for every
//! session, spawned at start and initialized by mcpd itself (see `supervisor.rs` for the
//! revision later clients get), restarted with backoff when it dies. Stateless (2026-07-28)
//! requests go to a child mcpd holds itself: the shared one, or in per-session mode one
//! started for them (see `stateless.rs`). A child mcpd holds is first asked `server/discover`
//! to learn its era (see `era.rs`): a modern one gets 2026 requests as they are and is never
//! initialized (with `--shared`, a second child serves the handshake sessions); a
//! handshake-only one is initialized by mcpd.
//!
//! Routing from a child (ids and progress tokens are always rewritten, see `route.rs`):
//! responses by id; `notifications/progress` by token; any other notification, and the
//! child's requests to the client (sampling, elicitation, roots, ping), go on the POST stream of
//! the one request in flight when there is exactly one, else on the standalone stream (the
//! transport keeps them in its bounded buffer until a GET opens it). Shared: "exactly one" counts
//! every session; with several sessions busy a notification goes to every session's standalone
//! stream (list changes, logs: the child is shared, so is what it says), and a request goes to
//! the one session that has requests in flight, else it is refused to the child (`ping` is
//! answered by mcpd), since nothing in it says which client it is for.
//!
//! Limits: `--max-children` live children (then the least recently active idle session is
//! ended to make room, else `initialize` gets 503), `--request-timeout`, `--init-timeout` and
//! `--child-idle-timeout` (see `limits.rs`); a stdin buffer per child
//! of `max(1 MiB, one message)` (then requests get 503: the child stopped reading); stdout lines
//! up to `--max-body-bytes` (a longer one ends the child); stderr lines cut at 512 bytes, last 20
//! kept. Ending a child: stdin closed and SIGTERM to its process group, SIGKILL after
//! `--kill-grace`. A child that dies answers its pending requests with -32603 whose `data` is
//! `{"exit": ..., "stderr": [last lines]}`; in per-session mode its session then ends (404).

pub(crate) mod child;
pub(crate) mod era;
mod handler;
mod inbound;
mod limits;
pub(crate) mod route;
mod sessions;
mod stateless;
pub(crate) mod supervisor;
mod translate;

pub use child::{ChildId, ExitKind};

use crate::config::Config;
use crate::log;
use crate::mcp::jsonrpc::{self, ErrorObject, Params};
use crate::mcp::{Command, RequestHandle, SessionKey, TimerKey};
use child::{Child, State};
use route::Origin;
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};
use supervisor::Supervisor;

pub use crate::process::{ProcessAction, Signal, SpawnSpec};

/// Why a per-session child is stopped when its session ends (DELETE, expiry, eviction).
const SESSION_ENDED: &str = "its session ended";

/// Children counters for `/health` and the log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Not reaped yet.
    pub alive: usize,
    /// Started since mcpd started.
    pub spawned: u64,
    /// Reaped since mcpd started.
    pub exited: u64,
    /// Shared-child restarts.
    pub restarted: u64,
    /// Spawns that failed (exec error).
    pub spawn_failed: u64,
    /// Children ended for not answering `initialize` within `--init-timeout`.
    pub init_timeouts: u64,
    /// Requests cancelled for no answer within `--request-timeout`.
    pub request_timeouts: u64,
    /// Idle sessions ended to make room for a new one at `--max-children`.
    pub evicted: u64,
}

/// A session as the bridge knows it.
#[derive(Debug)]
struct Member {
    /// Its own child (per-session mode).
    child: Option<ChildId>,
    /// `Mcp-Session-Id`, for logs.
    label: String,
    /// What its client declared at `initialize` (shared mode checks it before routing).
    capabilities: Value,
}

/// Work for clients, waiting for [`crate::mcp::Handler::handle_wake`] to hand it to the
/// dispatcher's outbox, which allocates request ids and timer keys: the bridge never picks an
/// id of its own, so none collides with the transport's.
#[derive(Debug)]
enum Queued {
    /// Anything that needs no id (answers, notifications, session ends).
    Send(Option<SessionKey>, Command),
    /// A child's request to the client of `session`; its route is recorded once the outbox
    /// has named it.
    Ask {
        session: SessionKey,
        related: Option<RequestHandle>,
        method: String,
        params: Value,
        /// The child that asked, and the id it used.
        child: ChildId,
        child_id: crate::mcp::Id,
    },
    /// A bridge timer ([`Due`] by token).
    Timer { after: Duration, token: u64 },
    /// Cancel a handler timer armed earlier (a request's `--request-timeout` once it is
    /// answered or cancelled), so it leaves the wheel now rather than at its deadline.
    CancelTimer(TimerKey),
}

/// What a handler timer of the bridge is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Due {
    Kill(ChildId),
    Restart,
    /// `--init-timeout` of a child.
    Init(ChildId),
    /// `--request-timeout` of a client request (its deadline is in `Bridge::deadlines`).
    Request(RequestHandle),
    RestartHandshake,
    Sweep,
    /// A child's era probe is due (see [`crate::config::BridgeLimits::probe_timeout`]).
    Probe(ChildId),
}

/// A client request in a child, with the time it is due by (`--request-timeout`).
#[derive(Clone, Copy, Debug)]
struct Deadline {
    child: ChildId,
    session: SessionKey,
    due: Instant,
    /// The bridge token of its one armed timer, and the key the outbox gave that timer once
    /// handed over (`handle_wake`): what cancels it when the request ends first.
    token: u64,
    key: Option<TimerKey>,
}

/// The stdio bridge backend.
#[derive(Debug)]
pub struct Bridge {
    spec: SpawnSpec,
    shared: bool,
    kill_grace: Duration,
    max_children: usize,
    request_timeout: Option<Duration>,
    init_timeout: Duration,
    child_idle_timeout: Option<Duration>,
    /// Requests forwarded and not answered yet, under `--request-timeout`.
    deadlines: HashMap<RequestHandle, Deadline>,
    /// Children that have not answered `initialize` yet, with the client request it answers
    /// (`None`: mcpd's own initialize of the shared or stateless child).
    awaiting_init: HashMap<ChildId, Option<RequestHandle>>,
    /// The last `initialize` a child owed ran out of time (and none answered since).
    init_failing: bool,
    max_message: usize,
    /// Bounds of children, their stderr and the translation.
    limits: crate::config::BridgeLimits,
    children: HashMap<ChildId, Child>,
    next_child: u64,
    members: HashMap<SessionKey, Member>,
    /// The `--shared` child, or in per-session mode the stateless child once started.
    supervisor: Option<Supervisor>,
    /// What the `supervisor`'s child speaks (see [`era`]).
    era: era::Era,
    /// `--shared` with a modern child: the child serving handshake sessions.
    handshake: Option<Supervisor>,
    /// Revisions offered (`--eras`).
    eras: crate::mcp::version::Eras,
    /// Per-session mode learnt its child speaks only the handshake, and 2026-07-28 was not
    /// asked for: 2026 requests are refused without starting a child.
    modern_refused: bool,
    /// A child's `server/discover` answer that came after the probe timed out.
    late_discover: Option<(ChildId, Value)>,
    /// 2026-07-28 clients of a handshake-only child (see [`translate`]).
    translator: translate::Translator,
    stateless: stateless::Stateless,
    timers: HashMap<u64, Due>,
    next_timer: u64,
    /// Work for clients, handed to the dispatcher's outbox in `handle_wake`.
    commands: VecDeque<Queued>,
    actions: VecDeque<ProcessAction>,
    stats: Stats,
    stopping: bool,
    now: Instant,
}

impl Bridge {
    /// A bridge for `config.bridge` (its command must not be empty); in shared mode the first
    /// spawn is queued at once.
    pub fn new(config: &Config, now: Instant) -> Bridge {
        let b = &config.bridge;
        let (program, args) = if b.shell {
            (
                "sh".to_string(),
                vec!["-c".to_string(), b.command.join(" ")],
            )
        } else {
            let mut words = b.command.iter().cloned();
            (words.next().unwrap_or_default(), words.collect())
        };
        let mut bridge = Bridge {
            spec: SpawnSpec {
                program,
                args,
                env: b.env.clone(),
                cwd: b.cwd.clone(),
            },
            shared: b.shared,
            kill_grace: b.kill_grace,
            max_children: b.max_children,
            request_timeout: b.request_timeout,
            init_timeout: b.init_timeout,
            child_idle_timeout: b.child_idle_timeout,
            deadlines: HashMap::new(),
            awaiting_init: HashMap::new(),
            init_failing: false,
            max_message: config.limits.max_body_bytes,
            limits: b.limits.clone(),
            children: HashMap::new(),
            next_child: 1,
            members: HashMap::new(),
            supervisor: None,
            era: era::Era::Probing,
            handshake: None,
            eras: crate::mcp::version::Eras::from_list(&config.eras),
            modern_refused: false,
            late_discover: None,
            translator: translate::Translator::for_instance(config.instance_id.as_deref()),
            stateless: stateless::Stateless::default(),
            timers: HashMap::new(),
            next_timer: 1,
            commands: VecDeque::new(),
            actions: VecDeque::new(),
            stats: Stats::default(),
            stopping: false,
            now,
        };
        if bridge.shared {
            let child = bridge.start_shared("shared");
            bridge.supervisor = Some(Supervisor::new(child, &bridge.limits));
        }
        bridge
    }

    /// How every child is started.
    pub fn spawn_spec(&self) -> &SpawnSpec {
        &self.spec
    }

    /// The next thing the event loop must do for a child.
    pub fn poll_process_action(&mut self) -> Option<ProcessAction> {
        self.actions.pop_front()
    }

    /// Counters for `/health` and the log.
    pub fn stats(&self) -> Stats {
        Stats {
            alive: self.children.values().filter(|c| c.is_alive()).count(),
            ..self.stats
        }
    }

    /// Children not reaped yet (the event loop waits for them at shutdown).
    pub fn alive(&self) -> usize {
        self.children.len()
    }

    /// The child was spawned with process (and process group) id `pid`.
    pub fn handle_spawned(&mut self, id: ChildId, pid: u32, now: Instant) {
        self.now = now;
        let Some(child) = self.children.get_mut(&id) else {
            return;
        };
        self.stats.spawned += 1;
        let stopped_meanwhile = child.spawned(pid);
        let label = child.label.clone();
        let pending = !child.stdin_pending().is_empty();
        log::info(format_args!(
            "{id} (pid {pid}) started for {label}: {} (children: {})",
            self.spec.program,
            self.stats_line()
        ));
        if stopped_meanwhile {
            self.actions
                .push_back(ProcessAction::CloseStdin { child: id });
            self.actions.push_back(ProcessAction::Signal {
                child: id,
                signal: Signal::Term,
            });
        } else if pending {
            self.actions.push_back(ProcessAction::Write { child: id });
        }
    }

    /// The child could not be started (`error`: why, for example "No such file or directory").
    pub fn handle_spawn_failed(&mut self, id: ChildId, error: &str, now: Instant) {
        self.stats.spawn_failed += 1;
        log::error(format_args!(
            "{id}: cannot start {:?}: {error}",
            self.spec.program
        ));
        self.handle_exit(id, ExitKind::NotStarted(error.to_string()), now);
    }

    /// Bytes waiting for the child's stdin.
    pub fn stdin_pending(&self, id: ChildId) -> &[u8] {
        self.children
            .get(&id)
            .map(Child::stdin_pending)
            .unwrap_or(&[])
    }

    /// The child's stdin took `n` bytes of [`Bridge::stdin_pending`].
    pub fn handle_stdin_written(&mut self, id: ChildId, n: usize) {
        if let Some(child) = self.children.get_mut(&id) {
            child.stdin_written(n);
        }
    }

    /// Bytes the child wrote to stdout.
    pub fn handle_stdout(&mut self, id: ChildId, bytes: &[u8], now: Instant) {
        self.now = now;
        let Some(child) = self.children.get_mut(&id) else {
            return;
        };
        child.push_stdout(bytes);
        loop {
            let Some(child) = self.children.get_mut(&id) else {
                return;
            };
            if !child.is_alive() {
                return;
            }
            match child.next_stdout_line() {
                None => return,
                Some(Ok(line)) => self.child_line(id, &line, now),
                Some(Err(crate::lines::LineTooLong)) => {
                    let why = format!(
                        "it wrote a message longer than the limit of {} bytes (--max-body-bytes) \
                         to stdout",
                        self.max_message
                    );
                    log::warn(format_args!("{id}: {why}; stopping it"));
                    self.fail_child(id, &why, now);
                    return;
                }
            }
        }
    }

    /// The child closed its stdout (or its stdin broke): it can no longer answer, so it is
    /// ended. Its requests are answered when it is reaped, which is soon: usually it is
    /// exiting already, and the exit status says more than the closed pipe.
    pub fn handle_stdout_closed(&mut self, id: ChildId, now: Instant) {
        self.now = now;
        self.stop_child(id, "it closed its stdout", false);
    }

    /// Bytes the child wrote to stderr: logged line by line with the session, tail kept.
    pub fn handle_stderr(&mut self, id: ChildId, bytes: &[u8], now: Instant) {
        self.now = now;
        let Some(child) = self.children.get_mut(&id) else {
            return;
        };
        let logged = log::enabled(crate::config::LogLevel::Info);
        for line in child.push_stderr(bytes) {
            if !logged || !child.stderr_limit.admit(now) {
                continue;
            }
            child.report_suppressed();
            log::info(format_args!("{id} ({}) stderr: {line}", child.label));
        }
    }

    /// The child was reaped (or never started): its pending requests get an error, its session
    /// ends (per-session mode) or it is restarted after the backoff (shared mode).
    pub fn handle_exit(&mut self, id: ChildId, kind: ExitKind, now: Instant) {
        self.now = now;
        let Some(mut child) = self.children.remove(&id) else {
            return;
        };
        self.awaiting_init.remove(&id);
        let started = !matches!(kind, ExitKind::NotStarted(_));
        if started {
            self.stats.exited += 1;
        }
        // mcpd sent SIGTERM: the "stopping" line already said why; its end is routine unless
        // the grace ran out and SIGKILL was needed.
        let stopped = match child.state {
            State::Stopping { killed, .. } => Some(killed),
            _ => None,
        };
        child.report_suppressed();
        child.exited(kind.clone());
        let label = &child.label;
        let expected = child.failure.is_some() || self.stopping;
        let report = format!(
            "{id} ({label}) {kind} (children: {})",
            self.stats_line_with(self.children.len())
        );
        if stopped == Some(false) {
            log::debug(format_args!("{report}"));
        } else if stopped == Some(true) {
            log::warn(format_args!(
                "{id} ({label}) did not exit within --kill-grace of SIGTERM: killed (children: {})",
                self.stats_line_with(self.children.len())
            ));
        } else if expected || !started {
            log::info(format_args!("{report}"));
        } else {
            log::warn(format_args!("{report}"));
        }
        let why = child
            .failure
            .clone()
            .unwrap_or_else(|| format!("it {kind}"));
        self.fail_pending(&mut child, &why);
        match child.owner {
            Some(session) => {
                if self.members.get(&session).and_then(|m| m.child) == Some(id) {
                    self.commands
                        .push_back(Queued::Send(Some(session), Command::EndSession));
                }
            }
            None => self.shared_child_gone(id, &why, &child, now),
        }
    }

    /// mcpd is stopping: every child is ended, nothing restarts.
    pub fn shutdown(&mut self, now: Instant) {
        self.now = now;
        self.stopping = true;
        for sup in [&mut self.supervisor, &mut self.handshake]
            .into_iter()
            .flatten()
        {
            sup.stop();
        }
        let mut ids: Vec<ChildId> = self.children.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            self.stop_child(id, "mcpd is shutting down", true);
        }
    }

    fn stats_line(&self) -> String {
        self.stats_line_with(self.stats().alive)
    }

    fn stats_line_with(&self, alive: usize) -> String {
        let s = self.stats;
        format!(
            "alive {alive}, spawned {}, exited {}, restarted {}",
            s.spawned, s.exited, s.restarted
        )
    }

    fn new_child(&mut self, owner: Option<SessionKey>, label: String) -> ChildId {
        let id = ChildId(self.next_child);
        self.next_child += 1;
        let mut child = Child::new(id, owner, self.max_message, &self.limits);
        child.label = label;
        self.children.insert(id, child);
        self.actions.push_back(ProcessAction::Spawn { child: id });
        id
    }

    /// Spawns a shared (or stateless) child and queues the probe of its era (see [`era`]).
    fn start_shared(&mut self, label: &str) -> ChildId {
        let id = self.new_child(None, label.into());
        if self.eras.modern() {
            self.era = era::Era::Probing;
            self.probe(id, false);
        } else {
            self.era = era::Era::Handshake;
            self.send_initialize(id);
        }
        self.await_init(id, None);
        id
    }

    /// Starts `--init-timeout` for child `id`, whose `initialize` answers `request`.
    fn await_init(&mut self, id: ChildId, request: Option<RequestHandle>) {
        self.awaiting_init.insert(id, request);
        self.set_timer(self.init_timeout, Due::Init(id));
    }

    /// Queues a line for a child's stdin; asks the event loop to write when it was idle.
    fn write(&mut self, id: ChildId, line: &[u8]) -> Result<(), child::StdinFull> {
        let Some(child) = self.children.get_mut(&id) else {
            return Ok(());
        };
        if child.send(line)? && child.pid().is_some() {
            self.actions.push_back(ProcessAction::Write { child: id });
        }
        Ok(())
    }

    /// Writes a client request to child `id`, its id rewritten (route kept until the answer).
    /// `Err` carries the reason for a 503: the child is gone, or its stdin buffer is full (the
    /// route is undone then, so a late answer cannot be misrouted).
    fn forward(
        &mut self,
        id: ChildId,
        session: SessionKey,
        request: RequestHandle,
        method: &str,
        params: Option<Params>,
    ) -> Result<(), &'static str> {
        let Some(child) = self.children.get_mut(&id) else {
            return Err("the MCP server process is gone; retry later");
        };
        let line = child
            .routes
            .request(Origin::Client { session, request }, method, params);
        if self.write(id, &line).is_err() {
            if let Some(child) = self.children.get_mut(&id) {
                child.routes.cancel(request);
            }
            log::warn(format_args!(
                "{id}: stdin buffer full; {method} refused with 503"
            ));
            return Err("the MCP server process is not reading its input; retry later");
        }
        self.start_deadline(id, session, request);
        Ok(())
    }

    /// Starts the `--request-timeout` of client `request` in child `id`.
    fn start_deadline(&mut self, id: ChildId, session: SessionKey, request: RequestHandle) {
        if let Some(after) = self.request_timeout {
            let due = self.now + after;
            let token = self.arm(after, Due::Request(request));
            self.deadlines.insert(
                request,
                Deadline {
                    child: id,
                    session,
                    due,
                    token,
                    key: None,
                },
            );
        }
    }

    /// `request` was answered or cancelled: its `--request-timeout` is forgotten and its timer
    /// cancelled (before it is handed over, or on the wheel).
    fn drop_deadline(&mut self, request: RequestHandle) {
        let Some(deadline) = self.deadlines.remove(&request) else {
            return;
        };
        self.timers.remove(&deadline.token);
        if let Some(key) = deadline.key {
            self.commands.push_back(Queued::CancelTimer(key));
        }
    }

    /// Queues a notification or response for a child; dropped (and logged) when its stdin
    /// buffer is full, since the child is not reading anyway.
    fn write_control(&mut self, id: ChildId, line: &[u8]) {
        if self.write(id, line).is_err() {
            log::warn(format_args!(
                "{id}: stdin buffer full; dropped a {}-byte message to it",
                line.len()
            ));
        }
    }

    fn set_timer(&mut self, after: Duration, due: Due) {
        self.arm(after, due);
    }

    /// [`Bridge::set_timer`], giving the token.
    fn arm(&mut self, after: Duration, due: Due) -> u64 {
        let token = self.next_timer;
        self.next_timer += 1;
        self.timers.insert(token, due);
        self.commands.push_back(Queued::Timer { after, token });
        token
    }

    /// Ends a child: stdin closed, SIGTERM to its group now, SIGKILL after the grace. With
    /// `blame`, `why` is what its pending requests are told when it is gone.
    fn stop_child(&mut self, id: ChildId, why: &str, blame: bool) {
        let kill_at = self.now + self.kill_grace;
        let Some(child) = self.children.get_mut(&id) else {
            return;
        };
        if !child.accepts_work() {
            return;
        }
        if blame && child.failure.is_none() {
            child.failure = Some(why.to_string());
        }
        let signal_now = child.stop(kill_at).is_some();
        // A session's end is logged once, by the session layer; its child's stop is routine.
        if why == SESSION_ENDED {
            log::debug(format_args!("{id} ({}) stopping: {why}", child.label));
        } else {
            log::info(format_args!("{id} ({}) stopping: {why}", child.label));
        }
        child.close_stdin();
        if signal_now {
            self.actions
                .push_back(ProcessAction::CloseStdin { child: id });
            self.actions.push_back(ProcessAction::Signal {
                child: id,
                signal: Signal::Term,
            });
        }
        self.set_timer(self.kill_grace, Due::Kill(id));
    }

    /// mcpd ends a misbehaving child: its requests are answered now, its session ends.
    fn fail_child(&mut self, id: ChildId, why: &str, now: Instant) {
        self.now = now;
        self.stop_child(id, why, true);
        let Some(mut child) = self.children.remove(&id) else {
            return;
        };
        self.fail_pending(&mut child, why);
        let owner = child.owner;
        self.children.insert(id, child);
        if let Some(session) = owner {
            self.commands
                .push_back(Queued::Send(Some(session), Command::EndSession));
        }
    }

    /// Answers everything the child still owed with -32603 and its stderr tail.
    fn fail_pending(&mut self, child: &mut Child, why: &str) {
        let message = format!("Internal error: the MCP server process ended: {why}");
        let data = child.error_data();
        for origin in child.routes.take_pending() {
            if let Origin::Client { session, request } = origin {
                self.drop_deadline(request);
                let error = ErrorObject::new(jsonrpc::INTERNAL_ERROR, message.clone())
                    .with_data(data.clone());
                self.commands.push_back(Queued::Send(
                    Some(session),
                    Command::Respond {
                        request,
                        outcome: Err(error),
                    },
                ));
            }
        }
    }

    /// The shared child is gone: waiting `initialize` calls fail, a restart is scheduled.
    fn shared_child_gone(&mut self, id: ChildId, why: &str, child: &Child, now: Instant) {
        self.translations_gone(id);
        let handshake = self.is_handshake_child(id);
        let sup = if handshake {
            self.handshake.as_mut()
        } else {
            self.supervisor.as_mut()
        };
        let Some(sup) = sup else {
            return;
        };
        let retry_at = sup.exited(id, now);
        let waiting = std::mem::take(&mut sup.waiting);
        let message = format!("Internal error: the MCP server process ended: {why}");
        self.fail_held(&message, &child.error_data());
        for w in waiting {
            let error = ErrorObject::new(jsonrpc::INTERNAL_ERROR, message.clone())
                .with_data(child.error_data());
            self.commands.push_back(Queued::Send(
                Some(w.session),
                Command::Respond {
                    request: w.request,
                    outcome: Err(error),
                },
            ));
        }
        if let Some(at) = retry_at {
            let after = at.saturating_duration_since(now);
            log::warn(format_args!(
                "the shared MCP server is down; restarting it in {:.1}s",
                after.as_secs_f64()
            ));
            let due = if handshake {
                Due::RestartHandshake
            } else {
                Due::Restart
            };
            self.set_timer(after, due);
        }
    }
}

#[cfg(test)]
mod tests;
