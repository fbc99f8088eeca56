//! Value forms of the command line: the parse-and-check helpers [`super::FLAGS`] uses, each
//! turning text into the typed value [`crate::config::Config`] holds (`None`: not of the form).

use std::fmt;
use std::net::Ipv6Addr;
use std::path::PathBuf;

use crate::units::digits;

/// Stores `value` in `field` when there is one; whether there was.
pub(super) fn put<T>(field: &mut T, value: Option<T>) -> bool {
    value.map(|v| *field = v).is_some()
}

/// Appends `value` to `list` when there is one; whether there was.
pub(super) fn push<T>(list: &mut Vec<T>, value: Option<T>) -> bool {
    value.map(|v| list.push(v)).is_some()
}

/// The form of `--path`, `--sse-path` and `--messages-path`.
pub(super) const PATH_FORM: &str =
    "a path starting with '/' without '?', '#', spaces or control characters";

/// `v` as an endpoint path (see [`PATH_FORM`]).
pub(super) fn endpoint(v: &str) -> Option<String> {
    let ok = v.starts_with('/') && v.chars().all(|c| !"?#".contains(c) && visible(c));
    ok.then(|| v.to_string())
}

/// `v` as a file or directory path: not empty, no control characters.
pub(super) fn file_path(v: &str) -> Option<PathBuf> {
    (!v.is_empty() && !v.chars().any(char::is_control)).then(|| PathBuf::from(v))
}

/// `v` as a bearer token: at least 8 visible ASCII characters.
pub(super) fn token(v: &str) -> Option<String> {
    (v.len() >= 8 && v.bytes().all(|b| b.is_ascii_graphic())).then(|| v.to_string())
}

/// `items` shown one after another, `sep` between.
pub(super) fn join<T: fmt::Display>(items: &[T], sep: &str) -> String {
    let shown: Vec<String> = items.iter().map(T::to_string).collect();
    shown.join(sep)
}

/// An optional path as `--help` and `Kind::Text` show it: empty for none.
pub(super) fn shown_path(path: &Option<PathBuf>) -> String {
    path.as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

/// Whether `c` may appear in a path, host or origin: not whitespace, not a control character.
pub(super) fn visible(c: char) -> bool {
    !c.is_whitespace() && !c.is_control()
}

/// `scheme://host[:port]` as browsers serialize an `Origin` (RFC 6454 6.1): no path, no userinfo.
pub(super) fn is_origin(v: &str) -> bool {
    let Some((scheme, authority)) = v.split_once("://") else {
        return false;
    };
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    let (host_ok, port) = match authority.strip_prefix('[') {
        Some(bracketed) => match bracketed.split_once(']') {
            Some((ip, rest)) => (ip.parse::<Ipv6Addr>().is_ok(), rest),
            None => return false,
        },
        None => {
            let end = authority.find(':').unwrap_or(authority.len());
            let host = &authority[..end];
            let host_ok = !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c));
            (host_ok, &authority[end..])
        }
    };
    let port_ok = port.is_empty() || port.strip_prefix(':').and_then(digits::<u16>).is_some();
    scheme_ok && host_ok && port_ok
}

/// The entry of `all` whose name is `v`, ignoring ASCII case.
pub(super) fn choose<T: Copy>(all: &[T], name: fn(T) -> &'static str, v: &str) -> Option<T> {
    all.iter()
        .copied()
        .find(|&t| name(t).eq_ignore_ascii_case(v))
}

pub(super) fn one_of<const N: usize>(names: [&str; N]) -> String {
    format!("one of {}", names.join(", "))
}
