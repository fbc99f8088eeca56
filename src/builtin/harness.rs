//! A fake transport for tests: drives a [`Builtin`] through [`Context`], records every command
//! it queues, and fires its timers from a fake clock (no sleeps).
//!
//! [`Harness::modern`] plays the stateless (2026-07-28) transport: every request gets a session
//! key of its own, closed as soon as the request is answered.

use super::Builtin;
use crate::mcp::handler::Command;
use crate::mcp::{
    Context, ErrorObject, Handler, OutgoingId, RequestHandle, SessionKey, SessionView,
};
use serde_json::{json, Map, Value};
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
    /// Stateless mode: the one-request session of every request not answered yet.
    open: Option<Vec<(RequestHandle, SessionKey)>>,
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
            open: None,
        }
    }

    /// Stateless (2026-07-28) requests whose `_meta` declares sampling, elicitation and roots,
    /// as the conformance client does; no `Mcp-Param-*` headers.
    pub fn modern() -> Harness {
        let mut h = Harness::new();
        h.session = None;
        h.view = Some(SessionView {
            protocol_version: "2026-07-28".into(),
            client_capabilities: json!({"sampling": {}, "elicitation": {}, "roots": {"listChanged": true}}),
            client_info: json!({"name": "conformance-test-client", "version": "1.0.0"}),
            ..SessionView::default()
        });
        h.open = Some(Vec::new());
        h
    }

    /// Sets the client capabilities of the requests to come.
    pub fn declare(&mut self, capabilities: Value) {
        self.view.as_mut().expect("a view").client_capabilities = capabilities;
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
            if let (Command::Respond { request, .. }, Some(open)) = (&command, &mut self.open) {
                if let Some(i) = open.iter().position(|(r, _)| r == request) {
                    let (_, key) = open.remove(i);
                    self.builtin.session_closed(key);
                }
            }
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
        let mut session = self.session;
        if let Some(open) = &mut self.open {
            let key = SessionKey(1000 + handle.0);
            open.push((handle, key));
            session = Some(key);
        }
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

/// An accepted elicitation with `content`.
pub(super) fn accept(content: Value) -> Value {
    json!({"action": "accept", "content": content})
}

/// The answer the conformance client gives to each input request of `asked`.
pub(super) fn answer_all(asked: &Value) -> Value {
    let answers: Map<String, Value> = asked["inputRequests"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(key, request)| {
            let answer = match request["method"].as_str().unwrap() {
                "elicitation/create" => {
                    let fields = request["params"]["requestedSchema"]["properties"]
                        .as_object()
                        .unwrap()
                        .iter()
                        .map(|(field, schema)| match schema["type"].as_str() {
                            Some("boolean") => (field.clone(), json!(true)),
                            Some("integer" | "number") => (field.clone(), json!(1)),
                            _ => (field.clone(), json!("Alice")),
                        })
                        .collect::<Map<String, Value>>();
                    accept(Value::Object(fields))
                }
                "sampling/createMessage" => json!({"role": "assistant",
                    "content": {"type": "text", "text": "The capital of France is Paris."},
                    "model": "test-model", "stopReason": "endTurn"}),
                "roots/list" => {
                    json!({"roots": [{"uri": "file:///test/root", "name": "Test Root"}]})
                }
                other => panic!("unexpected input request {other}"),
            };
            (key.clone(), answer)
        })
        .collect();
    Value::Object(answers)
}

/// The params a retry of `asked` adds: every question answered, its state echoed.
pub(super) fn retry(asked: &Value) -> Value {
    let mut extra = json!({"inputResponses": answer_all(asked)});
    if let Some(state) = asked.get("requestState") {
        extra["requestState"] = state.clone();
    }
    extra
}

/// The text of a complete (not `input_required`) tool result.
pub(super) fn complete_text(result: &Value) -> &str {
    assert_ne!(result["resultType"], "input_required", "{result}");
    result["content"][0]["text"].as_str().unwrap()
}

/// Key and method of every input request of `asked`, in key order.
pub(super) fn asked_methods(asked: &Value) -> Vec<(String, String)> {
    let requests = asked["inputRequests"].as_object().unwrap();
    let method = |r: &Value| r["method"].as_str().unwrap().to_string();
    requests
        .iter()
        .map(|(k, r)| (k.clone(), method(r)))
        .collect()
}
