//! Every client era on one endpoint: the stateless 2026-07-28 path and the 2024-11-05 HTTP+SSE
//! transport, status code by status code, over loopback against the real binary.

mod common;

use common::http::{
    connect, get, open_progress_call, open_stateless, parse, post, read_more, request, Response,
};
use common::{eventually, spawn_mcpd};
use serde_json::{json, Value};
use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(3);

fn meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "eras-test", "version": "1"}
    })
}

/// A POST of `body` to an HTTP+SSE (2024-11-05) message `endpoint`; its answer goes to the
/// session's stream, so this reply is only the 202 (or the refusal).
fn post_message(port: u16, endpoint: &str, body: &[u8]) -> Response {
    let json = [("Content-Type", "application/json")];
    request(port, "POST", endpoint, &json, body, WAIT)
}

/// A stateless POST with the standard headers plus `extra`.
fn stateless(port: u16, method: &str, mut params: Value, extra: &[(&str, &str)]) -> Response {
    if params.get("_meta").is_none() {
        params["_meta"] = meta();
    }
    let body = json!({"jsonrpc": "2.0", "id": 41, "method": method, "params": params});
    common::http::stateless(port, &body, extra, WAIT)
}

#[test]
fn stateless_rejections_have_their_status_code_and_the_request_id() {
    let server = spawn_mcpd(&[]);
    let port = server.port;
    let v999 = json!({"io.modelcontextprotocol/protocolVersion": "v999.0.0", "io.modelcontextprotocol/clientCapabilities": {}});
    type Case<'a> = (&'a str, Value, Vec<(&'a str, &'a str)>, u16, i64);
    let cases: Vec<Case> = vec![
        ("no _meta", json!({"_meta": {}}), vec![], 400, -32602),
        (
            "header differs from _meta",
            json!({"_meta": v999.clone()}),
            vec![],
            400,
            -32020,
        ),
        (
            "method header differs",
            json!({"_meta": meta()}),
            vec![("Mcp-Method", "prompts/list")],
            400,
            -32020,
        ),
    ];
    for (what, params, extra, status, code) in cases {
        // `extra` replaces the default Mcp-Method when it names one.
        let body = json!({"jsonrpc": "2.0", "id": 41, "method": "tools/list", "params": params});
        let mut headers = vec![("MCP-Protocol-Version", "2026-07-28")];
        if extra.is_empty() {
            headers.push(("Mcp-Method", "tools/list"));
        }
        headers.extend(extra);
        let r = post(port, "/mcp", &headers, body.to_string().as_bytes(), WAIT);
        assert_eq!(r.status, status, "{what}: {}", r.text());
        assert_eq!(r.json()["error"]["code"], code, "{what}");
        assert_eq!(r.json()["id"], 41, "{what}: the id is echoed");
    }
    let body =
        json!({"jsonrpc": "2.0", "id": 42, "method": "server/discover", "params": {"_meta": v999}});
    let headers = [
        ("MCP-Protocol-Version", "v999.0.0"),
        ("Mcp-Method", "server/discover"),
    ];
    let r = post(port, "/mcp", &headers, body.to_string().as_bytes(), WAIT);
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["code"], -32022);
    assert_eq!(
        r.json()["error"]["data"],
        json!({"supported": ["2026-07-28"], "requested": "v999.0.0"})
    );
    let r = stateless(
        port,
        "tools/call",
        json!({"name": "test_simple_text", "arguments": {}}),
        &[("Mcp-Name", "other")],
    );
    assert_eq!(
        (r.status, r.json()["error"]["code"].clone()),
        (400, json!(-32020)),
        "{}",
        r.text()
    );
}

#[test]
fn removed_and_unknown_methods_are_404_method_not_found() {
    let server = spawn_mcpd(&[]);
    for method in [
        "initialize",
        "ping",
        "logging/setLevel",
        "resources/subscribe",
        "resources/unsubscribe",
        "no/such",
    ] {
        let r = stateless(server.port, method, json!({}), &[]);
        assert_eq!(r.status, 404, "{method}: {}", r.text());
        assert_eq!(r.json()["error"]["code"], -32601, "{method}");
        assert_eq!(r.json()["id"], 41);
    }
}

#[test]
fn get_and_delete_are_405_in_the_stateless_revision() {
    let server = spawn_mcpd(&[]);
    for method in ["GET", "DELETE"] {
        let headers = [
            ("Accept", "text/event-stream"),
            ("MCP-Protocol-Version", "2026-07-28"),
        ];
        let r = request(server.port, method, "/mcp", &headers, b"", WAIT);
        assert_eq!(r.status, 405, "{method}");
        assert_eq!(r.header("allow"), Some("POST"));
    }
}

