//! The line framer fed in the fuzzer's pieces gives the lines of a simple whole-input model;
//! no line is longer than the limit and no more than the limit is ever buffered.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcpd::fuzzing::SplitInput;
use mcpd::fuzzing::{LineFramer, LineTooLong};

type Line = Result<Vec<u8>, LineTooLong>;

fn drive(max_line: usize, pieces: &[&[u8]]) -> Vec<Line> {
    let mut framer = LineFramer::new(max_line);
    let mut lines = Vec::new();
    for piece in pieces {
        framer.push(piece);
        assert!(framer.buffered() <= max_line);
        while let Some(line) = framer.next_line() {
            if let Ok(line) = &line {
                assert!(line.len() <= max_line && !line.contains(&b'\n'));
            }
            lines.push(line);
        }
    }
    lines
}

/// Whole-input model: split on LF; a segment over the limit is one error (reported even
/// unfinished); a finished one loses one trailing CR and is skipped if blank.
fn model(max_line: usize, bytes: &[u8]) -> Vec<Line> {
    let mut segments: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    let unfinished = segments.pop().unwrap_or_default();
    let mut lines = Vec::new();
    for segment in segments {
        if segment.len() > max_line {
            lines.push(Err(LineTooLong));
            continue;
        }
        let line = segment.strip_suffix(b"\r").unwrap_or(segment);
        if !line.iter().all(u8::is_ascii_whitespace) {
            lines.push(Ok(line.to_vec()));
        }
    }
    if unfinished.len() > max_line {
        lines.push(Err(LineTooLong));
    }
    lines
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = SplitInput::parse(data) else {
        return;
    };
    let max_line = [4 * 1024 * 1024, 64, 8, 1, 0][usize::from(input.config % 5)];
    let want = model(max_line, input.bytes);
    assert_eq!(drive(max_line, &[input.bytes]), want);
    assert_eq!(drive(max_line, &input.pieces), want);
});
