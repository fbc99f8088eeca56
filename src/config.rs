//! Config and Limits: every tunable of mcpd, its default, and why.
//!
//! Parsing of flags and `MCPD_*` environment variables lives in [`crate::cli`]; this module only
//! names the values, so the library API can build a `Config` in code.

use std::net::SocketAddr;
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
    /// Client requests in flight in one session (a stdio stream is one session, its stateless
    /// requests included); beyond it a request is refused (HTTP 503 / -32000). 256 is far above
    /// what an interactive client keeps in flight, and bounds the request table a single
    /// misbehaving client can fill before its own answers come back.
    pub max_pending_per_session: usize,
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
            max_pending_per_session: 256,
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
    pub host: String,
    /// TCP port; 0 asks the OS for a free one (tests).
    pub port: u16,
    /// `--listen` addresses ([`ListenAddr::parse`] forms); when any is given (or systemd passed
    /// sockets), `host` and `port` are not bound.
    pub listen: Vec<String>,
    /// Permission bits (octal text such as `0660`) of the `unix:` sockets mcpd creates: who
    /// may connect is who may write the socket file.
    pub socket_mode: String,
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
    /// Bearer token every MCP request must carry (`Authorization: Bearer ...`); empty means
    /// no authentication, which is only sensible on loopback.
    pub auth_token: String,
    /// File holding the bearer token (first line), so it stays out of `ps` and the environment.
    pub auth_token_file: String,
    /// Let `/health` answer without the token (for probes that cannot hold a secret).
    pub public_health: bool,
    /// Prefix of every session id, so a load balancer can route a session back to this
    /// instance (nginx `map` on `Mcp-Session-Id`); empty for none.
    pub instance_id: String,
    /// Stop (gracefully) when the process that started mcpd dies.
    pub exit_with_parent: bool,
    /// Protocol revisions offered and accepted (`--eras`); empty means every one mcpd speaks,
    /// except that per-session mode offers no 2026-07-28 for a handshake-only child.
    pub eras: Vec<String>,
    /// Every bound.
    pub limits: Limits,
    /// The stdio bridge; its command is empty when the built-in server answers.
    pub bridge: BridgeConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            host: "127.0.0.1".to_string(),
            port: 8000,
            listen: Vec::new(),
            socket_mode: "0660".to_string(),
            path: "/mcp".to_string(),
            sse_path: "/sse".to_string(),
            messages_path: "/messages".to_string(),
            allow_hosts: Vec::new(),
            allow_origins: Vec::new(),
            cors_origins: Vec::new(),
            response_mode: ResponseMode::Auto,
            log_level: LogLevel::Info,
            auth_token: String::new(),
            auth_token_file: String::new(),
            public_health: false,
            instance_id: String::new(),
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
    /// `KEY=VALUE` pairs added to the environment mcpd passes on.
    pub env: Vec<String>,
    /// Working directory of the children; empty keeps mcpd's.
    pub cwd: String,
    /// One child for every session instead of one per session.
    pub shared: bool,
    /// Time a child gets between SIGTERM and SIGKILL; 5 s lets a server flush and exit.
    pub kill_grace: Duration,
    /// Live children at most ([`DEFAULT_MAX_CHILDREN`] by default; `None` means the same).
    pub max_children: Option<usize>,
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
            cwd: String::new(),
            shared: false,
            kill_grace: Duration::from_secs(5),
            max_children: Some(DEFAULT_MAX_CHILDREN),
            request_timeout: Some(Duration::from_secs(300)),
            init_timeout: Duration::from_secs(30),
            child_idle_timeout: Some(Duration::from_secs(600)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
