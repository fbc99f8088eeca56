//! Hostile input against the real binary over loopback: request smuggling, slowloris, floods
//! past the caps of DESIGN 5, hostile JSON, readers that never read, clients that vanish.
//! Every case asserts its exact outcome; every loop is bounded in time and count.
//! (`http_wire.rs` holds the basic framing table; nothing here repeats it.)

mod common;

use common::http::parse_all;
use common::wire::{
    connect, exchange, read_responses, read_until, read_until_closed, send, Outcome,
};
use common::{eventually, spawn_mcpd, Mcpd};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::Duration;

const HEALTH: &[u8] = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
const MCP_HEADERS: &str = "Host: 127.0.0.1\r\nAccept: application/json, text/event-stream\r\n\
                           Content-Type: application/json\r\n";

fn post(session: Option<&str>, body: &[u8]) -> Vec<u8> {
    let session = session.map_or(String::new(), |s| format!("Mcp-Session-Id: {s}\r\n"));
    let mut request = format!(
        "POST /mcp HTTP/1.1\r\n{MCP_HEADERS}{session}Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

/// One request on a connection of its own, read until its one response is complete.
fn ask(server: &Mcpd, request: &[u8]) -> Outcome {
    send(server, request, 1)
}

/// A connection with a receive buffer of a few KiB, so the server's writes to a reader that
/// never reads stop at once instead of filling megabytes of loopback buffers.
fn connect_small_window(server: &Mcpd) -> TcpStream {
    use std::os::fd::FromRawFd;
    let size: libc::c_int = 4096;
    let addr = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: server.port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(std::net::Ipv4Addr::LOCALHOST).to_be(),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: socket(2), setsockopt(2), connect(2) on a descriptor this function owns, with
    // pointers to live locals and their sizes; it goes to TcpStream only once connected, and is
    // closed on the error path.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
        let rc = libc::connect(
            fd,
            (&addr as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        if rc != 0 {
            let error = std::io::Error::last_os_error();
            libc::close(fd);
            panic!("connect: {error}");
        }
        let stream = TcpStream::from_raw_fd(fd);
        stream
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        stream
    }
}

/// The JSON body of the (first) response.
fn json_body(outcome: &Outcome) -> Value {
    let responses = outcome.responses();
    responses
        .first()
        .unwrap_or_else(|| panic!("no response: {}", outcome.text()))
        .json()
}

fn header(outcome: &Outcome, name: &str) -> Option<String> {
    outcome
        .responses()
        .first()?
        .header(name)
        .map(str::to_string)
}

/// `initialize` then `notifications/initialized`; the session id.
fn open_session(server: &Mcpd, capabilities: &str) -> String {
    let init = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"initialize","params":{{"protocolVersion":"2025-06-18","capabilities":{capabilities},"clientInfo":{{"name":"hostile","version":"1"}}}}}}"#
    );
    let outcome = ask(server, &post(None, init.as_bytes()));
    assert_eq!(outcome.statuses(), vec![200], "{}", outcome.text());
    let session = header(&outcome, "mcp-session-id").expect("a session id");
    let done = br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    assert_eq!(
        ask(server, &post(Some(&session), done)).statuses(),
        vec![202]
    );
    session
}

/// `/health` as JSON, on a connection of its own (which counts itself).
fn health(server: &Mcpd) -> Value {
    let outcome = ask(server, HEALTH);
    assert_eq!(outcome.statuses(), vec![200], "{}", outcome.text());
    json_body(&outcome)
}

/// Polls `/health` until only its own connection is left; panics after `within`.
fn assert_connections_return_to_baseline(server: &Mcpd, within: Duration) {
    eventually("connections back to 1 (the probe)", within, || {
        let json = health(server);
        if json["connections"] == 1 {
            Ok(())
        } else {
            Err(json.to_string())
        }
    });
}

/// The server's resident set in KiB, from `/proc/<pid>/status`.
fn rss_kib(server: &Mcpd) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.child.id()))
        .expect("read /proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmRSS line")
}

