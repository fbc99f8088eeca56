//! Config and Limits: every tunable of mcpd, its default, and why.
//!
//! Parsing of flags and `MCPD_*` environment variables lives in `cli` (the `mcpd` command line); this module only
//! names the values, so the library API can build a `Config` in code.

use crate::http::ReaderLimits;
use core::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// Every bound mcpd enforces. Each is checked where bytes enter (DESIGN 5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Request line plus header fields, in bytes; beyond it the answer is 431 and the connection
    /// closes. 16 KiB is above every real client's head and far below memory pressure.
    pub max_head_bytes: usize,
    /// Header fields per request; beyond it 431. The httparse header array *is* this limit.
    pub max_headers: usize,
    /// A request body (one JSON-RPC message or batch); beyond it 413 before the body is read.
    pub max_body_bytes: usize,
    /// Open client connections; beyond it a new connection is accepted and closed at once.
    pub max_connections: usize,
    /// Live MCP sessions; beyond it `initialize` gets 503 with `Retry-After`.
    pub max_sessions: usize,
    /// Bytes queued towards one connection; a stream whose reader stops past it is closed.
    pub max_outbound_bytes: usize,
    /// Bytes of past events kept per SSE stream for `Last-Event-ID` replay.
    pub replay_buffer_bytes: usize,
    /// Time allowed to receive a whole request head (slowloris guard); then 408 and close.
    pub head_timeout: Duration,
    /// Time an idle keep-alive connection is kept open between requests.
    pub keep_alive_timeout: Duration,
    /// Time a session may stay idle (no request in flight, no open stream) before it ends.
    pub session_timeout: Duration,
    /// Interval of SSE comment heartbeats on every open stream.
    pub heartbeat: Duration,
    /// Inbound bytes a connection may buffer beyond `max_head_bytes` (the start of a body or
    /// of a pipelined request) before reading pauses; 16 KiB keeps one read of a typical
    /// request whole without letting a client park much memory.
    pub input_slack_bytes: usize,
    /// Time answers in flight get to finish after SIGTERM (HTTP) or the end of stdin
    /// (`--stdio`) before mcpd stops anyway; 5 s covers a normal tool call without keeping a
    /// rolling deploy waiting.
    pub shutdown_grace: Duration,
    /// Bytes of log lines held while stderr is not taking them; beyond it lines are dropped and
    /// counted. 256 KiB rides out a slow journald without growing with a flood.
    pub log_buffer_bytes: usize,
    /// Bytes of one log line kept; the rest is cut with a marker, so a huge client value
    /// cannot fill the log buffer in one line.
    pub log_line_bytes: usize,
    /// Resource URIs one 2026-07-28 `subscriptions/listen` stream may follow; URIs past it are
    /// ignored. 256 covers a client watching a project's files; each costs a string per stream.
    pub max_listen_uris: usize,
    /// Client requests in flight in one session (a stdio stream is one session, its stateless
    /// requests included); beyond it a request is refused (HTTP 503 / -32000). 256 is far above
    /// what an interactive client keeps in flight, and bounds the request table a single
    /// misbehaving client can fill before its own answers come back.
    pub max_pending_per_session: usize,
    /// Requests to one client (sampling, elicitation, roots, ping) awaiting its answers; beyond
    /// it the handler's request fails at once (-32000), so a client that never answers cannot
    /// grow the table. 256, as for the client's own requests.
    pub max_outgoing_per_session: usize,
    /// Finished POST streams a session keeps for `Last-Event-ID` resumption after their
    /// connection is gone (oldest dropped first); each holds its replay buffer, so 16 bounds a
    /// session's parked replay memory at 16 × `replay_buffer_bytes`.
    pub max_parked_streams: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head_bytes: 16 * 1024,
            max_headers: 64,
            max_body_bytes: 4 * 1024 * 1024,
            max_connections: 10_000,
            max_sessions: 10_000,
            max_outbound_bytes: 1024 * 1024,
            replay_buffer_bytes: 256 * 1024,
            head_timeout: Duration::from_secs(10),
            keep_alive_timeout: Duration::from_secs(60),
            session_timeout: Duration::from_secs(3600),
            heartbeat: Duration::from_secs(15),
            input_slack_bytes: 16 * 1024,
            shutdown_grace: Duration::from_secs(5),
            log_buffer_bytes: 256 * 1024,
            log_line_bytes: 4096,
            max_listen_uris: 256,
            max_pending_per_session: 256,
            max_outgoing_per_session: 256,
            max_parked_streams: 16,
        }
    }
}

