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

use std::collections::VecDeque;
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

/// Capacity an empty [`OutboundBuffer`] may keep: small events and heartbeats reuse it, while a
/// drained buffer that once held a large burst gives its memory back (DESIGN 8: under 4 KiB per
/// idle session).
const KEEP_CAPACITY: usize = 1024;

/// Bytes of one connection waiting for the socket, bounded by a cap.
///
/// Memory: nothing is allocated until the first push, and the cap is never preallocated. Consumed
/// bytes are dropped by moving the rest to the front once they are at least half of the storage,
/// or before the storage would grow; so storage stays within the cap plus one push. Once fully
/// drained, storage above 1 KiB is freed, so 10,000 idle streams cost almost nothing.
#[derive(Debug, Clone, Default)]
pub struct OutboundBuffer {
    buf: Vec<u8>,
    start: usize,
    cap: usize,
}

impl OutboundBuffer {
    /// An empty buffer that will hold at most `cap` unsent bytes.
    pub fn new(cap: usize) -> Self {
        OutboundBuffer {
            buf: Vec::new(),
            start: 0,
            cap,
        }
    }

    /// Queues `bytes` whole, or nothing at all if they would take the buffer past its cap.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), Overflow> {
        if bytes.len() > self.cap.saturating_sub(self.len()) {
            return Err(Overflow);
        }
        if self.start > 0 && bytes.len() > self.buf.capacity() - self.buf.len() {
            self.compact();
        }
        self.buf.extend_from_slice(bytes);
        Ok(())
    }

    /// The unsent bytes, oldest first, as one slice for a single `write`.
    pub fn pending(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// Drops the first `n` pending bytes (the socket took them); more than `len()` drops all.
    pub fn consume(&mut self, n: usize) {
        self.start += n.min(self.len());
        if self.start == self.buf.len() {
            self.clear();
        } else if self.start >= self.buf.len() - self.start {
            self.compact();
        }
    }

    /// Unsent bytes.
    pub fn len(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Whether nothing waits for the socket.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most unsent bytes this buffer accepts.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Drops every pending byte and frees storage above 1 KiB.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.start = 0;
        if self.buf.capacity() > KEEP_CAPACITY {
            self.buf = Vec::new();
        }
    }

    /// Moves the pending bytes to the front of the storage.
    fn compact(&mut self) {
        self.buf.drain(..self.start);
        self.start = 0;
    }
}

/// A resuming client asked for events of which some were already dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayGap;

impl fmt::Display for ReplayGap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("events after Last-Event-ID are no longer in the replay buffer")
    }
}

impl std::error::Error for ReplayGap {}

/// The latest events of one SSE stream, for `Last-Event-ID` resumption (MCP Streamable HTTP:
/// resumability and redelivery), bounded by the bytes of their messages.
///
/// Sequence numbers must strictly increase; a push whose `seq` is not above the last one is
/// ignored (a caller bug: it would make replays ambiguous). When the bytes exceed the cap, the
/// oldest events are dropped; a message larger than the whole cap is not kept, and since no replay
/// across it could be complete, every older event is dropped with it. Either way the buffer
/// remembers the newest dropped `seq`, so a replay from before it is refused, never silently
/// partial.
#[derive(Debug, Clone, Default)]
pub struct ReplayBuffer {
    events: VecDeque<(u64, String)>,
    bytes: usize,
    cap: usize,
    last_seq: Option<u64>,
    dropped_upto: Option<u64>,
}

impl ReplayBuffer {
    /// An empty buffer keeping at most `cap_bytes` bytes of messages.
    pub fn new(cap_bytes: usize) -> Self {
        ReplayBuffer {
            cap: cap_bytes,
            ..ReplayBuffer::default()
        }
    }

    /// Records an event just sent on the stream, dropping the oldest ones beyond the cap.
    pub fn push(&mut self, seq: u64, message: String) {
        if self.last_seq.is_some_and(|last| seq <= last) {
            return;
        }
        self.last_seq = Some(seq);
        if message.len() > self.cap {
            self.events.clear();
            self.bytes = 0;
            self.dropped_upto = Some(seq);
            return;
        }
        self.bytes += message.len();
        self.events.push_back((seq, message));
        while self.bytes > self.cap {
            let Some((old, message)) = self.events.pop_front() else {
                break;
            };
            self.bytes -= message.len();
            self.dropped_upto = Some(old);
        }
    }

