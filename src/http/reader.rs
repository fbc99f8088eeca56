//! `RequestReader`: turns a connection's inbound bytes into requests, one event per call.
//!
//! The caller owns the buffer: it passes all bytes not yet consumed, drops the consumed prefix,
//! and calls again when more bytes arrive. A head is consumed whole, only once complete; body
//! bytes are consumed as they come into the request's own bounded `Vec`.

use super::chunked::ChunkedDecoder;
use super::error::Error;
use super::framing::{request_framing, BodyLength};
use super::head::{self, RequestHead};

/// Bounds on one request, checked as bytes enter (DESIGN 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReaderLimits {
    /// Head bytes (empty lines before it, request line, fields, blank line); beyond it 431.
    pub max_head_bytes: usize,
    /// Header fields per head; beyond it 431. It sizes the httparse field array.
    pub max_headers: usize,
    /// Decoded body bytes; beyond it 413, before a byte of the excess is buffered.
    pub max_body_bytes: usize,
}

impl Default for ReaderLimits {
    /// DESIGN 5 defaults: 16 KiB head, 64 fields, 4 MiB body.
    fn default() -> Self {
        ReaderLimits {
            max_head_bytes: 16 * 1024,
            max_headers: 64,
            max_body_bytes: 4 * 1024 * 1024,
        }
    }
}

/// One complete request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The validated head.
    pub head: RequestHead,
    /// The decoded body (empty when none was announced).
    pub body: Vec<u8>,
    /// Whether the connection may read another request after answering this one.
    pub keep_alive: bool,
}

/// What a [`RequestReader::read`] call produced besides consuming bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadEvent {
    /// Write [`CONTINUE`](super::CONTINUE) now: an HTTP/1.1 head asked for it with a
    /// non-empty body announced. Emitted once, right after the head, before any body byte.
    Continue,
    /// One complete request; the reader is idle again.
    Request(Request),
}

/// A request whose head is read and whose body is still arriving.
#[derive(Debug)]
struct Pending {
    head: RequestHead,
    keep_alive: bool,
    body: Vec<u8>,
}

/// Where the reader stands on the connection.
#[derive(Debug)]
enum State {
    /// Waiting for a complete head; `scanned` buffer bytes were already looked at.
    Head { scanned: usize },
    /// Reading a Content-Length body with `remaining` bytes to go.
    Length { pending: Pending, remaining: usize },
    /// Reading a chunked body.
    Chunked {
        pending: Pending,
        decoder: ChunkedDecoder,
    },
    /// A framing error happened; every later call repeats it.
    Failed(Error),
}

/// Sans-IO reader of pipelined HTTP/1.x requests on one connection.
#[derive(Debug)]
pub struct RequestReader {
    limits: ReaderLimits,
    state: State,
    idle: bool,
}

impl RequestReader {
    /// A reader at the start of a connection, enforcing `limits`.
    pub fn new(limits: ReaderLimits) -> Self {
        RequestReader {
            limits,
            state: State::Head { scanned: 0 },
            idle: true,
        }
    }

    /// Feed bytes; returns how many were consumed and at most one event. "Need more bytes" is
    /// Ok((n, None)) with n possibly == input.len().
    ///
    /// The caller keeps unconsumed bytes and calls again with them plus new bytes. After Err
    /// the reader is poisoned: further calls return the same Err. A head is consumed only when
    /// complete, so the caller's buffer needs at most `max_head_bytes` for it: once `input`
    /// holds that many bytes without a complete head, the answer is [`Error::HeadTooLarge`].
    pub fn read(&mut self, input: &[u8]) -> Result<(usize, Option<ReadEvent>), Error> {
        let result = self.step(input);
        match &result {
            Ok((consumed, _)) => {
                self.idle = matches!(self.state, State::Head { .. }) && *consumed >= input.len();
            }
            Err(error) => {
                self.state = State::Failed(error.clone());
                self.idle = false;
            }
        }
        result
    }