impl Limits {
    /// The HTTP request reader's bounds: the head, header and body limits above.
    pub fn reader(&self) -> ReaderLimits {
        ReaderLimits {
            max_head_bytes: self.max_head_bytes,
            max_headers: self.max_headers,
            max_body_bytes: self.max_body_bytes,
        }
    }
}

/// Bounds of the stdio bridge (DESIGN 3.3): what one child, its stderr and the 2026-07-28
/// translation may hold. None has a flag; a library user sets them in code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BridgeLimits {
    /// Last stderr lines of a child kept for the error a client gets when it fails; 20 lines
    /// hold a typical stack trace's head.
    pub stderr_tail_lines: usize,
    /// Bytes of one child stderr line kept (logged and in the tail); the rest is cut.
    pub stderr_line_bytes: usize,
    /// Child stderr lines per second that reach mcpd's log; the rest are counted, so a chatty
    /// child cannot drown the log or the disk behind it.
    pub stderr_lines_per_sec: u64,
    /// Child stderr lines logged in one burst above `stderr_lines_per_sec` (start-up banners).
    pub stderr_burst_lines: u64,
    /// Bytes waiting for a child's stdin (at least one `--max-body-bytes` message more); a
    /// child that stops reading gets no more requests instead of growing mcpd.
    pub stdin_buffer_bytes: usize,
    /// Reads of one child pipe per loop turn, so a child writing without pause cannot keep the
    /// loop from clients, timers and other children.
    pub reads_per_turn: usize,
    /// Reads of an exited child's pipes while reaping it; a descendant that left its process
    /// group could keep one open and writing, so reaping stops there.
    pub reads_at_reap: usize,
    /// Bytes of a non-JSON-RPC stdout line shown in the log.
    pub log_preview_bytes: usize,
    /// Restart delay after a supervised child's first exit; it doubles with each exit.
    pub backoff_start: Duration,
    /// Longest restart delay; 30 s retries a broken command twice a minute, not in a loop.
    pub backoff_max: Duration,
    /// Run time after which a child counts as healthy again and the delay starts over.
    pub healthy_after: Duration,
    /// Time a fresh child gets to answer `server/discover` before mcpd takes it for a
    /// handshake-only one and sends `initialize`: some stdio servers ignore requests they do
    /// not know before the handshake (the TS SDK 2.x client's stdio probe falls back on silence
    /// too). 10 s, because the clock starts at spawn: a Python server's imports alone took
    /// over 5 s on a loaded two-core machine, and a silent server costs this once per child.
    pub probe_timeout: Duration,
    /// 2026-07-28 requests held while the stateless child starts; past it they get 503.
    pub max_held: usize,
    /// Tool schemas cached from the stateless child for the `Mcp-Param-*` check; further tools
    /// are forwarded unchecked.
    pub max_cached_tools: usize,
    /// `tools/list` pages fetched from a child to fill that cache.
    pub max_tool_pages: usize,
    /// Time a translated request's continuation (`requestState`) stays valid; 10 minutes
    /// covers a person answering an elicitation.
    pub continuation_ttl: Duration,
    /// Continuations held at once; past it new ones are refused instead of growing memory.
    pub max_continuations: usize,
    /// Bytes all held continuations (and their parked messages) may take.
    pub max_held_bytes: usize,
    /// Child requests queued behind one continuation.
    pub max_queued: usize,
    /// Progress notifications parked per continuation (the latest are kept).
    pub max_parked_progress: usize,
    /// Resource URIs the translated listen streams subscribe the child to.
    pub max_subscriptions: usize,
}

impl Default for BridgeLimits {
    fn default() -> Self {
        BridgeLimits {
            stderr_tail_lines: 20,
            stderr_line_bytes: 512,
            stderr_lines_per_sec: 50,
            stderr_burst_lines: 200,
            stdin_buffer_bytes: 1024 * 1024,
            reads_per_turn: 4,
            reads_at_reap: 64,
            log_preview_bytes: 200,
            backoff_start: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            healthy_after: Duration::from_secs(60),
            probe_timeout: Duration::from_secs(10),
            max_held: 256,
            max_cached_tools: 1024,
            max_tool_pages: 16,
            continuation_ttl: Duration::from_secs(600),
            max_continuations: 256,
            max_held_bytes: 4 * 1024 * 1024,
            max_queued: 16,
            max_parked_progress: 32,
            max_subscriptions: 1024,
        }
    }
}

