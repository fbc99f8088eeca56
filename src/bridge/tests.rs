//! The bridge against fake children and a fake clock: bytes in, stdin lines and commands out.

use super::*;
use crate::mcp::dispatch::{Caps, Dispatcher};
use crate::mcp::Context;
use crate::mcp::Handler;
use crate::mcp::SessionView;
use crate::mcp::TimerKey;
use serde_json::json;
use std::collections::BTreeMap;

/// A bridge driven through the dispatcher every transport uses, the sessions the transport
/// would have, and a clock.
struct Rig {
    dispatcher: Dispatcher<Bridge>,
    now: Instant,
    views: HashMap<SessionKey, SessionView>,
    /// Timers armed: due time and key.
    timers: BTreeMap<(Instant, TimerKey), ()>,
    next_client_id: u64,
    next_pid: u32,
    /// Work taken from the bridge's wakes that tests have not looked at yet.
    held: VecDeque<(Option<SessionKey>, Command)>,
}

fn config(shared: bool) -> Config {
    let mut config = Config::default();
    config.bridge.command = vec!["server".into(), "--flag".into()];
    config.bridge.shared = shared;
    config.limits.max_body_bytes = 1000;
    config.limits.max_sessions = 3;
    config
}

/// `--eras` naming every revision: per-session mode then offers 2026-07-28 for a
/// handshake-only child too.
fn every_era(shared: bool) -> Config {
    let mut config = config(shared);
    config.eras = crate::mcp::version::ALL.to_vec();
    config
}

impl Rig {
    fn new(shared: bool) -> Rig {
        Rig::with(config(shared))
    }

    fn with(config: Config) -> Rig {
        let now = Instant::now();
        let caps = Caps::of(&config.limits);
        Rig {
            dispatcher: Dispatcher::new(Box::new(Bridge::new(&config, now)), caps),
            now,
            views: HashMap::new(),
            timers: BTreeMap::new(),
            next_client_id: 100,
            next_pid: 1000,
            held: VecDeque::new(),
        }
    }

    /// The bridge under test.
    fn bridge(&mut self) -> &mut Bridge {
        self.dispatcher.handler_mut()
    }

