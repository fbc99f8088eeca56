//! JSON-RPC 2.0 messages as MCP uses them.
//!
//! MCP narrows JSON-RPC: request ids are strings or integers and never null (MCP basic/index,
//! "Requests"), params are objects, notifications have no `id`. Ids keep their JSON type so a
//! reply echoes `"1"` as a string and `1` as a number.
//!
//! Parsing takes a `serde_json::Value` so callers can tell an unparseable body (-32700) from a
//! well-formed value that is not a JSON-RPC message (-32600).

use serde_json::value::RawValue;
use serde_json::{Map, Number, Value};
use std::fmt;

mod envelope;
pub(crate) mod params;
mod scan;
pub(crate) mod text;

pub use params::Params;

/// Appends the JSON text of a value, a `str` or a number (serde_json's compact writer, which
/// cannot fail into a Vec).
macro_rules! write_value {
    ($out:expr, $value:expr) => {
        if let Err(e) = serde_json::to_writer(&mut *$out, $value) {
            unreachable!("serializing into a Vec cannot fail: {e}");
        }
    };
}

/// Invalid JSON was received (JSON-RPC 2.0 section 5.1).
pub const PARSE_ERROR: i64 = -32700;
/// The JSON sent is not a valid request object.
pub const INVALID_REQUEST: i64 = -32600;
/// The method does not exist or is not available.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// Invalid method parameters (MCP also uses it for unknown tools, prompts and log levels).
pub const INVALID_PARAMS: i64 = -32602;
/// Internal JSON-RPC error (a handler failed, a child died).
pub const INTERNAL_ERROR: i64 = -32603;
/// Resource not found, MCP 2024-11-05 to 2025-11-25 (server/resources "Error Handling").
pub const RESOURCE_NOT_FOUND: i64 = -32002;
/// Transport-level refusal in the implementation-defined range, as the reference SDKs use it
/// (bad `Accept`, missing session, limits).
pub const SERVER_ERROR: i64 = -32000;
/// A request that got no answer in time: the code the reference TypeScript SDK uses for its own
/// request timeouts (`ErrorCode.RequestTimeout`), so clients already know it.
pub const REQUEST_TIMEOUT: i64 = -32001;

/// A request id: MCP allows a string or an integer, never null.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Id {
    /// An integer id, kept as the JSON number it was (i64 or u64 range).
    Number(Number),
    /// A string id.
    String(String),
}

impl Id {
    /// Reads an id; `None` for null, floats, booleans, arrays and objects.
    pub fn from_value(value: &Value) -> Option<Id> {
        match value {
            Value::Number(n) if n.is_i64() || n.is_u64() => Some(Id::Number(n.clone())),
            Value::String(s) => Some(Id::String(s.clone())),
            _ => None,
        }
    }

    /// The id as JSON, with its original type.
    pub fn to_value(&self) -> Value {
        match self {
            Id::Number(n) => Value::Number(n.clone()),
            Id::String(s) => Value::String(s.clone()),
        }
    }
}

impl From<u64> for Id {
    fn from(n: u64) -> Id {
        Id::Number(Number::from(n))
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Id::Number(n) => write!(f, "{n}"),
            Id::String(s) => write!(f, "{s:?}"),
        }
    }
}

/// The error member of an error response.
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorObject {
    /// JSON-RPC or MCP error code.
    pub code: i64,
    /// One sentence saying what went wrong.
    pub message: String,
    /// Extra detail (for example a child's stderr tail, or supported versions).
    pub data: Option<Value>,
}

impl ErrorObject {
    /// An error without data.
    pub fn new(code: i64, message: impl Into<String>) -> ErrorObject {
        ErrorObject {
            code,
            message: message.into(),
            data: None,
        }
    }

    /// The same error with `data` attached.
    pub fn with_data(mut self, data: Value) -> ErrorObject {
        self.data = Some(data);
        self
    }

    /// Appends the error object as JSON text, members sorted as in [`ErrorObject::to_value`].
    fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"code\":");
        write_value!(out, &self.code);
        if let Some(data) = &self.data {
            out.extend_from_slice(b",\"data\":");
            write_value!(out, data);
        }
        out.extend_from_slice(b",\"message\":");
        write_value!(out, self.message.as_str());
        out.push(b'}');
    }

    /// The error object as JSON.
    pub fn to_value(&self) -> Value {
        let mut map = Map::new();
        map.insert("code".into(), Value::from(self.code));
        map.insert("message".into(), Value::from(self.message.clone()));
        if let Some(data) = &self.data {
            map.insert("data".into(), data.clone());
        }
        Value::Object(map)
    }
}

