//! The request head: request line and header fields (RFC 9112 2-5), parsed with httparse (a
//! plain head by `simple`, which reads it as httparse would, faster) and then checked for the
//! rules httparse leaves to us: version, `Host`, request-target form.
//!
//! httparse already rejects (and we test that it does): whitespace between a field name and its
//! colon (RFC 9112 5.1), obs-fold line folding (RFC 9112 5.2), NUL and bare CR in values, and
//! non-token methods and field names. It accepts a bare LF as line terminator and skips empty
//! lines before the request line, both allowed by RFC 9112 2.2.

use core::mem::MaybeUninit;

use super::error::Error;
use super::fields::{self, Field, Fields, Name};

mod simple;

/// The request method (RFC 9110 9); methods are case-sensitive, so `get` is `Other("get")`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// `GET`
    Get,
    /// `HEAD`
    Head,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `DELETE`
    Delete,
    /// `OPTIONS`
    Options,
    /// `PATCH`
    Patch,
    /// Any other token, as received.
    Other(String),
}

impl Method {
    fn parse(token: &str) -> Method {
        match token {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "OPTIONS" => Method::Options,
            "PATCH" => Method::Patch,
            other => Method::Other(other.to_string()),
        }
    }

    /// The method token as on the wire, for logs and metrics.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
            Method::Patch => "PATCH",
            Method::Other(token) => token,
        }
    }
}

/// The protocol versions this server speaks (RFC 9112 2.3); others are 505.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `HTTP/1.0`: no chunked, no persistence unless asked for.
    Http10,
    /// `HTTP/1.1`
    Http11,
}

/// A parsed and validated request head.
///
/// The header fields are kept as received, in order, in one buffer with an index of the fields
/// mcpd reads ([`Fields`]) rather than two allocations per field: a head is built and dropped
/// for every request, and its fields are looked up a dozen times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// Request method.
    pub method: Method,
    /// Request target as received: origin-form, absolute-form (http/https) or `*` for OPTIONS.
    pub target: String,
    /// Protocol version of the request.
    pub version: Version,
    /// Every field's name and value (trimmed of surrounding whitespace; may hold obs-text).
    fields: Fields,
}

/// The storage of a dropped [`RequestHead`], emptied: the next head on the connection is built
/// in it instead of in three new allocations (the target, the field bytes, their index).
#[derive(Debug, Default)]
pub(crate) struct Spare {
    target: String,
    fields: fields::Storage,
}

#[cfg(test)]
impl Spare {
    /// Whether any storage is held.
    pub(crate) fn holds(&self) -> bool {
        self.target.capacity() > 0 || self.fields.capacities() != (0, 0)
    }
}

/// Optional whitespace around field values and list members (RFC 9110 5.6.3).
pub(crate) fn trim_ows(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |i| i + 1);
    bytes.get(start..end).unwrap_or_default()
}

/// Members of a comma-separated list field (RFC 9110 5.6.1), trimmed, empty members skipped.
pub(crate) fn list_members(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(trim_ows)
        .filter(|m| !m.is_empty())
}

/// Length of `scheme://` when `target` is absolute-form with a scheme we serve.
fn absolute_prefix(target: &str) -> Option<usize> {
    if target.starts_with('/') {
        return None;
    }
    ["http://", "https://"].iter().find_map(|scheme| {
        let head = target.get(..scheme.len())?;
        head.eq_ignore_ascii_case(scheme).then_some(scheme.len())
    })
}

impl RequestHead {
    /// A head with the given fields (name, value), values trimmed of SP/HTAB as [`parse`] does.
    #[cfg(test)]
    pub fn new(method: Method, target: &str, version: Version, fields: &[(&str, &[u8])]) -> Self {
        RequestHead {
            method,
            target: target.to_string(),
            version,
            fields: Fields::copied(fields.iter().map(|(name, value)| (name.as_bytes(), *value))),
        }
    }

