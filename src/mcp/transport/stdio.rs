//! The MCP stdio transport (MCP transports, "stdio"): one implicit session over a byte stream
//! of newline-delimited JSON-RPC messages. Used by `mcpd --stdio`, for local clients and as the
//! child the bridge drives in tests.
//!
//! Sans-IO: [`StdioTransport::handle_input`] takes bytes read from stdin and the time; lines to
//! write accumulate in [`StdioTransport::pending_output`]; handler timers live on the
//! transport's own wheel (so a cancelled one leaves it at once): the event loop waits until
//! [`StdioTransport::next_deadline`] and then calls [`StdioTransport::handle_timeout`].
//!
//! Dual-era (MCP versioning, "dual-era" servers choose per request): a request whose
//! `params._meta` names a 2026-07-28 protocol version (or `server/discover`) is served
//! stateless, in a session of its own that ends when it is answered, with the client
//! capabilities and info of its `_meta`; the ladder of [`stateless::validate_meta`] applies
//! (there are no headers to check), removed methods get -32601, and results carry
//! `resultType` (and caching hints) as over HTTP. Handshake-era messages on the same stream go
//! to the one implicit session as before. So the bridge can hand a child like `mcpd --stdio`
//! stateless requests unchanged.
//!
//! Not supported here: JSON-RPC batches (answered -32600; every stdio client of every revision
//! sends single messages), and SSE polling (there is no stream to close).

use super::stateless;
use crate::config::Limits;
use crate::idmap::IdMap;
use crate::lines::{LineFramer, LineTooLong};
use crate::mcp::dispatch::{call_back_refusals, Caps, Dispatcher, TimerKey, Work};
use crate::mcp::error::Error;
use crate::mcp::handler::{Command, Handler, OutgoingId, RequestHandle, SessionKey, SessionView};
use crate::mcp::jsonrpc::{self, Answer, Body, ErrorObject, Id, Message, Params};
use crate::mcp::version;
use crate::timer::{self, TimerWheel};
use serde_json::Value;
use std::collections::VecDeque;
use std::time::Instant;

/// The one session of a stdio connection.
const SESSION: SessionKey = SessionKey(0);

/// A handler served over newline-delimited JSON-RPC.
pub struct StdioTransport {
    dispatcher: Dispatcher<dyn Handler>,
    framer: LineFramer,
    view: SessionView,
    /// The view of each stateless (2026-07-28) request in flight, by its own session.
    stateless: IdMap<SessionKey, SessionView>,
    next_session: u64,
    out: Vec<u8>,
    /// Past this many waiting bytes input is not taken ([`StdioTransport::wants_input`]); past
    /// twice as many, notifications are dropped and counted (answers never are: their number is
    /// bounded by the pending cap once input stops).
    output_limit: usize,
    dropped_notifications: u64,
    /// Handler timers, made at the first one (a wheel needs an origin).
    wheel: Option<TimerWheel<TimerKey>>,
    /// The wheel entry of each armed handler timer, to cancel it.
    armed: IdMap<TimerKey, timer::TimerKey>,
    ended: bool,
}

impl StdioTransport {
    /// A transport for `handler` within `limits` (messages of at most `max_body_bytes`, the
    /// per-session request caps, `max_outbound_bytes` of output waiting).
    pub fn new(handler: Box<dyn Handler>, limits: &Limits) -> StdioTransport {
        StdioTransport {
            dispatcher: Dispatcher::new(handler, Caps::of(limits)),
            framer: LineFramer::new(limits.max_body_bytes),
            view: SessionView {
                protocol_version: version::LATEST_LEGACY.to_string(),
                ..SessionView::default()
            },
            stateless: IdMap::default(),
            next_session: SESSION.0 + 1,
            out: Vec::new(),
            output_limit: limits.max_outbound_bytes,
            dropped_notifications: 0,
            wheel: None,
            armed: IdMap::default(),
            ended: false,
        }
    }

