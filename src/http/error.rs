//! Errors of the HTTP/1.1 framing layer, each mapped to the status it is answered with.
//!
//! Every variant means the request stream can no longer be framed reliably (or, for
//! [`Error::HeadTimeout`], that the client is too slow), so the connection answers once and
//! closes (RFC 9112 9.6: "close" after the response).

use core::fmt;

use super::response::reason_phrase;

/// Why a request could not be read; [`Error::status`] is the wire mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Request line plus header fields (or a chunked trailer section) exceed their byte limit.
    HeadTooLarge,
    /// More header fields than the limit allows.
    TooManyHeaders,
    /// The request violates RFC 9112 syntax or framing; the text names the violation.
    BadRequest(&'static str),
    /// A transfer coding other than `chunked` was applied (RFC 9112 6.1).
    UnsupportedTransferCoding,
    /// The announced or decoded body exceeds the body limit.
    BodyTooLarge,
    /// An `Expect` member other than `100-continue` (RFC 9110 10.1.1).
    ExpectationFailed,
    /// A well-formed `HTTP/x.y` version other than 1.0 and 1.1.
    UnsupportedVersion,
    /// The caller's head timer fired before a complete head arrived (slowloris guard).
    HeadTimeout,
}

impl Error {
    /// The status code this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            Error::HeadTooLarge | Error::TooManyHeaders => 431,
            Error::BadRequest(_) => 400,
            Error::UnsupportedTransferCoding => 501,
            Error::BodyTooLarge => 413,
            Error::ExpectationFailed => 417,
            Error::UnsupportedVersion => 505,
            Error::HeadTimeout => 408,
        }
    }

    /// The canonical reason phrase of [`Error::status`].
    pub fn reason(&self) -> &'static str {
        reason_phrase(self.status())
    }

    #[cfg(any(test, fuzzing))]
    /// Whether the connection must close after the error response; the framing is lost.
    pub fn closes(&self) -> bool {
        match self {
            Error::HeadTooLarge
            | Error::TooManyHeaders
            | Error::BadRequest(_)
            | Error::UnsupportedTransferCoding
            | Error::BodyTooLarge
            | Error::ExpectationFailed
            | Error::UnsupportedVersion
            | Error::HeadTimeout => true,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::HeadTooLarge => f.write_str("request header section exceeds its size limit"),
            Error::TooManyHeaders => f.write_str("request has too many header fields"),
            Error::BadRequest(what) => write!(f, "bad request: {what}"),
            Error::UnsupportedTransferCoding => {
                f.write_str("transfer coding other than chunked is not supported")
            }
            Error::BodyTooLarge => f.write_str("request body exceeds its size limit"),
            Error::ExpectationFailed => f.write_str("unsupported Expect value"),
            Error::UnsupportedVersion => f.write_str("HTTP version not supported"),
            Error::HeadTimeout => f.write_str("request head not received in time"),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_maps_to_its_status_and_reason_and_closes() {
        let table: &[(Error, u16, &str)] = &[
            (Error::HeadTooLarge, 431, "Request Header Fields Too Large"),
            (
                Error::TooManyHeaders,
                431,
                "Request Header Fields Too Large",
            ),
            (Error::BadRequest("x"), 400, "Bad Request"),
            (Error::UnsupportedTransferCoding, 501, "Not Implemented"),
            (Error::BodyTooLarge, 413, "Content Too Large"),
            (Error::ExpectationFailed, 417, "Expectation Failed"),
            (Error::UnsupportedVersion, 505, "HTTP Version Not Supported"),
            (Error::HeadTimeout, 408, "Request Timeout"),
        ];
        for (error, status, reason) in table {
            assert_eq!(error.status(), *status, "{error:?}");
            assert_eq!(error.reason(), *reason, "{error:?}");
            assert!(error.closes(), "{error:?}");
        }
    }

    #[test]
    fn bad_request_display_names_the_violation() {
        let text = Error::BadRequest("missing Host header").to_string();
        assert_eq!(text, "bad request: missing Host header");
    }
}