/// How a POST carrying a request is answered (MCP Streamable HTTP lets the server choose).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ResponseMode {
    /// JSON when the answer is ready at once with nothing sent before it, SSE otherwise.
    #[default]
    Auto,
    /// Always one JSON object (notifications sent before the answer go to the standalone stream).
    Json,
    /// Always an SSE stream.
    Sse,
}

impl ResponseMode {
    /// Every mode, so flag parsing and `--help` list the same names.
    pub const ALL: [ResponseMode; 3] = [ResponseMode::Auto, ResponseMode::Json, ResponseMode::Sse];

    /// The name used by `--response-mode`.
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseMode::Auto => "auto",
            ResponseMode::Json => "json",
            ResponseMode::Sse => "sse",
        }
    }
}

/// Verbosity of the stderr log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum LogLevel {
    /// Only failures that stop something working.
    Error,
    /// Also limits hit and suspicious input.
    Warn,
    /// Also lifecycle: listening, sessions, children.
    #[default]
    Info,
    /// Also every request (never bodies of other levels).
    Debug,
}

impl LogLevel {
    /// Every level, least verbose first; a level's index is its `as u8` value.
    pub const ALL: [LogLevel; 4] = [
        LogLevel::Error,
        LogLevel::Warn,
        LogLevel::Info,
        LogLevel::Debug,
    ];

    /// The name used by `--log-level` and in each log line.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
        }
    }
}

/// Everything a server needs to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Address to listen on; loopback by default so nothing is exposed by accident.
    pub host: IpAddr,
    /// TCP port; 0 asks the OS for a free one (tests).
    pub port: u16,
    /// `--listen` addresses; when any is given (or systemd passed sockets), `host` and `port`
    /// are not bound.
    pub listen: Vec<ListenAddr>,
    /// Permission bits (`0o660`) of the `unix:` sockets mcpd creates: who may connect is who
    /// may write the socket file.
    pub socket_mode: u32,
    /// Path of the MCP endpoint.
    pub path: String,
    /// Path of the 2024-11-05 HTTP+SSE stream.
    pub sse_path: String,
    /// Path the 2024-11-05 HTTP+SSE clients POST to.
    pub messages_path: String,
    /// Extra `Host` header values accepted besides loopback names (DNS-rebinding guard).
    pub allow_hosts: Vec<String>,
    /// Extra `Origin` values accepted besides loopback origins (DNS-rebinding guard).
    pub allow_origins: Vec<String>,
    /// Origins answered with CORS headers; empty means CORS is off.
    pub cors_origins: Vec<String>,
    /// How POSTs with requests are answered.
    pub response_mode: ResponseMode,
    /// Stderr log verbosity.
    pub log_level: LogLevel,
    /// Bearer token every MCP request must carry (`Authorization: Bearer ...`); `None` means
    /// no authentication, which is only sensible on loopback.
    pub auth_token: Option<String>,
    /// File holding the bearer token (first line), so it stays out of `ps` and the environment;
    /// the binary reads it into `auth_token` before serving.
    pub auth_token_file: Option<PathBuf>,
    /// Let `/health` answer without the token (for probes that cannot hold a secret).
    pub public_health: bool,
    /// Prefix of every session id, so a load balancer can route a session back to this
    /// instance (nginx `map` on `Mcp-Session-Id`).
    pub instance_id: Option<String>,
    /// Stop (gracefully) when the process that started mcpd dies.
    pub exit_with_parent: bool,
    /// Protocol revisions offered and accepted (`--eras`: some of `2024-11-05`, `2025-03-26`,
    /// `2025-06-18`, `2025-11-25`, `2026-07-28`); empty means every one mcpd speaks, except
    /// that per-session mode offers no 2026-07-28 for a handshake-only child.
    pub eras: Vec<&'static str>,
    /// Every bound.
    pub limits: Limits,
    /// The stdio bridge; its command is empty when the built-in server answers.
    pub bridge: BridgeConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 8000,
            listen: Vec::new(),
            socket_mode: 0o660,
            path: "/mcp".to_string(),
            sse_path: "/sse".to_string(),
            messages_path: "/messages".to_string(),
            allow_hosts: Vec::new(),
            allow_origins: Vec::new(),
            cors_origins: Vec::new(),
            response_mode: ResponseMode::Auto,
            log_level: LogLevel::Info,
            auth_token: None,
            auth_token_file: None,
            public_health: false,
            instance_id: None,
            exit_with_parent: false,
            eras: Vec::new(),
            limits: Limits::default(),
            bridge: BridgeConfig::default(),
        }
    }
}

