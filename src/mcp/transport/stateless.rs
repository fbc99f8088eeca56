//! Stateless Streamable HTTP (MCP 2026-07-28, `basic/transports/streamable-http`): one POST,
//! one answer, no session.
//!
//! A POST goes this way when its `MCP-Protocol-Version` names no handshake-era revision, or, if
//! the header is absent, when its body is `server/discover` or carries a per-request protocol
//! version in `_meta` (MCP versioning, "dual-era" servers choose per request).
//!
//! Before the handler sees a request it passes the validation ladder, first failure wins, each
//! a 400 with a JSON-RPC error echoing the request id: `_meta` lacks the protocol version or the
//! client capabilities (-32602); the header differs from `_meta` (-32020); `Mcp-Method` differs
//! from the method (-32020); `Mcp-Name` differs from `params.name`/`params.uri` (-32020); the
//! revision is not supported (-32022 with the supported list); an `Mcp-Param-*` value is not
//! valid `=?base64?...?=` (-32020). Methods the revision removed get 404 with -32601.
//!
//! The handler then runs in a session that lives for this one request (its key is forgotten
//! when the answer is out). Closing the response stream cancels the request. Results get the
//! `resultType` every 2026 result carries, and cacheable results `ttlMs`/`cacheScope`, when the
//! handler left them out. `subscriptions/listen` is answered here: an event stream that starts
//! with `notifications/subscriptions/acknowledged` and then carries the list-change and
//! resource-update notifications it asked for, each tagged with its subscription id.

use super::{Action, Reply, ReplyBody, ResponseMode, Transport};
use crate::http::{Field, RequestHead};
use crate::mcp::error::{AskedIn, Error};
use crate::mcp::handler::{Handler, SessionKey, SessionView};
use crate::mcp::jsonrpc::{Body, Id, Message, Params};
use crate::mcp::transport::session::{
    stream_mut, ConnId, Delivery, Lifecycle, Session, SessionKind, Stream, StreamNo,
};
use crate::mcp::version;
use serde_json::{json, Map, Value};
use std::time::Instant;

/// JSON-RPC code for a header that disagrees with the body (MCP 2026-07-28 `HeaderMismatch`).
pub const HEADER_MISMATCH: i64 = -32020;
/// JSON-RPC code for a capability the client did not declare.
pub const MISSING_CAPABILITY: i64 = -32021;
/// JSON-RPC code for a protocol revision the server does not implement.
pub const UNSUPPORTED_VERSION: i64 = -32022;

/// `_meta` keys of the 2026 request metadata.
pub const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
/// Client capabilities in `_meta`.
pub const META_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
/// Client info in `_meta`.
pub const META_CLIENT_INFO: &str = "io.modelcontextprotocol/clientInfo";
/// Subscription id in notifications of a listen stream.
pub const META_SUBSCRIPTION: &str = "io.modelcontextprotocol/subscriptionId";

/// Methods 2026-07-28 removed; a stateless request for one gets 404 with -32601.
pub const REMOVED_METHODS: [&str; 5] = [
    "initialize",
    "ping",
    "logging/setLevel",
    "resources/subscribe",
    "resources/unsubscribe",
];

/// Results that carry caching hints (SEP-2549).
const CACHEABLE: [&str; 6] = [
    "server/discover",
    "tools/list",
    "prompts/list",
    "resources/list",
    "resources/templates/list",
    "resources/read",
];

/// Whether a POST takes the stateless path (the transport reads the header itself and asks
/// [`is_stateless_with`]).
#[cfg(test)]
pub fn is_stateless(head: &RequestHead, message: Option<&Message>) -> bool {
    is_stateless_with(head.header_str(Field::McpProtocolVersion), message)
}

/// [`is_stateless`] with the POST's `MCP-Protocol-Version` (as text) already read, so the
/// caller can check it too without a second lookup.
pub fn is_stateless_with(header: Option<&str>, message: Option<&Message>) -> bool {
    if let Some(v) = header {
        return version::is_modern(v);
    }
    match message {
        Some(Message::Request { method, params, .. }) => {
            is_stateless_request(method, params.as_ref())
        }
        _ => false,
    }
}

