//! Support for the cargo-fuzz targets in `fuzz/` and the unit tests, compiled only with
//! `--cfg fuzzing` or for tests.
//!
//! What they share and the shipped binary must not carry: the input layout of the
//! split-invariance targets, the caller model of [`RequestReader`], and the one-shot reference
//! chunked decoder that the incremental [`ChunkedDecoder`](crate::http::ChunkedDecoder) is
//! checked against.

/// What the fuzz targets drive, re-exported here because the modules are private.
#[cfg(fuzzing)]
pub use crate::{
    http::ChunkedDecoder,
    lines::{LineFramer, LineTooLong},
    log::set_level,
    mcp::jsonrpc::{parse_body, Body, Message},
    mcp::transport::session::{event_id, parse_event_id},
    server::{ConnId, Output, Server},
    sse::{encode_event, Event, EventReader, ParsedEvent, ReplayBuffer},
    timer::{TimerKey, TimerWheel},
};

pub use crate::http::ReaderLimits;
use crate::http::{Error, ReadEvent, RequestReader, MAX_CHUNK_LINE_BYTES, MAX_TRAILER_BYTES};

/// The caller a [`RequestReader`] expects: append each piece to a buffer, call `read` until it
/// makes no progress, drop consumed bytes, hand each request back. Checks the reader's contract on every call (consumed
/// within the input, idle only with nothing buffered, never holding a full head, a failed reader
/// stays failed) and returns every event and the error that ended the stream, if any.
pub fn drive_reader(limits: ReaderLimits, pieces: &[&[u8]]) -> Vec<Result<ReadEvent, Error>> {
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
                        // As the server does: the request goes back to the reader once answered,
                        // so every later one is read into a used request's storage.
                        Some(ReadEvent::Request(request)) => {
                            outcomes.push(Ok(ReadEvent::Request(request.clone())));
                            reader.recycle(request);
                        }
                        Some(event) => outcomes.push(Ok(event)),
                        None => assert!(
                            buffer.len() < limits.max_head_bytes.max(1),
                            "needs more bytes while holding {} bytes",
                            buffer.len()
                        ),
                    }
                    if !progressed {
                        break;
                    }
                }
                Err(error) => {
                    assert_eq!(reader.read(b"GET / HTTP/1.1\r\n\r\n"), Err(error.clone()));
                    assert!(!reader.is_idle());
                    let _ = (error.status(), error.closes(), error.to_string());
                    outcomes.push(Err(error));
                    return outcomes;
                }
            }
        }
    }
    outcomes
}

/// A split-invariance input: `[config][n][n cut lengths][payload]`, so a seed file is a two-byte
/// prefix (`\0\0`) and readable payload.
pub struct SplitInput<'a> {
    /// Byte the target uses to choose limits or modes.
    pub config: u8,
    /// The payload.
    pub bytes: &'a [u8],
    /// The payload cut into pieces at the fuzzer's points; concatenated, they are `bytes`.
    pub pieces: Vec<&'a [u8]>,
}

