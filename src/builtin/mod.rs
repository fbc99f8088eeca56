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
#[cfg(test)]
mod harness;
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

#[cfg(test)]
mod tests {
    use super::harness::Harness;
    use super::*;
    use crate::mcp::handler::Command;
    use std::time::Duration;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn code(outcome: Result<Value, ErrorObject>) -> i64 {
        outcome.expect_err("an error").code
    }

    #[test]
    fn initialize_negotiates_the_revision_and_declares_capabilities() {
        let mut h = Harness::new();
        let got = h
            .call(
                "initialize",
                json!({"protocolVersion": "2025-06-18", "capabilities": {}}),
            )
            .unwrap();
        assert_eq!(got["protocolVersion"], "2025-06-18");
        assert_eq!(
            got["capabilities"],
            json!({"tools":{"listChanged":true},"resources":{"subscribe":true,"listChanged":true},
                "prompts":{"listChanged":true},"logging":{},"completions":{}})
        );
        assert_eq!(
            got["serverInfo"],
            json!({"name":"mcpd","title":"mcpd reference server","version":env!("CARGO_PKG_VERSION")})
        );
        assert!(!got["instructions"].as_str().unwrap().is_empty());
        let got = h
            .call("initialize", json!({"protocolVersion": "1999-01-01"}))
            .unwrap();
        assert_eq!(got["protocolVersion"], version::LATEST_LEGACY);
    }

    #[test]
    fn initialize_without_a_string_protocol_version_is_invalid_params() {
        let mut h = Harness::new();
        assert_eq!(code(h.call("initialize", json!({}))), -32602);
        assert_eq!(
            code(h.call("initialize", json!({"protocolVersion": 20250618}))),
            -32602
        );
    }

    #[test]
    fn ping_and_set_level_answer_empty_objects() {
        let mut h = Harness::new();
        assert_eq!(h.call("ping", json!({})), Ok(json!({})));
        for level in [
            "debug",
            "info",
            "notice",
            "warning",
            "error",
            "critical",
            "alert",
            "emergency",
        ] {
            assert_eq!(
                h.call("logging/setLevel", json!({ "level": level })),
                Ok(json!({}))
            );
        }
    }

    #[test]
    fn set_level_rejects_unknown_levels() {
        let mut h = Harness::new();
        for params in [json!({"level": "verbose"}), json!({"level": 3}), json!({})] {
            assert_eq!(
                code(h.call("logging/setLevel", params.clone())),
                -32602,
                "{params}"
            );
        }
    }

    #[test]
    fn unknown_method_is_method_not_found_naming_it() {
        let mut h = Harness::new();
        let e = h.call("tools/frobnicate", json!({})).unwrap_err();
        assert_eq!(e.code, -32601);
        assert_eq!(e.message, "Method not found: tools/frobnicate");
    }