    /// Runs one handler callback; returns what it queued through the context (timers are kept
    /// for [`Rig::advance`]).
    fn call(
        &mut self,
        session: Option<SessionKey>,
        f: impl FnOnce(&mut Bridge, &mut Context<'_>),
    ) -> Vec<Command> {
        let view = session.and_then(|s| self.views.get(&s));
        let work = self.dispatcher.call(session, view, self.now, None, f);
        let work = work.expect("the bridge panicked");
        self.keep(work).into_iter().map(|(_, c)| c).collect()
    }

    /// A request of `session` in flight, as the transport admits it.
    fn track(&mut self, session: u64, method: &str) -> RequestHandle {
        self.next_client_id += 1;
        let id = crate::mcp::Id::from(self.next_client_id);
        self.dispatcher.track(SessionKey(session), id, method, 0)
    }

    fn request(
        &mut self,
        session: u64,
        method: &str,
        params: Value,
    ) -> (RequestHandle, Vec<Command>) {
        let handle = self.track(session, method);
        let key = SessionKey(session);
        self.views.entry(key).or_insert_with(|| SessionView {
            id: format!("s{session}"),
            client_capabilities: json!({"sampling": {}}),
            ..SessionView::default()
        });
        let view = self.views.get(&key);
        let work = self.dispatcher.request(
            Some(key),
            view,
            handle,
            method,
            Some(params.into()),
            self.now,
            None,
        );
        let commands = self.keep(work).into_iter().map(|(_, c)| c).collect();
        (handle, commands)
    }

    /// Process actions, with spawns carried out (fake pids).
    fn actions(&mut self) -> Vec<ProcessAction> {
        let mut seen = Vec::new();
        while let Some(action) = self.bridge().poll_process_action() {
            if let ProcessAction::Spawn { child } = action {
                self.next_pid += 1;
                let (pid, now) = (self.next_pid, self.now);
                self.bridge().handle_spawned(child, pid, now);
            }
            seen.push(action);
        }
        seen
    }

    /// Commands the bridge produced outside callbacks; timers are kept for [`Rig::advance`].
    fn commands(&mut self) -> Vec<(Option<SessionKey>, Command)> {
        self.commands_keep_timers();
        self.held.drain(..).collect()
    }

    /// Moves the clock and fires due timers.
    fn advance(&mut self, by: Duration) {
        self.commands_keep_timers();
        self.now += by;
        let due: Vec<(Instant, TimerKey)> = self
            .timers
            .keys()
            .copied()
            .filter(|(at, _)| *at <= self.now)
            .collect();
        for key in due {
            self.timers.remove(&key);
            if let Some((session, token)) = self.dispatcher.fire_timer(key.1) {
                let work = self.call(session, |b, ctx| b.handle_timer(ctx, token));
                let work = work.into_iter().map(|c| (session, c));
                self.held.extend(work);
            }
        }
    }

    /// Wakes the bridge: its timers are kept for [`Rig::advance`], the rest for
    /// [`Rig::commands`].
    fn commands_keep_timers(&mut self) {
        let work = self.dispatcher.wake();
        let kept = self.keep(work);
        self.held.extend(kept);
    }

    /// Arms the timers of `work` and gives back the rest, each answer in its request's session.
    fn keep(
        &mut self,
        work: Vec<(Option<SessionKey>, Command)>,
    ) -> Vec<(Option<SessionKey>, Command)> {
        let mut rest = Vec::new();
        for (session, command) in work {
            match command {
                Command::Timer { key, after, .. } => {
                    self.timers.insert((self.now + after, key), ());
                }
                Command::CancelTimer { key } => self.timers.retain(|(_, k), _| *k != key),
                other => {
                    let session = match &other {
                        Command::Respond { request, .. } | Command::Overloaded { request, .. } => {
                            self.dispatcher.get(*request).map(|r| r.session).or(session)
                        }
                        _ => session,
                    };
                    rest.push((session, other));
                }
            }
        }
        rest
    }

    /// The JSON lines waiting for `child`'s stdin, taken.
    fn stdin(&mut self, child: ChildId) -> Vec<Value> {
        let bytes = self.bridge().stdin_pending(child).to_vec();
        self.bridge().handle_stdin_written(child, bytes.len());
        bytes
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect()
    }

    fn stdout(&mut self, child: ChildId, message: Value) {
        let mut line = message.to_string().into_bytes();
        line.push(b'\n');
        let now = self.now;
        self.bridge().handle_stdout(child, &line, now);
    }

    /// A per-session child for `session`, initialized; returns it.
    fn session(&mut self, session: u64) -> ChildId {
        let (_, commands) = self.request(
            session,
            "initialize",
            json!({"protocolVersion": "2025-11-25"}),
        );
        assert!(commands.is_empty(), "{commands:?}");
        let child = spawned(&self.actions());
        let init = self.stdin(child).remove(0);
        assert_eq!(init["method"], "initialize");
        self.stdout(
            child,
            json!({"jsonrpc": "2.0", "id": init["id"], "result": {"protocolVersion": "2025-11-25"}}),
        );
        self.commands();
        child
    }

    /// A fresh child mcpd holds gets the era probe first; this one refuses it, as a
    /// handshake-only server does.
    fn refuse_probe(&mut self, child: ChildId) {
        let probe = self.stdin(child).remove(0);
        assert_eq!(probe["method"], "server/discover");
        assert_eq!(
            probe["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"],
            "2026-07-28"
        );
        self.stdout(
            child,
            json!({"jsonrpc": "2.0", "id": probe["id"], "error": {"code": -32601, "message": "Method not found"}}),
        );
    }

    /// The shared child, initialized by mcpd.
    fn shared_ready(&mut self) -> ChildId {
        let child = spawned(&self.actions());
        self.refuse_probe(child);
        let init = self.stdin(child).remove(0);
        assert_eq!(init["method"], "initialize");
        assert_eq!(init["params"]["clientInfo"]["name"], "mcpd");
        self.stdout(
            child,
            json!({"jsonrpc": "2.0", "id": init["id"], "result": {"protocolVersion": "2025-06-18", "serverInfo": {"name": "child"}}}),
        );
        assert_eq!(self.stdin(child)[0]["method"], "notifications/initialized");
        child
    }
}

fn spawned(actions: &[ProcessAction]) -> ChildId {
    actions
        .iter()
        .find_map(|a| match a {
            ProcessAction::Spawn { child } => Some(*child),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no spawn in {actions:?}"))
}

fn respond_of(
    commands: &[(Option<SessionKey>, Command)],
) -> Vec<(RequestHandle, Result<Value, ErrorObject>)> {
    commands
        .iter()
        .filter_map(|(_, c)| match c {
            Command::Respond { request, outcome } => Some((*request, outcome.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn per_session_initialize_is_answered_by_the_childs_own_result() {
    let mut rig = Rig::new(false);
    let (handle, commands) = rig.request(1, "initialize", json!({"protocolVersion": "2025-06-18"}));
    assert!(commands.is_empty());
    let child = spawned(&rig.actions());
    let init = rig.stdin(child).remove(0);
    assert_eq!(init["params"]["protocolVersion"], "2025-06-18");
    rig.stdout(child, json!({"jsonrpc": "2.0", "id": init["id"], "result": {"protocolVersion": "2025-06-18", "serverInfo": {"name": "c"}}}));
    let answers = respond_of(&rig.commands());
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].0, handle);
    assert_eq!(answers[0].1.as_ref().unwrap()["serverInfo"]["name"], "c");
    assert_eq!(rig.bridge().stats().spawned, 1);
}

#[test]
fn request_ids_are_rewritten_and_restored() {
    let mut rig = Rig::new(false);
    let child = rig.session(1);
    let (a, _) = rig.request(1, "tools/call", json!({"name": "echo"}));
    let (b, _) = rig.request(1, "tools/list", json!({}));
    let lines = rig.stdin(child);
    assert_eq!(lines.len(), 2);
    assert_ne!(lines[0]["id"], lines[1]["id"]);
    // Answers in the other order reach their own requests.
    rig.stdout(
        child,
        json!({"jsonrpc": "2.0", "id": lines[1]["id"], "result": {"tools": []}}),
    );
    rig.stdout(child, json!({"jsonrpc": "2.0", "id": lines[0]["id"], "error": {"code": -32602, "message": "bad"}}));
    let answers = respond_of(&rig.commands());
    assert_eq!(answers[0], (b, Ok(json!({"tools": []}))));
    assert_eq!(answers[1].0, a);
    assert_eq!(answers[1].1.as_ref().unwrap_err().code, -32602);
}

#[test]
fn progress_goes_to_its_request_with_the_clients_token() {
    let mut rig = Rig::new(false);
    let child = rig.session(1);
    let (handle, _) = rig.request(
        1,
        "tools/call",
        json!({"name": "slow", "_meta": {"progressToken": "tok"}}),
    );
    let line = rig.stdin(child).remove(0);
    let token = line["params"]["_meta"]["progressToken"].clone();
    rig.stdout(child, json!({"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": token, "progress": 1}}));
    let commands = rig.commands();
    assert_eq!(
        commands,
        vec![(
            Some(SessionKey(1)),
            Command::Notify {
                related: Some(handle),
                method: "notifications/progress".into(),
                params: json!({"progressToken": "tok", "progress": 1}),
            }
        )]
    );
}

#[test]
fn shared_sessions_with_equal_ids_and_tokens_get_only_their_own_answers() {
    let mut rig = Rig::new(true);
    let child = rig.shared_ready();
    let (_, c1) = rig.request(1, "initialize", json!({"protocolVersion": "2025-03-26"}));
    let (_, c2) = rig.request(2, "initialize", json!({"protocolVersion": "2025-11-25"}));
    let version = |c: &[Command]| match &c[0] {
        Command::Respond { outcome: Ok(r), .. } => r["protocolVersion"].clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(version(&c1), "2025-03-26");
    assert_eq!(
        version(&c2),
        "2025-06-18",
        "never newer than the child speaks"
    );
    rig.call(Some(SessionKey(1)), |b, ctx| {
        b.handle_notification(ctx, "notifications/initialized", None)
    });
    assert!(rig.stdin(child).is_empty(), "mcpd already sent initialized");
    let params = json!({"name": "echo", "_meta": {"progressToken": 1}});
    let (h1, _) = rig.request(1, "tools/call", params.clone());
    let (h2, _) = rig.request(2, "tools/call", params);
    let lines = rig.stdin(child);
    assert_ne!(lines[0]["id"], lines[1]["id"]);
    let (t1, t2) = (
        &lines[0]["params"]["_meta"]["progressToken"],
        &lines[1]["params"]["_meta"]["progressToken"],
    );
    assert_ne!(t1, t2);
    rig.stdout(child, json!({"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": t2, "progress": 5}}));
    rig.stdout(
        child,
        json!({"jsonrpc": "2.0", "id": lines[1]["id"], "result": {"who": 2}}),
    );
    rig.stdout(
        child,
        json!({"jsonrpc": "2.0", "id": lines[0]["id"], "result": {"who": 1}}),
    );
    let commands = rig.commands();
    assert_eq!(
        commands[0],
        (
            Some(SessionKey(2)),
            Command::Notify {
                related: Some(h2),
                method: "notifications/progress".into(),
                params: json!({"progressToken": 1, "progress": 5}),
            }
        )
    );
    assert_eq!(
        commands[1],
        (
            Some(SessionKey(2)),
            Command::Respond {
                request: h2,
                outcome: Ok(json!({"who": 2}))
            }
        )
    );
    assert_eq!(
        commands[2],
        (
            Some(SessionKey(1)),
            Command::Respond {
                request: h1,
                outcome: Ok(json!({"who": 1}))
            }
        )
    );
}

#[test]
fn shared_notifications_without_a_single_request_go_to_every_session() {
    let mut rig = Rig::new(true);
    let child = rig.shared_ready();
    rig.request(1, "initialize", json!({}));
    rig.request(2, "initialize", json!({}));
    rig.stdout(
        child,
        json!({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}),
    );
    let mut sessions: Vec<_> = rig.commands().into_iter().map(|(s, _)| s).collect();
    sessions.sort();
    assert_eq!(
        sessions,
        vec![None, Some(SessionKey(1)), Some(SessionKey(2))],
        "the listen streams (no session) and every session's standalone stream"
    );
    // A request from the child is refused (ping answered) when no one session is busy.
    rig.stdout(
        child,
        json!({"jsonrpc": "2.0", "id": 7, "method": "sampling/createMessage", "params": {}}),
    );
    rig.stdout(child, json!({"jsonrpc": "2.0", "id": 8, "method": "ping"}));
    let back = rig.stdin(child);
    assert_eq!(back[0]["id"], 7);
    assert_eq!(back[0]["error"]["code"], -32603);
    assert_eq!(back[1], json!({"jsonrpc": "2.0", "id": 8, "result": {}}));
    assert!(rig.commands().is_empty());
}

#[test]
fn child_requests_reach_the_busy_request_and_answers_go_back_by_id() {
    let mut rig = Rig::new(false);
    let child = rig.session(1);
    let (handle, _) = rig.request(1, "tools/call", json!({"name": "sample"}));
    rig.stdin(child);
    rig.stdout(child, json!({"jsonrpc": "2.0", "id": "c-1", "method": "sampling/createMessage", "params": {"x": 1}}));
    let commands = rig.commands();
    let ours = match &commands[0] {
        (
            Some(SessionKey(1)),
            Command::Request {
                related,
                id,
                method,
                ..
            },
        ) => {
            assert_eq!(*related, Some(handle));
            assert_eq!(method, "sampling/createMessage");
            *id
        }
        other => panic!("{other:?}"),
    };
    rig.call(Some(SessionKey(1)), |b, ctx| {
        b.handle_response(ctx, ours, Ok(json!({"text": "hi"})))
    });
    assert_eq!(
        rig.stdin(child),
        vec![json!({"jsonrpc": "2.0", "id": "c-1", "result": {"text": "hi"}})]
    );
}

#[test]
fn cancel_reaches_the_child_with_its_own_id() {
    let mut rig = Rig::new(false);
    let child = rig.session(1);
    let (handle, _) = rig.request(1, "tools/call", json!({"name": "slow"}));
    let sent = rig.stdin(child).remove(0);
    rig.call(Some(SessionKey(1)), |b, ctx| b.handle_cancel(ctx, handle));
    let cancel = rig.stdin(child).remove(0);
    assert_eq!(cancel["method"], "notifications/cancelled");
    assert_eq!(cancel["params"]["requestId"], sent["id"]);
    // A late answer is dropped.
    rig.stdout(
        child,
        json!({"jsonrpc": "2.0", "id": sent["id"], "result": {}}),
    );
    assert!(rig.commands().is_empty());
}

#[test]
fn crash_mid_request_answers_with_the_stderr_tail_and_ends_the_session() {
    let mut rig = Rig::new(false);
    let child = rig.session(1);
    let (handle, _) = rig.request(1, "tools/call", json!({"name": "crash"}));
    let now = rig.now;
    rig.bridge()
        .handle_stderr(child, b"Traceback (most recent call last):\nboom\n", now);
    let now = rig.now;
    rig.bridge().handle_exit(child, ExitKind::Code(3), now);
    let commands = rig.commands();
    let answers = respond_of(&commands);
    assert_eq!(answers[0].0, handle);
    let error = answers[0].1.as_ref().unwrap_err();
    assert_eq!(error.code, -32603);
    assert!(
        error.message.contains("exited with status 3"),
        "{}",
        error.message
    );
    assert_eq!(
        error.data,
        Some(
            json!({"exit": {"code": 3}, "stderr": ["Traceback (most recent call last):", "boom"]})
        )
    );
    assert_eq!(
        commands.last(),
        Some(&(Some(SessionKey(1)), Command::EndSession))
    );
    assert_eq!(rig.bridge().stats().alive, 0);
    assert_eq!(rig.bridge().stats().exited, 1);
}

#[test]
fn crash_during_initialize_answers_the_initialize_at_once() {
    let mut rig = Rig::new(false);
    let (handle, _) = rig.request(1, "initialize", json!({}));
    let child = spawned(&rig.actions());
    let now = rig.now;
    rig.bridge()
        .handle_stderr(child, b"ImportError: no module\n", now);
    let now = rig.now;
    rig.bridge().handle_exit(child, ExitKind::Code(1), now);
    let answers = respond_of(&rig.commands());
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].0, handle);
    assert_eq!(
        answers[0].1.as_ref().unwrap_err().data.as_ref().unwrap()["stderr"][0],
        "ImportError: no module"
    );
}

#[test]
fn spawn_failure_answers_the_initialize() {
    let mut rig = Rig::new(false);
    let (handle, _) = rig.request(1, "initialize", json!({}));
    let child = match rig.bridge().poll_process_action() {
        Some(ProcessAction::Spawn { child }) => child,
        other => panic!("{other:?}"),
    };
    let now = rig.now;
    rig.bridge()
        .handle_spawn_failed(child, "No such file or directory", now);
    let answers = respond_of(&rig.commands());
    let error = answers[0].1.as_ref().unwrap_err();
    assert_eq!(answers[0].0, handle);
    assert!(
        error.message.contains("could not be started: No such file"),
        "{}",
        error.message
    );
    assert_eq!(rig.bridge().stats().spawn_failed, 1);
}

#[test]
fn garbage_lines_are_dropped_and_the_stream_goes_on() {
    let mut rig = Rig::new(false);
    let child = rig.session(1);
    let (handle, _) = rig.request(1, "ping", json!({}));
    let sent = rig.stdin(child).remove(0);
    let now = rig.now;
    rig.bridge().handle_stdout(
        child,
        b"Starting server on port 3000...\n{\"not\": \"jsonrpc\"}\n",
        now,
    );
    rig.stdout(
        child,
        json!({"jsonrpc": "2.0", "id": sent["id"], "result": {}}),
    );
    assert_eq!(respond_of(&rig.commands()), vec![(handle, Ok(json!({})))]);
    let signals = rig
        .actions()
        .into_iter()
        .filter(|a| matches!(a, ProcessAction::Signal { .. }));
    assert_eq!(signals.count(), 0, "the child keeps running");
}

#[test]
fn over_long_line_ends_the_child_with_a_clear_error() {
    let mut rig = Rig::new(false);
    let child = rig.session(1);
    let (handle, _) = rig.request(1, "tools/call", json!({}));
    rig.actions();
    let now = rig.now;
    rig.bridge().handle_stdout(child, &[b'x'; 1001], now);
    let commands = rig.commands();
    let answers = respond_of(&commands);
    assert_eq!(answers[0].0, handle);
    assert!(answers[0]
        .1
        .as_ref()
        .unwrap_err()
        .message
        .contains("longer than the limit of 1000 bytes"));
    assert_eq!(
        commands.last(),
        Some(&(Some(SessionKey(1)), Command::EndSession))
    );
    assert_eq!(
        rig.actions(),
        vec![
            ProcessAction::CloseStdin { child },
            ProcessAction::Signal {
                child,
                signal: Signal::Term
            }
        ]
    );
}

#[test]
fn full_stdin_buffer_refuses_requests_with_overloaded() {
    let mut rig = Rig::new(false);
    let _child = rig.session(1);
    let big = "x".repeat(900);
    let mut refused = 0;
    for _ in 0..2000 {
        let (_, commands) = rig.request(1, "tools/call", json!({"name": big}));
        if let [Command::Overloaded { message, .. }] = commands.as_slice() {
            assert!(message.contains("not reading its input"));
            refused += 1;
        }
    }
    // 1 MiB holds about 1100 such lines; the rest are refused, and memory stays bounded.
    assert!(refused > 500 && refused < 1000, "{refused}");
    assert!(
        rig.bridge().stdin_pending(_child).len()
            <= crate::config::BridgeLimits::default().stdin_buffer_bytes
    );
}

#[test]
fn kill_grace_escalates_term_to_kill_once() {
    let mut rig = Rig::new(false);
    let child = rig.session(1);
    rig.actions();
    rig.bridge().session_closed(SessionKey(1));
    assert_eq!(
        rig.actions(),
        vec![
            ProcessAction::CloseStdin { child },
            ProcessAction::Signal {
                child,
                signal: Signal::Term
            }
        ]
    );
    rig.advance(Duration::from_secs(4));
    assert!(rig.actions().is_empty());
    rig.advance(Duration::from_secs(1));
    assert_eq!(
        rig.actions(),
        vec![ProcessAction::Signal {
            child,
            signal: Signal::Kill
        }]
    );
    rig.advance(Duration::from_secs(60));
    assert!(rig.actions().is_empty());
    let now = rig.now;
    rig.bridge().handle_exit(child, ExitKind::Signal(9), now);
    assert_eq!(rig.bridge().stats().alive, 0);
}

#[test]
fn exit_within_the_grace_sends_no_kill() {
    let mut rig = Rig::new(false);
    let child = rig.session(1);
    rig.bridge().session_closed(SessionKey(1));
    rig.actions();
    let now = rig.now;
    rig.bridge().handle_exit(child, ExitKind::Signal(15), now);
    rig.advance(Duration::from_secs(10));
    assert!(rig.actions().is_empty());
}

#[test]
fn max_children_refuses_initialize_with_overloaded() {
    let mut config = config(false);
    config.bridge.max_children = 2;
    let mut rig = Rig::with(config);
    rig.session(1);
    rig.session(2);
    let (_, commands) = rig.request(3, "initialize", json!({}));
    assert!(
        matches!(commands.as_slice(), [Command::Overloaded { message, .. }] if message.contains("--max-children"))
    );
    assert!(rig.actions().is_empty());
}

#[test]
fn shared_child_restarts_with_backoff_and_health_says_degraded_meanwhile() {
    let mut rig = Rig::new(true);
    assert_eq!(rig.bridge().health().unwrap()["status"], "degraded");
    let first = rig.shared_ready();
    assert!(rig.bridge().health().unwrap().get("status").is_none());
    rig.request(1, "initialize", json!({}));
    let (handle, _) = rig.request(1, "tools/call", json!({}));
    rig.actions();
    let now = rig.now;
    rig.bridge().handle_exit(first, ExitKind::Signal(9), now);
    let answers = respond_of(&rig.commands());
    assert_eq!(answers[0].0, handle);
    assert_eq!(rig.bridge().health().unwrap()["status"], "degraded");
    let (_, refused) = rig.request(1, "tools/call", json!({}));
    assert!(matches!(refused.as_slice(), [Command::Overloaded { .. }]));
    rig.advance(Duration::from_millis(499));
    assert!(rig.actions().is_empty());
    rig.advance(Duration::from_millis(1));
    let second = rig.shared_ready();
    assert_ne!(first, second);
    assert_eq!(rig.bridge().stats().restarted, 1);
    rig.actions();
    let now = rig.now;
    rig.bridge().handle_exit(second, ExitKind::Code(1), now);
    rig.advance(Duration::from_millis(999));
    assert!(rig.actions().is_empty());
    rig.advance(Duration::from_millis(1));
    assert!(matches!(
        rig.actions().as_slice(),
        [ProcessAction::Spawn { .. }, ..]
    ));
}

#[test]
fn shutdown_stops_every_child_and_the_shared_one_stays_down() {
    let mut rig = Rig::new(true);
    let child = rig.shared_ready();
    rig.actions();
    let now = rig.now;
    rig.bridge().shutdown(now);
    assert_eq!(
        rig.actions(),
        vec![
            ProcessAction::CloseStdin { child },
            ProcessAction::Signal {
                child,
                signal: Signal::Term
            }
        ]
    );
    let now = rig.now;
    rig.bridge().handle_exit(child, ExitKind::Signal(15), now);
    rig.advance(Duration::from_secs(60));
    assert!(rig.actions().is_empty());
    assert_eq!(rig.bridge().alive(), 0);
}

/// The 2026 `_meta` a stateless client sends.
fn meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
    })
}

