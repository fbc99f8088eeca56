//! The whole sans-IO server with the builtin handler, driven as the event loop drives it:
//! several connections, client bytes from the fuzzer (raw, or MCP requests carrying the latest
//! session id the server issued), time steps, readers that stop reading, EOF and resets.
//! After every step: no panic, every buffer within its limit, the connection count right.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcpd::builtin::Builtin;
use mcpd::config::{Config, Limits, LogLevel, ResponseMode};
use mcpd::fuzzing::{ConnId, Output, Server};
use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Stands for the latest `Mcp-Session-Id` the server sent, in template and raw bytes alike.
const SESSION: &[u8] = b"@S";

fn limits() -> Limits {
    Limits {
        max_head_bytes: 1024,
        max_headers: 16,
        max_body_bytes: 2048,
        max_connections: 4,
        max_sessions: 2,
        max_outbound_bytes: 1024,
        replay_buffer_bytes: 512,
        head_timeout: Duration::from_secs(1),
        keep_alive_timeout: Duration::from_secs(2),
        session_timeout: Duration::from_secs(4),
        heartbeat: Duration::from_millis(50),
        max_pending_per_session: 4,
        ..Limits::default()
    }
}

fn post(version: &str, body: &str) -> Vec<u8> {
    format!(
        "POST /mcp HTTP/1.1\r\nHost: localhost\r\nAccept: application/json, text/event-stream\r\n\
         Content-Type: application/json\r\nMcp-Session-Id: @S\r\nMCP-Protocol-Version: {version}\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Requests that reach deep into the MCP layer, which random bytes rarely would.
fn templates() -> &'static [Vec<u8>] {
    static TEMPLATES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    TEMPLATES.get_or_init(|| {
        let init = |v: &str| {
            let body = format!(
                r#"{{"jsonrpc":"2.0","id":1,"method":"initialize","params":{{"protocolVersion":"{v}","capabilities":{{"elicitation":{{}},"sampling":{{}}}},"clientInfo":{{"name":"f","version":"1"}}}}}}"#
            );
            format!(
                "POST /mcp HTTP/1.1\r\nHost: localhost\r\nAccept: application/json, text/event-stream\r\n\
                 Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_bytes()
        };
        let v = "2025-06-18";
        vec![
            init(v),
            init("2025-03-26"),
            post(v, r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#),
            post(v, r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"test_tool_with_progress","_meta":{"progressToken":7}}}"#),
            post(v, r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"test_tool_with_logging"}}"#),
            post(v, r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"test_sampling","arguments":{"prompt":"p"}}}"#),
            post(v, r#"{"jsonrpc":"2.0","id":"s1","result":{"content":{"type":"text","text":"x"}}}"#),
            post(v, r#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"test_reconnection"}}"#),
            post("2025-03-26", r#"[{"jsonrpc":"2.0","id":6,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/initialized"}]"#),
            post(v, r#"{"jsonrpc":"2.0","id":8,"method":"logging/setLevel","params":{"level":"debug"}}"#),
            b"GET /mcp HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\nMcp-Session-Id: @S\r\n\r\n".to_vec(),
            b"GET /mcp HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\nMcp-Session-Id: @S\r\nLast-Event-ID: 0-1\r\n\r\n".to_vec(),
            b"GET /mcp HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n".to_vec(),
            b"DELETE /mcp HTTP/1.1\r\nHost: localhost\r\nMcp-Session-Id: @S\r\n\r\n".to_vec(),
            b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec(),
            b"POST /mcp HTTP/1.1\r\nHost: localhost\r\nAccept: application/json, text/event-stream\r\nContent-Type: application/json\r\nMcp-Session-Id: @S\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec(),
            b"POST /mcp HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: 40\r\n\r\n".to_vec(),
        ]
    })
}

/// One accepted connection as the event loop sees its socket.
#[derive(Default)]
struct Socket {
    /// The peer stopped reading: writes would block until a flush step.
    slow: bool,
    /// The last bytes written to the peer, to find session ids split across writes.
    tail: Vec<u8>,
}

struct Harness {
    server: Server,
    sockets: BTreeMap<ConnId, Socket>,
    now: Instant,
    session: Vec<u8>,
}

impl Harness {
    /// Writes up to `budget` pending bytes of `conn`, as a socket taking them would.
    fn write(&mut self, conn: ConnId, budget: usize) {
        let pending = self.server.pending_output(conn);
        let n = pending.len().min(budget);
        if n == 0 {
            return;
        }
        let socket = self
            .sockets
            .get_mut(&conn)
            .expect("write to an open connection");
        socket.tail.extend_from_slice(&pending[..n]);
        if let Some(id) = session_id(&socket.tail) {
            self.session = id;
        }
        let keep = socket.tail.len().saturating_sub(256);
        socket.tail.drain(..keep);
        self.server.handle_sent(conn, n);
    }

    /// The event loop's pump: carry out every output, checking each names a live connection.
    fn pump(&mut self) {
        for _ in 0..100_000 {
            let Some(output) = self.server.poll_output() else {
                return self.check();
            };
            match output {
                Output::Write(conn) => {
                    if self.sockets.get(&conn).is_some_and(|s| !s.slow) {
                        self.write(conn, usize::MAX);
                    }
                }
                Output::Close(conn) => {
                    assert!(self.sockets.remove(&conn).is_some(), "closed twice: {conn}");
                }
                Output::ResumeRead(conn) => assert!(self.sockets.contains_key(&conn)),
            }
        }
        panic!("outputs never run dry");
    }

    fn check(&mut self) {
        let limits = &self.server.config().limits;
        let cap = limits.max_outbound_bytes + limits.max_body_bytes + 16 * 1024;
        assert_eq!(self.server.connection_count(), self.sockets.len());
        for &conn in self.sockets.keys() {
            let pending = self.server.pending_output(conn).len();
            assert!(pending <= cap, "{pending} bytes queued for {conn}");
        }
    }
}

/// The value of an `Mcp-Session-Id` header in `bytes`, if a whole one is there.
fn session_id(bytes: &[u8]) -> Option<Vec<u8>> {
    const NAME: &[u8] = b"Mcp-Session-Id: ";
    let start = bytes.windows(NAME.len()).rposition(|w| w == NAME)? + NAME.len();
    let len = bytes[start..].windows(2).position(|w| w == b"\r\n")?;
    Some(bytes[start..start + len].to_vec())
}

/// `bytes` with every `@S` replaced by `session`.
fn substitute(bytes: &[u8], session: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while !rest.is_empty() {
        if rest.starts_with(SESSION) {
            out.extend_from_slice(session);
            rest = &rest[SESSION.len()..];
        } else {
            out.push(rest[0]);
            rest = &rest[1..];
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    mcpd::fuzzing::set_level(LogLevel::Error);
    let Some((&mode, mut data)) = data.split_first() else {
        return;
    };
    let config = Config {
        response_mode: ResponseMode::ALL[usize::from(mode) % 3],
        limits: limits(),
        ..Config::default()
    };
    let start = Instant::now();
    let mut h = Harness {
        server: Server::new(config, Box::new(Builtin::new()), start),
        sockets: BTreeMap::new(),
        now: start,
        session: b"none".to_vec(),
    };
    let mut take = |n: usize| {
        let (head, tail) = data.split_at(n.min(data.len()));
        data = tail;
        head
    };
    let mut steps = 0;
    while let [op, arg] = *take(2) {
        steps += 1;
        if steps > 400 {
            break;
        }
        let conn = h
            .sockets
            .keys()
            .nth(usize::from(arg) % h.sockets.len().max(1))
            .copied();
        match (op % 8, conn) {
            (0, _) => {
                if let Some(conn) = h.server.handle_connect(h.now) {
                    assert!(
                        !h.sockets.contains_key(&conn),
                        "id {conn} reused while open"
                    );
                    h.sockets.insert(conn, Socket::default());
                }
            }
            (1 | 2, Some(conn)) => {
                let bytes = if op % 8 == 1 {
                    let len = usize::from(take(1).first().copied().unwrap_or(0));
                    take(len).to_vec()
                } else {
                    let all = templates();
                    all[usize::from(op >> 3) % all.len()].clone()
                };
                let bytes = substitute(&bytes, &h.session);
                // Never more than the server has room for, as the event loop reads.
                let room = h.server.input_room(conn);
                let n = bytes.len().min(room);
                if n > 0 {
                    h.server.handle_input(conn, &bytes[..n], h.now);
                }
            }
            (3, Some(conn)) => {
                let slow = h.sockets.get_mut(&conn).expect("open");
                slow.slow = !slow.slow;
                // A reader that resumes takes some bytes: a partial write.
                let budget = usize::from(op >> 3) * 64;
                h.write(conn, budget);
            }
            (4, Some(conn)) => h.server.handle_eof(conn, h.now),
            (5, Some(conn)) => h.server.handle_reset(conn, h.now),
            (6 | 7, _) => {
                let unit = [1, 10, 100, 1000][usize::from(op >> 3) & 3];
                h.now += Duration::from_millis(u64::from(arg) * unit);
                h.server.handle_timeout(h.now);
            }
            _ => {}
        }
        h.pump();
    }
    // Let every deadline pass with every reader draining: nothing may panic or stay stuck.
    for socket in h.sockets.values_mut() {
        socket.slow = false;
    }
    for _ in 0..8 {
        h.now += Duration::from_secs(2);
        h.server.handle_timeout(h.now);
        h.pump();
        let open: Vec<ConnId> = h.sockets.keys().copied().collect();
        for conn in open {
            if h.sockets.contains_key(&conn) {
                h.write(conn, usize::MAX);
            }
        }
        h.pump();
    }
});
