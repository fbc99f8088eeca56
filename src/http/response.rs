//! Response serialization: status line, header fields, body framing (RFC 9112 4, 6, 7).
//!
//! The writer owns the framing fields: callers must not pass `Content-Length`,
//! `Transfer-Encoding` or `Connection` in `headers`. The status line always says `HTTP/1.1`, also
//! to HTTP/1.0 clients (RFC 9110 6.2: a server sends its own highest conformant version); the
//! request's version only decides framing (no chunked to 1.0) and the `Connection` field.

use super::head::{is_tchar, Version};

/// The interim response that invites the body of an `Expect: 100-continue` request
/// (RFC 9110 10.1.1, 15.2.1).
pub const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// How a response body is delimited on the wire (RFC 9112 6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// `Content-Length: n` and exactly n body bytes follow.
    Length(usize),
    /// `Transfer-Encoding: chunked`; write with [`write_chunk`] and end with [`write_last_chunk`].
    Chunked,
    /// No length; the body ends when the server closes the connection (RFC 9112 6.3 rule 8).
    CloseDelimited,
    /// No body at all (HEAD answers, 1xx, 204, 304); no framing field.
    NoBody,
}

impl BodyFraming {
    /// The framing actually written for `version`: chunked is HTTP/1.1 only (RFC 9112 7), so to
    /// HTTP/1.0 it becomes [`BodyFraming::CloseDelimited`] and the body is written raw.
    pub fn resolve(self, version: Version) -> BodyFraming {
        match (self, version) {
            (BodyFraming::Chunked, Version::Http10) => BodyFraming::CloseDelimited,
            (framing, _) => framing,
        }
    }
}

/// The canonical reason phrase of a status code (RFC 9110 15, RFC 6585); empty when unknown,
/// which the status line grammar allows (RFC 9112 4).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// Statuses that never carry content and must not send `Content-Length` (RFC 9110 8.6, 15).
fn forbids_content_length(status: u16) -> bool {
    (100..200).contains(&status) || status == 204
}

/// Statuses whose responses end after the header section (RFC 9112 6.3 rule 1).
fn has_no_body(status: u16) -> bool {
    forbids_content_length(status) || status == 304
}

/// Field names are tokens (RFC 9110 5.1); anything else would corrupt the header section.
fn is_token(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(is_tchar)
}

fn push_field(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    // RFC 9110 5.5: CR, LF and NUL never appear in a field value; replace them with SP so a
    // value taken from a request cannot split the response. Values without them (all but a
    // hostile one) are copied whole rather than byte by byte.
    let forbidden = |b: &u8| matches!(b, b'\r' | b'\n' | 0);
    if value.iter().any(forbidden) {
        out.extend(value.iter().map(|b| if forbidden(b) { b' ' } else { *b }));
    } else {
        out.extend_from_slice(value);
    }
    out.extend_from_slice(b"\r\n");
}

/// Writes status line + headers + framing header (+ `Connection: close` when !keep_alive,
/// `Connection: keep-alive` when keep_alive on HTTP/1.0) + CRLF.
///
/// `framing` goes through [`BodyFraming::resolve`]; a close-delimited body always adds
/// `Connection: close`. Header fields whose name is not a token are dropped; CR, LF and NUL in
/// values become SP. 1xx and 204 never get `Content-Length`.
#[cfg(test)]
pub fn write_head(
    out: &mut Vec<u8>,
    version: Version,
    status: u16,
    headers: &[(&str, &str)],
    framing: BodyFraming,
    keep_alive: bool,
) {
    write_status_line(out, status);
    for (name, value) in headers {
        write_field(out, name, value.as_bytes());
    }
    end_head(out, version, status, framing, keep_alive);
}