/// A tool whose `region` argument is mirrored in `Mcp-Param-Region`.
fn region_tool() -> Value {
    json!({"name": "where", "inputSchema": {"type": "object", "properties": {
        "region": {"type": "string", "x-mcp-header": "Region"}}}})
}

impl Rig {
    /// A stateless request in one-request session `session`, with these `Mcp-Param-*` headers.
    fn stateless(
        &mut self,
        session: u64,
        method: &str,
        params: Value,
        headers: &[(&str, &str)],
    ) -> (RequestHandle, Vec<Command>) {
        let headers = headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        self.views.insert(
            SessionKey(session),
            SessionView {
                protocol_version: "2026-07-28".into(),
                param_headers: Some(headers),
                ..SessionView::default()
            },
        );
        self.request(session, method, params)
    }

    /// Answers mcpd's `initialize` (declaring tools) and `tools/list` of a fresh stateless
    /// child; returns the lines it got after them.
    fn stateless_child_ready(&mut self, child: ChildId) -> Vec<Value> {
        self.refuse_probe(child);
        let init = self.stdin(child).remove(0);
        assert_eq!(init["method"], "initialize");
        self.stdout(
            child,
            json!({"jsonrpc": "2.0", "id": init["id"], "result": {
                "protocolVersion": "2025-11-25",
                "capabilities": {"tools": {"listChanged": true}},
                "serverInfo": {"name": "child", "version": "9"},
                "instructions": "be nice",
            }}),
        );
        let mut lines = self.stdin(child);
        assert_eq!(lines.remove(0)["method"], "notifications/initialized");
        let list = lines.remove(0);
        assert_eq!(list["method"], "tools/list");
        assert_eq!(
            list["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"], "2026-07-28",
            "a dual-era child lists its 2026 tools"
        );
        assert!(
            lines.is_empty(),
            "held until the tools are known: {lines:?}"
        );
        self.stdout(
            child,
            json!({"jsonrpc": "2.0", "id": list["id"], "result": {"tools": [region_tool()]}}),
        );
        self.stdin(child)
    }
}