    /// Bytes read from the input stream.
    pub fn handle_input(&mut self, bytes: &[u8], now: Instant) {
        self.framer.push(bytes);
        while let Some(line) = self.framer.next_line() {
            match line {
                Ok(line) => self.handle_line(&line, now),
                Err(LineTooLong) => self.write(&Message::Error {
                    id: None,
                    error: Error::InvalidRequest("message exceeds the size limit").object(),
                }),
            }
        }
    }

    /// Whether to read more input: false while the output stream is behind by more than the
    /// output limit, so a reader that stops reading stops the writer instead of growing memory.
    pub fn wants_input(&self) -> bool {
        self.out.len() < self.output_limit
    }

    #[cfg(test)]
    /// Notifications dropped because the output stream was far behind.
    pub fn dropped_notifications(&self) -> u64 {
        self.dropped_notifications
    }

    /// Lines waiting to be written to the output stream.
    pub fn pending_output(&self) -> &[u8] {
        &self.out
    }

    /// The output stream took `n` bytes.
    pub fn consume_output(&mut self, n: usize) {
        self.out.drain(..n.min(self.out.len()));
    }

    /// When [`StdioTransport::handle_timeout`] is next due; `None` when no timer is armed.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.wheel.as_ref()?.next_deadline()
    }

    /// Time has reached `now`: fires every handler timer due by then.
    pub fn handle_timeout(&mut self, now: Instant) {
        loop {
            let due = self.wheel.as_mut().and_then(|w| w.poll_expired(now));
            let Some((_, key)) = due else { return };
            self.armed.remove(&key);
            self.on_timer(key, now);
        }
    }

    /// Handler timers on the wheel (for tests).
    #[cfg(test)]
    pub(crate) fn armed_timers(&self) -> usize {
        self.wheel.as_ref().map_or(0, TimerWheel::len)
    }

    /// Takes a cancelled handler timer off the wheel.
    fn disarm(&mut self, key: TimerKey) {
        if let (Some(entry), Some(wheel)) = (self.armed.remove(&key), self.wheel.as_mut()) {
            wheel.cancel(entry);
        }
    }

    /// A handler timer is due (a cancelled one is ignored).
    fn on_timer(&mut self, key: TimerKey, now: Instant) {
        let Some((session, token)) = self.dispatcher.fire_timer(key) else {
            return;
        };
        let key = session.unwrap_or(SESSION);
        if key != SESSION && !self.stateless.contains_key(&key) {
            return; // Its one-request session is over.
        }
        let view = view_in(&self.view, &self.stateless, key);
        let work = self
            .dispatcher
            .call(Some(key), view, now, None, |h, ctx| {
                h.handle_timer(ctx, token)
            })
            .unwrap_or_default();
        self.apply(work, now);
    }

    /// Whether the handler ended the session; the stream should be closed.
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// Carries out what the handler has for clients outside callbacks ([`Handler::handle_wake`]).
    pub fn pump_backend(&mut self, now: Instant) {
        let work = self.dispatcher.wake();
        self.apply(work, now);
    }

    /// Requests still unanswered.
    pub fn pending_requests(&self) -> usize {
        self.dispatcher.in_flight()
    }

    fn handle_line(&mut self, line: &[u8], now: Instant) {
        let message = match jsonrpc::parse_body(line) {
            Err(e) => {
                let error = Error::BodyNotJson(e.to_string()).object();
                return self.write(&Message::Error { id: None, error });
            }
            Ok(Body::Batch(_)) => {
                let error = Error::InvalidRequest("batches are not supported on stdio").object();
                return self.write(&Message::Error { id: None, error });
            }
            Ok(Body::Single(Err(invalid))) => {
                return self.write(&Message::Error {
                    id: invalid.id.clone(),
                    error: invalid.to_error(),
                });
            }
            Ok(Body::Single(Ok(message))) => message,
        };
        match message {
            Message::Request { id, method, params } => self.request(id, &method, params, now),
            Message::Notification { method, params } if method == "notifications/cancelled" => {
                let target = params
                    .as_ref()
                    .and_then(|p| p.get("requestId"))
                    .and_then(Id::from_value);
                let handle = target.and_then(|id| self.find(&id));
                if let Some(handle) = handle {
                    let Some(request) = self.dispatcher.finish(handle) else {
                        return;
                    };
                    let key = request.session;
                    let view = view_in(&self.view, &self.stateless, key);
                    let work = self
                        .dispatcher
                        .call(Some(key), view, now, None, |h, ctx| {
                            h.handle_cancel(ctx, handle)
                        })
                        .unwrap_or_default();
                    self.apply(work, now);
                    if key != SESSION {
                        self.close_one(key);
                    }
                }
            }
            Message::Notification { method, params } => {
                let work = self
                    .dispatcher
                    .call(Some(SESSION), Some(&self.view), now, None, |h, ctx| {
                        h.handle_notification(ctx, &method, params)
                    })
                    .unwrap_or_default();
                self.apply(work, now);
            }
            Message::Response { id, result } => self.answer(id, Ok(result), now),
            Message::Error {
                id: Some(id),
                error,
            } => self.answer(id, Err(error), now),
            Message::Error { id: None, .. } => {}
        }
    }

    /// The request in flight whose JSON-RPC id is `id`, in any session of the stream.
    fn find(&self, id: &Id) -> Option<RequestHandle> {
        self.dispatcher.find(SESSION, id).or_else(|| {
            self.stateless
                .keys()
                .find_map(|key| self.dispatcher.find(*key, id))
        })
    }

    fn request(&mut self, id: Id, method: &str, params: Option<Params>, now: Instant) {
        // The stream is one session: its stateless requests count towards the same cap.
        let max = self.dispatcher.max_pending();
        if self.dispatcher.in_flight() >= max {
            return self.write(&Message::Error {
                id: Some(id),
                error: Error::TooManyRequests(max).object(),
            });
        }
        if stateless::is_stateless_request(method, params.as_ref()) {
            return self.stateless_request(id, method, params, now);
        }
        if method == "initialize" {
            let params = params.as_ref();
            self.view.client_capabilities = params
                .and_then(|p| p.get("capabilities"))
                .cloned()
                .unwrap_or(Value::Null);
            self.view.client_info = params
                .and_then(|p| p.get("clientInfo"))
                .cloned()
                .unwrap_or(Value::Null);
        }
        self.dispatch(SESSION, id, method, params, now);
    }

    /// A 2026-07-28 request: validated, then handled in a session that ends with its answer.
    fn stateless_request(&mut self, id: Id, method: &str, params: Option<Params>, now: Instant) {
        let view = match stateless::validate_meta(params.as_deref()) {
            Ok(view) => view,
            Err(rejection) => {
                return self.write(&Message::Error {
                    id: Some(id),
                    error: rejection.object(),
                })
            }
        };
        if stateless::REMOVED_METHODS.contains(&method) {
            let message = format!("Method not found: {method} is not part of 2026-07-28");
            return self.write(&Message::Error {
                id: Some(id),
                error: Error::MethodNotFound(message).object(),
            });
        }
        let key = SessionKey(self.next_session);
        self.next_session += 1;
        self.stateless.insert(key, view);
        self.dispatch(key, id, method, params, now);
    }

    /// Hands a request to the handler in session `key`.
    fn dispatch(
        &mut self,
        key: SessionKey,
        id: Id,
        method: &str,
        params: Option<Params>,
        now: Instant,
    ) {
        let handle = self.dispatcher.track(key, id, method, 0);
        let view = view_in(&self.view, &self.stateless, key);
        let work = self
            .dispatcher
            .request(Some(key), view, handle, method, params, now, None);
        self.apply(work, now);
    }

    fn answer(&mut self, id: Id, outcome: Result<Value, ErrorObject>, now: Instant) {
        let work = self
            .dispatcher
            .response(SESSION, Some(&self.view), &id, outcome, now);
        if let Some(work) = work {
            self.apply(work, now);
        }
    }

    /// A stateless request was answered or cancelled: its session ends.
    fn close_one(&mut self, key: SessionKey) {
        if self.stateless.remove(&key).is_some() {
            for timer in self.dispatcher.close_session(key) {
                self.disarm(timer);
            }
        }
    }

    /// Carries out what the handler queued. Requests to the client over the cap go back to
    /// the handler as errors, bounded ([`call_back_refusals`]).
    fn apply(&mut self, work: Work, now: Instant) {
        let mut refused = VecDeque::new();
        self.carry_out(work, now, &mut refused);
        call_back_refusals(&mut refused, |(id, error), refused| {
            let work = self
                .dispatcher
                .call(Some(SESSION), Some(&self.view), now, None, |h, ctx| {
                    h.handle_response(ctx, id, Err(error))
                })
                .unwrap_or_default();
            self.carry_out(work, now, refused);
        });
    }

    /// [`StdioTransport::apply`] for one batch of work; refused requests go to `refused`.
    fn carry_out(
        &mut self,
        work: Work,
        now: Instant,
        refused: &mut VecDeque<(OutgoingId, ErrorObject)>,
    ) {
        for (session, command) in work {
            match command {
                Command::Respond { request, outcome } => {
                    self.respond(request, outcome.map(Answer::Value))
                }
                Command::RespondRaw { request, result } => {
                    self.respond(request, Ok(Answer::Raw(result)))
                }
                Command::Notify { method, params, .. } => {
                    self.write(&Message::Notification {
                        method,
                        params: Some(params.into()),
                    });
                }
                Command::Request {
                    id, method, params, ..
                } => {
                    // Every request to the client travels on the one stream: its answers come
                    // back in the implicit session whichever callback asked.
                    if session.is_none() {
                        continue;
                    }
                    if let Err(error) = self.dispatcher.sent(SESSION, id) {
                        refused.push_back((id, error));
                        continue;
                    }
                    self.write(&Message::Request {
                        id: Id::from(id.0),
                        method,
                        params: Some(params.into()),
                    });
                }
                Command::Timer { key, after, .. } => {
                    let wheel = self.wheel.get_or_insert_with(|| TimerWheel::new(now));
                    self.armed.insert(key, wheel.insert(now + after, key));
                }
                Command::CancelTimer { key } => self.disarm(key),
                Command::CloseStream { .. } => {}
                Command::EndSession => self.ended = true,
                // The one stdio session lives as long as its client's stdin.
                Command::IdleTimeout { .. } => {}
                Command::Overloaded { request, message } => {
                    self.respond(request, Err(Error::BackendUnavailable(message).object()));
                }
            }
        }
    }

    /// Writes the answer to `request`, if it is still in flight.
    fn respond(&mut self, request: RequestHandle, outcome: Result<Answer, ErrorObject>) {
        let Some(entry) = self.dispatcher.finish(request) else {
            return;
        };
        let one = entry.session != SESSION;
        // Only these answers are edited or read; the rest, raw text included, go out as given.
        let edited = one || entry.method == "initialize";
        let mut outcome = match outcome {
            Ok(answer) if edited => answer.into_value().map(Answer::Value),
            other => other,
        };
        match (one, &mut outcome) {
            (true, Ok(Answer::Value(result))) => stateless::decorate_result(&entry.method, result),
            (false, Ok(Answer::Value(result))) if entry.method == "initialize" => {
                if let Some(v) = result.get("protocolVersion").and_then(Value::as_str) {
                    self.view.protocol_version = v.to_string();
                }
            }
            _ => {}
        }
        let id = entry.client_id;
        let json = match outcome {
            Ok(answer) => jsonrpc::response_json(id, answer),
            Err(error) => Message::Error {
                id: Some(id),
                error,
            }
            .to_json(),
        };
        self.write_line(&json);
        if one {
            self.close_one(entry.session);
        }
    }

    fn write(&mut self, message: &Message) {
        if matches!(message, Message::Notification { .. })
            && self.out.len() >= self.output_limit.saturating_mul(2)
        {
            self.dropped_notifications += 1;
            if self.dropped_notifications.is_power_of_two() {
                crate::log::warn(format_args!(
                    "stdout is {} bytes behind; {} notifications dropped so far",
                    self.out.len(),
                    self.dropped_notifications
                ));
            }
            return;
        }
        self.write_line(&message.to_json());
    }

    /// Queues one line of JSON text for stdout.
    fn write_line(&mut self, json: &str) {
        self.out.extend_from_slice(json.as_bytes());
        self.out.push(b'\n');
    }
}

