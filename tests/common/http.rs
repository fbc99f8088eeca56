//! A small blocking HTTP/1.1 client for integration tests: one request per connection,
//! responses framed by Content-Length, chunked encoding or close, every read bounded. The one
//! response parser (`parse_all`) and the one socket read loop (`read_more`) of the tests;
//! `wire.rs` builds its raw-bytes exchanges on them.

use mcpd::testing::{EventReader, ParsedEvent};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// One response read back; the body without chunked framing.
#[derive(Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Header fields as received.
    pub headers: Vec<(String, String)>,
    /// The body without chunked framing.
    pub body: Vec<u8>,
    /// Whether the whole body was read (a stream may still be open).
    pub complete: bool,
}

impl Response {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: status {} body {:?}", self.status, self.text()))
    }

    /// The SSE events of the body.
    pub fn events(&self) -> Vec<ParsedEvent> {
        let mut reader = EventReader::new(1 << 20);
        reader.feed(&self.body).unwrap();
        std::iter::from_fn(|| reader.next_event()).collect()
    }

    /// The JSON of every event with data.
    pub fn messages(&self) -> Vec<Value> {
        self.events()
            .iter()
            .filter(|e| !e.data.is_empty())
            .map(|e| serde_json::from_str(&e.data).unwrap())
            .collect()
    }

    /// The JSON-RPC error message of the body.
    pub fn error_message(&self) -> String {
        self.json()["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// Where `needle` starts in `haystack`.
pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Every response in `bytes`, the last possibly unfinished.
pub fn parse_all(mut bytes: &[u8]) -> Vec<Response> {
    let mut out = Vec::new();
    while let Some(end) = find(bytes, b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
        bytes = &bytes[end + 4..];
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.get(9..12))
            .and_then(|s| s.parse().ok())
            .expect("status line");
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.to_string(), v.trim().to_string()))
            .collect();
        let mut resp = Response {
            status,
            headers,
            body: Vec::new(),
            complete: true,
        };
        if let Some(len) = resp.header("content-length") {
            let len: usize = len.parse().unwrap();
            resp.complete = bytes.len() >= len;
            let len = len.min(bytes.len());
            resp.body = bytes[..len].to_vec();
            bytes = &bytes[len..];
        } else if resp.header("transfer-encoding").is_some() {
            resp.complete = false;
            while let Some(line_end) = find(bytes, b"\r\n") {
                let size = String::from_utf8_lossy(&bytes[..line_end]).into_owned();
                let size = usize::from_str_radix(size.trim(), 16).unwrap();
                if bytes.len() < line_end + 2 + size + 2 {
                    break;
                }
                resp.body
                    .extend_from_slice(&bytes[line_end + 2..line_end + 2 + size]);
                bytes = &bytes[line_end + 2 + size + 2..];
                if size == 0 {
                    resp.complete = true;
                    break;
                }
            }
        } else if status >= 200 && status != 204 && status != 304 {
            resp.body = bytes.to_vec();
            bytes = &[];
        }
        out.push(resp);
    }
    out
}

/// The bytes of one request: head (`Host`, `Connection: close` when `close`, `headers`,
/// `Content-Length`) and body.
fn request_bytes(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    close: bool,
) -> Vec<u8> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n");
    if close {
        head.push_str("Connection: close\r\n");
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// A loopback connection to `port` with a short read timeout (50 ms), so every read loop
/// ([`read_more`]) can poll its deadline.
pub fn connect(port: u16) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    stream
}

/// A new connection (see [`connect`]) with `bytes` written on it.
fn send_request(port: u16, bytes: &[u8]) -> TcpStream {
    let mut stream = connect(port);
    stream.write_all(bytes).expect("write the request");
    stream
}

/// Sends one request with `Connection: close` and reads the whole answer, up to the close
/// (at most `limit`); the caller checks `complete` when the framing matters.
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    limit: Duration,
) -> Response {
    let mut stream = send_request(
        port,
        &request_bytes(port, method, path, headers, body, true),
    );
    // Connection: close was asked for, so the close (a positive event) ends the answer; a
    // test that counts the server's descriptors or connections next sees this one gone.
    let raw = read_until_closed(&mut stream, limit);
    parse(&raw).unwrap_or_else(|| panic!("no HTTP response in {:?}", String::from_utf8_lossy(&raw)))
}

/// A plain `GET path` (no headers beyond `Host`), its whole answer (at most `limit`).
pub fn get(port: u16, path: &str, limit: Duration) -> Response {
    request(port, "GET", path, &[], b"", limit)
}

/// The two headers every MCP POST carries: an `Accept` of both answer kinds and a JSON body.
pub const MCP_POST: [(&str, &str); 2] = [
    ("Accept", "application/json, text/event-stream"),
    ("Content-Type", "application/json"),
];

/// A 2025-11-25 `initialize` (id 1, no capabilities), the opening of a session.
pub const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{}}}"#;