/// Whether a request without a version header is stateless by its body: `server/discover`, or
/// a 2026 protocol version in `_meta` (MCP versioning, "dual-era" servers choose per request).
pub fn is_stateless_request(method: &str, params: Option<&Params>) -> bool {
    method == "server/discover"
        || params
            .and_then(|p| p.get_str(&["_meta", META_VERSION]))
            .is_some_and(|v| version::is_modern(v.as_ref()))
}

/// Runs the validation ladder on a stateless request and returns the view its handler sees.
pub fn validate(
    head: &RequestHead,
    method: &str,
    params: Option<&Value>,
) -> Result<SessionView, Error> {
    let meta = request_meta(params)?;
    let requested = meta.version;
    let mismatch = |what: String| Err(Error::HeaderMismatch(what));
    match head.header_str(Field::McpProtocolVersion) {
        Some(v) if v == requested => {}
        Some(v) => {
            return mismatch(format!(
                "MCP-Protocol-Version {v:?} differs from _meta {requested:?}"
            ))
        }
        None => return mismatch("MCP-Protocol-Version header is required".into()),
    }
    match head.header_str(Field::McpMethod) {
        Some(m) if m == method => {}
        Some(m) => {
            return mismatch(format!(
                "Mcp-Method {m:?} differs from the method {method:?}"
            ))
        }
        None => return mismatch("Mcp-Method header is required".into()),
    }
    let name_key = match method {
        "tools/call" | "prompts/get" => Some("name"),
        "resources/read" => Some("uri"),
        _ => None,
    };
    if let Some(body_name) = name_key.and_then(|k| params?.get(k)?.as_str()) {
        match head.header_str(Field::McpName).map(decode_header_value) {
            Some(Some(h)) if h == body_name => {}
            Some(_) => return mismatch(format!("Mcp-Name differs from {body_name:?}")),
            None => return mismatch("Mcp-Name header is required".into()),
        }
    }
    check_supported(requested)?;
    let mut param_headers = Vec::new();
    for (field, field_value) in head.fields() {
        let lower = field.to_ascii_lowercase();
        let Some(name) = lower.strip_prefix("mcp-param-") else {
            continue;
        };
        let raw = std::str::from_utf8(field_value)
            .unwrap_or("")
            .trim_matches([' ', '\t']);
        let Some(value) = decode_header_value(raw) else {
            return mismatch(format!("{field} is not valid =?base64?...?= encoding"));
        };
        param_headers.push((name.to_string(), value));
    }
    Ok(SessionView {
        param_headers: Some(param_headers),
        ..meta.view()
    })
}

/// The ladder for a transport without headers (stdio): `_meta` complete (-32602), revision
/// supported (-32022). The view has no `Mcp-Param-*` headers to check.
pub fn validate_meta(params: Option<&Value>) -> Result<SessionView, Error> {
    let meta = request_meta(params)?;
    check_supported(meta.version)?;
    Ok(meta.view())
}

/// The per-request metadata every 2026 request carries in `_meta`.
struct RequestMeta<'a> {
    version: &'a str,
    capabilities: &'a Value,
    client_info: Option<&'a Value>,
}

impl RequestMeta<'_> {
    fn view(&self) -> SessionView {
        SessionView {
            protocol_version: self.version.to_string(),
            client_capabilities: self.capabilities.clone(),
            client_info: self.client_info.cloned().unwrap_or(Value::Null),
            ..SessionView::default()
        }
    }
}