/// The view of session `key`: the implicit session's, or a stateless request's.
fn view_in<'a>(
    view: &'a SessionView,
    stateless: &'a IdMap<SessionKey, SessionView>,
    key: SessionKey,
) -> Option<&'a SessionView> {
    match key {
        SESSION => Some(view),
        _ => stateless.get(&key),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin::Builtin;
    use crate::mcp::Context;
    use serde_json::json;

    /// Limits with the message size, output bound and pending cap under test.
    fn limits(max_message: usize, max_output: usize, max_pending: usize) -> Limits {
        Limits {
            max_body_bytes: max_message,
            max_outbound_bytes: max_output,
            max_pending_per_session: max_pending,
            ..Limits::default()
        }
    }

    fn lines(t: &mut StdioTransport) -> Vec<Value> {
        let text = String::from_utf8(t.pending_output().to_vec()).unwrap();
        let n = t.pending_output().len();
        t.consume_output(n);
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn initialize_and_echo_over_lines() {
        let t0 = Instant::now();
        let mut t = StdioTransport::new(Box::new(Builtin::new()), &Limits::default());
        t.handle_input(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{}}}\n", t0);
        let out = lines(&mut t);
        assert_eq!(out[0]["result"]["protocolVersion"], "2025-06-18");
        t.handle_input(b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n{\"jsonrpc\":\"2.0\",\"id\":\"e\",\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":{\"message\":\"hi\"}}}\n", t0);
        let out = lines(&mut t);
        assert_eq!(
            out,
            vec![
                json!({"jsonrpc":"2.0","id":"e","result":{"content":[{"type":"text","text":"hi"}]}})
            ]
        );
    }

    #[test]
    fn garbage_and_oversize_lines_get_errors_and_the_stream_goes_on() {
        let t0 = Instant::now();
        let mut t = StdioTransport::new(Box::new(Builtin::new()), &limits(64, 1 << 20, 256));
        t.handle_input(b"not json\n", t0);
        t.handle_input(&[b'x'; 100], t0);
        t.handle_input(
            b"\n[1]\n{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}\n",
            t0,
        );
        let out = lines(&mut t);
        let codes: Vec<_> = out.iter().map(|m| m["error"]["code"].clone()).collect();
        assert_eq!(
            codes,
            vec![json!(-32700), json!(-32600), json!(-32600), Value::Null]
        );
        assert_eq!(out[3], json!({"jsonrpc":"2.0","id":2,"result":{}}));
    }

    #[test]
    fn a_stalled_output_stops_input_and_drops_only_notifications() {
        let t0 = Instant::now();
        let mut t = StdioTransport::new(Box::new(Builtin::new()), &limits(1 << 20, 64, 256));
        assert!(t.wants_input());
        // Nobody reads the output: the progress notifications pile up past twice the limit.
        t.handle_input(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"test_tool_with_progress\",\"arguments\":{},\"_meta\":{\"progressToken\":\"p\"}}}\n", t0);
        while let Some(at) = t.next_deadline() {
            t.handle_timeout(at);
        }
        assert!(!t.wants_input(), "input stops while the output is behind");
        assert!(t.dropped_notifications() > 0);
        assert!(t.pending_output().len() < 64 * 2 + 1024);
        let out = lines(&mut t);
        assert_eq!(out.last().unwrap()["id"], 1, "the answer is never dropped");
        assert!(t.wants_input());
    }

    #[test]
    fn progress_arrives_through_timers() {
        let t0 = Instant::now();
        let mut t = StdioTransport::new(Box::new(Builtin::new()), &Limits::default());
        t.handle_input(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"test_tool_with_progress\",\"arguments\":{},\"_meta\":{\"progressToken\":\"p\"}}}\n", t0);
        let mut seen = lines(&mut t);
        while let Some(at) = t.next_deadline() {
            t.handle_timeout(at);
            seen.extend(lines(&mut t));
        }
        let progress: Vec<_> = seen
            .iter()
            .filter(|m| m["method"] == "notifications/progress")
            .map(|m| m["params"]["progress"].clone())
            .collect();
        assert_eq!(progress, vec![json!(0), json!(50), json!(100)]);
        assert_eq!(seen.last().unwrap()["id"], 1);
        assert_eq!(t.pending_requests(), 0);
    }

    #[test]
    fn sampling_round_trip_routes_the_answer_by_id() {
        let t0 = Instant::now();
        let mut t = StdioTransport::new(Box::new(Builtin::new()), &Limits::default());
        t.handle_input(b"{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{\"sampling\":{}}}}\n", t0);
        lines(&mut t);
        t.handle_input(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"test_sampling\",\"arguments\":{\"prompt\":\"p\"}}}\n", t0);
        let out = lines(&mut t);
        assert_eq!(out[0]["method"], "sampling/createMessage");
        let id = out[0]["id"].clone();
        let reply = json!({"jsonrpc":"2.0","id":id,"result":{"role":"assistant","content":{"type":"text","text":"hello"},"model":"m"}});
        t.handle_input(format!("{reply}\n").as_bytes(), t0);
        let out = lines(&mut t);
        assert_eq!(
            out[0]["result"]["content"][0]["text"],
            "LLM response: hello"
        );
    }

    fn meta() -> Value {
        json!({
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}},
            "io.modelcontextprotocol/clientInfo": {"name": "c", "version": "1"},
        })
    }

    fn send(t: &mut StdioTransport, message: Value) -> Vec<Value> {
        t.handle_input(format!("{message}\n").as_bytes(), Instant::now());
        lines(t)
    }

    #[test]
    fn both_eras_share_one_stream() {
        let mut t = StdioTransport::new(Box::new(Builtin::new()), &Limits::default());
        send(
            &mut t,
            json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{}}}),
        );
        let legacy = send(
            &mut t,
            json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}),
        );
        assert!(legacy[0]["result"].get("resultType").is_none());
        let modern = send(
            &mut t,
            json!({"jsonrpc":"2.0","id":2,"method":"tools/list","params":{"_meta":meta()}}),
        );
        let result = &modern[0]["result"];
        assert_eq!(
            (
                &result["resultType"],
                &result["ttlMs"],
                &result["cacheScope"]
            ),
            (&json!("complete"), &json!(0), &json!("private"))
        );
        assert!(result["tools"]
            .to_string()
            .contains("test_input_required_result_elicitation"));
        let discover = send(
            &mut t,
            json!({"jsonrpc":"2.0","id":3,"method":"server/discover","params":{"_meta":meta()}}),
        );
        assert_eq!(
            discover[0]["result"]["supportedVersions"],
            json!(["2026-07-28"])
        );
        let ir = send(
            &mut t,
            json!({"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"test_input_required_result_elicitation","arguments":{},"_meta":meta()}}),
        );
        assert_eq!(ir[0]["result"]["resultType"], "input_required");
        assert_eq!(t.pending_requests(), 0);
        assert_eq!(
            t.view.protocol_version, "2025-11-25",
            "the implicit session is untouched"
        );
    }

    #[test]
    fn stateless_ladder_and_removed_methods() {
        let mut t = StdioTransport::new(Box::new(Builtin::new()), &Limits::default());
        let mut v999 = meta();
        v999["io.modelcontextprotocol/protocolVersion"] = json!("v999.0.0");
        let mut no_caps = meta();
        no_caps
            .as_object_mut()
            .unwrap()
            .remove("io.modelcontextprotocol/clientCapabilities");
        let cases = [
            ("ping", meta(), -32601),
            ("initialize", meta(), -32601),
            ("tools/list", no_caps, -32602),
            ("tools/list", v999, -32022),
        ];
        for (method, meta, code) in cases {
            let out = send(
                &mut t,
                json!({"jsonrpc":"2.0","id":7,"method":method,"params":{"_meta":meta}}),
            );
            assert_eq!(
                (&out[0]["id"], &out[0]["error"]["code"]),
                (&json!(7), &json!(code)),
                "{method}"
            );
        }
        let out = send(
            &mut t,
            json!({"jsonrpc":"2.0","id":8,"method":"server/discover"}),
        );
        assert_eq!(
            out[0]["error"]["code"], -32602,
            "discover is stateless even without _meta"
        );
    }

    #[test]
    fn stateless_progress_arrives_through_timers_of_its_own_session() {
        let t0 = Instant::now();
        let mut t = StdioTransport::new(Box::new(Builtin::new()), &Limits::default());
        let mut params = json!({"name":"test_tool_with_progress","arguments":{},"_meta":meta()});
        params["_meta"]["progressToken"] = json!("p");
        let call = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":params});
        t.handle_input(format!("{call}\n").as_bytes(), t0);
        let mut seen = lines(&mut t);
        while let Some(at) = t.next_deadline() {
            t.handle_timeout(at);
            seen.extend(lines(&mut t));
        }
        let progress = seen
            .iter()
            .filter(|m| m["method"] == "notifications/progress")
            .count();
        assert_eq!(progress, 3);
        assert_eq!(seen.last().unwrap()["result"]["resultType"], "complete");
        assert!(t.stateless.is_empty() && t.dispatcher.live_timers() == 0);
    }

    /// Records the session and revision of every request, and every closed session.
    struct Recorder(std::rc::Rc<std::cell::RefCell<Vec<String>>>);

    impl Handler for Recorder {
        fn handle_request(
            &mut self,
            ctx: &mut Context<'_>,
            request: RequestHandle,
            method: &str,
            _params: Option<Params>,
        ) {
            let view = ctx.session_view().unwrap();
            self.0.borrow_mut().push(format!(
                "{method} in {} at {} by {}",
                ctx.session().unwrap().0,
                view.protocol_version,
                view.client_info["name"]
            ));
            if method != "slow" {
                ctx.respond(request, Ok(json!({})));
            }
        }
        fn session_closed(&mut self, session: SessionKey) {
            self.0.borrow_mut().push(format!("closed {}", session.0));
        }
    }

    #[test]
    fn each_stateless_request_gets_a_session_that_ends_with_it() {
        let log = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let mut t = StdioTransport::new(Box::new(Recorder(log.clone())), &Limits::default());
        send(
            &mut t,
            json!({"jsonrpc":"2.0","id":1,"method":"a","params":{"_meta":meta()}}),
        );
        send(&mut t, json!({"jsonrpc":"2.0","id":2,"method":"b"}));
        send(
            &mut t,
            json!({"jsonrpc":"2.0","id":3,"method":"slow","params":{"_meta":meta()}}),
        );
        send(
            &mut t,
            json!({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":3}}),
        );
        assert_eq!(
            *log.borrow(),
            [
                "a in 1 at 2026-07-28 by \"c\"",
                "closed 1",
                "b in 0 at 2025-11-25 by null",
                "slow in 2 at 2026-07-28 by \"c\"",
                "closed 2",
            ]
        );
    }

    #[test]
    fn the_pending_cap_counts_the_whole_stream_stateless_requests_included() {
        let log = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let mut t = StdioTransport::new(Box::new(Recorder(log)), &limits(1 << 20, 1 << 20, 2));
        send(&mut t, json!({"jsonrpc":"2.0","id":1,"method":"slow"}));
        send(
            &mut t,
            json!({"jsonrpc":"2.0","id":2,"method":"slow","params":{"_meta":meta()}}),
        );
        let refused = send(&mut t, json!({"jsonrpc":"2.0","id":3,"method":"slow"}));
        assert_eq!(
            (&refused[0]["id"], &refused[0]["error"]["code"]),
            (&json!(3), &json!(-32000))
        );
        send(
            &mut t,
            json!({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}),
        );
        assert_eq!(
            t.pending_requests(),
            1,
            "a cancelled request frees its place"
        );
        assert!(
            send(&mut t, json!({"jsonrpc":"2.0","id":4,"method":"b"}))[0]["result"].is_object()
        );
    }
}
