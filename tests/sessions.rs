//! Sessions of the Streamable HTTP transport against the real binary over loopback: every status
//! code and routing rule, expiry, caps, resumption, heartbeats, the DNS-rebinding guard, CORS,
//! compatibility routes, `/health` and the response modes.

mod common;

use common::http::{connect, parse_all as parse, read_more, Response};
use common::{eventually, spawn_mcpd, Mcpd, WAIT};
use serde_json::{json, Value};
use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

const BOTH: &str = "application/json, text/event-stream";

/// A client connection that keeps everything it read.
struct Client {
    stream: TcpStream,
    got: Vec<u8>,
    closed: bool,
}

impl Client {
    fn new(server: &Mcpd) -> Client {
        Client {
            stream: connect(server.port),
            got: Vec::new(),
            closed: false,
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// Reads until `done` holds for what came so far, the peer closes, or `max` passes.
    fn read_until(&mut self, max: Duration, done: impl Fn(&[Response]) -> bool) -> Vec<Response> {
        if !self.closed {
            let (closed, _) = read_more(&mut self.stream, &mut self.got, max, |got| {
                done(&parse(got))
            });
            self.closed = closed;
        }
        parse(&self.got)
    }

    /// The `n`th response once its head is in (and its body, unless it is a stream).
    fn response(&mut self, n: usize) -> Response {
        let all = self.read_until(Duration::from_secs(5), |r| {
            r.len() > n
                && (r[n].complete || r[n].header("content-type") == Some("text/event-stream"))
        });
        all.into_iter()
            .nth(n)
            .unwrap_or_else(|| panic!("no response #{n}: {:?}", String::from_utf8_lossy(&self.got)))
    }

    /// The `n`th response once complete.
    fn complete(&mut self, n: usize) -> Response {
        let all = self.read_until(Duration::from_secs(5), |r| r.len() > n && r[n].complete);
        all.into_iter()
            .nth(n)
            .filter(|r| r.complete)
            .unwrap_or_else(|| {
                panic!(
                    "response #{n} incomplete: {:?}",
                    String::from_utf8_lossy(&self.got)
                )
            })
    }
}

fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut text = format!("{method} {path} HTTP/1.1\r\n");
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        text.push_str("Host: 127.0.0.1\r\n");
    }
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        text.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    text.push_str("\r\n");
    text.push_str(body);
    text.into_bytes()
}

/// A POST of `body` on the MCP endpoint, with the usual headers plus `extra`.
fn post(session: Option<&str>, extra: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut headers = vec![("Accept", BOTH), ("Content-Type", "application/json")];
    if let Some(id) = session {
        headers.push(("Mcp-Session-Id", id));
    }
    headers.extend_from_slice(extra);
    request("POST", "/mcp", &headers, body)
}

fn get_stream(session: &str, last_event: Option<&str>) -> Vec<u8> {
    let mut headers = vec![("Accept", "text/event-stream"), ("Mcp-Session-Id", session)];
    if let Some(last) = last_event {
        headers.push(("Last-Event-ID", last));
    }
    request("GET", "/mcp", &headers, "")
}

/// One request on a fresh connection; its complete answer (or head, for a stream).
fn once(server: &Mcpd, bytes: &[u8]) -> Response {
    let mut client = Client::new(server);
    client.send(bytes);
    client.response(0)
}

fn call(id: u64, method: &str, params: Value) -> String {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string()
}

fn initialize_body(version: &str) -> String {
    call(
        1,
        "initialize",
        json!({"protocolVersion": version, "capabilities": {},
               "clientInfo": {"name": "sessions-test", "version": "1"}}),
    )
}

/// A new initialized session on `version`; its id.
fn session(server: &Mcpd, version: &str) -> String {
    let reply = once(server, &post(None, &[], &initialize_body(version)));
    assert_eq!(reply.status, 200, "{}", reply.text());
    let id = reply
        .header("mcp-session-id")
        .expect("Mcp-Session-Id")
        .to_string();
    let note = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    assert_eq!(once(server, &post(Some(&id), &[], note)).status, 202);
    id
}

fn ping(id: u64) -> String {
    call(id, "ping", json!({}))
}

fn health(server: &Mcpd) -> Value {
    once(server, &request("GET", "/health", &[], "")).json()
}