/// Ladder steps 1 to 3: `_meta` with the protocol version and the client capabilities.
fn request_meta(params: Option<&Value>) -> Result<RequestMeta<'_>, Error> {
    let meta = params
        .and_then(|p| p.get("_meta"))
        .and_then(Value::as_object);
    let Some(meta) = meta else {
        return Err(Error::InvalidParams(
            "_meta with the request metadata is required".into(),
        ));
    };
    let Some(version) = meta.get(META_VERSION).and_then(Value::as_str) else {
        return Err(Error::InvalidParams(format!(
            "_meta[\"{META_VERSION}\"] is required"
        )));
    };
    let Some(capabilities) = meta.get(META_CAPABILITIES).filter(|c| c.is_object()) else {
        return Err(Error::InvalidParams(format!(
            "_meta[\"{META_CAPABILITIES}\"] is required"
        )));
    };
    Ok(RequestMeta {
        version,
        capabilities,
        client_info: meta.get(META_CLIENT_INFO),
    })
}

/// -32022 with the supported list unless this server implements `requested`.
fn check_supported(requested: &str) -> Result<(), Error> {
    if version::MODERN_SUPPORTED.contains(&requested) {
        return Ok(());
    }
    Err(Error::UnsupportedProtocolVersion {
        requested: requested.to_string(),
        supported: version::MODERN_SUPPORTED.to_vec(),
        asked_in: AskedIn::Meta,
    })
}

/// A header value: `=?base64?...?=` decoded (strict, padded), anything else literal.
pub fn decode_header_value(raw: &str) -> Option<String> {
    match raw
        .strip_prefix("=?base64?")
        .and_then(|r| r.strip_suffix("?="))
    {
        Some(encoded) => String::from_utf8(base64_decode(encoded)?).ok(),
        None => Some(raw.to_string()),
    }
}

/// Strict RFC 4648 base64: standard alphabet, padding required, no whitespace.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    let quads = bytes.chunks(4).count();
    for (i, quad) in bytes.chunks(4).enumerate() {
        let pad = quad.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && i + 1 != quads) {
            return None;
        }
        let mut n = 0u32;
        for &c in &quad[..4 - pad] {
            n = (n << 6) | value(c)?;
        }
        n <<= 6 * pad as u32;
        let decoded = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&decoded[..3 - pad]);
    }
    Some(out)
}

/// Adds what every 2026 result carries when the handler left it out.
pub fn decorate_result(method: &str, result: &mut Value) {
    let Some(fields) = result.as_object_mut() else {
        return;
    };
    fields
        .entry("resultType")
        .or_insert_with(|| Value::from("complete"));
    if CACHEABLE.contains(&method) {
        fields.entry("ttlMs").or_insert_with(|| Value::from(0));
        fields
            .entry("cacheScope")
            .or_insert_with(|| Value::from("private"));
    }
}

/// HTTP status of a stateless JSON answer carrying `code`: the one mapping in
/// [`crate::mcp::error`].
pub use crate::mcp::error::status_for_code as status_for;

/// What a `subscriptions/listen` stream asked for, cut to what this server can send.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Filter {
    /// `notifications/tools/list_changed`.
    pub tools: bool,
    /// `notifications/prompts/list_changed`.
    pub prompts: bool,
    /// `notifications/resources/list_changed`.
    pub resources: bool,
    /// `notifications/resources/updated` for these URIs.
    pub resource_uris: Vec<String>,
}

impl Filter {
    /// Reads `params.notifications` of a listen request, keeping at most `max_uris` resource
    /// URIs ([`crate::config::Limits::max_listen_uris`]).
    pub fn from_params(params: Option<&Value>, max_uris: usize) -> Filter {
        let asked = params.and_then(|p| p.get("notifications"));
        let flag = |name| {
            asked
                .and_then(|a| a.get(name))
                .and_then(Value::as_bool)
                .unwrap_or(false)
        };
        let uris = asked
            .and_then(|a| a.get("resourceSubscriptions"))
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(Value::as_str)
                    .take(max_uris)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        Filter {
            tools: flag("toolsListChanged"),
            prompts: flag("promptsListChanged"),
            resources: flag("resourcesListChanged"),
            resource_uris: uris,
        }
    }

