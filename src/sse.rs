//! Server-Sent Events: event encoding, heartbeat comments, the per-connection outbound buffer,
//! the per-stream replay buffer for `Last-Event-ID` resumption, and an incremental parser.
//!
//! # Contract
//! Sans-IO: bytes in, bytes out, no clock. Wire format per WHATWG HTML "Server-sent events"
//! (§9.2.5 the `text/event-stream` format, §9.2.6 its interpretation):
//! - [`encode_event`] writes `id`, `event`, `retry`, then one `data:` line per line of the
//!   payload, then a blank line. CR, LF and CRLF in the payload all end a line (the reader joins
//!   lines with LF). CR and LF would break framing inside `id` and `event` and are stripped; NUL is
//!   stripped from `id` too, since a reader ignores an `id` containing it.
//! - [`encode_comment`] and [`HEARTBEAT`] write comment lines, which readers ignore and
//!   intermediaries see as traffic.
//! - [`OutboundBuffer`] holds bytes not yet accepted by the socket, up to a byte cap; past the
//!   cap the caller closes the stream (DESIGN 5: resumable within the replay buffer).
//! - [`ReplayBuffer`] keeps the latest events of one stream, up to a byte cap, and tells a
//!   resuming client whether its replay would be complete.
//! - [`EventReader`] parses a stream back into events, for tests, fuzzing and bridge clients.
//!
//! Not here: choosing event ids (the MCP layer does), HTTP headers, sockets.
//!
//! Encoding lives here; the outbound buffer, the replay buffer and the reader are in
//! `outbound.rs`, `replay.rs` and `reader.rs`.

use std::fmt;

/// The keep-alive comment sent on idle streams (DESIGN 5: every 15 s). A bare `:` is the shortest
/// comment line (WHATWG §9.2.6: a line starting with a colon is ignored); the blank line after it
/// closes the block, so proxies that frame by blank lines flush it, and a reader dispatches
/// nothing for it. Three bytes, for 10,000 idle streams.
pub const HEARTBEAT: &[u8] = b":\n\n";

/// One event to encode; fields borrow from the caller to avoid copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Event<'a> {
    /// `id` field: becomes the client's `Last-Event-ID` (CR, LF, NUL stripped).
    pub id: Option<&'a str>,
    /// `event` field: the event type, `message` when absent (CR, LF stripped).
    pub event: Option<&'a str>,
    /// `retry` field: the client's reconnection delay in milliseconds.
    pub retry: Option<u64>,
    /// The payload; each of its lines becomes one `data:` line, an empty payload one `data: `.
    pub data: &'a str,
}

/// Appends one event block to `out`, framed so no field value can end the block early.
pub fn encode_event(event: &Event<'_>, out: &mut Vec<u8>) {
    if let Some(id) = event.id {
        push_field(out, b"id: ", id, |b| matches!(b, b'\r' | b'\n' | b'\0'));
    }
    if let Some(kind) = event.event {
        push_field(out, b"event: ", kind, |b| matches!(b, b'\r' | b'\n'));
    }
    if let Some(retry) = event.retry {
        out.extend_from_slice(b"retry: ");
        out.extend_from_slice(retry.to_string().as_bytes());
        out.push(b'\n');
    }
    let mut rest = event.data;
    loop {
        let end = rest.find(['\r', '\n']);
        let line = &rest[..end.unwrap_or(rest.len())];
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
        let Some(end) = end else { break };
        let newline = if rest[end..].starts_with("\r\n") {
            2
        } else {
            1
        };
        rest = &rest[end + newline..];
    }
    out.push(b'\n');
}

#[cfg(test)]
/// Appends a one-line comment block, `:text` then a blank line (CR and LF in `text` stripped).
pub fn encode_comment(text: &str, out: &mut Vec<u8>) {
    push_field(out, b":", text, |b| matches!(b, b'\r' | b'\n'));
    out.push(b'\n');
}

/// Appends `name`, then `value` without the bytes `strip` selects, then LF.
fn push_field(out: &mut Vec<u8>, name: &[u8], value: &str, strip: impl Fn(u8) -> bool) {
    out.extend_from_slice(name);
    out.extend(value.bytes().filter(|&b| !strip(b)));
    out.push(b'\n');
}

/// A byte limit would be exceeded: the stream should be closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overflow;

impl fmt::Display for Overflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SSE buffer limit exceeded")
    }
}

impl std::error::Error for Overflow {}

mod outbound;
mod reader;
mod replay;
pub use outbound::OutboundBuffer;
pub use reader::{EventReader, ParsedEvent};
pub use replay::{ReplayBuffer, ReplayGap};

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(event: Event<'_>) -> String {
        let mut out = Vec::new();
        encode_event(&event, &mut out);
        String::from_utf8(out).unwrap()
    }

    fn data(data: &str) -> Event<'_> {
        Event {
            data,
            ..Event::default()
        }
    }

    #[test]
    fn encodes_data_lines_for_every_newline_kind() {
        let table = [
            ("hello", "data: hello\n\n"),
            ("", "data: \n\n"),
            ("a\nb", "data: a\ndata: b\n\n"),
            ("a\r\nb", "data: a\ndata: b\n\n"),
            ("a\rb", "data: a\ndata: b\n\n"),
            ("a\r\r\nb", "data: a\ndata: \ndata: b\n\n"),
            ("a\n\rb", "data: a\ndata: \ndata: b\n\n"),
            ("a\n", "data: a\ndata: \n\n"),
            ("\r\n", "data: \ndata: \n\n"),
            (" x: y", "data:  x: y\n\n"),
        ];
        for (input, wire) in table {
            assert_eq!(encoded(data(input)), wire, "{input:?}");
        }
    }

    #[test]
    fn encodes_fields_in_order() {
        let event = Event {
            id: Some("7"),
            event: Some("message"),
            retry: Some(3000),
            data: "{}",
        };
        assert_eq!(
            encoded(event),
            "id: 7\nevent: message\nretry: 3000\ndata: {}\n\n"
        );
        let priming = Event {
            id: Some("s-1"),
            ..data("")
        };
        assert_eq!(encoded(priming), "id: s-1\ndata: \n\n");
    }

    #[test]
    fn strips_framing_bytes_from_id_and_event() {
        let event = Event {
            id: Some("a\r\nb\0c"),
            event: Some("x\ny\r\0"),
            ..data("d")
        };
        assert_eq!(encoded(event), "id: abc\nevent: xy\0\ndata: d\n\n");
    }

    #[test]
    fn encodes_comments_on_one_line() {
        let mut out = Vec::new();
        encode_comment("ping", &mut out);
        encode_comment("a\r\nb\rc", &mut out);
        encode_comment("", &mut out);
        assert_eq!(out, b":ping\n\n:abc\n\n:\n\n");
        assert_eq!(HEARTBEAT, b":\n\n");
    }

    #[test]
    fn comments_and_heartbeats_dispatch_nothing() {
        let mut reader = EventReader::new(1024);
        reader.feed(HEARTBEAT).unwrap();
        reader.feed(b": hi\ndata: x\n: there\n\n").unwrap();
        reader.feed(HEARTBEAT).unwrap();
        assert_eq!(reader.next_event().unwrap().data, "x");
        assert_eq!(reader.next_event(), None);
        assert_eq!(reader.comments_seen(), 4);
    }
}
