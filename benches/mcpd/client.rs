//! A minimal blocking HTTP/1.1 client for the load: one keep-alive connection, one request at
//! a time. Answers with `Content-Length` (mcpd answers an immediate `tools/call` with JSON), or
//! a chunked SSE stream that ends after its answer (what the bridge sends for a child's later
//! answer): then the body is the last event's data.

use std::io::{self, Read, Write};
use std::net::TcpStream;

/// The MCP revision the sessions speak.
pub const PROTOCOL_VERSION: &str = "2025-06-18";

/// One keep-alive connection.
pub struct Conn {
    stream: TcpStream,
    host: String,
    path: String,
    request: Vec<u8>,
    buf: Vec<u8>,
    /// Bytes of `buf` belonging to the previous answer.
    consumed: usize,
    /// The last event's data of a chunked SSE answer.
    event: Vec<u8>,
}

/// An answer; `body` borrows the connection's buffer.
pub struct Reply<'a> {
    pub status: u16,
    pub session: Option<String>,
    pub body: &'a [u8],
}

impl Conn {
    pub fn connect(port: u16, path: &str) -> io::Result<Conn> {
        Ok(Conn::over(
            TcpStream::connect(("127.0.0.1", port))?,
            port,
            path,
        ))
    }

    pub fn over(stream: TcpStream, port: u16, path: &str) -> Conn {
        let _ = stream.set_nodelay(true);
        Conn {
            stream,
            host: format!("127.0.0.1:{port}"),
            path: path.to_string(),
            request: Vec::with_capacity(512),
            buf: Vec::with_capacity(16 * 1024),
            consumed: 0,
            event: Vec::new(),
        }
    }

    /// POSTs a JSON-RPC message, in `session` once there is one.
    pub fn post(&mut self, session: Option<&str>, body: &[u8]) -> io::Result<Reply<'_>> {
        self.request.clear();
        write!(
            self.request,
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Accept: application/json, text/event-stream\r\n",
            self.path, self.host
        )?;
        if let Some(session) = session {
            write!(
                self.request,
                "Mcp-Session-Id: {session}\r\nMCP-Protocol-Version: {PROTOCOL_VERSION}\r\n"
            )?;
        }
        write!(self.request, "Content-Length: {}\r\n\r\n", body.len())?;
        self.request.extend_from_slice(body);
        self.stream.write_all(&self.request)?;
        self.read_reply()
    }

    fn read_reply(&mut self) -> io::Result<Reply<'_>> {
        self.buf.drain(..self.consumed);
        self.consumed = 0;
        let mut searched = 0;
        let head_end = loop {
            if let Some(at) = find(&self.buf[searched..], b"\r\n\r\n") {
                break searched + at + 4;
            }
            searched = self.buf.len().saturating_sub(3);
            self.fill()?;
        };
        let head = std::str::from_utf8(&self.buf[..head_end])
            .map_err(|_| bad("answer head is not UTF-8"))?;
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|line| line.split(' ').nth(1))
            .and_then(|code| code.parse::<u16>().ok())
            .ok_or_else(|| bad(format!("bad status line in {head:?}")))?;
        let mut length = None;
        let mut chunked = false;
        let mut session = None;
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse::<usize>().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.trim().eq_ignore_ascii_case("chunked");
            } else if name.eq_ignore_ascii_case("mcp-session-id") {
                session = Some(value.trim().to_string());
            }
        }
        if chunked {
            let stream = self.read_chunked(head_end)?;
            self.event = last_event_data(&stream)
                .ok_or_else(|| bad(format!("chunked answer without an event: {stream:?}")))?;
            return Ok(Reply {
                status,
                session,
                body: &self.event,
            });
        }
        let length = length
            .ok_or_else(|| bad(format!("answer without Content-Length or chunks: {head:?}")))?;
        while self.buf.len() < head_end + length {
            self.fill()?;
        }
        self.consumed = head_end + length;
        Ok(Reply {
            status,
            session,
            body: &self.buf[head_end..head_end + length],
        })
    }

    /// Decodes the chunked body starting at `start` up to its last chunk (RFC 9112 7.1).
    fn read_chunked(&mut self, start: usize) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        let mut at = start;
        loop {
            let line_end = loop {
                if let Some(end) = find(&self.buf[at..], b"\r\n") {
                    break at + end;
                }
                self.fill()?;
            };
            let line = std::str::from_utf8(&self.buf[at..line_end]).unwrap_or("");
            let size_text = line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_text, 16)
                .map_err(|_| bad(format!("bad chunk size line {line:?}")))?;
            // The last chunk has no data; no trailers are expected, so its CRLF follows.
            let data_end = line_end + 2 + size + 2;
            while self.buf.len() < data_end {
                self.fill()?;
            }
            body.extend_from_slice(&self.buf[line_end + 2..line_end + 2 + size]);
            at = data_end;
            if size == 0 {
                self.consumed = at;
                return Ok(body);
            }
        }
    }

    fn fill(&mut self) -> io::Result<()> {
        let old = self.buf.len();
        self.buf.resize(old + 16 * 1024, 0);
        let read = self.stream.read(&mut self.buf[old..]);
        self.buf.truncate(old + *read.as_ref().unwrap_or(&0));
        match read? {
            0 => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed mid-answer",
            )),
            _ => Ok(()),
        }
    }
}

