//! A fake transport for tests: drives a [`Builtin`] through [`Context`], records every command
//! it queues, and fires its timers from a fake clock (no sleeps).

use super::Builtin;
use crate::mcp::handler::Command;
use crate::mcp::{
    Context, ErrorObject, Handler, OutgoingId, RequestHandle, SessionKey, SessionView,
};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// One transport with one current session and a fake clock.
pub(super) struct Harness {
    pub builtin: Builtin,
    /// The session the next callback belongs to; `None` for stateless requests.
    pub session: Option<SessionKey>,
    /// What the client declared; `None` before `initialize` is known.
    pub view: Option<SessionView>,
    now: Instant,
    next_outgoing: u64,
    next_handle: u64,
    /// Due time, token and session of every timer not fired yet.
    timers: Vec<(Instant, u64, Option<SessionKey>)>,
    /// Every command except timers, in the order queued.
    pub log: Vec<Command>,
}

impl Harness {
    /// Session 1, whose client declared sampling and elicitation, as the conformance client does.
    pub fn new() -> Harness {
        Harness {
            builtin: Builtin::new(),
            session: Some(SessionKey(1)),
            view: Some(SessionView {
                protocol_version: "2025-11-25".into(),
                client_capabilities: json!({"sampling": {}, "elicitation": {}}),
                client_info: json!({"name": "test-client", "version": "1"}),
                ..SessionView::default()
            }),
            now: Instant::now(),
            next_outgoing: 0,
            next_handle: 0,
            timers: Vec::new(),
            log: Vec::new(),
        }
    }

    fn with_ctx(
        &mut self,
        session: Option<SessionKey>,
        f: impl FnOnce(&mut Builtin, &mut Context<'_>),
    ) {
        let mut commands = Vec::new();
        let mut ctx = Context::new(
            self.now,
            session,
            self.view.as_ref(),
            &mut commands,
            &mut self.next_outgoing,
        );
        f(&mut self.builtin, &mut ctx);
        for command in commands {
            match command {
                Command::Timer { after, token } => {
                    self.timers.push((self.now + after, token, session))
                }
                other => self.log.push(other),
            }
        }
    }

    /// Sends a request; returns its handle. Timers are not fired.
    pub fn request(&mut self, method: &str, params: Value) -> RequestHandle {
        let handle = RequestHandle(self.next_handle);
        self.next_handle += 1;
        let session = self.session;
        self.with_ctx(session, |b, ctx| {
            b.handle_request(ctx, handle, method, Some(params))
        });
        handle
    }

    /// Sends a request, fires every timer, and returns the answer.
    pub fn call(&mut self, method: &str, params: Value) -> Result<Value, ErrorObject> {
        let handle = self.request(method, params);
        self.run_timers();
        self.response(handle).expect("the request was answered")
    }

    /// Calls tool `name` with `arguments`, firing every timer.
    pub fn call_tool(&mut self, name: &str, arguments: Value) -> Result<Value, ErrorObject> {
        self.call("tools/call", json!({"name": name, "arguments": arguments}))
    }

    /// Moves the clock forward by `by`, firing due timers in due order.
    pub fn advance(&mut self, by: Duration) {
        let until = self.now + by;
        while let Some(i) = self.next_due().filter(|i| self.timers[*i].0 <= until) {
            let (due, token, session) = self.timers.remove(i);
            self.now = due;
            self.with_ctx(session, |b, ctx| b.handle_timer(ctx, token));
        }
        self.now = until;
    }

    /// Fires timers until none is left.
    pub fn run_timers(&mut self) {
        for _ in 0..10_000 {
            let Some(i) = self.next_due() else { return };
            let due = self.timers[i].0;
            self.advance(due.saturating_duration_since(self.now));
        }
        panic!("timers never settle");
    }

    fn next_due(&self) -> Option<usize> {
        (0..self.timers.len()).min_by_key(|i| self.timers[*i].0)
    }

    /// Timers set and not fired yet.
    pub fn pending_timers(&self) -> usize {
        self.timers.len()
    }

    /// Fires a timer the handler never set (or already saw).
    pub fn fire_stray_timer(&mut self, token: u64) {
        let session = self.session;
        self.with_ctx(session, |b, ctx| b.handle_timer(ctx, token));
    }

    /// The client answers request `id`.
    pub fn answer(&mut self, id: OutgoingId, outcome: Result<Value, ErrorObject>) {
        let session = self.session;
        self.with_ctx(session, |b, ctx| b.handle_response(ctx, id, outcome));
    }

    /// The client cancels `request`.
    pub fn cancel(&mut self, request: RequestHandle) {
        let session = self.session;
        self.with_ctx(session, |b, ctx| b.handle_cancel(ctx, request));
    }

    /// A notification from the client.
    pub fn notify(&mut self, method: &str, params: Value) {
        let session = self.session;
        self.with_ctx(session, |b, ctx| {
            b.handle_notification(ctx, method, Some(params))
        });
    }

    /// The first answer to `request`, if any.
    pub fn response(&self, request: RequestHandle) -> Option<Result<Value, ErrorObject>> {
        self.log.iter().find_map(|c| match c {
            Command::Respond {
                request: r,
                outcome,
            } if *r == request => Some(outcome.clone()),
            _ => None,
        })
    }

    /// How many answers `request` got.
    pub fn responses(&self, request: RequestHandle) -> usize {
        let answers =
            |c: &&Command| matches!(c, Command::Respond { request: r, .. } if *r == request);
        self.log.iter().filter(answers).count()
    }

    /// Params of every notification named `method`, with the request each relates to.
    pub fn notifications(&self, method: &str) -> Vec<(Option<RequestHandle>, Value)> {
        self.log
            .iter()
            .filter_map(|c| match c {
                Command::Notify {
                    related,
                    method: m,
                    params,
                } if m == method => Some((*related, params.clone())),
                _ => None,
            })
            .collect()
    }

    /// Every request sent to the client: relation, id, method, params.
    pub fn client_requests(&self) -> Vec<(Option<RequestHandle>, OutgoingId, String, Value)> {
        self.log
            .iter()
            .filter_map(|c| match c {
                Command::Request {
                    related,
                    id,
                    method,
                    params,
                } => Some((*related, *id, method.clone(), params.clone())),
                _ => None,
            })
            .collect()
    }
}