/// One `--listen` address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListenAddr {
    /// `HOST:PORT` or `[V6]:PORT` with an IP literal (no name lookups: nothing to resolve).
    Tcp(SocketAddr),
    /// `unix:PATH`: a Unix stream socket, so a reverse proxy on the same host needs no TCP port.
    Unix(PathBuf),
}

impl ListenAddr {
    /// Parses `HOST:PORT`, `[V6]:PORT` or `unix:PATH`; `None` for anything else. A path must fit
    /// `sun_path` (107 bytes) and hold no NUL.
    pub fn parse(text: &str) -> Option<ListenAddr> {
        if let Some(path) = text.strip_prefix("unix:") {
            let fits = !path.is_empty() && path.len() < 108 && !path.contains('\0');
            return fits.then(|| ListenAddr::Unix(PathBuf::from(path)));
        }
        text.parse().ok().map(ListenAddr::Tcp)
    }
}

impl fmt::Display for ListenAddr {
    /// The form [`ListenAddr::parse`] takes back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenAddr::Tcp(addr) => write!(f, "{addr}"),
            ListenAddr::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// Parses `--socket-mode`: 3 or 4 octal digits, at most `0777`.
pub fn parse_socket_mode(text: &str) -> Option<u32> {
    let octal = (3..=4).contains(&text.len()) && text.bytes().all(|b| (b'0'..=b'7').contains(&b));
    octal
        .then(|| u32::from_str_radix(text, 8).ok())
        .flatten()
        .filter(|mode| *mode <= 0o777)
}

/// The stdio bridge: which command answers MCP and how its processes are supervised
/// (DESIGN 3.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BridgeConfig {
    /// Program and arguments given after `--`; empty means no bridge.
    pub command: Vec<String>,
    /// Run the command as `sh -c "<words joined by spaces>"` instead of directly.
    pub shell: bool,
    /// Variables (name, value) added to the environment mcpd passes on.
    pub env: Vec<(String, String)>,
    /// Working directory of the children; `None` keeps mcpd's.
    pub cwd: Option<PathBuf>,
    /// One child for every session instead of one per session.
    pub shared: bool,
    /// Time a child gets between SIGTERM and SIGKILL; 5 s lets a server flush and exit.
    pub kill_grace: Duration,
    /// Live children at most ([`DEFAULT_MAX_CHILDREN`] by default).
    pub max_children: usize,
    /// Time a child gets to answer one request, restarted by each progress notification for it;
    /// then the child is sent `notifications/cancelled` and the client an error. `None`: no
    /// limit. 5 minutes covers slow tools (a build, a crawl) and still bounds a child that
    /// never answers.
    pub request_timeout: Option<Duration>,
    /// Time a child gets to answer `initialize`; then it is ended and the client gets 504. 30 s
    /// covers a cold `npx`/`uvx` start and stays below the 60 s proxies allow an idle response.
    pub init_timeout: Duration,
    /// Idle time (no request in flight, no open stream) after which a session that owns a
    /// child ends, freeing the child; `None`: only `--session-timeout`. 10 minutes: clients
    /// that never DELETE should not keep a process for the whole hour of a session.
    pub child_idle_timeout: Option<Duration>,
    /// Bounds of each child and of the translation.
    pub limits: BridgeLimits,
}

/// `--max-children` when not given: sized for a small host. A typical bridged server (Node via
/// `npx`, Python via `uvx`) holds 50 to 150 MB resident, so 32 of them stay within about 4 GB,
/// the memory of a small VM, instead of letting any client that reaches the port start
/// thousands.
pub const DEFAULT_MAX_CHILDREN: usize = 32;

