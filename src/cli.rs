//! The command line: flags and `MCPD_*` environment variables into a [`Command`] (DESIGN 1).
//!
//! One table, `FLAGS`, names every option, its value form, its setting and its help line;
//! parsing, the environment lookup and `--help` all read it, so nothing is written twice. The
//! variable of `--some-flag` is `MCPD_SOME_FLAG`. Precedence, lowest first: the default in
//! [`Config`], the variable (empty counts as unset), the command line (the last occurrence of a
//! single-value flag wins; any occurrence of a list flag replaces the variable's list).
//! `-h`/`--help` anywhere wins over everything, then `-V`/`--version`; nothing else is checked
//! then. Not here: reading the real process arguments and environment (the caller passes them,
//! so tests need no global state), printing, exit codes.

use crate::config::{parse_socket_mode, Config, ListenAddr, LogLevel, ResponseMode};
use crate::units::{digits, parse_duration, parse_size, show_size};
use std::fmt::{self, Write as _};
use std::net::IpAddr;
use std::time::Duration;

mod forms;
use forms::{
    choose, endpoint, file_path, is_origin, join, one_of, push, put, shown_path, token, visible,
    PATH_FORM,
};

/// The crate version, printed by `--version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What the process was asked to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Serve MCP over HTTP with this configuration.
    Serve(Config),
    /// Serve the handler over stdin/stdout instead of HTTP (`--stdio`).
    Stdio(Config),
    /// Print [`help_text`] and exit 0.
    Help,
    /// Print [`VERSION`] and exit 0.
    Version,
}

/// A command line or variable that cannot be used; the caller prints it and exits with status 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    /// What is wrong, naming the flag (and variable), the value and the accepted form.
    pub message: String,
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

/// Parses `args` (without the program name) over the variables that `env` returns.
pub fn parse<I, E>(args: I, env: E) -> Result<Command, CliError>
where
    I: IntoIterator<Item = String>,
    E: Fn(&str) -> Option<String>,
{
    let mut args: Vec<String> = args.into_iter().collect();
    // Everything after the first `--` is the bridged command, never an option.
    let command = match args.iter().position(|a| a == "--") {
        Some(at) => {
            let command = args.split_off(at + 1);
            args.pop();
            if command.is_empty() {
                return Err(fail(
                    "missing command after '--': expected CMD [ARGS...]".into(),
                ));
            }
            command
        }
        None => Vec::new(),
    };
    let options = args.iter();
    if options.clone().any(|a| a == "-h" || a == "--help") {
        return Ok(Command::Help);
    }
    if options.clone().any(|a| a == "-V" || a == "--version") {
        return Ok(Command::Version);
    }

    // Values given on the command line, per flag in table order.
    let mut given: Vec<Vec<String>> = vec![Vec::new(); FLAGS.len()];
    let mut args = args.into_iter().peekable();
    while let Some(arg) = args.next() {
        let option = match arg.strip_prefix("--") {
            Some(option) => option,
            None if arg.starts_with('-') && arg.len() > 1 => {
                return Err(fail(format!("unknown option '{}'", arg.escape_debug())))
            }
            None => {
                // Most likely a command to bridge given without `--` (`mcpd npx server`).
                let words: Vec<String> = std::iter::once(arg)
                    .chain(args)
                    .map(|w| w.escape_debug().to_string())
                    .collect();
                return Err(fail(format!(
                    "unexpected argument '{}'; to bridge a command, put `--` before it: \
                     mcpd [OPTIONS] -- {}",
                    words[0],
                    words.join(" ")
                )));
            }
        };
        let (name, inline) = match option.split_once('=') {
            Some((name, value)) => (name, Some(value.to_string())),
            None => (option, None),
        };
        let Some(index) = FLAGS.iter().position(|f| f.name == name) else {
            return Err(fail(format!("unknown option '--{}'", name.escape_debug())));
        };
        let flag = &FLAGS[index];
        let value = match (inline, &flag.kind) {
            (Some(value), _) => value,
            (None, Kind::Switch(_)) => "true".to_string(),
            // A following option is never taken as a value: no flag accepts a leading '-'.
            (None, _) => match args.next_if(|next| !(next.starts_with('-') && next.len() > 1)) {
                Some(value) => value,
                None => {
                    return Err(fail(format!(
                        "missing value for --{}: expected {}",
                        flag.name,
                        flag.kind.form()
                    )))
                }
            },
        };
        given[index].push(value);
    }

    let mut settings = Settings::default();
    // The first bridge-only flag given, by where it came from: it needs a command.
    let mut bridge_only: Option<String> = None;
    for (flag, values) in FLAGS.iter().zip(given) {
        let is_bridge = flag.about.starts_with("Bridge:");
        if is_bridge && bridge_only.is_none() && !values.is_empty() {
            bridge_only = Some(format!("--{}", flag.name));
        }
        if values.is_empty() {
            let var = flag.env_var();
            if let Some(value) = env(&var).filter(|v| !v.is_empty()) {
                if is_bridge && bridge_only.is_none() {
                    bridge_only = Some(format!("{var} (--{})", flag.name));
                }
                let items: Vec<&str> = match flag.kind {
                    Kind::Each { .. } => value.lines().filter(|l| !l.is_empty()).collect(),
                    _ => vec![&value],
                };
                for item in items {
                    flag.kind
                        .apply(&mut settings, item)
                        .map_err(|bad| flag.invalid(&bad, &format!("{var} (--{})", flag.name)))?;
                }
            }
        }
        for value in values {
            flag.kind
                .apply(&mut settings, &value)
                .map_err(|bad| flag.invalid(&bad, &format!("--{}", flag.name)))?;
        }
    }
    if settings.stdio && !command.is_empty() {
        return Err(fail(format!(
            "--stdio serves the built-in server over stdin/stdout; it cannot bridge '{}' \
             (drop --stdio to serve the command over HTTP)",
            command[0].escape_debug()
        )));
    }
    if let (Some(source), true) = (bridge_only, command.is_empty()) {
        return Err(fail(format!(
            "{source} only applies when bridging a command, and none was given: \
             mcpd [OPTIONS] -- CMD [ARGS...]"
        )));
    }
    settings.config.bridge.command = command;
    Ok(if settings.stdio {
        Command::Stdio(settings.config)
    } else {
        Command::Serve(settings.config)
    })
}

