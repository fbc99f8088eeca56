//! Chunked transfer coding decoder (RFC 9112 7.1), resumable at any byte boundary.
//!
//! ```text
//! chunked-body = *chunk last-chunk trailer-section CRLF
//! chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
//! ```
//! Chunk extensions are skipped (any byte but controls other than HTAB); trailer fields are
//! skipped without interpretation (RFC 9112 7.1.2 lets a recipient discard them). A bare LF is
//! accepted as line terminator, as httparse does for the head (RFC 9112 2.2); a bare CR is 400.
//! Every line is bounded, and the decoded total is checked against the body limit as soon as a
//! chunk size is known, before its data arrives.

use super::error::Error;

/// Longest chunk-size line, extensions and CRLF included; longer is 400. Real clients send a
/// few bytes; 4 KiB leaves room for extensions without letting a line grow unbounded.
pub const MAX_CHUNK_LINE_BYTES: usize = 4096;

/// Largest trailer section, final CRLF included; larger is 431 like an oversized head.
pub const MAX_TRAILER_BYTES: usize = 8192;

/// Hex digits in a chunk size: 16 fill a u64, so more cannot be a size we could accept.
const MAX_SIZE_DIGITS: u8 = 16;

/// Where the decoder stands in the chunked-body grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// In chunk-size, after `digits` hex digits.
    Size { digits: u8, value: u64 },
    /// In BWS after chunk-size, before `;` or the line end.
    SizeSpace { value: u64 },
    /// In chunk-ext, skipping to the line end.
    Extension { value: u64 },
    /// After CR of the chunk-size line.
    SizeLf { value: u64 },
    /// In chunk-data with `remaining` bytes to go.
    Data { remaining: usize },
    /// After chunk-data, expecting CRLF.
    DataCr,
    /// After CR following chunk-data.
    DataLf,
    /// At the start of a trailer field line or of the final CRLF.
    TrailerStart,
    /// Inside a trailer field line.
    TrailerLine,
    /// After CR ending a trailer field line.
    TrailerLf,
    /// After CR of the final CRLF.
    FinalLf,
    /// The whole chunked body has been read.
    Done,
}

/// Incremental decoder of one chunked body; feed it bytes until it reports done.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    line_bytes: usize,
    trailer_bytes: usize,
    decoded: usize,
    max_body_bytes: usize,
}

const fn hex_value(b: u8) -> Option<u64> {
    match b {
        b'0'..=b'9' => Some((b - b'0') as u64),
        b'a'..=b'f' => Some((b - b'a' + 10) as u64),
        b'A'..=b'F' => Some((b - b'A' + 10) as u64),
        _ => None,
    }
}

const fn bad(what: &'static str) -> Error {
    Error::BadRequest(what)
}

impl ChunkedDecoder {
    /// A decoder for a body of at most `max_body_bytes` decoded bytes.
    pub fn new(max_body_bytes: usize) -> Self {
        ChunkedDecoder {
            state: State::Size {
                digits: 0,
                value: 0,
            },
            line_bytes: 0,
            trailer_bytes: 0,
            decoded: 0,
            max_body_bytes,
        }
    }

    /// Whether the body, trailers and final CRLF have all been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes from `input` into `out`; returns bytes consumed and whether the body is
    /// complete. Stops right after the final CRLF, so bytes of a next request stay unconsumed.
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(usize, bool), Error> {
        let mut used = 0;
        while let Some(rest) = input.get(used..).filter(|rest| !rest.is_empty()) {
            match self.state {
                State::Done => break,
                State::Data { remaining } => {
                    let take = remaining.min(rest.len());
                    out.extend_from_slice(rest.get(..take).unwrap_or_default());
                    used += take;
                    self.state = match remaining - take {
                        0 => State::DataCr,
                        remaining => State::Data { remaining },
                    };
                }
                _ => {
                    let Some(&byte) = rest.first() else { break };
                    used += 1;
                    self.count_line_byte()?;
                    self.state = self.next_state(byte)?;
                }
            }
        }
        Ok((used, self.is_done()))
    }