    /// The accepted subset, as the acknowledgement states it.
    pub fn to_value(&self) -> Value {
        let mut map = Map::new();
        for (key, on) in [
            ("toolsListChanged", self.tools),
            ("promptsListChanged", self.prompts),
            ("resourcesListChanged", self.resources),
        ] {
            if on {
                map.insert(key.into(), Value::Bool(true));
            }
        }
        if !self.resource_uris.is_empty() {
            map.insert("resourceSubscriptions".into(), json!(self.resource_uris));
        }
        Value::Object(map)
    }

    /// Whether a notification belongs on this stream.
    pub fn wants(&self, method: &str, params: &Value) -> bool {
        match method {
            "notifications/tools/list_changed" => self.tools,
            "notifications/prompts/list_changed" => self.prompts,
            "notifications/resources/list_changed" => self.resources,
            "notifications/resources/updated" => params
                .get("uri")
                .and_then(Value::as_str)
                .is_some_and(|uri| self.resource_uris.iter().any(|u| u == uri)),
            _ => false,
        }
    }
}

/// A notification for a listen stream, tagged with its subscription id.
pub fn tagged(method: &str, params: &Value, subscription: &Id) -> String {
    let mut params = params.clone();
    if !params.is_object() {
        params = json!({});
    }
    if let Some(fields) = params.as_object_mut() {
        let meta = fields.entry("_meta").or_insert_with(|| json!({}));
        if let Some(meta) = meta.as_object_mut() {
            meta.insert(META_SUBSCRIPTION.into(), subscription.to_value());
        }
    }
    Message::Notification {
        method: method.to_string(),
        params: Some(params.into()),
    }
    .to_json()
}

/// A `subscriptions/listen` stream.
#[derive(Clone, Debug)]
pub struct Listener {
    /// The listen request's id, which is also the subscription id.
    pub id: Id,
    /// What it asked for.
    pub filter: Filter,
}

impl<H: Handler + ?Sized> Transport<H> {
    /// POST on the stateless path.
    pub(super) fn post_stateless(
        &mut self,
        conn: ConnId,
        head: &RequestHead,
        body: Body,
        now: Instant,
    ) -> Reply {
        let message = match body {
            Body::Batch(_) => {
                return Error::InvalidRequest("2026-07-28 has no batches").reply(None)
            }
            Body::Single(Err(invalid)) => return super::invalid_reply(&invalid),
            Body::Single(Ok(message)) => message,
        };
        let (id, method, params) = match message {
            Message::Request { id, method, params } => (id, method, params),
            // 2026-07-28 defines no client notifications over HTTP; accepting is harmless.
            Message::Notification { .. } => return Reply::empty(202),
            _ => {
                return Error::InvalidRequest("clients send no responses in 2026-07-28").reply(None)
            }
        };
        let requested = meta_str(params.as_deref(), META_VERSION).unwrap_or(version::MODERN);
        if let Some(reply) =
            super::eras::refuse_modern(&self.settings.eras, Some(id.clone()), requested)
        {
            return reply;
        }
        let view = match validate(head, &method, params.as_deref()) {
            Ok(view) => view,
            Err(error) => return error.reply(Some(id)),
        };
        if REMOVED_METHODS.contains(&method.as_str()) {
            let message = format!("Method not found: {method} is not part of 2026-07-28");
            return Error::MethodNotFound(message).reply(Some(id));
        }
        let key = self.open_ephemeral(view, now);
        if method == "subscriptions/listen" {
            let reply = self.listen(conn, key, id, params.as_deref());
            self.listened_changed();
            return reply;
        }
        let reply = self.exchange(
            conn,
            key,
            Body::Single(Ok(Message::Request { id, method, params })),
            None,
            now,
        );
        self.reap.push(key);
        reply
    }

    /// A session for one stateless request.
    fn open_ephemeral(&mut self, view: SessionView, now: Instant) -> SessionKey {
        let key = SessionKey(self.next_session);
        self.next_session += 1;
        let session = Session::new(key, String::new(), SessionKind::Stateless, view, 0, now);
        self.sessions.insert(key, session);
        key
    }