#[test]
fn stateless_results_carry_result_type_and_cache_hints() {
    let server = spawn_mcpd(&[]);
    let r = stateless(server.port, "tools/list", json!({}), &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    let result = &r.json()["result"];
    assert_eq!(result["resultType"], "complete");
    assert_eq!(result["ttlMs"], 0);
    assert_eq!(result["cacheScope"], "private");
    assert!(
        r.header("mcp-session-id").is_none(),
        "no session on the stateless path"
    );
    let health = get(server.port, "/health", WAIT).json();
    assert_eq!(
        health["active_sessions"], 0,
        "stateless requests leave no session behind"
    );
}

#[test]
fn stateless_progress_streams_without_priming_or_resumption() {
    let server = spawn_mcpd(&[]);
    let params = json!({"name": "test_tool_with_progress", "arguments": {}, "_meta": {
        "progressToken": "p-1",
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {}
    }});
    let r = stateless(
        server.port,
        "tools/call",
        params,
        &[("Mcp-Name", "test_tool_with_progress")],
    );
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    assert!(
        !r.text().contains("retry:"),
        "no priming event at 2026: {}",
        r.text()
    );
    let messages = r.messages();
    let progress: Vec<Value> = messages
        .iter()
        .filter(|m| m["method"] == "notifications/progress")
        .map(|m| m["params"]["progress"].clone())
        .collect();
    assert_eq!(progress, vec![json!(0), json!(50), json!(100)]);
    assert_eq!(messages.last().unwrap()["result"]["resultType"], "complete");
}

#[test]
fn closing_a_stateless_stream_cancels_the_request_and_frees_everything() {
    let server = spawn_mcpd(&[]);
    let (stream, _) = open_progress_call(server.port, 9);
    drop(stream);
    eventually("the closed stream released", WAIT, || {
        let health = get(server.port, "/health", WAIT).json();
        if health["streams"] == 0 && health["connections"] == 1 {
            Ok(())
        } else {
            Err(health.to_string())
        }
    });
}

/// An open HTTP+SSE stream: the connection and what has been read so far.
struct SseStream {
    stream: TcpStream,
    seen: Vec<u8>,
}

impl SseStream {
    fn open(port: u16) -> SseStream {
        let mut stream = connect(port);
        let request = format!(
            "GET /sse HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).unwrap();
        SseStream {
            stream,
            seen: Vec::new(),
        }
    }

    /// Reads until `needle` has appeared (bounded).
    fn wait_for(&mut self, needle: &str) -> String {
        let (_, found) = read_more(&mut self.stream, &mut self.seen, WAIT, |seen| {
            String::from_utf8_lossy(seen).contains(needle)
        });
        assert!(
            found,
            "{needle:?} never came: {}",
            String::from_utf8_lossy(&self.seen)
        );
        String::from_utf8_lossy(&self.seen).into_owned()
    }

    fn endpoint(&mut self) -> String {
        let text = self.wait_for("\n\n");
        let response = parse(text.as_bytes()).unwrap();
        assert_eq!(response.status, 200);
        let body = response.text();
        assert!(
            body.starts_with("event: endpoint\n"),
            "endpoint must be the first event: {body:?}"
        );
        body.lines()
            .find_map(|l| l.strip_prefix("data: "))
            .unwrap()
            .to_string()
    }
}

#[test]
fn http_sse_announces_the_endpoint_then_answers_as_message_events() {
    let server = spawn_mcpd(&[]);
    let mut sse = SseStream::open(server.port);
    let endpoint = sse.endpoint();
    assert!(endpoint.starts_with("/messages?sessionId="), "{endpoint}");
    let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"t","version":"1"}}});
    let r = post_message(server.port, &endpoint, init.to_string().as_bytes());
    assert_eq!(r.status, 202);
    assert!(r.body.is_empty());
    let text = sse.wait_for("\"protocolVersion\":\"2024-11-05\"");
    assert!(text.contains("event: message\n"), "{text}");
    let call = json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"message":"ping-pong"}}});
    assert_eq!(
        post_message(server.port, &endpoint, call.to_string().as_bytes()).status,
        202
    );
    sse.wait_for("ping-pong");
    let health = get(server.port, "/health", WAIT).json();
    assert_eq!(health["active_sessions"], 1);
}

#[test]
fn http_sse_session_ends_with_its_stream() {
    let server = spawn_mcpd(&[]);
    let mut sse = SseStream::open(server.port);
    let endpoint = sse.endpoint();
    drop(sse);
    let ping = json!({"jsonrpc":"2.0","id":3,"method":"ping"}).to_string();
    eventually("the session to end with its stream", WAIT, || {
        let r = post_message(server.port, &endpoint, ping.as_bytes());
        match r.status {
            404 => Ok(()),
            status => Err(status.to_string()),
        }
    });
}

