//! Drive a [`Handler`] without sockets: a fake transport for unit tests.
//!
//! A [`Harness`] plays the transport's part: it calls the handler's callbacks with a
//! [`Context`], records every command the handler queues (answers, notifications, requests to
//! the client) and fires its timers from a fake clock, so a test never sleeps and never opens a
//! port. What it does not do is the transports' own work: it sends no `initialize` by itself
//! (call it like any request), adds no `resultType`, and lets a handler's panic fail the test
//! instead of turning it into a JSON-RPC internal error.
//!
//! ```
//! use mcpd::mcp::{Context, Handler, RequestHandle};
//! use mcpd::testing::Harness;
//! use serde_json::{json, Value};
//!
//! struct Hello;
//! impl Handler for Hello {
//!     fn handle_request(&mut self, ctx: &mut Context<'_>, r: RequestHandle, _: &str, _: Option<Value>) {
//!         ctx.respond(r, Ok(json!({"hello": "world"})));
//!     }
//! }
//!
//! let mut h = Harness::new(Hello);
//! assert_eq!(h.call("anything", json!({})), Ok(json!({"hello": "world"})));
//! ```

use crate::mcp::handler::Command;
use crate::mcp::{
    version, Context, ErrorObject, Handler, OutgoingId, RequestHandle, SessionKey, SessionView,
};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Most commands drained from [`Handler::poll_command`] after one callback, and most timers
/// [`Harness::run_timers`] fires: a handler that never settles fails the test instead of
/// hanging it.
const MAX_STEPS: usize = 10_000;

/// One fake transport with one current session and a fake clock.
pub struct Harness<H: Handler> {
    /// The handler under test; inspect its state between calls.
    pub handler: H,
    /// The session the next callback belongs to; `None` outside any session.
    pub session: Option<SessionKey>,
    /// What the session agreed on at `initialize`, as callbacks see it.
    pub view: Option<SessionView>,
    now: Instant,
    next_outgoing: u64,
    next_handle: u64,
    next_session: u64,
    /// Due time, token and session of every timer not fired yet.
    timers: Vec<(Instant, u64, Option<SessionKey>)>,
    /// Every command but timers, in order.
    log: Vec<Command>,
    /// Stateless mode: the request-scoped session of each unanswered request.
    open: Option<Vec<(RequestHandle, SessionKey)>>,
}

impl<H: Handler> Harness<H> {
    /// One handshake-era session (the latest revision, no client capabilities declared), as
    /// after `initialize` over Streamable HTTP or stdio.
    pub fn new(handler: H) -> Harness<H> {
        Harness {
            handler,
            session: Some(SessionKey(1)),
            view: Some(SessionView {
                protocol_version: version::LATEST_LEGACY.into(),
                client_capabilities: json!({}),
                client_info: json!({"name": "mcpd-testing", "version": "1"}),
                ..SessionView::default()
            }),
            now: Instant::now(),
            next_outgoing: 0,
            next_handle: 0,
            next_session: 2,
            timers: Vec::new(),
            log: Vec::new(),
            open: None,
        }
    }

    /// Stateless (2026-07-28) requests: each gets a session key of its own, closed
    /// ([`Handler::session_closed`]) as soon as it is answered; no client capabilities.
    pub fn stateless(handler: H) -> Harness<H> {
        let mut h = Harness::new(handler);
        h.session = None;
        if let Some(view) = &mut h.view {
            view.protocol_version = version::MODERN.into();
        }
        h.open = Some(Vec::new());
        h
    }

    /// Ends the current session ([`Handler::session_closed`]) and starts a new one with `view`;
    /// returns its key.
    pub fn start_session(&mut self, view: SessionView) -> SessionKey {
        if let Some(old) = self.session.take() {
            self.handler.session_closed(old);
        }
        let key = SessionKey(self.next_session);
        self.next_session += 1;
        self.session = Some(key);
        self.view = Some(view);
        key
    }