    /// `subscriptions/listen`: an event stream that stays open, acknowledged first.
    fn listen(&mut self, conn: ConnId, key: SessionKey, id: Id, params: Option<&Value>) -> Reply {
        let filter = Filter::from_params(params, self.settings.max_listen_uris);
        let Some(session) = self.sessions.get_mut(&key) else {
            return Error::Internal("listen session vanished").reply(Some(id));
        };
        let no = session.next_stream;
        session.next_stream += 1;
        let mut stream = Stream::new(Delivery::Sse, 0);
        stream.outstanding = 1;
        let stream = session.streams.entry(no).or_insert(stream);
        self.attached.attach(conn, key, no);
        self.attached.open(key, no, Vec::new());
        let ack = json!({"notifications": filter.to_value()});
        let ack = tagged("notifications/subscriptions/acknowledged", &ack, &id);
        self.attached.push_event(key, no, stream, ack);
        let initial = self.attached.take_pending(key, no).unwrap_or_default();
        self.listeners.insert(key, Listener { id, filter });
        Reply::stream(initial, false)
    }

    /// A stateless request (or a handshake `initialize`) still unanswered when its POST was
    /// handled (a bridged child answers later): the reply waits, so that an error alone still
    /// gets its status (-32601 is 404, a failed `initialize` 5xx without a session id), and the
    /// first notification opens the event stream instead ([`Delivery::Held`]).
    pub(super) fn hold_stateless(&mut self, key: SessionKey, no: StreamNo) -> Option<Reply> {
        let session = self.sessions.get_mut(&key)?;
        // A handshake session's `initialize` is held the same way: its status (and whether it
        // gets a session id at all) waits for the answer.
        let held = session.kind.lifecycle() != Some(Lifecycle::Ready);
        if !held || self.settings.response_mode != ResponseMode::Auto {
            return None;
        }
        // Its connection (attached in `exchange`) waits for the answer.
        session.streams.get_mut(&no)?.delivery = Delivery::Held;
        Some(Reply {
            status: 200,
            headers: Vec::new(),
            body: ReplyBody::Deferred,
        })
    }

    /// The first notification of a held stateless reply: it becomes an event stream.
    pub(super) fn stream_held(&mut self, key: SessionKey, no: StreamNo, json: String) {
        self.open_sse(key, no);
        let Some(stream) = stream_mut(&mut self.sessions, key, no) else {
            return;
        };
        self.attached.push_event(key, no, stream, json);
        self.send_held_head(key, no, false);
    }

    /// Tells the handler the union of the resource URIs the listen streams follow.
    pub(super) fn listened_changed(&mut self) {
        let mut uris: Vec<String> = self
            .listeners
            .values()
            .flat_map(|l| l.filter.resource_uris.iter().cloned())
            .collect();
        uris.sort_unstable();
        uris.dedup();
        self.dispatcher.notice(|h| h.listened_uris(&uris));
    }

    /// Sends a server-wide notification to every listen stream that asked for it.
    pub(super) fn fan_out(&mut self, method: &str, params: &Value) {
        for (key, listener) in &self.listeners {
            if !listener.filter.wants(method, params) {
                continue;
            }
            let Some(session) = self.sessions.get_mut(key) else {
                continue;
            };
            let Some(no) = self
                .attached
                .first_attached(*key, session.streams.keys().copied())
            else {
                continue;
            };
            let Some(stream) = session.streams.get_mut(&no) else {
                continue;
            };
            let event = tagged(method, params, &listener.id);
            if let Some((conn, bytes)) = self.attached.push_event(*key, no, stream, event) {
                self.actions.push_back(Action::Event { conn, bytes });
            }
        }
    }
}