/// The `--help` text: usage, precedence, then every flag with its variable, form and default.
pub fn help_text() -> String {
    let mut out = format!(
        "mcpd {VERSION}: {}\n\n\
         Usage:\n  \
         mcpd [OPTIONS]            serve MCP over HTTP at --host, --port, --path\n  \
         mcpd --stdio [OPTIONS]    serve MCP over stdin/stdout instead\n  \
         mcpd [OPTIONS] -- CMD [ARGS...]\n                            \
         serve the stdio MCP server CMD over HTTP (the bridge: one child per session)\n  \
         mcpd -h | --help          print this help and exit (wins over everything else)\n  \
         mcpd -V | --version       print the version and exit (wins over all but --help)\n\n\
         Every option is '--name VALUE' or '--name=VALUE', or the environment variable named\n\
         with it; the command line wins over the variable, and an empty variable counts as unset.\n\
         A list option may be repeated and takes comma-separated values; so does its variable.\n\
         A repeatable option takes one value each time; its variable takes one per line.\n\
         A bad value exits with status 2.\n\nOptions:\n",
        env!("CARGO_PKG_DESCRIPTION")
    );
    let mut defaults = Settings::default();
    for flag in FLAGS {
        let usage = match flag.kind {
            Kind::Switch(_) => format!("--{}[=BOOL]", flag.name),
            _ => format!("--{} {}", flag.name, flag.value),
        };
        let default = flag.kind.show(&mut defaults);
        let default = if default.is_empty() {
            "none".to_string()
        } else {
            default
        };
        let list = match flag.kind {
            Kind::List { .. } => "; repeatable, comma-separated",
            Kind::Each { .. } => "; repeatable",
            _ => "",
        };
        let _ = write!(
            out,
            "  {usage}\n      {}\n      Accepts {}{list}.\n      Default {default}; env {}.\n",
            flag.about,
            flag.kind.form(),
            flag.env_var(),
        );
    }
    out
}

/// What parsing fills: the server's configuration and the choice of transport.
#[derive(Default)]
struct Settings {
    config: Config,
    stdio: bool,
}

/// A field of [`Settings`], so one accessor serves both setting a value and showing its default.
type Field<T> = fn(&mut Settings) -> &mut T;

/// One option: everything parsing, the environment lookup and `--help` need to know about it.
struct Flag {
    /// Long name without `--`; the variable is derived from it.
    name: &'static str,
    /// Placeholder for the value in `--help`.
    value: &'static str,
    /// One line for `--help`: what the option is for.
    about: &'static str,
    /// Value form, check and destination.
    kind: Kind,
}

/// A flag's value form, how it is checked, and which setting it fills.
enum Kind {
    /// A single value: `set` parses and stores it (false: not of the form), `show` gives the
    /// current one in a form `set` takes back (empty for none).
    Text {
        form: &'static str,
        set: fn(&mut Settings, &str) -> bool,
        show: fn(&mut Settings) -> String,
    },
    /// Comma-separated items, each parsed and appended by `add`; `show` joins them with commas.
    List {
        form: &'static str,
        add: fn(&mut Settings, &str) -> bool,
        show: fn(&mut Settings) -> String,
    },
    /// One item per occurrence (commas are data), parsed and appended by `add`; the variable
    /// holds one per line, and `show` joins them with newlines.
    Each {
        form: &'static str,
        add: fn(&mut Settings, &str) -> bool,
        show: fn(&mut Settings) -> String,
    },
    /// A TCP port; 0 asks the OS for one.
    Port(Field<u16>),
    /// A name from [`ResponseMode::ALL`].
    Mode(Field<ResponseMode>),
    /// A name from [`LogLevel::ALL`].
    Level(Field<LogLevel>),
    /// Bytes, optionally with a binary suffix, at least `min`.
    Size { min: usize, field: Field<usize> },
    /// A count from 1 to `max`.
    Count { max: usize, field: Field<usize> },
    /// A duration above 0 and at most [`crate::units::MAX_DURATION`] (a year).
    Seconds(Field<Duration>),
    /// A duration as for `Seconds`, or `0` for none.
    Timeout(Field<Option<Duration>>),
    /// On when given bare; `=BOOL` or the variable may say either way.
    Switch(Field<bool>),
}