    /// Every header field as (name, value), in order of arrival. Names are tokens (ASCII),
    /// checked by httparse or given as `str` to `RequestHead::new` (tests).
    pub fn fields(&self) -> impl Iterator<Item = (&str, &[u8])> + '_ {
        self.fields
            .iter()
            .map(|(name, value)| (core::str::from_utf8(name).unwrap_or_default(), value))
    }

    /// Its storage, emptied, for the next [`parse`] on the connection.
    pub(crate) fn into_spare(self) -> Spare {
        let mut target = self.target;
        target.clear();
        if target.capacity() > fields::KEEP_BYTES {
            target = String::new();
        }
        Spare {
            target,
            fields: self.fields.into_storage(),
        }
    }

    /// How many header fields the head has.
    #[cfg(test)]
    pub fn field_count(&self) -> usize {
        self.fields.len()
    }

    /// First value of the field `name` (a [`Field`], or any name, case-insensitive).
    pub fn header<'n>(&self, name: impl Into<Name<'n>>) -> Option<&[u8]> {
        self.fields.first(name.into())
    }

    /// First value of `name` as UTF-8, trimmed of SP/HTAB; `None` if absent or not UTF-8.
    pub fn header_str<'n>(&self, name: impl Into<Name<'n>>) -> Option<&str> {
        self.fields.first_str(name.into())
    }

    /// Every value of the field `name` (case-insensitive), in order of arrival.
    pub fn headers_named<'a>(
        &'a self,
        name: impl Into<Name<'a>>,
    ) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.fields.values(name.into())
    }

    /// Every value of the field `name` as UTF-8 (`None` for a value that is not), in order of
    /// arrival; no value is checked again, as the head's fields are checked once.
    pub fn headers_named_str<'a>(
        &'a self,
        name: impl Into<Name<'a>>,
    ) -> impl Iterator<Item = Option<&'a str>> + 'a {
        self.fields.values_str(name.into())
    }

    /// Whether the list field `name`, across all its lines, has the member `token`
    /// (case-insensitive), e.g. `Connection: close`.
    pub fn header_has_token<'n>(&self, name: impl Into<Name<'n>>, token: &str) -> bool {
        self.fields
            .values(name.into())
            .flat_map(list_members)
            .any(|m| m.eq_ignore_ascii_case(token.as_bytes()))
    }

    /// The path of the target: up to `?`; for absolute-form the part after the authority
    /// (`/` when empty); `*` for asterisk-form.
    pub fn path(&self) -> &str {
        let rest = match absolute_prefix(&self.target) {
            Some(prefix) => {
                let after = self.target.get(prefix..).unwrap_or_default();
                let start = after.find(['/', '?']).unwrap_or(after.len());
                after.get(start..).unwrap_or_default()
            }
            None => &self.target,
        };
        let path = match rest.bytes().position(|b| b == b'?') {
            Some(query) => rest.get(..query).unwrap_or_default(),
            None => rest,
        };
        if path.is_empty() {
            "/"
        } else {
            path
        }
    }

    /// The query of the target: after the first `?`, if any.
    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, query)| query)
    }

    /// The authority the request is for: the target's for absolute-form (RFC 9112 3.2.2 says
    /// it wins over `Host`), else the trimmed `Host` value. Use it for Host checks.
    pub fn host(&self) -> Option<&str> {
        match absolute_prefix(&self.target) {
            Some(prefix) => {
                let after = self.target.get(prefix..)?;
                let end = after.find(['/', '?']).unwrap_or(after.len());
                after.get(..end)
            }
            None => self.header_str(Field::Host),
        }
    }
}

/// Bytes allowed in a `Host` value: uri-host [":" port] (RFC 3986 3.2.2: unreserved,
/// pct-encoded, sub-delims, IP-literal brackets and the port colon).
const fn is_host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b'%'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'['
                | b']'
        )
}

/// [`is_host_byte`] of every byte, so checking a `Host` value is one load per byte (the two
/// tests and a range `match` per byte were most of the cost of the Host check).
const HOST_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < table.len() {
        table[b] = is_host_byte(b as u8);
        b += 1;
    }
    table
};

