//! Raw HTTP/1.1 over loopback for the wire-level tests: connect, write bytes, and read back
//! an exact number of responses framed by Content-Length or chunked encoding (parsed by
//! `super::http`, the one response parser), every read bounded by a deadline. Whether the
//! server closed is always observed, never inferred from silence: a close is end-of-file, and
//! an open connection is proven by a follow-up request answered on it.

use super::http::{parse_all, Response};
use super::Mcpd;
use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

/// How long any framed read may take before the test fails (a loaded machine is slow).
pub const DEADLINE: Duration = Duration::from_secs(10);

const PROBE: &[u8] = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

/// What came back on a connection: the responses, and whether the server closed it.
pub struct Outcome {
    /// Every byte read (the responses, without any probe).
    pub bytes: Vec<u8>,
    /// Whether the server closed the connection (seen as end-of-file or a reset).
    pub closed: bool,
}

impl Outcome {
    /// The bytes as text, for assertion messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    /// The complete responses, in order (1xx included).
    pub fn responses(&self) -> Vec<Response> {
        parse_all(&self.bytes)
            .into_iter()
            .filter(|r| r.complete)
            .collect()
    }

    /// Status codes of every complete response, in order (1xx included).
    pub fn statuses(&self) -> Vec<u16> {
        self.responses().iter().map(|r| r.status).collect()
    }
}

/// A loopback connection with a short read timeout, so every read loop can poll its deadline.
pub fn connect(server: &Mcpd) -> TcpStream {
    super::http::connect(server.port)
}

/// Whether the last of `bytes`' complete responses announces the connection's end.
fn announces_close(bytes: &[u8]) -> bool {
    parse_all(bytes)
        .iter()
        .rev()
        .find(|r| r.complete)
        .and_then(|r| r.header("connection"))
        .is_some_and(|v| v.eq_ignore_ascii_case("close"))
}

/// Reads until `done` holds for the bytes so far or the server closes, failing at `DEADLINE`:
/// an answer that never comes is a failure, not silence.
pub fn read_until(stream: &mut TcpStream, what: &str, done: impl Fn(&[u8]) -> bool) -> Outcome {
    let read = super::http::read_until(stream, DEADLINE, done);
    assert!(
        read.done || read.closed,
        "no {what} within {DEADLINE:?}: {:?}",
        String::from_utf8_lossy(&read.bytes)
    );
    Outcome {
        bytes: read.bytes,
        closed: read.closed,
    }
}

/// Reads until `count` complete responses (1xx included) have arrived or the server closes;
/// then, when the last one says `Connection: close` (or `count` is 0), on until the close.
pub fn read_responses(stream: &mut TcpStream, count: usize) -> Outcome {
    read_until(
        stream,
        &format!("{count} complete response(s) or close"),
        |bytes| {
            count > 0
                && parse_all(bytes).iter().filter(|r| r.complete).count() >= count
                && !announces_close(bytes)
        },
    )
}

/// Reads until the server closes (a positive event), failing at `DEADLINE`.
pub fn read_until_closed(stream: &mut TcpStream) -> Outcome {
    read_responses(stream, 0)
}

/// Proves the connection is still open and in sync: a `GET /health` sent on it gets exactly
/// one 200 back. Returns false when the server closes instead; panics on any other answer
/// (left-over bytes read as a request would show here).
pub fn still_open(stream: &mut TcpStream) -> bool {
    if stream.write_all(PROBE).is_err() {
        return false;
    }
    let probe = read_responses(stream, 1);
    if probe.statuses().is_empty() && probe.closed {
        return false;
    }
    assert_eq!(
        probe.statuses(),
        vec![200],
        "the follow-up request on a kept-alive connection: {}",
        probe.text()
    );
    true
}

/// Sends `request` on a new connection and reads `count` responses; `closed` is true only
/// when the close was seen (no follow-up request, for tests that count requests).
pub fn send(server: &Mcpd, request: &[u8], count: usize) -> Outcome {
    let mut stream = connect(server);
    stream.write_all(request).unwrap();
    read_responses(&mut stream, count)
}

/// Sends `request` on a new connection and reads `count` responses; `closed` is then proven
/// either way: by end-of-file, or (for a connection left open) by a follow-up request.
pub fn exchange(server: &Mcpd, request: &[u8], count: usize) -> Outcome {
    let mut stream = connect(server);
    stream.write_all(request).unwrap();
    let mut outcome = read_responses(&mut stream, count);
    if !outcome.closed {
        outcome.closed = !still_open(&mut stream);
    }
    outcome
}