impl Default for BridgeConfig {
    fn default() -> Self {
        BridgeConfig {
            command: Vec::new(),
            shell: false,
            env: Vec::new(),
            cwd: None,
            shared: false,
            kill_grace: Duration::from_secs(5),
            max_children: DEFAULT_MAX_CHILDREN,
            request_timeout: Some(Duration::from_secs(300)),
            init_timeout: Duration::from_secs(30),
            child_idle_timeout: Some(Duration::from_secs(600)),
            limits: BridgeLimits::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_bound_is_above_zero() {
        // Destructured without `..`: a new field does not compile until it is checked here.
        let Limits {
            max_head_bytes,
            max_headers,
            max_body_bytes,
            max_connections,
            max_sessions,
            max_outbound_bytes,
            replay_buffer_bytes,
            head_timeout,
            keep_alive_timeout,
            session_timeout,
            heartbeat,
            input_slack_bytes,
            shutdown_grace,
            log_buffer_bytes,
            log_line_bytes,
            max_listen_uris,
            max_pending_per_session,
            max_outgoing_per_session,
            max_parked_streams,
        } = Limits::default();
        let BridgeLimits {
            stderr_tail_lines,
            stderr_line_bytes,
            stderr_lines_per_sec,
            stderr_burst_lines,
            stdin_buffer_bytes,
            reads_per_turn,
            reads_at_reap,
            log_preview_bytes,
            backoff_start,
            backoff_max,
            healthy_after,
            probe_timeout,
            max_held,
            max_cached_tools,
            max_tool_pages,
            continuation_ttl,
            max_continuations,
            max_held_bytes,
            max_queued,
            max_parked_progress,
            max_subscriptions,
        } = BridgeLimits::default();
        let counts = [
            max_head_bytes,
            max_headers,
            max_body_bytes,
            max_connections,
            max_sessions,
            max_outbound_bytes,
            replay_buffer_bytes,
            input_slack_bytes,
            log_buffer_bytes,
            log_line_bytes,
            max_listen_uris,
            max_pending_per_session,
            max_outgoing_per_session,
            max_parked_streams,
            stderr_tail_lines,
            stderr_line_bytes,
            stdin_buffer_bytes,
            reads_per_turn,
            reads_at_reap,
            log_preview_bytes,
            max_held,
            max_cached_tools,
            max_tool_pages,
            max_continuations,
            max_held_bytes,
            max_queued,
            max_parked_progress,
            max_subscriptions,
        ];
        let times = [
            head_timeout,
            keep_alive_timeout,
            session_timeout,
            heartbeat,
            shutdown_grace,
            backoff_start,
            backoff_max,
            healthy_after,
            probe_timeout,
            continuation_ttl,
        ];
        assert!(counts.iter().all(|n| *n > 0));
        assert!(stderr_lines_per_sec > 0 && stderr_burst_lines > 0);
        assert!(times.iter().all(|t| !t.is_zero()));
        assert!(backoff_start <= backoff_max);
    }

    #[test]
    fn the_reader_limits_are_the_configured_ones() {
        let limits = Limits {
            max_head_bytes: 2000,
            max_headers: 7,
            max_body_bytes: 99,
            ..Limits::default()
        };
        let reader = limits.reader();
        assert_eq!(
            (
                reader.max_head_bytes,
                reader.max_headers,
                reader.max_body_bytes
            ),
            (2000, 7, 99)
        );
        assert_eq!(Limits::default().reader(), ReaderLimits::default());
    }

    #[test]
    fn listen_addresses_parse_in_three_forms() {
        assert_eq!(
            ListenAddr::parse("127.0.0.1:8000"),
            Some(ListenAddr::Tcp("127.0.0.1:8000".parse().unwrap()))
        );
        assert_eq!(
            ListenAddr::parse("[::1]:0"),
            Some(ListenAddr::Tcp("[::1]:0".parse().unwrap()))
        );
        assert_eq!(
            ListenAddr::parse("unix:/run/mcpd/mcpd.sock"),
            Some(ListenAddr::Unix("/run/mcpd/mcpd.sock".into()))
        );
        for good in ["127.0.0.1:8000", "[::1]:0", "unix:/run/mcpd/mcpd.sock"] {
            let parsed = ListenAddr::parse(good).unwrap();
            assert_eq!(parsed.to_string(), good, "shown as parsed");
        }
        for bad in [
            "localhost:80",
            "::1:80",
            "127.0.0.1",
            "unix:",
            "8000",
            "",
            "unix:a\0b",
        ] {
            assert_eq!(ListenAddr::parse(bad), None, "{bad:?}");
        }
        assert_eq!(
            ListenAddr::parse(&format!("unix:/{}", "a".repeat(107))),
            None
        );
    }

    #[test]
    fn socket_modes_are_octal_permission_bits() {
        assert_eq!(parse_socket_mode("0660"), Some(0o660));
        assert_eq!(parse_socket_mode("600"), Some(0o600));
        for bad in ["0888", "66", "1777", "rw", "06600", ""] {
            assert_eq!(parse_socket_mode(bad), None, "{bad:?}");
        }
    }
}