/// Smuggling and framing variants not in `http_wire.rs`: (name, bytes, statuses, closed).
/// `/nowhere` answers 404, so a body read with the wrong framing would show as an extra
/// request; a trailing `GET /health` shows whether the connection stayed usable.
fn smuggling_cases() -> Vec<(&'static str, Vec<u8>, Vec<u16>, bool)> {
    let next = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    let case = |head: &str, body: &str| {
        format!("POST /nowhere HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}\r\n{body}{next}").into_bytes()
    };
    let long_ext = format!("1;{}\r\nx\r\n0\r\n\r\n", "e".repeat(5000));
    let big_trailer = format!("0\r\nX: {}\r\n\r\n", "t".repeat(9000));
    vec![
        // TE.CL: chunked wins whatever the order, and the connection closes after the answer.
        (
            "te.cl",
            case(
                "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n",
                "5\r\nhello\r\n0\r\n\r\n",
            ),
            vec![404],
            true,
        ),
        (
            "cl.te smaller",
            case(
                "Content-Length: 100\r\nTransfer-Encoding: chunked\r\n",
                "0\r\n\r\n",
            ),
            vec![404],
            true,
        ),
        // TE.TE: every obfuscation either is exactly `chunked` or is refused.
        (
            "te + te: x",
            case(
                "Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n",
                "0\r\n\r\n",
            ),
            vec![400],
            true,
        ),
        (
            "te twice chunked",
            case(
                "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
                "0\r\n\r\n",
            ),
            vec![400],
            true,
        ),
        (
            "te list chunked twice",
            case("Transfer-Encoding: chunked, chunked\r\n", "0\r\n\r\n"),
            vec![400],
            true,
        ),
        (
            "te tab before value",
            case("Transfer-Encoding:\tchunked\r\n", "0\r\n\r\n"),
            vec![404, 200],
            false,
        ),
        (
            "te upper case",
            case("Transfer-Encoding: CHUNKED\r\n", "0\r\n\r\n"),
            vec![404, 200],
            false,
        ),
        (
            "te trailing blanks",
            case("Transfer-Encoding: chunked \t\r\n", "0\r\n\r\n"),
            vec![404, 200],
            false,
        ),
        (
            "te space before colon",
            case("Transfer-Encoding : chunked\r\n", "0\r\n\r\n"),
            vec![400],
            true,
        ),
        (
            "te quoted",
            case("Transfer-Encoding: \"chunked\"\r\n", "0\r\n\r\n"),
            vec![400],
            true,
        ),
        (
            "te vertical tab",
            case("Transfer-Encoding: \x0bchunked\r\n", "0\r\n\r\n"),
            vec![400],
            true,
        ),
        (
            "te obs-fold",
            case("Transfer-Encoding: identity\r\n chunked\r\n", "0\r\n\r\n"),
            vec![400],
            true,
        ),
        (
            "te empty",
            case("Transfer-Encoding: \r\n", "0\r\n\r\n"),
            vec![400],
            true,
        ),
        (
            "te identity",
            case("Transfer-Encoding: identity\r\n", ""),
            vec![400],
            true,
        ),
        (
            "te header name nul",
            case("Transfer-Encoding\0: chunked\r\n", "0\r\n\r\n"),
            vec![400],
            true,
        ),
        // Content-Length: equal duplicates are one length (RFC 9110 8.6), anything else 400.
        (
            "cl duplicate equal",
            case("Content-Length: 5\r\nContent-Length: 5\r\n", "hello"),
            vec![404, 200],
            false,
        ),
        (
            "cl list equal",
            case("Content-Length: 5, 5\r\n", "hello"),
            vec![404, 200],
            false,
        ),
        (
            "cl list differing",
            case("Content-Length: 5, 6\r\n", "hello"),
            vec![400],
            true,
        ),
        (
            "cl list empty member",
            case("Content-Length: 5,\r\n", "hello"),
            vec![400],
            true,
        ),
        (
            "cl negative",
            case("Content-Length: -1\r\n", ""),
            vec![400],
            true,
        ),
        (
            "cl hex",
            case("Content-Length: 0x5\r\n", "hello"),
            vec![400],
            true,
        ),
        (
            "cl space inside",
            case("Content-Length: 1 0\r\n", "0123456789"),
            vec![400],
            true,
        ),
        // Chunk syntax at its edges.
        (
            "chunk size 17 digits",
            case(
                "Transfer-Encoding: chunked\r\n",
                "00000000000000001\r\nx\r\n0\r\n\r\n",
            ),
            vec![400],
            true,
        ),
        (
            "chunk size negative",
            case("Transfer-Encoding: chunked\r\n", "-1\r\nx\r\n0\r\n\r\n"),
            vec![400],
            true,
        ),
        (
            "chunk size 0x",
            case("Transfer-Encoding: chunked\r\n", "0x1\r\nx\r\n0\r\n\r\n"),
            vec![400],
            true,
        ),
        (
            "chunk extension too long",
            case("Transfer-Encoding: chunked\r\n", &long_ext),
            vec![400],
            true,
        ),
        (
            "chunk extension nul",
            case("Transfer-Encoding: chunked\r\n", "1;a\0\r\nx\r\n0\r\n\r\n"),
            vec![400],
            true,
        ),
        (
            "chunk data too long",
            case("Transfer-Encoding: chunked\r\n", "1\r\nxy\r\n0\r\n\r\n"),
            vec![400],
            true,
        ),
        (
            "chunk bare cr",
            case("Transfer-Encoding: chunked\r\n", "1\rx\r\n0\r\n\r\n"),
            vec![400],
            true,
        ),
        (
            "trailer too large",
            case("Transfer-Encoding: chunked\r\n", &big_trailer),
            vec![431],
            true,
        ),
        (
            "chunked lf only",
            case("Transfer-Encoding: chunked\r\n", "1\nx\n0\n\n"),
            vec![404, 200],
            false,
        ),
        // Request targets.
        (
            "absolute form",
            b"GET http://127.0.0.1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".to_vec(),
            vec![200],
            false,
        ),
        (
            "absolute form no path",
            b"GET http://127.0.0.1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".to_vec(),
            vec![404],
            false,
        ),
        (
            "absolute form userinfo",
            b"GET http://a@127.0.0.1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".to_vec(),
            vec![400],
            true,
        ),
        (
            "asterisk options",
            b"OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".to_vec(),
            vec![404],
            false,
        ),
        (
            "authority form",
            b"CONNECT 127.0.0.1:80 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".to_vec(),
            vec![400],
            true,
        ),
        (
            "nul in target",
            b"GET /hea\0lth HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".to_vec(),
            vec![400],
            true,
        ),
        (
            "fragment in target",
            b"GET /health#x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".to_vec(),
            vec![400],
            true,
        ),
        (
            "bare cr in request line",
            b"GET /health\rHTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".to_vec(),
            vec![400],
            true,
        ),
    ]
}