/// The first part of [`write_head`]: the status line. Follow with [`write_field`] per header
/// and [`end_head`]; the pieces let a caller write fields from several lists without first
/// collecting them.
pub fn write_status_line(out: &mut Vec<u8>, status: u16) {
    if status == 200 {
        // Nearly every answer: one copy instead of five pieces and a number.
        out.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
        return;
    }
    out.extend_from_slice(b"HTTP/1.1 ");
    push_decimal(out, status.into());
    out.push(b' ');
    out.extend_from_slice(reason_phrase(status).as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// One header field of [`write_head`]: dropped when `name` is not a token, CR, LF and NUL in
/// `value` written as SP.
pub fn write_field(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    if is_token(name) {
        push_field(out, name, value);
    }
}

/// The last part of [`write_head`]: framing and `Connection` fields, then the blank line.
pub fn end_head(
    out: &mut Vec<u8>,
    version: Version,
    status: u16,
    framing: BodyFraming,
    keep_alive: bool,
) {
    let framing = framing.resolve(version);
    match framing {
        BodyFraming::Length(n) if !forbids_content_length(status) => {
            out.extend_from_slice(b"Content-Length: ");
            push_decimal(out, n);
            out.extend_from_slice(b"\r\n");
        }
        BodyFraming::Chunked => push_field(out, "Transfer-Encoding", b"chunked"),
        BodyFraming::Length(_) | BodyFraming::CloseDelimited | BodyFraming::NoBody => {}
    }
    let keep_alive = keep_alive && framing != BodyFraming::CloseDelimited;
    if !keep_alive {
        push_field(out, "Connection", b"close");
    } else if version == Version::Http10 {
        push_field(out, "Connection", b"keep-alive");
    }
    out.extend_from_slice(b"\r\n");
}

/// Writes `n` in decimal without going through `fmt` (no temporary String per response).
fn push_decimal(out: &mut Vec<u8>, n: usize) {
    push_digits(out, n, 10);
}

/// Writes `n` in base 10 or 16 (upper-case digits), most significant digit first.
fn push_digits(out: &mut Vec<u8>, mut n: usize, base: usize) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b"0123456789ABCDEF"[n % base];
        n /= base;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// The body part of [`write_response`], after its status line and fields: framing, blank line
/// and body (omitted for 1xx, 204 and 304).
pub fn end_response(
    out: &mut Vec<u8>,
    version: Version,
    status: u16,
    body: &[u8],
    keep_alive: bool,
) {
    if has_no_body(status) {
        end_head(out, version, status, BodyFraming::NoBody, keep_alive);
    } else {
        let framing = BodyFraming::Length(body.len());
        end_head(out, version, status, framing, keep_alive);
        out.extend_from_slice(body);
    }
}

/// Writes a whole response with a `Content-Length` body; for 1xx, 204 and 304 the body is
/// omitted (RFC 9112 6.3 rule 1).
pub fn write_response(
    out: &mut Vec<u8>,
    version: Version,
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
    keep_alive: bool,
) {
    write_status_line(out, status);
    for (name, value) in headers {
        write_field(out, name, value.as_bytes());
    }
    end_response(out, version, status, body, keep_alive);
}

/// Writes `200 OK` with a JSON `body` for a kept-alive HTTP/1.1 exchange with no other fields:
/// the same bytes as [`write_response`] with only `Content-Type: application/json`, in three
/// copies rather than a dozen. Nearly every answer is this one (bench/instructions.py).
pub fn write_json_ok(out: &mut Vec<u8>, body: &[u8]) {
    out.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ");
    push_decimal(out, body.len());
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(body);
}

/// Writes one chunk (RFC 9112 7.1); no-op for empty data (an empty chunk would end the body).
pub fn write_chunk(out: &mut Vec<u8>, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    push_digits(out, data.len(), 16);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// Ends a chunked body: last-chunk and an empty trailer section (RFC 9112 7.1).
pub fn write_last_chunk(out: &mut Vec<u8>) {
    out.extend_from_slice(b"0\r\n\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(
        version: Version,
        status: u16,
        headers: &[(&str, &str)],
        framing: BodyFraming,
        keep_alive: bool,
    ) -> String {
        let mut out = Vec::new();
        write_head(&mut out, version, status, headers, framing, keep_alive);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn write_json_ok_is_write_response_with_only_the_json_type() {
        for body in [&b""[..], b"{}", &[b'x'; 1234]] {
            let mut general = Vec::new();
            let fields = [("Content-Type", "application/json")];
            write_response(&mut general, Version::Http11, 200, &fields, body, true);
            let mut fast = b"kept".to_vec();
            write_json_ok(&mut fast, body);
            assert_eq!(&fast[..4], b"kept", "appends");
            assert_eq!(fast[4..], general[..]);
        }
    }

    #[test]
    fn write_head_is_byte_exact_for_each_framing() {
        use BodyFraming::*;
        use Version::*;
        let ct = [("Content-Type", "text/event-stream")];
        let table: &[(Version, u16, BodyFraming, bool, &str)] = &[
            (Http11, 200, Length(5), true, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: 5\r\n\r\n"),
            (Http11, 200, Length(0), false, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
            (Http11, 200, Chunked, true, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"),
            (Http10, 200, Chunked, true, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"),
            (Http11, 200, CloseDelimited, true, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"),
            (Http10, 200, Length(2), true, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n"),
            (Http10, 200, Length(2), false, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: 2\r\nConnection: close\r\n\r\n"),
            (Http11, 304, NoBody, true, "HTTP/1.1 304 Not Modified\r\nContent-Type: text/event-stream\r\n\r\n"),
            (Http11, 204, Length(0), true, "HTTP/1.1 204 No Content\r\nContent-Type: text/event-stream\r\n\r\n"),
            (Http11, 599, NoBody, true, "HTTP/1.1 599 \r\nContent-Type: text/event-stream\r\n\r\n"),
        ];
        for (version, status, framing, keep_alive, expected) in table {
            let got = head(*version, *status, &ct, *framing, *keep_alive);
            assert_eq!(
                got, *expected,
                "{version:?} {status} {framing:?} {keep_alive}"
            );
        }
    }

    #[test]
    fn chunked_to_http10_resolves_to_close_delimited() {
        assert_eq!(
            BodyFraming::Chunked.resolve(Version::Http10),
            BodyFraming::CloseDelimited
        );
        assert_eq!(
            BodyFraming::Chunked.resolve(Version::Http11),
            BodyFraming::Chunked
        );
        assert_eq!(
            BodyFraming::Length(3).resolve(Version::Http10),
            BodyFraming::Length(3)
        );
    }

    #[test]
    fn header_values_cannot_split_the_response() {
        let got = head(
            Version::Http11,
            200,
            &[
                ("X-Echo", "a\r\nSet-Cookie: x\0"),
                ("Bad Name", "v"),
                ("", "v"),
            ],
            BodyFraming::NoBody,
            true,
        );
        assert_eq!(got, "HTTP/1.1 200 OK\r\nX-Echo: a  Set-Cookie: x \r\n\r\n");
    }

    #[test]
    fn write_response_is_byte_exact() {
        let mut out = Vec::new();
        write_response(
            &mut out,
            Version::Http11,
            404,
            &[("Content-Type", "application/json")],
            b"{}",
            true,
        );
        assert_eq!(
            out,
            b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
        );
    }

    #[test]
    fn write_response_omits_body_for_statuses_without_content() {
        for status in [100, 204, 304] {
            let mut out = Vec::new();
            write_response(&mut out, Version::Http11, status, &[], b"ignored", false);
            let expected = format!(
                "HTTP/1.1 {status} {}\r\nConnection: close\r\n\r\n",
                reason_phrase(status)
            );
            assert_eq!(String::from_utf8(out).unwrap(), expected);
        }
    }

    #[test]
    fn chunks_are_hex_sized_and_empty_data_writes_nothing() {
        let mut out = Vec::new();
        write_chunk(&mut out, b"");
        assert!(out.is_empty());
        write_chunk(&mut out, b"hello");
        write_chunk(&mut out, &[b'x'; 26]);
        write_last_chunk(&mut out);
        let mut expected = b"5\r\nhello\r\n1A\r\n".to_vec();
        expected.extend_from_slice(&[b'x'; 26]);
        expected.extend_from_slice(b"\r\n0\r\n\r\n");
        assert_eq!(out, expected);
    }

    #[test]
    fn status_lines_are_code_and_reason() {
        for status in 100..=999 {
            let mut out = Vec::new();
            write_status_line(&mut out, status);
            let expected = format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status));
            assert_eq!(String::from_utf8(out).unwrap(), expected);
        }
    }

    #[test]
    fn continue_is_the_100_interim_response() {
        assert_eq!(CONTINUE, b"HTTP/1.1 100 Continue\r\n\r\n");
        assert_eq!(reason_phrase(100), "Continue");
    }

    #[test]
    fn digits_match_fmt() {
        for n in [0, 1, 9, 10, 15, 16, 200, 4095, 65536, 1 << 40, usize::MAX] {
            let mut dec = Vec::new();
            push_decimal(&mut dec, n);
            assert_eq!(dec, n.to_string().into_bytes());
            let mut chunk = Vec::new();
            write_chunk(&mut chunk, &vec![b'x'; n.min(70_000)]);
            let len = n.min(70_000);
            if len > 0 {
                assert!(chunk.starts_with(format!("{len:X}\r\n").as_bytes()), "{n}");
            } else {
                assert!(chunk.is_empty());
            }
        }
    }
}