#[test]
fn http_sse_posts_need_a_known_session_and_json() {
    let server = spawn_mcpd(&[]);
    let ping = json!({"jsonrpc":"2.0","id":3,"method":"ping"}).to_string();
    assert_eq!(
        post_message(server.port, "/messages", ping.as_bytes()).status,
        400
    );
    assert_eq!(
        post_message(server.port, "/messages?sessionId=nope", ping.as_bytes()).status,
        404
    );
    let mut sse = SseStream::open(server.port);
    let endpoint = sse.endpoint();
    assert_eq!(
        request(
            server.port,
            "POST",
            &endpoint,
            &[("Content-Type", "text/plain")],
            ping.as_bytes(),
            WAIT
        )
        .status,
        415
    );
    let r = post_message(server.port, &endpoint, b"{oops");
    assert_eq!(
        (r.status, r.json()["error"]["code"].clone()),
        (400, json!(-32700))
    );
    assert_eq!(get(server.port, "/messages", WAIT).status, 405);
}

#[test]
fn all_eras_share_one_server_at_once() {
    let server = spawn_mcpd(&[]);
    let mut sse = SseStream::open(server.port);
    let endpoint = sse.endpoint();
    let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{}}});
    let r = post(server.port, "/mcp", &[], init.to_string().as_bytes(), WAIT);
    let session = r
        .header("mcp-session-id")
        .expect("legacy session id")
        .to_string();
    let call = json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"message":"streamable"}}});
    let headers = [
        ("Mcp-Session-Id", session.as_str()),
        ("MCP-Protocol-Version", "2025-11-25"),
    ];
    let r = post(
        server.port,
        "/mcp",
        &headers,
        call.to_string().as_bytes(),
        WAIT,
    );
    assert_eq!(r.json()["result"]["content"][0]["text"], "streamable");
    let r = stateless(
        server.port,
        "tools/call",
        json!({"name": "echo", "arguments": {"message": "stateless"}}),
        &[("Mcp-Name", "echo")],
    );
    assert_eq!(
        r.json()["result"]["content"][0]["text"],
        "stateless",
        "{}",
        r.text()
    );
    let legacy = json!({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"message":"sse-era"}}});
    assert_eq!(
        post_message(server.port, &endpoint, legacy.to_string().as_bytes()).status,
        202
    );
    sse.wait_for("sse-era");
    let health = get(server.port, "/health", WAIT).json();
    assert_eq!(health["active_sessions"], 2, "{health}");
}