#[test]
fn smuggling_variants_get_their_exact_outcome() {
    let server = spawn_mcpd(&[]);
    for (name, bytes, statuses, closed) in smuggling_cases() {
        let outcome = exchange(&server, &bytes, statuses.len());
        assert_eq!(outcome.statuses(), statuses, "{name}: {}", outcome.text());
        assert_eq!(outcome.closed, closed, "{name}: closed");
    }
    assert_eq!(health(&server)["status"], "ok");
}

#[test]
fn absolute_form_authority_is_what_the_host_guard_checks() {
    let server = spawn_mcpd(&[]);
    let body = br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    let request = |target: &str, host: &str| {
        let mut bytes = format!(
            "POST {target} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json, text/event-stream\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        bytes.extend_from_slice(body);
        bytes
    };
    // RFC 9112 3.2.2: with an absolute-form target the Host header is ignored; the target's
    // authority is the host the request is for, so a foreign authority is refused.
    let foreign = ask(&server, &request("http://evil.example/mcp", "127.0.0.1"));
    assert_eq!(foreign.statuses(), vec![403], "{}", foreign.text());
    let ours = ask(&server, &request("http://127.0.0.1/mcp", "evil.example"));
    assert_eq!(
        ours.statuses(),
        vec![400],
        "session required: {}",
        ours.text()
    );
}

#[test]
fn slowloris_connections_get_408_while_a_normal_client_is_served() {
    let server = spawn_mcpd(&["--head-timeout", "2"]);
    let head = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
    // The first byte goes with the connect: the head timer runs from the accept, and a test
    // thread starved between the two would otherwise see a quiet close instead of 408.
    let mut slow: Vec<TcpStream> = (0..200)
        .map(|_| {
            let mut stream = connect(&server);
            stream.write_all(&head[..1]).unwrap();
            stream
        })
        .collect();
    // One byte per connection per round, 100 ms apart, for 0.5 s: the head never completes
    // (that trickling bytes do not move the head deadline is proven with fake time in
    // src/server/tests.rs). Writing stops well before the 2 s timeout: mcpd closes right after
    // the 408 (no lingering close, RFC 9112 9.6), so a byte it had not read yet would reset the
    // 408 away.
    let mut served = None;
    for round in 0..5 {
        for stream in slow.iter_mut() {
            let _ = stream.write_all(&head[1 + round..][..1]);
        }
        if round == 2 {
            served = Some(health(&server));
        }
        thread::sleep(Duration::from_millis(100));
    }
    // The normal client was answered while every slow connection was still held open (each
    // gets its 408 below): they did not starve it.
    let served = served.expect("asked");
    assert!(
        served["connections"].as_u64().is_some_and(|n| n > 200),
        "{served}"
    );
    let mut timed_out = 0;
    for stream in slow.iter_mut() {
        let outcome = read_until_closed(stream);
        if outcome.statuses() == vec![408] && outcome.closed {
            timed_out += 1;
        }
    }
    assert_eq!(
        timed_out, 200,
        "every slow connection gets 408 and is closed"
    );
    assert_connections_return_to_baseline(&server, Duration::from_secs(3));
}

#[test]
fn sessions_past_the_cap_get_503_with_retry_after() {
    let server = spawn_mcpd(&["--max-sessions", "3"]);
    let sessions: Vec<String> = (0..3).map(|_| open_session(&server, "{}")).collect();
    let init = br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"flood","version":"1"}}}"#;
    for _ in 0..20 {
        let outcome = ask(&server, &post(None, init));
        assert_eq!(outcome.statuses(), vec![503], "{}", outcome.text());
        assert!(
            header(&outcome, "retry-after").is_some(),
            "{}",
            outcome.text()
        );
        assert_eq!(header(&outcome, "mcp-session-id"), None);
        let json = json_body(&outcome);
        assert_eq!(json["error"]["code"], -32000);
        assert_eq!(json["id"], 1);
    }
    assert_eq!(health(&server)["active_sessions"], 3);
    let delete = format!(
        "DELETE /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nMcp-Session-Id: {}\r\n\r\n",
        sessions[0]
    );
    assert_eq!(ask(&server, delete.as_bytes()).statuses(), vec![200]);
    open_session(&server, "{}");
    assert_eq!(health(&server)["active_sessions"], 3);
}