    /// Enforces the size-line and trailer bounds on the byte about to be read.
    fn count_line_byte(&mut self) -> Result<(), Error> {
        match self.state {
            State::Size { .. }
            | State::SizeSpace { .. }
            | State::Extension { .. }
            | State::SizeLf { .. } => {
                self.line_bytes = self.line_bytes.saturating_add(1);
                if self.line_bytes > MAX_CHUNK_LINE_BYTES {
                    return Err(bad("chunk size line too long"));
                }
            }
            State::TrailerStart | State::TrailerLine | State::TrailerLf | State::FinalLf => {
                self.trailer_bytes = self.trailer_bytes.saturating_add(1);
                if self.trailer_bytes > MAX_TRAILER_BYTES {
                    return Err(Error::HeadTooLarge);
                }
            }
            State::Data { .. } | State::DataCr | State::DataLf | State::Done => {}
        }
        Ok(())
    }

    /// One transition of the chunked-body grammar on a byte outside chunk-data.
    fn next_state(&mut self, byte: u8) -> Result<State, Error> {
        Ok(match (self.state, byte) {
            (State::Size { digits, value }, _) => match hex_value(byte) {
                Some(digit) if digits < MAX_SIZE_DIGITS => State::Size {
                    digits: digits + 1,
                    value: value
                        .checked_mul(16)
                        .and_then(|v| v.checked_add(digit))
                        .ok_or(bad("chunk size overflows"))?,
                },
                Some(_) => return Err(bad("chunk size has too many digits")),
                None if digits == 0 => return Err(bad("missing chunk size")),
                None => self.after_size(value, byte)?,
            },
            (State::SizeSpace { value }, _) => self.after_size(value, byte)?,
            (State::Extension { value }, b'\r') => State::SizeLf { value },
            (State::Extension { value }, b'\n') => self.size_line_done(value)?,
            (State::Extension { .. }, b) if b != b'\t' && (b < 0x20 || b == 0x7f) => {
                return Err(bad("control byte in chunk extension"))
            }
            (State::Extension { value }, _) => State::Extension { value },
            (State::SizeLf { value }, b'\n') => self.size_line_done(value)?,
            (State::SizeLf { .. }, _) => return Err(bad("bare CR in chunk size line")),
            (State::DataCr, b'\r') => State::DataLf,
            (State::DataCr | State::DataLf, b'\n') => State::Size {
                digits: 0,
                value: 0,
            },
            (State::DataCr | State::DataLf, _) => {
                return Err(bad("chunk data not followed by CRLF"))
            }
            (State::TrailerStart, b'\r') => State::FinalLf,
            (State::TrailerStart, b'\n') => State::Done,
            (State::TrailerLine, b'\r') => State::TrailerLf,
            (State::TrailerLine, b'\n') => State::TrailerStart,
            (State::TrailerStart | State::TrailerLine, _) => State::TrailerLine,
            (State::TrailerLf, b'\n') => State::TrailerStart,
            (State::FinalLf, b'\n') => State::Done,
            (State::TrailerLf | State::FinalLf, _) => {
                return Err(bad("bare CR in trailer section"))
            }
            // decode() copies chunk-data itself and stops at Done; nothing to do for them here.
            (State::Data { .. } | State::Done, _) => self.state,
        })
    }

    /// After chunk-size: BWS, `;` starting an extension, or the line end.
    fn after_size(&mut self, value: u64, byte: u8) -> Result<State, Error> {
        Ok(match byte {
            b' ' | b'\t' => State::SizeSpace { value },
            b';' => State::Extension { value },
            b'\r' => State::SizeLf { value },
            b'\n' => self.size_line_done(value)?,
            _ => return Err(bad("invalid chunk size")),
        })
    }