    /// Sets the client capabilities the callbacks to come see.
    pub fn declare(&mut self, capabilities: Value) {
        self.view
            .get_or_insert_with(SessionView::default)
            .client_capabilities = capabilities;
    }

    /// The fake clock's current time.
    pub fn now(&self) -> Instant {
        self.now
    }

    fn with_ctx(&mut self, session: Option<SessionKey>, f: impl FnOnce(&mut H, &mut Context<'_>)) {
        let mut commands = Vec::new();
        let mut ctx = Context::new(
            self.now,
            session,
            self.view.as_ref(),
            &mut commands,
            &mut self.next_outgoing,
        );
        f(&mut self.handler, &mut ctx);
        let queued = commands.into_iter().map(|c| (session, c));
        let polled: Vec<_> = std::iter::from_fn(|| self.handler.poll_command())
            .take(MAX_STEPS)
            .collect();
        for (session, command) in queued.chain(polled) {
            self.record(session, command);
        }
    }

    fn record(&mut self, session: Option<SessionKey>, command: Command) {
        if let (Command::Respond { request, .. }, Some(open)) = (&command, &mut self.open) {
            if let Some(i) = open.iter().position(|(r, _)| r == request) {
                let (_, key) = open.remove(i);
                self.handler.session_closed(key);
            }
        }
        match command {
            Command::Timer { after, token } => self.timers.push((self.now + after, token, session)),
            other => self.log.push(other),
        }
    }

    /// Sends a request; returns its handle. Timers are not fired.
    pub fn request(&mut self, method: &str, params: Value) -> RequestHandle {
        let handle = RequestHandle(self.next_handle);
        self.next_handle += 1;
        let mut session = self.session;
        if let Some(open) = &mut self.open {
            let key = SessionKey(self.next_session);
            self.next_session += 1;
            open.push((handle, key));
            session = Some(key);
        }
        self.with_ctx(session, |h, ctx| {
            h.handle_request(ctx, handle, method, Some(params))
        });
        handle
    }

    /// Sends a request, fires every timer, and returns the answer.
    ///
    /// # Panics
    /// When the request is still unanswered after that (a failed test).
    pub fn call(&mut self, method: &str, params: Value) -> Result<Value, ErrorObject> {
        let handle = self.request(method, params);
        self.run_timers();
        self.response(handle)
            .unwrap_or_else(|| panic!("{method} was not answered"))
    }

    /// Calls tool `name` with `arguments` (`tools/call`), firing every timer.
    pub fn call_tool(&mut self, name: &str, arguments: Value) -> Result<Value, ErrorObject> {
        self.call("tools/call", json!({"name": name, "arguments": arguments}))
    }

    /// Moves the clock forward by `by`, firing due timers in due order.
    pub fn advance(&mut self, by: Duration) {
        let until = self.now + by;
        while let Some(i) = self.next_due().filter(|i| self.timers[*i].0 <= until) {
            let (due, token, session) = self.timers.remove(i);
            self.now = due;
            self.with_ctx(session, |h, ctx| h.handle_timer(ctx, token));
        }
        self.now = until;
    }

    /// Fires timers, moving the clock, until none is left.
    ///
    /// # Panics
    /// When timers keep coming after 10,000 have fired.
    pub fn run_timers(&mut self) {
        for _ in 0..MAX_STEPS {
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

    /// Fires a timer the handler never set (or already saw), as a late timer would arrive.
    pub fn fire_stray_timer(&mut self, token: u64) {
        let session = self.session;
        self.with_ctx(session, |h, ctx| h.handle_timer(ctx, token));
    }

    /// The client answers request `id` (see [`Harness::client_requests`]).
    pub fn answer(&mut self, id: OutgoingId, outcome: Result<Value, ErrorObject>) {
        let session = self.session;
        self.with_ctx(session, |h, ctx| h.handle_response(ctx, id, outcome));
    }

    /// The client cancels `request`.
    pub fn cancel(&mut self, request: RequestHandle) {
        let session = self.session;
        self.with_ctx(session, |h, ctx| h.handle_cancel(ctx, request));
    }

    /// A notification from the client.
    pub fn notify(&mut self, method: &str, params: Value) {
        let session = self.session;
        self.with_ctx(session, |h, ctx| {
            h.handle_notification(ctx, method, Some(params))
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

    /// How many answers `request` got (transports send only the first).
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

    /// Every command the handler queued except timers, in order (for the rarer ones: ended
    /// sessions, closed streams, overload refusals).
    pub fn commands(&self) -> &[Command] {
        &self.log
    }

    /// Forgets every command recorded so far, so later checks see only what comes next.
    pub fn clear(&mut self) {
        self.log.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers `later` after the delay in its params, reporting progress once on the way;
    /// hands `bg` work out through [`Handler::poll_command`].
    #[derive(Default)]
    struct Later {
        waiting: Vec<(u64, RequestHandle)>,
        background: Vec<(Option<SessionKey>, Command)>,
        closed: Vec<SessionKey>,
    }

    impl Handler for Later {
        fn handle_request(
            &mut self,
            ctx: &mut Context<'_>,
            request: RequestHandle,
            method: &str,
            params: Option<Value>,
        ) {
            let ms = params.as_ref().and_then(|p| p["ms"].as_u64()).unwrap_or(0);
            match method {
                "later" => {
                    let token = self.waiting.len() as u64;
                    self.waiting.push((token, request));
                    ctx.notify(Some(request), "notifications/progress", json!({"ms": ms}));
                    ctx.set_timer(Duration::from_millis(ms), token);
                }
                _ => self.background.push((
                    ctx.session(),
                    Command::Respond {
                        request,
                        outcome: Ok(json!("from poll_command")),
                    },
                )),
            }
        }
        fn handle_timer(&mut self, ctx: &mut Context<'_>, token: u64) {
            if let Some(i) = self.waiting.iter().position(|(t, _)| *t == token) {
                let (_, request) = self.waiting.remove(i);
                ctx.respond(request, Ok(json!(token)));
            }
        }
        fn session_closed(&mut self, session: SessionKey) {
            self.closed.push(session);
        }
        fn poll_command(&mut self) -> Option<(Option<SessionKey>, Command)> {
            self.background.pop()
        }
    }

    #[test]
    fn timers_fire_in_due_order_on_the_fake_clock() {
        let mut h = Harness::new(Later::default());
        let slow = h.request("later", json!({"ms": 500}));
        let fast = h.request("later", json!({"ms": 100}));
        assert_eq!(h.pending_timers(), 2);
        assert_eq!(h.notifications("notifications/progress").len(), 2);
        let start = h.now();
        h.advance(Duration::from_millis(99));
        assert_eq!((h.response(fast), h.response(slow)), (None, None));
        h.advance(Duration::from_millis(1));
        assert!(h.response(fast).is_some() && h.response(slow).is_none());
        h.run_timers();
        assert!(h.response(slow).is_some());
        assert_eq!(h.now() - start, Duration::from_millis(500));
        assert_eq!(h.pending_timers(), 0);
    }

    #[test]
    fn commands_from_poll_command_are_recorded_like_queued_ones() {
        let mut h = Harness::new(Later::default());
        assert_eq!(h.call("bg", json!({})), Ok(json!("from poll_command")));
        h.clear();
        assert!(h.commands().is_empty());
    }

    #[test]
    fn sessions_close_when_replaced_and_stateless_requests_when_answered() {
        let mut h = Harness::new(Later::default());
        let first = h.session.unwrap();
        let second = h.start_session(SessionView::default());
        assert_ne!(first, second);
        assert_eq!(h.handler.closed, [first]);

        let mut h = Harness::stateless(Later::default());
        assert!(h.view.as_ref().is_some_and(SessionView::is_modern));
        let call = h.request("later", json!({"ms": 10}));
        assert!(h.handler.closed.is_empty());
        h.run_timers();
        assert_eq!(h.responses(call), 1);
        assert_eq!(h.handler.closed.len(), 1);
    }
}
