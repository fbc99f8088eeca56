//! HTTP/1.1 server framing (RFC 9112), sans-IO: bytes in, requests and errors out; responses
//! serialized into a caller's `Vec`. No sockets, no clock; the caller's timer produces
//! [`Error::HeadTimeout`].
//!
//! # Contract
//!
//! - [`RequestReader::read`] takes every byte the caller has not yet seen consumed and returns
//!   `(consumed, event)`. "Need more bytes" is `Ok((n, None))`. Several pipelined requests in
//!   one buffer come out one per call, each consuming exactly up to its end.
//! - Nothing panics on any input bytes; every buffer is bounded by [`ReaderLimits`], the
//!   chunk-size line by [`MAX_CHUNK_LINE_BYTES`], the trailer by [`MAX_TRAILER_BYTES`].
//! - Any [`Error`] is answered once with [`Error::status`] and then the connection closes
//!   ([`Error::closes`]); the reader stays poisoned.
//! - Responses always carry an `HTTP/1.1` status line; see [`write_head`] for framing.
//!
//! # Choices where RFC 9112 leaves room
//!
//! - HTTP/1.0 and 1.1 only; another well-formed `HTTP/x.y` is 505, a malformed one 400.
//! - A bare LF ends a line, in the head (httparse) and in chunked framing alike (2.2); a bare
//!   CR is 400. Empty lines before a request line are skipped (2.2).
//! - Absolute-form targets (`http://host/path`) are accepted as 3.2.2 requires; `path()` gives
//!   the path part and [`RequestHead::host`] the target's authority. Authority-form (CONNECT)
//!   is 400: we are no proxy. `*` only with OPTIONS.
//! - Transfer-Encoding: only `chunked` alone; the table is in the `framing` module doc. With
//!   Content-Length too, chunked wins and the connection closes after the answer.
//!
//! # Reader states
//!
//! ```text
//!              complete head, no body ──────────────► emits Request
//!            ┌──────────────────────────────────────────────────┐
//!            ▼                                                  │
//!   ┌──────────────┐ head + Content-Length ┌────────┐ last byte  │
//!   │     Head     │──────────────────────►│ Length │────────────┤ emits Request
//!   │ (idle when   │  (Continue first if   └────────┘            │
//!   │  buffer is   │   Expect: 100-continue)                     │
//!   │  empty)      │ head + chunked        ┌─────────┐ final CRLF│
//!   │              │──────────────────────►│ Chunked │───────────┘ emits Request
//!   └──────────────┘                       └─────────┘
//!          │ any error (head, framing, body)     │
//!          └──────────────┬──────────────────────┘
//!                         ▼
//!                   ┌──────────┐
//!                   │  Failed  │ every later read returns the same Error
//!                   └──────────┘
//! ```
//!
//! # Layout
//!
//! `error` (errors and their status), `head` (request line and fields over httparse; plain
//! heads by `head::simple`), `fields` (the header fields of a head, checked as UTF-8 once, the
//! ones mcpd reads indexed), `framing` (body length, persistence, Expect), `chunked` (chunked
//! decoder), `reader` (the state machine above), `response` (status line, fields, framing,
//! chunks).

mod chunked;
mod error;
mod fields;
mod framing;
mod head;
mod reader;
mod response;

#[cfg(fuzzing)]
pub use chunked::ChunkedDecoder;
#[cfg(any(test, fuzzing))]
pub use chunked::{MAX_CHUNK_LINE_BYTES, MAX_TRAILER_BYTES};
pub use error::Error;
pub use fields::Field;
pub use head::{Method, RequestHead, Version};
pub use reader::{ReadEvent, ReaderLimits, Request, RequestReader};
pub use response::{
    end_head, end_response, write_chunk, write_field, write_json_ok, write_last_chunk,
    write_response, write_status_line, BodyFraming, CONTINUE,
};