/// One JSON-RPC message.
#[derive(Clone, Debug, PartialEq)]
pub enum Message {
    /// A call that expects a response.
    Request {
        /// Echoed on the response.
        id: Id,
        /// Method name.
        method: String,
        /// Parameters object, if any.
        params: Option<Params>,
    },
    /// A one-way message; never answered.
    Notification {
        /// Method name.
        method: String,
        /// Parameters object, if any.
        params: Option<Params>,
    },
    /// A successful response to a request the receiver sent earlier.
    Response {
        /// Id of the request answered.
        id: Id,
        /// The result value.
        result: Value,
    },
    /// An error response; `id` is absent when the request's id could not be read.
    Error {
        /// Id of the request answered, if known.
        id: Option<Id>,
        /// What went wrong.
        error: ErrorObject,
    },
}

/// Why a JSON value is not a JSON-RPC message: answered with -32600 and the id when readable.
#[derive(Clone, Debug, PartialEq)]
pub struct Invalid {
    /// The request's id, when it could be read.
    pub id: Option<Id>,
    /// What is wrong, for the error message.
    pub reason: &'static str,
}

impl Invalid {
    /// The -32600 error object for this failure.
    pub fn to_error(&self) -> ErrorObject {
        ErrorObject::new(INVALID_REQUEST, format!("Invalid Request: {}", self.reason))
    }
}

impl Message {
    /// Classifies a JSON value as a JSON-RPC 2.0 message under MCP's rules.
    pub fn from_value(value: Value) -> Result<Message, Invalid> {
        let Value::Object(obj) = value else {
            return Err(Invalid {
                id: None,
                reason: "a message must be a JSON object",
            });
        };
        // One pass over the members (each key occurs once in a Map) instead of a lookup and a
        // removal per member: this runs for every message.
        let mut members = Members::default();
        for (key, member) in obj {
            members.set(&key, member);
        }
        members.classify()
    }
}

/// The members of one message object that classification looks at, as read: the last one wins
/// when a key repeats, as in serde_json's `Map`. Filled from a `Value` map
/// ([`Message::from_value`]) or straight from the text (`envelope`), then classified by the
/// same code, so both accept and reject the same messages.
#[derive(Default)]
struct Members {
    id: Option<Value>,
    version_ok: bool,
    method: Option<Value>,
    params: Option<params::Member>,
    result: Option<Value>,
    error: Option<Value>,
}

impl Members {
    /// Records member `key`; other keys are ignored.
    fn set(&mut self, key: &str, member: Value) {
        match key {
            "id" => self.id = Some(member),
            "jsonrpc" => self.version_ok = member.as_str() == Some("2.0"),
            "params" => self.params = Some(params::Member::from_value(member)),
            "method" => self.method = Some(member),
            "result" => self.result = Some(member),
            "error" => self.error = Some(member),
            _ => {}
        }
    }

    /// The message these members make under MCP's rules, or why they make none.
    fn classify(self) -> Result<Message, Invalid> {
        let Members {
            id: raw_id,
            version_ok,
            method,
            params,
            result,
            error,
        } = self;
        // Taken by value (a string id is moved, not copied); `bad_id` when present but unusable.
        let (id, bad_id) = match raw_id {
            None => (None, false),
            Some(Value::Number(n)) if n.is_i64() || n.is_u64() => (Some(Id::Number(n)), false),
            Some(Value::String(s)) => (Some(Id::String(s)), false),
            Some(_) => (None, true),
        };
        let invalid = |reason| {
            Err(Invalid {
                id: id.clone(),
                reason,
            })
        };
        if !version_ok {
            return invalid("\"jsonrpc\" must be \"2.0\"");
        }
        if bad_id {
            return invalid("\"id\" must be a string or an integer");
        }
        let params = match params {
            None => None,
            Some(params::Member::Object(params)) => Some(params),
            Some(params::Member::Other) => return invalid("\"params\" must be an object"),
        };
        if let Some(method) = method {
            let Value::String(method) = method else {
                return invalid("\"method\" must be a string");
            };
            if result.is_some() || error.is_some() {
                return invalid("a request must not carry \"result\" or \"error\"");
            }
            return Ok(match id {
                Some(id) => Message::Request { id, method, params },
                None => Message::Notification { method, params },
            });
        }
        if params.is_some() {
            return invalid("\"params\" without \"method\"");
        }
        match (result, error) {
            (Some(result), None) => match id {
                Some(id) => Ok(Message::Response { id, result }),
                None => invalid("a response must carry an \"id\""),
            },
            (None, Some(error)) => match parse_error_object(error) {
                Some(error) => Ok(Message::Error { id, error }),
                None => invalid("\"error\" must have an integer \"code\" and a string \"message\""),
            },
            (Some(_), Some(_)) => invalid("a response carries \"result\" or \"error\", not both"),
            (None, None) => invalid("neither \"method\", \"result\" nor \"error\""),
        }
    }
}

