//! The MCP stdio transport (MCP transports, "stdio"): one implicit session over a byte stream
//! of newline-delimited JSON-RPC messages. Used by `mcpd --stdio`, for local clients and as the
//! child the bridge drives in tests.
//!
//! Sans-IO: [`StdioTransport::handle_input`] takes bytes read from stdin and the time; lines to
//! write accumulate in [`StdioTransport::pending_output`]; handler timers come out of
//! [`StdioTransport::poll_timer`] and go back in through [`StdioTransport::on_timer`].
//!
//! Not supported here: JSON-RPC batches (answered -32600; every stdio client of every revision
//! sends single messages), and SSE polling (there is no stream to close).

use super::handler::{
    run_callback, Command, Context, Handler, OutgoingId, Panicked, RequestHandle, SessionKey,
    SessionView,
};
use super::jsonrpc::{self, Body, ErrorObject, Id, Message};
use super::version;
use crate::lines::{LineFramer, LineTooLong};
use serde_json::Value;
use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Instant;

/// The one session of a stdio connection.
const SESSION: SessionKey = SessionKey(0);

/// Client requests in flight at once; beyond it a request is refused.
pub const MAX_PENDING: usize = 1024;

/// A handler served over newline-delimited JSON-RPC.
pub struct StdioTransport {
    handler: Box<dyn Handler>,
    framer: LineFramer,
    view: SessionView,
    pending: HashMap<RequestHandle, Id>,
    outgoing: HashSet<u64>,
    next_outgoing: u64,
    next_handle: u64,
    out: Vec<u8>,
    timers: VecDeque<(Instant, u64)>,
    ended: bool,
}