    /// Every kept event with `seq > last_seen`, oldest first, or `ReplayGap` if one was dropped.
    pub fn replay_after(
        &self,
        last_seen: u64,
    ) -> Result<impl Iterator<Item = (u64, &str)> + '_, ReplayGap> {
        if self.dropped_upto.is_some_and(|dropped| dropped > last_seen) {
            return Err(ReplayGap);
        }
        let first = self.events.partition_point(|(seq, _)| *seq <= last_seen);
        Ok(self
            .events
            .range(first..)
            .map(|(seq, message)| (*seq, message.as_str())))
    }

    /// The `seq` of the newest event pushed, kept or not.
    pub fn last_seq(&self) -> Option<u64> {
        self.last_seq
    }

    /// Events kept.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether no event is kept.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Bytes of the kept messages (never above the cap).
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

/// One event as a reader sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParsedEvent {
    /// The `id` field of this block, if it had one (see [`EventReader::last_event_id`]).
    pub id: Option<String>,
    /// The `event` field of this block, if it had one (`None` means `message`).
    pub event: Option<String>,
    /// The `retry` field of this block, if it had a valid one.
    pub retry: Option<u64>,
    /// The `data` lines joined with LF.
    pub data: String,
}

impl ParsedEvent {
    /// Bytes this event holds, counted against the reader's bound.
    fn size(&self) -> usize {
        self.data.len()
            + self.id.as_ref().map_or(0, String::len)
            + self.event.as_ref().map_or(0, String::len)
    }
}

/// UTF-8 byte order mark, skipped once at the start of a stream (WHATWG §9.2.6).
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Incremental `text/event-stream` parser (WHATWG §9.2.6 interpretation), used by tests, fuzzing
/// and bridge clients. Feed bytes in any chunking, then take events until `None`: the events are
/// the same for any split of the same bytes.
///
/// Deviations from WHATWG, both so priming and control blocks stay visible: a block is
/// dispatched when it set any of `id`, `event`, `retry` or had a `data` line, even with an empty
/// data buffer (WHATWG drops blocks without data, e.g. `id: 5` alone; MCP priming events
/// `id: X` + `data: ` are dispatched by both); and `ParsedEvent::id` is the id of that block only,
/// while the WHATWG last event ID, which persists across blocks, is [`EventReader::last_event_id`].
/// An `id` containing NUL and a `retry` that is not all ASCII digits (or overflows `u64`) are
/// ignored, as in WHATWG. Invalid UTF-8 becomes U+FFFD. An unfinished block at the end of the
/// stream is never dispatched.
#[derive(Debug, Clone)]
pub struct EventReader {
    max_buffered: usize,
    /// BOM bytes matched so far while still at the start of the stream; `None` once past it.
    bom_matched: Option<usize>,
    line: Vec<u8>,
    after_cr: bool,
    block: ParsedEvent,
    block_has_field: bool,
    queue: VecDeque<ParsedEvent>,
    queued_bytes: usize,
    last_event_id: String,
    comments: usize,
    broken: bool,
}

impl EventReader {
    /// A reader holding at most `max_buffered` bytes: the current line, the current block, and
    /// the events not yet taken. Past it, `feed` fails and the stream should be dropped.
    pub fn new(max_buffered: usize) -> Self {
        EventReader {
            max_buffered,
            bom_matched: Some(0),
            line: Vec::new(),
            after_cr: false,
            block: ParsedEvent::default(),
            block_has_field: false,
            queue: VecDeque::new(),
            queued_bytes: 0,
            last_event_id: String::new(),
            comments: 0,
            broken: false,
        }
    }