impl Message {
    /// The message as JSON.
    /// (Tests and the `jsonrpc_message` fuzz target compare through it; answers use
    /// [`Message::to_json`].)
    #[cfg(any(test, fuzzing))]
    pub fn to_value(&self) -> Value {
        let mut map = Map::new();
        map.insert("jsonrpc".into(), Value::from("2.0"));
        match self {
            Message::Request { id, method, params } => {
                map.insert("id".into(), id.to_value());
                map.insert("method".into(), Value::from(method.clone()));
                if let Some(p) = params {
                    map.insert("params".into(), (**p).clone());
                }
            }
            Message::Notification { method, params } => {
                map.insert("method".into(), Value::from(method.clone()));
                if let Some(p) = params {
                    map.insert("params".into(), (**p).clone());
                }
            }
            Message::Response { id, result } => {
                map.insert("id".into(), id.to_value());
                map.insert("result".into(), result.clone());
            }
            Message::Error { id, error } => {
                // MCP 2025-11-25 schema: `id` is omitted when it could not be read.
                if let Some(id) = id {
                    map.insert("id".into(), id.to_value());
                }
                map.insert("error".into(), error.to_value());
            }
        }
        Value::Object(map)
    }

    /// The message serialised on one line (no raw newlines: safe for SSE data and stdio).
    ///
    /// Members in the sorted order of serde_json's map, written straight from the parts: no
    /// `Value` tree is built and no result is cloned (the answer to every request comes through
    /// here). A response or error is byte for byte what `encode(&self.to_value())` gives; params
    /// go out as their text, as received (a proxy forwards them unchanged).
    pub fn to_json(&self) -> String {
        let mut out = Vec::with_capacity(128);
        self.write_json(&mut out);
        // Only JSON text (literals, serde_json output and checked params text) was written.
        String::from_utf8(out).unwrap_or_else(|e| unreachable!("JSON text is UTF-8: {e}"))
    }

    /// Appends the message as one line of JSON to `out` (see [`Message::to_json`]).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        // Keys in sorted order: error < id < jsonrpc < method < params < result.
        match self {
            Message::Request { id, method, params } => {
                out.extend_from_slice(b"{\"id\":");
                write_id(out, id);
                out.extend_from_slice(b",\"jsonrpc\":\"2.0\",\"method\":");
                write_value!(out, method.as_str());
                if let Some(p) = params {
                    out.extend_from_slice(b",\"params\":");
                    out.extend_from_slice(p.as_str().as_bytes());
                }
            }
            Message::Notification { method, params } => {
                out.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"method\":");
                write_value!(out, method.as_str());
                if let Some(p) = params {
                    out.extend_from_slice(b",\"params\":");
                    out.extend_from_slice(p.as_str().as_bytes());
                }
            }
            Message::Response { id, result } => {
                out.extend_from_slice(b"{\"id\":");
                write_id(out, id);
                out.extend_from_slice(b",\"jsonrpc\":\"2.0\",\"result\":");
                write_value!(out, result);
            }
            Message::Error { id, error } => {
                out.extend_from_slice(b"{\"error\":");
                error.write_json(out);
                // MCP 2025-11-25 schema: `id` is omitted when it could not be read.
                if let Some(id) = id {
                    out.extend_from_slice(b",\"id\":");
                    write_id(out, id);
                }
                out.extend_from_slice(b",\"jsonrpc\":\"2.0\"");
            }
        }
        out.push(b'}');
    }

    /// The method of a request or notification (for the fuzz target's checks).
    #[cfg(fuzzing)]
    pub fn method(&self) -> Option<&str> {
        match self {
            Message::Request { method, .. } | Message::Notification { method, .. } => Some(method),
            _ => None,
        }
    }
}

