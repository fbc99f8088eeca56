//! THE handler runtime, shared by every transport (stdio, Streamable HTTP, the stateless era,
//! HTTP+SSE) and by [`crate::testing::Harness`]: it owns the handler, the table of client
//! requests in flight (handle, session, JSON-RPC id, method) with its one per-session cap
//! ([`crate::config::Limits::max_pending_per_session`]), the ids of requests sent to clients,
//! handler timers with their keys, and panic isolation.
//!
//! A transport admits a request (`Dispatcher::track`), hands it over (`Dispatcher::request`,
//! which routes `initialize`, `ping` and `server/discover` to the handler's lifecycle hooks)
//! and gets back the work the handler queued in its [`Outbox`], with timers already
//! registered; it turns that work into bytes for its wire. Answers from the client come back
//! through `Dispatcher::response`, due timers through `Dispatcher::fire_timer` (a cancelled
//! one is a no-op), news from the backend through `Dispatcher::wake`.

mod outbox;
mod table;

pub use outbox::{Outbox, TimerKey};
pub(crate) use table::InFlight;

use crate::idmap::IdMap;
use crate::log;
use crate::mcp::handler::{Command, Context, Handler, OutgoingId, RequestHandle, SessionKey};
use crate::mcp::jsonrpc::{self, ErrorObject, Id, Params};
use crate::mcp::SessionView;
use serde_json::Value;
use std::collections::VecDeque;
use std::time::Instant;
pub(crate) use table::Caps;
use table::Table;

/// Call-backs at most for requests to the client refused at the cap
/// ([`crate::config::Limits::max_outgoing_per_session`]) while one batch of work is carried
/// out: a handler that asks again at once would otherwise be called back without end. The
/// refusals past it are dropped (logged) without calling the handler back.
pub(crate) const MAX_REFUSALS_PER_APPLY: usize = 64;

/// Calls the handler back for each request to the client refused at the cap, in order, at most
/// [`MAX_REFUSALS_PER_APPLY`] times; `call_back` carries out what each call-back queued and
/// adds the refusals that brings to the queue. The rest are dropped with one warning. Every
/// runtime (the transports, stdio, [`crate::testing::Harness`]) ends a batch through here.
pub(crate) fn call_back_refusals<R>(
    refused: &mut VecDeque<R>,
    mut call_back: impl FnMut(R, &mut VecDeque<R>),
) {
    let mut calls = 0;
    while let Some(refusal) = refused.pop_front() {
        if calls == MAX_REFUSALS_PER_APPLY {
            let n = refused.len() + 1;
            log::warn(format_args!(
                "dropping {n} requests to the client refused at the cap without calling the handler back (it kept asking)"
            ));
            return;
        }
        calls += 1;
        call_back(refusal, refused);
    }
}

/// What the handler queued, each with the session it belongs to, for the transport to carry
/// out. Timers in it are registered already: arm them with [`Command::Timer`]'s key.
pub(crate) type Work = Vec<(Option<SessionKey>, Command)>;

/// What a callback's [`Context`] is built from: now, session, view, least active idle session.
type CallContext<'a> = (
    Instant,
    Option<SessionKey>,
    Option<&'a SessionView>,
    Option<SessionKey>,
);

/// The handler panicked; what it queued was discarded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Panicked;

/// The handler and everything needed to call it safely. Transports use it as
/// `Dispatcher<dyn Handler>`, one instantiation whatever the backend; [`crate::testing::Harness`]
/// keeps the concrete type so tests can inspect the handler.
pub(crate) struct Dispatcher<H: Handler + ?Sized> {
    handler: Box<H>,
    out: Outbox,
    table: Table,
    /// Live handler timers: session that set it, handler's token.
    timers: IdMap<TimerKey, (Option<SessionKey>, u64)>,
    /// The live timers of each session, so a session's end cancels only its own (no scan).
    session_timers: IdMap<SessionKey, Vec<TimerKey>>,
}

impl<H: Handler + ?Sized> Dispatcher<H> {
    /// A runtime for `handler` with the per-session `caps` on requests in flight both ways.
    pub(crate) fn new(handler: Box<H>, caps: Caps) -> Dispatcher<H> {
        Dispatcher {
            handler,
            out: Outbox::new(),
            table: Table::new(caps),
            timers: IdMap::default(),
            session_timers: IdMap::default(),
        }
    }

