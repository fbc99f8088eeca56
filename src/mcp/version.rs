//! MCP protocol revisions this server speaks, and version negotiation.
//!
//! Revision strings are ISO dates, so string order is release order.

/// Handshake-era revisions, oldest first (MCP versioning: "legacy").
pub const LEGACY: [&str; 4] = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];

/// The newest handshake-era revision; offered when a client asks for one we do not know.
pub const LATEST_LEGACY: &str = "2025-11-25";

/// The stateless revision (MCP versioning: "modern"): no sessions, per-request `_meta`.
pub const MODERN: &str = "2026-07-28";

/// Every revision a `-32022` error lists as supported by the stateless path.
pub const MODERN_SUPPORTED: [&str; 1] = [MODERN];

/// Whether `version` is a per-request (stateless) revision rather than a handshake one.
pub fn is_modern(version: &str) -> bool {
    !LEGACY.contains(&version)
}

/// The answer to an `initialize` that requested `requested`: the same revision if we speak it,
/// else our latest (MCP lifecycle, "Version Negotiation": not an error).
pub fn negotiate(requested: Option<&str>) -> &'static str {
    requested
        .and_then(|r| LEGACY.iter().copied().find(|v| *v == r))
        .unwrap_or(LATEST_LEGACY)
}

/// Whether a `MCP-Protocol-Version` header value names a revision we support. Checked against the
/// whole supported set, not the session's negotiated revision (conformance relies on it).
pub fn is_supported(version: &str) -> bool {
    LEGACY.contains(&version)
}

/// Whether `version` has the SSE polling rules of SEP-1699 (priming event, `retry`).
pub fn has_sse_polling(version: &str) -> bool {
    version >= "2025-11-25" && LEGACY.contains(&version)
}

/// Whether `version` accepts JSON-RPC batches (only 2025-03-26 does).
pub fn allows_batches(version: &str) -> bool {
    version == "2025-03-26"
}

/// Every revision mcpd implements, oldest first: what `--eras` may name.
pub const ALL: [&str; 5] = [
    "2024-11-05",
    "2025-03-26",
    "2025-06-18",
    "2025-11-25",
    MODERN,
];

/// The revisions offered and accepted (`--eras`): built-in and bridged, every transport.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Eras {
    offered: Vec<&'static str>,
    explicit: bool,
}

impl Default for Eras {
    fn default() -> Eras {
        Eras {
            offered: ALL.to_vec(),
            explicit: false,
        }
    }
}

impl Eras {
    /// From `--eras` values; unknown names are dropped (the CLI refuses them first), and an
    /// empty list means every revision, as chosen by default rather than by the operator.
    pub fn from_list<S: AsRef<str>>(list: &[S]) -> Eras {
        let offered: Vec<&'static str> = ALL
            .iter()
            .copied()
            .filter(|v| list.iter().any(|l| l.as_ref() == *v))
            .collect();
        if offered.is_empty() {
            return Eras::default();
        }
        Eras {
            offered,
            explicit: true,
        }
    }

    /// Whether `version` is offered.
    pub fn offers(&self, version: &str) -> bool {
        self.offered.contains(&version)
    }

    /// Whether 2026-07-28 is offered.
    pub fn modern(&self) -> bool {
        self.offers(MODERN)
    }

    /// Whether the operator named the revisions (`--eras`) rather than taking the default.
    pub fn explicit(&self) -> bool {
        self.explicit
    }

    /// The offered revisions, oldest first.
    pub fn offered(&self) -> &[&'static str] {
        &self.offered
    }

    /// The offered handshake revisions, oldest first.
    pub fn handshake(&self) -> Vec<&'static str> {
        let legacy = self.offered.iter().copied().filter(|v| LEGACY.contains(v));
        legacy.collect()
    }

    /// [`negotiate`] within the offered handshake revisions; `None` when none is offered.
    pub fn negotiate(&self, requested: Option<&str>) -> Option<&'static str> {
        let handshake = self.handshake();
        match requested.and_then(|r| handshake.iter().copied().find(|v| *v == r)) {
            Some(v) => Some(v),
            None => handshake.last().copied(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eras_restrict_negotiation_and_default_to_all() {
        let all = Eras::default();
        assert!(all.modern() && !all.explicit());
        assert_eq!(all.negotiate(Some("2025-06-18")), Some("2025-06-18"));
        let list =
            |l: &[&str]| Eras::from_list(&l.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let some = list(&["2025-06-18", "2024-11-05"]);
        assert!(some.explicit() && !some.modern());
        assert_eq!(some.offered(), ["2024-11-05", "2025-06-18"]);
        assert_eq!(some.negotiate(Some("2025-11-25")), Some("2025-06-18"));
        assert_eq!(some.negotiate(Some("2024-11-05")), Some("2024-11-05"));
        let modern_only = list(&["2026-07-28"]);
        assert_eq!(modern_only.negotiate(Some("2025-11-25")), None);
        assert!(modern_only.handshake().is_empty());
        assert_eq!(list(&[]), all);
    }

    #[test]
    fn negotiation_echoes_known_and_offers_latest_otherwise() {
        assert_eq!(negotiate(Some("2025-03-26")), "2025-03-26");
        assert_eq!(negotiate(Some("2024-11-05")), "2024-11-05");
        assert_eq!(negotiate(Some("1999-01-01")), LATEST_LEGACY);
        assert_eq!(negotiate(None), LATEST_LEGACY);
    }

    #[test]
    fn polling_and_batches_follow_the_revision() {
        assert!(has_sse_polling("2025-11-25"));
        assert!(!has_sse_polling("2025-06-18"));
        assert!(allows_batches("2025-03-26"));
        assert!(!allows_batches("2025-06-18"));
        assert!(!is_supported("2025-13-01"));
    }
}
