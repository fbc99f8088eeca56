//! What bounds the children in time and number, so a child that never answers cannot hold a
//! client (or a session) forever and idle ones cannot hoard memory:
//!
//! - `--request-timeout`: a client request forwarded to a child must be answered within it;
//!   each `notifications/progress` for the request starts it again. Past it the child gets
//!   `notifications/cancelled` and the client a -32001 error naming the flag.
//! - `--init-timeout`: a child must answer `initialize` within it, or it is ended; the clients
//!   waiting for it get -32001 with its stderr tail (HTTP 504: a gateway whose upstream did not
//!   answer in time, RFC 9110 15.6.5), and `/health` says degraded until a child answers.
//! - `--max-children`: at the limit, the least recently active idle session (no request in
//!   flight, no open stream, as the transport tells through
//!   [`Context::least_active_idle`](crate::mcp::Context::least_active_idle)) is ended to make
//!   room; only when none is idle does `initialize` get 503.
//! - `--child-idle-timeout`: asked of the transport per session with its own child
//!   ([`Command::IdleTimeout`]).
//!
//! Deadlines live in the bridge's own tables; the wheel only wakes it, and an early or stale
//! wake-up is harmless (the deadline is checked again).

use super::child::ChildId;
use super::route::Origin;
use super::Queued;
use super::{Bridge, Due};
use crate::log;
use crate::mcp::jsonrpc::{self, ErrorObject};
use crate::mcp::{Command, RequestHandle, SessionKey};
use std::time::Instant;

impl Bridge {
    /// Children that count against `--max-children`: those not being ended (an ended one is
    /// gone within `--kill-grace`).
    pub(super) fn working_children(&self) -> usize {
        self.children.values().filter(|c| c.accepts_work()).count()
    }

    /// Ends the idle session `victim` (if it owns a working child) to make room for a new one;
    /// whether it did.
    pub(super) fn evict(&mut self, victim: Option<SessionKey>) -> bool {
        let Some(victim) = victim else {
            return false;
        };
        let Some(id) = self.members.get(&victim).and_then(|m| m.child) else {
            return false;
        };
        if !self.children.get(&id).is_some_and(|c| c.accepts_work()) {
            return false; // Ending already: it frees no room.
        }
        let label = self.members.remove(&victim).map(|m| m.label);
        log::info(format_args!(
            "child limit ({}) reached: ending the least recently active idle session {} to make \
             room",
            self.max_children,
            label.unwrap_or_default()
        ));
        self.stats.evicted += 1;
        self.stop_child(
            id,
            "its session was idle the longest when a new one needed room (--max-children)",
            true,
        );
        self.commands
            .push_back(Queued::Send(Some(victim), Command::EndSession));
        true
    }

    /// A child answered `origin`: if that was its `initialize`, its timeout is off.
    pub(super) fn init_answered(&mut self, id: ChildId, origin: Origin, ok: bool) {
        let request = match origin {
            Origin::Client { request, .. } => Some(request),
            Origin::Initialize => None,
            // The era probe: `probed` ends the timeout when no `initialize` follows.
            _ => return,
        };
        if self.awaiting_init.get(&id) == Some(&request) {
            self.awaiting_init.remove(&id);
            if ok {
                self.init_failing = false;
            }
        }
    }

    /// A progress notification for `request`: its `--request-timeout` starts again.
    pub(super) fn progress_seen(&mut self, request: RequestHandle) {
        if let (Some(deadline), Some(after)) =
            (self.deadlines.get_mut(&request), self.request_timeout)
        {
            deadline.due = self.now + after;
        }
    }

    /// `--request-timeout` of `request` may be over.
    pub(super) fn request_due(&mut self, request: RequestHandle, now: Instant) {
        let Some(deadline) = self.deadlines.get(&request).copied() else {
            return;
        };
        if deadline.due > now {
            // Progress moved it: look again then (the timer that fired was its only one).
            let token = self.arm(deadline.due - now, Due::Request(request));
            if let Some(deadline) = self.deadlines.get_mut(&request) {
                deadline.token = token;
                deadline.key = None;
            }
            return;
        }
        self.deadlines.remove(&request);
        let after = self.request_timeout.unwrap_or_default();
        let reason = format!(
            "no answer within {}s (mcpd --request-timeout)",
            after.as_secs_f64()
        );
        let id = deadline.child;
        let Some(line) = self
            .children
            .get_mut(&id)
            .and_then(|c| c.routes.cancel_because(request, &reason))
        else {
            return; // Answered or cancelled meanwhile.
        };
        self.write_control(id, &line);
        self.stats.request_timeouts += 1;
        log::warn(format_args!(
            "{id}: a request got {reason}; cancelled in the child, the client gets an error"
        ));
        let message = format!(
            "Request timed out: the MCP server process gave {reason}; raise --request-timeout \
             (0 for none) if it needs longer"
        );
        let error = ErrorObject::new(jsonrpc::REQUEST_TIMEOUT, message);
        self.commands.push_back(Queued::Send(
            Some(deadline.session),
            Command::Respond {
                request,
                outcome: Err(error),
            },
        ));
    }

    /// `--init-timeout` of child `id` is over: if it still owes `initialize`, it is ended and
    /// whoever waits for it is told, with its stderr tail.
    pub(super) fn init_due(&mut self, id: ChildId) {
        let Some(request) = self.awaiting_init.remove(&id) else {
            return;
        };
        if !self.children.get(&id).is_some_and(|c| c.accepts_work()) {
            return;
        }
        let late = format!(
            "did not answer initialize within {}s (--init-timeout)",
            self.init_timeout.as_secs_f64()
        );
        let why = format!("it {late}");
        log::warn(format_args!("{id}: {why}; stopping it"));
        self.stats.init_timeouts += 1;
        self.init_failing = true;
        self.stop_child(id, &why, true);
        let Some(child) = self.children.get_mut(&id) else {
            return;
        };
        let data = child.error_data();
        let message = format!("Initialize timed out: the MCP server process {late}");
        let error = ErrorObject::new(jsonrpc::REQUEST_TIMEOUT, message.clone()).with_data(data);
        let answer = |session: SessionKey, request: RequestHandle| {
            let outcome = Err(error.clone());
            (Some(session), Command::Respond { request, outcome })
        };
        let mut commands = Vec::new();
        match (request, child.owner) {
            (Some(request), Some(session)) => {
                child.routes.cancel_because(request, &why);
                commands.push(answer(session, request));
            }
            _ => {
                for sup in [&mut self.supervisor, &mut self.handshake]
                    .into_iter()
                    .flatten()
                {
                    for w in std::mem::take(&mut sup.waiting) {
                        commands.push(answer(w.session, w.request));
                    }
                }
                let data = error.data.clone().unwrap_or_default();
                self.fail_held(&message, &data);
            }
        }
        let queued = commands.into_iter().map(|(s, c)| Queued::Send(s, c));
        self.commands.extend(queued);
    }
}