/// RFC 9112 3.2: exactly one `Host` on HTTP/1.1, at most one on 1.0, with a valid value.
fn check_host(head: &RequestHead) -> Result<(), Error> {
    match head.header(Field::Host) {
        None if head.version == Version::Http11 => Err(Error::BadRequest("missing Host header")),
        None => Ok(()),
        Some(_) if head.fields.repeated(Field::Host) => {
            Err(Error::BadRequest("more than one Host header"))
        }
        Some(value) if value.iter().all(|&b| HOST_BYTES[usize::from(b)]) => Ok(()),
        Some(_) => Err(Error::BadRequest("invalid Host header")),
    }
}

/// RFC 9112 3.2: origin-form, absolute-form (http/https with a non-empty authority; accepted as
/// 3.2.2 requires), asterisk-form only for OPTIONS; authority-form (CONNECT) is refused since we
/// are no proxy. The target is ASCII without a fragment.
fn check_target(head: &RequestHead) -> Result<(), Error> {
    let target = head.target.as_str();
    if !target.is_ascii() {
        return Err(Error::BadRequest("non-ASCII request target"));
    }
    if target.contains('#') {
        return Err(Error::BadRequest("fragment in request target"));
    }
    if target.starts_with('/') {
        return Ok(());
    }
    if target == "*" {
        return match head.method {
            Method::Options => Ok(()),
            _ => Err(Error::BadRequest("asterisk-form target without OPTIONS")),
        };
    }
    if absolute_prefix(target).is_some() {
        return match head.host() {
            Some(authority) if !authority.is_empty() && !authority.contains('@') => Ok(()),
            _ => Err(Error::BadRequest(
                "invalid authority in absolute-form target",
            )),
        };
    }
    if matches!(&head.method, Method::Other(token) if token == "CONNECT") {
        return Err(Error::BadRequest("CONNECT is not supported"));
    }
    Err(Error::BadRequest("invalid request target"))
}

/// Decides 505 or 400 for a version httparse refused: a well-formed `HTTP/d.d` is merely
/// unsupported (RFC 9110 15.6.6), anything else is malformed (RFC 9112 2.3).
fn version_error(buf: &[u8]) -> Error {
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    let line = buf.get(start..).unwrap_or_default();
    let line = line.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let version = line.rsplit(|&b| b == b' ').next().unwrap_or_default();
    match version {
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            Error::UnsupportedVersion
        }
        _ => Error::BadRequest("malformed HTTP version"),
    }
}

/// Rejects a head whose first bytes cannot start a request line, before the line is complete:
/// after optional empty lines (RFC 9112 2.2), every byte up to the first space must be a method
/// token character (RFC 9110 9.1, 5.6.2). A TLS ClientHello (first byte 0x16) sent to the plain
/// port is answered 400 at once instead of waiting for the head timeout. Decides on the bytes
/// seen so far, so the outcome does not depend on how they were split.
pub(crate) fn check_request_start(buf: &[u8]) -> Result<(), Error> {
    // Empty lines before the request line are allowed (RFC 9112 2.2), as httparse allows them:
    // CRLF or a bare LF, never a CR followed by anything else. Judged here too, so the verdict
    // always comes from the first offending byte, however the bytes were split.
    let mut start = 0;
    while let Some(&b) = buf.get(start) {
        match (b, buf.get(start + 1)) {
            (b'\n', _) | (b'\r', Some(b'\n')) => start += if b == b'\n' { 1 } else { 2 },
            (b'\r', None) => return Ok(()),
            (b'\r', Some(_)) => return Err(Error::BadRequest("invalid line ending")),
            _ => break,
        }
    }
    let line = buf.get(start..).unwrap_or_default();
    if line.first() == Some(&0x16) {
        return Err(Error::BadRequest(
            "not an HTTP request line (a TLS handshake on the plain-HTTP port?)",
        ));
    }
    let method = line.split(|&b| b == b' ').next().unwrap_or_default();
    if method.iter().all(|&b| is_tchar(b)) {
        Ok(())
    } else {
        Err(Error::BadRequest(
            "not an HTTP request line (invalid byte in the method)",
        ))
    }
}