    /// True between requests: no byte of a next request is consumed or left unconsumed by the
    /// last [`read`](Self::read). Choose the keep-alive idle timeout when true, the head timeout
    /// otherwise.
    pub fn is_idle(&self) -> bool {
        self.idle
    }

    fn step(&mut self, input: &[u8]) -> Result<(usize, Option<ReadEvent>), Error> {
        match &self.state {
            State::Failed(error) => Err(error.clone()),
            State::Head { scanned } => self.read_head(input, *scanned),
            State::Length { .. } | State::Chunked { .. } => self.read_body(input),
        }
    }

    fn read_head(
        &mut self,
        input: &[u8],
        scanned: usize,
    ) -> Result<(usize, Option<ReadEvent>), Error> {
        let window = input.get(..self.limits.max_head_bytes).unwrap_or(input);
        let at_limit = !input.is_empty() && window.len() == self.limits.max_head_bytes;
        // httparse needs the whole head. It sees the complete lines only (the whole window at
        // the limit), so the outcome does not depend on how the bytes were split; and it reruns
        // only when a line was completed since the last call, so byte-wise senders cost
        // O(lines * head) rather than O(head^2).
        let new_line = window.get(scanned..).unwrap_or(window).contains(&b'\n');
        self.state = State::Head {
            scanned: window.len(),
        };
        let lines = match window.iter().rposition(|&b| b == b'\n') {
            _ if at_limit => window,
            Some(last) if new_line => window.get(..=last).unwrap_or(window),
            _ => return Ok((0, None)),
        };
        let Some((head, head_len)) = head::parse(lines, self.limits.max_headers)? else {
            return match at_limit {
                true => Err(Error::HeadTooLarge),
                false => Ok((0, None)),
            };
        };
        let framing = request_framing(&head, self.limits.max_body_bytes)?;
        let pending = Pending {
            head,
            keep_alive: framing.keep_alive,
            body: Vec::new(),
        };
        self.state = match framing.body {
            BodyLength::Empty => {
                self.state = State::Head { scanned: 0 };
                return Ok((head_len, Some(ReadEvent::Request(finish(pending)))));
            }
            BodyLength::Length(remaining) => State::Length { pending, remaining },
            BodyLength::Chunked => State::Chunked {
                pending,
                decoder: ChunkedDecoder::new(self.limits.max_body_bytes),
            },
        };
        if framing.expect_continue {
            return Ok((head_len, Some(ReadEvent::Continue)));
        }
        let rest = input.get(head_len..).unwrap_or_default();
        let (body_len, event) = self.read_body(rest)?;
        // Both lengths count bytes of `input`, so the sum cannot exceed `input.len()`.
        Ok((head_len + body_len, event))
    }

    fn read_body(&mut self, input: &[u8]) -> Result<(usize, Option<ReadEvent>), Error> {
        let (consumed, done) = match &mut self.state {
            State::Length { pending, remaining } => {
                let take = (*remaining).min(input.len());
                pending
                    .body
                    .extend_from_slice(input.get(..take).unwrap_or_default());
                *remaining -= take;
                (take, *remaining == 0)
            }
            State::Chunked { pending, decoder } => decoder.decode(input, &mut pending.body)?,
            State::Head { .. } | State::Failed(_) => (0, false),
        };
        if !done {
            return Ok((consumed, None));
        }
        match std::mem::replace(&mut self.state, State::Head { scanned: 0 }) {
            State::Length { pending, .. } | State::Chunked { pending, .. } => {
                Ok((consumed, Some(ReadEvent::Request(finish(pending)))))
            }
            // `done` is only true in the two body states matched above.
            other => {
                self.state = other;
                Ok((consumed, None))
            }
        }
    }
}

fn finish(pending: Pending) -> Request {
    Request {
        head: pending.head,
        body: pending.body,
        keep_alive: pending.keep_alive,
    }
}
