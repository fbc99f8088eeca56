//! The incremental `text/event-stream` parser (WHATWG §9.2.6), for tests, fuzzing and bridge
//! clients: the same events for any chunking of the same bytes, bounded by `max_buffered`.

use super::Overflow;
use std::collections::VecDeque;

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
    use crate::sse::{encode_event, Event, HEARTBEAT};
    use crate::timer::tests::XorShift;

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