#[test]
fn per_session_mode_starts_one_stateless_child_lazily_and_discovers_from_its_init() {
    let mut rig = Rig::with(every_era(false));
    assert!(
        rig.actions().is_empty(),
        "nothing before the first stateless request"
    );
    let (discover, held) = rig.stateless(50, "server/discover", json!({"_meta": meta()}), &[]);
    assert!(held.is_empty(), "{held:?}");
    let child = spawned(&rig.actions());
    assert_eq!(
        rig.bridge().health().unwrap()["stateless_child"],
        "starting"
    );
    assert!(
        rig.stateless_child_ready(child).is_empty(),
        "discover is mcpd's"
    );
    let answers = respond_of(&rig.commands());
    assert_eq!(
        answers,
        vec![(
            discover,
            Ok(json!({
                "supportedVersions": ["2026-07-28"],
                "capabilities": {"tools": {"listChanged": true}},
                "instructions": "be nice",
                "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "child", "version": "9"}},
            }))
        )]
    );
    assert_eq!(rig.bridge().health().unwrap()["stateless_child"], "ready");
    // The next one goes to the same child at once, `_meta` intact, under a child-side id.
    let params = json!({"_meta": meta(), "cursor": "c"});
    let (_, commands) = rig.stateless(51, "tools/list", params.clone(), &[]);
    assert!(commands.is_empty());
    assert!(rig
        .actions()
        .iter()
        .all(|a| !matches!(a, ProcessAction::Spawn { .. })));
    let sent = rig.stdin(child);
    assert_eq!(sent[0]["method"], "tools/list");
    assert_eq!(
        sent[0]["params"],
        json!({"cursor": "c"}),
        "a handshake-only child gets no 2026 envelope"
    );
    rig.stdout(
        child,
        json!({"jsonrpc": "2.0", "id": sent[0]["id"], "result": {"tools": []}}),
    );
    assert_eq!(
        rig.commands()[0].0,
        Some(SessionKey(51)),
        "answered in its own session"
    );
    assert_eq!(rig.bridge().stats().alive, 1);
}

#[test]
fn stateless_tools_call_is_checked_against_the_cached_schema() {
    let mut rig = Rig::new(true);
    let child = spawned(&rig.actions());
    rig.stateless_child_ready(child);
    let call =
        |region: Value| json!({"name": "where", "arguments": {"region": region}, "_meta": meta()});
    let (_, refused) = rig.stateless(60, "tools/call", call(json!("eu")), &[]);
    match refused.as_slice() {
        [Command::Respond {
            outcome: Err(error),
            ..
        }] => assert_eq!(error.code, -32020),
        other => panic!("{other:?}"),
    }
    let (_, refused) = rig.stateless(61, "tools/call", call(json!("eu")), &[("region", "us")]);
    assert_eq!(refused.len(), 1);
    assert!(rig.stdin(child).is_empty(), "refused before the child");
    let (_, ok) = rig.stateless(62, "tools/call", call(json!("eu")), &[("region", "eu")]);
    assert!(ok.is_empty());
    let unknown = json!({"name": "other", "arguments": {"region": "x"}, "_meta": meta()});
    rig.stateless(63, "tools/call", unknown.clone(), &[]);
    let sent = rig.stdin(child);
    assert_eq!(sent.len(), 2);
    assert_eq!(
        sent[1]["params"],
        json!({"name": "other", "arguments": {"region": "x"}}),
        "unknown tools go unchecked"
    );
    // A changed tool list is fetched again; meanwhile requests are served with the old one.
    rig.stdout(
        child,
        json!({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}),
    );
    let relist = rig.stdin(child).remove(0);
    assert_eq!(relist["method"], "tools/list");
    rig.stdout(
        child,
        json!({"jsonrpc": "2.0", "id": relist["id"], "result": {"tools": []}}),
    );
    let (_, ok) = rig.stateless(64, "tools/call", call(json!("eu")), &[]);
    assert!(ok.is_empty(), "the tool is gone from the cache: {ok:?}");
}

#[test]
fn child_requests_and_notifications_during_a_stateless_request() {
    for shared in [false, true] {
        let mut rig = Rig::with(every_era(shared));
        if shared {
            let child = spawned(&rig.actions());
            rig.stateless_child_ready(child);
        }
        let mut params = json!({"name": "x", "arguments": {}, "_meta": meta()});
        params["_meta"]["progressToken"] = json!("p");
        let (handle, _) = rig.stateless(70, "tools/call", params, &[]);
        let (child, sent) = match shared {
            true => {
                let child = rig.bridge().stateless_child().unwrap();
                (child, rig.stdin(child).remove(0))
            }
            false => {
                let child = spawned(&rig.actions());
                (child, rig.stateless_child_ready(child).remove(0))
            }
        };
        let token = sent["params"]["_meta"]["progressToken"].clone();
        rig.stdout(
            child,
            json!({"jsonrpc": "2.0", "id": "s1", "method": "sampling/createMessage", "params": {}}),
        );
        let back = rig.stdin(child).remove(0);
        assert_eq!(back["id"], "s1");
        assert_eq!(back["error"]["code"], -32601, "shared {shared}");
        rig.stdout(child, json!({"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": token, "progress": 1}}));
        rig.stdout(
            child,
            json!({"jsonrpc": "2.0", "method": "notifications/prompts/list_changed"}),
        );
        let commands = rig.commands();
        let notes: Vec<_> = commands
            .iter()
            .map(|(session, c)| match c {
                Command::Notify {
                    related, method, ..
                } => (*session, *related, method.as_str()),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            notes,
            vec![
                (Some(SessionKey(70)), Some(handle), "notifications/progress"),
                (None, None, "notifications/prompts/list_changed"),
            ],
            "progress on the request; list changes for the listen streams (shared {shared})"
        );
    }
}

#[test]
fn held_stateless_requests_fail_with_the_child_or_leave_with_their_client() {
    let mut rig = Rig::new(false);
    let (gone, _) = rig.stateless(80, "tools/list", json!({"_meta": meta()}), &[]);
    let (stays, _) = rig.stateless(81, "tools/list", json!({"_meta": meta()}), &[]);
    let child = spawned(&rig.actions());
    rig.call(Some(SessionKey(80)), |b, ctx| b.handle_cancel(ctx, gone));
    rig.bridge().session_closed(SessionKey(80));
    let now = rig.now;
    rig.bridge().handle_stderr(child, b"cannot start\n", now);
    let now = rig.now;
    rig.bridge().handle_exit(child, ExitKind::Code(2), now);
    let answers = respond_of(&rig.commands());
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].0, stays);
    assert_eq!(answers[0].1.as_ref().unwrap_err().code, -32603);
    rig.bridge().session_closed(SessionKey(81));
    // While it is down, stateless requests get 503; after the backoff it starts again.
    let (_, refused) = rig.stateless(82, "tools/list", json!({"_meta": meta()}), &[]);
    assert!(matches!(refused.as_slice(), [Command::Overloaded { .. }]));
    rig.advance(Duration::from_millis(500));
    assert!(matches!(
        rig.actions().as_slice(),
        [ProcessAction::Spawn { .. }, ..]
    ));
}

fn error_of(answer: &(RequestHandle, Result<Value, ErrorObject>)) -> &ErrorObject {
    answer.1.as_ref().unwrap_err()
}

