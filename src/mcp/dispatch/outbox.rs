//! The one way a handler's work leaves it: an [`Outbox`] owned by the dispatcher, written to
//! inside callbacks (through [`crate::mcp::Context`]) and outside them (in
//! [`crate::mcp::Handler::handle_wake`]). The outbox allocates every id a handler needs (requests
//! to the client, timers), so ids never collide however the handler produced the work.

use crate::mcp::handler::{Command, OutgoingId, RequestHandle, SessionKey};
use crate::mcp::jsonrpc::{ErrorObject, RawResult};
use serde_json::Value;
use std::time::Duration;

/// Names a handler timer so it can be cancelled ([`Outbox::cancel_timer`]). Keys are never
/// reused, so cancelling a timer that fired already (or was cancelled) does nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TimerKey(pub(crate) u64);

/// Work a handler queued, per session, carried out by the transport once the callback (or
/// [`Handler::handle_wake`](crate::mcp::Handler::handle_wake)) returns.
#[derive(Debug)]
pub struct Outbox {
    queued: Vec<(Option<SessionKey>, Command)>,
    next_outgoing: u64,
    next_timer: u64,
    /// A timer was set or cancelled since [`Outbox::take_timer_changes`]: only then does the
    /// dispatcher look through the work for them (most work is one answer).
    timer_changes: bool,
}

impl Outbox {
    /// An empty outbox (the dispatcher owns one; tests build their own).
    pub(crate) fn new() -> Outbox {
        Outbox {
            queued: Vec::new(),
            next_outgoing: 0,
            next_timer: 0,
            timer_changes: false,
        }
    }

    /// Answers `request` with a result or an error. A second answer to the same request is
    /// ignored.
    pub fn respond(&mut self, request: RequestHandle, outcome: Result<Value, ErrorObject>) {
        self.queued
            .push((None, Command::Respond { request, outcome }));
    }

    /// Answers `request` with a result already encoded as JSON text (see
    /// [`crate::mcp::Context::respond_raw`]). A second answer to the same request is ignored.
    pub fn respond_raw(&mut self, request: RequestHandle, result: RawResult) {
        self.queued
            .push((None, Command::RespondRaw { request, result }));
    }

    /// Sends a notification in `session`; with `related` it travels on that request's stream
    /// (progress, logging during a tool call), otherwise on the session's standalone stream.
    /// Without a session it goes to the `subscriptions/listen` streams that asked for it.
    pub fn notify(
        &mut self,
        session: Option<SessionKey>,
        related: Option<RequestHandle>,
        method: &str,
        params: Value,
    ) {
        let method = method.to_string();
        let command = Command::Notify {
            related,
            method,
            params,
        };
        self.queued.push((session, command));
    }

    /// Sends a request to the client of `session` (sampling, elicitation, roots, ping); its
    /// answer arrives in [`crate::mcp::Handler::handle_response`] with the returned id.
    pub fn request(
        &mut self,
        session: SessionKey,
        related: Option<RequestHandle>,
        method: &str,
        params: Value,
    ) -> OutgoingId {
        self.request_in(Some(session), related, method, params)
    }

    /// [`Outbox::request`] from a callback that may have no session (then the transport drops
    /// it: there is no client to ask).
    pub(crate) fn request_in(
        &mut self,
        session: Option<SessionKey>,
        related: Option<RequestHandle>,
        method: &str,
        params: Value,
    ) -> OutgoingId {
        self.next_outgoing += 1;
        let id = OutgoingId(self.next_outgoing);
        let method = method.to_string();
        let command = Command::Request {
            related,
            id,
            method,
            params,
        };
        self.queued.push((session, command));
        id
    }

    /// Asks for [`crate::mcp::Handler::handle_timer`] with `token` after `after`, in `session`
    /// (the timer is dropped if the session ends first).
    pub fn set_timer(
        &mut self,
        session: Option<SessionKey>,
        after: Duration,
        token: u64,
    ) -> TimerKey {
        self.next_timer += 1;
        let key = TimerKey(self.next_timer);
        self.timer_changes = true;
        self.queued
            .push((session, Command::Timer { key, after, token }));
        key
    }

