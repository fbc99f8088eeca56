//! The built-in reference server: every tool, resource, prompt, completion and logging
//! behaviour the MCP conformance suite (0.1.16, "Fixture contract") expects, behind
//! [`crate::mcp::Handler`].
//!
//! [`Builtin`] answers at once whenever it can. Calls that take time are pending state:
//! a script of notifications and pauses (logging, progress, reconnection) advanced by timers,
//! or a request to the client (sampling, elicitation, roots) finished by its answer. Pending
//! state lives per session and is forgotten on cancel or session close, so a late timer or a
//! late client answer finds nothing and does nothing.
//!
//! Choices the spec leaves to the server:
//! - A session that never sent `logging/setLevel` gets every log message.
//! - Stateless requests (no session) share one bucket for pending calls; `logging/setLevel`
//!   and `resources/subscribe` are answered but not remembered there, since no later request
//!   belongs to the same client.
//! - `test_tool_with_progress` without a progress token answers at once.
//! - List results come in one page; any `cursor` is one we never issued, so -32602.
//!
//! Layout: `tools`, `resources`, `prompts`, `completion` hold the catalogue and its outputs;
//! `logging` the levels; `fixtures` the PNG and WAV bytes.

mod completion;
mod fixtures;
mod logging;
mod prompts;
mod resources;
mod tools;

use crate::mcp::jsonrpc::{INVALID_PARAMS, METHOD_NOT_FOUND, SERVER_ERROR};
use crate::mcp::{version, Context, ErrorObject, Handler, OutgoingId, RequestHandle, SessionKey};
use logging::Level;
use serde_json::{json, Map, Value};
use std::collections::{BTreeSet, HashMap, VecDeque};
use tools::{Finish, Plan, Step};

/// Most tool calls one session may have waiting on a timer or the client; bounds memory
/// against a client that starts calls and never lets them finish.
const MAX_PENDING_CALLS: usize = 64;

/// Most resource subscriptions one session may hold; template URIs are unlimited in number.
const MAX_SUBSCRIPTIONS: usize = 64;

/// Where state lives: a session, or `None` for stateless requests.
type Bucket = Option<SessionKey>;

/// The built-in MCP server the daemon runs when no child command is given.
#[derive(Debug, Default)]
pub struct Builtin {
    sessions: HashMap<Bucket, SessionState>,
    /// Timer token to the call it advances.
    timers: HashMap<u64, (Bucket, RequestHandle)>,
    /// Request sent to the client to the call waiting for its answer.
    asked: HashMap<OutgoingId, (Bucket, RequestHandle)>,
    next_token: u64,
}

/// What one session has asked for and started.
#[derive(Debug, Default)]
struct SessionState {
    /// The minimum level of `notifications/message`; `None` until `logging/setLevel`.
    level: Option<Level>,
    subscriptions: BTreeSet<String>,
    calls: HashMap<RequestHandle, Pending>,
}

/// A tool call that has not answered yet.
#[derive(Debug)]
enum Pending {
    /// Waiting for timer `token`, then running the rest of `steps` and answering `result`.
    Script {
        token: u64,
        steps: VecDeque<Step>,
        result: Value,
    },
    /// Waiting for the client's answer to request `id`.
    Asked { id: OutgoingId, finish: Finish },
}

impl Builtin {
    /// A server with no sessions yet.
    pub fn new() -> Builtin {
        Builtin::default()
    }

    fn set_level(&mut self, bucket: Bucket, params: &Value) -> Result<Value, ErrorObject> {
        let name = str_param(params, "level")?;
        let level = Level::parse(name)
            .ok_or_else(|| invalid_params(format!("Invalid log level: {name}")))?;
        if bucket.is_some() {
            self.sessions.entry(bucket).or_default().level = Some(level);
        }
        Ok(json!({}))
    }

    fn subscribe(
        &mut self,
        bucket: Bucket,
        params: &Value,
        on: bool,
    ) -> Result<Value, ErrorObject> {
        let uri = str_param(params, "uri")?;
        if !resources::exists(uri) {
            return Err(resources::not_found(uri));
        }
        if bucket.is_none() {
            return Ok(json!({}));
        }
        let subscriptions = &mut self.sessions.entry(bucket).or_default().subscriptions;
        if !on {
            subscriptions.remove(uri);
        } else if !subscriptions.contains(uri) {
            if subscriptions.len() >= MAX_SUBSCRIPTIONS {
                return Err(ErrorObject::new(
                    SERVER_ERROR,
                    "Too many resource subscriptions",
                ));
            }
            subscriptions.insert(uri.to_string());
        }
        Ok(json!({}))
    }