/// A token character (RFC 9110 5.6.2).
pub(super) const fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

/// Header slots kept on the stack: the default `max_headers` (DESIGN.md 5).
const STACK_HEADERS: usize = 64;

/// Parses a head from the start of `buf` with room for `max_headers` fields.
///
/// `Ok(None)` means the head is incomplete; `Ok(Some((head, n)))` gives the head and its length
/// in bytes, including empty lines before it and the blank line ending it. The head is built in
/// the storage `spare` holds, which it takes.
pub(crate) fn parse(
    buf: &[u8],
    max_headers: usize,
    spare: &mut Spare,
) -> Result<Option<(RequestHead, usize)>, Error> {
    let parsed = match simple::parse(buf, max_headers, spare) {
        Some(parsed) => parsed,
        None => match parse_with_httparse(buf, max_headers, spare)? {
            Some(parsed) => parsed,
            None => return Ok(None),
        },
    };
    check_target(&parsed.0)?;
    check_host(&parsed.0)?;
    Ok(Some(parsed))
}

/// [`parse`] with httparse, for every head [`simple::parse`] leaves to it; the head is not
/// checked beyond its syntax.
fn parse_with_httparse(
    buf: &[u8],
    max_headers: usize,
    spare: &mut Spare,
) -> Result<Option<(RequestHead, usize)>, Error> {
    // The default limit fits on the stack (2 KiB); a heap array of that size per request cost
    // glibc a free-list consolidation each time (bench/RESULTS.md). The slots are left
    // uninitialized, httparse writing those it fills: clearing all 64 on every call (two a
    // request) cost ~400 instructions a request.
    let mut on_stack = [const { MaybeUninit::<httparse::Header>::uninit() }; STACK_HEADERS];
    let mut on_heap = Vec::new();
    let fields = if max_headers <= STACK_HEADERS {
        &mut on_stack[..max_headers]
    } else {
        on_heap.resize_with(max_headers, MaybeUninit::uninit);
        &mut on_heap[..]
    };
    let mut request = httparse::Request::new(&mut []);
    let len = match request.parse_with_uninit_headers(buf, fields) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(Error::TooManyHeaders),
        Err(httparse::Error::Version) => return Err(version_error(buf)),
        Err(httparse::Error::HeaderName) => return Err(Error::BadRequest("invalid header name")),
        Err(httparse::Error::HeaderValue) => return Err(Error::BadRequest("invalid header value")),
        Err(httparse::Error::NewLine) => return Err(Error::BadRequest("invalid line ending")),
        Err(httparse::Error::Token | httparse::Error::Status) => {
            return Err(Error::BadRequest("malformed request line"))
        }
    };
    let malformed = Error::BadRequest("malformed request line");
    let version = match request.version {
        Some(0) => Version::Http10,
        Some(1) => Version::Http11,
        _ => return Err(Error::UnsupportedVersion),
    };
    let method = Method::parse(request.method.ok_or(malformed.clone())?);
    let path = request.path.ok_or(malformed)?;
    let Spare { mut target, fields } = std::mem::take(spare);
    target.clear();
    target.push_str(path);
    let head = RequestHead {
        method,
        target,
        version,
        fields: Fields::parsed(fields, buf.get(..len).unwrap_or(buf), request.headers),
    };
    Ok(Some((head, len)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Option<(RequestHead, usize)>, Error> {
        parse(text.as_bytes(), 64, &mut Spare::default())
    }

    fn head_of(text: &str) -> RequestHead {
        match parse_str(text) {
            Ok(Some((head, _))) => head,
            other => panic!("{text:?} did not parse: {other:?}"),
        }
    }

    fn bad(what: &'static str) -> Result<(), Error> {
        Err(Error::BadRequest(what))
    }

    #[test]
    fn parses_request_line_and_headers() {
        let text = "POST /mcp?x=1 HTTP/1.1\r\nHost: a\r\nContent-Type:  json \r\n\r\nBODY";
        let (head, len) = parse_str(text).unwrap().unwrap();
        assert_eq!(len, text.len() - 4);
        assert_eq!(head.method, Method::Post);
        assert_eq!(head.target, "/mcp?x=1");
        assert_eq!(head.version, Version::Http11);
        assert_eq!(head.path(), "/mcp");
        assert_eq!(head.query(), Some("x=1"));
        assert_eq!(head.header("content-type"), Some(&b"json"[..]));
        assert_eq!(head.fields().nth(1), Some(("Content-Type", &b"json"[..])));
    }

    #[test]
    fn fields_keep_order_names_and_trimmed_values() {
        let text =
            b"GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nx-empty: \t \r\nACCEPT: \xff b \r\n\r\n";
        let (head, _) = parse(text, 64, &mut Spare::default()).unwrap().unwrap();
        let fields: Vec<(&str, &[u8])> = head.fields().collect();
        let want: [(&str, &[u8]); 4] = [
            ("Host", b"a"),
            ("X-Empty", b""),
            ("x-empty", b""),
            ("ACCEPT", b"\xff b"),
        ];
        assert_eq!(fields, want);
        assert_eq!(head.field_count(), 4);
        assert_eq!(head.headers_named("x-EMPTY").count(), 2);
        assert_eq!(head.header("accept"), Some(&b"\xff b"[..]));
        assert_eq!(head.header("accep"), None);
        let built = RequestHead::new(Method::Get, "/", Version::Http11, &want);
        assert_eq!(built, head);
    }

    #[test]
    fn incomplete_head_is_none() {
        for text in [
            "",
            "GE",
            "GET / HTTP/1.1\r\nHost: a\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\n\r",
        ] {
            assert_eq!(parse_str(text), Ok(None), "{text:?}");
        }
    }

    #[test]
    fn methods_round_trip_and_are_case_sensitive() {
        for token in [
            "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "get", "BREW",
        ] {
            let head = head_of(&format!("{token} / HTTP/1.1\r\nHost: a\r\n\r\n"));
            assert_eq!(head.method.as_str(), token);
        }
        assert_eq!(Method::parse("get"), Method::Other("get".into()));
    }

    #[test]
    fn header_lookup_rules() {
        let text = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive, Upgrade\r\nconnection: ,CLOSE ,\r\nX: \xff\r\nY: \t two words\t\r\n\r\n";
        let (head, _) = parse(text, 64, &mut Spare::default()).unwrap().unwrap();
        assert_eq!(head.header("CONNECTION"), Some(&b"Keep-Alive, Upgrade"[..]));
        assert_eq!(head.headers_named("Connection").count(), 2);
        assert!(head.header_has_token("connection", "close"));
        assert!(head.header_has_token("connection", "keep-alive"));
        assert!(head.header_has_token("Connection", "upgrade"));
        assert!(!head.header_has_token("connection", "keep"));
        assert!(!head.header_has_token("missing", "close"));
        assert_eq!(head.header_str("x"), None);
        assert_eq!(head.header("x"), Some(&[0xff][..]));
        assert_eq!(head.header_str("y"), Some("two words"));
        assert_eq!(head.header_str("z"), None);
    }

    /// path(), query() and host() of a parsed head, or the parse error.
    type Expected = Result<(&'static str, Option<&'static str>, Option<&'static str>), Error>;

    #[test]
    fn target_forms() {
        let table: &[(&str, &str, Expected)] = &[
            ("GET", "/a/b?c=d?e", Ok(("/a/b", Some("c=d?e"), Some("h")))),
            ("GET", "/", Ok(("/", None, Some("h")))),
            (
                "GET",
                "http://example.com/mcp?q",
                Ok(("/mcp", Some("q"), Some("example.com"))),
            ),
            (
                "GET",
                "HTTPS://example.com:8443",
                Ok(("/", None, Some("example.com:8443"))),
            ),
            (
                "GET",
                "http://example.com?q",
                Ok(("/", Some("q"), Some("example.com"))),
            ),
            ("OPTIONS", "*", Ok(("*", None, Some("h")))),
            (
                "GET",
                "*",
                Err(Error::BadRequest("asterisk-form target without OPTIONS")),
            ),
            (
                "CONNECT",
                "example.com:443",
                Err(Error::BadRequest("CONNECT is not supported")),
            ),
            (
                "GET",
                "example.com:443",
                Err(Error::BadRequest("invalid request target")),
            ),
            (
                "GET",
                "ftp://example.com/",
                Err(Error::BadRequest("invalid request target")),
            ),
            (
                "GET",
                "http:///path",
                Err(Error::BadRequest(
                    "invalid authority in absolute-form target",
                )),
            ),
            (
                "GET",
                "http://user@evil/",
                Err(Error::BadRequest(
                    "invalid authority in absolute-form target",
                )),
            ),
            (
                "GET",
                "/a#frag",
                Err(Error::BadRequest("fragment in request target")),
            ),
            (
                "GET",
                "/caf\u{e9}",
                Err(Error::BadRequest("non-ASCII request target")),
            ),
        ];
        for (method, target, expected) in table {
            let text = format!("{method} {target} HTTP/1.1\r\nHost: h\r\n\r\n");
            let got = parse_str(&text).map(|parsed| {
                let (head, _) = parsed.unwrap();
                assert_eq!(head.target, *target);
                (
                    head.path().to_string(),
                    head.query().map(String::from),
                    head.host().map(String::from),
                )
            });
            let expected = expected
                .clone()
                .map(|(p, q, h)| (p.to_string(), q.map(String::from), h.map(String::from)));
            assert_eq!(got, expected, "{method} {target}");
        }
    }

    #[test]
    fn host_rules() {
        let table: &[(&str, Result<(), Error>)] = &[
            ("GET / HTTP/1.1\r\nHost: a\r\n\r\n", Ok(())),
            ("GET / HTTP/1.1\r\nHost: [::1]:8000\r\n\r\n", Ok(())),
            ("GET / HTTP/1.1\r\nHost:\r\n\r\n", Ok(())),
            ("GET / HTTP/1.0\r\n\r\n", Ok(())),
            ("GET / HTTP/1.1\r\n\r\n", bad("missing Host header")),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n",
                bad("more than one Host header"),
            ),
            (
                "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n",
                bad("more than one Host header"),
            ),
            (
                "GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
                bad("invalid Host header"),
            ),
            (
                "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n",
                bad("invalid Host header"),
            ),
            (
                "GET / HTTP/1.1\r\nHost: a@b\r\n\r\n",
                bad("invalid Host header"),
            ),
        ];
        for (text, expected) in table {
            assert_eq!(parse_str(text).map(|_| ()), *expected, "{text:?}");
        }
    }

    #[test]
    fn malformed_heads_are_rejected() {
        let table: &[(&str, Error)] = &[
            // RFC 9112 5.1: no whitespace between field name and colon.
            (
                "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
                Error::BadRequest("invalid header name"),
            ),
            (
                "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n",
                Error::BadRequest("invalid header name"),
            ),
            // RFC 9112 5.2: obs-fold is rejected in requests.
            (
                "GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n",
                Error::BadRequest("invalid header name"),
            ),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nX: b\0c\r\n\r\n",
                Error::BadRequest("invalid header value"),
            ),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nX: b\rc\r\n\r\n",
                Error::BadRequest("invalid header value"),
            ),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nX\x01: b\r\n\r\n",
                Error::BadRequest("invalid header name"),
            ),
            (
                "GET / HTTP/1.1\r\n: b\r\n\r\n",
                Error::BadRequest("invalid header name"),
            ),
            (
                "GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
                Error::BadRequest("malformed request line"),
            ),
            (
                "G(T / HTTP/1.1\r\nHost: a\r\n\r\n",
                Error::BadRequest("malformed request line"),
            ),
            (
                "GET / HTTP/1.1 \r\nHost: a\r\n\r\n",
                Error::BadRequest("invalid line ending"),
            ),
            ("GET /\r\n\r\n", Error::BadRequest("malformed request line")),
            (
                "\r\rGET / HTTP/1.1\r\n\r\n",
                Error::BadRequest("invalid line ending"),
            ),
            (
                "GET / HTTP/2.0\r\nHost: a\r\n\r\n",
                Error::UnsupportedVersion,
            ),
            (
                "GET / HTTP/1.2\r\nHost: a\r\n\r\n",
                Error::UnsupportedVersion,
            ),
            (
                "GET / HTTP/0.9\r\nHost: a\r\n\r\n",
                Error::UnsupportedVersion,
            ),
            (
                "GET / HTTP/11\r\nHost: a\r\n\r\n",
                Error::BadRequest("malformed HTTP version"),
            ),
            (
                "GET / http/1.1\r\nHost: a\r\n\r\n",
                Error::BadRequest("malformed HTTP version"),
            ),
            (
                "GET / HTTP/1.1x\r\nHost: a\r\n\r\n",
                Error::BadRequest("invalid line ending"),
            ),
        ];
        for (text, expected) in table {
            assert_eq!(
                parse_str(text).map(|_| ()),
                Err(expected.clone()),
                "{text:?}"
            );
        }
    }

    #[test]
    fn bare_lf_and_leading_empty_lines_are_accepted() {
        let text = "\r\n\nGET / HTTP/1.1\nHost: a\n\n";
        let (head, len) = parse_str(text).unwrap().unwrap();
        assert_eq!(len, text.len());
        assert_eq!(head.header_str("host"), Some("a"));
    }

    #[test]
    fn header_limit_is_the_field_array() {
        let mut text = String::from("GET / HTTP/1.1\r\nHost: a\r\n");
        for i in 0..3 {
            text.push_str(&format!("X-{i}: v\r\n"));
        }
        text.push_str("\r\n");
        assert!(parse(text.as_bytes(), 4, &mut Spare::default())
            .unwrap()
            .is_some());
        assert_eq!(
            parse(text.as_bytes(), 3, &mut Spare::default()),
            Err(Error::TooManyHeaders)
        );
        assert_eq!(
            parse(text.as_bytes(), 0, &mut Spare::default()),
            Err(Error::TooManyHeaders)
        );
    }

    #[test]
    fn header_limit_holds_past_the_stack_slots() {
        let mut text = String::from("GET / HTTP/1.1\r\nHost: a\r\n");
        for i in 0..STACK_HEADERS {
            text.push_str(&format!("X-{i}: v\r\n"));
        }
        text.push_str("\r\n");
        let fields = STACK_HEADERS + 1;
        let (head, _) = parse(text.as_bytes(), fields, &mut Spare::default())
            .unwrap()
            .unwrap();
        assert_eq!(head.field_count(), fields);
        assert_eq!(
            parse(text.as_bytes(), fields - 1, &mut Spare::default()),
            Err(Error::TooManyHeaders)
        );
        assert_eq!(
            parse(text.as_bytes(), STACK_HEADERS, &mut Spare::default()),
            Err(Error::TooManyHeaders)
        );
    }

    #[test]
    fn version_error_classification() {
        assert_eq!(
            version_error(b"\r\nGET / HTTP/3.0\r\n"),
            Error::UnsupportedVersion
        );
        assert_eq!(version_error(b"GET / HTTP/3.0"), Error::UnsupportedVersion);
        assert_eq!(
            version_error(b""),
            Error::BadRequest("malformed HTTP version")
        );
        assert_eq!(
            version_error(b"GET / HTTP/2"),
            Error::BadRequest("malformed HTTP version")
        );
    }

    #[test]
    fn byte_classes_match_their_lists() {
        for b in 0..=255u8 {
            let host = b.is_ascii_alphanumeric() || b"-._~%!$&'()*+,;=:[]".contains(&b);
            let tchar = b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
            assert_eq!(is_host_byte(b), host, "{b}");
            assert_eq!(HOST_BYTES[usize::from(b)], host, "{b}");
            assert_eq!(is_tchar(b), tchar, "{b}");
        }
    }
}
