//! The bridge as a [`Handler`]: what the transport hands it (requests, notifications, the
//! client's answers, timers, cancellations, session ends) becomes lines for a child's stdin.

use super::supervisor::{Phase, Supervisor};
use super::{child, route, Bridge, Due, ProcessAction, Queued, Signal};
use crate::log;
use crate::mcp::jsonrpc::{self, ErrorObject, Params};
use crate::mcp::{Command, Context, Handler, Outbox, OutgoingId, RequestHandle, SessionKey};
use crate::process::{ChildId, ExitKind, ProcessHost, SpawnSpec};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

impl Handler for Bridge {
    /// A session's `initialize` goes to its child (started for it in per-session mode); the
    /// answer is the child's, once the child has answered.
    fn initialize(
        &mut self,
        ctx: &mut Context<'_>,
        request: RequestHandle,
        params: Option<Params>,
    ) {
        self.handle_request(ctx, request, "initialize", params);
    }

    /// `ping` travels to the child like any request, so it says whether the backend answers.
    fn ping(&mut self, ctx: &mut Context<'_>, request: RequestHandle, params: Option<Params>) {
        self.handle_request(ctx, request, "ping", params);
    }

    /// `server/discover` is the child's answer (cached while it does not change).
    fn discover(&mut self, ctx: &mut Context<'_>, request: RequestHandle, params: Option<Params>) {
        self.handle_request(ctx, request, "server/discover", params);
    }

    fn handle_request(
        &mut self,
        ctx: &mut Context<'_>,
        request: RequestHandle,
        method: &str,
        params: Option<Params>,
    ) {
        self.now = ctx.now();
        let Some(session) = ctx.session() else {
            let error = ErrorObject::new(
                jsonrpc::INTERNAL_ERROR,
                "the stdio bridge serves requests inside a session only",
            );
            return ctx.respond(request, Err(error));
        };
        if ctx.session_view().is_some_and(|v| v.is_modern()) {
            return self.stateless_request(
                ctx,
                session,
                request,
                method,
                params.map(Params::into_value),
            );
        }
        if method == "initialize" {
            return self.initialize(ctx, session, request, params);
        }
        let id = match self.child_for(session) {
            Ok(id) => id,
            Err((true, why)) => return ctx.overloaded(request, why),
            Err((false, why)) => {
                let error =
                    ErrorObject::new(jsonrpc::INTERNAL_ERROR, format!("Internal error: {why}"));
                return ctx.respond(request, Err(error));
            }
        };
        if let Err(why) = self.forward(id, session, request, method, params) {
            ctx.overloaded(request, why);
        }
    }

    fn handle_notification(&mut self, ctx: &mut Context<'_>, method: &str, params: Option<Params>) {
        self.now = ctx.now();
        if self.shared && method == "notifications/initialized" {
            return; // mcpd sent it to the shared child itself.
        }
        let Some(Ok(id)) = ctx.session().map(|s| self.child_for(s)) else {
            return;
        };
        let line = route::notification_line(method, params);
        self.write_control(id, &line);
    }

    fn handle_response(
        &mut self,
        ctx: &mut Context<'_>,
        ours: OutgoingId,
        outcome: Result<Value, ErrorObject>,
    ) {
        self.now = ctx.now();
        let Some(session) = ctx.session() else { return };
        let Ok(id) = self.child_for(session) else {
            return;
        };
        let Some(child) = self.children.get_mut(&id) else {
            return;
        };
        if let Some(line) = child.routes.client_answer(session, ours, outcome) {
            self.write_control(id, &line);
        }
    }

