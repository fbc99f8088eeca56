//! Handshake sessions through the bridge: which child serves a session, and the `initialize`
//! that starts one (per-session mode: a child of its own; `--shared`: the shared child's
//! cached result, or the handshake child's when the shared one speaks 2026-07-28).

use super::child::{Child, ChildId};
use super::route::Origin;
use super::supervisor::{Phase, WaitingInit};
use super::Queued;
use super::{Bridge, Member};
use crate::log;
use crate::mcp::jsonrpc::{self, ErrorObject, Params};
use crate::mcp::{Command, Context, RequestHandle, SessionKey};
use serde_json::Value;

impl Bridge {
    /// The child serving `session` and able to take work now; `Err` says why not, and whether
    /// that is a temporary overload (shared child restarting).
    pub(super) fn child_for(&self, session: SessionKey) -> Result<ChildId, (bool, String)> {
        if self.shared {
            let sup = self.handshake.as_ref().or(self.supervisor.as_ref());
            let sup = sup.filter(|_| self.serves_sessions());
            return match sup.and_then(|s| s.is_ready().then(|| s.child()).flatten()) {
                Some(id) if self.children.get(&id).is_some_and(Child::accepts_work) => Ok(id),
                _ => Err((true, "the shared MCP server is restarting".into())),
            };
        }
        let member = self.members.get(&session);
        match member.map(|m| m.child.and_then(|id| self.children.get(&id))) {
            Some(Some(child)) if child.accepts_work() => Ok(child.id),
            Some(Some(child)) => Err((
                false,
                format!(
                    "the MCP server process is ending: {}",
                    child.failure.as_deref().unwrap_or("stopped")
                ),
            )),
            Some(None) => Err((false, "the MCP server process has ended".into())),
            None => Err((
                false,
                "no MCP server process serves this request: per-session mode starts one at \
                 initialize"
                    .into(),
            )),
        }
    }

    /// `initialize` of a handshake session: answered from the shared (or handshake) child's
    /// result, or a child of its own started for it (per-session mode).
    pub(super) fn initialize(
        &mut self,
        ctx: &mut Context<'_>,
        session: SessionKey,
        request: RequestHandle,
        params: Option<Params>,
    ) {
        let view = ctx.session_view();
        let member = Member {
            child: None,
            label: view.map(|v| v.id.clone()).unwrap_or_default(),
            capabilities: view
                .map(|v| v.client_capabilities.clone())
                .unwrap_or(Value::Null),
        };
        if self.shared {
            self.members.insert(session, member);
            let requested = params
                .as_ref()
                .and_then(|p| p.get("protocolVersion"))
                .and_then(Value::as_str)
                .map(str::to_string);
            let Some(sup) = self.session_supervisor() else {
                return;
            };
            match sup.phase {
                Phase::Ready { .. } => {
                    let outcome = sup.initialize_result(requested.as_deref()).ok_or_else(|| {
                        ErrorObject::new(jsonrpc::INTERNAL_ERROR, "no initialize result")
                    });
                    ctx.respond(request, outcome);
                }
                Phase::Starting(_) => sup.waiting.push(WaitingInit {
                    session,
                    request,
                    requested,
                }),
                Phase::Down { .. } | Phase::Stopped => {
                    ctx.overloaded(request, "the shared MCP server is restarting")
                }
            }
            return;
        }
        if self.working_children() >= self.max_children && !self.evict(ctx.least_active_idle()) {
            log::warn(format_args!(
                "child limit ({}) reached and no session is idle; initialize refused",
                self.max_children
            ));
            ctx.overloaded(
                request,
                format!(
                    "the child process limit ({}) is reached; raise --max-children or retry later",
                    self.max_children
                ),
            );
            return;
        }
        let label = format!("session {}", member.label);
        let id = self.new_child(Some(session), label);
        self.members.insert(
            session,
            Member {
                child: Some(id),
                ..member
            },
        );
        if let Some(child) = self.children.get_mut(&id) {
            let origin = Origin::Client { session, request };
            let line = child.routes.request(origin, "initialize", params);
            let _ = self.write(id, &line);
        }
        self.await_init(id, Some(request));
        if let Some(after) = self.child_idle_timeout {
            self.commands
                .push_back(Queued::Send(Some(session), Command::IdleTimeout { after }));
        }
    }
}
