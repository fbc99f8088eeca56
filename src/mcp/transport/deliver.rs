//! How handler work reaches clients: calling the handler (panics caught), carrying out the
//! commands it queued, and routing each message to exactly one stream (MCP 2025-11-25
//! transports, "Multiple Connections": never broadcast; a request's messages on its own
//! stream, everything else on the standalone stream).

use super::stateless;
use super::{Action, Reply, ReplyBody, Timer, Transport, RETRY_AFTER_SECS};
use crate::config::ResponseMode;
use crate::log;
use crate::mcp::dispatch::{call_back_refusals, Work};
use crate::mcp::error::Error;
use crate::mcp::handler::{Command, Context, Handler, OutgoingId, RequestHandle, SessionKey};
use crate::mcp::jsonrpc::{self, Answer, ErrorObject, Id, Message, Params};
use crate::mcp::transport::session::{stream_mut, Delivery, Stream, StreamNo, STANDALONE};
use crate::mcp::version;
use serde_json::Value;
use std::collections::VecDeque;
use std::time::Instant;

impl<H: Handler + ?Sized> Transport<H> {
    /// Notifications and client responses of a POST.
    pub(super) fn dispatch_other(&mut self, key: SessionKey, message: Message, now: Instant) {
        match message {
            Message::Notification { method, params } if method == "notifications/cancelled" => {
                let target = params
                    .as_ref()
                    .and_then(|p| p.get("requestId"))
                    .and_then(Id::from_value);
                let handle = target.and_then(|id| self.dispatcher.find(key, &id));
                if let Some(handle) = handle {
                    self.cancel(key, handle, now);
                }
            }
            Message::Notification { method, params } => {
                let work = self.call(Some(key), now, |h, ctx| {
                    h.handle_notification(ctx, &method, params)
                });
                self.apply(work, now);
            }
            Message::Response { id, result } => self.client_answer(key, id, Ok(result), now),
            Message::Error {
                id: Some(id),
                error,
            } => self.client_answer(key, id, Err(error), now),
            Message::Error { id: None, error } => {
                log::debug(format_args!(
                    "client sent an error without id: {}",
                    error.message
                ));
            }
            Message::Request { .. } => {}
        }
    }

    pub(super) fn client_answer(
        &mut self,
        key: SessionKey,
        id: Id,
        outcome: Result<Value, ErrorObject>,
        now: Instant,
    ) {
        let view = self.sessions.get(&key).map(|s| &s.view);
        let Some(work) = self.dispatcher.response(key, view, &id, outcome, now) else {
            log::debug(format_args!(
                "ignoring a client response to unknown id {id}"
            ));
            return;
        };
        self.apply(work, now);
    }

    pub(super) fn cancel(&mut self, key: SessionKey, handle: RequestHandle, now: Instant) {
        let work = self.call(Some(key), now, |h, ctx| h.handle_cancel(ctx, handle));
        self.apply(work, now);
        // No answer is due any more (MCP cancellation: the receiver SHOULD NOT respond).
        self.retire(key, handle);
    }

    /// Forgets a pending request and counts its answer as done on its stream.
    pub(super) fn retire(&mut self, key: SessionKey, handle: RequestHandle) {
        if let Some(entry) = self.dispatcher.finish(handle) {
            self.retire_stream(key, entry.route);
        }
    }

    /// Counts the answer of a request the dispatcher forgot as done on its stream `no`.
    fn retire_stream(&mut self, key: SessionKey, no: StreamNo) {
        let pending = self.dispatcher.pending_in(key);
        let Some(session) = self.sessions.get_mut(&key) else {
            return;
        };
        if let Some(stream) = session.streams.get_mut(&no) {
            stream.outstanding = stream.outstanding.saturating_sub(1);
        }
        if session.kind.is_stateless() && pending == 0 {
            self.reap.push(key);
        }
        self.finish_stream_if_done(key, no);
    }

    pub(super) fn call_request(
        &mut self,
        key: SessionKey,
        handle: RequestHandle,
        method: &str,
        params: Option<Params>,
        now: Instant,
    ) {
        let idle = (method == "initialize")
            .then(|| self.least_active_idle(key))
            .flatten();
        let view = self.sessions.get(&key).map(|s| &s.view);
        let work = self
            .dispatcher
            .request(Some(key), view, handle, method, params, now, idle);
        self.apply(work, now);
    }