#[test]
fn listen_acknowledges_then_carries_only_the_notifications_it_asked_for() {
    let server = spawn_mcpd(&[]);
    let open = |filter: Value| {
        let listen = json!({"jsonrpc": "2.0", "id": 77, "method": "subscriptions/listen",
                          "params": {"notifications": filter, "_meta": meta()}});
        let (stream, seen) = open_stateless(server.port, &listen, &[]);
        SseStream { stream, seen }
    };
    let mut tools = open(json!({"toolsListChanged": true}));
    let mut prompts = open(json!({"promptsListChanged": true}));
    let ack = tools.wait_for("notifications/subscriptions/acknowledged");
    assert!(ack.contains("\"toolsListChanged\":true"), "{ack}");
    assert!(
        ack.contains("\"io.modelcontextprotocol/subscriptionId\":77"),
        "{ack}"
    );
    prompts.wait_for("notifications/subscriptions/acknowledged");
    let r = stateless(
        server.port,
        "tools/call",
        json!({"name": "test_trigger_tool_change", "arguments": {}}),
        &[("Mcp-Name", "test_trigger_tool_change")],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let got = tools.wait_for("notifications/tools/list_changed");
    let line = got
        .lines()
        .find(|l| l.contains("tools/list_changed"))
        .unwrap();
    assert!(line.contains("subscriptionId\":77"), "tagged: {line}");
    // Order proves the absence: a prompt change triggered after the tool change reaches the
    // prompts stream, so a tools/list_changed sent to it would have come first.
    let r = stateless(
        server.port,
        "tools/call",
        json!({"name": "test_trigger_prompt_change", "arguments": {}}),
        &[("Mcp-Name", "test_trigger_prompt_change")],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    prompts.wait_for("notifications/prompts/list_changed");
    let text = String::from_utf8_lossy(&prompts.seen);
    assert!(
        !text.contains("tools/list_changed"),
        "filter not honoured: {text}"
    );
    let health = get(server.port, "/health", WAIT).json();
    assert_eq!(
        health["streams"], 2,
        "both listen streams stay open: {health}"
    );
}

/// Issue 11, failure 4: an HTTP+SSE session carries the capabilities its `initialize` declares
/// (the session exists from the GET; the declaration comes later), so a client that declares
/// sampling gets a `sampling/createMessage` request, built-in and through both bridge modes.
#[test]
fn http_sse_session_carries_the_capabilities_of_its_initialize() {
    let bin = common::mcpd_bin();
    let setups: [(&str, Vec<&str>); 3] = [
        ("built-in", vec![]),
        ("bridge", vec!["--", bin, "--stdio"]),
        ("shared bridge", vec!["--shared", "--", bin, "--stdio"]),
    ];
    for (label, args) in setups {
        let server = spawn_mcpd(&args);
        let mut sse = SseStream::open(server.port);
        let endpoint = sse.endpoint();
        let post = |message: Value| {
            let r = post_message(server.port, &endpoint, message.to_string().as_bytes());
            assert_eq!(r.status, 202, "{label}: {}", r.text());
        };
        post(
            json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
            "protocolVersion":"2024-11-05","capabilities":{"sampling":{}},
            "clientInfo":{"name":"t","version":"1"}}}),
        );
        sse.wait_for("\"protocolVersion\":\"2024-11-05\"");
        post(json!({"jsonrpc":"2.0","method":"notifications/initialized"}));
        post(json!({"jsonrpc":"2.0","id":2,"method":"tools/call",
            "params":{"name":"test_sampling","arguments":{"prompt":"over sse"}}}));
        let text = sse.wait_for("sampling/createMessage");
        assert!(!text.contains("did not declare"), "{label}: {text}");
        let asked = text
            .split("data: ")
            .filter_map(|d| serde_json::from_str::<Value>(d.lines().next()?).ok())
            .find(|m| m["method"] == "sampling/createMessage")
            .unwrap_or_else(|| panic!("{label}: no sampling request in {text}"));
        assert_eq!(
            asked["params"]["messages"][0]["content"]["text"], "over sse",
            "{label}"
        );
        post(json!({"jsonrpc":"2.0","id":asked["id"].clone(),"result":{
            "role":"assistant","content":{"type":"text","text":"sampled"},"model":"m"}}));
        sse.wait_for("sampled\"");
    }
}

/// `--eras` sets exactly what is offered and accepted: without 2026-07-28 a 2026 request gets
/// -32022 listing the offered revisions (clients fall back to `initialize`), `initialize`
/// negotiates within the list, other headers and the HTTP+SSE transport are refused.
#[test]
fn eras_restrict_every_transport() {
    let server = spawn_mcpd(&["--eras", "2025-11-25,2025-06-18"]);
    let r = stateless(server.port, "tools/list", json!({}), &[]);
    assert_eq!(r.status, 400, "{}", r.text());
    let body = r.json();
    assert_eq!(body["error"]["code"], -32022);
    assert_eq!(body["id"], 41);
    assert_eq!(
        body["error"]["data"],
        json!({"supported": ["2025-06-18", "2025-11-25"], "requested": "2026-07-28"})
    );
    let init = |version: &str| {
        let body = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
            "protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
        post(server.port, "/mcp", &[], body.to_string().as_bytes(), WAIT)
    };
    let answered = |r: Response| {
        let text = r.text();
        let data = text
            .lines()
            .find_map(|l| l.strip_prefix("data: "))
            .unwrap_or(&text)
            .to_string();
        serde_json::from_str::<Value>(&data).unwrap()["result"]["protocolVersion"].clone()
    };
    assert_eq!(answered(init("2025-06-18")), "2025-06-18");
    assert_eq!(answered(init("2024-11-05")), "2025-11-25", "not offered");
    let ping = json!({"jsonrpc":"2.0","id":2,"method":"ping"}).to_string();
    let old = post(
        server.port,
        "/mcp",
        &[("MCP-Protocol-Version", "2025-03-26")],
        ping.as_bytes(),
        WAIT,
    );
    assert_eq!(old.status, 400, "{}", old.text());
    let sse = request(
        server.port,
        "GET",
        "/sse",
        &[("Accept", "text/event-stream")],
        b"",
        WAIT,
    );
    assert_eq!(sse.status, 404);
    let modern_only = spawn_mcpd(&["--eras", "2026-07-28"]);
    let body = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
        "protocolVersion": "2025-11-25", "capabilities": {}}});
    let r = post(
        modern_only.port,
        "/mcp",
        &[],
        body.to_string().as_bytes(),
        WAIT,
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["error"]["data"]["supported"],
        json!(["2026-07-28"])
    );
    let ok = stateless(modern_only.port, "tools/list", json!({}), &[]);
    assert_eq!(ok.status, 200, "{}", ok.text());
}
