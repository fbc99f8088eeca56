//! `mcp::Error`: every way an MCP request is refused at the transport, and the one place that
//! maps each to its HTTP status, JSON-RPC code and message ([`Error::wire`], [`Error::reply`]).
//!
//! Codes follow the spec where it names one: -32700 (body not JSON), -32600 (not a valid
//! request), -32602 (2026-07-28 `_meta` incomplete), -32601 (method not found; 2026-07-28
//! answers it with 404), -32603 (internal), -32020 (2026-07-28 `HeaderMismatch`), -32022
//! (unsupported protocol version, with `data.supported` and `data.requested`), and -32001 for
//! an unknown or ended session (what the reference TypeScript SDK answers with its 404
//! "Session not found", so clients already know it). The spec gives no code for the other
//! HTTP-level refusals (406, 415, 409, 405, 401, 403, 503 limits): they keep -32000, the
//! implementation-defined "server error" the reference SDKs use for them.
//!
//! Where only a code is known (a handler's error answered on the 2026-07-28 stateless path, a
//! failed `initialize`), [`status_for_code`] gives its status; [`Error::wire`] uses the same
//! function for every variant whose code decides its status, so the two cannot disagree.

use core::fmt;

use serde_json::json;

use super::jsonrpc::{self, ErrorObject, Id, Message};
use super::transport::stateless::{
    HEADER_MISMATCH, MISSING_CAPABILITY, UNSUPPORTED_VERSION as UNSUPPORTED_PROTOCOL_VERSION,
};
use crate::server::{Reply, ReplyBody};

/// -32001: the session named by `Mcp-Session-Id` (or `sessionId`) does not exist or has ended.
pub const UNKNOWN_SESSION: i64 = -32001;