    /// The handler, for reading its state.
    pub(crate) fn handler(&self) -> &H {
        &self.handler
    }

    /// The handler, for an event loop that feeds it inputs of its own (child processes).
    pub(crate) fn handler_mut(&mut self) -> &mut H {
        &mut self.handler
    }

    /// The per-session cap on requests in flight.
    pub(crate) fn max_pending(&self) -> usize {
        self.table.max_pending()
    }

    /// Whether `session` may take `n` more requests.
    pub(crate) fn has_room(&self, session: SessionKey, n: usize) -> bool {
        self.table.has_room(session, n)
    }

    /// Requests in flight in every session.
    pub(crate) fn in_flight(&self) -> usize {
        self.table.len()
    }

    /// A handle for a client request, in flight until answered or cancelled (call
    /// [`Dispatcher::has_room`] first); `route` is the transport's note of where to answer it.
    pub(crate) fn track(
        &mut self,
        session: SessionKey,
        client_id: Id,
        method: &str,
        route: u32,
    ) -> RequestHandle {
        self.table.track(session, client_id, method, route)
    }

    /// Requests in flight in `session`.
    pub(crate) fn pending_in(&self, session: SessionKey) -> usize {
        self.table.pending_in(session)
    }

    /// The requests in flight in `session`.
    pub(crate) fn requests_of(&self, session: SessionKey) -> Vec<RequestHandle> {
        self.table.of_session(session)
    }

    /// Where request `request` of `session` is answered, while it is in flight.
    pub(crate) fn route_of(&self, session: SessionKey, request: RequestHandle) -> Option<u32> {
        let entry = self.table.get(request)?;
        (entry.session == session).then_some(entry.route)
    }

    /// A request in flight.
    pub(crate) fn get(&self, request: RequestHandle) -> Option<&InFlight> {
        self.table.get(request)
    }

    /// Forgets a request (answered or cancelled); `None` if it was not in flight.
    pub(crate) fn finish(&mut self, request: RequestHandle) -> Option<InFlight> {
        self.table.finish(request)
    }

    /// The request of `session` whose JSON-RPC id is `id` (for `notifications/cancelled`).
    pub(crate) fn find(&self, session: SessionKey, id: &Id) -> Option<RequestHandle> {
        self.table.find(session, id)
    }

    /// Records a request sent to the client of `session`; an error to hand the handler when
    /// too many are unanswered.
    pub(crate) fn sent(&mut self, session: SessionKey, id: OutgoingId) -> Result<(), ErrorObject> {
        self.table.sent(session, id)
    }

    /// Runs one callback in `session` with `view`; returns what it queued, or [`Panicked`]
    /// (what it queued is discarded, the server stays up).
    pub(crate) fn call(
        &mut self,
        session: Option<SessionKey>,
        view: Option<&SessionView>,
        now: Instant,
        least_active_idle: Option<SessionKey>,
        callback: impl FnOnce(&mut H, &mut Context<'_>),
    ) -> Result<Work, Panicked> {
        // One unwinding frame for every callback: the generic part is this small adapter.
        let mut callback = Some(callback);
        let mut once = |h: &mut H, ctx: &mut Context<'_>| {
            if let Some(callback) = callback.take() {
                callback(h, ctx);
            }
        };
        let context = (now, session, view, least_active_idle);
        self.call_dyn(context, &mut once)
    }

