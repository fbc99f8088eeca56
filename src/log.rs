//! The stderr log: one line per event, `mcpd: <level>: <message>`, below a process-wide level.
//!
//! The level is one atomic, so any module may log without carrying a handle. Call as
//! `log::info(format_args!("listening on {addr}"))`; the message is only formatted when its level
//! is enabled. Line breaks and other control characters in a message are escaped, so text from a
//! client cannot split or forge a line (DESIGN 7). Writing never panics and never blocks on a
//! closed stderr: a failed write is dropped. Not here: an access log, files, rotation, timestamps
//! (the supervisor's journal adds them).

use crate::config::LogLevel;
use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::sync::atomic::{AtomicU8, Ordering};

/// The most verbose level written, as `LogLevel as u8`; `info` until [`set_level`] is called.
static LEVEL: AtomicU8 = AtomicU8::new(LogLevel::Info as u8);

/// Sets the most verbose level written, once at startup from `--log-level`.
pub fn set_level(level: LogLevel) {
    LEVEL.store(level as u8, Ordering::Relaxed);
}

/// Whether a message of `level` would be written, so callers can skip costly preparation.
pub fn enabled(level: LogLevel) -> bool {
    level as u8 <= LEVEL.load(Ordering::Relaxed)
}

/// Writes one event as one line to stderr if `level` is enabled.
pub fn log(level: LogLevel, args: fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    let mut line = format_line(level, args);
    line.push('\n');
    // One write per line keeps lines whole when a child shares our stderr; errors are dropped.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// Logs a failure that stops something working.
pub fn error(args: fmt::Arguments<'_>) {
    log(LogLevel::Error, args);
}

/// Logs a limit hit or suspicious input.
pub fn warn(args: fmt::Arguments<'_>) {
    log(LogLevel::Warn, args);
}

/// Logs a lifecycle event: listening, sessions, children.
pub fn info(args: fmt::Arguments<'_>) {
    log(LogLevel::Info, args);
}

/// Logs per-request detail for debugging.
pub fn debug(args: fmt::Arguments<'_>) {
    log(LogLevel::Debug, args);
}

/// The line for one event, without its final newline; control characters but tab are escaped.
pub(crate) fn format_line(level: LogLevel, args: fmt::Arguments<'_>) -> String {
    let mut line = format!("mcpd: {}: ", level.as_str());
    let mut escaper = Escaper(&mut line);
    // Writing into a String only fails if a Display impl in `args` fails; keep what was written.
    let _ = escaper.write_fmt(args);
    line
}

/// Appends text to a line with `\n`, `\r` and other control characters made visible.
struct Escaper<'a>(&'a mut String);

impl fmt::Write for Escaper<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            match c {
                '\n' => self.0.push_str("\\n"),
                '\r' => self.0.push_str("\\r"),
                '\t' => self.0.push('\t'),
                c if c.is_control() => write!(self.0, "\\u{{{:x}}}", c as u32)?,
                c => self.0.push(c),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_has_prefix_level_and_message() {
        let cases = [
            (LogLevel::Error, "mcpd: error: listening on 127.0.0.1:8000"),
            (LogLevel::Warn, "mcpd: warn: listening on 127.0.0.1:8000"),
            (LogLevel::Info, "mcpd: info: listening on 127.0.0.1:8000"),
            (LogLevel::Debug, "mcpd: debug: listening on 127.0.0.1:8000"),
        ];
        let addr = "127.0.0.1:8000";
        for (level, want) in cases {
            assert_eq!(
                format_line(level, format_args!("listening on {addr}")),
                want
            );
        }
    }

    #[test]
    fn one_event_stays_one_line() {
        let cases = [
            ("a\nb", "mcpd: info: a\\nb"),
            ("a\r\nb\n", "mcpd: info: a\\r\\nb\\n"),
            ("tab\tkept", "mcpd: info: tab\tkept"),
            ("esc\x1b[31mred", "mcpd: info: esc\\u{1b}[31mred"),
            ("nul\0", "mcpd: info: nul\\u{0}"),
            ("ünïcode ✓", "mcpd: info: ünïcode ✓"),
            ("", "mcpd: info: "),
        ];
        for (message, want) in cases {
            let line = format_line(LogLevel::Info, format_args!("{message}"));
            assert_eq!(line, want, "message {message:?}");
            assert!(!line.contains('\n') && !line.contains('\r'));
        }
    }

    #[test]
    fn level_gates_more_verbose_events() {
        // The only test touching the global level; it restores the default.
        for (set, allowed) in [
            (LogLevel::Error, 1),
            (LogLevel::Warn, 2),
            (LogLevel::Info, 3),
            (LogLevel::Debug, 4),
        ] {
            set_level(set);
            for (i, level) in LogLevel::ALL.into_iter().enumerate() {
                assert_eq!(enabled(level), i < allowed, "set {set:?}, asked {level:?}");
            }
        }
        set_level(LogLevel::default());
        assert!(enabled(LogLevel::Info) && !enabled(LogLevel::Debug));
    }

    #[test]
    fn level_order_matches_all() {
        for (i, level) in LogLevel::ALL.into_iter().enumerate() {
            assert_eq!(level as u8 as usize, i);
        }
    }
}
