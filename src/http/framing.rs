//! Request body length and connection persistence, decided from the head alone:
//! RFC 9112 6.1-6.3 (Transfer-Encoding, Content-Length), 9.3 (persistence) and
//! RFC 9110 10.1.1 (`Expect: 100-continue`).
//!
//! Transfer-Encoding decisions (the members of all `Transfer-Encoding` lines form one list):
//!
//! | list                                          | answer |
//! | --------------------------------------------- | ------ |
//! | `chunked`                                     | chunked body |
//! | any, on an HTTP/1.0 request                   | 400 (RFC 9112 6.1: faulty framing) |
//! | empty                                         | 400 (the grammar needs one coding) |
//! | final member not exactly `chunked` (`chunked, gzip`, `identity`, `xchunked`, `chunked;x`) | 400 (RFC 9112 6.3 rule 4) |
//! | `chunked` twice (`chunked, chunked`)           | 400 (RFC 9112 7: applied at most once) |
//! | other codings before `chunked` (`gzip, chunked`) | 501 (RFC 9112 6.1: coding not understood) |
//!
//! With both Transfer-Encoding and Content-Length, chunked wins, Content-Length is ignored and
//! the connection closes after the answer (RFC 9112 6.3 rule 3, 6.1).

use super::error::Error;
use super::fields::Field;
use super::head::{list_members, trim_ows, RequestHead, Version};

/// How the request body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyLength {
    /// Neither Transfer-Encoding nor Content-Length: no body (RFC 9112 6.3 rule 7).
    Empty,
    /// Exactly this many bytes follow the head (RFC 9112 6.3 rule 6).
    Length(usize),
    /// Chunked transfer coding (RFC 9112 6.3 rule 4, 7.1).
    Chunked,
}

/// Everything the head decides about the message framing and the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Framing {
    /// How the body is delimited.
    pub body: BodyLength,
    /// Whether the connection may carry another request after this one (RFC 9112 9.3).
    pub keep_alive: bool,
    /// Whether to send `100 Continue` before reading the body (RFC 9110 10.1.1).
    pub expect_continue: bool,
}

fn is_chunked(coding: &[u8]) -> bool {
    coding.eq_ignore_ascii_case(b"chunked")
}

/// `Some(())` when Transfer-Encoding is present and valid; see the module table.
fn transfer_encoding(head: &RequestHead) -> Result<Option<()>, Error> {
    let mut present = false;
    let mut last: Option<&[u8]> = None;
    let mut chunked_before_last = false;
    let mut other_before_last = false;
    for value in head.headers_named(Field::TransferEncoding) {
        present = true;
        for coding in list_members(value) {
            match last {
                Some(previous) if is_chunked(previous) => chunked_before_last = true,
                Some(_) => other_before_last = true,
                None => {}
            }
            last = Some(coding);
        }
    }
    if !present {
        return Ok(None);
    }
    if head.version == Version::Http10 {
        return Err(Error::BadRequest(
            "Transfer-Encoding in an HTTP/1.0 request",
        ));
    }
    match last {
        None => Err(Error::BadRequest("empty Transfer-Encoding")),
        Some(last) if !is_chunked(last) => Err(Error::BadRequest(
            "chunked is not the final transfer coding",
        )),
        Some(_) if chunked_before_last => Err(Error::BadRequest("chunked applied more than once")),
        Some(_) if other_before_last => Err(Error::UnsupportedTransferCoding),
        Some(_) => Ok(Some(())),
    }
}

/// `Content-Length = 1*DIGIT` (RFC 9110 8.6), checked against u64 overflow.
fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &b| {
        let digit = u64::from(b.checked_sub(b'0').filter(|d| *d <= 9)?);
        n.checked_mul(10)?.checked_add(digit)
    })
}

/// The Content-Length, if any: several lines or a list are fine when all values agree
/// (RFC 9110 8.6); anything else is 400 (RFC 9112 6.3 rule 5).
fn content_length(head: &RequestHead) -> Result<Option<u64>, Error> {
    let mut found = None;
    for value in head.headers_named(Field::ContentLength) {
        for member in value.split(|&b| b == b',').map(trim_ows) {
            let n = parse_decimal(member).ok_or(Error::BadRequest("invalid Content-Length"))?;
            match found {
                Some(previous) if previous != n => {
                    return Err(Error::BadRequest("conflicting Content-Length values"))
                }
                _ => found = Some(n),
            }
        }
    }
    Ok(found)
}