/// Every option, in `--help` order.
const FLAGS: &[Flag] = &[
    Flag {
        name: "host",
        value: "ADDR",
        about: "Address to listen on; loopback by default so nothing is exposed by accident.",
        kind: Kind::Text {
            form: "an IPv4 or IPv6 address literal such as 127.0.0.1, 0.0.0.0 or ::1 \
                   (not a name such as localhost)",
            set: |s, v| put(&mut s.config.host, v.parse::<IpAddr>().ok()),
            show: |s| s.config.host.to_string(),
        },
    },
    Flag {
        name: "port",
        value: "N",
        about: "TCP port to listen on; 0 asks the OS for a free one.",
        kind: Kind::Port(|s| &mut s.config.port),
    },
    Flag {
        name: "listen",
        value: "ADDR",
        about: "Address to serve on instead of --host/--port: HOST:PORT, [V6]:PORT or unix:PATH.",
        kind: Kind::Each {
            form: "HOST:PORT or [V6]:PORT with an IP literal, or unix:PATH (a path under 108 bytes)",
            add: |s, v| push(&mut s.config.listen, ListenAddr::parse(v)),
            show: |s| join(&s.config.listen, "\n"),
        },
    },
    Flag {
        name: "socket-mode",
        value: "MODE",
        about: "Permission bits of the unix: sockets mcpd creates (who may connect).",
        kind: Kind::Text {
            form: "3 or 4 octal digits such as 0660, at most 0777",
            set: |s, v| put(&mut s.config.socket_mode, parse_socket_mode(v)),
            show: |s| format!("{:04o}", s.config.socket_mode),
        },
    },
    Flag {
        name: "path",
        value: "/PATH",
        about: "Path of the MCP endpoint.",
        kind: Kind::Text {
            form: PATH_FORM,
            set: |s, v| put(&mut s.config.path, endpoint(v)),
            show: |s| s.config.path.clone(),
        },
    },
    Flag {
        name: "sse-path",
        value: "/PATH",
        about: "Path of the 2024-11-05 HTTP+SSE stream (GET); each stream is one session.",
        kind: Kind::Text {
            form: PATH_FORM,
            set: |s, v| put(&mut s.config.sse_path, endpoint(v)),
            show: |s| s.config.sse_path.clone(),
        },
    },
    Flag {
        name: "messages-path",
        value: "/PATH",
        about: "Path the 2024-11-05 HTTP+SSE clients POST their messages to.",
        kind: Kind::Text {
            form: PATH_FORM,
            set: |s, v| put(&mut s.config.messages_path, endpoint(v)),
            show: |s| s.config.messages_path.clone(),
        },
    },
    Flag {
        name: "allow-host",
        value: "HOST",
        about: "Host header value accepted besides the loopback names (DNS-rebinding guard).",
        kind: Kind::List {
            form: "a host or host:port without spaces or control characters",
            add: |s, v| {
                let host = v.chars().all(visible).then(|| v.to_string());
                push(&mut s.config.allow_hosts, host)
            },
            show: |s| s.config.allow_hosts.join(","),
        },
    },
    Flag {
        name: "allow-origin",
        value: "ORIGIN",
        about: "Origin header value accepted besides the loopback origins (DNS-rebinding guard).",
        kind: Kind::List {
            form: "an origin scheme://host[:port] without a path, such as https://app.example.com",
            add: |s, v| push(&mut s.config.allow_origins, is_origin(v).then(|| v.to_string())),
            show: |s| s.config.allow_origins.join(","),
        },
    },
    Flag {
        name: "cors-origin",
        value: "ORIGIN",
        about: "Origin answered with CORS headers; CORS is off unless one is given.",
        kind: Kind::List {
            form: "an origin scheme://host[:port] without a path, or *",
            add: |s, v| {
                let origin = (v == "*" || is_origin(v)).then(|| v.to_string());
                push(&mut s.config.cors_origins, origin)
            },
            show: |s| s.config.cors_origins.join(","),
        },
    },
    Flag {
        name: "response-mode",
        value: "MODE",
        about: "How a POST with requests is answered: auto is JSON when ready at once, else SSE.",
        kind: Kind::Mode(|s| &mut s.config.response_mode),
    },
    Flag {
        name: "eras",
        value: "LIST",
        about: "Protocol revisions offered and accepted, built-in and bridged (default: all; \
                per-session mode then offers no 2026-07-28 for a handshake-only child).",
        kind: Kind::List {
            form: "revisions from 2024-11-05, 2025-03-26, 2025-06-18, 2025-11-25, 2026-07-28",
            add: |s, v| {
                let era = crate::mcp::version::ALL.iter().find(|e| **e == v);
                push(&mut s.config.eras, era.copied())
            },
            show: |s| s.config.eras.join(","),
        },
    },
    Flag {
        name: "log-level",
        value: "LEVEL",
        about: "Most verbose stderr log level written (lines carry RFC 3339 UTC times unless \
                JOURNAL_STREAM names stderr).",
        kind: Kind::Level(|s| &mut s.config.log_level),
    },
    Flag {
        name: "max-head-bytes",
        value: "SIZE",
        about: "Largest request line plus headers; beyond it 431 and close.",
        kind: Kind::Size {
            min: 1024,
            field: |s| &mut s.config.limits.max_head_bytes,
        },
    },
    Flag {
        name: "max-headers",
        value: "N",
        about: "Most header fields in one request; beyond it 431 and close.",
        kind: Kind::Count {
            max: 1024,
            field: |s| &mut s.config.limits.max_headers,
        },
    },
    Flag {
        name: "max-body-bytes",
        value: "SIZE",
        about: "Largest request body (one JSON-RPC message or batch); beyond it 413.",
        kind: Kind::Size {
            min: 1,
            field: |s| &mut s.config.limits.max_body_bytes,
        },
    },
    Flag {
        name: "max-outbound-bytes",
        value: "SIZE",
        about: "Bytes queued towards one connection before a stalled stream is closed.",
        kind: Kind::Size {
            min: 1,
            field: |s| &mut s.config.limits.max_outbound_bytes,
        },
    },
    Flag {
        name: "replay-buffer-bytes",
        value: "SIZE",
        about: "Bytes of past events kept per SSE stream for Last-Event-ID replay.",
        kind: Kind::Size {
            min: 1,
            field: |s| &mut s.config.limits.replay_buffer_bytes,
        },
    },
    Flag {
        name: "max-connections",
        value: "N",
        about: "Open client connections; a new one beyond it is closed at once.",
        kind: Kind::Count {
            max: usize::MAX,
            field: |s| &mut s.config.limits.max_connections,
        },
    },
    Flag {
        name: "max-sessions",
        value: "N",
        about: "Live MCP sessions; initialize beyond it gets 503 with Retry-After.",
        kind: Kind::Count {
            max: usize::MAX,
            field: |s| &mut s.config.limits.max_sessions,
        },
    },
    Flag {
        name: "head-timeout",
        value: "SECS",
        about: "Time allowed to receive a whole request head (slowloris guard); then 408.",
        kind: Kind::Seconds(|s| &mut s.config.limits.head_timeout),
    },
    Flag {
        name: "keep-alive-timeout",
        value: "SECS",
        about: "Time an idle keep-alive connection stays open between requests.",
        kind: Kind::Seconds(|s| &mut s.config.limits.keep_alive_timeout),
    },
    Flag {
        name: "session-timeout",
        value: "SECS",
        about: "Time a session may stay idle before it ends.",
        kind: Kind::Seconds(|s| &mut s.config.limits.session_timeout),
    },
    Flag {
        name: "heartbeat",
        value: "SECS",
        about: "Interval of SSE comment heartbeats on every open stream.",
        kind: Kind::Seconds(|s| &mut s.config.limits.heartbeat),
    },
    Flag {
        name: "auth-token",
        value: "TOKEN",
        about: "Bearer token every MCP request must carry (Authorization: Bearer TOKEN); off when empty.",
        kind: Kind::Text {
            form: "at least 8 visible ASCII characters without spaces",
            set: |s, v| put(&mut s.config.auth_token, token(v).map(Some)),
            show: |s| s.config.auth_token.clone().unwrap_or_default(),
        },
    },
    Flag {
        name: "auth-token-file",
        value: "PATH",
        about: "File whose first line is the bearer token (keeps it out of ps and the environment).",
        kind: Kind::Text {
            form: "a file path without control characters",
            set: |s, v| put(&mut s.config.auth_token_file, file_path(v).map(Some)),
            show: |s| shown_path(&s.config.auth_token_file),
        },
    },
    Flag {
        name: "public-health",
        value: "",
        about: "Let /health answer without the bearer token.",
        kind: Kind::Switch(|s| &mut s.config.public_health),
    },
    Flag {
        name: "instance-id",
        value: "ID",
        about: "Prefix of every session id (ID-uuid), so a load balancer can route sessions back here.",
        kind: Kind::Text {
            form: "1 to 64 letters, digits, '.', '_' or '-'",
            set: |s, v| {
                let ok = (1..=64).contains(&v.len())
                    && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
                put(&mut s.config.instance_id, ok.then(|| Some(v.to_string())))
            },
            show: |s| s.config.instance_id.clone().unwrap_or_default(),
        },
    },
    Flag {
        name: "exit-with-parent",
        value: "",
        about: "Stop gracefully when the process that started mcpd dies (Linux parent-death signal).",
        kind: Kind::Switch(|s| &mut s.config.exit_with_parent),
    },
    Flag {
        name: "stdio",
        value: "",
        about: "Serve the handler over stdin/stdout instead of HTTP.",
        kind: Kind::Switch(|s| &mut s.stdio),
    },
    Flag {
        name: "shell",
        value: "",
        about: "Bridge: run the command as sh -c with its words joined by spaces.",
        kind: Kind::Switch(|s| &mut s.config.bridge.shell),
    },
    Flag {
        name: "env",
        value: "KEY=VALUE",
        about: "Bridge: a variable added to the environment the children inherit from mcpd \
                (mcpd's own MCPD_* variables are never passed on).",
        kind: Kind::Each {
            form: "KEY=VALUE with a non-empty KEY without '=' or NUL",
            add: |s, v| {
                let pair = v
                    .split_once('=')
                    .filter(|(k, _)| !k.is_empty() && !v.contains('\0'))
                    .map(|(k, v)| (k.to_string(), v.to_string()));
                push(&mut s.config.bridge.env, pair)
            },
            show: |s| {
                let pairs = s.config.bridge.env.iter().map(|(k, v)| format!("{k}={v}"));
                pairs.collect::<Vec<_>>().join("\n")
            },
        },
    },
    Flag {
        name: "cwd",
        value: "DIR",
        about: "Bridge: working directory of the children; mcpd's own when not given.",
        kind: Kind::Text {
            form: "a directory path without control characters",
            set: |s, v| put(&mut s.config.bridge.cwd, file_path(v).map(Some)),
            show: |s| shown_path(&s.config.bridge.cwd),
        },
    },
    Flag {
        name: "shared",
        value: "",
        about: "Bridge: one child for every session, initialized once by mcpd.",
        kind: Kind::Switch(|s| &mut s.config.bridge.shared),
    },
    Flag {
        name: "kill-grace",
        value: "SECS",
        about: "Bridge: time a child gets between SIGTERM and SIGKILL to its process group.",
        kind: Kind::Seconds(|s| &mut s.config.bridge.kill_grace),
    },
    Flag {
        name: "max-children",
        value: "N",
        about: "Bridge: live children at most; at the limit the least recently active idle \
                session ends to make room, else initialize gets 503.",
        kind: Kind::Count {
            max: usize::MAX,
            field: |s| &mut s.config.bridge.max_children,
        },
    },
    Flag {
        name: "request-timeout",
        value: "SECS",
        about: "Bridge: time a child gets to answer a request (each progress notification \
                restarts it); then it is cancelled and the client gets an error; 0 for none.",
        kind: Kind::Timeout(|s| &mut s.config.bridge.request_timeout),
    },
    Flag {
        name: "init-timeout",
        value: "SECS",
        about: "Bridge: time a child gets to answer initialize; then it is ended and the client \
                gets 504 with its stderr.",
        kind: Kind::Seconds(|s| &mut s.config.bridge.init_timeout),
    },
    Flag {
        name: "child-idle-timeout",
        value: "SECS",
        about: "Bridge: idle time (no request in flight, no open stream) after which a session \
                with its own child ends; 0 leaves it to --session-timeout.",
        kind: Kind::Timeout(|s| &mut s.config.bridge.child_idle_timeout),
    },
];