    /// Cancels a timer; a key that fired or was cancelled already is ignored.
    pub fn cancel_timer(&mut self, key: TimerKey) {
        self.timer_changes = true;
        self.queued.push((None, Command::CancelTimer { key }));
    }

    /// Refuses `request` because the backend is saturated (HTTP 503 where possible).
    pub fn overloaded(&mut self, request: RequestHandle, message: impl Into<String>) {
        let message = message.into();
        self.queued
            .push((None, Command::Overloaded { request, message }));
    }

    /// Ends `session`, as if the client had sent DELETE (for example its backend died).
    pub fn end_session(&mut self, session: SessionKey) {
        self.queued.push((Some(session), Command::EndSession));
    }

    /// Ends `session` once it has been idle for `after`, when that is shorter than the session
    /// timeout (see [`Command::IdleTimeout`]).
    pub fn idle_timeout(&mut self, session: SessionKey, after: Duration) {
        self.queued
            .push((Some(session), Command::IdleTimeout { after }));
    }

    /// Ends the HTTP stream of `request` before its answer, so the client reconnects with
    /// `Last-Event-ID` and gets the answer replayed. Ignored where streams cannot resume.
    pub fn close_stream(&mut self, request: RequestHandle) {
        self.queued.push((None, Command::CloseStream { request }));
    }

    /// How much is queued: a mark to go back to when the callback panics.
    pub(crate) fn mark(&self) -> usize {
        self.queued.len()
    }

    /// Whether nothing is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.queued.is_empty()
    }

    /// Discards what was queued after `mark` (a panicking callback's work).
    pub(crate) fn truncate(&mut self, mark: usize) {
        self.queued.truncate(mark);
    }

    /// Everything queued, in order.
    pub(crate) fn take(&mut self) -> Vec<(Option<SessionKey>, Command)> {
        std::mem::take(&mut self.queued)
    }

    /// Whether a timer was set or cancelled since the last call (the work may hold
    /// [`Command::Timer`] or [`Command::CancelTimer`]); clears the mark.
    pub(crate) fn take_timer_changes(&mut self) -> bool {
        std::mem::take(&mut self.timer_changes)
    }

    /// Gives back a vector [`Outbox::take`] returned, emptied, so the next callback queues
    /// into its memory instead of allocating (one allocation per callback otherwise).
    pub(crate) fn recycle(&mut self, mut spent: Vec<(Option<SessionKey>, Command)>) {
        if self.queued.capacity() == 0 {
            spent.clear();
            self.queued = spent;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_keys_are_allocated_by_the_outbox_and_never_repeat() {
        let mut out = Outbox::new();
        let s = SessionKey(1);
        let a = out.request(s, None, "ping", Value::Null);
        let t = out.set_timer(Some(s), Duration::from_secs(1), 7);
        out.take();
        let b = out.request(SessionKey(2), None, "ping", Value::Null);
        let u = out.set_timer(None, Duration::from_secs(1), 7);
        assert_ne!(a, b);
        assert_ne!(t, u);
        let mark = out.mark();
        out.notify(Some(s), None, "x", Value::Null);
        out.truncate(mark);
        assert_eq!(out.take().len(), 2);
        assert!(out.take_timer_changes(), "timers were set");
        assert!(!out.take_timer_changes(), "the mark is cleared");
        out.notify(Some(s), None, "y", Value::Null);
        assert!(!out.take_timer_changes(), "a notification is no timer");
        out.cancel_timer(t);
        assert!(out.take_timer_changes());
    }

    #[test]
    fn recycled_work_lends_its_memory_but_never_its_items() {
        let mut out = Outbox::new();
        let s = SessionKey(1);
        out.notify(Some(s), None, "a", Value::Null);
        let spent = out.take();
        let memory = spent.as_ptr();
        out.recycle(spent);
        out.notify(Some(s), None, "b", Value::Null);
        let work = out.take();
        assert_eq!(
            work.as_ptr(),
            memory,
            "the next callback queues into the same memory"
        );
        assert!(matches!(&work[..], [(_, Command::Notify { method, .. })] if method == "b"));
        // Something already queued is never replaced by a recycled vector.
        out.notify(Some(s), None, "c", Value::Null);
        out.recycle(work);
        let work = out.take();
        assert!(matches!(&work[..], [(_, Command::Notify { method, .. })] if method == "c"));
    }
}