#[test]
fn status_codes_and_routing_end_to_end() {
    let server = spawn_mcpd(&[]);
    let id = session(&server, "2025-06-18");
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("ping", post(Some(&id), &[], &ping(2)), 200),
        ("no session", post(None, &[], &ping(2)), 400),
        ("unknown session", post(Some("nope"), &[], &ping(2)), 404),
        (
            "json-only Accept",
            request(
                "POST",
                "/mcp",
                &[
                    ("Accept", "application/json"),
                    ("Content-Type", "application/json"),
                    ("Mcp-Session-Id", &id),
                ],
                &ping(2),
            ),
            406,
        ),
        (
            "reversed Accept",
            request(
                "POST",
                "/mcp",
                &[
                    ("Accept", "text/event-stream, application/json"),
                    ("Content-Type", "application/json"),
                    ("Mcp-Session-Id", &id),
                ],
                &ping(2),
            ),
            200,
        ),
        (
            "*/* Accept",
            request(
                "POST",
                "/mcp",
                &[
                    ("Accept", "*/*"),
                    ("Content-Type", "application/json"),
                    ("Mcp-Session-Id", &id),
                ],
                &ping(2),
            ),
            200,
        ),
        (
            "no Accept",
            request(
                "POST",
                "/mcp",
                &[
                    ("Content-Type", "application/json"),
                    ("Mcp-Session-Id", &id),
                ],
                &ping(2),
            ),
            200,
        ),
        (
            "text Content-Type",
            request(
                "POST",
                "/mcp",
                &[
                    ("Accept", BOTH),
                    ("Content-Type", "text/plain"),
                    ("Mcp-Session-Id", &id),
                ],
                &ping(2),
            ),
            415,
        ),
        ("unparseable", post(Some(&id), &[], "{"), 400),
        (
            "notification",
            post(
                Some(&id),
                &[],
                r#"{"jsonrpc":"2.0","method":"notifications/x"}"#,
            ),
            202,
        ),
        (
            "response",
            post(Some(&id), &[], r#"{"jsonrpc":"2.0","id":9,"result":{}}"#),
            202,
        ),
        (
            "batch on 2025-06-18",
            post(Some(&id), &[], &format!("[{}]", ping(2))),
            400,
        ),
        (
            "bad protocol version",
            post(
                Some(&id),
                &[("MCP-Protocol-Version", "2099-01-01")],
                &ping(2),
            ),
            400,
        ),
        (
            "2025-03-26 header",
            post(
                Some(&id),
                &[("MCP-Protocol-Version", "2025-03-26")],
                &ping(2),
            ),
            200,
        ),
        (
            "GET without session",
            request("GET", "/mcp", &[("Accept", "text/event-stream")], ""),
            400,
        ),
        (
            "GET json Accept",
            request(
                "GET",
                "/mcp",
                &[("Accept", "application/json"), ("Mcp-Session-Id", &id)],
                "",
            ),
            406,
        ),
        (
            "GET foreign Last-Event-ID",
            get_stream(&id, Some("77-1")),
            400,
        ),
        ("PUT", request("PUT", "/mcp", &[], ""), 405),
        (
            "unknown subpath",
            request("GET", "/mcp/elsewhere", &[], ""),
            404,
        ),
    ];
    for (name, bytes, status) in cases {
        let reply = once(&server, &bytes);
        assert_eq!(reply.status, status, "{name}: {}", reply.text());
        if status == 202 {
            assert!(reply.body.is_empty(), "{name}: 202 has no body");
        }
    }
    let parse_error = once(&server, &post(Some(&id), &[], "{"));
    let body = parse_error.json();
    assert_eq!(body["error"]["code"], -32700);
    assert!(body.get("id").is_none(), "{body}");

    let delete = request("DELETE", "/mcp", &[("Mcp-Session-Id", &id)], "");
    assert_eq!(once(&server, &delete).status, 200);
    assert_eq!(once(&server, &delete).status, 404);
    assert_eq!(once(&server, &post(Some(&id), &[], &ping(3))).status, 404);
}

