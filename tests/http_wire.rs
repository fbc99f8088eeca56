//! HTTP/1.1 framing, limits and timeouts of the real binary, over loopback sockets.
//! Every case asserts the exact status and whether the connection closed.

mod common;

use common::spawn_mcpd;
use common::wire::{connect, exchange, read_responses, read_until_closed, send};
use std::io::Write;
use std::net::TcpStream;

const HEALTH: &[u8] = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

#[test]
fn fifty_pipelined_requests_in_one_write_are_answered_in_order() {
    let server = spawn_mcpd(&[]);
    let mut batch = Vec::new();
    for i in 0..50 {
        let path = if i % 2 == 0 { "/health" } else { "/nowhere" };
        batch.extend_from_slice(
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").as_bytes(),
        );
    }
    let outcome = exchange(&server, &batch, 50);
    let want: Vec<u16> = (0..50)
        .map(|i| if i % 2 == 0 { 200 } else { 404 })
        .collect();
    assert_eq!(outcome.statuses(), want);
    assert!(!outcome.closed, "keep-alive connection closed");
}

#[test]
fn chunked_body_written_three_bytes_at_a_time_is_read() {
    let server = spawn_mcpd(&[]);
    let body = br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;
    let mut request = b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json, text/event-stream\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for piece in body.chunks(17) {
        request.extend_from_slice(format!("{:x};ext=1\r\n", piece.len()).as_bytes());
        request.extend_from_slice(piece);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\nTrailer-Field: x\r\n\r\n");
    let mut stream = connect(&server);
    for piece in request.chunks(3) {
        stream.write_all(piece).unwrap();
        stream.flush().unwrap();
    }
    let outcome = read_responses(&mut stream, 1);
    assert_eq!(outcome.statuses(), vec![200], "{}", outcome.text());
    assert!(
        outcome
            .text()
            .contains("\"protocolVersion\":\"2025-06-18\""),
        "{}",
        outcome.text()
    );
    assert!(outcome
        .text()
        .to_ascii_lowercase()
        .contains("mcp-session-id:"));
}

/// Request smuggling and limit cases: (name, bytes, status, closes).
fn framing_cases() -> Vec<(&'static str, Vec<u8>, u16, bool)> {
    let big_head = format!(
        "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {}\r\n\r\n",
        "a".repeat(17 * 1024)
    );
    let mut many = String::from("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for i in 0..70 {
        many.push_str(&format!("X-H{i}: v\r\n"));
    }
    many.push_str("\r\n");
    vec![
        ("missing host", b"GET /health HTTP/1.1\r\n\r\n".to_vec(), 400, true),
        ("two hosts", b"GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n".to_vec(), 400, true),
        ("space before colon", b"GET /health HTTP/1.1\r\nHost : 127.0.0.1\r\n\r\n".to_vec(), 400, true),
        ("obs-fold", b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a\r\n  b\r\n\r\n".to_vec(), 400, true),
        ("nul in value", b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a\0b\r\n\r\n".to_vec(), 400, true),
        ("bare cr", b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\rX-A: b\r\n\r\n".to_vec(), 400, true),
        ("differing lengths", b"POST /health HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd".to_vec(), 400, true),
        ("signed length", b"POST /health HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: +3\r\n\r\nabc".to_vec(), 400, true),
        ("overflowing length", b"POST /health HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 99999999999999999999999\r\n\r\n".to_vec(), 400, true),
        ("te on http/1.0", b"POST /health HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".to_vec(), 400, true),
        ("gzip then chunked", b"POST /health HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n".to_vec(), 501, true),
        ("chunked not last", b"POST /health HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n".to_vec(), 400, true),
        ("obfuscated te", b"POST /health HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n".to_vec(), 400, true),
        ("huge chunk size", b"POST /health HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n".to_vec(), 400, true),
        ("head too large", big_head.into_bytes(), 431, true),
        ("too many headers", many.into_bytes(), 431, true),
        ("body too large", b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4194305\r\n\r\n".to_vec(), 413, true),
        ("http/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec(), 505, true),
        ("asterisk with get", b"GET * HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".to_vec(), 400, true),
        ("unknown expectation", b"POST /health HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: magic\r\nContent-Length: 1\r\n\r\nx".to_vec(), 417, true),
    ]
}

#[test]
fn framing_errors_get_their_status_and_close() {
    let server = spawn_mcpd(&[]);
    for (name, bytes, status, closes) in framing_cases() {
        let outcome = exchange(&server, &bytes, 1);
        assert_eq!(
            outcome.statuses(),
            vec![status],
            "{name}: {}",
            outcome.text()
        );
        assert_eq!(outcome.closed, closes, "{name}: closed");
    }
}

#[test]
fn cl_te_request_uses_chunked_and_closes_after_the_answer() {
    let server = spawn_mcpd(&[]);
    // If Content-Length were used, "0\r\n\r\nGET /nowhere" would be read as a second request.
    let request = b"POST /nowhere HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    let outcome = exchange(&server, request, 1);
    assert_eq!(outcome.statuses(), vec![404], "{}", outcome.text());
    assert!(outcome.closed);
}

#[test]
fn bytes_after_a_framing_error_are_never_read_as_a_request() {
    let server = spawn_mcpd(&[]);
    let request =
        b"GET /health HTTP/1.1\r\nHost : x\r\n\r\nGET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    let outcome = exchange(&server, request, 1);
    assert_eq!(outcome.statuses(), vec![400]);
    assert!(outcome.closed);
}

#[test]
fn expect_continue_gets_100_then_the_answer() {
    let server = spawn_mcpd(&[]);
    let mut stream = connect(&server);
    stream
        .write_all(b"POST /nowhere HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
        .unwrap();
    let first = read_responses(&mut stream, 1);
    assert_eq!(first.statuses(), vec![100]);
    stream.write_all(b"{}").unwrap();
    let second = read_responses(&mut stream, 1);
    assert_eq!(second.statuses(), vec![404]);
}

#[test]
fn http10_closes_unless_keep_alive_is_asked() {
    let server = spawn_mcpd(&[]);
    let outcome = exchange(&server, b"GET /health HTTP/1.0\r\n\r\n", 1);
    assert_eq!(outcome.statuses(), vec![200]);
    assert!(outcome.closed);
    let outcome = exchange(
        &server,
        b"GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        1,
    );
    assert_eq!(outcome.statuses(), vec![200]);
    assert!(!outcome.closed);
}

#[test]
fn connection_close_is_honoured() {
    let server = spawn_mcpd(&[]);
    let outcome = exchange(
        &server,
        b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        1,
    );
    assert_eq!(outcome.statuses(), vec![200]);
    assert!(outcome.closed);
}

#[test]
fn slow_head_gets_408_and_close() {
    let server = spawn_mcpd(&["--head-timeout", "0.3"]);
    let mut stream = connect(&server);
    stream.write_all(b"GET /health HTTP/1.1\r\nHo").unwrap();
    let outcome = read_until_closed(&mut stream);
    assert_eq!(outcome.statuses(), vec![408], "{}", outcome.text());
    assert!(outcome.closed);
}

#[test]
fn idle_keep_alive_connection_is_closed_quietly() {
    let server = spawn_mcpd(&["--keep-alive-timeout", "0.3"]);
    let mut stream = connect(&server);
    stream.write_all(HEALTH).unwrap();
    let outcome = read_responses(&mut stream, 1);
    assert_eq!(outcome.statuses(), vec![200]);
    assert!(
        !outcome.closed,
        "closed at once, not after the idle timeout"
    );
    // The close after the idle timeout is the positive event (a deadline bounds the wait).
    let idle = read_until_closed(&mut stream);
    assert!(idle.closed && idle.bytes.is_empty(), "{}", idle.text());
}

#[test]
fn connection_cap_refuses_the_101st_and_serves_the_first_100() {
    let server = spawn_mcpd(&["--max-connections", "100"]);
    let mut held: Vec<TcpStream> = (0..100).map(|_| connect(&server)).collect();
    // Every held connection has been accepted once one of them is served.
    held[0].write_all(HEALTH).unwrap();
    assert_eq!(read_responses(&mut held[0], 1).statuses(), vec![200]);
    let mut extra = connect(&server);
    let _ = extra.write_all(HEALTH);
    let refused = read_until_closed(&mut extra);
    assert!(
        refused.closed && refused.statuses().is_empty(),
        "{}",
        refused.text()
    );
    for stream in held.iter_mut() {
        stream.write_all(HEALTH).unwrap();
    }
    for stream in held.iter_mut() {
        assert_eq!(read_responses(stream, 1).statuses(), vec![200]);
    }
    let health = send(&server, HEALTH, 1);
    assert!(health.closed || !health.statuses().is_empty());
}

#[test]
fn health_reports_its_fields_and_wrong_methods_get_405() {
    let server = spawn_mcpd(&[]);
    for path in ["/health", "/mcp/health"] {
        let outcome = send(
            &server,
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").as_bytes(),
            1,
        );
        assert_eq!(outcome.statuses(), vec![200]);
        let text = outcome.text();
        let body = &text[text.find("\r\n\r\n").unwrap() + 4..];
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["status"], "ok");
        assert_eq!(json["transport"], "streamable-http");
        for field in ["active_sessions", "total_sessions", "connections", "uptime"] {
            assert!(json[field].is_number(), "{field} in {json}");
        }
        assert_eq!(json["connections"], 1);
    }
    let outcome = send(
        &server,
        b"POST /health HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n",
        1,
    );
    assert_eq!(outcome.statuses(), vec![405]);
    assert!(
        outcome.text().contains("Allow: GET, HEAD"),
        "{}",
        outcome.text()
    );
    let outcome = send(
        &server,
        b"PUT /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n",
        1,
    );
    assert_eq!(outcome.statuses(), vec![405]);
    assert!(outcome.text().contains("Allow: GET, POST, DELETE, OPTIONS"));
    assert_eq!(
        send(
            &server,
            b"GET /elsewhere HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
            1,
        )
        .statuses(),
        vec![404]
    );
}

#[test]
fn metrics_count_requests_rejections_and_bytes() {
    let server = spawn_mcpd(&[]);
    assert_eq!(send(&server, HEALTH, 1).statuses(), vec![200]);
    assert_eq!(
        send(&server, b"GET /health HTTP/1.1\r\n\r\n", 1).statuses(),
        vec![400]
    );
    let outcome = send(
        &server,
        b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        1,
    );
    assert_eq!(outcome.statuses(), vec![200]);
    let text = outcome.text();
    assert!(
        text.contains("Content-Type: text/plain; version=0.0.4"),
        "{text}"
    );
    assert!(
        text.contains("mcpd_requests_total{method=\"GET\",status=\"200\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("mcpd_http_rejected_total{status=\"400\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("mcpd_connections_accepted_total 3\n"),
        "{text}"
    );
    let received = text
        .lines()
        .find_map(|l| l.strip_prefix("mcpd_bytes_received_total "))
        .and_then(|v| v.parse::<u64>().ok())
        .expect("bytes received");
    assert!(received >= (HEALTH.len() + 24) as u64, "{received}");
}

#[test]
fn framing_errors_carry_a_json_rpc_error_body() {
    let server = spawn_mcpd(&["--max-body-bytes", "1024"]);
    let outcome = send(
        &server,
        b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4096\r\n\r\n",
        1,
    );
    assert_eq!(outcome.statuses(), vec![413]);
    let text = outcome.text();
    assert!(text.contains("Content-Type: application/json"), "{text}");
    let body = &text[text.find("\r\n\r\n").unwrap() + 4..];
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(json["jsonrpc"], "2.0");
    assert_eq!(json["error"]["code"], -32600);
    assert!(
        json["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("413 "),
        "{json}"
    );
    assert!(json.get("id").is_none());
}