/// `Expect` on HTTP/1.1: `Ok(true)` for `100-continue`, 417 for any other member; ignored on
/// HTTP/1.0 (RFC 9110 10.1.1).
fn expects_continue(head: &RequestHead) -> Result<bool, Error> {
    if head.version == Version::Http10 {
        return Ok(false);
    }
    let mut expect = false;
    for member in head.headers_named(Field::Expect).flat_map(list_members) {
        if !member.eq_ignore_ascii_case(b"100-continue") {
            return Err(Error::ExpectationFailed);
        }
        expect = true;
    }
    Ok(expect)
}

/// Decides body length, persistence and `100 Continue` for `head`, refusing a Content-Length
/// above `max_body_bytes` before any body byte is read.
///
/// Checks run in this order, so the first failing one names the error: Transfer-Encoding
/// (400/501), Content-Length syntax (400), Expect (417), body size (413).
pub(crate) fn request_framing(head: &RequestHead, max_body_bytes: usize) -> Result<Framing, Error> {
    let chunked = transfer_encoding(head)?.is_some();
    let length = if chunked { None } else { content_length(head)? };
    let expect = expects_continue(head)?;
    let mut keep_alive = match head.version {
        Version::Http11 => !head.header_has_token(Field::Connection, "close"),
        Version::Http10 => {
            !head.header_has_token(Field::Connection, "close")
                && head.header_has_token(Field::Connection, "keep-alive")
        }
    };
    let body = if chunked {
        if head.header(Field::ContentLength).is_some() {
            keep_alive = false;
        }
        BodyLength::Chunked
    } else {
        match length {
            None | Some(0) => BodyLength::Empty,
            Some(n) => match usize::try_from(n) {
                Ok(n) if n <= max_body_bytes => BodyLength::Length(n),
                _ => return Err(Error::BodyTooLarge),
            },
        }
    };
    let expect_continue = expect && body != BodyLength::Empty;
    Ok(Framing {
        body,
        keep_alive,
        expect_continue,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::head::Method;

    fn head(version: Version, fields: &[(&str, &str)]) -> RequestHead {
        let fields: Vec<(&str, &[u8])> = fields.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
        RequestHead::new(Method::Post, "/", version, &fields)
    }

    fn framing(version: Version, fields: &[(&str, &str)]) -> Result<Framing, Error> {
        request_framing(&head(version, fields), 100)
    }

    fn body(fields: &[(&str, &str)]) -> Result<BodyLength, Error> {
        framing(Version::Http11, fields).map(|f| f.body)
    }

    /// Header fields of a test head, as (name, value).
    type Fields = &'static [(&'static str, &'static str)];

    const TE: &str = "Transfer-Encoding";
    const CL: &str = "Content-Length";

    #[test]
    fn transfer_encoding_rules() {
        let bad = Error::BadRequest;
        let table: &[(Fields, Result<BodyLength, Error>)] = &[
            (&[(TE, "chunked")], Ok(BodyLength::Chunked)),
            (&[(TE, " CHUNKED ")], Ok(BodyLength::Chunked)),
            (&[(TE, "chunked,")], Ok(BodyLength::Chunked)),
            (&[(TE, ""), (TE, "chunked")], Ok(BodyLength::Chunked)),
            (&[(TE, "")], Err(bad("empty Transfer-Encoding"))),
            (&[(TE, " , ")], Err(bad("empty Transfer-Encoding"))),
            (
                &[(TE, "gzip, chunked")],
                Err(Error::UnsupportedTransferCoding),
            ),
            (
                &[(TE, "gzip"), (TE, "chunked")],
                Err(Error::UnsupportedTransferCoding),
            ),
            (
                &[(TE, "chunked, gzip")],
                Err(bad("chunked is not the final transfer coding")),
            ),
            (
                &[(TE, "chunked"), (TE, "gzip")],
                Err(bad("chunked is not the final transfer coding")),
            ),
            (
                &[(TE, "identity")],
                Err(bad("chunked is not the final transfer coding")),
            ),
            (
                &[(TE, "xchunked")],
                Err(bad("chunked is not the final transfer coding")),
            ),
            (
                &[(TE, "chunked;foo")],
                Err(bad("chunked is not the final transfer coding")),
            ),
            (
                &[(TE, "chunked, chunked")],
                Err(bad("chunked applied more than once")),
            ),
            (
                &[(TE, "chunked"), (TE, "chunked")],
                Err(bad("chunked applied more than once")),
            ),
        ];
        for (fields, expected) in table {
            assert_eq!(body(fields), *expected, "{fields:?}");
        }
    }

    #[test]
    fn transfer_encoding_on_http10_is_400() {
        assert_eq!(
            framing(Version::Http10, &[(TE, "chunked")]),
            Err(Error::BadRequest(
                "Transfer-Encoding in an HTTP/1.0 request"
            ))
        );
    }

    #[test]
    fn content_length_rules() {
        let invalid = Err(Error::BadRequest("invalid Content-Length"));
        let conflict = Err(Error::BadRequest("conflicting Content-Length values"));
        let table: &[(Fields, Result<BodyLength, Error>)] = &[
            (&[], Ok(BodyLength::Empty)),
            (&[(CL, "0")], Ok(BodyLength::Empty)),
            (&[(CL, "5")], Ok(BodyLength::Length(5))),
            (&[(CL, "007")], Ok(BodyLength::Length(7))),
            (&[(CL, "100")], Ok(BodyLength::Length(100))),
            (&[(CL, "5, 5")], Ok(BodyLength::Length(5))),
            (&[(CL, "5"), (CL, "5")], Ok(BodyLength::Length(5))),
            (&[(CL, "5"), (CL, "05")], Ok(BodyLength::Length(5))),
            (&[(CL, "5"), (CL, "6")], conflict.clone()),
            (&[(CL, "5,6")], conflict),
            (&[(CL, "")], invalid.clone()),
            (&[(CL, "5,")], invalid.clone()),
            (&[(CL, "+5")], invalid.clone()),
            (&[(CL, "-5")], invalid.clone()),
            (&[(CL, "5 5")], invalid.clone()),
            (&[(CL, "0x5")], invalid.clone()),
            (&[(CL, "five")], invalid.clone()),
            (&[(CL, "18446744073709551616")], invalid),
            (&[(CL, "18446744073709551615")], Err(Error::BodyTooLarge)),
            (&[(CL, "101")], Err(Error::BodyTooLarge)),
        ];
        for (fields, expected) in table {
            assert_eq!(body(fields), *expected, "{fields:?}");
        }
    }

    #[test]
    fn transfer_encoding_wins_over_content_length_and_closes() {
        let f = framing(Version::Http11, &[(CL, "garbage"), (TE, "chunked")]).unwrap();
        assert_eq!(f.body, BodyLength::Chunked);
        assert!(!f.keep_alive);
    }

    #[test]
    fn keep_alive_rules() {
        use Version::*;
        let table: &[(Version, Fields, bool)] = &[
            (Http11, &[], true),
            (Http11, &[("Connection", "close")], false),
            (Http11, &[("Connection", "Keep-Alive, CLOSE")], false),
            (
                Http11,
                &[("Connection", "upgrade"), ("connection", "close")],
                false,
            ),
            (Http11, &[("Connection", "closed")], true),
            (Http10, &[], false),
            (Http10, &[("Connection", "keep-alive")], true),
            (Http10, &[("Connection", "Keep-Alive")], true),
            (Http10, &[("Connection", "keep-alive, close")], false),
            (Http11, &[(TE, "chunked")], true),
            (Http11, &[(TE, "chunked"), (CL, "3")], false),
        ];
        for (version, fields, expected) in table {
            let got = framing(*version, fields).unwrap().keep_alive;
            assert_eq!(got, *expected, "{version:?} {fields:?}");
        }
    }

    #[test]
    fn expect_rules() {
        use Version::*;
        let table: &[(Version, Fields, Result<bool, Error>)] = &[
            (Http11, &[("Expect", "100-continue"), (CL, "5")], Ok(true)),
            (
                Http11,
                &[("Expect", "100-Continue"), (TE, "chunked")],
                Ok(true),
            ),
            (Http11, &[("Expect", "100-continue"), (CL, "0")], Ok(false)),
            (Http11, &[("Expect", "100-continue")], Ok(false)),
            (Http11, &[(CL, "5")], Ok(false)),
            (Http11, &[("Expect", "")], Ok(false)),
            (Http10, &[("Expect", "100-continue"), (CL, "5")], Ok(false)),
            (Http10, &[("Expect", "something"), (CL, "5")], Ok(false)),
            (
                Http11,
                &[("Expect", "something"), (CL, "5")],
                Err(Error::ExpectationFailed),
            ),
            (
                Http11,
                &[("Expect", "100-continue, x")],
                Err(Error::ExpectationFailed),
            ),
            (
                Http11,
                &[("Expect", "something"), (CL, "500")],
                Err(Error::ExpectationFailed),
            ),
        ];
        for (version, fields, expected) in table {
            let got = framing(*version, fields).map(|f| f.expect_continue);
            assert_eq!(got, *expected, "{version:?} {fields:?}");
        }
    }

    #[test]
    fn parse_decimal_is_strict_and_checked() {
        assert_eq!(parse_decimal(b"0"), Some(0));
        assert_eq!(parse_decimal(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_decimal(b"18446744073709551616"), None);
        assert_eq!(parse_decimal(b""), None);
        assert_eq!(parse_decimal(b"1/"), None);
        assert_eq!(parse_decimal(b"1:"), None);
    }
}