#[test]
fn batches_are_answered_on_2025_03_26() {
    let server = spawn_mcpd(&[]);
    let id = session(&server, "2025-03-26");
    let batch = format!(
        "[{},{},{}]",
        ping(2),
        call(3, "initialize", json!({"protocolVersion": "2025-03-26"})),
        call(4, "tools/list", json!({}))
    );
    let reply = once(&server, &post(Some(&id), &[], &batch));
    assert_eq!(reply.status, 200);
    let answers = reply.json();
    let answers = answers.as_array().expect("an array");
    assert_eq!(answers.len(), 3);
    let of = |n: u64| answers.iter().find(|a| a["id"] == n).unwrap();
    assert_eq!(of(2)["result"], json!({}));
    assert_eq!(of(3)["error"]["code"], -32600);
    assert!(of(4)["result"]["tools"].is_array());
}

/// The expiry rule (idle time, activity restarting the clock, open streams and requests in
/// flight holding a session) is proven with fake time in `src/mcp/transport/tests.rs`; this
/// proves `--session-timeout` reaches it. The default is far beyond the wait, so the session
/// going away at all shows the flag at work.
#[test]
fn session_timeout_flag_expires_an_idle_session() {
    let server = spawn_mcpd(&["--session-timeout", "0.5"]);
    let id = session(&server, "2025-06-18");
    eventually("the idle session to expire", WAIT, || {
        let health = health(&server);
        match health["active_sessions"].as_u64() {
            Some(0) => Ok(()),
            _ => Err(health.to_string()),
        }
    });
    assert_eq!(once(&server, &post(Some(&id), &[], &ping(3))).status, 404);
}

#[test]
fn session_cap_answers_503_with_retry_after() {
    let server = spawn_mcpd(&["--max-sessions", "2"]);
    let first = session(&server, "2025-06-18");
    session(&server, "2025-06-18");
    let reply = once(&server, &post(None, &[], &initialize_body("2025-06-18")));
    assert_eq!(reply.status, 503);
    assert!(reply
        .header("retry-after")
        .is_some_and(|v| v.parse::<u64>().is_ok()));
    assert_eq!(reply.json()["error"]["code"], -32000);
    assert!(
        reply.error_message().contains("--max-sessions"),
        "{}",
        reply.text()
    );
    assert!(reply.error_message().contains('2'), "{}", reply.text());
    let delete = request("DELETE", "/mcp", &[("Mcp-Session-Id", &first)], "");
    assert_eq!(once(&server, &delete).status, 200);
    assert_eq!(
        once(&server, &post(None, &[], &initialize_body("2025-06-18"))).status,
        200
    );
}

#[test]
fn reconnection_answer_arrives_on_the_get_resumed_after_last_event_id() {
    let server = spawn_mcpd(&[]);
    let id = session(&server, "2025-11-25");
    let mut client = Client::new(&server);
    let body = call(
        2,
        "tools/call",
        json!({"name": "test_reconnection", "arguments": {}}),
    );
    client.send(&post(
        Some(&id),
        &[("MCP-Protocol-Version", "2025-11-25")],
        &body,
    ));
    let first = client.complete(0);
    assert_eq!(first.header("content-type"), Some("text/event-stream"));
    let events = first.events();
    assert_eq!(events.len(), 1, "only the priming event: {}", first.text());
    assert!(events[0].data.is_empty());
    assert!(events[0].retry.is_some());
    let last = events[0].id.clone().expect("priming id");
    // Whether the answer is ready before the GET (replayed) or after (sent on the resumed
    // stream), it arrives there; both orders are proven with fake time in
    // src/mcp/transport/tests.rs.
    let mut resume = Client::new(&server);
    resume.send(&get_stream(&id, Some(&last)));
    let replay = resume.complete(0);
    assert_eq!(replay.status, 200);
    let messages = replay.messages();
    assert_eq!(messages.len(), 1, "{}", replay.text());
    assert_eq!(messages[0]["id"], 2);
    assert_eq!(
        messages[0]["result"]["content"][0]["text"],
        "Reconnection test completed"
    );
}

#[test]
fn second_standalone_get_is_409() {
    let server = spawn_mcpd(&[]);
    let id = session(&server, "2025-06-18");
    let mut first = Client::new(&server);
    first.send(&get_stream(&id, None));
    assert_eq!(first.response(0).status, 200);
    let second = once(&server, &get_stream(&id, None));
    assert_eq!(second.status, 409);
    drop(first);
    // The stream is free again once the server has seen its connection go.
    eventually(
        "a standalone GET after the first one's close",
        WAIT,
        || match once(&server, &get_stream(&id, None)).status {
            200 => Ok(()),
            status => Err(status.to_string()),
        },
    );
}