fn parse_error_object(value: Value) -> Option<ErrorObject> {
    let Value::Object(mut obj) = value else {
        return None;
    };
    let code = obj.get("code")?.as_i64()?;
    let message = obj.get("message")?.as_str()?.to_string();
    Some(ErrorObject {
        code,
        message,
        data: obj.remove("data"),
    })
}

fn write_id(out: &mut Vec<u8>, id: &Id) {
    match id {
        Id::Number(n) => write_value!(out, n),
        Id::String(s) => write_value!(out, s.as_str()),
    }
}

/// A result already encoded as JSON text, for [`crate::mcp::Context::respond_raw`]: a proxy
/// forwarding what upstream sent, or a fixed answer kept as text, reaches the wire without a
/// [`Value`] tree being built and serialized again. Holds exactly one JSON value on one line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawResult(String);

impl RawResult {
    /// Checks that `json` is one JSON value. Text with line breaks between its tokens is
    /// re-encoded compactly, since a raw line break would split an SSE event or a stdio line.
    pub fn new(json: String) -> Result<RawResult, serde_json::Error> {
        serde_json::from_str::<&RawValue>(&json)?;
        if json.bytes().any(|b| b == b'\n' || b == b'\r') {
            let value: Value = serde_json::from_str(&json)?;
            return Ok(RawResult(value.to_string()));
        }
        Ok(RawResult(json))
    }