impl StdioTransport {
    /// A transport for `handler` accepting messages of at most `max_message` bytes.
    pub fn new(handler: Box<dyn Handler>, max_message: usize) -> StdioTransport {
        StdioTransport {
            handler,
            framer: LineFramer::new(max_message),
            view: SessionView {
                protocol_version: version::LATEST_LEGACY.to_string(),
                ..SessionView::default()
            },
            pending: HashMap::new(),
            outgoing: HashSet::new(),
            next_outgoing: 0,
            next_handle: 1,
            out: Vec::new(),
            timers: VecDeque::new(),
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
                    error: ErrorObject::new(
                        jsonrpc::INVALID_REQUEST,
                        "Invalid Request: message exceeds the size limit",
                    ),
                }),
            }
        }
    }

    /// Lines waiting to be written to the output stream.
    pub fn pending_output(&self) -> &[u8] {
        &self.out
    }

    /// The output stream took `n` bytes.
    pub fn consume_output(&mut self, n: usize) {
        self.out.drain(..n.min(self.out.len()));
    }

    /// The next handler timer to arm: call [`StdioTransport::on_timer`] with the token at the instant.
    pub fn poll_timer(&mut self) -> Option<(Instant, u64)> {
        self.timers.pop_front()
    }

    /// A timer from [`StdioTransport::poll_timer`] is due.
    pub fn on_timer(&mut self, token: u64, now: Instant) {
        let commands = self
            .call(now, |h, ctx| h.handle_timer(ctx, token))
            .unwrap_or_default();
        self.apply(commands, now);
    }

    /// Whether the handler ended the session; the stream should be closed.
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// Carries out what the handler produced outside callbacks ([`Handler::poll_command`]).
    pub fn pump_backend(&mut self, now: Instant) {
        while let Some((_, command)) = self.handler.poll_command() {
            self.apply(vec![command], now);
        }
    }

    /// Requests still unanswered.
    pub fn pending_requests(&self) -> usize {
        self.pending.len()
    }

    fn handle_line(&mut self, line: &[u8], now: Instant) {
        let message = match jsonrpc::parse_body(line) {
            Err(e) => {
                let error = ErrorObject::new(jsonrpc::PARSE_ERROR, format!("Parse error: {e}"));
                return self.write(&Message::Error { id: None, error });
            }
            Ok(Body::Batch(_)) => {
                let error = ErrorObject::new(
                    jsonrpc::INVALID_REQUEST,
                    "Invalid Request: batches are not supported on stdio",
                );
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
                let handle = self
                    .pending
                    .iter()
                    .find(|(_, id)| Some(*id) == target.as_ref())
                    .map(|(h, _)| *h);
                if let Some(handle) = handle {
                    self.pending.remove(&handle);
                    let commands = self
                        .call(now, |h, ctx| h.handle_cancel(ctx, handle))
                        .unwrap_or_default();
                    self.apply(commands, now);
                }
            }
            Message::Notification { method, params } => {
                let commands = self
                    .call(now, |h, ctx| h.handle_notification(ctx, &method, params))
                    .unwrap_or_default();
                self.apply(commands, now);
            }
            Message::Response { id, result } => self.answer(id, Ok(result), now),
            Message::Error {
                id: Some(id),
                error,
            } => self.answer(id, Err(error), now),
            Message::Error { id: None, .. } => {}
        }
    }

    fn request(&mut self, id: Id, method: &str, params: Option<Value>, now: Instant) {
        if self.pending.len() >= MAX_PENDING {
            let error = ErrorObject::new(
                jsonrpc::SERVER_ERROR,
                format!("{MAX_PENDING} requests are already in flight"),
            );
            return self.write(&Message::Error {
                id: Some(id),
                error,
            });
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
        let handle = RequestHandle(self.next_handle);
        self.next_handle += 1;
        self.pending.insert(handle, id);
        let commands = match self.call(now, |h, ctx| h.handle_request(ctx, handle, method, params))
        {
            Ok(commands) => commands,
            Err(Panicked) => {
                let error = ErrorObject::new(
                    jsonrpc::INTERNAL_ERROR,
                    format!("Internal error: the handler failed on {method}"),
                );
                vec![Command::Respond {
                    request: handle,
                    outcome: Err(error),
                }]
            }
        };
        self.apply(commands, now);
    }

    fn answer(&mut self, id: Id, outcome: Result<Value, ErrorObject>, now: Instant) {
        let Some(n) = (match &id {
            Id::Number(n) => n.as_u64().filter(|n| self.outgoing.remove(n)),
            Id::String(_) => None,
        }) else {
            return;
        };
        let commands = self
            .call(now, |h, ctx| h.handle_response(ctx, OutgoingId(n), outcome))
            .unwrap_or_default();
        self.apply(commands, now);
    }

    fn call(
        &mut self,
        now: Instant,
        f: impl FnOnce(&mut dyn Handler, &mut Context<'_>),
    ) -> Result<Vec<Command>, Panicked> {
        run_callback(
            &mut *self.handler,
            now,
            Some(SESSION),
            Some(&self.view),
            &mut self.next_outgoing,
            f,
        )
    }

    fn apply(&mut self, commands: Vec<Command>, now: Instant) {
        for command in commands {
            match command {
                Command::Respond { request, outcome } => {
                    let Some(id) = self.pending.remove(&request) else {
                        continue;
                    };
                    if let Ok(result) = &outcome {
                        if let Some(v) = result.get("protocolVersion").and_then(Value::as_str) {
                            self.view.protocol_version = v.to_string();
                        }
                    }
                    let message = match outcome {
                        Ok(result) => Message::Response { id, result },
                        Err(error) => Message::Error {
                            id: Some(id),
                            error,
                        },
                    };
                    self.write(&message);
                }
                Command::Notify { method, params, .. } => {
                    self.write(&Message::Notification {
                        method,
                        params: Some(params),
                    });
                }
                Command::Request {
                    id, method, params, ..
                } => {
                    self.outgoing.insert(id.0);
                    self.write(&Message::Request {
                        id: Id::from(id.0),
                        method,
                        params: Some(params),
                    });
                }
                Command::Timer { after, token } => self.timers.push_back((now + after, token)),
                Command::CloseStream { .. } => {}
                Command::EndSession => self.ended = true,
                Command::Overloaded { request, message } => {
                    let error = ErrorObject::new(
                        jsonrpc::SERVER_ERROR,
                        format!("Service Unavailable: {message}"),
                    );
                    self.apply(
                        vec![Command::Respond {
                            request,
                            outcome: Err(error),
                        }],
                        now,
                    );
                }
            }
        }
    }

    fn write(&mut self, message: &Message) {
        self.out.extend_from_slice(message.to_json().as_bytes());
        self.out.push(b'\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin::Builtin;
    use serde_json::json;

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
        let mut t = StdioTransport::new(Box::new(Builtin::new()), 1 << 20);
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
        let mut t = StdioTransport::new(Box::new(Builtin::new()), 64);
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
    fn progress_arrives_through_timers() {
        let t0 = Instant::now();
        let mut t = StdioTransport::new(Box::new(Builtin::new()), 1 << 20);
        t.handle_input(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"test_tool_with_progress\",\"arguments\":{},\"_meta\":{\"progressToken\":\"p\"}}}\n", t0);
        let mut seen = lines(&mut t);
        while let Some((at, token)) = t.poll_timer() {
            t.on_timer(token, at);
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
        let mut t = StdioTransport::new(Box::new(Builtin::new()), 1 << 20);
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
}