    /// The handshake-era session other than `except` that has been idle (no request in flight,
    /// no open stream) the longest: the one a handler at its resource limit may end.
    fn least_active_idle(&self, except: SessionKey) -> Option<SessionKey> {
        self.by_id
            .values()
            .filter(|&&key| key != except)
            .filter_map(|key| self.sessions.get(key))
            .filter(|s| {
                s.is_idle(self.dispatcher.pending_in(s.key), &self.attached) && s.kind.is_ready()
            })
            .min_by_key(|s| (s.last_activity, s.key))
            .map(|s| s.key)
    }

    /// Runs a callback that answers nothing by itself; a panic only loses what it queued.
    pub(super) fn call(
        &mut self,
        key: Option<SessionKey>,
        now: Instant,
        f: impl FnOnce(&mut H, &mut Context<'_>),
    ) -> Work {
        let view = key.and_then(|k| self.sessions.get(&k)).map(|s| &s.view);
        self.dispatcher
            .call(key, view, now, None, f)
            .unwrap_or_default()
    }

    /// Carries out what the handler queued. Requests to the client over the cap go back to
    /// the handler as errors, bounded ([`call_back_refusals`]).
    #[inline(always)]
    pub(super) fn apply(&mut self, work: Work, now: Instant) {
        if work.is_empty() {
            // The common case after a wake (the backend had nothing): no loop to set up, and
            // no memory to give back (the outbox kept its own). Checked where `apply` is
            // called: the call of the whole cost ~45 instructions per wake.
            if work.capacity() > 0 {
                self.dispatcher.recycle(work);
            }
            return;
        }
        self.apply_some(work, now);
    }

    /// [`Transport::apply`] of work that is not empty.
    fn apply_some(&mut self, work: Work, now: Instant) {
        let mut refused = VecDeque::new();
        self.carry_out(work, now, &mut refused);
        call_back_refusals(&mut refused, |(key, id, error), refused| {
            let work = self.call(Some(key), now, |h, ctx| {
                h.handle_response(ctx, id, Err(error))
            });
            self.carry_out(work, now, refused);
        });
    }

    /// Carries out one batch of work, each item in its own session; without a session only
    /// answers, timers and server-wide notifications make sense (there is no stream to carry
    /// anything else). Requests refused at the cap go to `refused`.
    fn carry_out(
        &mut self,
        mut work: Work,
        now: Instant,
        refused: &mut VecDeque<(SessionKey, OutgoingId, ErrorObject)>,
    ) {
        for (key, command) in work.drain(..) {
            match (command, key) {
                (Command::Respond { request, outcome }, _) => {
                    self.respond(request, outcome.map(Answer::Value))
                }
                (Command::RespondRaw { request, result }, _) => {
                    self.respond(request, Ok(Answer::Raw(result)))
                }
                (
                    Command::Notify {
                        related,
                        method,
                        params,
                    },
                    Some(key),
                ) => {
                    let session = self.sessions.get(&key);
                    let on_request =
                        related.is_some_and(|h| self.dispatcher.route_of(key, h).is_some());
                    if session.is_some_and(|s| s.kind.is_stateless()) && !on_request {
                        // A stateless request has no standalone stream: server-wide news
                        // goes to the listen streams that asked for it.
                        self.fan_out(&method, &params);
                        continue;
                    }
                    let message = Message::Notification {
                        method,
                        params: Some(params.into()),
                    };
                    self.route(key, related, message.to_json(), false);
                }
                (
                    Command::Request {
                        related,
                        id,
                        method,
                        params,
                    },
                    Some(key),
                ) => {
                    if !self.sessions.contains_key(&key) {
                        continue;
                    }
                    if let Err(error) = self.dispatcher.sent(key, id) {
                        refused.push_back((key, id, error));
                        continue;
                    }
                    let message = Message::Request {
                        id: Id::from(id.0),
                        method,
                        params: Some(params.into()),
                    };
                    self.route(key, related, message.to_json(), false);
                }
                (Command::Timer { key, after, .. }, _) => {
                    self.actions.push_back(Action::Arm {
                        at: now + after,
                        timer: Timer::Handler(key),
                    });
                }
                (Command::CancelTimer { key }, _) => {
                    self.actions.push_back(Action::Disarm {
                        timer: Timer::Handler(key),
                    });
                }
                (Command::CloseStream { request }, _) => self.close_stream(request),
                (Command::Overloaded { request, message }, _) => self.refuse(request, message),
                (Command::EndSession, Some(key)) => self.end_session(key, "ended by its backend"),
                (Command::IdleTimeout { after }, Some(key)) => {
                    self.shorten_idle_timeout(key, after)
                }
                (
                    Command::Notify {
                        related: None,
                        method,
                        params,
                    },
                    None,
                ) => {
                    // Server-wide news outside any session: the listen streams that asked.
                    self.fan_out(&method, &params);
                }
                (command, None) => {
                    log::debug(format_args!("dropping {command:?}: it needs a session"));
                }
            }
        }
        self.dispatcher.recycle(work);
    }

    /// Carries out what the handler has for clients outside callbacks
    /// ([`Handler::handle_wake`]).
    pub fn pump_backend(&mut self, now: Instant) {
        let work = self.dispatcher.wake();
        self.apply(work, now);
    }

    /// The handler, for reading its state.
    pub fn handler(&self) -> &H {
        self.dispatcher.handler()
    }

    /// The handler, for an event loop that feeds it inputs of its own (child processes).
    pub fn handler_mut(&mut self) -> &mut H {
        self.dispatcher.handler_mut()
    }

    /// An overloaded backend's refusal: 503 if the answer is still plain JSON.
    pub(super) fn refuse(&mut self, request: RequestHandle, message: String) {
        let owner = self.dispatcher.get(request).map(|r| r.session);
        let stream = owner.and_then(|key| {
            let no = self.dispatcher.route_of(key, request)?;
            self.sessions.get_mut(&key)?.streams.get_mut(&no)
        });
        let refusal = Error::BackendUnavailable(message);
        let (status, code) = refusal.wire();
        if let Some(stream) = stream {
            if stream.delivery != Delivery::Sse {
                stream.http_status = status;
            }
        }
        self.respond(request, Err(ErrorObject::new(code, refusal.to_string())));
    }

    pub(super) fn respond(&mut self, request: RequestHandle, outcome: Result<Answer, ErrorObject>) {
        // Forgotten first: an answer for a session that is gone must still free its entry.
        let Some(entry) = self.dispatcher.finish(request) else {
            return;
        };
        let key = entry.session;
        let Some(session) = self.sessions.get_mut(&key) else {
            return;
        };
        let stream_no = entry.route;
        let initialize = entry.method == "initialize" && !session.kind.is_stateless();
        // Only these answers are edited; the rest, raw text included, go out as given.
        // Read once (a version compare); only the revision `initialize` settles on changes it.
        let mut modern = session.view.is_modern();
        let edited = initialize || modern;
        let mut outcome = match outcome {
            Ok(answer) if edited => answer.into_value().map(Answer::Value),
            other => other,
        };
        let failed_initialize = initialize && outcome.is_err();
        if let (true, Err(error)) = (failed_initialize, &outcome) {
            if let Some(stream) = session.streams.get_mut(&stream_no) {
                if stream.http_status == 200 {
                    stream.http_status = failed_initialize_status(error.code);
                }
            }
        }
        if initialize {
            if let Ok(Answer::Value(result)) = &mut outcome {
                // The handler's revision stands if it is offered (`--eras`); else the one the
                // transport negotiated, which is.
                match result.get("protocolVersion").and_then(Value::as_str) {
                    Some(v) if self.settings.eras.offers(v) => {
                        session.view.protocol_version = v.to_string();
                        modern = session.view.is_modern();
                    }
                    _ => {
                        let negotiated = Value::from(session.view.protocol_version.clone());
                        if let Some(fields) = result.as_object_mut() {
                            fields.insert("protocolVersion".into(), negotiated);
                        }
                    }
                }
            }
        }
        if modern {
            match &mut outcome {
                Ok(Answer::Value(result)) => stateless::decorate_result(&entry.method, result),
                // Not taken: a modern session's answers were read back as values above.
                Ok(Answer::Raw(_)) => {}
                Err(error) => {
                    // A refusal's 503 (set by `refuse`) stays: it tells the client to retry.
                    let stream = session.streams.get_mut(&stream_no);
                    if let Some(stream) = stream.filter(|s| s.http_status == 200) {
                        stream.http_status = stateless::status_for(error.code);
                    }
                }
            }
        }
        let json = match outcome {
            Ok(answer) => jsonrpc::response_json(entry.client_id, answer),
            Err(error) => Message::Error {
                id: Some(entry.client_id),
                error,
            }
            .to_json(),
        };
        if initialize {
            session.kind.initialize_answered(!failed_initialize);
        }
        if failed_initialize {
            // Ended once the answer is on its way (`poll_action`): the POST still being
            // answered needs the session to build its reply, which gets no session id.
            self.reap.push(key);
        }
        let undecided = session.streams.get_mut(&stream_no);
        if let Some(stream) = undecided.filter(|s| s.delivery == Delivery::Undecided) {
            // Answered while its POST is still being processed (the common case): what
            // `deliver` and `retire_stream` would do, without looking the session and stream
            // up again. The answer joins the reply being built, and the stream is left for
            // `finish_post` (`finish_stream_if_done` does nothing while it is undecided).
            stream.json_answers.push(json);
            stream.outstanding = stream.outstanding.saturating_sub(1);
            if session.kind.is_stateless() && self.dispatcher.pending_in(key) == 0 {
                self.reap.push(key);
            }
            return;
        }
        self.deliver(key, stream_no, json, true);
        self.retire_stream(key, stream_no);
    }

    /// The reply to the POST of `initialize` with the new session's id, unless `initialize`
    /// failed; a deferred answer carries it only if it succeeds (see [`json_reply`]).
    pub(super) fn with_session_id(
        &mut self,
        mut reply: Reply,
        key: SessionKey,
        no: StreamNo,
        id: String,
    ) -> Reply {
        let Some(session) = self.sessions.get_mut(&key).filter(|s| !s.kind.has_failed()) else {
            return reply;
        };
        if reply.body == ReplyBody::Deferred {
            if let Some(stream) = session.streams.get_mut(&no) {
                stream.session_id = Some(id);
            }
            return reply;
        }
        reply.headers.push(("Mcp-Session-Id", id));
        reply
    }

    /// [`Command::IdleTimeout`]: the session ends after `after` idle, if that is sooner.
    fn shorten_idle_timeout(&mut self, key: SessionKey, after: std::time::Duration) {
        let Some(session) = self.sessions.get_mut(&key) else {
            return;
        };
        if after >= self.settings.session_timeout {
            return;
        }
        session.idle_timeout = Some(after);
        let at = session.last_activity + after;
        self.actions.push_back(Action::Arm {
            at,
            timer: Timer::SessionExpiry(key),
        });
    }

    /// Sends a non-response message on the stream of `related`, else the standalone stream.
    pub(super) fn route(
        &mut self,
        key: SessionKey,
        related: Option<RequestHandle>,
        json: String,
        is_response: bool,
    ) {
        let stream = related
            .and_then(|h| self.dispatcher.route_of(key, h))
            .unwrap_or(STANDALONE);
        self.deliver(key, stream, json, is_response);
    }

    pub(super) fn deliver(
        &mut self,
        key: SessionKey,
        no: StreamNo,
        json: String,
        is_response: bool,
    ) {
        let json_mode = self.settings.response_mode == ResponseMode::Json;
        let Some(session) = self.sessions.get_mut(&key) else {
            return;
        };
        let delivery = match session.streams.get(&no) {
            Some(stream) => stream.delivery,
            None => {
                log::debug(format_args!("dropping a message for an ended stream {no}"));
                return;
            }
        };
        match (delivery, is_response) {
            (Delivery::Undecided | Delivery::Json | Delivery::Held, true) => {
                if let Some(stream) = session.streams.get_mut(&no) {
                    stream.json_answers.push(json);
                }
                return;
            }
            (Delivery::Json, false) | (Delivery::Undecided, false) if json_mode => {
                return self.deliver(key, STANDALONE, json, false);
            }
            (Delivery::Held, false) => return self.stream_held(key, no, json),
            (Delivery::Undecided, false) => self.open_sse(key, no),
            _ => {}
        }
        let Some(stream) = stream_mut(&mut self.sessions, key, no) else {
            return;
        };
        if let Some((conn, bytes)) = self.attached.push_event(key, no, stream, json) {
            self.actions.push_back(Action::Event { conn, bytes });
        }
    }

    /// Ends a POST stream whose answers are all written.
    pub(super) fn finish_stream_if_done(&mut self, key: SessionKey, no: StreamNo) {
        let Some(session) = self.sessions.get_mut(&key) else {
            return;
        };
        let Some(stream) = session.streams.get_mut(&no) else {
            return;
        };
        if !stream.is_finished(no)
            || stream.delivery == Delivery::Undecided
            || self.attached.is_pending(key, no)
        {
            return;
        }
        match (stream.delivery, self.attached.conn_of(key, no)) {
            (Delivery::Json | Delivery::Held, Some(conn)) => {
                let reply = json_reply(stream);
                self.attached.detach_stream(key, no);
                session.drop_stream(no);
                self.actions.push_back(Action::Reply { conn, reply });
            }
            (Delivery::Sse, Some(conn)) => {
                self.attached.detach_stream(key, no);
                session.drop_stream(no);
                self.actions.push_back(Action::EndStream { conn });
            }
            (Delivery::Sse, None) => {
                for evicted in session.park(no, self.settings.max_parked_streams) {
                    self.attached.detach_stream(key, evicted);
                }
            }
            _ => {
                self.attached.detach_stream(key, no);
                session.drop_stream(no);
            }
        }
    }

    /// Sends the deferred reply of a held stream (now an event stream) with what gathered for
    /// its head; `end`: the connection is let go after it (SSE polling), and the stream waits,
    /// detached, for the client to resume with the session id the head carries.
    pub(super) fn send_held_head(&mut self, key: SessionKey, no: StreamNo, end: bool) {
        let Some(stream) = stream_mut(&mut self.sessions, key, no) else {
            return;
        };
        let initial = self.attached.take_pending(key, no).unwrap_or_default();
        let conn = match end {
            true => self.attached.detach_stream(key, no),
            false => self.attached.conn_of(key, no),
        };
        if let Some(conn) = conn {
            let body = ReplyBody::Stream { initial, end };
            let headers = match stream.session_id.take() {
                Some(id) => vec![("Mcp-Session-Id", id)],
                None => Vec::new(),
            };
            let reply = Reply {
                status: 200,
                headers,
                body,
            };
            self.actions.push_back(Action::Reply { conn, reply });
        }
    }

    /// SSE polling: ends the connection of a request's stream before its answer.
    pub(super) fn close_stream(&mut self, request: RequestHandle) {
        let Some(key) = self.dispatcher.get(request).map(|r| r.session) else {
            return;
        };
        let Some(session) = self.sessions.get(&key) else {
            return;
        };
        if !version::has_sse_polling(&session.view.protocol_version) {
            return;
        }
        let Some(no) = self.dispatcher.route_of(key, request) else {
            return;
        };
        if self.settings.response_mode == ResponseMode::Json {
            return;
        }
        let held = self
            .sessions
            .get(&key)
            .and_then(|s| s.streams.get(&no))
            .is_some_and(|s| s.delivery == Delivery::Held);
        self.open_sse(key, no);
        if held {
            // Its reply is still deferred: the head goes out now, with the priming event.
            return self.send_held_head(key, no, true);
        }
        // A stream whose head is still pending ends with the reply being built.
        if let Some(conn) = self.attached.release(key, no) {
            self.actions.push_back(Action::EndStream { conn });
        }
    }
}

/// The JSON answer of a POST whose answers are all collected (an array for a batch).
pub(super) fn json_reply(stream: &mut Stream) -> Reply {
    let answers = std::mem::take(&mut stream.json_answers);
    if answers.is_empty() && !stream.batch {
        // Its one request was cancelled: no JSON-RPC answer is due (MCP cancellation), and an
        // empty array would not be one. 202 says the message was taken and nothing follows.
        return Reply::empty(202);
    }
    let body = answers.into_body(stream.batch);
    let reply = Reply {
        status: stream.http_status,
        headers: Vec::new(),
        body: ReplyBody::Json(body),
    };
    if stream.http_status == 503 {
        return reply.with_header("Retry-After", RETRY_AFTER_SECS.to_string());
    }
    match stream.session_id.take() {
        Some(id) if stream.http_status < 400 => reply.with_header("Mcp-Session-Id", id),
        _ => reply,
    }
}

/// The status of a failed `initialize` answered as plain JSON: no session was made, and the
/// status says whose fault it is. A request timeout is 504 (RFC 9110 15.6.5: a gateway that got
/// no timely answer from upstream); the backend's own failure 500; the client's mistakes 4xx.
pub(super) fn failed_initialize_status(code: i64) -> u16 {
    match code {
        jsonrpc::REQUEST_TIMEOUT => 504,
        code => match stateless::status_for(code) {
            200 => 500,
            status => status,
        },
    }
}