    /// Text mcpd wrote itself with serde_json's escaping: one value on one line already, so
    /// it is not parsed again (the built-in tools' answers).
    pub(crate) fn encoded(json: String) -> RawResult {
        debug_assert!(serde_json::from_str::<&RawValue>(&json).is_ok() && !json.contains('\n'));
        RawResult(json)
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The result as a value, for the few answers a transport edits (`initialize`, 2026-07-28
    /// results) and for tests. Fails for JSON text that a `Value` cannot hold although it is
    /// well-formed: a lone surrogate escape (`"\ud800"`) or a number past `f64` (`1e400`).
    pub fn to_value(&self) -> Result<Value, serde_json::Error> {
        serde_json::from_str(&self.0)
    }
}

/// A handler's successful answer: a value, or JSON text it already had.
#[derive(Debug)]
pub(crate) enum Answer {
    /// A result built as a value.
    Value(Value),
    /// A result already encoded as JSON text.
    Raw(RawResult),
}

impl Answer {
    /// The answer as a value, for the few answers a transport edits: raw text is parsed back,
    /// and text a `Value` cannot hold becomes an internal error rather than a lost result.
    pub fn into_value(self) -> Result<Value, ErrorObject> {
        match self {
            Answer::Value(value) => Ok(value),
            Answer::Raw(raw) => raw.to_value().map_err(|e| {
                let why = format!("the handler's result cannot be read as a JSON value: {e}");
                ErrorObject::new(INTERNAL_ERROR, why)
            }),
        }
    }
}

/// The response to `id` carrying `answer` as one line of JSON, byte for byte what
/// [`Message::to_json`] gives for the same result; raw text is copied as is.
pub(crate) fn response_json(id: Id, answer: Answer) -> String {
    match answer {
        Answer::Raw(raw) => {
            let mut out = String::with_capacity(raw.0.len() + 40);
            out.push_str("{\"id\":");
            match &id {
                Id::Number(n) => text::push_number(&mut out, n),
                Id::String(s) => text::push_string(&mut out, s),
            }
            out.push_str(",\"jsonrpc\":\"2.0\",\"result\":");
            out.push_str(&raw.0);
            out.push('}');
            out
        }
        Answer::Value(result) => Message::Response { id, result }.to_json(),
    }
}

/// JSON text of `value` through serde_json's byte writer, cheaper than `Display`, which sends
/// every token through `fmt::Write` (14% of the instructions of a `tools/call`, bench/RESULTS.md).
#[cfg(test)]
pub fn encode(value: &Value) -> String {
    // Serializing a Value cannot fail: its map keys are strings and the writer is a Vec.
    serde_json::to_string(value).unwrap_or_else(|e| unreachable!("a Value serializes: {e}"))
}

/// A POST body: one message or (MCP 2025-03-26 only) a batch.
#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    /// One message, or the reason it is not one.
    Single(Result<Message, Invalid>),
    /// A JSON array; each element classified on its own (JSON-RPC 2.0 section 6).
    Batch(Vec<Result<Message, Invalid>>),
}

/// Parses a body. `Err` means the bytes are not JSON at all (-32700).
pub fn parse_body(bytes: &[u8]) -> Result<Body, serde_json::Error> {
    // Read as text when it is UTF-8 (checked once here) rather than as bytes, which serde_json
    // checks again string by string; same values and errors. Other bytes take the byte reader
    // for its own error.
    let value: Value = match std::str::from_utf8(bytes) {
        Ok(text) => match envelope::parse_plain(text) {
            Some(body) => return Ok(body),
            None => serde_json::from_str(text)?,
        },
        Err(_) => serde_json::from_slice(bytes)?,
    };
    Ok(match value {
        Value::Array(items) => Body::Batch(items.into_iter().map(Message::from_value).collect()),
        other => Body::Single(Message::from_value(other)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn classify(v: Value) -> Result<Message, Invalid> {
        Message::from_value(v)
    }

    #[test]
    fn ids_keep_their_json_type() {
        let m = classify(json!({"jsonrpc":"2.0","id":"1","method":"ping"})).unwrap();
        assert_eq!(m.to_value()["id"], json!("1"));
        let m = classify(json!({"jsonrpc":"2.0","id":1,"method":"ping"})).unwrap();
        assert_eq!(m.to_value()["id"], json!(1));
    }

    #[test]
    fn null_float_and_bool_ids_are_invalid() {
        for id in [json!(null), json!(1.5), json!(true), json!([1])] {
            let err = classify(json!({"jsonrpc":"2.0","id":id,"method":"ping"})).unwrap_err();
            assert_eq!(err.id, None, "{id}");
        }
    }

    #[test]
    fn classification_table() {
        let cases: &[(Value, &str)] = &[
            (
                json!({"jsonrpc":"2.0","id":3,"method":"m","params":{}}),
                "request",
            ),
            (json!({"jsonrpc":"2.0","method":"m"}), "notification"),
            (json!({"jsonrpc":"2.0","id":3,"result":{}}), "response"),
            (
                json!({"jsonrpc":"2.0","id":3,"error":{"code":1,"message":"x"}}),
                "error",
            ),
            (
                json!({"jsonrpc":"2.0","error":{"code":1,"message":"x"}}),
                "error",
            ),
            (json!({"jsonrpc":"1.0","id":3,"method":"m"}), "invalid"),
            (json!({"id":3,"method":"m"}), "invalid"),
            (json!({"jsonrpc":"2.0","id":3,"method":7}), "invalid"),
            (
                json!({"jsonrpc":"2.0","id":3,"method":"m","params":[1]}),
                "invalid",
            ),
            (json!({"jsonrpc":"2.0","result":{}}), "invalid"),
            (
                json!({"jsonrpc":"2.0","id":3,"result":{},"error":{"code":1,"message":"x"}}),
                "invalid",
            ),
            (
                json!({"jsonrpc":"2.0","id":3,"error":{"code":"1","message":"x"}}),
                "invalid",
            ),
            (json!({"jsonrpc":"2.0","id":3}), "invalid"),
            (json!([]), "invalid"),
            (json!("hello"), "invalid"),
        ];
        for (value, want) in cases {
            let got = match classify(value.clone()) {
                Ok(Message::Request { .. }) => "request",
                Ok(Message::Notification { .. }) => "notification",
                Ok(Message::Response { .. }) => "response",
                Ok(Message::Error { .. }) => "error",
                Err(_) => "invalid",
            };
            assert_eq!(got, *want, "{value}");
        }
    }

    #[test]
    fn invalid_request_keeps_readable_id() {
        let err = classify(json!({"jsonrpc":"1.0","id":"abc","method":"m"})).unwrap_err();
        assert_eq!(err.id, Some(Id::String("abc".into())));
        assert_eq!(err.to_error().code, INVALID_REQUEST);
    }

    #[test]
    fn encode_then_parse_round_trips() {
        let messages = [
            Message::Request {
                id: Id::from(7),
                method: "tools/call".into(),
                params: Some(json!({"a":1}).into()),
            },
            Message::Notification {
                method: "notifications/initialized".into(),
                params: None,
            },
            Message::Response {
                id: Id::String("x".into()),
                result: json!({}),
            },
            Message::Error {
                id: None,
                error: ErrorObject::new(PARSE_ERROR, "Parse error"),
            },
            Message::Error {
                id: Some(Id::from(1)),
                error: ErrorObject::new(INTERNAL_ERROR, "boom").with_data(json!({"stderr":"x"})),
            },
        ];
        for m in messages {
            let back = parse_body(m.to_json().as_bytes()).unwrap();
            assert_eq!(back, Body::Single(Ok(m)));
        }
    }

    #[test]
    fn to_json_is_the_text_of_to_value() {
        let odd = "quote \" backslash \\ newline \n tab \t nul \u{0} é \u{1F600}";
        let messages = [
            Message::Request {
                id: Id::String(odd.into()),
                method: odd.into(),
                params: Some(json!({"z":[1,2.5,null,true],"a":{"b":odd}}).into()),
            },
            Message::Request {
                id: Id::from(u64::MAX),
                method: "m".into(),
                params: None,
            },
            Message::Notification {
                method: "notifications/progress".into(),
                params: Some(json!({"progress":1,"total":-2}).into()),
            },
            Message::Notification {
                method: "n".into(),
                params: None,
            },
            Message::Response {
                id: Id::Number((-7i64).into()),
                result: json!({"content":[{"type":"text","text":odd}],"isError":false}),
            },
            Message::Error {
                id: None,
                error: ErrorObject::new(PARSE_ERROR, odd),
            },
            Message::Error {
                id: Some(Id::String("x".into())),
                error: ErrorObject::new(INTERNAL_ERROR, "boom").with_data(json!({"stderr":odd})),
            },
        ];
        for m in messages {
            assert_eq!(m.to_json(), encode(&m.to_value()), "{m:?}");
        }
    }

    #[test]
    fn a_raw_result_is_one_json_value_on_one_line() {
        for bad in ["", "{", "{} {}", "[1,]", "nul", "\"open"] {
            assert!(RawResult::new(bad.into()).is_err(), "{bad:?}");
        }
        let kept = RawResult::new(" {\"a\": [1, \"x\"]}\t".into()).unwrap();
        assert_eq!(kept.as_str(), " {\"a\": [1, \"x\"]}\t");
        // A line break between tokens would split an SSE event or a stdio line.
        let folded = RawResult::new("{\r\n  \"b\": 2,\n  \"a\": \"x\\ny\"\n}".into()).unwrap();
        assert_eq!(folded.as_str(), r#"{"a":"x\ny","b":2}"#);
        assert_eq!(folded.to_value().unwrap(), json!({"a": "x\ny", "b": 2}));
        // Well-formed, but more than a `Value` holds: kept as text, refused where it is edited.
        for odd in [r#"{"t":"\ud800"}"#, r#"{"n":1e400}"#] {
            let raw = RawResult::new(odd.into()).unwrap();
            assert_eq!(raw.as_str(), odd);
            let error = Answer::Raw(raw).into_value().unwrap_err();
            assert_eq!(error.code, INTERNAL_ERROR, "{odd}");
        }
    }

    #[test]
    fn a_raw_response_is_the_text_of_the_same_value_response() {
        let odd = "quote \" backslash \\ newline \n é \u{1F600}";
        let result = json!({"content":[{"type":"text","text":odd}],"isError":false});
        for id in [
            Id::String(odd.into()),
            Id::from(u64::MAX),
            Id::Number((-7i64).into()),
        ] {
            let raw = RawResult::new(encode(&result)).unwrap();
            let by_value = Message::Response {
                id: id.clone(),
                result: result.clone(),
            };
            assert_eq!(
                response_json(id.clone(), Answer::Raw(raw)),
                by_value.to_json()
            );
            let value = Answer::Value(result.clone());
            assert_eq!(response_json(id, value), by_value.to_json());
        }
    }

    #[test]
    fn bodies_split_into_single_batch_and_parse_error() {
        assert!(parse_body(b"{not json").is_err());
        assert!(parse_body(b"").is_err());
        match parse_body(br#"[{"jsonrpc":"2.0","method":"a"}, 5]"#).unwrap() {
            Body::Batch(items) => {
                assert!(items[0].is_ok());
                assert!(items[1].is_err());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn error_without_id_omits_the_member() {
        let m = Message::Error {
            id: None,
            error: ErrorObject::new(PARSE_ERROR, "Parse error"),
        };
        assert!(m.to_value().get("id").is_none());
    }
}