    /// [`Dispatcher::call`] without generics, so the panic guard is compiled once.
    fn call_dyn(
        &mut self,
        (now, session, view, least_active_idle): CallContext<'_>,
        callback: &mut dyn FnMut(&mut H, &mut Context<'_>),
    ) -> Result<Work, Panicked> {
        let mark = self.out.mark();
        let handler = &mut *self.handler;
        let out = &mut self.out;
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut ctx = Context::new(now, session, view, out);
            ctx.set_least_active_idle(least_active_idle);
            callback(handler, &mut ctx);
        }));
        if caught.is_err() {
            log::error(format_args!(
                "handler panicked; what it queued is discarded"
            ));
            self.out.truncate(mark);
            return Err(Panicked);
        }
        Ok(self.collect())
    }

    /// A client request: the handler's work, or an internal error for it if the handler panics.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn request(
        &mut self,
        session: Option<SessionKey>,
        view: Option<&SessionView>,
        request: RequestHandle,
        method: &str,
        params: Option<Params>,
        now: Instant,
        least_active_idle: Option<SessionKey>,
    ) -> Work {
        // The lifecycle requests have hooks of their own with answers by default, so a
        // handler implements only its own methods.
        // Whether the session is modern is only asked for the one method that depends on it.
        let modern = || view.is_some_and(SessionView::is_modern);
        let called = self.call(
            session,
            view,
            now,
            least_active_idle,
            |h, ctx| match method {
                "initialize" => h.initialize(ctx, request, params),
                "ping" => h.ping(ctx, request, params),
                "server/discover" if modern() => h.discover(ctx, request, params),
                _ => h.handle_request(ctx, request, method, params),
            },
        );
        called.unwrap_or_else(|Panicked| {
            let message = format!("Internal error: the handler failed on {method}");
            let outcome = Err(ErrorObject::new(jsonrpc::INTERNAL_ERROR, message));
            vec![(None, Command::Respond { request, outcome })]
        })
    }

    /// The client of `session` answered request `id`; `None` when we sent no such request
    /// (or it was answered already).
    pub(crate) fn response(
        &mut self,
        session: SessionKey,
        view: Option<&SessionView>,
        id: &Id,
        outcome: Result<Value, ErrorObject>,
        now: Instant,
    ) -> Option<Work> {
        let ours = self.table.answered(session, id)?;
        let called = self.call(Some(session), view, now, None, |h, ctx| {
            h.handle_response(ctx, ours, outcome)
        });
        Some(called.unwrap_or_default())
    }

    /// A timer armed from [`Command::Timer`] is due: its session and token, or `None` when it
    /// was cancelled or fired already.
    pub(crate) fn fire_timer(&mut self, key: TimerKey) -> Option<(Option<SessionKey>, u64)> {
        self.forget_timer(key)
    }

    /// Forgets live timer `key` and its place in its session's index.
    fn forget_timer(&mut self, key: TimerKey) -> Option<(Option<SessionKey>, u64)> {
        let (session, token) = self.timers.remove(&key)?;
        if let Some(session) = session {
            if let Some(keys) = self.session_timers.get_mut(&session) {
                keys.retain(|k| *k != key);
                if keys.is_empty() {
                    self.session_timers.remove(&session);
                }
            }
        }
        Some((session, token))
    }

    /// Whether timer `key` is still due to fire (not fired, not cancelled).
    pub(crate) fn has_timer(&self, key: TimerKey) -> bool {
        self.timers.contains_key(&key)
    }

    /// The backend has news: what [`Handler::handle_wake`] queued.
    pub(crate) fn wake(&mut self) -> Work {
        let mark = self.out.mark();
        let handler = &mut *self.handler;
        let out = &mut self.out;
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            handler.handle_wake(out);
        }));
        if caught.is_err() {
            log::error(format_args!(
                "handler panicked on wake; what it queued is discarded"
            ));
            self.out.truncate(mark);
        }
        self.collect()
    }

    /// `session` ended: its requests, outgoing ids and timers are forgotten and the handler
    /// told ([`Handler::session_closed`]). Returns the keys of its timers that were still
    /// live, for the transport to take off its wheel (only this session's are touched).
    pub(crate) fn close_session(&mut self, session: SessionKey) -> Vec<TimerKey> {
        self.table.close(session);
        let cancelled = self.session_timers.remove(&session).unwrap_or_default();
        for key in &cancelled {
            self.timers.remove(key);
        }
        let handler = &mut *self.handler;
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            handler.session_closed(session);
        }));
        if caught.is_err() {
            log::error(format_args!("handler panicked in session_closed"));
        }
        cancelled
    }

    /// Runs a callback that takes no context (listened URIs), panics caught.
    pub(crate) fn notice(&mut self, f: impl FnOnce(&mut H)) {
        let handler = &mut *self.handler;
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(handler))).is_err() {
            log::error(format_args!("handler panicked"));
        }
    }

    /// Gives back the memory of [`Work`] the transport has carried out (see [`Outbox::recycle`]).
    pub(crate) fn recycle(&mut self, spent: Work) {
        self.out.recycle(spent);
    }

    /// Takes what the outbox holds, registering timers. A cancellation of a live timer is
    /// passed on (the transport takes it off its wheel); one of a timer that fired or was
    /// cancelled already is dropped.
    fn collect(&mut self) -> Work {
        if self.out.is_empty() {
            // Nothing queued (a wake with no news): the outbox keeps its memory.
            return Work::new();
        }
        let mut work = self.out.take();
        if !self.out.take_timer_changes() {
            return work;
        }
        work.retain(|(session, command)| match command {
            Command::Timer { key, token, .. } => {
                self.timers.insert(*key, (*session, *token));
                if let Some(session) = session {
                    self.session_timers.entry(*session).or_default().push(*key);
                }
                true
            }
            Command::CancelTimer { key } => self.forget_timer(*key).is_some(),
            _ => true,
        });
        work
    }

    /// Live handler timers (for tests).
    #[cfg(test)]
    pub(crate) fn live_timers(&self) -> usize {
        self.timers.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Answers nothing: the tests drive its context directly.
    struct Quiet;

    impl Handler for Quiet {
        fn handle_request(
            &mut self,
            _: &mut Context<'_>,
            _: RequestHandle,
            _: &str,
            _: Option<Params>,
        ) {
        }
    }

    fn cancels(work: &Work) -> Vec<TimerKey> {
        let keys = work.iter().filter_map(|(_, c)| match c {
            Command::CancelTimer { key } => Some(*key),
            _ => None,
        });
        keys.collect()
    }

    /// A dispatcher around [`Quiet`] with room for four requests each way.
    fn quiet() -> Dispatcher<Quiet> {
        let caps = Caps {
            pending: 4,
            outgoing: 4,
        };
        Dispatcher::new(Box::new(Quiet), caps)
    }

    #[test]
    fn a_wake_with_nothing_queued_leaves_the_outbox_its_memory() {
        let mut d = quiet();
        let now = Instant::now();
        let notify = |d: &mut Dispatcher<Quiet>| {
            let work = d.call(None, None, now, None, |_, ctx| {
                ctx.notify(None, "notifications/message", Value::Null)
            });
            work.unwrap()
        };
        let work = notify(&mut d);
        let memory = work.as_ptr();
        d.recycle(work);
        let nothing = d.wake();
        assert!(nothing.is_empty());
        assert_eq!(nothing.capacity(), 0, "no memory taken for nothing");
        let work = notify(&mut d);
        assert_eq!(work.len(), 1);
        assert_eq!(
            work.as_ptr(),
            memory,
            "the next work is queued in the same memory"
        );
    }

    #[test]
    fn live_cancellations_are_passed_on_and_a_closed_session_gives_back_only_its_timers() {
        let mut d = quiet();
        let now = Instant::now();
        let (a, b) = (SessionKey(1), SessionKey(2));
        let hour = Duration::from_secs(3600);
        let set = |d: &mut Dispatcher<Quiet>, s| {
            let mut key = None;
            d.call(Some(s), None, now, None, |_, ctx| {
                key = Some(ctx.set_timer(hour, 0))
            })
            .unwrap();
            key.unwrap()
        };
        let (a1, a2, b1) = (set(&mut d, a), set(&mut d, a), set(&mut d, b));
        let work = d.call(Some(a), None, now, None, |_, ctx| ctx.cancel_timer(a1));
        assert_eq!(
            cancels(&work.unwrap()),
            vec![a1],
            "the transport must disarm it"
        );
        let work = d.call(Some(a), None, now, None, |_, ctx| ctx.cancel_timer(a1));
        assert!(cancels(&work.unwrap()).is_empty(), "cancelled already");
        assert_eq!(d.close_session(a), vec![a2]);
        assert!(!d.has_timer(a2) && d.has_timer(b1));
        assert_eq!(d.fire_timer(b1), Some((Some(b), 0)));
        assert!(d.close_session(b).is_empty(), "a fired timer is not live");
        assert_eq!(d.live_timers(), 0);
        assert!(d.session_timers.is_empty());
    }
}