    #[test]
    fn unknown_tool_prompt_and_resource_have_their_codes() {
        let mut h = Harness::new();
        let e = h.call_tool("no_such_tool", json!({})).unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (-32602, "Unknown tool: no_such_tool")
        );
        let e = h
            .call("prompts/get", json!({"name": "no_such_prompt"}))
            .unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (-32602, "Unknown prompt: no_such_prompt")
        );
        let e = h
            .call("resources/read", json!({"uri": "test://nope"}))
            .unwrap_err();
        assert_eq!(e.code, -32002);
        assert_eq!(e.data, Some(json!({"uri": "test://nope"})));
    }

    #[test]
    fn malformed_call_params_are_invalid_params() {
        let mut h = Harness::new();
        assert_eq!(code(h.call("tools/call", json!({}))), -32602);
        assert_eq!(
            code(h.call("tools/call", json!({"name": "echo", "arguments": [1]}))),
            -32602
        );
        assert_eq!(
            code(h.call(
                "prompts/get",
                json!({"name": "test_simple_prompt", "arguments": "x"})
            )),
            -32602
        );
        assert_eq!(code(h.call("resources/read", json!({}))), -32602);
        assert_eq!(code(h.call("tools/list", json!({"cursor": "abc"}))), -32602);
    }

    #[test]
    fn simple_text_is_callable_without_an_arguments_key() {
        let mut h = Harness::new();
        let got = h
            .call("tools/call", json!({"name": "test_simple_text"}))
            .unwrap();
        assert_eq!(
            got,
            tools::text_result("This is a simple text response for testing.")
        );
    }

    #[test]
    fn lists_are_served_with_non_empty_descriptions() {
        let mut h = Harness::new();
        let tools = h.call("tools/list", json!({})).unwrap();
        let prompts = h.call("prompts/list", json!({})).unwrap();
        let resources = h.call("resources/list", json!({})).unwrap();
        let templates = h.call("resources/templates/list", json!({})).unwrap();
        for item in tools["tools"]
            .as_array()
            .unwrap()
            .iter()
            .chain(prompts["prompts"].as_array().unwrap())
            .chain(resources["resources"].as_array().unwrap())
            .chain(templates["resourceTemplates"].as_array().unwrap())
        {
            assert!(!item["name"].as_str().unwrap().is_empty(), "{item}");
            assert!(!item["description"].as_str().unwrap().is_empty(), "{item}");
        }
        assert_eq!(prompts["prompts"].as_array().unwrap().len(), 4);
        assert_eq!(resources["resources"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn resources_prompts_and_completion_are_routed() {
        let mut h = Harness::new();
        let got = h
            .call("resources/read", json!({"uri": "test://template/123/data"}))
            .unwrap();
        assert!(got["contents"][0]["text"].as_str().unwrap().contains("123"));
        let got = h
            .call(
                "prompts/get",
                json!({"name": "test_prompt_with_arguments",
                    "arguments": {"arg1": "testValue1", "arg2": "testValue2"}}),
            )
            .unwrap();
        assert!(got["messages"].to_string().contains("testValue2"));
        let got = h
            .call(
                "completion/complete",
                json!({"ref": {"type": "ref/prompt", "name": "test_prompt_with_arguments"},
                    "argument": {"name": "arg1", "value": "test"}}),
            )
            .unwrap();
        assert!(got["completion"]["values"].is_array());
    }

    #[test]
    fn subscribe_and_unsubscribe_answer_empty_objects() {
        let mut h = Harness::new();
        let watched = json!({"uri": "test://watched-resource"});
        assert_eq!(
            h.call("resources/subscribe", watched.clone()),
            Ok(json!({}))
        );
        assert_eq!(
            h.call("resources/subscribe", watched.clone()),
            Ok(json!({}))
        );
        assert_eq!(
            h.call("resources/unsubscribe", watched.clone()),
            Ok(json!({}))
        );
        assert_eq!(h.call("resources/unsubscribe", watched), Ok(json!({})));
        assert_eq!(
            code(h.call("resources/subscribe", json!({"uri": "test://nope"}))),
            -32002
        );
        assert_eq!(
            code(h.call("resources/unsubscribe", json!({"uri": "test://nope"}))),
            -32002
        );
    }

    #[test]
    fn subscriptions_are_bounded_per_session() {
        let mut h = Harness::new();
        for i in 0..MAX_SUBSCRIPTIONS {
            let uri = format!("test://template/{i}/data");
            assert_eq!(
                h.call("resources/subscribe", json!({ "uri": uri })),
                Ok(json!({}))
            );
        }
        let one_more = json!({"uri": "test://static-text"});
        assert_eq!(
            code(h.call("resources/subscribe", one_more.clone())),
            SERVER_ERROR
        );
        h.call(
            "resources/unsubscribe",
            json!({"uri": "test://template/0/data"}),
        )
        .unwrap();
        assert_eq!(h.call("resources/subscribe", one_more), Ok(json!({})));
    }

    #[test]
    fn logging_tool_sends_three_info_messages_50ms_apart_then_answers() {
        let mut h = Harness::new();
        let call = h.request(
            "tools/call",
            json!({"name": "test_tool_with_logging", "arguments": {}}),
        );
        assert_eq!(h.notifications("notifications/message").len(), 1);
        h.advance(ms(49));
        assert_eq!(h.notifications("notifications/message").len(), 1);
        h.advance(ms(1));
        assert_eq!(h.notifications("notifications/message").len(), 2);
        assert_eq!(h.response(call), None);
        h.advance(ms(50));
        let messages = h.notifications("notifications/message");
        let data: Vec<&Value> = messages.iter().map(|(_, p)| &p["data"]).collect();
        assert_eq!(
            data,
            [
                "Tool execution started",
                "Tool processing data",
                "Tool execution completed"
            ]
        );
        for (related, params) in &messages {
            assert_eq!(*related, Some(call));
            assert_eq!(params["level"], "info");
            assert_eq!(params["logger"], "mcpd");
        }
        let result = h.response(call).unwrap().unwrap();
        assert!(!result["content"][0]["text"].as_str().unwrap().is_empty());
        assert_eq!(h.pending_timers(), 0);
    }

    #[test]
    fn set_level_filters_tool_log_messages() {
        let mut h = Harness::new();
        for (level, want) in [("warning", 0), ("info", 3), ("debug", 3), ("emergency", 0)] {
            h.log.clear();
            h.call("logging/setLevel", json!({ "level": level }))
                .unwrap();
            h.call_tool("test_tool_with_logging", json!({})).unwrap();
            assert_eq!(
                h.notifications("notifications/message").len(),
                want,
                "{level}"
            );
        }
    }

    #[test]
    fn progress_token_keeps_its_type_and_progress_rises() {
        for token in [json!(1), json!("progress-test-1")] {
            let mut h = Harness::new();
            let call = h.request(
                "tools/call",
                json!({"name": "test_tool_with_progress", "arguments": {},
                    "_meta": {"progressToken": token}}),
            );
            h.run_timers();
            let progress = h.notifications("notifications/progress");
            let values: Vec<u64> = progress
                .iter()
                .map(|(related, p)| {
                    assert_eq!(*related, Some(call));
                    assert_eq!(p["progressToken"], token);
                    assert_eq!(p["total"], 100);
                    p["progress"].as_u64().unwrap()
                })
                .collect();
            assert_eq!(values, [0, 50, 100]);
            assert_eq!(
                h.response(call),
                Some(Ok(tools::text_result("Progress test completed")))
            );
        }
    }

    #[test]
    fn sampling_round_trips_through_the_client() {
        let mut h = Harness::new();
        let call = h.request(
            "tools/call",
            json!({"name": "test_sampling", "arguments": {"prompt": "Test prompt for sampling"}}),
        );
        let asked = h.client_requests();
        assert_eq!(asked.len(), 1);
        let (related, id, method, params) = asked[0].clone();
        assert_eq!(
            (related, method.as_str()),
            (Some(call), "sampling/createMessage")
        );
        assert_eq!(
            params["messages"][0]["content"]["text"],
            "Test prompt for sampling"
        );
        assert_eq!(h.response(call), None);
        h.answer(
            id,
            Ok(
                json!({"role": "assistant", "model": "test-model", "stopReason": "endTurn",
                "content": {"type": "text", "text": "This is a test response from the client"}}),
            ),
        );
        assert_eq!(
            h.response(call),
            Some(Ok(json!({"content":[{"type":"text",
                "text":"LLM response: This is a test response from the client"}]})))
        );
        h.answer(id, Ok(json!({})));
        assert_eq!(h.responses(call), 1);
    }

    #[test]
    fn elicitation_round_trips_through_the_client() {
        let mut h = Harness::new();
        let call = h.request(
            "tools/call",
            json!({"name": "test_elicitation",
                "arguments": {"message": "Please provide your information"}}),
        );
        let (_, id, method, params) = h.client_requests()[0].clone();
        assert_eq!(method, "elicitation/create");
        assert_eq!(params["message"], "Please provide your information");
        h.answer(
            id,
            Ok(json!({"action": "accept",
                "content": {"username": "testuser", "email": "test@example.com"}})),
        );
        let text = h.response(call).unwrap().unwrap()["content"][0]["text"].clone();
        assert_eq!(
            text,
            "User response: accept, {\"email\":\"test@example.com\",\"username\":\"testuser\"}"
        );
    }

    #[test]
    fn client_error_answer_becomes_an_error_result() {
        let mut h = Harness::new();
        let call = h.request(
            "tools/call",
            json!({"name": "test_elicitation_sep1034_defaults"}),
        );
        let (_, id, ..) = h.client_requests()[0].clone();
        h.answer(id, Err(ErrorObject::new(-32603, "no user")));
        let result = h.response(call).unwrap().unwrap();
        assert_eq!(result["isError"], true);
        assert!(result["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("no user"));
    }

    #[test]
    fn roots_are_listed_only_when_the_client_declared_them() {
        let mut h = Harness::new();
        assert_eq!(
            h.call_tool("list_roots", json!({})).unwrap()["isError"],
            true
        );
        h.view.as_mut().unwrap().client_capabilities = json!({"roots": {"listChanged": true}});
        let call = h.request("tools/call", json!({"name": "list_roots"}));
        let (_, id, method, _) = h.client_requests()[0].clone();
        assert_eq!(method, "roots/list");
        h.answer(
            id,
            Ok(json!({"roots": [{"uri": "file:///work", "name": "work"}]})),
        );
        assert_eq!(
            h.response(call),
            Some(Ok(tools::text_result("Client roots:\nfile:///work (work)")))
        );
        h.notify("notifications/roots/list_changed", json!({}));
    }

    #[test]
    fn reconnection_closes_the_stream_then_answers_after_100ms() {
        let mut h = Harness::new();
        let call = h.request(
            "tools/call",
            json!({"name": "test_reconnection", "arguments": {}}),
        );
        assert_eq!(h.log, vec![Command::CloseStream { request: call }]);
        h.advance(ms(99));
        assert_eq!(h.response(call), None);
        h.advance(ms(1));
        assert_eq!(
            h.response(call),
            Some(Ok(tools::text_result("Reconnection test completed")))
        );
    }

    #[test]
    fn cancel_stops_further_messages_and_the_answer() {
        let mut h = Harness::new();
        let logging = h.request("tools/call", json!({"name": "test_tool_with_logging"}));
        let sampling = h.request(
            "tools/call",
            json!({"name": "test_sampling", "arguments": {"prompt": "p"}}),
        );
        h.notify("notifications/cancelled", json!({"requestId": 0}));
        h.cancel(logging);
        h.cancel(sampling);
        h.run_timers();
        let (_, id, ..) = h.client_requests()[0].clone();
        h.answer(id, Ok(json!({"content": {"type": "text", "text": "late"}})));
        assert_eq!(h.notifications("notifications/message").len(), 1);
        assert_eq!((h.responses(logging), h.responses(sampling)), (0, 0));
        assert!(h.builtin.timers.is_empty() && h.builtin.asked.is_empty());
    }

    #[test]
    fn session_closed_drops_its_state_and_pending_calls() {
        let mut h = Harness::new();
        h.call("logging/setLevel", json!({"level": "error"}))
            .unwrap();
        h.call(
            "resources/subscribe",
            json!({"uri": "test://watched-resource"}),
        )
        .unwrap();
        let progress = h.request(
            "tools/call",
            json!({"name": "test_tool_with_progress", "_meta": {"progressToken": 7}}),
        );
        h.request(
            "tools/call",
            json!({"name": "test_sampling", "arguments": {"prompt": "p"}}),
        );
        h.builtin.session_closed(SessionKey(1));
        assert!(h.builtin.sessions.is_empty());
        assert!(h.builtin.timers.is_empty() && h.builtin.asked.is_empty());
        h.run_timers();
        let (_, id, ..) = h.client_requests()[0].clone();
        h.answer(id, Ok(json!({"content": {"type": "text", "text": "late"}})));
        assert_eq!(h.notifications("notifications/progress").len(), 1);
        assert_eq!(h.responses(progress), 0);
        assert!(h.builtin.sessions.is_empty());
    }

    #[test]
    fn stray_timers_and_unknown_answers_do_nothing() {
        let mut h = Harness::new();
        h.fire_stray_timer(12345);
        h.answer(OutgoingId(999), Ok(json!({})));
        h.cancel(RequestHandle(999));
        h.builtin.session_closed(SessionKey(42));
        assert!(h.log.is_empty());
    }

    #[test]
    fn pending_calls_are_bounded_per_session() {
        let mut h = Harness::new();
        let sample = json!({"name": "test_sampling", "arguments": {"prompt": "p"}});
        for _ in 0..MAX_PENDING_CALLS {
            h.request("tools/call", sample.clone());
        }
        assert_eq!(code(h.call("tools/call", sample.clone())), SERVER_ERROR);
        assert!(h.call_tool("test_simple_text", json!({})).is_ok());
        h.session = Some(SessionKey(2));
        let other = h.request("tools/call", sample.clone());
        assert_eq!(h.response(other), None);
        h.session = Some(SessionKey(1));
        let (_, id, ..) = h.client_requests()[0].clone();
        h.answer(id, Ok(json!({"content": {"type": "text", "text": "ok"}})));
        let again = h.request("tools/call", sample);
        assert_eq!(h.response(again), None);
        assert_eq!(h.client_requests().len(), MAX_PENDING_CALLS + 2);
    }

    #[test]
    fn stateless_requests_work_without_a_session() {
        let mut h = Harness::new();
        h.session = None;
        h.view = None;
        assert_eq!(
            h.call("logging/setLevel", json!({"level": "emergency"})),
            Ok(json!({}))
        );
        h.call_tool("test_tool_with_logging", json!({})).unwrap();
        assert_eq!(h.notifications("notifications/message").len(), 3);
        let got = h
            .call_tool("test_sampling", json!({"prompt": "p"}))
            .unwrap();
        assert_eq!(got["isError"], true);
        assert_eq!(
            h.call("resources/subscribe", json!({"uri": "test://static-text"})),
            Ok(json!({}))
        );
        assert!(h
            .builtin
            .sessions
            .get(&None)
            .is_none_or(|s| s.subscriptions.is_empty()));
    }
}