impl Flag {
    /// `MCPD_` and the name upper-cased with `-` as `_`.
    fn env_var(&self) -> String {
        format!("MCPD_{}", self.name.to_ascii_uppercase().replace('-', "_"))
    }

    /// The error for `bad`, given through `source` (`--port` or `MCPD_PORT (--port)`).
    fn invalid(&self, bad: &str, source: &str) -> CliError {
        fail(format!(
            "invalid value '{}' for {source}: expected {}",
            bad.escape_debug(),
            self.kind.form()
        ))
    }
}

impl Kind {
    /// The accepted form, as it follows "expected" in an error and "Accepts" in `--help`.
    fn form(&self) -> String {
        match self {
            Kind::Text { form, .. } | Kind::List { form, .. } | Kind::Each { form, .. } => {
                form.to_string()
            }
            Kind::Port(_) => "an integer from 0 to 65535".to_string(),
            Kind::Mode(_) => one_of(ResponseMode::ALL.map(ResponseMode::as_str)),
            Kind::Level(_) => one_of(LogLevel::ALL.map(LogLevel::as_str)),
            Kind::Size { min, .. } => format!(
                "a byte count of at least {min}, or a number with a suffix K, KiB, M, MiB, G or GiB \
                 (powers of 1024, any case)"
            ),
            Kind::Count {
                max: usize::MAX, ..
            } => "an integer of at least 1".to_string(),
            Kind::Count { max, .. } => format!("an integer from 1 to {max}"),
            Kind::Seconds(_) => "seconds above 0 and at most one year, such as 10 or 0.5, or a \
                                 number with a suffix ms, s, m or h, such as 250ms or 5m"
                .to_string(),
            Kind::Timeout(_) => "0 for none, or seconds up to one year, such as 10 or 0.5, or a \
                                 number with a suffix ms, s, m or h, such as 250ms or 5m"
                .to_string(),
            Kind::Switch(_) => "1, true, 0 or false".to_string(),
        }
    }

    /// Checks `value` and stores it; on failure returns the offending text (a list's item).
    fn apply(&self, settings: &mut Settings, value: &str) -> Result<(), String> {
        let bad = || value.to_string();
        match self {
            Kind::Text { set, .. } => {
                if !set(settings, value) {
                    return Err(bad());
                }
            }
            Kind::List { add, .. } => {
                for item in value.split(',').map(str::trim) {
                    if item.is_empty() || !add(settings, item) {
                        return Err(item.to_string());
                    }
                }
            }
            Kind::Each { add, .. } => {
                if !add(settings, value) {
                    return Err(bad());
                }
            }
            Kind::Port(field) => *field(settings) = digits(value).ok_or_else(bad)?,
            Kind::Mode(field) => {
                *field(settings) =
                    choose(&ResponseMode::ALL, ResponseMode::as_str, value).ok_or_else(bad)?
            }
            Kind::Level(field) => {
                *field(settings) =
                    choose(&LogLevel::ALL, LogLevel::as_str, value).ok_or_else(bad)?
            }
            Kind::Size { min, field } => {
                *field(settings) = parse_size(value).filter(|n| n >= min).ok_or_else(bad)?
            }
            Kind::Count { max, field } => {
                *field(settings) = digits(value)
                    .filter(|n| (1..=*max).contains(n))
                    .ok_or_else(bad)?
            }
            Kind::Seconds(field) => *field(settings) = parse_duration(value).ok_or_else(bad)?,
            Kind::Timeout(field) if value == "0" => *field(settings) = None,
            Kind::Timeout(field) => *field(settings) = Some(parse_duration(value).ok_or_else(bad)?),
            Kind::Switch(field) => {
                *field(settings) = match value.to_ascii_lowercase().as_str() {
                    "1" | "true" => true,
                    "0" | "false" => false,
                    _ => return Err(bad()),
                }
            }
        }
        Ok(())
    }