    fn call_tool(&mut self, ctx: &mut Context<'_>, request: RequestHandle, params: &Value) {
        let name = match str_param(params, "name") {
            Ok(name) => name,
            Err(e) => return ctx.respond(request, Err(e)),
        };
        let no_arguments = Map::new();
        let args = match params.get("arguments") {
            None | Some(Value::Null) => &no_arguments,
            Some(Value::Object(args)) => args,
            Some(_) => {
                return ctx.respond(request, Err(invalid_params("arguments must be an object")))
            }
        };
        let progress_token = params.get("_meta").and_then(|m| m.get("progressToken"));
        let capabilities = ctx.session_view().map(|v| &v.client_capabilities);
        let plan = tools::plan(name, args, progress_token, capabilities);
        let bucket = ctx.session();
        let busy = self
            .sessions
            .get(&bucket)
            .is_some_and(|s| s.calls.len() >= MAX_PENDING_CALLS);
        match plan {
            Plan::Answer(outcome) => ctx.respond(request, outcome),
            Plan::Script { .. } | Plan::Ask { .. } if busy => ctx.respond(
                request,
                Err(ErrorObject::new(
                    SERVER_ERROR,
                    format!("Too many tool calls in progress (limit {MAX_PENDING_CALLS})"),
                )),
            ),
            Plan::Script { steps, result } => self.run(ctx, bucket, request, steps, result),
            Plan::Ask {
                method,
                params,
                finish,
            } => {
                let id = ctx.request(Some(request), method, params);
                self.asked.insert(id, (bucket, request));
                let calls = &mut self.sessions.entry(bucket).or_default().calls;
                calls.insert(request, Pending::Asked { id, finish });
            }
        }
    }

    /// Runs `steps` up to the next pause (then waits for its timer) or to the end (then answers).
    fn run(
        &mut self,
        ctx: &mut Context<'_>,
        bucket: Bucket,
        request: RequestHandle,
        mut steps: VecDeque<Step>,
        result: Value,
    ) {
        let minimum = self.sessions.get(&bucket).and_then(|s| s.level);
        while let Some(step) = steps.pop_front() {
            match step {
                Step::Log(level, data) => {
                    if minimum.is_none_or(|min| level >= min) {
                        let params =
                            json!({"level": level.as_str(), "logger": "mcpd", "data": data});
                        ctx.notify(Some(request), "notifications/message", params);
                    }
                }
                Step::Progress(params) => {
                    ctx.notify(Some(request), "notifications/progress", params)
                }
                Step::CloseStream => ctx.close_stream(request),
                Step::Pause(after) => {
                    let token = self.next_token;
                    self.next_token += 1;
                    ctx.set_timer(after, token);
                    self.timers.insert(token, (bucket, request));
                    let pending = Pending::Script {
                        token,
                        steps,
                        result,
                    };
                    let calls = &mut self.sessions.entry(bucket).or_default().calls;
                    calls.insert(request, pending);
                    return;
                }
            }
        }
        ctx.respond(request, Ok(result));
    }

    /// Drops a pending call and the timer or client request that would have resumed it.
    fn forget(&mut self, pending: Pending) {
        match pending {
            Pending::Script { token, .. } => {
                self.timers.remove(&token);
            }
            Pending::Asked { id, .. } => {
                self.asked.remove(&id);
            }
        }
    }
}

impl Handler for Builtin {
    fn handle_request(
        &mut self,
        ctx: &mut Context<'_>,
        request: RequestHandle,
        method: &str,
        params: Option<Value>,
    ) {
        let params = params.unwrap_or_else(|| json!({}));
        let bucket = ctx.session();
        let outcome = match method {
            "initialize" => initialize(&params),
            "ping" => Ok(json!({})),
            "logging/setLevel" => self.set_level(bucket, &params),
            "tools/list" => one_page(&params, tools::list),
            "tools/call" => return self.call_tool(ctx, request, &params),
            "resources/list" => one_page(&params, resources::list),
            "resources/templates/list" => one_page(&params, resources::templates),
            "resources/read" => str_param(&params, "uri").and_then(resources::read),
            "resources/subscribe" => self.subscribe(bucket, &params, true),
            "resources/unsubscribe" => self.subscribe(bucket, &params, false),
            "prompts/list" => one_page(&params, prompts::list),
            "prompts/get" => get_prompt(&params),
            "completion/complete" => completion::complete(&params),
            _ => Err(ErrorObject::new(
                METHOD_NOT_FOUND,
                format!("Method not found: {method}"),
            )),
        };
        ctx.respond(request, outcome);
    }

