//! The answer to one HTTP request: what a route (the transport, `/health`, a refusal) hands
//! the connection layer to write. Defined here, at the connection layer, because it is HTTP:
//! a status, headers and a body, whoever computed it.

/// The body of a reply to one HTTP request.
#[derive(Debug, PartialEq)]
pub enum ReplyBody {
    /// No body (202, DELETE).
    Empty,
    /// `application/json`.
    Json(String),
    /// Any other body; its `Content-Type` is among the reply's headers.
    Text(String),
    /// `text/event-stream`: the first bytes, and whether the stream already ended.
    Stream {
        /// Events to send right after the head.
        initial: Vec<u8>,
        /// The stream is complete: end the response after `initial`.
        end: bool,
    },
    /// JSON that comes later, as the transport's `Action::Reply` (response mode `json`, answer
    /// not ready).
    Deferred,
}

/// The answer to one HTTP request.
#[derive(Debug, PartialEq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Extra headers (`Mcp-Session-Id`, `Retry-After`, `Allow`).
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: ReplyBody,
}

impl Reply {
    /// A reply with no body (202, DELETE).
    pub fn empty(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: ReplyBody::Empty,
        }
    }

    /// An event stream beginning with `initial`; `end` when nothing more follows.
    pub fn stream(initial: Vec<u8>, end: bool) -> Reply {
        Reply {
            status: 200,
            headers: Vec::new(),
            body: ReplyBody::Stream { initial, end },
        }
    }

    /// The same reply with one more header.
    pub fn with_header(mut self, name: &'static str, value: String) -> Reply {
        self.headers.push((name, value));
        self
    }
}