    fn handle_timer(&mut self, ctx: &mut Context<'_>, token: u64) {
        let now = ctx.now();
        self.now = now;
        match self.timers.remove(&token) {
            Some(Due::Kill(id)) => {
                let Some(child) = self.children.get_mut(&id) else {
                    return;
                };
                if child.kill_due(now) {
                    log::warn(format_args!(
                        "{id} still runs {:.1}s after SIGTERM; sending SIGKILL",
                        self.kill_grace.as_secs_f64()
                    ));
                    self.actions.push_back(ProcessAction::Signal {
                        child: id,
                        signal: Signal::Kill,
                    });
                } else if let child::State::Stopping {
                    kill_at,
                    killed: false,
                    ..
                } = child.state
                {
                    // Early (or before the pid was known): look again at the deadline.
                    let after = kill_at
                        .saturating_duration_since(now)
                        .max(Duration::from_millis(10));
                    self.set_timer(after, Due::Kill(id));
                }
            }
            Some(Due::Restart) if self.supervisor.as_ref().is_some_and(|s| s.restart_due(now)) => {
                let label = if self.shared { "shared" } else { "stateless" };
                let id = self.start_shared(label);
                self.stats.restarted += 1;
                if let Some(sup) = &mut self.supervisor {
                    sup.starting(id);
                }
            }
            Some(Due::RestartHandshake) => self.restart_handshake_child(now),
            Some(Due::Sweep) => self.sweep(now),
            Some(Due::Restart) => {
                if let Some(Phase::Down { retry_at }) = self.supervisor.as_ref().map(|s| s.phase) {
                    // Early: look again when it is due.
                    self.set_timer(retry_at.saturating_duration_since(now), Due::Restart);
                }
            }
            Some(Due::Init(id)) => self.init_due(id),
            Some(Due::Probe(id)) => self.probe_due(id),
            Some(Due::Request(request)) => self.request_due(request, now),
            None => {}
        }
    }

    fn handle_cancel(&mut self, ctx: &mut Context<'_>, request: RequestHandle) {
        self.now = ctx.now();
        self.drop_deadline(request);
        if ctx
            .session()
            .is_some_and(|s| self.stateless.sessions.contains(&s))
        {
            return self.stateless_cancel(request);
        }
        let Some(Ok(id)) = ctx.session().map(|s| self.child_for(s)) else {
            return;
        };
        let line = self
            .children
            .get_mut(&id)
            .and_then(|c| c.routes.cancel(request));
        if let Some(line) = line {
            self.write_control(id, &line);
        }
    }

    fn session_closed(&mut self, session: SessionKey) {
        // Its requests are cancelled in the child below; their deadlines go with them.
        let mine = self.deadlines.iter().filter(|(_, d)| d.session == session);
        let mine: Vec<RequestHandle> = mine.map(|(request, _)| *request).collect();
        for request in mine {
            self.drop_deadline(request);
        }
        if self.stateless_closed(session) {
            return;
        }
        let Some(member) = self.members.remove(&session) else {
            return;
        };
        match member.child {
            Some(id) => self.stop_child(id, super::SESSION_ENDED, true),
            None => {
                let sup = self.handshake.as_ref().or(self.supervisor.as_ref());
                let Some(id) = sup.and_then(Supervisor::child) else {
                    return;
                };
                let lines = self
                    .children
                    .get_mut(&id)
                    .map(|c| c.routes.session_ended(session))
                    .unwrap_or_default();
                for line in lines {
                    self.write_control(id, &line);
                }
                for sup in [&mut self.supervisor, &mut self.handshake]
                    .into_iter()
                    .flatten()
                {
                    sup.waiting.retain(|w| w.session != session);
                }
            }
        }
    }

    fn listened_uris(&mut self, uris: &[String]) {
        self.listened(uris);
    }

    fn handle_wake(&mut self, out: &mut Outbox) {
        while let Some(queued) = self.commands.pop_front() {
            let (session, command) = match queued {
                Queued::Send(session, command) => (session, command),
                Queued::Ask {
                    session,
                    related,
                    method,
                    params,
                    child,
                    child_id,
                } => {
                    let ours = out.request(session, related, &method, params);
                    if let Some(child) = self.children.get_mut(&child) {
                        child.routes.asked(session, ours, child_id);
                    }
                    continue;
                }
                Queued::Timer { after, token } => {
                    let Some(due) = self.timers.get(&token).copied() else {
                        continue; // Cancelled before it was handed over.
                    };
                    let key = out.set_timer(None, after, token);
                    if let Due::Request(request) = due {
                        let deadline = self.deadlines.get_mut(&request);
                        if let Some(deadline) = deadline.filter(|d| d.token == token) {
                            deadline.key = Some(key);
                        }
                    }
                    continue;
                }
                Queued::CancelTimer(key) => {
                    out.cancel_timer(key);
                    continue;
                }
            };
            match (command, session) {
                (Command::Respond { request, outcome }, _) => out.respond(request, outcome),
                (Command::RespondRaw { request, result }, _) => out.respond_raw(request, result),
                (
                    Command::Notify {
                        related,
                        method,
                        params,
                    },
                    session,
                ) => out.notify(session, related, &method, params),
                (Command::Overloaded { request, message }, _) => out.overloaded(request, message),
                (Command::CloseStream { request }, _) => out.close_stream(request),
                (Command::EndSession, Some(session)) => out.end_session(session),
                (Command::IdleTimeout { after }, Some(session)) => out.idle_timeout(session, after),
                (command, _) => {
                    log::debug(format_args!("bridge: nothing queues {command:?}"));
                }
            }
        }
    }

