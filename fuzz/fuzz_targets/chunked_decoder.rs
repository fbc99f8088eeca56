//! The incremental chunked decoder, fed in the fuzzer's pieces, against the one-shot reference
//! decoder in `mcpd::fuzzing`: same body, same end, same error status.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcpd::fuzzing::ChunkedDecoder;
use mcpd::fuzzing::{reference_chunked, Chunked, SplitInput};

fuzz_target!(|data: &[u8]| {
    let Some(input) = SplitInput::parse(data) else {
        return;
    };
    let max_body = [4 * 1024 * 1024, 64, 1, 0][usize::from(input.config & 3)];
    let mut decoder = ChunkedDecoder::new(max_body);
    let mut body = Vec::new();
    let mut offset = 0;
    let mut outcome = Chunked::NeedMore;
    for piece in &input.pieces {
        match decoder.decode(piece, &mut body) {
            Ok((used, true)) => {
                assert!(used <= piece.len());
                outcome = Chunked::Done {
                    consumed: offset + used,
                    body: std::mem::take(&mut body),
                };
                break;
            }
            Ok((used, false)) => assert_eq!(used, piece.len(), "an unfinished body takes all"),
            Err(error) => {
                outcome = Chunked::Error(error.status());
                break;
            }
        }
        assert!(body.len() <= max_body);
        offset += piece.len();
    }
    assert_eq!(outcome, reference_chunked(input.bytes, max_body));
});
