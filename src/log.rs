//! The stderr log: one line per event, `<RFC 3339 UTC time> mcpd: <level>: <message>`, below a
//! process-wide level.
//!
//! The level is one atomic, so any module may log without carrying a handle. Call as
//! `log::info(format_args!("listening on {addr}"))`; the message is only formatted when its level
//! is enabled. Line breaks and other control characters in a message are escaped, so text from a
//! client cannot split or forge a line (DESIGN 7); a line is cut at `--`
//! [`Limits::log_line_bytes`](crate::config::Limits::log_line_bytes).
//!
//! Logging never blocks the one thread once [`init`] has run (the binary calls it first):
//! lines go to a bounded in-memory buffer
//! ([`Limits::log_buffer_bytes`](crate::config::Limits::log_buffer_bytes)) that the event loop writes to
//! stderr without blocking ([`flush`] each turn; [`writable_fd`] to poll for room). When the
//! buffer is full (stderr is a pipe nobody drains), lines are dropped and counted, and one
//! `N log lines dropped` line says so once there is room again. A chatty child's stderr is
//! rate-limited per child with [`RateLimit`]. The time prefix is left out when `JOURNAL_STREAM`
//! names our stderr (journald stamps lines itself). Not here: an access log, files, rotation.

use crate::config::LogLevel;
use std::collections::VecDeque;
use std::fmt::{self, Write as _};
use std::fs::File;
use std::io::Write as _;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Bytes of one line kept (before its newline); the rest is cut with a marker. The default of
/// `Limits::log_line_bytes` until [`set_limits`] is called.
static LINE_BYTES: AtomicUsize = AtomicUsize::new(4096);

/// The most verbose level written, as `LogLevel as u8`; `info` until [`set_level`] is called.
static LEVEL: AtomicU8 = AtomicU8::new(LogLevel::Info as u8);
/// Whether lines start with their time (set by [`init`]).
static TIMESTAMPS: AtomicBool = AtomicBool::new(false);
/// Whether [`init`] has run.
static INITIALIZED: AtomicBool = AtomicBool::new(false);
/// Where lines go; direct blocking writes until [`init`].
static SINK: Mutex<Sink> = Mutex::new(Sink::new());
/// Whether lines, or a count of dropped ones, may wait in [`SINK`]: [`flush`] runs every
/// event-loop turn and nearly always finds nothing, so it takes the lock only then.
static WAITING: AtomicBool = AtomicBool::new(false);

/// Starts logging for a server built from `config` (the binary's or a library user's): non-blocking
/// stderr (see [`init`]), with the level and bounds the config gives.
pub fn start(config: &crate::config::Config) {
    init(std::env::var("JOURNAL_STREAM").ok().as_deref());
    set_level(config.log_level);
    set_limits(config.limits.log_buffer_bytes, config.limits.log_line_bytes);
}

/// Sets the most verbose level written, once at startup from `--log-level`.
pub fn set_level(level: LogLevel) {
    LEVEL.store(level as u8, Ordering::Relaxed);
}

/// Sets the buffer and line bounds, once at startup from
/// [`Limits`](crate::config::Limits) (`log_buffer_bytes`, `log_line_bytes`).
pub fn set_limits(buffer_bytes: usize, line_bytes: usize) {
    sink().cap = buffer_bytes;
    LINE_BYTES.store(line_bytes, Ordering::Relaxed);
}

/// Whether a message of `level` would be written, so callers can skip costly preparation.
pub fn enabled(level: LogLevel) -> bool {
    level as u8 <= LEVEL.load(Ordering::Relaxed)
}

