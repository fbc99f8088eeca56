//! The DNS-rebinding guard and CORS (MCP transports, "Security Warning"; DESIGN 6): `Host`
//! must name us (a loopback name, the listen address, or `--allow-host`), a present `Origin`
//! must be loopback or configured, and only `--cors-origin` origins get CORS answers.

use super::Server;
use super::{Reply, ReplyBody};
use crate::http::{Field, RequestHead};
use crate::mcp::error::Error;
use crate::mcp::Handler;

impl<H: Handler + ?Sized> Server<H> {
    /// `--auth-token`: the request must carry `Authorization: Bearer <token>` (RFC 6750),
    /// compared in constant time; otherwise 401 with `WWW-Authenticate`.
    pub(super) fn authorize(&self, head: &RequestHead) -> Result<(), Reply> {
        let Some(expected) = &self.config.auth_token else {
            return Ok(());
        };
        let expected = expected.as_bytes();
        let presented = head
            .header_str(Field::Authorization)
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        let challenge = match presented {
            Some(token) if same_secret(token.as_bytes(), expected) => return Ok(()),
            Some(_) => "Bearer realm=\"mcpd\", error=\"invalid_token\"",
            None => "Bearer realm=\"mcpd\"",
        };
        Err(Error::Unauthorized(challenge).reply(None))
    }

    /// DNS-rebinding guard (MCP transports, "Security Warning"): `Host` and a present `Origin`
    /// must be ours. Returns the origin to answer with CORS headers, if any.
    pub(super) fn guard(&self, head: &RequestHead) -> Result<Option<String>, Reply> {
        let forbidden = |what: String| Error::Forbidden(what).reply(None);
        // RFC 9112 3.2.2: an absolute-form target's authority is the host, not the Host field.
        if let Some(host) = head.host() {
            if !self.host_allowed(host) {
                return Err(forbidden(format!(
                    "Host {host:?} is not allowed; add it with --allow-host (MCPD_ALLOW_HOST)"
                )));
            }
        }
        let Some(origin) = head.header_str(Field::Origin) else {
            return Ok(None);
        };
        let cors = &self.config.cors_origins;
        let cors_match = cors
            .iter()
            .any(|o| o == "*" || o.eq_ignore_ascii_case(origin));
        let allowed = cors_match
            || self
                .config
                .allow_origins
                .iter()
                .any(|o| o.eq_ignore_ascii_case(origin))
            || is_loopback_origin(origin);
        if !allowed {
            return Err(forbidden(format!(
                "Origin {origin:?} is not allowed; add it with --allow-origin (MCPD_ALLOW_ORIGIN) or --cors-origin"
            )));
        }
        Ok(cors_match.then(|| origin.to_string()))
    }

    fn host_allowed(&self, host: &str) -> bool {
        if self
            .config
            .allow_hosts
            .iter()
            .any(|h| host_matches(h, host))
        {
            return true;
        }
        let name = host_name(host);
        if is_loopback_name(name) {
            return true;
        }
        if self.listen_ips.iter().any(|ip| ip.is_unspecified()) {
            // Bound to every address: without --allow-host we cannot know our names.
            return self.config.allow_hosts.is_empty();
        }
        // A listener's own address names us; a Unix socket adds no name, so over one only the
        // loopback names and --allow-host pass (what a reverse proxy sends by default).
        let literal = name.trim_start_matches('[').trim_end_matches(']');
        literal
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| self.listen_ips.contains(&ip))
    }

    pub(super) fn preflight(&self, head: &RequestHead) -> Reply {
        let origin = head.header_str(Field::Origin);
        let cors = &self.config.cors_origins;
        match origin {
            Some(origin) if cors.iter().any(|o| o == "*" || o.eq_ignore_ascii_case(origin)) => Reply {
                status: 204,
                headers: vec![
                    ("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS".into()),
                    (
                        "Access-Control-Allow-Headers",
                        "Content-Type, Accept, Authorization, Mcp-Session-Id, MCP-Protocol-Version, Last-Event-ID, Mcp-Method, Mcp-Name".into(),
                    ),
                    ("Access-Control-Max-Age", "86400".into()),
                ],
                body: ReplyBody::Empty,
            },
            _ => Error::Forbidden(
                "CORS is not enabled for this origin; add it with --cors-origin (MCPD_CORS_ORIGIN)"
                    .to_string(),
            )
            .reply(None),
        }
    }
}