    /// The chunk-size line ended: start the chunk data, or the trailer after last-chunk.
    fn size_line_done(&mut self, value: u64) -> Result<State, Error> {
        self.line_bytes = 0;
        if value == 0 {
            return Ok(State::TrailerStart);
        }
        let room = self.max_body_bytes.saturating_sub(self.decoded);
        let size = usize::try_from(value)
            .ok()
            .filter(|size| *size <= room)
            .ok_or(Error::BodyTooLarge)?;
        self.decoded = self.decoded.saturating_add(size);
        Ok(State::Data { remaining: size })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `input` fed in pieces of `step` bytes, keeping unconsumed bytes like a caller.
    fn decode_in_steps(input: &[u8], step: usize, max: usize) -> Result<(Vec<u8>, usize), Error> {
        let mut decoder = ChunkedDecoder::new(max);
        let mut out = Vec::new();
        let mut pending: Vec<u8> = Vec::new();
        let mut consumed_total = 0;
        for piece in input.chunks(step.max(1)) {
            pending.extend_from_slice(piece);
            let (used, done) = decoder.decode(&pending, &mut out)?;
            pending.drain(..used);
            consumed_total += used;
            if done {
                return Ok((out, consumed_total));
            }
        }
        Err(bad("incomplete"))
    }

    fn decode_whole(input: &[u8]) -> Result<(Vec<u8>, usize), Error> {
        decode_in_steps(input, input.len(), 1000)
    }

    #[test]
    fn valid_bodies_decode() {
        let table: &[(&[u8], &[u8])] = &[
            (b"0\r\n\r\n", b""),
            (b"5\r\nhello\r\n0\r\n\r\n", b"hello"),
            (b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", b"hello world"),
            (b"A\r\n0123456789\r\n0\r\n\r\n", b"0123456789"),
            (b"a\r\n0123456789\r\n0\r\n\r\n", b"0123456789"),
            (b"0005\r\nhello\r\n000\r\n\r\n", b"hello"),
            (b"5;name=value;x=\"q\"\r\nhello\r\n0;end\r\n\r\n", b"hello"),
            (b"5 ;ext\r\nhello\r\n0\t\r\n\r\n", b"hello"),
            (
                b"5\r\nhello\r\n0\r\nTrailer: x\r\nOther: y\r\n\r\n",
                b"hello",
            ),
            (b"5\nhello\n0\nTrailer: x\n\n", b"hello"),
        ];
        for (input, expected) in table {
            let (out, used) = decode_whole(input).unwrap();
            assert_eq!(out, *expected, "{:?}", String::from_utf8_lossy(input));
            assert_eq!(used, input.len());
        }
    }

    #[test]
    fn malformed_bodies_are_400() {
        let table: &[(&[u8], &str)] = &[
            (b"\r\n", "missing chunk size"),
            (b" 5\r\nhello\r\n0\r\n\r\n", "missing chunk size"),
            (b"g\r\n", "missing chunk size"),
            (b"-1\r\n", "missing chunk size"),
            (b"5x\r\nhello\r\n", "invalid chunk size"),
            (b"5 5\r\nhello\r\n", "invalid chunk size"),
            (b"5\rhello", "bare CR in chunk size line"),
            (b"5;a\rb\r\n", "bare CR in chunk size line"),
            (b"5;a\0\r\n", "control byte in chunk extension"),
            (b"5\r\nhelloX\r\n", "chunk data not followed by CRLF"),
            (b"5\r\nhello\rX", "chunk data not followed by CRLF"),
            (b"5\r\nhello0\r\n\r\n", "chunk data not followed by CRLF"),
            (b"0\r\nT: x\rX", "bare CR in trailer section"),
            (b"0\r\n\rX", "bare CR in trailer section"),
            (b"00000000000000001\r\n", "chunk size has too many digits"),
        ];
        for (input, what) in table {
            assert_eq!(
                decode_whole(input),
                Err(bad(what)),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn largest_sixteen_digit_size_is_too_large_not_overflow() {
        assert_eq!(
            decode_whole(b"ffffffffffffffff\r\n"),
            Err(Error::BodyTooLarge)
        );
    }

    #[test]
    fn body_limit_is_enforced_from_the_chunk_size() {
        let mut decoder = ChunkedDecoder::new(10);
        let mut out = Vec::new();
        assert_eq!(
            decoder.decode(b"6\r\nabcdef\r\n", &mut out),
            Ok((11, false))
        );
        // The size line alone is refused: no data byte of the oversized chunk is needed.
        assert_eq!(decoder.decode(b"5\r\n", &mut out), Err(Error::BodyTooLarge));
        assert_eq!(out, b"abcdef");
        assert_eq!(
            decode_in_steps(b"a\r\n0123456789\r\n0\r\n\r\n", 3, 10).map(|r| r.0),
            Ok(b"0123456789".to_vec())
        );
    }

    #[test]
    fn size_line_is_bounded() {
        let mut line = b"1;".to_vec();
        line.resize(MAX_CHUNK_LINE_BYTES - 2, b'x');
        line.extend_from_slice(b"\r\nz\r\n0\r\n\r\n");
        assert_eq!(decode_whole(&line).map(|r| r.0), Ok(b"z".to_vec()));
        let mut line = b"1;".to_vec();
        line.resize(MAX_CHUNK_LINE_BYTES - 1, b'x');
        line.extend_from_slice(b"\r\nz\r\n0\r\n\r\n");
        assert_eq!(decode_whole(&line), Err(bad("chunk size line too long")));
    }

    #[test]
    fn trailer_section_is_bounded() {
        let mut body = b"0\r\n".to_vec();
        let mut trailer = b"T: ".to_vec();
        trailer.resize(MAX_TRAILER_BYTES - 4, b'x');
        body.extend_from_slice(&trailer);
        body.extend_from_slice(b"\r\n\r\n");
        assert!(decode_whole(&body).is_ok());
        let mut body = b"0\r\n".to_vec();
        trailer.push(b'x');
        body.extend_from_slice(&trailer);
        body.extend_from_slice(b"\r\n\r\n");
        assert_eq!(decode_whole(&body), Err(Error::HeadTooLarge));
    }

    #[test]
    fn decoding_stops_at_the_end_of_the_body() {
        let mut decoder = ChunkedDecoder::new(100);
        let mut out = Vec::new();
        let input = b"3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
        assert_eq!(decoder.decode(input, &mut out), Ok((13, true)));
        assert!(decoder.is_done());
        assert_eq!(decoder.decode(b"more", &mut out), Ok((0, true)));
        assert_eq!(out, b"abc");
    }

    #[test]
    fn chunked_body_split_at_every_byte() {
        let input: &[u8] =
            b"5;ext=1\r\nhello\r\n1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nT: v\r\n\r\n";
        let expected = decode_whole(input).unwrap();
        for step in 1..input.len() {
            assert_eq!(
                decode_in_steps(input, step, 1000),
                Ok(expected.clone()),
                "step {step}"
            );
        }
        for split in 0..=input.len() {
            let (a, b) = input.split_at(split);
            let mut decoder = ChunkedDecoder::new(1000);
            let mut out = Vec::new();
            let (used, done) = decoder.decode(a, &mut out).unwrap();
            assert!(!done || split == input.len());
            let mut rest = a[used..].to_vec();
            rest.extend_from_slice(b);
            let (used_b, done) = decoder.decode(&rest, &mut out).unwrap();
            assert!(done, "split {split}");
            assert_eq!(used + used_b, input.len());
            assert_eq!(out, expected.0, "split {split}");
        }
    }

    #[test]
    fn empty_input_consumes_nothing() {
        let mut decoder = ChunkedDecoder::new(10);
        assert_eq!(decoder.decode(b"", &mut Vec::new()), Ok((0, false)));
    }
}