    /// The current value in a form [`Kind::apply`] accepts; empty for none or an empty list.
    fn show(&self, settings: &mut Settings) -> String {
        match self {
            Kind::Text { show, .. } | Kind::List { show, .. } | Kind::Each { show, .. } => {
                show(settings)
            }
            Kind::Port(field) => field(settings).to_string(),
            Kind::Mode(field) => field(settings).as_str().to_string(),
            Kind::Level(field) => field(settings).as_str().to_string(),
            Kind::Size { field, .. } => show_size(*field(settings)),
            Kind::Count { field, .. } => field(settings).to_string(),
            Kind::Seconds(field) => format!("{}s", field(settings).as_secs_f64()),
            Kind::Timeout(field) => match field(settings) {
                Some(d) => format!("{}s", d.as_secs_f64()),
                None => "0".to_string(),
            },
            Kind::Switch(field) => field(settings).to_string(),
        }
    }
}

fn fail(message: String) -> CliError {
    CliError { message }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::MAX_DURATION;
    use std::collections::HashMap;

    /// What a case expects, as a change to the default settings.
    type Change = fn(&mut Settings);
    /// Variables a case sets.
    type Env = &'static [(&'static str, &'static str)];

    fn run(args: &[&str], env: &[(&str, &str)]) -> Result<Command, CliError> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        parse(args.iter().map(|a| a.to_string()), |k| env.get(k).cloned())
    }

    fn settings(change: Change) -> Command {
        let mut s = Settings::default();
        change(&mut s);
        if s.stdio {
            Command::Stdio(s.config)
        } else {
            Command::Serve(s.config)
        }
    }

    fn addr(text: &str) -> ListenAddr {
        ListenAddr::parse(text).unwrap()
    }

    fn pair(key: &str, value: &str) -> (String, String) {
        (key.to_string(), value.to_string())
    }

    fn message(args: &[&str], env: &[(&str, &str)]) -> String {
        match run(args, env) {
            Err(e) => e.message,
            Ok(c) => panic!("{args:?} {env:?} parsed to {c:?}"),
        }
    }

    /// One valid value per flag and the settings it gives; covers every entry of [`FLAGS`].
    const GOOD: &[(&str, &str, Change)] = &[
        ("host", "0.0.0.0", |s| s.config.host = [0, 0, 0, 0].into()),
        ("host", "::1", |s| {
            s.config.host = std::net::Ipv6Addr::LOCALHOST.into()
        }),
        ("port", "9000", |s| s.config.port = 9000),
        ("port", "0", |s| s.config.port = 0),
        ("port", "65535", |s| s.config.port = 65535),
        ("listen", "[::1]:8001", |s| {
            s.config.listen = vec![addr("[::1]:8001")]
        }),
        ("listen", "unix:/run/mcpd,a.sock", |s| {
            s.config.listen = vec![addr("unix:/run/mcpd,a.sock")]
        }),
        ("socket-mode", "0600", |s| s.config.socket_mode = 0o600),
        ("path", "/", |s| s.config.path = "/".into()),
        ("path", "/api/mcp", |s| s.config.path = "/api/mcp".into()),
        ("sse-path", "/events", |s| {
            s.config.sse_path = "/events".into()
        }),
        ("messages-path", "/rpc", |s| {
            s.config.messages_path = "/rpc".into()
        }),
        ("allow-host", "example.com:8443", |s| {
            s.config.allow_hosts = vec!["example.com:8443".into()]
        }),
        ("allow-host", "a, b", |s| {
            s.config.allow_hosts = vec!["a".into(), "b".into()]
        }),
        ("allow-origin", "https://app.example.com", |s| {
            s.config.allow_origins = vec!["https://app.example.com".into()]
        }),
        ("allow-origin", "http://[::1]:3000,http://x:1", |s| {
            s.config.allow_origins = vec!["http://[::1]:3000".into(), "http://x:1".into()]
        }),
        ("cors-origin", "*", |s| {
            s.config.cors_origins = vec!["*".into()]
        }),
        ("cors-origin", "https://a.example", |s| {
            s.config.cors_origins = vec!["https://a.example".into()]
        }),
        ("response-mode", "json", |s| {
            s.config.response_mode = ResponseMode::Json
        }),
        ("response-mode", "SSE", |s| {
            s.config.response_mode = ResponseMode::Sse
        }),
        ("response-mode", "auto", |s| {
            s.config.response_mode = ResponseMode::Auto
        }),
        ("log-level", "debug", |s| {
            s.config.log_level = LogLevel::Debug
        }),
        ("log-level", "error", |s| {
            s.config.log_level = LogLevel::Error
        }),
        ("log-level", "warn", |s| s.config.log_level = LogLevel::Warn),
        ("max-head-bytes", "1024", |s| {
            s.config.limits.max_head_bytes = 1024
        }),
        ("max-head-bytes", "32k", |s| {
            s.config.limits.max_head_bytes = 32 << 10
        }),
        ("max-headers", "1", |s| s.config.limits.max_headers = 1),
        ("max-headers", "1024", |s| {
            s.config.limits.max_headers = 1024
        }),
        ("max-body-bytes", "1", |s| {
            s.config.limits.max_body_bytes = 1
        }),
        ("max-body-bytes", "2MiB", |s| {
            s.config.limits.max_body_bytes = 2 << 20
        }),
        ("max-body-bytes", "1g", |s| {
            s.config.limits.max_body_bytes = 1 << 30
        }),
        ("max-outbound-bytes", "64KIB", |s| {
            s.config.limits.max_outbound_bytes = 64 << 10
        }),
        ("replay-buffer-bytes", "3M", |s| {
            s.config.limits.replay_buffer_bytes = 3 << 20
        }),
        ("max-connections", "1", |s| {
            s.config.limits.max_connections = 1
        }),
        ("max-sessions", "250000", |s| {
            s.config.limits.max_sessions = 250_000
        }),
        ("head-timeout", "0.5", |s| {
            s.config.limits.head_timeout = Duration::from_millis(500)
        }),
        ("head-timeout", "250ms", |s| {
            s.config.limits.head_timeout = Duration::from_millis(250)
        }),
        ("keep-alive-timeout", "5m", |s| {
            s.config.limits.keep_alive_timeout = Duration::from_secs(300)
        }),
        ("session-timeout", "2h", |s| {
            s.config.limits.session_timeout = Duration::from_secs(7200)
        }),
        ("session-timeout", "31536000", |s| {
            s.config.limits.session_timeout = MAX_DURATION
        }),
        ("heartbeat", "1.25s", |s| {
            s.config.limits.heartbeat = Duration::from_millis(1250)
        }),
        ("heartbeat", "0.000000001", |s| {
            s.config.limits.heartbeat = Duration::from_nanos(1)
        }),
        ("auth-token", "s3cret-token", |s| {
            s.config.auth_token = Some("s3cret-token".into())
        }),
        ("auth-token-file", "/run/mcpd/token", |s| {
            s.config.auth_token_file = Some("/run/mcpd/token".into())
        }),
        ("public-health", "1", |s| s.config.public_health = true),
        ("instance-id", "node-a", |s| {
            s.config.instance_id = Some("node-a".into())
        }),
        ("exit-with-parent", "1", |s| {
            s.config.exit_with_parent = true
        }),
        ("stdio", "1", |s| s.stdio = true),
        ("stdio", "TRUE", |s| s.stdio = true),
        ("stdio", "false", |s| s.stdio = false),
        ("shell", "1", |s| s.config.bridge.shell = true),
        ("env", "A=1,2", |s| {
            s.config.bridge.env = vec![pair("A", "1,2")]
        }),
        ("env", "EMPTY=", |s| {
            s.config.bridge.env = vec![pair("EMPTY", "")]
        }),
        ("cwd", "/tmp/a dir", |s| {
            s.config.bridge.cwd = Some("/tmp/a dir".into())
        }),
        ("shared", "true", |s| s.config.bridge.shared = true),
        ("kill-grace", "250ms", |s| {
            s.config.bridge.kill_grace = Duration::from_millis(250)
        }),
        ("max-children", "3", |s| s.config.bridge.max_children = 3),
        ("request-timeout", "90s", |s| {
            s.config.bridge.request_timeout = Some(Duration::from_secs(90))
        }),
        ("request-timeout", "0", |s| {
            s.config.bridge.request_timeout = None
        }),
        ("init-timeout", "2m", |s| {
            s.config.bridge.init_timeout = Duration::from_secs(120)
        }),
        ("child-idle-timeout", "0.5", |s| {
            s.config.bridge.child_idle_timeout = Some(Duration::from_millis(500))
        }),
        ("child-idle-timeout", "0", |s| {
            s.config.bridge.child_idle_timeout = None
        }),
        ("eras", "2026-07-28,2025-11-25", |s| {
            s.config.eras = vec!["2026-07-28", "2025-11-25"]
        }),
    ];

    #[test]
    fn every_flag_parses_from_args_equals_form_and_env() {
        for &(name, value, change) in GOOD {
            let flag = FLAGS.iter().find(|f| f.name == name).unwrap();
            // Bridge-only flags need a command to bridge.
            let tail: &[&str] = match flag.about.starts_with("Bridge:") {
                true => &["--", "s"],
                false => &[],
            };
            let mut want = settings(change);
            if let Command::Serve(config) = &mut want {
                config.bridge.command = tail.iter().skip(1).map(|w| w.to_string()).collect();
            }
            let want = Ok(want);
            fn with<'a>(args: &[&'a str], tail: &[&'a str]) -> Vec<&'a str> {
                [args, tail].concat()
            }
            let var = flag.env_var();
            let eq = format!("--{name}={value}");
            assert_eq!(run(&with(&[&eq], tail), &[]), want, "{eq}");
            assert_eq!(run(tail, &[(&var, value)]), want, "{var}={value}");
            if !matches!(flag.kind, Kind::Switch(_)) {
                let long = format!("--{name}");
                assert_eq!(
                    run(&with(&[&long, value], tail), &[]),
                    want,
                    "{long} {value}"
                );
            }
        }
        for flag in FLAGS {
            assert!(
                GOOD.iter().any(|g| g.0 == flag.name),
                "no case for --{}",
                flag.name
            );
        }
    }

    #[test]
    fn everything_after_double_dash_is_the_command() {
        let want = |command: &[&str], change: Change| {
            let mut s = Settings::default();
            change(&mut s);
            s.config.bridge.command = command.iter().map(|a| a.to_string()).collect();
            Ok(Command::Serve(s.config))
        };
        assert_eq!(
            run(&["--", "server", "--port", "-h", "--"], &[]),
            want(&["server", "--port", "-h", "--"], |_| {})
        );
        assert_eq!(
            run(
                &[
                    "--shared",
                    "--env",
                    "A=1",
                    "--env=B=2",
                    "--",
                    "npx",
                    "-y",
                    "x"
                ],
                &[("MCPD_ENV", "C=3\nD=4")]
            ),
            want(&["npx", "-y", "x"], |s| {
                s.config.bridge.shared = true;
                s.config.bridge.env = vec![pair("A", "1"), pair("B", "2")];
            })
        );
        assert_eq!(
            run(&["--", "s"], &[("MCPD_ENV", "C=3\n\nD=4")]),
            want(&["s"], |s| s.config.bridge.env =
                vec![pair("C", "3"), pair("D", "4")])
        );
        assert_eq!(
            message(&["--env", "=1", "--", "s"], &[]),
            "invalid value '=1' for --env: expected KEY=VALUE with a non-empty KEY without '=' \
             or NUL"
        );
        assert_eq!(
            message(&["--max-children", "0"], &[]),
            "invalid value '0' for --max-children: expected an integer of at least 1"
        );
    }

    #[test]
    fn nothing_given_is_the_default_config() {
        assert_eq!(run(&[], &[]), Ok(Command::Serve(Config::default())));
    }

    #[test]
    fn bare_switch_turns_it_on() {
        assert_eq!(
            run(&["--stdio"], &[]),
            Ok(Command::Stdio(Config::default()))
        );
        assert_eq!(
            run(&["--stdio", "--port", "1"], &[]),
            Ok(settings(|s| {
                s.stdio = true;
                s.config.port = 1;
            }))
        );
    }

    #[test]
    fn command_line_beats_environment() {
        let cases: &[(&[&str], Env, Change)] = &[
            (&["--port", "2"], &[("MCPD_PORT", "1")], |s| {
                s.config.port = 2
            }),
            (&["--port=2"], &[("MCPD_PORT", "bad")], |s| {
                s.config.port = 2
            }),
            (&["--port", "2", "--port", "3"], &[], |s| s.config.port = 3),
            (&["--allow-host", "c"], &[("MCPD_ALLOW_HOST", "a,b")], |s| {
                s.config.allow_hosts = vec!["c".into()]
            }),
            (&["--stdio=0"], &[("MCPD_STDIO", "1")], |_| {}),
            (
                &["--log-level", "warn"],
                &[("MCPD_LOG_LEVEL", "debug")],
                |s| s.config.log_level = LogLevel::Warn,
            ),
            (&[], &[("MCPD_PORT", "")], |_| {}),
            (
                &["--port", "7"],
                &[("MCPD_HOST", "::"), ("MCPD_PORT", "1")],
                |s| {
                    s.config.host = std::net::Ipv6Addr::UNSPECIFIED.into();
                    s.config.port = 7;
                },
            ),
        ];
        for &(args, env, change) in cases {
            assert_eq!(run(args, env), Ok(settings(change)), "{args:?} {env:?}");
        }
    }

    #[test]
    fn list_flags_repeat_and_split_on_commas() {
        let want = Ok(settings(|s| {
            s.config.allow_hosts = vec!["a".into(), "b".into(), "c:1".into()]
        }));
        assert_eq!(run(&["--allow-host", "a", "--allow-host=b,c:1"], &[]), want);
        assert_eq!(run(&["--allow-host", "a, b ,c:1"], &[]), want);
        assert_eq!(run(&[], &[("MCPD_ALLOW_HOST", "a,b,c:1")]), want);
        assert_eq!(
            run(&["--cors-origin", "*", "--cors-origin", "http://h"], &[]),
            Ok(settings(
                |s| s.config.cors_origins = vec!["*".into(), "http://h".into()]
            ))
        );
    }

    #[test]
    fn listen_repeats_one_address_each() {
        let want = Ok(settings(|s| {
            s.config.listen = vec![addr("127.0.0.1:1"), addr("unix:/tmp/m.sock")]
        }));
        assert_eq!(
            run(
                &["--listen", "127.0.0.1:1", "--listen=unix:/tmp/m.sock"],
                &[]
            ),
            want
        );
        assert_eq!(
            run(&[], &[("MCPD_LISTEN", "127.0.0.1:1\nunix:/tmp/m.sock")]),
            want
        );
    }

    #[test]
    fn bad_values_name_flag_value_and_form() {
        let size = "a byte count of at least 1, or a number with a suffix K, KiB, M, MiB, G or \
                    GiB (powers of 1024, any case)";
        let secs = "seconds above 0 and at most one year, such as 10 or 0.5, or a number with a \
                    suffix ms, s, m or h, such as 250ms or 5m";
        let origin =
            "an origin scheme://host[:port] without a path, such as https://app.example.com";
        let cases: &[(&str, &str, &str)] = &[
            ("host", "localhost", "an IPv4 or IPv6 address literal such as 127.0.0.1, 0.0.0.0 or ::1 (not a name such as localhost)"),
            ("host", "[::1]", ""),
            ("auth-token", "short", "at least 8 visible ASCII characters without spaces"),
            ("auth-token", "has a space", ""),
            ("instance-id", "a b", "1 to 64 letters, digits, '.', '_' or '-'"),
            ("port", "abc", "an integer from 0 to 65535"),
            ("port", "65536", ""),
            ("port", "+80", ""),
            ("listen", "localhost:80", "HOST:PORT or [V6]:PORT with an IP literal, or unix:PATH (a path under 108 bytes)"),
            ("listen", "unix:", ""),
            ("socket-mode", "0800", "3 or 4 octal digits such as 0660, at most 0777"),
            ("path", "mcp", "a path starting with '/' without '?', '#', spaces or control characters"),
            ("path", "/a?b", ""),
            ("path", "/a#b", ""),
            ("path", "/a b", ""),
            ("path", "", ""),
            ("allow-host", "a b", "a host or host:port without spaces or control characters"),
            ("allow-host", "", ""),
            ("allow-origin", "https://a.example/", origin),
            ("allow-origin", "a.example", ""),
            ("allow-origin", "https://", ""),
            ("allow-origin", "https://u@a.example", ""),
            ("allow-origin", "https://a.example:99999", ""),
            ("allow-origin", "*", ""),
            ("cors-origin", "https://a/b", "an origin scheme://host[:port] without a path, or *"),
            ("response-mode", "stream", "one of auto, json, sse"),
            ("log-level", "trace", "one of error, warn, info, debug"),
            ("max-body-bytes", "0", size),
            ("max-body-bytes", "0K", ""),
            ("max-body-bytes", "1.5M", ""),
            ("max-body-bytes", "4MB", ""),
            ("max-body-bytes", "-1", ""),
            ("max-body-bytes", "99999999999999999999", ""),
            ("max-body-bytes", "18014398509481984G", ""),
            ("max-head-bytes", "1023", &size.replace("at least 1,", "at least 1024,")),
            ("max-headers", "0", "an integer from 1 to 1024"),
            ("max-headers", "1025", ""),
            ("max-connections", "0", "an integer of at least 1"),
            ("max-sessions", "ten", ""),
            ("head-timeout", "0", secs),
            ("head-timeout", "0.0", ""),
            ("head-timeout", "31536000.001", ""),
            ("keep-alive-timeout", "1d", ""),
            ("session-timeout", ".5", ""),
            ("session-timeout", "5.", ""),
            ("session-timeout", "1.2.3", ""),
            ("heartbeat", "-1", ""),
            ("heartbeat", "1e3", ""),
            ("stdio", "yes", "1, true, 0 or false"),
        ];
        let mut form = "";
        for &(name, value, case_form) in cases {
            if !case_form.is_empty() {
                form = case_form;
            }
            let var = name.to_ascii_uppercase().replace('-', "_");
            let eq = format!("--{name}={value}");
            let item = value.trim();
            let want = format!("invalid value '{item}' for --{name}: expected {form}");
            assert_eq!(message(&[&eq], &[]), want);
            if !value.is_empty() {
                let want =
                    format!("invalid value '{item}' for MCPD_{var} (--{name}): expected {form}");
                assert_eq!(message(&[], &[(&format!("MCPD_{var}"), value)]), want);
            }
        }
    }

    #[test]
    fn bad_list_item_is_named_alone() {
        assert_eq!(
            message(&["--allow-host", "a,b c,d"], &[]),
            "invalid value 'b c' for --allow-host: expected a host or host:port without spaces \
             or control characters"
        );
        assert!(message(&[], &[("MCPD_CORS_ORIGIN", "*,,http://h")])
            .starts_with("invalid value '' for MCPD_CORS_ORIGIN (--cors-origin): "));
    }

    #[test]
    fn control_characters_in_values_are_escaped() {
        assert_eq!(
            message(&["--port", "1\n2"], &[]),
            "invalid value '1\\n2' for --port: expected an integer from 0 to 65535"
        );
    }

    #[test]
    fn help_and_version_win() {
        let cases: &[(&[&str], Env, Command)] = &[
            (&["--help"], &[], Command::Help),
            (&["-h"], &[], Command::Help),
            (&["--version"], &[], Command::Version),
            (&["-V"], &[], Command::Version),
            (&["-V", "--help"], &[], Command::Help),
            (&["--port", "bad", "--nope", "-h"], &[], Command::Help),
            (&["--path", "-h"], &[], Command::Help),
            (&["-V"], &[("MCPD_PORT", "bad")], Command::Version),
            (&["x", "--version"], &[], Command::Version),
        ];
        for (args, env, want) in cases {
            assert_eq!(run(args, env).as_ref(), Ok(want), "{args:?}");
        }
    }

    #[test]
    fn unusable_arguments_are_named() {
        let cases: &[(&[&str], &str)] = &[
            (&["--nope"], "unknown option '--nope'"),
            (&["--nope=1"], "unknown option '--nope'"),
            (&["-x"], "unknown option '-x'"),
            (&["-hV"], "unknown option '-hV'"),
            (&["--help=1"], "unknown option '--help'"),
            (
                &["serve"],
                "unexpected argument 'serve'; to bridge a command, put `--` before it: \
                 mcpd [OPTIONS] -- serve",
            ),
            (
                &["--port", "9000", "npx", "-y", "server"],
                "unexpected argument 'npx'; to bridge a command, put `--` before it: \
                 mcpd [OPTIONS] -- npx -y server",
            ),
            (
                &["-"],
                "unexpected argument '-'; to bridge a command, put `--` before it: \
                 mcpd [OPTIONS] -- -",
            ),
            (
                &["--"],
                "missing command after '--': expected CMD [ARGS...]",
            ),
            (
                &["--port", "1", "--"],
                "missing command after '--': expected CMD [ARGS...]",
            ),
            (
                &["--stdio", "--", "server"],
                "--stdio serves the built-in server over stdin/stdout; it cannot bridge 'server' \
                 (drop --stdio to serve the command over HTTP)",
            ),
            (
                &["--port"],
                "missing value for --port: expected an integer from 0 to 65535",
            ),
            (
                &["--port", "--host", "::1"],
                "missing value for --port: expected an integer from 0 to 65535",
            ),
            (
                &["--shared"],
                "--shared only applies when bridging a command, and none was given: \
                 mcpd [OPTIONS] -- CMD [ARGS...]",
            ),
            (
                &["--port", "1", "--env", "A=1", "--cwd", "/tmp"],
                "--env only applies when bridging a command, and none was given: \
                 mcpd [OPTIONS] -- CMD [ARGS...]",
            ),
            (
                &["--stdio", "--kill-grace", "1"],
                "--kill-grace only applies when bridging a command, and none was given: \
                 mcpd [OPTIONS] -- CMD [ARGS...]",
            ),
        ];
        for (args, want) in cases {
            assert_eq!(message(args, &[]), *want, "{args:?}");
        }
        for (args, word) in [
            (&["--port", "1", "2"][..], "'2'"),
            (&["--stdio", "1"], "'1'"),
        ] {
            let got = message(args, &[]);
            assert!(
                got.starts_with(&format!("unexpected argument {word}")),
                "{got}"
            );
        }
        let from_env = message(&[], &[("MCPD_SHARED", "1")]);
        assert!(
            from_env.starts_with("MCPD_SHARED (--shared) only applies"),
            "{from_env}"
        );
    }

    #[test]
    fn help_names_every_flag_variable_form_and_default() {
        let help = help_text();
        let mut defaults = Settings::default();
        for flag in FLAGS {
            for text in [
                format!("\n  --{} ", flag.name),
                format!("env {}.", flag.env_var()),
                format!("Accepts {}", flag.kind.form()),
                format!("      {}\n", flag.about),
            ] {
                let text = match flag.kind {
                    Kind::Switch(_) => text.replace(
                        &format!("--{} ", flag.name),
                        &format!("--{}[=BOOL]\n", flag.name),
                    ),
                    _ => text,
                };
                assert!(help.contains(&text), "help lacks {text:?}");
            }
            let default = flag.kind.show(&mut defaults);
            let default = if default.is_empty() { "none" } else { &default };
            assert!(
                help.contains(&format!("Default {default};")),
                "--{}",
                flag.name
            );
        }
        for line in [
            "mcpd --stdio",
            "Default 16KiB; env MCPD_MAX_HEAD_BYTES.",
            "Default 10s;",
        ] {
            assert!(help.contains(line), "help lacks {line:?}");
        }
    }

    #[test]
    fn shown_defaults_parse_back_to_the_defaults() {
        let mut defaults = Settings::default();
        for flag in FLAGS {
            let shown = flag.kind.show(&mut defaults);
            if shown.is_empty() {
                continue;
            }
            let mut parsed = Settings::default();
            assert_eq!(
                flag.kind.apply(&mut parsed, &shown),
                Ok(()),
                "--{} {shown}",
                flag.name
            );
            assert_eq!(parsed.config, defaults.config, "--{} {shown}", flag.name);
            assert_eq!(parsed.stdio, defaults.stdio);
        }
    }

    #[test]
    fn flag_names_are_unique_and_variables_follow_them() {
        for (i, flag) in FLAGS.iter().enumerate() {
            assert!(
                FLAGS[..i].iter().all(|f| f.name != flag.name),
                "--{}",
                flag.name
            );
        }
        let flag = FLAGS.iter().find(|f| f.name == "max-body-bytes").unwrap();
        assert_eq!(flag.env_var(), "MCPD_MAX_BODY_BYTES");
    }

    #[test]
    fn error_displays_its_message() {
        let e = fail("x".into());
        assert_eq!(e.to_string(), "x");
    }
}
