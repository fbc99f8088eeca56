//! Drive a [`Handler`] without sockets: a fake transport for unit tests.
//!
//! A [`Harness`] plays the transport's part through the same dispatcher every transport uses:
//! it hands the handler requests, notifications, client answers and cancellations, records
//! every command the handler queues (answers, notifications, requests to the client), fires its
//! timers from a fake clock (cancelled ones never fire) and calls [`Handler::handle_wake`] after
//! every input, so a test never sleeps and never opens a port. Like a transport, it turns a
//! handler's panic into a JSON-RPC internal error for the request being handled. What it does
//! not do is the transports' wire work: it sends no `initialize` by itself (call it like any
//! request) and adds no `resultType`.
//!
//! ```
//! use mcpd::mcp::{Context, Handler, Params, RequestHandle};
//! use mcpd::testing::Harness;
//! use serde_json::json;

//!
//! struct Hello;
//! impl Handler for Hello {
//!     fn handle_request(&mut self, ctx: &mut Context<'_>, r: RequestHandle, _: &str, _: Option<Params>) {
//!         ctx.respond(r, Ok(json!({"hello": "world"})));
//!     }
//! }
//!
//! let mut h = Harness::new(Hello);
//! assert_eq!(h.call("anything", json!({})), Ok(json!({"hello": "world"})));
//! ```

use crate::mcp::dispatch::{call_back_refusals, Caps, Dispatcher, TimerKey, Work};
use crate::mcp::handler::Command;
use crate::mcp::jsonrpc::Answer;
use crate::mcp::{
    version, ErrorObject, Handler, Id, OutgoingId, RequestHandle, SessionKey, SessionView,
};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Requests to the client refused at the cap, waiting to be answered to the handler.
type RefusedQueue = VecDeque<(Option<SessionKey>, OutgoingId, ErrorObject)>;

/// An incremental `text/event-stream` parser, for tests that read a server's SSE streams over
/// HTTP (the same parser mcpd's own tests use).
pub use crate::sse::{EventReader, ParsedEvent};

/// Most timers [`Harness::run_timers`] fires: a handler that never settles fails the test
/// instead of hanging it.
const MAX_STEPS: usize = 10_000;

/// The key requests are tracked under while [`Harness::session`] is `None`.
const NO_SESSION: SessionKey = SessionKey(0);

/// One fake transport with one current session and a fake clock.
pub struct Harness<H: Handler> {
    dispatcher: Dispatcher<H>,
    /// The session the next callback belongs to; `None` outside any session.
    pub session: Option<SessionKey>,
    /// What the session agreed on at `initialize`, as callbacks see it.
    pub view: Option<SessionView>,
    now: Instant,
    next_client_id: u64,
    next_session: u64,
    /// Due time and key of every timer armed, fired or cancelled ones included.
    timers: Vec<(Instant, TimerKey)>,
    /// Every command but timers, in order.
    log: Vec<Command>,
    /// Stateless mode: the request-scoped session of each unanswered request.
    open: Option<Vec<(RequestHandle, SessionKey)>>,
    /// The session each unanswered request to the client was sent in (its answer comes there).
    asked: Vec<(OutgoingId, SessionKey)>,
}