/// The heartbeat rule (one comment per interval, none without a stream) is proven with fake time
/// in `src/server/tests.rs`; this proves `--heartbeat` reaches it: with the flag a heartbeat
/// arrives on an open stream (the default, 15 s, is far beyond the wait).
#[test]
fn heartbeat_flag_reaches_open_streams() {
    let server = spawn_mcpd(&["--heartbeat", "0.2"]);
    let id = session(&server, "2025-06-18");
    let mut client = Client::new(&server);
    client.send(&get_stream(&id, None));
    let all = client.read_until(Duration::from_secs(5), |r| {
        r.first().is_some_and(|r| r.text().contains(":\n\n"))
    });
    let stream = &all[0];
    assert_eq!(stream.header("content-type"), Some("text/event-stream"));
    assert!(stream.text().contains(":\n\n"), "{:?}", stream.text());
    assert!(!client.closed);
}

#[test]
fn dns_rebinding_guard_checks_host_and_origin() {
    let server = spawn_mcpd(&[]);
    let init = initialize_body("2025-06-18");
    let reply = once(&server, &post(None, &[("Host", "evil.example.com")], &init));
    assert_eq!(reply.status, 403);
    assert!(
        reply.error_message().contains("--allow-host"),
        "{}",
        reply.text()
    );
    let reply = once(
        &server,
        &post(None, &[("Origin", "http://evil.example.com")], &init),
    );
    assert_eq!(reply.status, 403);
    assert!(
        reply.error_message().contains("--allow-origin"),
        "{}",
        reply.text()
    );
    let port = server.port.to_string();
    for host in [
        "localhost".to_string(),
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
    ] {
        let reply = once(&server, &post(None, &[("Host", &host)], &init));
        assert_eq!(reply.status, 200, "Host {host}: {}", reply.text());
    }
    for origin in [
        "http://localhost:3000",
        "http://127.0.0.1",
        "http://[::1]:9",
    ] {
        let reply = once(&server, &post(None, &[("Origin", origin)], &init));
        assert_eq!(reply.status, 200, "Origin {origin}: {}", reply.text());
    }
    drop(server);

    let server = spawn_mcpd(&[
        "--allow-host",
        "evil.example.com",
        "--allow-origin",
        "http://evil.example.com",
    ]);
    let reply = once(
        &server,
        &post(
            None,
            &[
                ("Host", "evil.example.com:8080"),
                ("Origin", "http://evil.example.com"),
            ],
            &init,
        ),
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    let reply = once(
        &server,
        &post(None, &[("Origin", "http://other.example.com")], &init),
    );
    assert_eq!(reply.status, 403);
}

#[test]
fn cors_preflight_and_exposed_session_header() {
    let server = spawn_mcpd(&["--cors-origin", "http://app.example"]);
    let preflight = request(
        "OPTIONS",
        "/mcp",
        &[
            ("Origin", "http://app.example"),
            ("Access-Control-Request-Method", "POST"),
            (
                "Access-Control-Request-Headers",
                "content-type, mcp-session-id",
            ),
        ],
        "",
    );
    let reply = once(&server, &preflight);
    assert_eq!(reply.status, 204);
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some("http://app.example")
    );
    let methods = reply
        .header("access-control-allow-methods")
        .unwrap_or_default();
    for method in ["GET", "POST", "DELETE"] {
        assert!(methods.contains(method), "{methods}");
    }
    let allowed = reply
        .header("access-control-allow-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    for name in [
        "mcp-session-id",
        "mcp-protocol-version",
        "last-event-id",
        "authorization",
        "content-type",
    ] {
        assert!(allowed.contains(name), "{name} in {allowed}");
    }
    let init = post(
        None,
        &[("Origin", "http://app.example")],
        &initialize_body("2025-06-18"),
    );
    let reply = once(&server, &init);
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some("http://app.example")
    );
    assert!(reply
        .header("access-control-expose-headers")
        .is_some_and(|v| v.to_ascii_lowercase().contains("mcp-session-id")));
    let other = request("OPTIONS", "/mcp", &[("Origin", "http://other.example")], "");
    assert_eq!(once(&server, &other).status, 403);
    drop(server);

    let server = spawn_mcpd(&[]);
    let reply = once(&server, &preflight);
    assert_eq!(reply.status, 403, "CORS is off without --cors-origin");
    assert!(reply.error_message().contains("--cors-origin"));
}