#[test]
fn request_timeout_cancels_in_the_child_and_names_the_flag_progress_restarts_it() {
    let mut config = config(false);
    config.bridge.request_timeout = Some(Duration::from_secs(10));
    let mut rig = Rig::with(config);
    let child = rig.session(1);
    let (handle, _) = rig.request(
        1,
        "tools/call",
        json!({"name": "slow", "_meta": {"progressToken": "tok"}}),
    );
    let sent = rig.stdin(child).remove(0);
    rig.advance(Duration::from_secs(8));
    let token = sent["params"]["_meta"]["progressToken"].clone();
    rig.stdout(child, json!({"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": token, "progress": 1}}));
    rig.advance(Duration::from_secs(8));
    assert!(
        respond_of(&rig.commands()).is_empty(),
        "progress at 8 s moved the deadline to 18 s"
    );
    assert!(rig.stdin(child).is_empty());
    rig.advance(Duration::from_secs(3));
    let answers = respond_of(&rig.commands());
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].0, handle);
    let error = error_of(&answers[0]);
    assert_eq!(error.code, jsonrpc::REQUEST_TIMEOUT);
    assert!(
        error.message.contains("--request-timeout"),
        "{}",
        error.message
    );
    let cancel = rig.stdin(child).remove(0);
    assert_eq!(cancel["method"], "notifications/cancelled");
    assert_eq!(cancel["params"]["requestId"], sent["id"]);
    assert!(cancel["params"]["reason"]
        .as_str()
        .unwrap()
        .contains("--request-timeout"));
    assert_eq!(rig.bridge().stats().request_timeouts, 1);
    // A late answer is dropped, and the session goes on.
    rig.stdout(
        child,
        json!({"jsonrpc": "2.0", "id": sent["id"], "result": {}}),
    );
    assert!(respond_of(&rig.commands()).is_empty());
    assert!(rig.bridge().child_for(SessionKey(1)).is_ok());
    // A session that ends takes its requests' deadlines along.
    rig.request(1, "tools/call", json!({"name": "slow"}));
    assert_eq!(rig.bridge().deadlines.len(), 1);
    rig.bridge().session_closed(SessionKey(1));
    assert!(rig.bridge().deadlines.is_empty());
}

#[test]
fn answered_requests_and_zero_request_timeout_never_time_out() {
    let mut config = config(false);
    config.bridge.request_timeout = Some(Duration::from_secs(10));
    let mut rig = Rig::with(config.clone());
    let child = rig.session(1);
    rig.request(1, "tools/list", json!({}));
    let sent = rig.stdin(child).remove(0);
    rig.stdout(
        child,
        json!({"jsonrpc": "2.0", "id": sent["id"], "result": {}}),
    );
    assert_eq!(respond_of(&rig.commands()).len(), 1);
    rig.advance(Duration::from_secs(60));
    assert!(respond_of(&rig.commands()).is_empty());
    assert!(rig.bridge().deadlines.is_empty());

    config.bridge.request_timeout = None;
    let mut rig = Rig::with(config);
    let child = rig.session(1);
    rig.request(1, "tools/call", json!({"name": "forever"}));
    rig.advance(Duration::from_secs(365 * 24 * 3600));
    assert!(respond_of(&rig.commands()).is_empty());
    assert_eq!(rig.stdin(child).len(), 1, "only the call itself");
}

#[test]
fn answered_and_cancelled_requests_leave_no_request_timeout_timer_pending() {
    let mut config = config(false);
    config.bridge.request_timeout = Some(Duration::from_secs(10));
    let mut rig = Rig::with(config);
    let child = rig.session(1);
    rig.commands();
    let before = (rig.timers.len(), rig.dispatcher.live_timers());
    let bridge_before = rig.bridge().timers.len();
    for _ in 0..20 {
        rig.request(1, "tools/list", json!({}));
        rig.commands();
        assert_eq!(rig.timers.len(), before.0 + 1, "its timer is armed");
        let sent = rig.stdin(child).remove(0);
        rig.stdout(
            child,
            json!({"jsonrpc": "2.0", "id": sent["id"], "result": {}}),
        );
        assert_eq!(respond_of(&rig.commands()).len(), 1);
    }
    // One answered before its timer was even handed over: nothing is armed for it at all.
    let (handle, _) = rig.request(1, "tools/list", json!({}));
    rig.call(Some(SessionKey(1)), |b, ctx| b.handle_cancel(ctx, handle));
    rig.commands();
    assert_eq!(
        (rig.timers.len(), rig.dispatcher.live_timers()),
        before,
        "no --request-timeout timer outlives its request"
    );
    assert_eq!(rig.bridge().timers.len(), bridge_before);
    assert!(rig.bridge().deadlines.is_empty());
}

#[test]
fn init_timeout_ends_a_silent_child_and_answers_with_its_stderr_health_degraded() {
    let mut config = config(false);
    config.bridge.init_timeout = Duration::from_secs(2);
    let mut rig = Rig::with(config);
    let (handle, _) = rig.request(1, "initialize", json!({}));
    let child = spawned(&rig.actions());
    let now = rig.now;
    rig.bridge()
        .handle_stderr(child, b"downloading package...\n", now);
    rig.advance(Duration::from_millis(1999));
    assert!(respond_of(&rig.commands()).is_empty());
    rig.advance(Duration::from_millis(1));
    let answers = respond_of(&rig.commands());
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].0, handle);
    let error = error_of(&answers[0]);
    assert_eq!(error.code, jsonrpc::REQUEST_TIMEOUT);
    assert_eq!(
        error.message,
        "Initialize timed out: the MCP server process did not answer initialize within 2s \
         (--init-timeout)"
    );
    assert_eq!(
        error.data.as_ref().unwrap()["stderr"][0],
        "downloading package..."
    );
    assert!(rig.actions().contains(&ProcessAction::Signal {
        child,
        signal: Signal::Term
    }));
    let health = rig.bridge().health().unwrap();
    assert_eq!(health["status"], "degraded");
    assert_eq!(health["children"]["init_timeouts"], 1);
    assert_eq!(health["init_timeout_seconds"], 2.0);
    rig.session(2);
    assert!(
        rig.bridge().health().unwrap().get("status").is_none(),
        "a child that answers clears it"
    );
}

#[test]
fn shared_init_timeout_answers_waiting_clients_and_restarts() {
    let mut config = config(true);
    config.bridge.init_timeout = Duration::from_secs(1);
    let mut rig = Rig::with(config);
    let child = spawned(&rig.actions());
    let (handle, commands) = rig.request(1, "initialize", json!({}));
    assert!(commands.is_empty(), "held while the child starts");
    rig.advance(Duration::from_secs(1));
    let answers = respond_of(&rig.commands());
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].0, handle);
    assert_eq!(error_of(&answers[0]).code, jsonrpc::REQUEST_TIMEOUT);
    let now = rig.now;
    rig.bridge().handle_exit(child, ExitKind::Signal(15), now);
    rig.advance(Duration::from_secs(1));
    assert_ne!(
        spawned(&rig.actions()),
        child,
        "restarted after the backoff"
    );
}

#[test]
fn max_children_ends_the_least_active_idle_session_to_make_room() {
    let mut config = config(false);
    config.bridge.max_children = 2;
    let mut rig = Rig::with(config);
    let first = rig.session(1);
    rig.session(2);
    let handle = rig.track(3, "initialize");
    rig.views.insert(SessionKey(3), SessionView::default());
    let commands = rig.call(Some(SessionKey(3)), |b, ctx| {
        ctx.set_least_active_idle(Some(SessionKey(1)));
        b.handle_request(ctx, handle, "initialize", Some(json!({}).into()))
    });
    assert!(commands.is_empty(), "not refused: {commands:?}");
    let actions = rig.actions();
    assert!(actions.contains(&ProcessAction::Signal {
        child: first,
        signal: Signal::Term
    }));
    assert!(rig
        .commands()
        .contains(&(Some(SessionKey(1)), Command::EndSession)));
    assert_ne!(spawned(&actions), first);
    assert_eq!(rig.bridge().stats().evicted, 1);
    // No idle session to end: 503.
    let (_, commands) = rig.request(4, "initialize", json!({}));
    assert!(
        matches!(commands.as_slice(), [Command::Overloaded { message, .. }] if message.contains("--max-children"))
    );
}

#[test]
fn per_session_children_ask_for_the_idle_timeout_and_health_shows_the_limits() {
    let mut rig = Rig::new(false);
    rig.request(1, "initialize", json!({}));
    let wanted = (
        Some(SessionKey(1)),
        Command::IdleTimeout {
            after: Duration::from_secs(600),
        },
    );
    assert!(rig.commands().contains(&wanted));
    let health = rig.bridge().health().unwrap();
    assert_eq!(health["max_children"], crate::config::DEFAULT_MAX_CHILDREN);
    assert_eq!(health["child_idle_timeout_seconds"], 600.0);
    assert_eq!(health["request_timeout_seconds"], 300.0);
}

/// A modern (2026-07-28) child's answer to the era probe.
fn discover_result(name: &str) -> Value {
    json!({
        "supportedVersions": ["2026-07-28"],
        "capabilities": {"tools": {"listChanged": true}},
        "resultType": "complete",
        "_meta": {"io.modelcontextprotocol/serverInfo": {"name": name, "version": "2"}},
    })
}

impl Rig {
    /// Answers the era probe of `child` as a dual-era server does, then its tools listing.
    fn modern_child_ready(&mut self, child: ChildId, name: &str) {
        let probe = self.stdin(child).remove(0);
        assert_eq!(probe["method"], "server/discover");
        self.stdout(
            child,
            json!({"jsonrpc": "2.0", "id": probe["id"], "result": discover_result(name)}),
        );
        let list = self
            .stdin(child)
            .into_iter()
            .find(|l| l["method"] == "tools/list")
            .expect("mcpd lists the tools");
        self.stdout(
            child,
            json!({"jsonrpc": "2.0", "id": list["id"], "result": {"tools": []}}),
        );
    }
}

