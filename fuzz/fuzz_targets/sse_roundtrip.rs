//! Server-Sent Events, three ways from one input:
//! - the bytes as a stream: `EventReader` gives the same events in any chunking, never panics,
//!   and re-encoding what it read with `encode_event` reads back the same;
//! - events built from the bytes: `encode_event` then `EventReader` gives them back, with the
//!   characters the encoder must strip stripped and line ends made LF; `ReplayBuffer` keeps
//!   exactly the newest events that fit and refuses replays across a dropped one;
//! - `parse_event_id` never panics and reads back every `event_id`.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use mcpd::fuzzing::SplitInput;
use mcpd::fuzzing::{encode_event, Event, EventReader, ParsedEvent, ReplayBuffer};
use mcpd::fuzzing::{event_id, parse_event_id};

const BOUND: usize = 1 << 20;

fn read(pieces: &[&[u8]]) -> (Vec<ParsedEvent>, String) {
    let mut reader = EventReader::new(BOUND);
    let mut events = Vec::new();
    for piece in pieces {
        reader.feed(piece).expect("within the bound");
        events.extend(std::iter::from_fn(|| reader.next_event()));
    }
    (events, reader.last_event_id().to_string())
}

fn encode(events: &[ParsedEvent]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in events {
        let event = Event {
            id: e.id.as_deref(),
            event: e.event.as_deref(),
            retry: e.retry,
            data: &e.data,
        };
        encode_event(&event, &mut out);
    }
    out
}

#[derive(Arbitrary, Debug)]
struct Built {
    id: Option<String>,
    event: Option<String>,
    retry: Option<u64>,
    data: String,
}

impl Built {
    /// What a reader must see: CR, LF (and NUL in ids) stripped, line ends in data made LF.
    fn expected(&self) -> ParsedEvent {
        ParsedEvent {
            id: self
                .id
                .as_deref()
                .map(|s| s.replace(['\r', '\n', '\0'], "")),
            event: self.event.as_deref().map(|s| s.replace(['\r', '\n'], "")),
            retry: self.retry,
            data: self.data.replace("\r\n", "\n").replace('\r', "\n"),
        }
    }
}

fn check_replay(events: &[ParsedEvent], cap: usize) {
    let mut buffer = ReplayBuffer::new(cap);
    let mut pushed: Vec<(u64, &str)> = Vec::new();
    for (seq, e) in (1..).zip(events) {
        buffer.push(seq, e.data.clone());
        pushed.push((seq, &e.data));
        assert!(buffer.bytes() <= cap);
    }
    // Model: the newest events after the last oversized one, as many as fit in the cap.
    let start = pushed
        .iter()
        .rposition(|(_, m)| m.len() > cap)
        .map_or(0, |i| i + 1);
    let mut kept_from = pushed.len();
    let mut bytes = 0;
    while kept_from > start && bytes + pushed[kept_from - 1].1.len() <= cap {
        kept_from -= 1;
        bytes += pushed[kept_from].1.len();
    }
    let kept = &pushed[kept_from..];
    assert_eq!(buffer.len(), kept.len());
    assert_eq!(buffer.bytes(), bytes);
    let newest_dropped = kept_from.checked_sub(1).map(|i| pushed[i].0);
    for last_seen in 0..=pushed.len() as u64 {
        match buffer.replay_after(last_seen) {
            Ok(replay) => {
                assert!(newest_dropped.is_none_or(|d| d <= last_seen));
                let want: Vec<(u64, &str)> = kept
                    .iter()
                    .copied()
                    .filter(|(s, _)| *s > last_seen)
                    .collect();
                assert_eq!(replay.collect::<Vec<_>>(), want);
            }
            Err(_) => assert!(newest_dropped.is_some_and(|d| d > last_seen)),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = SplitInput::parse(data) else {
        return;
    };
    // The bytes as a stream.
    let (events, last_id) = read(&[input.bytes]);
    assert_eq!(read(&input.pieces), (events.clone(), last_id), "split");
    let encoded = encode(&events);
    assert_eq!(read(&[&encoded]).0, events, "re-encoded");
    check_replay(&events, usize::from(input.config) * 4);

    // Events built from the bytes.
    let mut u = Unstructured::new(input.bytes);
    let built: Vec<Built> = u.arbitrary().unwrap_or_default();
    let expected: Vec<ParsedEvent> = built.iter().map(Built::expected).collect();
    let raw: Vec<ParsedEvent> = built
        .iter()
        .map(|b| ParsedEvent {
            id: b.id.clone(),
            event: b.event.clone(),
            retry: b.retry,
            data: b.data.clone(),
        })
        .collect();
    let out = encode(&raw);
    let (got, last_id) = read(&[&out]);
    assert_eq!(got, expected);
    let want_last = expected
        .iter()
        .rev()
        .find_map(|e| e.id.clone())
        .unwrap_or_default();
    assert_eq!(last_id, want_last);

    // Last-Event-ID values.
    let _ = parse_event_id(&String::from_utf8_lossy(input.bytes));
    if let Ok((no, seq)) = u.arbitrary() {
        assert_eq!(parse_event_id(&event_id(no, seq)), Some((no, seq)));
    }
});
