//! The HTTP request reader fed the same bytes whole, in the fuzzer's pieces, and byte by byte:
//! the same requests and errors every time, the caller's buffer bounded, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcpd::fuzzing::SplitInput;
use mcpd::http::{Error, ReadEvent, ReaderLimits, RequestReader};

/// Defaults, or small limits so every limit is reached.
fn limits(config: u8) -> ReaderLimits {
    let pick = |shift: u8, table: [usize; 4]| table[usize::from(config >> shift) & 3];
    ReaderLimits {
        max_head_bytes: pick(0, [16 * 1024, 300, 40, 0]),
        max_headers: pick(2, [64, 8, 1, 0]),
        max_body_bytes: pick(4, [4 * 1024 * 1024, 64, 1, 0]),
    }
}

/// The caller model: keep unconsumed bytes, append each piece, read until no progress.
fn drive(limits: ReaderLimits, pieces: &[&[u8]]) -> Vec<Result<ReadEvent, Error>> {
    let mut reader = RequestReader::new(limits);
    let mut buffer = Vec::new();
    let mut outcomes = Vec::new();
    for piece in pieces {
        buffer.extend_from_slice(piece);
        loop {
            match reader.read(&buffer) {
                Ok((consumed, event)) => {
                    assert!(consumed <= buffer.len());
                    buffer.drain(..consumed);
                    if reader.is_idle() {
                        assert!(buffer.is_empty());
                    }
                    let progressed = consumed > 0 || event.is_some();
                    match event {
                        Some(event) => outcomes.push(Ok(event)),
                        None => assert!(buffer.len() < limits.max_head_bytes.max(1)),
                    }
                    if !progressed {
                        break;
                    }
                }
                Err(error) => {
                    assert_eq!(reader.read(b"GET / HTTP/1.1\r\n\r\n"), Err(error.clone()));
                    let _ = (error.status(), error.closes(), error.to_string());
                    outcomes.push(Err(error));
                    return outcomes;
                }
            }
        }
    }
    outcomes
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = SplitInput::parse(data) else {
        return;
    };
    let limits = limits(input.config);
    let whole = drive(limits, &[input.bytes]);
    assert_eq!(drive(limits, &input.pieces), whole, "fuzzer's pieces");
    if input.config & 0x40 != 0 {
        let bytes: Vec<&[u8]> = input.bytes.chunks(1).collect();
        assert_eq!(drive(limits, &bytes), whole, "byte by byte");
    }
});