/// `initialize` with `id` 0.
pub fn initialize_body() -> &'static [u8] {
    br#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"mcpd-bench","version":"1"}}}"#
}

/// `notifications/initialized`.
pub fn initialized_body() -> &'static [u8] {
    br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#
}

/// Opens a legacy session on `conn`: initialize, then notifications/initialized; its id.
pub fn open_session(conn: &mut Conn) -> io::Result<String> {
    let reply = conn.post(None, initialize_body())?;
    if reply.status != 200 {
        return Err(bad(format!(
            "initialize answered {}: {}",
            reply.status,
            String::from_utf8_lossy(reply.body)
        )));
    }
    let session = reply
        .session
        .ok_or_else(|| bad("initialize answered without Mcp-Session-Id"))?;
    let reply = conn.post(Some(&session), initialized_body())?;
    if reply.status != 202 {
        return Err(bad(format!(
            "notifications/initialized answered {}",
            reply.status
        )));
    }
    Ok(session)
}

/// The echo text of call `seq` on connection `conn` (fixed width, so answers keep one size).
pub fn echo_text(out: &mut String, conn: usize, seq: u64) {
    use std::fmt::Write as _;
    out.clear();
    let _ = write!(out, "c{conn:03}n{seq:09}");
}

/// A `tools/call echo` request with `id` carrying `text`.
pub fn echo_request(out: &mut Vec<u8>, id: u64, text: &str) {
    out.clear();
    let _ = write!(
        out,
        r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"echo","arguments":{{"message":"{text}"}}}}}}"#
    );
}

/// The answer mcpd gives to [`echo_request`] (also nginx's fixed reply).
pub fn echo_answer(id: u64, text: &str) -> String {
    format!(
        r#"{{"id":{id},"jsonrpc":"2.0","result":{{"content":[{{"text":"{text}","type":"text"}}]}}}}"#
    )
}

/// Checks an echo answer: the id and the text are both in it, and it is a result.
pub fn check_echo(body: &[u8], id: u64, text: &str) -> Result<(), String> {
    let body = std::str::from_utf8(body).map_err(|_| "echo answer is not UTF-8".to_string())?;
    let id_field = format!("\"id\":{id},");
    let text_field = format!("\"text\":\"{text}\"");
    if body.contains(&id_field) && body.contains(&text_field) && body.contains("\"result\"") {
        Ok(())
    } else {
        Err(format!(
            "echo answer lacks {id_field} or {text_field}: {body}"
        ))
    }
}

/// The `data` of the last event in an SSE stream (WHATWG SSE: lines joined by `\n`).
fn last_event_data(stream: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(stream).ok()?;
    text.split("\n\n")
        .filter_map(|event| {
            let data: Vec<&str> = event
                .lines()
                .filter_map(|line| line.strip_prefix("data:"))
                .map(|data| data.strip_prefix(' ').unwrap_or(data))
                .collect();
            (!data.is_empty()).then(|| data.join("\n").into_bytes())
        })
        .last()
}

pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

pub fn bad(why: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why.into())
}