#[test]
fn a_modern_stateless_child_is_never_initialized_and_answers_discover_itself() {
    let mut rig = Rig::new(false);
    let (discover, _) = rig.stateless(50, "server/discover", json!({"_meta": meta()}), &[]);
    let child = spawned(&rig.actions());
    assert_eq!(rig.bridge().health().unwrap()["child_era"], "probing");
    rig.modern_child_ready(child, "dual");
    assert_eq!(
        respond_of(&rig.commands()),
        vec![(discover, Ok(discover_result("dual")))],
        "the child's own server/discover answer"
    );
    let health = rig.bridge().health().unwrap();
    assert_eq!(health["child_era"], "2026-07-28");
    assert_eq!(health["stateless_child"], "ready");
    let params = json!({"_meta": meta(), "name": "get_time", "arguments": {"tz": "UTC"}});
    rig.stateless(51, "tools/call", params.clone(), &[]);
    let sent = rig.stdin(child);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["method"], "tools/call", "no initialize, ever");
    assert_eq!(sent[0]["params"], params, "the 2026 envelope as it was");
    // A list change renews the cached discover answer.
    rig.stdout(
        child,
        json!({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}),
    );
    let again = rig.stdin(child);
    assert!(
        again.iter().any(|l| l["method"] == "server/discover"),
        "{again:?}"
    );
}

#[test]
fn shared_modern_child_gets_a_handshake_child_for_the_sessions() {
    let mut rig = Rig::new(true);
    let modern = spawned(&rig.actions());
    // A handshake client arriving during the probe waits for the child that will serve it.
    let (init, early) = rig.request(1, "initialize", json!({"protocolVersion": "2025-06-18"}));
    assert!(early.is_empty(), "{early:?}");
    rig.modern_child_ready(modern, "dual");
    let handshake = spawned(&rig.actions());
    assert_ne!(handshake, modern);
    let line = rig.stdin(handshake).remove(0);
    assert_eq!(
        line["method"], "initialize",
        "no probe for the handshake child"
    );
    rig.stdout(
        handshake,
        json!({"jsonrpc": "2.0", "id": line["id"], "result": {"protocolVersion": "2025-11-25", "serverInfo": {"name": "dual"}}}),
    );
    assert_eq!(
        rig.stdin(handshake)[0]["method"],
        "notifications/initialized"
    );
    let answers = respond_of(&rig.commands());
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(answers[0].0, init);
    let result = answers[0].1.clone().unwrap();
    assert_eq!(result["protocolVersion"], "2025-06-18");
    assert_eq!(result["serverInfo"]["name"], "dual");
    let health = rig.bridge().health().unwrap();
    assert_eq!(
        (&health["child_era"], &health["handshake_child"]),
        (&json!("2026-07-28"), &json!("ready"))
    );
    // Handshake sessions go to the handshake child, 2026 requests to the modern one.
    rig.request(1, "tools/list", json!({}));
    assert_eq!(rig.stdin(handshake)[0]["method"], "tools/list");
    assert!(rig.stdin(modern).is_empty());
    rig.stateless(70, "tools/list", json!({"_meta": meta()}), &[]);
    assert_eq!(rig.stdin(modern)[0]["method"], "tools/list");
    assert!(rig.stdin(handshake).is_empty());
}

#[test]
fn per_session_mode_offers_no_2026_for_a_handshake_only_child_unless_asked() {
    let mut rig = Rig::new(false);
    let (discover, _) = rig.stateless(50, "server/discover", json!({"_meta": meta()}), &[]);
    let child = spawned(&rig.actions());
    rig.refuse_probe(child);
    assert!(
        rig.stdin(child).is_empty(),
        "no initialize: the child is not kept"
    );
    let refusal = |outcome: &Result<Value, ErrorObject>| {
        let error = outcome.clone().unwrap_err();
        assert_eq!(error.code, -32022);
        assert_eq!(
            error.data.unwrap()["supported"],
            json!(["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"]),
            "handshake revisions only: clients fall back to initialize"
        );
    };
    let answers = respond_of(&rig.commands());
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].0, discover);
    refusal(&answers[0].1);
    assert!(rig
        .actions()
        .iter()
        .any(|a| matches!(a, ProcessAction::Signal { child: c, .. } if *c == child)));
    let now = rig.now;
    rig.bridge().handle_exit(child, ExitKind::Code(0), now);
    assert!(rig.commands().is_empty(), "no restart");
    // Later 2026 requests are refused at once, without a child.
    let (_, now) = rig.stateless(51, "tools/list", json!({"_meta": meta()}), &[]);
    match now.as_slice() {
        [Command::Respond { outcome, .. }] => refusal(outcome),
        other => panic!("{other:?}"),
    }
    assert!(rig.actions().is_empty());
    assert_eq!(rig.bridge().health().unwrap()["child_era"], "handshake");
}

/// A stateless request of a client that declared `capabilities`.
fn stateless_with(
    rig: &mut Rig,
    session: u64,
    method: &str,
    params: Value,
    capabilities: Value,
) -> RequestHandle {
    rig.views.insert(
        SessionKey(session),
        SessionView {
            protocol_version: "2026-07-28".into(),
            client_capabilities: capabilities,
            param_headers: Some(Vec::new()),
            ..SessionView::default()
        },
    );
    let (handle, commands) = rig.request(session, method, params);
    assert!(commands.is_empty(), "{commands:?}");
    handle
}

/// `--shared` with a handshake-only child, ready, tools listed.
fn translating_rig() -> (Rig, ChildId) {
    translating_rig_with(config(true))
}

fn translating_rig_with(config: Config) -> (Rig, ChildId) {
    let mut rig = Rig::with(config);
    let child = spawned(&rig.actions());
    rig.stateless_child_ready(child);
    rig.commands();
    (rig, child)
}

#[test]
fn a_childs_sampling_becomes_input_required_and_the_retry_answers_it() {
    let (mut rig, child) = translating_rig();
    let call = json!({"name": "ask", "arguments": {"q": 1}, "_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {"sampling": {}},
        "io.modelcontextprotocol/logLevel": "debug",
        "progressToken": "p1"}});
    let first = stateless_with(
        &mut rig,
        80,
        "tools/call",
        call.clone(),
        json!({"sampling": {}}),
    );
    let sent = rig.stdin(child);
    assert_eq!(sent[0]["method"], "logging/setLevel");
    assert_eq!(sent[0]["params"], json!({"level": "debug"}));
    assert_eq!(sent[1]["method"], "tools/call");
    let original = sent[1]["id"].clone();
    let token = sent[1]["params"]["_meta"]["progressToken"].clone();
    assert_eq!(sent[1]["params"]["arguments"], json!({"q": 1}));
    assert!(
        sent[1]["params"]["_meta"]
            .as_object()
            .unwrap()
            .keys()
            .all(|k| k == "progressToken"),
        "envelope stripped: {}",
        sent[1]
    );
    rig.stdout(
        child,
        json!({"jsonrpc": "2.0", "id": "q1", "method": "sampling/createMessage", "params": {"maxTokens": 5}}),
    );
    let answers = respond_of(&rig.commands());
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].0, first);
    let result = answers[0].1.clone().unwrap();
    assert_eq!(result["resultType"], "input_required");
    assert_eq!(
        result["inputRequests"],
        json!({"sampling": {"method": "sampling/createMessage", "params": {"maxTokens": 5}}})
    );
    let state = result["requestState"].as_str().unwrap().to_string();
    assert_eq!(state.len(), 36, "a UUID");
    // The first request's session ends; the child's request is not cancelled.
    rig.call(None, |b, _| b.session_closed(SessionKey(80)));
    assert!(rig.stdin(child).is_empty());
    // Tampered, foreign-request retries are refused; the state survives them.
    let mut retry = call.clone();
    retry["requestState"] = json!(format!("{state}x"));
    retry["inputResponses"] = json!({"sampling": {"role": "assistant", "content": {"type": "text", "text": "hi"}, "model": "m"}});
    let refusal = |rig: &mut Rig, session: u64, params: Value| {
        rig.views
            .insert(SessionKey(session), rig.views[&SessionKey(80)].clone());
        let (_, commands) = rig.request(session, "tools/call", params);
        match commands.as_slice() {
            [Command::Respond {
                outcome: Err(e), ..
            }] => {
                assert_eq!(e.code, -32602);
                e.message.clone()
            }
            other => panic!("{other:?}"),
        }
    };
    assert!(refusal(&mut rig, 81, retry.clone()).contains("unknown"));
    retry["requestState"] = json!(state);
    let mut other = retry.clone();
    other["arguments"] = json!({"q": 2});
    assert!(refusal(&mut rig, 82, other).contains("another request"));
    // The retry answers the child's question and takes over the call.
    retry["_meta"]["progressToken"] = json!("p2");
    let second = stateless_with(
        &mut rig,
        83,
        "tools/call",
        retry.clone(),
        json!({"sampling": {}}),
    );
    let sent = rig.stdin(child);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["id"], "q1");
    assert_eq!(sent[0]["result"]["content"]["text"], "hi");
    rig.stdout(child, json!({"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": token, "progress": 1}}));
    rig.stdout(
        child,
        json!({"jsonrpc": "2.0", "id": original, "result": {"content": [{"type": "text", "text": "done"}]}}),
    );
    let commands = rig.commands();
    match &commands[0].1 {
        Command::Notify {
            related, params, ..
        } => {
            assert_eq!(*related, Some(second));
            assert_eq!(params["progressToken"], "p2", "the retry's own token");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        respond_of(&commands),
        vec![(
            second,
            Ok(json!({"content": [{"type": "text", "text": "done"}]}))
        )]
    );
    // Used once.
    assert!(refusal(&mut rig, 84, retry).contains("already used"));
}