/// Why a request is refused before (or instead of) reaching the handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// `Accept` does not list what the transport sends; the text names the media types.
    NotAcceptable(&'static str),
    /// A POST body whose `Content-Type` is not `application/json`.
    UnsupportedMediaType,
    /// The body is not JSON; the text is the parser's complaint.
    BodyNotJson(String),
    /// JSON that is not an acceptable JSON-RPC message here; the text says why.
    InvalidRequest(&'static str),
    /// A 2026-07-28 request whose `_meta` lacks the request metadata; the text says what.
    InvalidParams(String),
    /// A 2026-07-28 header (`MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name`, `Mcp-Param-*`)
    /// missing or disagreeing with the body; the text says which.
    HeaderMismatch(String),
    /// The session id (header or query parameter, named by the text) is missing.
    SessionIdRequired(&'static str),
    /// The session does not exist or has ended.
    UnknownSession,
    /// The session ended because this instance is stopping (`--drain`).
    SessionEndedByShutdown,
    /// The response stream asked for has ended.
    StreamEnded,
    /// A `Last-Event-ID` that cannot be resumed; the text says why.
    CannotResume(&'static str),
    /// A second standalone GET stream for one session.
    StreamConflict,
    /// The HTTP method is not served on this path; `allow` lists those that are.
    WrongMethod {
        /// The message, naming what the path offers.
        message: String,
        /// The `Allow` header value.
        allow: &'static str,
    },
    /// No route for this path.
    NoRoute(String),
    /// The 2024-11-05 HTTP+SSE transport is not offered (`--eras`).
    TransportNotOffered,
    /// A protocol revision that is not offered or not implemented.
    UnsupportedProtocolVersion {
        /// The revision the client asked for.
        requested: String,
        /// The revisions that would have been accepted.
        supported: Vec<&'static str>,
        /// Where the client named it (the message says so).
        asked_in: AskedIn,
    },
    /// The method does not exist (2026-07-28: answered with 404); the text names it.
    MethodNotFound(String),
    /// A state the transport should never reach; the text names it.
    Internal(&'static str),
    /// `--max-sessions` is reached.
    TooManySessions {
        /// The limit.
        max: usize,
        /// Seconds the client is asked to wait.
        retry_after: u64,
    },
    /// The session already has its cap of requests in flight.
    TooManyRequests(usize),
    /// The backend (a bridged child) cannot take the request now; the text says why.
    BackendUnavailable(String),
    /// This instance is stopping and accepts no new sessions.
    Draining,
    /// `--auth-token` is set and the request lacks it; the text is the `WWW-Authenticate` value.
    Unauthorized(&'static str),
    /// Host, Origin or CORS refusal; the text says which.
    Forbidden(String),
}

/// Where an unsupported protocol revision was named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AskedIn {
    /// The `MCP-Protocol-Version` header of a handshake-era request.
    Header,
    /// `_meta` of a 2026-07-28 request, naming a revision mcpd does not implement.
    Meta,
    /// `initialize` or a 2026-07-28 request when `--eras` does not offer that era.
    NotOffered,
}

/// The HTTP status of a JSON answer whose JSON-RPC error has `code`, when the code alone
/// decides (2026-07-28 stateless answers, SH0728: protocol errors 400, unknown method 404,
/// internal 500). Other codes (a tool's own errors, -32000, -32001) travel in a 200.
pub fn status_for_code(code: i64) -> u16 {
    match code {
        jsonrpc::METHOD_NOT_FOUND => 404,
        jsonrpc::PARSE_ERROR
        | jsonrpc::INVALID_REQUEST
        | jsonrpc::INVALID_PARAMS
        | HEADER_MISMATCH
        | MISSING_CAPABILITY
        | UNSUPPORTED_PROTOCOL_VERSION => 400,
        jsonrpc::INTERNAL_ERROR => 500,
        _ => 200,
    }
}

/// A variant whose code decides its status: `(status_for_code(code), code)`.
fn coded(code: i64) -> (u16, i64) {
    (status_for_code(code), code)
}

impl Error {
    /// The wire mapping: HTTP status and JSON-RPC code (the message is [`fmt::Display`]).
    pub fn wire(&self) -> (u16, i64) {
        match self {
            Error::BodyNotJson(_) => coded(jsonrpc::PARSE_ERROR),
            Error::InvalidRequest(_) => coded(jsonrpc::INVALID_REQUEST),
            Error::InvalidParams(_) => coded(jsonrpc::INVALID_PARAMS),
            Error::HeaderMismatch(_) => coded(HEADER_MISMATCH),
            Error::UnsupportedProtocolVersion { .. } => coded(UNSUPPORTED_PROTOCOL_VERSION),
            Error::MethodNotFound(_) => coded(jsonrpc::METHOD_NOT_FOUND),
            Error::Internal(_) => coded(jsonrpc::INTERNAL_ERROR),
            Error::SessionIdRequired(_) | Error::CannotResume(_) => (400, jsonrpc::SERVER_ERROR),
            Error::Unauthorized(_) => (401, jsonrpc::SERVER_ERROR),
            Error::Forbidden(_) => (403, jsonrpc::SERVER_ERROR),
            Error::UnknownSession | Error::SessionEndedByShutdown => (404, UNKNOWN_SESSION),
            Error::StreamEnded | Error::NoRoute(_) | Error::TransportNotOffered => {
                (404, jsonrpc::SERVER_ERROR)
            }
            Error::WrongMethod { .. } => (405, jsonrpc::SERVER_ERROR),
            Error::NotAcceptable(_) => (406, jsonrpc::SERVER_ERROR),
            Error::StreamConflict => (409, jsonrpc::SERVER_ERROR),
            Error::UnsupportedMediaType => (415, jsonrpc::SERVER_ERROR),
            Error::TooManySessions { .. }
            | Error::TooManyRequests(_)
            | Error::BackendUnavailable(_)
            | Error::Draining => (503, jsonrpc::SERVER_ERROR),
        }
    }

    /// The JSON-RPC error object: code, message and data (the supported revisions of -32022),
    /// for transports without HTTP (stdio) and for errors inside a batch or stream.
    pub fn object(&self) -> ErrorObject {
        let error = ErrorObject::new(self.wire().1, self.to_string());
        match self {
            Error::UnsupportedProtocolVersion {
                requested,
                supported,
                ..
            } => error.with_data(json!({"supported": supported, "requested": requested})),
            _ => error,
        }
    }

    /// The HTTP answer: status, JSON-RPC error body (with `id` when known) and the headers the
    /// status calls for (`Retry-After`, `Allow`, `WWW-Authenticate`).
    pub fn reply(&self, id: Option<Id>) -> Reply {
        let error = self.object();
        let reply = Reply {
            status: self.wire().0,
            headers: Vec::new(),
            body: ReplyBody::Json(Message::Error { id, error }.to_json()),
        };
        match self {
            Error::TooManySessions { retry_after, .. } => {
                reply.with_header("Retry-After", retry_after.to_string())
            }
            Error::TooManyRequests(_) | Error::Draining => {
                reply.with_header("Retry-After", "1".to_string())
            }
            Error::WrongMethod { allow, .. } => reply.with_header("Allow", allow.to_string()),
            Error::Unauthorized(challenge) => {
                reply.with_header("WWW-Authenticate", challenge.to_string())
            }
            _ => reply,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotAcceptable(what) => write!(f, "Not Acceptable: Accept must list {what}"),
            Error::UnsupportedMediaType => {
                f.write_str("Unsupported Media Type: Content-Type must be application/json")
            }
            Error::BodyNotJson(e) => write!(f, "Parse error: {e}"),
            Error::InvalidRequest(what) => write!(f, "Invalid Request: {what}"),
            Error::InvalidParams(what) => write!(f, "Invalid params: {what}"),
            Error::HeaderMismatch(what) => write!(f, "Header mismatch: {what}"),
            Error::SessionIdRequired(what) => write!(f, "Bad Request: {what} is required"),
            Error::UnknownSession => f.write_str("Not Found: session does not exist or has ended"),
            Error::SessionEndedByShutdown => f.write_str(
                "Not Found: session ended (this mcpd instance is stopping); re-initialize",
            ),
            Error::StreamEnded => f.write_str("Not Found: stream ended"),
            Error::CannotResume(what) => write!(f, "Bad Request: {what}"),
            Error::StreamConflict => {
                f.write_str("Conflict: this session already has a standalone stream open")
            }
            Error::WrongMethod { message, .. } => f.write_str(message),
            Error::NoRoute(path) => write!(f, "Not Found: no route for {path}"),
            Error::TransportNotOffered => f.write_str(
                "Not Found: the 2024-11-05 HTTP+SSE transport is not offered (--eras)",
            ),
            Error::UnsupportedProtocolVersion {
                requested,
                supported,
                asked_in,
            } => match asked_in {
                AskedIn::Header => write!(
                    f,
                    "Bad Request: unsupported MCP-Protocol-Version {requested:?}; supported: {}",
                    supported.join(", ")
                ),
                AskedIn::Meta => write!(f, "Unsupported protocol version {requested:?}"),
                AskedIn::NotOffered => write!(
                    f,
                    "Unsupported protocol version {requested:?}; this server offers {}",
                    supported.join(", ")
                ),
            },
            Error::MethodNotFound(message) => f.write_str(message),
            Error::Internal(what) => f.write_str(what),
            Error::TooManySessions { max, .. } => write!(
                f,
                "Service Unavailable: the session limit ({max}) is reached; raise --max-sessions or retry later"
            ),
            Error::TooManyRequests(cap) => write!(
                f,
                "Service Unavailable: {cap} requests are already in flight in this session"
            ),
            Error::BackendUnavailable(why) => write!(f, "Service Unavailable: {why}"),
            Error::Draining => f.write_str(
                "Service Unavailable: this mcpd instance is stopping (draining); retry",
            ),
            Error::Unauthorized(_) => f.write_str(
                "Unauthorized: send Authorization: Bearer <token> (mcpd runs with --auth-token)",
            ),
            Error::Forbidden(what) => write!(f, "Forbidden: {what}"),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_maps_to_its_status_and_code() {
        let table: &[(Error, u16, i64)] = &[
            (Error::NotAcceptable("x"), 406, -32000),
            (Error::UnsupportedMediaType, 415, -32000),
            (Error::BodyNotJson("x".into()), 400, -32700),
            (Error::InvalidRequest("x"), 400, -32600),
            (Error::InvalidParams("x".into()), 400, -32602),
            (Error::HeaderMismatch("x".into()), 400, -32020),
            (Error::SessionIdRequired("x"), 400, -32000),
            (Error::UnknownSession, 404, -32001),
            (Error::SessionEndedByShutdown, 404, -32001),
            (Error::StreamEnded, 404, -32000),
            (Error::CannotResume("x"), 400, -32000),
            (Error::StreamConflict, 409, -32000),
            (
                Error::WrongMethod {
                    message: "x".into(),
                    allow: "POST",
                },
                405,
                -32000,
            ),
            (Error::NoRoute("/x".into()), 404, -32000),
            (Error::TransportNotOffered, 404, -32000),
            (
                Error::UnsupportedProtocolVersion {
                    requested: "v".into(),
                    supported: vec![],
                    asked_in: AskedIn::Meta,
                },
                400,
                -32022,
            ),
            (Error::MethodNotFound("x".into()), 404, -32601),
            (Error::Internal("x"), 500, -32603),
            (
                Error::TooManySessions {
                    max: 1,
                    retry_after: 5,
                },
                503,
                -32000,
            ),
            (Error::TooManyRequests(1), 503, -32000),
            (Error::BackendUnavailable("x".into()), 503, -32000),
            (Error::Draining, 503, -32000),
            (Error::Unauthorized("Bearer"), 401, -32000),
            (Error::Forbidden("x".into()), 403, -32000),
        ];
        for (error, status, code) in table {
            assert_eq!(error.wire(), (*status, *code), "{error:?}");
            let reply = error.reply(Some(Id::Number(7.into())));
            assert_eq!(reply.status, *status, "{error:?}");
            assert_eq!(error.object().code, *code, "{error:?}");
            assert_eq!(error.object().message, error.to_string());
            // A code the handler may return too gets the same status from the code alone.
            if status_for_code(*code) != 200 {
                assert_eq!(status_for_code(*code), *status, "{error:?}");
            }
        }
    }

    #[test]
    fn handler_codes_map_to_the_stateless_statuses() {
        for (code, status) in [
            (-32700, 400),
            (-32600, 400),
            (-32602, 400),
            (-32020, 400),
            (-32021, 400),
            (-32022, 400),
            (-32601, 404),
            (-32603, 500),
            (-32000, 200),
            (-32001, 200),
            (-32002, 200),
            (1, 200),
        ] {
            assert_eq!(status_for_code(code), status, "{code}");
        }
    }

    #[test]
    fn unsupported_versions_say_where_they_were_asked() {
        let error = |asked_in| Error::UnsupportedProtocolVersion {
            requested: "1999-01-01".into(),
            supported: vec!["2025-06-18", "2025-11-25"],
            asked_in,
        };
        assert_eq!(
            error(AskedIn::Header).to_string(),
            "Bad Request: unsupported MCP-Protocol-Version \"1999-01-01\"; supported: \
             2025-06-18, 2025-11-25"
        );
        assert_eq!(
            error(AskedIn::Meta).to_string(),
            "Unsupported protocol version \"1999-01-01\""
        );
        assert_eq!(
            error(AskedIn::NotOffered).to_string(),
            "Unsupported protocol version \"1999-01-01\"; this server offers 2025-06-18, \
             2025-11-25"
        );
    }

    #[test]
    fn replies_carry_the_headers_and_data_their_status_needs() {
        let limit = Error::TooManySessions {
            max: 2,
            retry_after: 5,
        };
        assert!(limit
            .reply(None)
            .headers
            .contains(&("Retry-After", "5".into())));
        let wrong = Error::WrongMethod {
            message: "Method Not Allowed".into(),
            allow: "GET, POST",
        };
        assert!(wrong
            .reply(None)
            .headers
            .contains(&("Allow", "GET, POST".into())));
        let version = Error::UnsupportedProtocolVersion {
            requested: "1999-01-01".into(),
            supported: vec!["2025-06-18"],
            asked_in: AskedIn::Header,
        };
        let ReplyBody::Json(body) = version.reply(None).body else {
            panic!("not JSON");
        };
        let body: serde_json::Value = serde_json::from_str(&body).expect("JSON body");
        assert_eq!(body["error"]["code"], -32022);
        assert_eq!(body["error"]["data"]["supported"][0], "2025-06-18");
        assert_eq!(body["error"]["data"]["requested"], "1999-01-01");
    }
}
