//! The `echo` example (examples/echo.rs) as a library user runs it: its handler through the
//! public test harness (no sockets, fake time), and on mcpd's event loop over loopback, where a
//! client initializes and calls the tool.

mod common;

#[path = "../examples/echo.rs"]
#[allow(dead_code)] // The example's `main` is not called here; `serve` replaces it.
mod echo;

use common::http::{self, Response};
use echo::Echo;
use mcpd::config::Config;
use mcpd::testing::Harness;
use serde_json::{json, Value};
use std::net::TcpListener;
use std::time::Duration;

/// Longest wait for one answer over loopback.
const ANSWER_LIMIT: Duration = Duration::from_secs(10);

/// The `initialize` result the example gives at `version`.
fn initialized(version: &str) -> Value {
    json!({"protocolVersion": version, "capabilities": {"tools": {}},
        "serverInfo": {"name": "echo", "version": "1.0.0"}})
}

/// The `tools/call` result for a text.
fn text(text: &str, error: bool) -> Value {
    json!({"content": [{"type": "text", "text": text}], "isError": error})
}

#[test]
fn echo_handler_answers_through_the_harness() {
    let mut h = Harness::new(Echo);
    let init = json!({"protocolVersion": "2025-06-18", "capabilities": {}});
    assert_eq!(h.call("initialize", init), Ok(initialized("2025-06-18")));
    let unknown_version = json!({"protocolVersion": "1999-01-01", "capabilities": {}});
    assert_eq!(
        h.call("initialize", unknown_version),
        Ok(initialized("2025-11-25"))
    );
    assert_eq!(h.call("ping", json!({})), Ok(json!({})));
    let tools = h.call("tools/list", json!({})).unwrap();
    assert_eq!(tools["tools"][0]["name"], "echo");
    assert_eq!(
        h.call_tool("echo", json!({"message": "hi"})),
        Ok(text("hi", false))
    );
    assert_eq!(
        h.call_tool("echo", json!({"message": 7})),
        Ok(text("arguments.message must be a string", true))
    );
    assert_eq!(h.call_tool("nope", json!({})).unwrap_err().code, -32602);
    assert_eq!(
        h.call("resources/list", json!({})).unwrap_err().code,
        -32601
    );
    assert!(h.notifications("notifications/message").is_empty());
    assert_eq!(h.pending_timers(), 0);
}

/// One POST to `/mcp` with `body`, in session `session` when given.
fn post(port: u16, session: Option<&str>, body: &Value) -> Response {
    match session {
        Some(id) => post_with(port, &[("Mcp-Session-Id", id)], body),
        None => post_with(port, &[], body),
    }
}

/// One POST to `/mcp` with `body` and the `extra` headers.
fn post_with(port: u16, extra: &[(&str, &str)], body: &Value) -> Response {
    http::post(
        port,
        "/mcp",
        extra,
        body.to_string().as_bytes(),
        ANSWER_LIMIT,
    )
}

#[test]
fn echo_example_serves_sessions_and_stateless_calls_over_loopback() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let port = listener.local_addr().expect("local address").port();
    // The loop serves until the test process ends (it stops on SIGTERM or SIGINT only).
    std::thread::spawn(move || mcpd::event_loop::serve(listener, Config::default(), Echo));

    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "example-echo-test", "version": "1"}}});
    let reply = post(port, None, &init);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.json(),
        json!({"jsonrpc": "2.0", "id": 1, "result": initialized("2025-11-25")})
    );
    let session = reply.header("mcp-session-id").expect("Mcp-Session-Id");

    let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    assert_eq!(post(port, Some(session), &note).status, 202);

    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "echo", "arguments": {"message": "hello over loopback"}}});
    let reply = post(port, Some(session), &call);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.json(),
        json!({"jsonrpc": "2.0", "id": 2, "result": text("hello over loopback", false)})
    );

    // The stateless era (2026-07-28) needs nothing more from the handler.
    let stateless = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
        "name": "echo", "arguments": {"message": "no session"}, "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {}}}});
    let headers = [
        ("MCP-Protocol-Version", "2026-07-28"),
        ("Mcp-Method", "tools/call"),
        ("Mcp-Name", "echo"),
    ];
    let reply = post_with(port, &headers, &stateless);
    assert_eq!(reply.status, 200, "{}", reply.text());
    let mut result = text("no session", false);
    result["resultType"] = json!("complete");
    assert_eq!(
        reply.json(),
        json!({"jsonrpc": "2.0", "id": 3, "result": result})
    );
}