/// The host part of a `Host` value (`[::1]:80` → `[::1]`, `a:80` → `a`). Searches bytes (`[`,
/// `]` and `:` are ASCII, so char boundaries): a `str` pattern search cost more than the rest
/// of the Host check.
fn host_name(host: &str) -> &str {
    let bytes = host.as_bytes();
    if bytes.first() == Some(&b'[') {
        return match bytes.iter().position(|&b| b == b']') {
            Some(end) => host.get(..=end).unwrap_or(host),
            None => host,
        };
    }
    match bytes.iter().rposition(|&b| b == b':') {
        Some(colon)
            if bytes
                .get(colon + 1..)
                .is_some_and(|p| p.iter().all(u8::is_ascii_digit)) =>
        {
            host.get(..colon).unwrap_or(host)
        }
        _ => host,
    }
}

fn is_loopback_name(name: &str) -> bool {
    // What local clients send, decided before the general rules (an IPv4 parse).
    if name == "127.0.0.1" || name == "localhost" {
        return true;
    }
    let name = name.trim_end_matches('.');
    if name.eq_ignore_ascii_case("localhost") || name == "[::1]" {
        return true;
    }
    name.parse::<std::net::Ipv4Addr>()
        .is_ok_and(|ip| ip.is_loopback())
}

/// An `--allow-host` entry without a port matches any port.
fn host_matches(entry: &str, host: &str) -> bool {
    entry.eq_ignore_ascii_case(host)
        || (host_name(entry) == entry && entry.eq_ignore_ascii_case(host_name(host)))
}

fn is_loopback_origin(origin: &str) -> bool {
    let rest = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .unwrap_or("");
    !rest.is_empty() && !rest.contains('/') && is_loopback_name(host_name(rest))
}

/// Compares secrets without an early exit, so timing does not reveal how much matched.
fn same_secret(presented: &[u8], expected: &[u8]) -> bool {
    let mut diff = presented.len() ^ expected.len();
    for (i, &b) in expected.iter().enumerate() {
        diff |= usize::from(b ^ presented.get(i).copied().unwrap_or(!b));
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_match_only_exactly() {
        assert!(same_secret(b"abcdefgh", b"abcdefgh"));
        for other in [&b"abcdefgX"[..], b"abcdefg", b"abcdefghi", b"", b"ABCDEFGH"] {
            assert!(!same_secret(other, b"abcdefgh"), "{other:?}");
        }
    }

    #[test]
    fn host_names_drop_the_port() {
        for (host, name) in [
            ("a:80", "a"),
            ("a", "a"),
            ("[::1]:8000", "[::1]"),
            ("[::1]", "[::1]"),
            ("a:b", "a:b"),
            ("127.0.0.1:8000", "127.0.0.1"),
            ("a:", "a"),
            (":80", ""),
            ("[::1", "[::1"),
            ("[::1]x", "[::1]"),
            ("", ""),
            ("caf\u{e9}:1", "caf\u{e9}"),
        ] {
            assert_eq!(host_name(host), name, "{host}");
        }
    }

    #[test]
    fn loopback_names_and_origins() {
        for name in [
            "localhost",
            "LOCALHOST",
            "localhost.",
            "127.0.0.1",
            "127.3.2.1",
            "127.0.0.1.",
            "localhost..",
            "[::1]",
        ] {
            assert!(is_loopback_name(name), "{name}");
        }
        for name in [
            "evil.example.com",
            "10.0.0.1",
            "localhost.evil",
            "::1",
            "127.0.0.1:80",
            "127.0.0.01",
            "",
        ] {
            assert!(!is_loopback_name(name), "{name}");
        }
        assert!(is_loopback_origin("http://localhost:3000"));
        assert!(is_loopback_origin("https://[::1]"));
        assert!(!is_loopback_origin("http://evil.example.com"));
        assert!(!is_loopback_origin("null"));
        assert!(!is_loopback_origin("http://localhost/path"));
    }

    #[test]
    fn allow_host_without_port_matches_any_port() {
        assert!(host_matches("example.com", "example.com:8443"));
        assert!(host_matches("example.com:8443", "EXAMPLE.com:8443"));
        assert!(!host_matches("example.com:8443", "example.com:9000"));
        assert!(!host_matches("example.com", "other.com"));
    }
}
