//! Log levels for `logging/setLevel` and `notifications/message` (MCP server/utilities/logging:
//! the eight RFC 5424 severities, least severe first).

/// One RFC 5424 severity; the derived order is severity order, so filtering is a comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Detailed debugging information.
    Debug,
    /// General informational messages.
    Info,
    /// Normal but significant events.
    Notice,
    /// Warning conditions.
    Warning,
    /// Error conditions.
    Error,
    /// Critical conditions.
    Critical,
    /// Action must be taken immediately.
    Alert,
    /// The system is unusable.
    Emergency,
}

/// Every level, least severe first, in the spelling the protocol uses.
const NAMES: [(Level, &str); 8] = [
    (Level::Debug, "debug"),
    (Level::Info, "info"),
    (Level::Notice, "notice"),
    (Level::Warning, "warning"),
    (Level::Error, "error"),
    (Level::Critical, "critical"),
    (Level::Alert, "alert"),
    (Level::Emergency, "emergency"),
];

impl Level {
    /// Reads a level name as `logging/setLevel` sends it; `None` for anything else.
    pub fn parse(name: &str) -> Option<Level> {
        NAMES.iter().find(|(_, n)| *n == name).map(|(l, _)| *l)
    }

    /// The protocol spelling, for `notifications/message`.
    pub fn as_str(self) -> &'static str {
        NAMES[self as usize].1
    }
}

/// Which `notifications/message` a request's tool calls may send.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFilter {
    /// Every message: a session that has not sent `logging/setLevel`.
    #[default]
    All,
    /// Messages at this level or more severe.
    AtLeast(Level),
    /// None: a 2026-07-28 request without `_meta["io.modelcontextprotocol/logLevel"]` (MCP
    /// 2026-07-28 server/utilities/logging: servers MUST NOT log to it).
    Silent,
}

impl LogFilter {
    /// Whether a message at `level` goes out.
    pub fn allows(self, level: Level) -> bool {
        match self {
            LogFilter::All => true,
            LogFilter::AtLeast(minimum) => level >= minimum,
            LogFilter::Silent => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_let_through_what_they_name() {
        assert!(LogFilter::All.allows(Level::Debug));
        assert!(!LogFilter::Silent.allows(Level::Emergency));
        assert!(LogFilter::AtLeast(Level::Info).allows(Level::Info));
        assert!(!LogFilter::AtLeast(Level::Notice).allows(Level::Info));
    }

    #[test]
    fn names_round_trip_and_order_by_severity() {
        for (level, name) in NAMES {
            assert_eq!(Level::parse(name), Some(level));
            assert_eq!(level.as_str(), name);
        }
        assert!(Level::Debug < Level::Info && Level::Alert < Level::Emergency);
    }

    #[test]
    fn unknown_and_miscased_names_are_rejected() {
        for name in ["", "INFO", "warn", "fatal", "trace"] {
            assert_eq!(Level::parse(name), None, "{name}");
        }
    }
}