    fn processes(&mut self) -> Option<&mut dyn ProcessHost> {
        Some(self)
    }

    fn health(&self) -> Option<Value> {
        let s = self.stats();
        let mut fields = json!({
            "bridge": if self.shared { "shared" } else { "per-session" },
            "children": {
                "alive": s.alive,
                "spawned": s.spawned,
                "exited": s.exited,
                "restarted": s.restarted,
                "spawn_failed": s.spawn_failed,
                "init_timeouts": s.init_timeouts,
                "request_timeouts": s.request_timeouts,
                "evicted": s.evicted,
            },
            // Limits, so an operator (and /metrics) sees what bounds the children; 0 is none.
            "max_children": self.max_children,
            "child_idle_timeout_seconds": secs(self.child_idle_timeout),
            "request_timeout_seconds": secs(self.request_timeout),
            "init_timeout_seconds": secs(Some(self.init_timeout)),
        });
        if self.init_failing {
            fields["status"] = Value::from("degraded");
        }
        if let Some(sup) = &self.supervisor {
            let state = phase_label(sup.phase);
            let name = if self.shared {
                "shared_child"
            } else {
                "stateless_child"
            };
            fields[name] = Value::from(state);
            if !sup.is_ready() {
                fields["status"] = Value::from("degraded");
            }
        }
        if self.supervisor.is_some() || self.modern_refused {
            fields["child_era"] = Value::from(self.era.label());
        }
        if let Some(sup) = &self.handshake {
            fields["handshake_child"] = Value::from(phase_label(sup.phase));
            if !sup.is_ready() {
                fields["status"] = Value::from("degraded");
            }
        }
        Some(fields)
    }
}

/// The event loop runs the bridge's children through this; each call is the inherent method of
/// the same name.
impl ProcessHost for Bridge {
    fn poll_process_action(&mut self) -> Option<ProcessAction> {
        Bridge::poll_process_action(self)
    }
    fn spawn_spec(&self) -> &SpawnSpec {
        Bridge::spawn_spec(self)
    }
    fn handle_spawned(&mut self, id: ChildId, pid: u32, now: Instant) {
        Bridge::handle_spawned(self, id, pid, now)
    }
    fn handle_spawn_failed(&mut self, id: ChildId, error: &str, now: Instant) {
        Bridge::handle_spawn_failed(self, id, error, now)
    }
    fn stdin_pending(&self, id: ChildId) -> &[u8] {
        Bridge::stdin_pending(self, id)
    }
    fn handle_stdin_written(&mut self, id: ChildId, n: usize) {
        Bridge::handle_stdin_written(self, id, n)
    }
    fn handle_stdout(&mut self, id: ChildId, bytes: &[u8], now: Instant) {
        Bridge::handle_stdout(self, id, bytes, now)
    }
    fn handle_stdout_closed(&mut self, id: ChildId, now: Instant) {
        Bridge::handle_stdout_closed(self, id, now)
    }
    fn handle_stderr(&mut self, id: ChildId, bytes: &[u8], now: Instant) {
        Bridge::handle_stderr(self, id, bytes, now)
    }
    fn handle_exit(&mut self, id: ChildId, kind: ExitKind, now: Instant) {
        Bridge::handle_exit(self, id, kind, now)
    }
    fn shutdown(&mut self, now: Instant) {
        Bridge::shutdown(self, now)
    }
}

/// A timeout as seconds for `/health`; 0 for none.
fn secs(timeout: Option<Duration>) -> f64 {
    timeout.map_or(0.0, |d| d.as_secs_f64())
}

/// A child's phase as `/health` shows it.
fn phase_label(phase: Phase) -> &'static str {
    match phase {
        Phase::Ready { .. } => "ready",
        Phase::Starting(_) => "starting",
        Phase::Down { .. } => "down",
        Phase::Stopped => "stopped",
    }
}