impl<H: Handler> Harness<H> {
    /// One handshake-era session (the latest revision, no client capabilities declared), as
    /// after `initialize` over Streamable HTTP or stdio.
    pub fn new(handler: H) -> Harness<H> {
        let caps = Caps::of(&crate::config::Limits::default());
        Harness {
            dispatcher: Dispatcher::new(Box::new(handler), caps),
            session: Some(SessionKey(1)),
            view: Some(SessionView {
                protocol_version: version::LATEST_LEGACY.into(),
                client_capabilities: json!({}),
                client_info: json!({"name": "mcpd-testing", "version": "1"}),
                ..SessionView::default()
            }),
            now: Instant::now(),
            next_client_id: 0,
            next_session: 2,
            timers: Vec::new(),
            log: Vec::new(),
            open: None,
            asked: Vec::new(),
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

    /// The handler under test, to inspect its state between calls.
    pub fn handler(&self) -> &H {
        self.dispatcher.handler()
    }

    /// The handler under test, to change its state between calls.
    pub fn handler_mut(&mut self) -> &mut H {
        self.dispatcher.handler_mut()
    }

    /// Ends the current session ([`Handler::session_closed`]) and starts a new one with `view`;
    /// returns its key.
    pub fn start_session(&mut self, view: SessionView) -> SessionKey {
        if let Some(old) = self.session.take() {
            self.close(old);
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

    /// Runs one callback in `session`, then [`Handler::handle_wake`]; records what they queued.
    fn with_ctx(
        &mut self,
        session: Option<SessionKey>,
        f: impl FnOnce(&mut H, &mut crate::mcp::Context<'_>),
    ) {
        let work = self
            .dispatcher
            .call(session, self.view.as_ref(), self.now, None, f)
            .unwrap_or_default();
        self.record(work);
        self.wake();
    }

    /// Runs [`Handler::handle_wake`] and records what it queued.
    fn wake(&mut self) {
        let work = self.dispatcher.wake();
        self.record(work);
    }

    /// Records what the handler queued; requests over the cap go back to it as errors, bounded
    /// like a transport's ([`call_back_refusals`]).
    fn record(&mut self, work: Work) {
        let mut refused = VecDeque::new();
        self.record_batch(work, &mut refused);
        call_back_refusals(&mut refused, |(session, id, error), refused| {
            let view = self.view.as_ref();
            let work = self
                .dispatcher
                .call(session, view, self.now, None, |h, ctx| {
                    h.handle_response(ctx, id, Err(error))
                })
                .unwrap_or_default();
            self.record_batch(work, refused);
        });
    }

    /// [`Harness::record`] for one batch; refused requests go to `refused`.
    fn record_batch(&mut self, work: Work, refused: &mut RefusedQueue) {
        for (session, command) in work {
            if let Some(request) = command.answered() {
                self.dispatcher.finish(request);
                if let Some(open) = &mut self.open {
                    if let Some(i) = open.iter().position(|(r, _)| *r == request) {
                        let (_, key) = open.remove(i);
                        self.close(key);
                    }
                }
            }
            match command {
                Command::Timer { key, after, .. } => self.timers.push((self.now + after, key)),
                // Like a transport: past the cap the handler hears of it at once.
                Command::Request { id, .. } => {
                    let key = session.unwrap_or(NO_SESSION);
                    match self.dispatcher.sent(key, id) {
                        Ok(()) => {
                            self.asked.push((id, key));
                            self.log.push(command)
                        }
                        Err(error) => refused.push_back((session, id, error)),
                    }
                }
                other => self.log.push(other),
            }
        }
    }

    /// Sends a request; returns its handle. Timers are not fired.
    pub fn request(&mut self, method: &str, params: Value) -> RequestHandle {
        let mut session = self.session;
        if self.open.is_some() {
            session = Some(SessionKey(self.next_session));
            self.next_session += 1;
        }
        self.next_client_id += 1;
        let id = Id::from(self.next_client_id);
        let handle = self
            .dispatcher
            .track(session.unwrap_or(NO_SESSION), id, method, 0);
        if let (Some(open), Some(key)) = (&mut self.open, session) {
            open.push((handle, key));
        }
        let view = self.view.as_ref();
        let work = self.dispatcher.request(
            session,
            view,
            handle,
            method,
            Some(params.into()),
            self.now,
            None,
        );
        self.record(work);
        self.wake();
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

    /// Moves the clock forward by `by`, firing due timers in due order (cancelled ones are
    /// skipped).
    pub fn advance(&mut self, by: Duration) {
        let until = self.now + by;
        while let Some(i) = self.next_due().filter(|i| self.timers[*i].0 <= until) {
            let (due, key) = self.timers.remove(i);
            self.now = due;
            if let Some((session, token)) = self.dispatcher.fire_timer(key) {
                self.with_ctx(session, |h, ctx| h.handle_timer(ctx, token));
            }
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

    /// The earliest timer still due to fire; cancelled ones are dropped on the way.
    fn next_due(&mut self) -> Option<usize> {
        let live = &self.dispatcher;
        self.timers.retain(|(_, key)| live.has_timer(*key));
        (0..self.timers.len()).min_by_key(|i| self.timers[*i].0)
    }

    /// Timers set and neither fired nor cancelled yet.
    pub fn pending_timers(&self) -> usize {
        let live = |t: &&(Instant, TimerKey)| self.dispatcher.has_timer(t.1);
        self.timers.iter().filter(live).count()
    }

    /// Fires a timer the handler never set (or already saw), as a late timer would arrive.
    pub fn fire_stray_timer(&mut self, token: u64) {
        let session = self.session;
        self.with_ctx(session, |h, ctx| h.handle_timer(ctx, token));
    }

    /// The client answers request `id` (see [`Harness::client_requests`]), through the same
    /// path as a transport: the answer frees the request's slot, and an id never sent (or
    /// answered already, or whose session ended) is ignored as on the wire.
    pub fn answer(&mut self, id: OutgoingId, outcome: Result<Value, ErrorObject>) {
        let Some(i) = self.asked.iter().position(|(sent, _)| *sent == id) else {
            return;
        };
        let (_, key) = self.asked.swap_remove(i);
        let view = self.view.as_ref();
        let wire_id = Id::from(id.0);
        if let Some(work) = self
            .dispatcher
            .response(key, view, &wire_id, outcome, self.now)
        {
            self.record(work);
            self.wake();
        }
    }

    /// The client cancels `request`: the handler hears of it in the request's own session
    /// (a stateless request's session then ends). A request no longer in flight is ignored,
    /// as on the wire.
    pub fn cancel(&mut self, request: RequestHandle) {
        let Some(entry) = self.dispatcher.finish(request) else {
            return;
        };
        let session = (entry.session != NO_SESSION).then_some(entry.session);
        self.with_ctx(session, |h, ctx| h.handle_cancel(ctx, request));
        if let Some(open) = &mut self.open {
            if let Some(i) = open.iter().position(|(r, _)| *r == request) {
                let (_, key) = open.remove(i);
                self.close(key);
            }
        }
    }

    /// Ends `session`: the dispatcher forgets it and its unanswered asks are dropped here too.
    fn close(&mut self, session: SessionKey) {
        self.asked.retain(|(_, key)| *key != session);
        self.dispatcher.close_session(session);
    }

    /// A notification from the client.
    pub fn notify(&mut self, method: &str, params: Value) {
        let session = self.session;
        self.with_ctx(session, |h, ctx| {
            h.handle_notification(ctx, method, Some(params.into()))
        });
    }

    /// The backend has news outside any callback: calls [`Handler::handle_wake`].
    pub fn wake_backend(&mut self) {
        self.wake();
    }

    /// The first answer to `request`, if any.
    pub fn response(&self, request: RequestHandle) -> Option<Result<Value, ErrorObject>> {
        self.log.iter().find_map(|c| match c {
            Command::Respond {
                request: r,
                outcome,
            } if *r == request => Some(outcome.clone()),
            Command::RespondRaw { request: r, result } if *r == request => {
                Some(Answer::Raw(result.clone()).into_value())
            }
            _ => None,
        })
    }

    /// How many answers `request` got (transports send only the first).
    pub fn responses(&self, request: RequestHandle) -> usize {
        let answers = |c: &&Command| c.answered() == Some(request);
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
    use crate::mcp::Params;

    use crate::mcp::{Context, Outbox};

    /// Answers `later` after the delay in its params, reporting progress once on the way;
    /// `stop` cancels every such timer; `bg` is answered (after asking the client something)
    /// from [`Handler::handle_wake`].
    #[derive(Default)]
    struct Later {
        waiting: Vec<(u64, RequestHandle, TimerKey)>,
        background: Vec<(SessionKey, RequestHandle)>,
        asked: Vec<OutgoingId>,
        closed: Vec<SessionKey>,
        cancelled: Vec<(Option<SessionKey>, RequestHandle)>,
    }

    impl Handler for Later {
        fn handle_request(
            &mut self,
            ctx: &mut Context<'_>,
            request: RequestHandle,
            method: &str,
            params: Option<Params>,
        ) {
            let ms = params.as_ref().and_then(|p| p["ms"].as_u64()).unwrap_or(0);
            match method {
                "later" => {
                    let token = self.waiting.len() as u64;
                    ctx.notify(Some(request), "notifications/progress", json!({"ms": ms}));
                    let key = ctx.set_timer(Duration::from_millis(ms), token);
                    self.waiting.push((token, request, key));
                }
                "stop" => {
                    for (_, _, key) in &self.waiting {
                        ctx.cancel_timer(*key);
                    }
                    ctx.respond(request, Ok(json!("stopped")));
                }
                _ => {
                    let asked = ctx.request(Some(request), "ping", json!({}));
                    self.asked.push(asked);
                    self.background.push((ctx.session().unwrap(), request));
                }
            }
        }
        fn handle_timer(&mut self, ctx: &mut Context<'_>, token: u64) {
            if let Some(i) = self.waiting.iter().position(|(t, _, _)| *t == token) {
                let (_, request, _) = self.waiting.remove(i);
                ctx.respond(request, Ok(json!(token)));
            }
        }
        fn session_closed(&mut self, session: SessionKey) {
            self.closed.push(session);
        }
        fn handle_cancel(&mut self, ctx: &mut Context<'_>, request: RequestHandle) {
            self.cancelled.push((ctx.session(), request));
        }
        fn handle_wake(&mut self, out: &mut Outbox) {
            for (session, request) in self.background.drain(..) {
                let asked = out.request(session, Some(request), "ping", json!({}));
                self.asked.push(asked);
                out.respond(request, Ok(json!("from handle_wake")));
            }
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
    fn work_from_handle_wake_is_recorded_like_queued_work_and_ids_never_collide() {
        let mut h = Harness::new(Later::default());
        assert_eq!(h.call("bg", json!({})), Ok(json!("from handle_wake")));
        assert_eq!(h.call("bg", json!({})), Ok(json!("from handle_wake")));
        let mut ids: Vec<OutgoingId> = h.client_requests().iter().map(|r| r.1).collect();
        assert_eq!(
            ids.len(),
            4,
            "a request from the callback and one from the wake, twice"
        );
        assert_eq!(ids, h.handler().asked);
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 4, "the outbox allocates every id");
        h.clear();
        assert!(h.commands().is_empty());
    }

    #[test]
    fn a_cancelled_timer_never_fires_and_a_stale_key_is_harmless() {
        let mut h = Harness::new(Later::default());
        let slow = h.request("later", json!({"ms": 500}));
        let fired = h.request("later", json!({"ms": 100}));
        h.advance(Duration::from_millis(100));
        assert!(h.response(fired).is_some());
        assert_eq!(h.pending_timers(), 1);
        // Cancels the live timer and, again, the one that fired already (a no-op).
        assert_eq!(h.call("stop", json!({})), Ok(json!("stopped")));
        assert_eq!(h.pending_timers(), 0);
        h.advance(Duration::from_secs(10));
        assert_eq!(h.response(slow), None, "the cancelled timer never fired");
    }

    /// Asks the client once per request and records the error answers it gets.
    #[derive(Default)]
    struct Asker(Vec<i64>);
    impl Handler for Asker {
        fn handle_request(
            &mut self,
            ctx: &mut Context<'_>,
            _: RequestHandle,
            _: &str,
            _: Option<Params>,
        ) {
            ctx.request(None, "ping", json!({}));
        }
        fn handle_response(
            &mut self,
            _: &mut Context<'_>,
            _: OutgoingId,
            outcome: Result<Value, ErrorObject>,
        ) {
            self.0.extend(outcome.err().map(|e| e.code));
        }
    }

    #[test]
    fn requests_to_the_client_past_the_cap_fail_at_once_as_on_the_wire() {
        let mut h = Harness::new(Asker::default());
        let cap = crate::config::Limits::default().max_outgoing_per_session;
        for _ in 0..cap + 1 {
            h.request("ask", json!({}));
        }
        assert_eq!(h.client_requests().len(), cap);
        assert_eq!(h.handler().0, [crate::mcp::jsonrpc::SERVER_ERROR]);
    }

    /// Panics on every request.
    struct Boom;
    impl Handler for Boom {
        fn handle_request(
            &mut self,
            ctx: &mut Context<'_>,
            _: RequestHandle,
            _: &str,
            _: Option<Params>,
        ) {
            ctx.notify(None, "lost", json!({}));
            panic!("boom");
        }
    }

    #[test]
    fn a_panic_is_an_internal_error_and_loses_what_the_callback_queued() {
        let mut h = Harness::new(Boom);
        let error = h.call("x", json!({})).unwrap_err();
        assert_eq!(error.code, crate::mcp::jsonrpc::INTERNAL_ERROR);
        assert!(h.notifications("lost").is_empty());
    }

    #[test]
    fn sessions_close_when_replaced_and_stateless_requests_when_answered() {
        let mut h = Harness::new(Later::default());
        let first = h.session.unwrap();
        let second = h.start_session(SessionView::default());
        assert_ne!(first, second);
        assert_eq!(h.handler().closed, [first]);

        let mut h = Harness::stateless(Later::default());
        assert!(h.view.as_ref().is_some_and(SessionView::is_modern));
        let call = h.request("later", json!({"ms": 10}));
        assert!(h.handler().closed.is_empty());
        h.run_timers();
        assert_eq!(h.responses(call), 1);
        assert_eq!(h.handler().closed.len(), 1);
    }

    #[test]
    fn answers_free_the_outgoing_slot_so_asking_never_runs_dry() {
        let mut h = Harness::new(Asker::default());
        let cap = crate::config::Limits::default().max_outgoing_per_session;
        for _ in 0..cap + 10 {
            h.request("ask", json!({}));
            let (_, id, _, _) = h.client_requests().pop().unwrap();
            h.answer(id, Ok(json!({})));
        }
        assert_eq!(h.client_requests().len(), cap + 10);
        assert!(h.handler().0.is_empty(), "no ask was refused");
    }

    #[test]
    fn answers_to_ids_never_sent_or_answered_already_are_ignored() {
        let mut h = Harness::new(Asker::default());
        h.request("ask", json!({}));
        let (_, id, _, _) = h.client_requests().pop().unwrap();
        let error = || Err(ErrorObject::new(-1, "x"));
        h.answer(OutgoingId(id.0 + 1000), error());
        assert!(h.handler().0.is_empty(), "an id never sent reaches nobody");
        h.answer(id, error());
        h.answer(id, error());
        assert_eq!(h.handler().0, [-1], "the second answer is ignored");
    }

    #[test]
    fn a_cancel_runs_in_the_requests_session_and_ends_a_stateless_one() {
        let mut h = Harness::stateless(Later::default());
        let call = h.request("later", json!({"ms": 10}));
        h.cancel(call);
        let (session, cancelled) = h.handler().cancelled[0];
        assert_eq!(cancelled, call);
        let session = session.expect("the request's own session");
        assert_eq!(h.handler().closed, [session]);
        h.cancel(call);
        assert_eq!(
            h.handler().cancelled.len(),
            1,
            "no longer in flight: ignored"
        );
    }
}
