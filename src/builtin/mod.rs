//! The built-in reference server: every tool, resource, prompt, completion and logging
//! behaviour the MCP conformance suite (0.1.16, "Fixture contract"; 0.2.0-alpha.12 at
//! 2026-07-28) expects, behind [`crate::mcp::Handler`].
//!
//! Both eras share one catalogue. A stateless (2026-07-28) request, told apart by
//! [`crate::mcp::SessionView::is_modern`], also gets `server/discover`, the 2026 fixtures, and
//! -32602 for an unknown resource.
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
//! - A stateless request without `_meta["io.modelcontextprotocol/logLevel"]` gets no log
//!   messages; nothing is ever sent to such a client as a request, `input_required` instead.
//!
//! Layout: this file dispatches methods and keeps per-session state; `calls` runs tool calls
//! that answer later; `tools`, `resources`, `prompts`, `completion` hold the catalogue and its
//! exact outputs; `stateless` the 2026-only tools that answer at once; `input_required` how a
//! stateless call asks for input, `input_fixtures` the fixtures that do, `request_state` the
//! `requestState` table they share; `logging` the levels; `fixtures` the PNG and WAV bytes.

mod calls;
mod completion;
mod fixtures;
#[cfg(test)]
mod harness;
mod input_fixtures;
mod input_required;
mod logging;
mod prompts;
mod request_state;
mod resources;
mod stateless;
mod tool_list;
mod tools;

use crate::mcp::jsonrpc::{INVALID_PARAMS, METHOD_NOT_FOUND, SERVER_ERROR};
use crate::mcp::lifecycle::ServerInfo;
use crate::mcp::{Context, ErrorObject, Handler, OutgoingId, Params, RequestHandle, SessionKey};
use calls::Pending;
use logging::{Level, LogFilter};
use request_state::RequestStates;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use tools::Arguments;

/// Most resource subscriptions one session may hold; template URIs are unlimited in number.
const MAX_SUBSCRIPTIONS: usize = 64;

/// Where state lives: a session, or `None` for stateless requests.
type Bucket = Option<SessionKey>;

/// The reference MCP server (conformance fixtures and demo tools); one instance serves every session.
#[derive(Debug, Default)]
pub struct Builtin {
    sessions: HashMap<Bucket, SessionState>,
    /// Timer token to the call it advances.
    timers: HashMap<u64, (Bucket, RequestHandle)>,
    /// Request sent to the client to the call waiting for its answer.
    asked: HashMap<OutgoingId, (Bucket, RequestHandle)>,
    next_token: u64,
    /// `requestState` handles of `input_required` results, shared by all stateless requests.
    states: RequestStates<input_fixtures::Saved>,
}

/// What one session has asked for and started.
#[derive(Debug, Default)]
struct SessionState {
    /// Which `notifications/message` go out: `logging/setLevel`, or a stateless request's `_meta`.
    logs: LogFilter,
    subscriptions: BTreeSet<String>,
    calls: HashMap<RequestHandle, Pending>,
}

impl Builtin {
    /// A server with no sessions yet.
    pub fn new() -> Builtin {
        Builtin::default()
    }

    /// A server whose `requestState` handles start with `instance_id` (`--instance-id`), as
    /// session ids do, so a balancer can route a retried stateless request to the instance
    /// that holds its state.
    pub fn for_instance(instance_id: &str) -> Builtin {
        let mut builtin = Builtin::default();
        builtin.states.set_instance_id(instance_id);
        builtin
    }