/// Makes logging non-blocking and time-stamped (unless `journal_stream`, the value of
/// `JOURNAL_STREAM`, names our stderr). A pipe or terminal is reopened as a private
/// non-blocking description (`/proc/self/fd/2`), so the flag does not leak to whoever shares
/// ours; a socket is written with `MSG_DONTWAIT`; a regular file is written directly (it never
/// waits on a reader). Only the first call counts, so the command line can start logging
/// early and [`start`] after it changes nothing.
pub fn init(journal_stream: Option<&str>) {
    if INITIALIZED.swap(true, Ordering::Relaxed) {
        return;
    }
    let meta = std::fs::metadata("/proc/self/fd/2").ok();
    let journald = match (&meta, journal_stream) {
        (Some(meta), Some(value)) => names_stream(value, meta.dev(), meta.ino()),
        _ => false,
    };
    TIMESTAMPS.store(!journald, Ordering::Relaxed);
    let writer = match meta.map(|m| m.file_type()) {
        Some(t) if t.is_file() => Writer::Direct,
        Some(t) if t.is_socket() => Writer::Socket,
        Some(_) => std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open("/proc/self/fd/2")
            .map_or(Writer::Direct, Writer::Own),
        None => Writer::Direct,
    };
    sink().writer = writer;
}

/// Whether a `JOURNAL_STREAM` value (`DEVICE:INODE`, systemd.exec(5)) names the stream with
/// this device and inode: only then does journald stamp our lines (the variable may have been
/// inherited by a process whose stderr was redirected since).
fn names_stream(value: &str, dev: u64, ino: u64) -> bool {
    value
        .split_once(':')
        .is_some_and(|(d, i)| d.parse() == Ok(dev) && i.parse() == Ok(ino))
}

/// The descriptor to poll for writability while lines wait, if stderr is written
/// non-blockingly.
pub fn writable_fd() -> Option<RawFd> {
    match &sink().writer {
        Writer::Direct => None,
        Writer::Own(file) => Some(file.as_raw_fd()),
        Writer::Socket => Some(2),
    }
}

/// Writes what stderr takes now without blocking; true when lines still wait.
pub fn flush() -> bool {
    if !WAITING.load(Ordering::Relaxed) {
        return false;
    }
    let mut sink = sink();
    let waiting = sink.flush();
    WAITING.store(waiting || sink.dropped > 0, Ordering::Relaxed);
    waiting
}