impl<'a> SplitInput<'a> {
    /// Reads the layout above; `None` when `data` is shorter than the two-byte prefix.
    pub fn parse(data: &'a [u8]) -> Option<SplitInput<'a>> {
        let (&config, rest) = data.split_first()?;
        let (&count, rest) = rest.split_first()?;
        let (cuts, bytes) = rest.split_at(usize::from(count % 16).min(rest.len()));
        let mut pieces = Vec::new();
        let mut tail = bytes;
        for &cut in cuts {
            let (piece, next) = tail.split_at(usize::from(cut).min(tail.len()));
            pieces.push(piece);
            tail = next;
        }
        pieces.push(tail);
        Some(SplitInput {
            config,
            bytes,
            pieces,
        })
    }
}

/// What the reference decoder makes of a whole input.
#[derive(Debug, PartialEq, Eq)]
pub enum Chunked {
    /// The body ended after `consumed` bytes of input.
    Done {
        /// Input bytes up to the final line feed.
        consumed: usize,
        /// The decoded body.
        body: Vec<u8>,
    },
    /// Every byte is a valid prefix of a chunked body that has not ended yet.
    NeedMore,
    /// The input is not a chunked body; the HTTP status the error maps to.
    Error(u16),
}

/// Decodes a whole chunked body (RFC 9112 7.1) line by line, as the module doc of `chunked`
/// specifies it: size lines of 1 to 16 hex digits, optional blanks, an optional extension
/// without control bytes, CRLF or LF; each size line at most [`MAX_CHUNK_LINE_BYTES`] (400);
/// chunk data followed by CRLF or LF; the total checked against `max_body` when a size is read
/// (413); trailer lines of any bytes but a CR not before LF, at most [`MAX_TRAILER_BYTES`] in
/// all with the final empty line (431).
pub fn reference_chunked(input: &[u8], max_body: usize) -> Chunked {
    let bad = Chunked::Error(Error::BadRequest("").status());
    let mut at = 0;
    let mut body = Vec::new();
    loop {
        // Size line: the decoder counts every byte of it, terminator included.
        let (line, complete) = take_line(&input[at..]);
        let checked = &line[..line.len().min(MAX_CHUNK_LINE_BYTES)];
        let size = match size_line(checked, complete && line.len() <= MAX_CHUNK_LINE_BYTES) {
            Err(()) => return bad,
            Ok(_) if line.len() > MAX_CHUNK_LINE_BYTES => return bad,
            Ok(None) => return Chunked::NeedMore,
            Ok(Some(size)) => size,
        };
        at += line.len();
        if size == 0 {
            break;
        }
        match usize::try_from(size) {
            Ok(size) if size <= max_body - body.len() => {}
            _ => return Chunked::Error(Error::BodyTooLarge.status()),
        }
        let size = size as usize;
        let Some(data) = input.get(at..at + size) else {
            return Chunked::NeedMore;
        };
        body.extend_from_slice(data);
        at += size;
        match &input[at..] {
            [] | [b'\r'] => return Chunked::NeedMore,
            [b'\n', ..] => at += 1,
            [b'\r', b'\n', ..] => at += 2,
            _ => return bad,
        }
    }
    // Trailer section: lines up to an empty one, counted in all against the trailer bound.
    let start = at;
    loop {
        let (line, complete) = take_line(&input[at..]);
        let within = MAX_TRAILER_BYTES.saturating_sub(at - start);
        let checked = &line[..line.len().min(within)];
        // A CR must be followed by LF; the decoder counts a byte before it looks at it.
        let bare_cr = checked
            .windows(2)
            .any(|pair| pair[0] == b'\r' && pair[1] != b'\n');
        if bare_cr {
            return bad;
        }
        if line.len() > within {
            return Chunked::Error(Error::HeadTooLarge.status());
        }
        if !complete {
            return Chunked::NeedMore;
        }
        at += line.len();
        if line == b"\n" || line == b"\r\n" {
            return Chunked::Done { consumed: at, body };
        }
    }
}

/// The bytes up to and including the first LF, and whether there was one.
fn take_line(input: &[u8]) -> (&[u8], bool) {
    match input.iter().position(|&b| b == b'\n') {
        Some(end) => (&input[..=end], true),
        None => (input, false),
    }
}

/// Checks a size line (or, when not `complete`, a prefix of one): `Ok(Some(size))` for a valid
/// complete line, `Ok(None)` for a valid prefix, `Err` for a grammar error.
fn size_line(line: &[u8], complete: bool) -> Result<Option<u64>, ()> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits > 16 || digits == 0 && !line.is_empty() {
        return Err(());
    }
    let mut rest = &line[digits..];
    while let [b' ' | b'\t', tail @ ..] = rest {
        rest = tail;
    }
    let valid = match rest {
        [] => true,
        [b'\n'] | [b'\r'] | [b'\r', b'\n'] => true,
        [b';', ext @ ..] => {
            let end = ext.iter().position(|&b| b == b'\r' || b == b'\n');
            let (text, end) = ext.split_at(end.unwrap_or(ext.len()));
            text.iter().all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f))
                && matches!(end, [] | [b'\n'] | [b'\r'] | [b'\r', b'\n'])
        }
        _ => false,
    };
    if !valid {
        return Err(());
    }
    if !complete {
        return Ok(None);
    }
    let hex = std::str::from_utf8(&line[..digits]).map_err(|_| ())?;
    u64::from_str_radix(hex, 16).map(Some).map_err(|_| ())
}
