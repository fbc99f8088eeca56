//! The HTTP request reader fed the same bytes whole, in the fuzzer's pieces, and byte by byte:
//! the same requests and errors every time, the caller's buffer bounded, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcpd::fuzzing::ReaderLimits;
use mcpd::fuzzing::{drive_reader, SplitInput};

/// Defaults, or small limits so every limit is reached.
fn limits(config: u8) -> ReaderLimits {
    let pick = |shift: u8, table: [usize; 4]| table[usize::from(config >> shift) & 3];
    ReaderLimits {
        max_head_bytes: pick(0, [16 * 1024, 300, 40, 0]),
        max_headers: pick(2, [64, 8, 1, 0]),
        max_body_bytes: pick(4, [4 * 1024 * 1024, 64, 1, 0]),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = SplitInput::parse(data) else {
        return;
    };
    let limits = limits(input.config);
    let whole = drive_reader(limits, &[input.bytes]);
    assert_eq!(
        drive_reader(limits, &input.pieces),
        whole,
        "fuzzer's pieces"
    );
    if input.config & 0x40 != 0 {
        let bytes: Vec<&[u8]> = input.bytes.chunks(1).collect();
        assert_eq!(drive_reader(limits, &bytes), whole, "byte by byte");
    }
});