/// At exit: keeps writing for at most `limit` while stderr takes bytes, then gives up on the
/// rest (a reader that never drains must not keep the process alive).
pub fn finish(limit: Duration) {
    let deadline = Instant::now() + limit;
    while flush() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Writes one event as one line to stderr if `level` is enabled.
pub fn log(level: LogLevel, args: fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    let mut line = String::new();
    if TIMESTAMPS.load(Ordering::Relaxed) {
        line = rfc3339(SystemTime::now());
        line.push(' ');
    }
    push_line(&mut line, level, args);
    sink().push(line);
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
#[cfg(test)]
fn format_line(level: LogLevel, args: fmt::Arguments<'_>) -> String {
    let mut line = String::new();
    push_line(&mut line, level, args);
    line
}

fn push_line(line: &mut String, level: LogLevel, args: fmt::Arguments<'_>) {
    let start = line.len();
    line.push_str("mcpd: ");
    line.push_str(level.as_str());
    line.push_str(": ");
    let mut escaper = Escaper(line);
    // Writing into a String only fails if a Display impl in `args` fails; keep what was written.
    let _ = escaper.write_fmt(args);
    let max = LINE_BYTES.load(Ordering::Relaxed);
    if line.len() - start > max {
        let mut cut = start + max;
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        line.truncate(cut);
        line.push_str(" [cut]");
    }
}

/// `2026-11-30T04:05:06.789Z` (RFC 3339, UTC, milliseconds).
pub fn rfc3339(at: SystemTime) -> String {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (H. Hinnant, "chrono-compatible low-level date
    // algorithms"), for the proleptic Gregorian calendar.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        since.subsec_millis()
    )
}

fn sink() -> std::sync::MutexGuard<'static, Sink> {
    // A panic while logging cannot leave the buffer inconsistent: keep using it.
    SINK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How lines reach stderr.
enum Writer {
    /// Blocking writes to fd 2 as lines come (before [`init`], or a regular file).
    Direct,
    /// A private non-blocking description of the pipe or terminal behind fd 2.
    Own(File),
    /// fd 2 is a socket: `send` with `MSG_DONTWAIT`.
    Socket,
}

/// The bounded buffer of lines waiting for stderr.
struct Sink {
    writer: Writer,
    pending: VecDeque<u8>,
    cap: usize,
    dropped: u64,
}

impl Sink {
    const fn new() -> Sink {
        Sink {
            writer: Writer::Direct,
            pending: VecDeque::new(),
            // The default of `Limits::log_buffer_bytes` until `set_limits`.
            cap: 256 * 1024,
            dropped: 0,
        }
    }

    /// Queues one line (without newline), or counts it dropped when it does not fit.
    fn push(&mut self, line: String) {
        if let Writer::Direct = self.writer {
            // One write per line keeps lines whole when a child shares our stderr; errors are
            // dropped.
            let mut bytes = line.into_bytes();
            bytes.push(b'\n');
            let _ = std::io::stderr().lock().write_all(&bytes);
            return;
        }
        WAITING.store(true, Ordering::Relaxed);
        self.note_dropped();
        if self.pending.len() + line.len() + 1 > self.cap {
            self.dropped += 1;
            return;
        }
        self.pending.extend(line.as_bytes());
        self.pending.push_back(b'\n');
    }

    /// Queues the "lines dropped" line once it fits.
    fn note_dropped(&mut self) {
        if self.dropped == 0 {
            return;
        }
        let mut line = String::new();
        if TIMESTAMPS.load(Ordering::Relaxed) {
            line = rfc3339(SystemTime::now());
            line.push(' ');
        }
        let n = self.dropped;
        push_line(
            &mut line,
            LogLevel::Warn,
            format_args!("{n} log lines dropped: stderr was not taking them"),
        );
        if self.pending.len() + line.len() < self.cap {
            self.pending.extend(line.as_bytes());
            self.pending.push_back(b'\n');
            self.dropped = 0;
        }
    }

    fn flush(&mut self) -> bool {
        loop {
            if self.pending.is_empty() {
                self.note_dropped();
                if self.pending.is_empty() {
                    return false;
                }
            }
            let chunk = self.pending.as_slices().0;
            let written = match &mut self.writer {
                Writer::Direct => return false,
                Writer::Own(file) => file.write(chunk),
                Writer::Socket => crate::sys::send_nonblocking(2, chunk),
            };
            match written {
                Ok(0) => return true,
                Ok(n) => {
                    self.pending.drain(..n.min(self.pending.len()));
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
                Err(_) => {
                    // stderr is gone (closed pipe): nothing will ever take these lines.
                    self.pending.clear();
                    return false;
                }
            }
        }
    }
}

/// A per-source line budget (a token bucket): `burst` lines at once, then `per_sec` a second.
/// Sans-IO: the caller passes `now`.
#[derive(Clone, Debug)]
pub struct RateLimit {
    per_sec: u64,
    burst: u64,
    /// Budget in thousandths of a line.
    milli: u64,
    last: Option<Instant>,
    pending: u64,
    total: u64,
}

impl RateLimit {
    /// A full budget of `burst` lines, refilled at `per_sec` lines a second.
    pub fn new(per_sec: u64, burst: u64) -> RateLimit {
        RateLimit {
            per_sec,
            burst,
            milli: burst.saturating_mul(1000),
            last: None,
            pending: 0,
            total: 0,
        }
    }

    /// Whether one more line may be logged at `now`; a refused line is counted.
    pub fn admit(&mut self, now: Instant) -> bool {
        if let Some(last) = self.last {
            let ms = now.saturating_duration_since(last).as_millis();
            let refill = u64::try_from(ms)
                .unwrap_or(u64::MAX)
                .saturating_mul(self.per_sec);
            self.milli = self
                .milli
                .saturating_add(refill)
                .min(self.burst.saturating_mul(1000));
        }
        self.last = Some(now);
        if self.milli >= 1000 {
            self.milli -= 1000;
            true
        } else {
            self.pending += 1;
            self.total += 1;
            false
        }
    }

    /// Lines refused since the last call (to report once logging resumes).
    pub fn take_suppressed(&mut self) -> u64 {
        std::mem::take(&mut self.pending)
    }

    /// Lines refused since the start.
    pub fn total_suppressed(&self) -> u64 {
        self.total
    }
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

    #[test]
    fn long_lines_are_cut() {
        // The default bound: no test changes the process-wide one.
        let max = crate::config::Limits::default().log_line_bytes;
        let long = "x".repeat(max * 2);
        let line = format_line(LogLevel::Info, format_args!("{long}"));
        assert_eq!(line.len(), max + " [cut]".len());
        assert!(line.ends_with("x [cut]"));
        let wide = "é".repeat(max);
        let line = format_line(LogLevel::Info, format_args!("{wide}"));
        assert!(line.len() <= max + " [cut]".len(), "cut on a char boundary");
    }

    #[test]
    fn journal_stream_must_name_our_stderr() {
        assert!(names_stream("8:12345", 8, 12345));
        assert!(!names_stream("8:12345", 8, 12346), "stderr was redirected");
        assert!(!names_stream("8", 8, 12345));
        assert!(!names_stream("", 8, 12345));
        assert!(!names_stream("x:y", 8, 12345));
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let at = |secs: u64, ms: u64| {
            rfc3339(UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(ms))
        };
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(at(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(at(1_796_012_706, 789), "2026-11-30T04:25:06.789Z");
        assert_eq!(at(4_107_542_399, 999), "2100-02-28T23:59:59.999Z");
    }

    /// A sink writing into a pipe this test owns, as the binary's would.
    fn pipe_sink(cap: usize) -> (Sink, std::os::unix::net::UnixStream) {
        let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        ours.set_nonblocking(true).unwrap();
        let file = File::from(std::os::fd::OwnedFd::from(ours));
        let mut sink = Sink::new();
        sink.writer = Writer::Own(file);
        sink.cap = cap;
        (sink, theirs)
    }

    #[test]
    fn a_full_buffer_drops_lines_and_says_how_many() {
        let (mut sink, mut reader) = pipe_sink(100);
        for i in 0..10 {
            sink.push(format!("line {i} {}", "x".repeat(20)));
        }
        assert!(sink.pending.len() <= 100);
        assert_eq!(sink.dropped, 7, "three 28-byte lines fit in 100 bytes");
        assert!(!sink.flush(), "the socket takes it all");
        sink.push("after".into());
        assert!(!sink.flush());
        reader
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&got).contains("after") {
            let n = std::io::Read::read(&mut reader, &mut buf).unwrap();
            got.extend_from_slice(&buf[..n]);
        }
        let text = String::from_utf8(got).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        assert!(lines[0].starts_with("line 0 "));
        assert_eq!(
            lines[3],
            "mcpd: warn: 7 log lines dropped: stderr was not taking them"
        );
        assert_eq!(lines[4], "after");
    }

    #[test]
    fn a_stalled_reader_never_blocks_a_push_or_a_flush() {
        let (mut sink, _reader) = pipe_sink(crate::config::Limits::default().log_buffer_bytes);
        // Far more than the socket buffer and the log buffer together; nobody reads.
        for i in 0..100_000 {
            sink.push(format!("line {i} {}", "y".repeat(100)));
            if i % 1000 == 0 {
                sink.flush();
            }
        }
        assert!(sink.flush(), "lines still wait");
        assert!(sink.pending.len() <= sink.cap);
        assert!(sink.dropped > 0);
    }

    #[test]
    fn rate_limit_allows_a_burst_then_the_rate_and_counts_the_rest() {
        let start = Instant::now();
        let mut limit = RateLimit::new(10, 5);
        let admitted = (0..20).filter(|_| limit.admit(start)).count();
        assert_eq!(admitted, 5);
        assert_eq!(limit.take_suppressed(), 15);
        assert_eq!(limit.take_suppressed(), 0);
        let later = start + Duration::from_millis(500);
        let admitted = (0..20).filter(|_| limit.admit(later)).count();
        assert_eq!(admitted, 5, "half a second at 10 a second");
        assert_eq!(limit.total_suppressed(), 30);
        let much_later = later + Duration::from_secs(3600);
        assert_eq!(
            (0..20).filter(|_| limit.admit(much_later)).count(),
            5,
            "burst caps it"
        );
    }
}