#[test]
fn bodies_past_the_limit_get_413_and_close() {
    let server = spawn_mcpd(&["--max-body-bytes", "1024"]);
    let session = open_session(&server, "{}");
    // Exactly at the limit is read and answered.
    let mut body = br#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_pad":""}}"#.to_vec();
    let pad = 1024 - body.len();
    body.splice(
        body.len() - 3..body.len() - 3,
        std::iter::repeat_n(b'p', pad),
    );
    assert_eq!(body.len(), 1024);
    let at_limit = ask(&server, &post(Some(&session), &body));
    assert_eq!(at_limit.statuses(), vec![200], "{}", at_limit.text());
    // One byte over, announced by Content-Length: refused before the body is read.
    let mut over = post(Some(&session), &[b' '; 1025]);
    over.truncate(over.len() - 1025);
    let outcome = exchange(&server, &over, 1);
    assert_eq!(outcome.statuses(), vec![413], "{}", outcome.text());
    assert!(outcome.closed);
    // Chunked, where the total only shows chunk by chunk.
    let mut chunked = format!(
        "POST /mcp HTTP/1.1\r\n{MCP_HEADERS}Mcp-Session-Id: {session}\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .into_bytes();
    for _ in 0..5 {
        chunked.extend_from_slice(b"100\r\n");
        chunked.extend_from_slice(&[b' '; 256]);
        chunked.extend_from_slice(b"\r\n");
    }
    let outcome = exchange(&server, &chunked, 1);
    assert_eq!(outcome.statuses(), vec![413], "{}", outcome.text());
    assert!(outcome.closed);
    assert_eq!(health(&server)["status"], "ok");
}

#[test]
fn hostile_json_gets_its_json_rpc_error() {
    let server = spawn_mcpd(&["--max-body-bytes", "1048576"]);
    let session = open_session(&server, "{}");
    let nested_arrays = vec![b'['; 100_000];
    let mut nested_objects = br#"{"jsonrpc":"2.0","id":1,"method":"ping","params":"#.to_vec();
    for _ in 0..50_000 {
        nested_objects.extend_from_slice(br#"{"a":"#);
    }
    let cases: Vec<(&str, Vec<u8>, i64)> = vec![
        ("100k [", nested_arrays, -32700),
        ("50k nested objects", nested_objects, -32700),
        (
            "invalid utf-8 in a string",
            b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\xff\"}".to_vec(),
            -32700,
        ),
        ("invalid utf-8 outside", b"\xfe\xff{}".to_vec(), -32700),
        ("truncated", br#"{"jsonrpc":"2.0","id":1,"#.to_vec(), -32700),
        ("empty body", b"".to_vec(), -32700),
        ("a number", b"1".to_vec(), -32600),
        ("a string", br#""ping""#.to_vec(), -32600),
        ("null", b"null".to_vec(), -32600),
        (
            "no jsonrpc member",
            br#"{"id":1,"method":"ping"}"#.to_vec(),
            -32600,
        ),
        (
            "jsonrpc 1.0",
            br#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#.to_vec(),
            -32600,
        ),
        (
            "null id",
            br#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#.to_vec(),
            -32600,
        ),
        (
            "object id",
            br#"{"jsonrpc":"2.0","id":{},"method":"ping"}"#.to_vec(),
            -32600,
        ),
        (
            "float id",
            br#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#.to_vec(),
            -32600,
        ),
        (
            "numeric method",
            br#"{"jsonrpc":"2.0","id":1,"method":1}"#.to_vec(),
            -32600,
        ),
        (
            "array params",
            br#"{"jsonrpc":"2.0","id":1,"method":"ping","params":[]}"#.to_vec(),
            -32600,
        ),
        (
            "result and error",
            br#"{"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1,"message":"m"}}"#.to_vec(),
            -32600,
        ),
        ("neither", br#"{"jsonrpc":"2.0","id":1}"#.to_vec(), -32600),
    ];
    for (name, body, code) in cases {
        let outcome = ask(&server, &post(Some(&session), &body));
        assert_eq!(outcome.statuses(), vec![400], "{name}: {}", outcome.text());
        assert_eq!(json_body(&outcome)["error"]["code"], code, "{name}");
    }
    // A huge string just under the limit is parsed and answered, and nothing is left behind.
    let mut huge = br#"{"jsonrpc":"2.0","id":7,"method":"ping","params":{"_s":""}}"#.to_vec();
    let fill = 1_048_576 - huge.len();
    huge.splice(
        huge.len() - 3..huge.len() - 3,
        std::iter::repeat_n(b'x', fill),
    );
    let outcome = ask(&server, &post(Some(&session), &huge));
    assert_eq!(outcome.statuses(), vec![200], "{}", outcome.text());
    assert_eq!(json_body(&outcome)["id"], 7);
    assert!(rss_kib(&server) < 64 * 1024);
}

#[test]
fn sse_readers_that_never_read_are_closed_and_memory_stays_bounded() {
    let server = spawn_mcpd(&[
        "--response-mode",
        "json",
        "--heartbeat",
        "0.05",
        "--max-outbound-bytes",
        "65536",
        "--max-body-bytes",
        "1100000",
    ]);
    let prompt = "p".repeat(1_000_000);
    let sampling = format!(
        r#"{{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{{"name":"test_sampling","arguments":{{"prompt":"{prompt}"}}}}}}"#
    );
    // Twenty standalone streams nobody reads, heartbeats flowing on all of them.
    let mut streams = Vec::new();
    let mut sessions = Vec::new();
    for _ in 0..20 {
        let session = open_session(&server, r#"{"sampling":{}}"#);
        let mut stream = connect_small_window(&server);
        let get = format!(
            "GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\nMcp-Session-Id: {session}\r\n\r\n"
        );
        stream.write_all(get.as_bytes()).unwrap();
        streams.push(stream);
        sessions.push(session);
    }
    // Two of them get six 1 MB sampling requests each: past what loopback buffers absorb
    // (a 64 KiB MSS makes them megabytes) and past the 64 KiB outbound cap.
    let mut callers = Vec::new();
    let mut peak = 0;
    for session in &sessions[..2] {
        for _ in 0..6 {
            let mut caller = connect(&server);
            caller
                .write_all(&post(Some(session), sampling.as_bytes()))
                .unwrap();
            callers.push(caller);
            peak = peak.max(rss_kib(&server));
        }
    }
    // Without reading anything, wait for the server to work through the calls (a debug build
    // takes seconds for 12 MB of JSON) and close the two flooded streams: 20 streams, 12
    // callers and the probe itself make 33 connections before.
    eventually(
        "the flooded streams closed",
        Duration::from_secs(60),
        || {
            peak = peak.max(rss_kib(&server));
            let json = health(&server);
            if json["connections"].as_u64().is_some_and(|n| n <= 31) {
                Ok(())
            } else {
                Err(json.to_string())
            }
        },
    );
    // Reading now finds what the server had sent before closing, then EOF.
    for (i, stream) in streams[..2].iter_mut().enumerate() {
        let outcome = read_until_closed(stream);
        assert!(outcome.closed, "flooded stream {i} still open");
        assert!(outcome.bytes.len() < 6_000_000, "stream {i} got everything");
    }
    assert!(peak < 64 * 1024, "RSS peaked at {peak} KiB");
    // The others, with heartbeats only, are still open and flowing.
    for (i, stream) in streams.iter_mut().enumerate().skip(2) {
        // The stream's head and at least one whole chunk (a heartbeat) arrive, and no close.
        let outcome = read_until(stream, "a heartbeat", |bytes| {
            parse_all(bytes).first().is_some_and(|r| !r.body.is_empty())
        });
        assert!(
            !outcome.closed && !outcome.bytes.is_empty(),
            "heartbeat-only stream {i}"
        );
    }
    drop(callers);
    drop(streams);
    assert_connections_return_to_baseline(&server, Duration::from_secs(3));
    assert!(rss_kib(&server) < 64 * 1024);
}

#[test]
fn clients_that_vanish_mid_request_and_mid_stream_leave_nothing_behind() {
    let server = spawn_mcpd(&[]);
    let session = open_session(&server, "{}");
    for _ in 0..50 {
        // Half a head, half a body, half a chunk.
        let mut a = connect(&server);
        a.write_all(b"GET /health HTTP/1.1\r\nHo").unwrap();
        let mut b = connect(&server);
        let mut half = post(
            Some(&session),
            br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
        );
        half.truncate(half.len() - 10);
        b.write_all(&half).unwrap();
        let mut c = connect(&server);
        c.write_all(
            format!(
                "POST /mcp HTTP/1.1\r\n{MCP_HEADERS}Transfer-Encoding: chunked\r\n\r\n10\r\nabc"
            )
            .as_bytes(),
        )
        .unwrap();
        // An open SSE stream, and a tool call streaming its progress.
        let mut d = connect(&server);
        d.write_all(
            format!("GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\nMcp-Session-Id: {session}\r\n\r\n")
                .as_bytes(),
        )
        .unwrap();
        let mut e = connect(&server);
        let call = br#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"test_tool_with_progress","_meta":{"progressToken":1}}}"#;
        e.write_all(&post(Some(&session), call)).unwrap();
        let mut first = [0u8; 1];
        e.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        assert!(
            matches!(e.read(&mut first), Ok(1)),
            "the call started answering"
        );
        drop((a, b, c, d, e));
    }
    assert_connections_return_to_baseline(&server, Duration::from_secs(3));
    let json = health(&server);
    assert_eq!(json["streams"], 0, "{json}");
    assert_eq!(json["active_sessions"], 1, "{json}");
    // The session still works.
    let ping = ask(
        &server,
        &post(
            Some(&session),
            br#"{"jsonrpc":"2.0","id":9,"method":"ping"}"#,
        ),
    );
    assert_eq!(ping.statuses(), vec![200], "{}", ping.text());
}

#[test]
fn health_and_metrics_are_behind_the_host_and_origin_guard() {
    // Issue 12, item 7: a DNS-rebinding page must not read the probes either.
    let server = spawn_mcpd(&[]);
    for path in ["/health", "/metrics"] {
        for (host, origin) in [
            ("evil.example", None),
            ("127.0.0.1", Some("http://evil.example")),
        ] {
            let origin = origin.map_or(String::new(), |o| format!("Origin: {o}\r\n"));
            let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{origin}\r\n");
            let outcome = ask(&server, request.as_bytes());
            assert_eq!(outcome.statuses(), vec![403], "{path} {host} {origin:?}");
            assert!(outcome.text().contains("Forbidden"), "{}", outcome.text());
        }
        let ok = format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://localhost:3000\r\n\r\n"
        );
        assert_eq!(ask(&server, ok.as_bytes()).statuses(), vec![200], "{path}");
    }
}

#[test]
fn tls_client_hello_on_the_plain_port_gets_400_at_once() {
    // Issue 12, item 9: the first bytes show it is not HTTP; no waiting for the head timeout
    // (60 s here, far past the read limit, so a 408 cannot pass for the answer).
    let server = spawn_mcpd(&["--head-timeout", "60"]);
    // The start of a TLS 1.2/1.3 ClientHello record: handshake (0x16), TLS 1.0 record version,
    // length, ClientHello (0x01), its length and version 3.3.
    let hello: &[u8] = &[
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ];
    let mut stream = connect(&server);
    stream.write_all(hello).unwrap();
    let raw = common::http::read_until_closed(&mut stream, Duration::from_secs(10));
    let response = common::http::parse(&raw)
        .unwrap_or_else(|| panic!("no answer: {:?}", String::from_utf8_lossy(&raw)));
    assert_eq!(response.status, 400, "{}", response.text());
    assert!(response.text().contains("TLS"), "{}", response.text());
    assert_eq!(
        stream.read(&mut [0u8; 16]).ok(),
        Some(0),
        "the connection is closed after the answer"
    );
    assert_eq!(health(&server)["status"], "ok");
}

#[test]
fn a_stderr_nobody_reads_never_stops_the_server() {
    // Issue 12, item 3: stderr is a pipe nobody drains after the listening line. Every request
    // logs a debug line (~70 bytes); 6,000 requests write far more than a pipe holds (64 KiB),
    // so a blocking logger would freeze the one thread long before the end.
    let (server, _undrained) = common::spawn_mcpd_undrained(&["--log-level", "debug"]);
    let mut stream = connect(&server);
    for batch in 0..60 {
        stream.write_all(&HEALTH.repeat(100)).unwrap();
        let outcome = read_responses(&mut stream, 100);
        assert!(!outcome.closed, "batch {batch}: closed");
        assert_eq!(outcome.statuses(), vec![200; 100], "batch {batch}");
    }
    let session = open_session(&server, "{}");
    let call = br#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"message":"still here"}}}"#;
    let outcome = ask(&server, &post(Some(&session), call));
    assert_eq!(outcome.statuses(), vec![200], "{}", outcome.text());
    assert!(outcome.text().contains("still here"), "{}", outcome.text());
    assert_eq!(health(&server)["status"], "ok");
}