    /// Parses more of the stream; after an `Overflow` the reader refuses all further bytes.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), Overflow> {
        if self.broken {
            return Err(Overflow);
        }
        for &b in bytes {
            if let Err(e) = self.feed_byte(b) {
                self.broken = true;
                return Err(e);
            }
        }
        Ok(())
    }

    /// The next complete event, oldest first.
    pub fn next_event(&mut self) -> Option<ParsedEvent> {
        let event = self.queue.pop_front()?;
        self.queued_bytes -= event.size();
        Some(event)
    }

    /// Comment lines seen so far (heartbeats included).
    pub fn comments_seen(&self) -> usize {
        self.comments
    }

    /// The WHATWG last event ID: the latest valid `id` field of any block, to resume with.
    pub fn last_event_id(&self) -> &str {
        &self.last_event_id
    }

    /// Consumes one byte: BOM skipping, then line splitting on CRLF, CR and LF.
    fn feed_byte(&mut self, b: u8) -> Result<(), Overflow> {
        if let Some(matched) = self.bom_matched {
            if BOM.get(matched) == Some(&b) {
                self.bom_matched = (matched + 1 < BOM.len()).then_some(matched + 1);
                return Ok(());
            }
            self.bom_matched = None;
            for &held in &BOM[..matched] {
                self.line_byte(held)?;
            }
        }
        self.line_byte(b)
    }

    /// Consumes one byte of a line.
    fn line_byte(&mut self, b: u8) -> Result<(), Overflow> {
        let after_cr = std::mem::take(&mut self.after_cr);
        match b {
            b'\n' if after_cr => Ok(()),
            b'\n' => self.end_line(),
            b'\r' => {
                self.after_cr = true;
                self.end_line()
            }
            _ => {
                self.line.push(b);
                self.check()
            }
        }
    }

    /// Interprets the finished line (WHATWG §9.2.6 "process the field").
    fn end_line(&mut self) -> Result<(), Overflow> {
        let line = std::mem::take(&mut self.line);
        if line.is_empty() {
            self.dispatch();
        } else if line.first() == Some(&b':') {
            self.comments += 1;
        } else {
            let (name, value) = match line.iter().position(|&b| b == b':') {
                Some(colon) => {
                    let value = &line[colon + 1..];
                    (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
                }
                None => (&line[..], &[][..]),
            };
            let value = String::from_utf8_lossy(value).into_owned();
            match name {
                b"event" => {
                    self.block.event = Some(value);
                    self.block_has_field = true;
                }
                b"data" => {
                    self.block.data.push_str(&value);
                    self.block.data.push('\n');
                    self.block_has_field = true;
                }
                b"id" if !value.contains('\0') => {
                    self.last_event_id.clone_from(&value);
                    self.block.id = Some(value);
                    self.block_has_field = true;
                }
                b"retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                    if let Ok(ms) = value.parse() {
                        self.block.retry = Some(ms);
                        self.block_has_field = true;
                    }
                }
                _ => {}
            }
        }
        self.line = line;
        self.line.clear();
        self.check()
    }

    /// Queues the current block if it had a field, and starts a new one.
    fn dispatch(&mut self) {
        let mut event = std::mem::take(&mut self.block);
        if std::mem::take(&mut self.block_has_field) {
            if event.data.ends_with('\n') {
                event.data.pop();
            }
            self.queued_bytes += event.size();
            self.queue.push_back(event);
        }
    }

    /// Fails once the line, the block and the queued events together exceed the bound.
    fn check(&self) -> Result<(), Overflow> {
        let held = self.line.len() + self.block.size() + self.queued_bytes;
        if held > self.max_buffered {
            Err(Overflow)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timer::tests::XorShift;

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

    #[test]
    fn outbound_push_is_all_or_nothing() {
        let mut buf = OutboundBuffer::new(10);
        assert_eq!(buf.cap(), 10);
        buf.push(b"hello").unwrap();
        assert_eq!(buf.push(b"world!"), Err(Overflow));
        assert_eq!(buf.pending(), b"hello");
        buf.push(b"world").unwrap();
        assert_eq!(buf.push(b""), Ok(()));
        assert_eq!(buf.push(b"!"), Err(Overflow));
        buf.consume(3);
        assert_eq!(buf.pending(), b"loworld");
        buf.push(b"abc").unwrap();
        assert_eq!(buf.pending(), b"loworldabc");
        buf.consume(100);
        assert!(buf.is_empty());
        assert_eq!(Overflow.to_string(), "SSE buffer limit exceeded");
    }

    #[test]
    fn outbound_matches_vecdeque_model() {
        for seed in 1..=4u64 {
            let mut rng = XorShift(seed * 0x2545_F491_4F6C_DD1D);
            let cap = 1 + rng.below(4096) as usize;
            let mut buf = OutboundBuffer::new(cap);
            let mut model = VecDeque::new();
            let mut next_byte = 0u8;
            for _ in 0..3000 {
                if rng.below(2) == 0 {
                    let n = rng.below(cap as u64 / 2 + 2) as usize;
                    let bytes: Vec<u8> = (0..n)
                        .map(|_| {
                            next_byte = next_byte.wrapping_add(1);
                            next_byte
                        })
                        .collect();
                    let fits = model.len() + n <= cap;
                    assert_eq!(buf.push(&bytes).is_ok(), fits);
                    if fits {
                        model.extend(bytes);
                    }
                } else {
                    let n = rng.below(cap as u64 + 8) as usize;
                    buf.consume(n);
                    model.drain(..n.min(model.len()));
                }
                assert_eq!(buf.len(), model.len());
                assert!(buf.pending().iter().eq(model.iter()));
                assert!(buf.buf.capacity() <= 2 * cap.max(KEEP_CAPACITY));
            }
        }
    }

    #[test]
    fn outbound_releases_capacity_when_drained() {
        let mut buf = OutboundBuffer::new(1 << 20);
        assert_eq!(buf.buf.capacity(), 0, "cap is not preallocated");
        buf.push(&[b'x'; 64 * 1024]).unwrap();
        buf.consume(64 * 1024 - 1);
        assert_eq!(buf.pending(), b"x");
        buf.consume(1);
        assert_eq!(buf.buf.capacity(), 0);
        buf.push(HEARTBEAT).unwrap();
        buf.consume(HEARTBEAT.len());
        assert!(buf.buf.capacity() <= KEEP_CAPACITY, "small storage is kept");
        buf.push(&[b'y'; 4096]).unwrap();
        buf.clear();
        assert!(buf.is_empty());
        assert_eq!(buf.buf.capacity(), 0);
    }

    fn replay(buffer: &ReplayBuffer, last_seen: u64) -> Result<Vec<(u64, String)>, ReplayGap> {
        buffer
            .replay_after(last_seen)
            .map(|events| events.map(|(seq, m)| (seq, m.to_owned())).collect())
    }

    #[test]
    fn replay_evicts_oldest_by_bytes() {
        let mut buffer = ReplayBuffer::new(10);
        assert_eq!(buffer.last_seq(), None);
        assert_eq!(replay(&buffer, 0), Ok(vec![]));
        for seq in 1..=5 {
            buffer.push(seq, format!("ab{seq}"));
        }
        assert_eq!((buffer.len(), buffer.bytes()), (3, 9));
        assert_eq!(buffer.last_seq(), Some(5));
        for last_seen in 0..=1 {
            assert_eq!(replay(&buffer, last_seen), Err(ReplayGap));
        }
        for last_seen in 2..=7 {
            let expected: Vec<_> = (last_seen + 1..=5).map(|s| (s, format!("ab{s}"))).collect();
            assert_eq!(replay(&buffer, last_seen), Ok(expected));
        }
        assert_eq!(
            ReplayGap.to_string(),
            "events after Last-Event-ID are no longer in the replay buffer"
        );
    }

    #[test]
    fn replay_ignores_non_increasing_seq() {
        let mut buffer = ReplayBuffer::new(100);
        buffer.push(5, "a".into());
        buffer.push(5, "b".into());
        buffer.push(3, "c".into());
        assert_eq!(replay(&buffer, 0), Ok(vec![(5, "a".into())]));
    }

    #[test]
    fn oversize_message_is_a_gap_for_everything_before_it() {
        let mut buffer = ReplayBuffer::new(8);
        buffer.push(1, "one".into());
        buffer.push(2, "two".into());
        buffer.push(3, "much too long".into());
        assert!(buffer.is_empty());
        assert_eq!((buffer.bytes(), buffer.last_seq()), (0, Some(3)));
        for last_seen in 0..3 {
            assert_eq!(replay(&buffer, last_seen), Err(ReplayGap));
        }
        assert_eq!(replay(&buffer, 3), Ok(vec![]));
        buffer.push(4, "four".into());
        assert_eq!(replay(&buffer, 3), Ok(vec![(4, "four".into())]));
        assert_eq!(replay(&buffer, 2), Err(ReplayGap));
    }

    fn parse_all(reader: &mut EventReader, chunks: &[&[u8]]) -> Vec<ParsedEvent> {
        let mut events = Vec::new();
        for chunk in chunks {
            reader.feed(chunk).unwrap();
            while let Some(event) = reader.next_event() {
                events.push(event);
            }
        }
        events
    }

    fn parse_bytewise(wire: &[u8]) -> Vec<ParsedEvent> {
        let chunks: Vec<&[u8]> = wire.chunks(1).collect();
        parse_all(&mut EventReader::new(1 << 20), &chunks)
    }

    #[test]
    fn reader_accepts_every_line_ending() {
        let wire = b"data: a\r\ndata: b\rdata: c\ndata\r\n\r\nid: 1\r\r";
        let expected = vec![
            ParsedEvent {
                data: "a\nb\nc\n".into(),
                ..ParsedEvent::default()
            },
            ParsedEvent {
                id: Some("1".into()),
                ..ParsedEvent::default()
            },
        ];
        assert_eq!(parse_all(&mut EventReader::new(1024), &[wire]), expected);
        assert_eq!(parse_bytewise(wire), expected);
    }

    #[test]
    fn reader_skips_one_leading_bom() {
        let wire = "\u{FEFF}data: x\n\n\u{FEFF}data: y\n\ndata: z\n\n".as_bytes();
        let events = parse_bytewise(wire);
        let datas: Vec<&str> = events.iter().map(|e| e.data.as_str()).collect();
        assert_eq!(datas, ["x", "z"], "a later BOM is part of a field name");
        let partial = parse_bytewise(b"\xEF\xBBdata: x\n\ndata: y\n\n");
        assert_eq!(partial.len(), 1);
        assert_eq!(partial[0].data, "y");
    }

    #[test]
    fn reader_ignores_invalid_retry_and_id() {
        let wire = b"retry: 12a\ndata: x\n\nretry:\ndata: y\n\nretry: 99999999999999999999\n\n\
            retry: 250\n\nid: a\0b\ndata: z\n\n";
        let events = parse_bytewise(wire);
        let retries: Vec<_> = events.iter().map(|e| e.retry).collect();
        assert_eq!(retries, [None, None, Some(250), None]);
        assert_eq!(events[3].id, None);
        assert_eq!(events[3].data, "z");
    }

    #[test]
    fn reader_keeps_last_event_id_across_blocks() {
        let mut reader = EventReader::new(1024);
        let events = parse_all(&mut reader, &[b"id: 4\ndata: a\n\ndata: b\n\nid\n\n"]);
        assert_eq!(events[0].id.as_deref(), Some("4"));
        assert_eq!(events[1].id, None);
        assert_eq!(events[2].id.as_deref(), Some(""));
        assert_eq!(reader.last_event_id(), "");
        let mut reader = EventReader::new(1024);
        parse_all(&mut reader, &[b"id: 4\ndata: a\n\ndata: b\n\n"]);
        assert_eq!(reader.last_event_id(), "4");
    }

    #[test]
    fn reader_dispatches_only_finished_blocks_with_fields() {
        let events = parse_bytewise(b"foo: bar\n\n\n\ndata: x\n");
        assert_eq!(events, vec![]);
    }

    #[test]
    fn reader_bounds_what_it_holds() {
        let mut reader = EventReader::new(8);
        assert_eq!(reader.feed(b"data: 12"), Ok(()));
        assert_eq!(reader.feed(b"3"), Err(Overflow));
        assert_eq!(reader.feed(b"\n\n"), Err(Overflow));
        let mut reader = EventReader::new(12);
        reader.feed(b"data: 1234\n\n").unwrap();
        assert_eq!(reader.feed(b"data: 12345\n\n"), Err(Overflow));
        assert_eq!(reader.next_event().unwrap().data, "1234");
    }

    /// A random string over the characters that matter to framing.
    fn random_text(rng: &mut XorShift) -> String {
        const ALPHABET: [char; 10] = ['a', 'b', ' ', ':', '\r', '\n', '\0', 'é', '\u{FEFF}', '7'];
        let len = rng.below(12);
        (0..len)
            .map(|_| ALPHABET[rng.below(ALPHABET.len() as u64) as usize])
            .collect()
    }

    #[test]
    fn encode_then_parse_round_trips_in_any_split() {
        let mut rng = XorShift(0x5EED);
        for _ in 0..300 {
            let texts: Vec<[String; 3]> = (0..1 + rng.below(4))
                .map(|_| [0, 1, 2].map(|_| random_text(&mut rng)))
                .collect();
            let mut wire = Vec::new();
            let mut expected = Vec::new();
            for [id, kind, payload] in &texts {
                let event = Event {
                    id: (rng.below(2) == 0).then_some(id.as_str()),
                    event: (rng.below(2) == 0).then_some(kind.as_str()),
                    retry: (rng.below(3) == 0).then(|| rng.next() >> rng.below(64)),
                    data: payload,
                };
                encode_event(&event, &mut wire);
                if rng.below(3) == 0 {
                    wire.extend_from_slice(HEARTBEAT);
                }
                let strip = |s: &str, extra: char| s.replace(['\r', '\n', extra], "");
                expected.push(ParsedEvent {
                    id: event.id.map(|id| strip(id, '\0')),
                    event: event.event.map(|kind| strip(kind, '\r')),
                    retry: event.retry,
                    data: payload.replace("\r\n", "\n").replace('\r', "\n"),
                });
            }
            let whole = parse_all(&mut EventReader::new(1 << 20), &[&wire]);
            assert_eq!(whole, expected, "{:?}", String::from_utf8_lossy(&wire));
            assert_eq!(parse_bytewise(&wire), expected);
            let cut = rng.below(wire.len() as u64 + 1) as usize;
            let (a, b) = wire.split_at(cut);
            assert_eq!(parse_all(&mut EventReader::new(1 << 20), &[a, b]), expected);
        }
    }
}