#[test]
fn compatibility_routes_reach_the_session() {
    let server = spawn_mcpd(&[]);
    let id = session(&server, "2025-06-18");
    let mut stream = Client::new(&server);
    stream.send(&request(
        "GET",
        &format!("/mcp/sse/{id}"),
        &[("Accept", "text/event-stream")],
        "",
    ));
    let head = stream.response(0);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-type"), Some("text/event-stream"));
    assert_eq!(
        once(
            &server,
            &request(
                "GET",
                "/mcp/sse/unknown",
                &[("Accept", "text/event-stream")],
                ""
            )
        )
        .status,
        404
    );
    let delete = request("DELETE", &format!("/mcp/sessions/{id}"), &[], "");
    assert_eq!(once(&server, &delete).status, 200);
    // Deleting the session ends its stream.
    stream.read_until(Duration::from_secs(3), |_| false);
    assert!(stream.closed, "the stream of a deleted session closes");
    assert_eq!(once(&server, &delete).status, 404);
}

#[test]
fn health_counts_sessions_and_streams() {
    let server = spawn_mcpd(&[]);
    let before = health(&server);
    assert_eq!(before["active_sessions"], 0);
    assert_eq!(before["total_sessions"], 0);
    assert_eq!(before["streams"], 0);
    let a = session(&server, "2025-06-18");
    let b = session(&server, "2025-06-18");
    let mut stream = Client::new(&server);
    stream.send(&get_stream(&a, None));
    assert_eq!(stream.response(0).status, 200);
    let during = health(&server);
    assert_eq!(during["active_sessions"], 2);
    assert_eq!(during["total_sessions"], 2);
    assert_eq!(during["streams"], 1);
    let delete = request("DELETE", "/mcp", &[("Mcp-Session-Id", &b)], "");
    assert_eq!(once(&server, &delete).status, 200);
    let after = health(&server);
    assert_eq!(after["active_sessions"], 1);
    assert_eq!(after["total_sessions"], 2);
    assert_eq!(after["streams"], 1);
}

fn progress_call(id: u64) -> String {
    call(
        id,
        "tools/call",
        json!({"name": "test_tool_with_progress", "arguments": {},
               "_meta": {"progressToken": "tok"}}),
    )
}

#[test]
fn json_mode_answers_json_and_sends_notifications_to_the_standalone_stream() {
    let server = spawn_mcpd(&["--response-mode", "json"]);
    let id = session(&server, "2025-06-18");
    let mut standalone = Client::new(&server);
    standalone.send(&get_stream(&id, None));
    assert_eq!(standalone.response(0).status, 200);
    let reply = once(&server, &post(Some(&id), &[], &progress_call(5)));
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.json()["id"], 5);
    let all = standalone.read_until(Duration::from_secs(3), |r| {
        r.first().is_some_and(|r| r.messages().len() >= 3)
    });
    let notes = all[0].messages();
    assert_eq!(notes.len(), 3, "{}", all[0].text());
    assert!(notes
        .iter()
        .all(|n| n["method"] == "notifications/progress"));
}

#[test]
fn sse_mode_streams_every_answer() {
    let server = spawn_mcpd(&["--response-mode", "sse"]);
    let id = session(&server, "2025-06-18");
    let mut client = Client::new(&server);
    client.send(&post(Some(&id), &[], &ping(2)));
    let reply = client.complete(0);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("text/event-stream"));
    let messages = reply.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["id"], 2);
}

#[test]
fn auto_mode_streams_progress_and_answers_plain_calls_as_json() {
    let server = spawn_mcpd(&[]);
    let id = session(&server, "2025-06-18");
    let plain = once(&server, &post(Some(&id), &[], &ping(2)));
    assert_eq!(plain.header("content-type"), Some("application/json"));
    let mut client = Client::new(&server);
    client.send(&post(Some(&id), &[], &progress_call(3)));
    let reply = client.complete(0);
    assert_eq!(reply.header("content-type"), Some("text/event-stream"));
    let messages = reply.messages();
    assert_eq!(messages.len(), 4, "{}", reply.text());
    assert_eq!(messages[3]["id"], 3);
}