/// POSTs `body` to `path` with [`MCP_POST`] and then `extra`, and reads the whole answer
/// (`Connection: close`, at most `limit`).
pub fn post(
    port: u16,
    path: &str,
    extra: &[(&str, &str)],
    body: &[u8],
    limit: Duration,
) -> Response {
    let mut headers = MCP_POST.to_vec();
    headers.extend_from_slice(extra);
    request(port, "POST", path, &headers, body, limit)
}

/// The headers a stateless (2026-07-28) POST of `message` needs: `MCP-Protocol-Version` and
/// `Mcp-Method` from the message, then `extra` (`Mcp-Name` is the caller's, so a test can send
/// a wrong one).
fn stateless_headers<'a>(
    message: &'a Value,
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let method = message["method"].as_str().expect("a request has a method");
    let mut headers = MCP_POST.to_vec();
    headers.extend([
        ("MCP-Protocol-Version", "2026-07-28"),
        ("Mcp-Method", method),
    ]);
    headers.extend_from_slice(extra);
    headers
}

/// POSTs a stateless (2026-07-28) JSON-RPC `message` to `/mcp` with the headers that revision
/// requires (see `stateless_headers`) and reads the whole answer. The `_meta` envelope is the
/// caller's.
pub fn stateless(port: u16, message: &Value, extra: &[(&str, &str)], limit: Duration) -> Response {
    let headers = stateless_headers(message, extra);
    let body = message.to_string();
    request(port, "POST", "/mcp", &headers, body.as_bytes(), limit)
}

/// Sends the stateless POST [`stateless`] sends on a kept-alive connection and returns the
/// connection once the answer's head is in, with the bytes read so far: for a test that reads
/// the event stream itself (or drops it mid-way).
pub fn open_stateless(port: u16, message: &Value, extra: &[(&str, &str)]) -> (TcpStream, Vec<u8>) {
    let headers = stateless_headers(message, extra);
    let body = message.to_string();
    let request = request_bytes(port, "POST", "/mcp", &headers, body.as_bytes(), false);
    let mut stream = send_request(port, &request);
    let mut seen = Vec::new();
    let (_, head) = read_more(&mut stream, &mut seen, Duration::from_secs(10), |b| {
        find(b, b"\r\n\r\n").is_some()
    });
    assert!(head, "no answer head: {:?}", String::from_utf8_lossy(&seen));
    (stream, seen)
}

/// Opens a stateless `tools/call` of the built-in `test_tool_with_progress` (id `id`): an answer
/// that takes a while (the tool paces its progress), its event stream open; the stream and the
/// bytes read so far.
pub fn open_progress_call(port: u16, id: u64) -> (TcpStream, Vec<u8>) {
    let call = serde_json::json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
        "name": "test_tool_with_progress", "arguments": {}, "_meta": {"progressToken": 1,
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {}}}});
    let opened = open_stateless(port, &call, &[("Mcp-Name", "test_tool_with_progress")]);
    assert!(
        String::from_utf8_lossy(&opened.1).contains("text/event-stream"),
        "{:?}",
        String::from_utf8_lossy(&opened.1)
    );
    opened
}

/// Reads until the peer closes or `limit` passes (what came, however far it got).
pub fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Vec<u8> {
    read_until(stream, limit, |_| false).bytes
}

/// What one bounded read loop saw.
pub struct Received {
    /// Every byte read.
    pub bytes: Vec<u8>,
    /// Whether the peer closed (end-of-file or a reset) before `done` held.
    pub closed: bool,
    /// Whether `done` held (false: closed or out of time first).
    pub done: bool,
}

/// Reads until `done` holds for the bytes so far, the peer closes, or `limit` passes.
pub fn read_until(
    stream: &mut TcpStream,
    limit: Duration,
    done: impl Fn(&[u8]) -> bool,
) -> Received {
    let mut bytes = Vec::new();
    let (closed, done) = read_more(stream, &mut bytes, limit, done);
    Received {
        bytes,
        closed,
        done,
    }
}

/// The one read loop of the tests: appends to `bytes` until `done` holds for them, the peer
/// closes, or `limit` passes; returns (closed, done). The stream needs a short read timeout
/// (tens of ms) to poll the limit.
pub fn read_more(
    stream: &mut impl Read,
    bytes: &mut Vec<u8>,
    limit: Duration,
    done: impl Fn(&[u8]) -> bool,
) -> (bool, bool) {
    let start = Instant::now();
    let mut buf = [0u8; 65536];
    loop {
        if done(bytes) {
            return (false, true);
        }
        if start.elapsed() >= limit {
            return (false, false);
        }
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    let done = done(bytes);
    (!done, done)
}

/// The first response in `raw`.
pub fn parse(raw: &[u8]) -> Option<Response> {
    parse_all(raw).into_iter().next()
}