    /// Every notification is accepted silently: `notifications/cancelled` arrives as
    /// [`Handler::handle_cancel`], and nothing here depends on `initialized` or roots changes.
    fn handle_notification(
        &mut self,
        _ctx: &mut Context<'_>,
        _method: &str,
        _params: Option<Value>,
    ) {
    }

    fn handle_response(
        &mut self,
        ctx: &mut Context<'_>,
        id: OutgoingId,
        outcome: Result<Value, ErrorObject>,
    ) {
        let Some((bucket, request)) = self.asked.remove(&id) else {
            return;
        };
        let Some(state) = self.sessions.get_mut(&bucket) else {
            return;
        };
        match state.calls.remove(&request) {
            Some(Pending::Asked { finish, .. }) => {
                ctx.respond(request, Ok(tools::finish(finish, outcome)))
            }
            Some(other) => self.forget(other),
            None => {}
        }
    }

    fn handle_timer(&mut self, ctx: &mut Context<'_>, token: u64) {
        let Some((bucket, request)) = self.timers.remove(&token) else {
            return;
        };
        let Some(state) = self.sessions.get_mut(&bucket) else {
            return;
        };
        match state.calls.remove(&request) {
            Some(Pending::Script { steps, result, .. }) => {
                self.run(ctx, bucket, request, steps, result)
            }
            Some(other) => self.forget(other),
            None => {}
        }
    }

    fn handle_cancel(&mut self, ctx: &mut Context<'_>, request: RequestHandle) {
        let pending = self
            .sessions
            .get_mut(&ctx.session())
            .and_then(|s| s.calls.remove(&request));
        if let Some(pending) = pending {
            self.forget(pending);
        }
    }

    fn session_closed(&mut self, session: SessionKey) {
        if let Some(state) = self.sessions.remove(&Some(session)) {
            for (_, pending) in state.calls {
                self.forget(pending);
            }
        }
    }
}

/// The `initialize` result (MCP lifecycle, "Initialization").
fn initialize(params: &Value) -> Result<Value, ErrorObject> {
    let requested = str_param(params, "protocolVersion")?;
    Ok(json!({
        "protocolVersion": version::negotiate(Some(requested)),
        "capabilities": {
            "tools": {"listChanged": true},
            "resources": {"subscribe": true, "listChanged": true},
            "prompts": {"listChanged": true},
            "logging": {},
            "completions": {},
        },
        "serverInfo": {
            "name": "mcpd",
            "title": "mcpd reference server",
            "version": env!("CARGO_PKG_VERSION"),
        },
        "instructions": "A reference server for testing MCP clients: its tools, resources \
            and prompts return fixed, documented outputs.",
    }))
}

/// The `prompts/get` result.
fn get_prompt(params: &Value) -> Result<Value, ErrorObject> {
    let name = str_param(params, "name")?;
    let no_arguments = Map::new();
    let args = match params.get("arguments") {
        None | Some(Value::Null) => &no_arguments,
        Some(Value::Object(args)) => args,
        Some(_) => return Err(invalid_params("arguments must be an object")),
    };
    prompts::get(name, args)
}

/// A list result in one page; a `cursor` can only be one we never issued (MCP pagination:
/// invalid cursors are -32602).
fn one_page(params: &Value, list: fn() -> Value) -> Result<Value, ErrorObject> {
    match params.get("cursor") {
        None | Some(Value::Null) => Ok(list()),
        Some(_) => Err(invalid_params("Invalid cursor")),
    }
}

/// A required string member of `params`.
fn str_param<'a>(params: &'a Value, name: &str) -> Result<&'a str, ErrorObject> {
    params
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| invalid_params(format!("params.{name} must be a string")))
}

/// A -32602 with `message`.
fn invalid_params(message: impl Into<String>) -> ErrorObject {
    ErrorObject::new(INVALID_PARAMS, message)
}