fn meta_str<'a>(params: Option<&'a Value>, key: &str) -> Option<&'a str> {
    params?.get("_meta")?.get(key)?.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{ReadEvent, ReaderLimits, RequestReader};
    use crate::mcp::jsonrpc;

    fn head(extra: &str) -> RequestHead {
        let raw =
            format!("POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}Content-Length: 0\r\n\r\n");
        let mut reader = RequestReader::new(ReaderLimits::default());
        match reader.read(raw.as_bytes()) {
            Ok((_, Some(ReadEvent::Request(r)))) => r.head,
            other => panic!("{other:?}"),
        }
    }

    fn meta(version: &str) -> Value {
        json!({"_meta": {META_VERSION: version, META_CAPABILITIES: {}, META_CLIENT_INFO: {"name": "t"}}})
    }

    const OK_HEADERS: &str = "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/list\r\n";

    #[test]
    fn ladder_order_matches_the_spec() {
        let no_meta = json!({});
        let cases: Vec<(&str, Value, i64)> = vec![
            (OK_HEADERS, no_meta, jsonrpc::INVALID_PARAMS),
            (
                OK_HEADERS,
                json!({"_meta": {META_CAPABILITIES: {}}}),
                jsonrpc::INVALID_PARAMS,
            ),
            (
                OK_HEADERS,
                json!({"_meta": {META_VERSION: "2026-07-28"}}),
                jsonrpc::INVALID_PARAMS,
            ),
            (
                "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/list\r\n",
                meta("v999.0.0"),
                HEADER_MISMATCH,
            ),
            (
                "MCP-Protocol-Version: v999.0.0\r\nMcp-Method: tools/list\r\n",
                meta("v999.0.0"),
                UNSUPPORTED_VERSION,
            ),
            (
                "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: prompts/list\r\n",
                meta("2026-07-28"),
                HEADER_MISMATCH,
            ),
            (
                "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: TOOLS/LIST\r\n",
                meta("2026-07-28"),
                HEADER_MISMATCH,
            ),
            (
                "MCP-Protocol-Version: 2026-07-28\r\n",
                meta("2026-07-28"),
                HEADER_MISMATCH,
            ),
        ];
        for (headers, params, code) in cases {
            let err = validate(&head(headers), "tools/list", Some(&params)).unwrap_err();
            assert_eq!(err.wire(), (400, code), "{headers:?} {params}");
        }
        let err = validate(
            &head("MCP-Protocol-Version: v999.0.0\r\nMcp-Method: tools/list\r\n"),
            "tools/list",
            Some(&meta("v999.0.0")),
        )
        .unwrap_err();
        assert_eq!(
            err.object().data,
            Some(json!({"supported": ["2026-07-28"], "requested": "v999.0.0"}))
        );
        let view = validate(
            &head("mcp-protocol-version: 2026-07-28\r\nMCP-METHOD:  tools/list  \r\n"),
            "tools/list",
            Some(&meta("2026-07-28")),
        )
        .unwrap();
        assert!(view.is_modern());
    }

    #[test]
    fn mcp_name_is_checked_trimmed_and_decoded() {
        let params = json!({"name": "echo", "_meta": meta("2026-07-28")["_meta"]});
        let base = "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/call\r\n";
        assert!(validate(
            &head(&format!("{base}Mcp-Name:   echo  \r\n")),
            "tools/call",
            Some(&params)
        )
        .is_ok());
        assert!(validate(
            &head(&format!("{base}Mcp-Name: =?base64?ZWNobw==?=\r\n")),
            "tools/call",
            Some(&params)
        )
        .is_ok());
        let err = validate(
            &head(&format!("{base}Mcp-Name: wrong\r\n")),
            "tools/call",
            Some(&params),
        )
        .unwrap_err();
        assert_eq!(err.wire().1, HEADER_MISMATCH);
        let err = validate(&head(base), "tools/call", Some(&params)).unwrap_err();
        assert_eq!(err.wire().1, HEADER_MISMATCH);
    }

    #[test]
    fn param_headers_are_decoded_strictly() {
        let base = "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/list\r\n";
        let cases = [
            ("=?base64?SGVsbG8=?=", Some("Hello")),
            ("=?base64?SGVsbG8?=", None),
            ("=?base64?SGVs!!!bG8=?=", None),
            ("SGVsbG8=", Some("SGVsbG8=")),
            ("=?base64?SGVsbG8=", Some("=?base64?SGVsbG8=")),
        ];
        for (raw, want) in cases {
            let got = validate(
                &head(&format!("{base}Mcp-Param-Region: {raw}\r\n")),
                "tools/list",
                Some(&meta("2026-07-28")),
            );
            match want {
                Some(value) => {
                    assert_eq!(got.unwrap().param_header("REGION"), Some(value), "{raw}")
                }
                None => assert_eq!(got.unwrap_err().wire().1, HEADER_MISMATCH, "{raw}"),
            }
        }
    }

    #[test]
    fn base64_is_rfc4648_strict() {
        assert_eq!(base64_decode("").unwrap(), b"");
        assert_eq!(base64_decode("Zg==").unwrap(), b"f");
        assert_eq!(base64_decode("Zm8=").unwrap(), b"fo");
        assert_eq!(base64_decode("Zm9v").unwrap(), b"foo");
        for bad in ["Zg=", "Z===", "Zg==Zm9v", "Zm9v\n", "Zm 9"] {
            assert_eq!(base64_decode(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn routing_by_header_then_body() {
        let discover = Message::Request {
            id: Id::from(1),
            method: "server/discover".into(),
            params: None,
        };
        let list = Message::Request {
            id: Id::from(1),
            method: "tools/list".into(),
            params: Some(meta("2026-07-28").into()),
        };
        let legacy = Message::Request {
            id: Id::from(1),
            method: "tools/list".into(),
            params: None,
        };
        assert!(is_stateless(&head(""), Some(&discover)));
        assert!(is_stateless(&head(""), Some(&list)));
        assert!(!is_stateless(&head(""), Some(&legacy)));
        assert!(is_stateless(
            &head("MCP-Protocol-Version: v999.0.0\r\n"),
            Some(&legacy)
        ));
        assert!(!is_stateless(
            &head("MCP-Protocol-Version: 2025-06-18\r\n"),
            Some(&list)
        ));
    }

    #[test]
    fn results_get_type_and_cache_hints() {
        let mut r = json!({"tools": []});
        decorate_result("tools/list", &mut r);
        assert_eq!(
            r,
            json!({"tools": [], "resultType": "complete", "ttlMs": 0, "cacheScope": "private"})
        );
        let mut r = json!({"resultType": "input_required"});
        decorate_result("tools/call", &mut r);
        assert_eq!(r, json!({"resultType": "input_required"}));
    }

    #[test]
    fn listen_filter_accepts_only_what_was_asked() {
        let f = Filter::from_params(
            Some(
                &json!({"notifications": {"promptsListChanged": true, "resourceSubscriptions": ["a://x"]}}),
            ),
            256,
        );
        assert!(f.wants("notifications/prompts/list_changed", &json!({})));
        assert!(!f.wants("notifications/tools/list_changed", &json!({})));
        assert!(f.wants("notifications/resources/updated", &json!({"uri": "a://x"})));
        assert!(!f.wants("notifications/resources/updated", &json!({"uri": "a://y"})));
        assert_eq!(
            f.to_value(),
            json!({"promptsListChanged": true, "resourceSubscriptions": ["a://x"]})
        );
        let text = tagged(
            "notifications/prompts/list_changed",
            &json!({}),
            &Id::from(42),
        );
        assert!(
            text.contains("\"io.modelcontextprotocol/subscriptionId\":42"),
            "{text}"
        );
    }

    #[test]
    fn listen_filter_keeps_the_configured_number_of_uris() {
        let params =
            json!({"notifications": {"resourceSubscriptions": ["a://1", "a://2", "a://3"]}});
        let f = Filter::from_params(Some(&params), 2);
        assert_eq!(f.resource_uris, ["a://1", "a://2"]);
    }
}
