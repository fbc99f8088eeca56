//! Raw HTTP/1.1 over loopback for the wire-level tests: connect, write bytes, read what comes
//! back within a bounded time, and split it into statuses.

use super::Mcpd;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// What came back on a connection: the bytes, and whether the server closed it.
pub struct Outcome {
    /// Everything read.
    pub bytes: Vec<u8>,
    /// Whether the server closed the connection.
    pub closed: bool,
}

impl Outcome {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    /// Status codes of every response, in order (1xx included), split by their framing.
    pub fn statuses(&self) -> Vec<u16> {
        let mut statuses = Vec::new();
        let mut rest = &self.bytes[..];
        while let Some(end) = find(rest, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&rest[..end]).to_ascii_lowercase();
            let Some(status) = head.get(9..12).and_then(|s| s.parse().ok()) else {
                break;
            };
            statuses.push(status);
            rest = &rest[end + 4..];
            if status < 200 {
                continue;
            }
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            if let Some(length) = length {
                rest = &rest[length.min(rest.len())..];
            } else if head.contains("transfer-encoding: chunked") {
                while let Some(line_end) = find(rest, b"\r\n") {
                    let size = usize::from_str_radix(
                        String::from_utf8_lossy(&rest[..line_end]).trim(),
                        16,
                    )
                    .unwrap_or(0);
                    rest = &rest[(line_end + 2 + size + 2).min(rest.len())..];
                    if size == 0 {
                        break;
                    }
                }
            }
        }
        statuses
    }
}

pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

pub fn connect(server: &Mcpd) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    stream
}

/// Reads until the peer closes or `quiet` passes with nothing new (bounded by 5 s in all).
pub fn read_all(stream: &mut TcpStream, quiet: Duration) -> Outcome {
    let start = Instant::now();
    let mut last = Instant::now();
    let mut bytes = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => {
                return Outcome {
                    bytes,
                    closed: true,
                }
            }
            Ok(n) => {
                bytes.extend_from_slice(&buf[..n]);
                last = Instant::now();
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => {}
            Err(_) => {
                return Outcome {
                    bytes,
                    closed: true,
                }
            }
        }
        if last.elapsed() >= quiet || start.elapsed() > Duration::from_secs(5) {
            return Outcome {
                bytes,
                closed: false,
            };
        }
    }
}

pub fn exchange(server: &Mcpd, request: &[u8]) -> Outcome {
    let mut stream = connect(server);
    stream.write_all(request).unwrap();
    read_all(&mut stream, Duration::from_millis(400))
}