#[test]
fn an_unanswered_round_expires_and_releases_the_child() {
    // A configured lifetime, not the default: expiry follows `BridgeLimits::continuation_ttl`.
    let mut config = config(true);
    config.bridge.limits.continuation_ttl = Duration::from_secs(30);
    let (mut rig, child) = translating_rig_with(config);
    let call = json!({"name": "ask", "arguments": {}, "_meta": meta()});
    stateless_with(
        &mut rig,
        90,
        "tools/call",
        call.clone(),
        json!({"elicitation": {}}),
    );
    let original = rig.stdin(child)[0]["id"].clone();
    rig.stdout(
        child,
        json!({"jsonrpc": "2.0", "id": 7, "method": "elicitation/create", "params": {}}),
    );
    let state = respond_of(&rig.commands())[0].1.clone().unwrap()["requestState"].clone();
    rig.call(None, |b, _| b.session_closed(SessionKey(90)));
    rig.advance(Duration::from_secs(29));
    assert!(rig.stdin(child).is_empty(), "not yet");
    rig.advance(Duration::from_secs(1));
    let sent = rig.stdin(child);
    assert_eq!(sent[0]["id"], 7);
    assert!(sent[0]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("did not answer within 30 s"));
    assert_eq!(sent[1]["method"], "notifications/cancelled");
    assert_eq!(sent[1]["params"]["requestId"], original);
    let mut retry = call;
    retry["requestState"] = state;
    retry["inputResponses"] = json!({"elicitation": {"action": "cancel"}});
    rig.views.insert(
        SessionKey(91),
        SessionView {
            protocol_version: "2026-07-28".into(),
            ..SessionView::default()
        },
    );
    let (_, commands) = rig.request(91, "tools/call", retry);
    match commands.as_slice() {
        [Command::Respond {
            outcome: Err(e), ..
        }] => {
            assert_eq!(e.code, -32602);
            assert!(e.message.contains("expire"), "{}", e.message);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_child_asking_an_undeclared_capability_is_refused() {
    let (mut rig, child) = translating_rig();
    let call = json!({"name": "ask", "arguments": {}, "_meta": meta()});
    stateless_with(&mut rig, 95, "tools/call", call, json!({}));
    rig.stdin(child);
    rig.stdout(
        child,
        json!({"jsonrpc": "2.0", "id": 8, "method": "roots/list", "params": {}}),
    );
    let back = rig.stdin(child).remove(0);
    assert_eq!(back["error"]["code"], -32601);
    assert!(back["error"]["message"].as_str().unwrap().contains("roots"));
    assert!(rig.commands().is_empty(), "the call goes on");
}

#[test]
fn listened_resources_are_subscribed_on_a_handshake_only_child() {
    let mut rig = Rig::new(true);
    let child = spawned(&rig.actions());
    rig.refuse_probe(child);
    let init = rig.stdin(child).remove(0);
    rig.stdout(
        child,
        json!({"jsonrpc": "2.0", "id": init["id"], "result": {"protocolVersion": "2025-11-25",
            "capabilities": {"resources": {"subscribe": true}}}}),
    );
    rig.stdin(child);
    let uris = |list: &[&str]| list.iter().map(|u| u.to_string()).collect::<Vec<_>>();
    rig.bridge().listened_uris(&uris(&["a://1", "a://2"]));
    let sent: Vec<(Value, Value)> = rig
        .stdin(child)
        .into_iter()
        .map(|l| (l["method"].clone(), l["params"]["uri"].clone()))
        .collect();
    assert_eq!(
        sent,
        vec![
            (json!("resources/subscribe"), json!("a://1")),
            (json!("resources/subscribe"), json!("a://2"))
        ]
    );
    rig.bridge().listened_uris(&uris(&["a://2"]));
    let sent = rig.stdin(child);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["method"], "resources/unsubscribe");
    assert_eq!(sent[0]["params"]["uri"], "a://1");
    // Its updates reach the listen streams with no request in flight.
    rig.stdout(
        child,
        json!({"jsonrpc": "2.0", "method": "notifications/resources/updated", "params": {"uri": "a://2"}}),
    );
    let commands = rig.commands();
    assert!(
        commands
            .iter()
            .any(|(s, c)| s.is_none() && matches!(c, Command::Notify { method, .. } if method == "notifications/resources/updated")),
        "{commands:?}"
    );
}

#[test]
fn shutdown_stops_the_handshake_child_for_good_too() {
    let mut rig = Rig::new(true);
    let modern = spawned(&rig.actions());
    rig.modern_child_ready(modern, "dual");
    let handshake = spawned(&rig.actions());
    let now = rig.now;
    rig.bridge().shutdown(now);
    rig.actions();
    for child in [modern, handshake] {
        let now = rig.now;
        rig.bridge().handle_exit(child, ExitKind::Code(0), now);
    }
    rig.advance(Duration::from_secs(60));
    assert!(
        rig.actions()
            .iter()
            .all(|a| !matches!(a, ProcessAction::Spawn { .. })),
        "no restart while stopping"
    );
}

#[test]
fn questions_asked_while_parked_open_the_next_round_and_are_bounded() {
    // A configured bound, not the default: the queue follows `BridgeLimits::max_queued`.
    let max_queued = 5;
    let mut config = config(true);
    config.bridge.limits.max_queued = max_queued;
    let (mut rig, child) = translating_rig_with(config);
    let caps = json!({"sampling": {}, "elicitation": {}});
    let call = json!({"name": "ask", "arguments": {}, "_meta": meta()});
    stateless_with(&mut rig, 100, "tools/call", call.clone(), caps.clone());
    let original = rig.stdin(child)[0]["id"].clone();
    rig.stdout(
        child,
        json!({"jsonrpc": "2.0", "id": "q1", "method": "sampling/createMessage", "params": {}}),
    );
    let state = respond_of(&rig.commands())[0].1.clone().unwrap()["requestState"].clone();
    rig.call(None, |b, _| b.session_closed(SessionKey(100)));
    for n in 0..=max_queued {
        rig.stdout(
            child,
            json!({"jsonrpc": "2.0", "id": format!("e{n}"), "method": "elicitation/create", "params": {"n": n}}),
        );
    }
    let refused = rig.stdin(child);
    assert_eq!(refused.len(), 1, "only the one past the bound: {refused:?}");
    assert_eq!(refused[0]["id"], format!("e{max_queued}"));
    let mut retry = call.clone();
    retry["requestState"] = state;
    retry["inputResponses"] = json!({"sampling": {"role": "assistant", "model": "m",
        "content": {"type": "text", "text": "s"}}});
    rig.views.insert(
        SessionKey(101),
        SessionView {
            protocol_version: "2026-07-28".into(),
            client_capabilities: caps.clone(),
            ..SessionView::default()
        },
    );
    let (second, now) = rig.request(101, "tools/call", retry);
    assert_eq!(rig.stdin(child)[0]["id"], "q1", "the first round answered");
    let next = match now.as_slice() {
        [Command::Respond {
            request,
            outcome: Ok(result),
        }] => {
            assert_eq!(*request, second);
            result.clone()
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(next["resultType"], "input_required");
    let keys: Vec<&String> = next["inputRequests"].as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), max_queued, "{keys:?}");
    assert_eq!(next["inputRequests"]["elicitation"]["params"]["n"], 0);
    // The second round's retry resumes the call; the child's answer reaches it.
    let mut last = call;
    last["requestState"] = next["requestState"].clone();
    last["inputResponses"] = json!({"elicitation": {"action": "decline"}});
    let third = stateless_with(&mut rig, 102, "tools/call", last, caps);
    let answered = rig.stdin(child);
    assert_eq!(answered.len(), max_queued);
    assert_eq!(answered[0]["result"]["action"], "decline");
    assert_eq!(
        answered[1]["error"]["code"], -32602,
        "no answer under its key"
    );
    rig.stdout(
        child,
        json!({"jsonrpc": "2.0", "id": original, "result": {"content": []}}),
    );
    assert_eq!(
        respond_of(&rig.commands()),
        vec![(third, Ok(json!({"content": []})))]
    );
}

#[test]
fn a_child_silent_on_the_probe_is_taken_for_handshake_only() {
    // A configured probe time, not the default: the wait follows `BridgeLimits::probe_timeout`.
    let mut config = config(true);
    config.bridge.limits.probe_timeout = Duration::from_secs(2);
    let mut rig = Rig::with(config);
    let child = spawned(&rig.actions());
    let probe = rig.stdin(child).remove(0);
    assert_eq!(probe["method"], "server/discover");
    rig.advance(Duration::from_millis(1999));
    assert!(rig.stdin(child).is_empty(), "not yet");
    rig.advance(Duration::from_millis(1));
    let init = rig.stdin(child).remove(0);
    assert_eq!(init["method"], "initialize");
    assert_eq!(rig.bridge().health().unwrap()["child_era"], "handshake");
    // A late answer changes nothing.
    rig.stdout(
        child,
        json!({"jsonrpc": "2.0", "id": probe["id"], "result": discover_result("late")}),
    );
    assert!(rig.stdin(child).is_empty());
    assert_eq!(rig.bridge().health().unwrap()["child_era"], "handshake");
    rig.stdout(
        child,
        json!({"jsonrpc": "2.0", "id": init["id"], "result": {"protocolVersion": "2025-11-25"}}),
    );
    assert_eq!(rig.stdin(child)[0]["method"], "notifications/initialized");
    assert_eq!(rig.bridge().health().unwrap()["shared_child"], "ready");
}

#[test]
fn a_slow_dual_era_child_refusing_the_late_initialize_is_modern_after_all() {
    let mut rig = Rig::new(true);
    let child = spawned(&rig.actions());
    let probe = rig.stdin(child).remove(0);
    rig.advance(crate::config::BridgeLimits::default().probe_timeout);
    let init = rig.stdin(child).remove(0);
    assert_eq!(init["method"], "initialize");
    // It read the probe first (cold start): its connection is 2026 now.
    rig.stdout(
        child,
        json!({"jsonrpc": "2.0", "id": probe["id"], "result": discover_result("slow")}),
    );
    rig.stdout(
        child,
        json!({"jsonrpc": "2.0", "id": init["id"], "error": {"code": -32022, "message": "connection is serving the 2026-07-28 protocol"}}),
    );
    let health = rig.bridge().health().unwrap();
    assert_eq!(health["child_era"], "2026-07-28");
    assert_eq!(health["shared_child"], "ready", "not ended: {health}");
    assert!(
        rig.actions()
            .iter()
            .any(|a| matches!(a, ProcessAction::Spawn { .. })),
        "the handshake child starts"
    );
}

#[test]
fn per_session_mode_takes_back_a_refusal_when_the_probe_answer_comes_late() {
    let mut rig = Rig::new(false);
    let (first, _) = rig.stateless(50, "server/discover", json!({"_meta": meta()}), &[]);
    let child = spawned(&rig.actions());
    let probe = rig.stdin(child).remove(0);
    rig.advance(crate::config::BridgeLimits::default().probe_timeout);
    let refused = respond_of(&rig.commands());
    assert_eq!(refused[0].0, first);
    assert_eq!(refused[0].1.clone().unwrap_err().code, -32022);
    rig.stdout(
        child,
        json!({"jsonrpc": "2.0", "id": probe["id"], "result": discover_result("slow")}),
    );
    // The next 2026 request starts a child again, to be probed.
    rig.stateless(51, "server/discover", json!({"_meta": meta()}), &[]);
    let again = spawned(&rig.actions());
    assert_ne!(again, child);
    assert_eq!(rig.stdin(again)[0]["method"], "server/discover");
}

#[test]
fn without_2026_in_eras_there_is_no_probe() {
    let mut config = config(true);
    config.eras = vec!["2025-11-25"];
    let mut rig = Rig::with(config);
    let child = spawned(&rig.actions());
    let first = rig.stdin(child).remove(0);
    assert_eq!(first["method"], "initialize", "straight to the handshake");
    assert_eq!(rig.bridge().health().unwrap()["child_era"], "handshake");
}

#[test]
fn request_state_handles_name_the_instance() {
    let mut config = config(true);
    config.instance_id = Some("node-b".into());
    let mut rig = Rig::with(config);
    let child = spawned(&rig.actions());
    rig.stateless_child_ready(child);
    let call = json!({"name": "ask", "arguments": {}, "_meta": meta()});
    stateless_with(&mut rig, 110, "tools/call", call, json!({"sampling": {}}));
    rig.stdin(child);
    rig.stdout(
        child,
        json!({"jsonrpc": "2.0", "id": 1, "method": "sampling/createMessage", "params": {}}),
    );
    let result = respond_of(&rig.commands())[0].1.clone().unwrap();
    let state = result["requestState"].as_str().unwrap();
    assert!(state.starts_with("node-b-"), "{state}");
    assert_eq!(state.len(), "node-b-".len() + 36);
}

/// The `notifications/progress` commands among `commands`: (request, token, progress).
fn progress_of(commands: &[(Option<SessionKey>, Command)]) -> Vec<(RequestHandle, Value, Value)> {
    commands
        .iter()
        .filter_map(|(_, c)| match c {
            Command::Notify {
                related: Some(request),
                method,
                params,
            } if method == "notifications/progress" => Some((
                *request,
                params["progressToken"].clone(),
                params["progress"].clone(),
            )),
            _ => None,
        })
        .collect()
}

/// A translated call with token `p1` that the child parks with a sampling question: the
/// call's params, the child-side id and token, and the `requestState`.
fn parked_call(rig: &mut Rig, child: ChildId, session: u64) -> (Value, Value, Value, Value) {
    let call = json!({"name": "ask", "arguments": {}, "_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "progressToken": "p1"}});
    let first = stateless_with(
        rig,
        session,
        "tools/call",
        call.clone(),
        json!({"sampling": {}}),
    );
    let sent = rig.stdin(child);
    let (original, token) = (
        sent[0]["id"].clone(),
        sent[0]["params"]["_meta"]["progressToken"].clone(),
    );
    rig.stdout(
        child,
        json!({"jsonrpc": "2.0", "method": "notifications/progress",
        "params": {"progressToken": token, "progress": 1, "total": 3}}),
    );
    rig.stdout(
        child,
        json!({"jsonrpc": "2.0", "id": "q1", "method": "sampling/createMessage", "params": {}}),
    );
    let commands = rig.commands();
    assert_eq!(progress_of(&commands), vec![(first, json!("p1"), json!(1))]);
    let state = respond_of(&commands)[0].1.clone().unwrap()["requestState"].clone();
    rig.call(None, |b, _| b.session_closed(SessionKey(session)));
    (call, original, token, state)
}

#[test]
fn progress_while_parked_reaches_the_retry_in_order_under_its_token() {
    let (mut rig, child) = translating_rig();
    let (call, original, token, state) = parked_call(&mut rig, child, 110);
    // Reported while no client request is open: held, not sent to the finished first call.
    rig.stdout(
        child,
        json!({"jsonrpc": "2.0", "method": "notifications/progress",
        "params": {"progressToken": token, "progress": 2, "total": 3}}),
    );
    assert_eq!(rig.commands(), vec![]);
    let mut retry = call;
    retry["requestState"] = state;
    retry["inputResponses"] = json!({"sampling": {"role": "assistant", "model": "m",
        "content": {"type": "text", "text": "s"}}});
    retry["_meta"]["progressToken"] = json!("p2");
    let second = stateless_with(&mut rig, 111, "tools/call", retry, json!({"sampling": {}}));
    assert_eq!(rig.stdin(child)[0]["id"], "q1");
    rig.stdout(
        child,
        json!({"jsonrpc": "2.0", "method": "notifications/progress",
        "params": {"progressToken": token, "progress": 3, "total": 3}}),
    );
    rig.stdout(
        child,
        json!({"jsonrpc": "2.0", "id": original, "result": {"content": []}}),
    );
    let commands = rig.commands();
    assert_eq!(
        progress_of(&commands),
        vec![
            (second, json!("p2"), json!(2)),
            (second, json!("p2"), json!(3))
        ]
    );
    assert_eq!(
        respond_of(&commands),
        vec![(second, Ok(json!({"content": []})))]
    );
}

#[test]
fn progress_held_while_parked_is_bounded_and_precedes_an_early_answer() {
    let (mut rig, child) = translating_rig();
    let (call, original, token, state) = parked_call(&mut rig, child, 120);
    let extra = 5;
    for n in 0..crate::config::BridgeLimits::default().max_parked_progress + extra {
        rig.stdout(
            child,
            json!({"jsonrpc": "2.0", "method": "notifications/progress",
            "params": {"progressToken": token, "progress": 10 + n}}),
        );
    }
    // The child finishes before the retry comes.
    rig.stdout(
        child,
        json!({"jsonrpc": "2.0", "id": original, "result": {"content": []}}),
    );
    assert_eq!(rig.commands(), vec![]);
    let mut retry = call;
    retry["requestState"] = state;
    retry["inputResponses"] = json!({"sampling": {"role": "assistant", "model": "m",
        "content": {"type": "text", "text": "s"}}});
    retry["_meta"]["progressToken"] = json!(9);
    let second = stateless_with(&mut rig, 121, "tools/call", retry, json!({"sampling": {}}));
    let commands = rig.commands();
    let progress = progress_of(&commands);
    let expected: Vec<(RequestHandle, Value, Value)> = (extra
        ..crate::config::BridgeLimits::default().max_parked_progress + extra)
        .map(|n| (second, json!(9), json!(10 + n)))
        .collect();
    assert_eq!(progress, expected, "the latest, in order");
    assert!(
        matches!(commands.last(), Some((_, Command::Respond { request, outcome: Ok(_) })) if *request == second),
        "the answer after its progress: {commands:?}"
    );
}