    fn set_level(&mut self, bucket: Bucket, params: &Value) -> Result<Value, ErrorObject> {
        let name = str_param(params, "level")?;
        let level = Level::parse(name)
            .ok_or_else(|| invalid_params(format!("Invalid log level: {name}")))?;
        if bucket.is_some() {
            self.sessions.entry(bucket).or_default().logs = LogFilter::AtLeast(level);
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
}

impl Handler for Builtin {
    fn server_info(&self) -> ServerInfo {
        server_info()
    }

    fn handle_request(
        &mut self,
        ctx: &mut Context<'_>,
        request: RequestHandle,
        method: &str,
        params: Option<Params>,
    ) {
        let params = params.unwrap_or_else(|| json!({}).into());
        let bucket = ctx.session();
        let modern = is_modern(ctx);
        let outcome = match method {
            "logging/setLevel" => self.set_level(bucket, &params),
            "tools/list" => one_page(&params, || tool_list::list(modern)),
            "tools/call" => return self.call_tool(ctx, request, &params),
            "resources/list" => one_page(&params, resources::list),
            "resources/templates/list" => one_page(&params, resources::templates),
            "resources/read" => {
                str_param(&params, "uri").and_then(|uri| resources::read(uri, modern))
            }
            "resources/subscribe" => self.subscribe(bucket, &params, true),
            "resources/unsubscribe" => self.subscribe(bucket, &params, false),
            "prompts/list" => one_page(&params, || prompts::list(modern)),
            "prompts/get" => match ctx.session_view().filter(|v| v.is_modern()) {
                Some(view) => {
                    input_fixtures::prompt(&params, view).unwrap_or_else(|| get_prompt(&params))
                }
                None => get_prompt(&params),
            },
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
        _params: Option<Params>,
    ) {
    }

    fn handle_response(
        &mut self,
        ctx: &mut Context<'_>,
        id: OutgoingId,
        outcome: Result<Value, ErrorObject>,
    ) {
        self.resume_asked(ctx, id, outcome);
    }

    fn handle_timer(&mut self, ctx: &mut Context<'_>, token: u64) {
        self.resume_script(ctx, token);
    }

    fn handle_cancel(&mut self, ctx: &mut Context<'_>, request: RequestHandle) {
        self.drop_call(ctx.session(), request);
    }

    fn session_closed(&mut self, session: SessionKey) {
        self.drop_session(session);
    }
}

/// What the server tells a client about itself, at `initialize` and `server/discover`.
const INSTRUCTIONS: &str = "A reference server for testing MCP clients: its tools, resources \
    and prompts return fixed, documented outputs.";

/// Whether the callback serves a stateless (2026-07-28) request.
fn is_modern(ctx: &Context<'_>) -> bool {
    ctx.session_view().is_some_and(|v| v.is_modern())
}

/// The capabilities both eras declare. At 2026-07-28 the transport serves
/// `subscriptions/listen`, which is what `listChanged` and `subscribe` promise there.
fn capabilities() -> Value {
    json!({
        "tools": {"listChanged": true},
        "resources": {"subscribe": true, "listChanged": true},
        "prompts": {"listChanged": true},
        "logging": {},
        "completions": {},
    })
}

/// Who the built-in server is, for `initialize` and `server/discover`.
fn server_info() -> ServerInfo {
    ServerInfo {
        title: Some("mcpd reference server".into()),
        instructions: Some(INSTRUCTIONS.into()),
        ..ServerInfo::new("mcpd", env!("CARGO_PKG_VERSION"), capabilities())
    }
}

/// The `prompts/get` result.
fn get_prompt(params: &Params) -> Result<Value, ErrorObject> {
    let name = str_param(params, "name")?;
    let args = Arguments::of(params.get_raw(&["arguments"]))?;
    prompts::get(name, args.map())
}

/// A list result in one page; a `cursor` can only be one we never issued (MCP pagination:
/// invalid cursors are -32602).
fn one_page(params: &Value, list: impl FnOnce() -> Value) -> Result<Value, ErrorObject> {
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
        .ok_or_else(|| not_a_string(name))
}

/// The -32602 for a required string member of `params` that is absent or not a string.
fn not_a_string(name: &str) -> ErrorObject {
    invalid_params(format!("params.{name} must be a string"))
}

/// A -32602 with `message`.
fn invalid_params(message: impl Into<String>) -> ErrorObject {
    ErrorObject::new(INVALID_PARAMS, message)
}

#[cfg(test)]
mod tests {
    use super::harness::{builtin_session, builtin_stateless, Harness};
    use super::*;

    fn code(outcome: Result<Value, ErrorObject>) -> i64 {
        outcome.expect_err("an error").code
    }

    #[test]
    fn arguments_are_an_object_and_absent_or_null_means_none() {
        let of = |params: Value| {
            let params = Params::from(params);
            let args = Arguments::of(params.get_raw(&["arguments"]));
            args.map(|a| Value::Object(a.map().clone()))
        };
        let params = json!({"name": "echo", "arguments": {"message": "hi"}});
        assert_eq!(of(params.clone()), Ok(params["arguments"].clone()));
        for params in [json!({"name": "echo"}), json!({"arguments": null})] {
            assert_eq!(of(params.clone()), Ok(json!({})), "{params}");
        }
        let bad = of(json!({"arguments": "x"})).unwrap_err();
        assert_eq!(bad.code, INVALID_PARAMS);
        for prompt in [
            json!({"name": "x", "arguments": 1}),
            json!({"arguments": {}}),
        ] {
            assert_eq!(code(get_prompt(&Params::from(prompt))), INVALID_PARAMS);
        }
        let mut h = builtin_session();
        let echo = json!({"name": "echo", "arguments": {"message": "hi"}});
        assert_eq!(
            h.call("tools/call", echo).unwrap()["content"][0]["text"],
            "hi"
        );
        let missing = h.call("tools/call", json!({"name": "echo"}));
        assert_eq!(code(missing), INVALID_PARAMS);
    }

    #[test]
    fn initialize_negotiates_the_revision_and_declares_capabilities() {
        let mut h = builtin_session();
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
        assert_eq!(got["protocolVersion"], crate::mcp::version::LATEST_LEGACY);
    }

    #[test]
    fn initialize_without_a_string_protocol_version_is_invalid_params() {
        let mut h = builtin_session();
        assert_eq!(code(h.call("initialize", json!({}))), -32602);
        assert_eq!(
            code(h.call("initialize", json!({"protocolVersion": 20250618}))),
            -32602
        );
    }

    #[test]
    fn ping_and_set_level_answer_empty_objects() {
        let mut h = builtin_session();
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
        let mut h = builtin_session();
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
        let mut h = builtin_session();
        let e = h.call("tools/frobnicate", json!({})).unwrap_err();
        assert_eq!(e.code, -32601);
        assert_eq!(e.message, "Method not found: tools/frobnicate");
    }

    #[test]
    fn unknown_tool_prompt_and_resource_have_their_codes() {
        let mut h = builtin_session();
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
        let mut h = builtin_session();
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
        let mut h = builtin_session();
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
        let mut h = builtin_session();
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
        let mut h = builtin_session();
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
        let mut h = builtin_session();
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
        let mut h = builtin_session();
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
    fn discover_at_2026_names_versions_capabilities_and_server() {
        let mut h = builtin_stateless();
        let got = h.call("server/discover", json!({})).unwrap();
        assert_eq!(
            got,
            json!({
                "supportedVersions": ["2026-07-28"],
                "capabilities": {"tools":{"listChanged":true},"prompts":{"listChanged":true},
                    "resources":{"listChanged":true,"subscribe":true},"completions":{},"logging":{}},
                "instructions": INSTRUCTIONS,
                "_meta": {"io.modelcontextprotocol/serverInfo":
                    {"name": "mcpd", "version": env!("CARGO_PKG_VERSION")}},
            })
        );
        assert!(h.handler().sessions.is_empty());
        h.declare(json!({}));
        assert_eq!(h.call("server/discover", json!({})), Ok(got));
    }

    #[test]
    fn discover_is_unknown_to_handshake_sessions() {
        let mut h = builtin_session();
        assert_eq!(code(h.call("server/discover", json!({}))), -32601);
        h.view = None;
        assert_eq!(code(h.call("server/discover", json!({}))), -32601);
    }

    #[test]
    fn resource_not_found_code_follows_the_era() {
        let uri = json!({"uri": "test://nonexistent-resource-for-conformance-testing"});
        for (mut h, want) in [(builtin_session(), -32002), (builtin_stateless(), -32602)] {
            let e = h.call("resources/read", uri.clone()).unwrap_err();
            assert_eq!(e.code, want);
            assert_eq!(e.data.as_ref(), Some(&uri));
        }
    }

    #[test]
    fn first_listed_tool_succeeds_without_arguments_in_both_eras() {
        for mut h in [builtin_session(), builtin_stateless()] {
            let tools = h.call("tools/list", json!({})).unwrap();
            let first = tools["tools"][0]["name"].as_str().unwrap().to_string();
            assert_eq!(first, "test_simple_text");
            let got = h.call_tool(&first, json!({})).unwrap();
            assert_ne!(got["isError"], true);
        }
    }

    #[test]
    fn tool_names_are_well_formed_unique_and_stable_in_both_eras() {
        for mut h in [builtin_session(), builtin_stateless()] {
            let list = h.call("tools/list", json!({})).unwrap();
            let names: Vec<&str> = list["tools"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["name"].as_str().unwrap())
                .collect();
            for name in &names {
                let ok = (1..=128).contains(&name.len())
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
                assert!(ok, "{name}");
            }
            assert_eq!(names.iter().collect::<BTreeSet<_>>().len(), names.len());
            assert_eq!(h.call("tools/list", json!({})).unwrap(), list);
        }
    }

    #[test]
    fn modern_lists_are_served_with_non_empty_descriptions() {
        let mut h = builtin_stateless();
        let tools = h.call("tools/list", json!({})).unwrap();
        let prompts = h.call("prompts/list", json!({})).unwrap();
        for item in tools["tools"]
            .as_array()
            .unwrap()
            .iter()
            .chain(prompts["prompts"].as_array().unwrap())
        {
            assert!(!item["description"].as_str().unwrap().is_empty(), "{item}");
        }
    }

    #[test]
    fn fixtures_of_2026_are_unknown_to_handshake_sessions() {
        let names = |mut h: Harness, list: &str, key: &str| -> BTreeSet<String> {
            let got = h.call(list, json!({})).unwrap();
            got[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["name"].as_str().unwrap().to_string())
                .collect()
        };
        let modern_only = |list, key| {
            let legacy = names(builtin_session(), list, key);
            let modern = names(builtin_stateless(), list, key);
            assert!(legacy.is_subset(&modern));
            modern.difference(&legacy).cloned().collect::<Vec<_>>()
        };
        let tools = modern_only("tools/list", "tools");
        assert_eq!(tools.len(), 14);
        let mut h = builtin_session();
        for name in &tools {
            let e = h.call_tool(name, json!({})).unwrap_err();
            assert_eq!(e.message, format!("Unknown tool: {name}"));
        }
        let prompts = modern_only("prompts/list", "prompts");
        assert_eq!(prompts, ["test_input_required_result_prompt"]);
        assert!(h.client_requests().is_empty());
    }
}
