//! The MCP TypeScript SDK's clients against `mcpd` (issue 11's compatibility matrix, TS side):
//! `@modelcontextprotocol/sdk` 1.32.2 (handshake only) over Streamable HTTP and over the
//! 2024-11-05 HTTP+SSE transport, and `@modelcontextprotocol/client` 2.3.1 with
//! `versionNegotiation: { mode: "auto" }` (probes `server/discover`, falls back to
//! `initialize`), each against mcpd's built-in server and against mcpd bridging npm
//! `@modelcontextprotocol/server-everything` (handshake only) and PyPI `mcp-server-time`
//! (dual-era), per-session and `--shared`. One test per cell (the only TS cells: the Python
//! ones are in `tests/ecosystem.rs`); every step of `tests/ts/client.mjs` (tools, resources,
//! prompts, progress, and with server-everything sampling, elicitation and roots with their
//! `input_required` round counts) has an exact expected result, and the era the client
//! negotiated is asserted per cell. `tests/ts/ask_while_working.py` (Python SDK 1.x, handshake only) checks
//! that progress a server sends while its client answers its question still arrives.
//!
//! Needs node (≥ 20) with npm and its registry, and python3 with venv and PyPI; installs the
//! pinned versions under `target/` once (`common::npm`, `common::pyenv`). Without them a test
//! skips loudly; with `CI` set it fails.

mod common;

use common::pyenv::{MCP1, MCP2, SERVER_TIME};
use common::{run_bounded, spawn_mcpd, tail};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The last TS SDK 1.x release (handshake era only, up to 2025-11-25).
const SDK1: &str = "1.32.2";
/// The TS SDK 2.x client package; its engines field asks for Node ≥ 20.
const SDK2: &str = "2.3.1";
/// One client run, node start-up included (the script gives up after 45 s itself).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(90);
/// Every revision mcpd knows, for `--eras`.
const ALL_ERAS: &str = "--eras=2026-07-28,2025-11-25,2025-06-18,2025-03-26,2024-11-05";

/// Which SDK client, over which transport.
#[derive(Clone, Copy, Debug)]
enum Client {
    /// SDK 1.x `StreamableHTTPClientTransport`.
    Sdk1Http,
    /// SDK 1.x `SSEClientTransport` against `/sse`.
    Sdk1Sse,
    /// SDK 2.x `StreamableHTTPClientTransport`, version negotiation `auto`.
    Sdk2Auto,
}

/// Which server answers: mcpd itself, or a real stdio server behind the bridge.
#[derive(Clone, Copy, Debug)]
enum Server {
    Builtin,
    Everything,
    Time,
    /// `tests/ts/ask_while_working.py` (Python SDK 1.x FastMCP: handshake only).
    Ask,
}

/// The `node_modules` directory holding the client SDK (its own, so no other test's pin set
/// ever replaces it).
fn sdk_modules(client: Client) -> Option<PathBuf> {
    match client {
        Client::Sdk1Http | Client::Sdk1Sse => {
            common::npm::npm_packages("ts-sdk1", &[("@modelcontextprotocol/sdk", SDK1)])
        }
        Client::Sdk2Auto => {
            common::npm::npm_packages("ts-sdk2", &[("@modelcontextprotocol/client", SDK2)])
        }
    }
}

/// How to run a server behind mcpd, and what the script needs to know about it.
struct Backend {
    /// `mcpd OPTIONS -- <command>`'s words (empty for the built-in server).
    command: Vec<String>,
    /// Environment for the client script.
    env: Vec<(&'static str, PathBuf)>,
}

/// The [`Backend`] of `server`, installed if need be (None: not installable, skipped).
fn server_command(server: Server) -> Option<Backend> {
    match server {
        Server::Builtin => Some(Backend {
            command: Vec::new(),
            env: Vec::new(),
        }),
        Server::Everything => {
            let bin = common::npm::server_everything()?;
            // node_modules/.bin/<bin> -> node_modules/<package>/dist/docs
            let modules = bin.parent().and_then(Path::parent)?;
            let docs = modules.join("@modelcontextprotocol/server-everything/dist/docs");
            Some(Backend {
                command: vec![bin.display().to_string(), "stdio".into()],
                env: vec![("EVERYTHING_DOCS", docs)],
            })
        }
        Server::Time => {
            // A venv of its own: another test's pin set never replaces it under this one.
            let python = common::pyenv::venv_python(
                "py2-time-venv",
                &[("mcp", MCP2), ("mcp-server-time", SERVER_TIME)],
            )?;
            let bin = python.with_file_name("mcp-server-time");
            Some(Backend {
                command: vec![
                    bin.display().to_string(),
                    "--local-timezone".into(),
                    "UTC".into(),
                ],
                env: Vec::new(),
            })
        }
        Server::Ask => {
            let python = common::pyenv::venv_python("py-venv", &[("mcp", MCP1)])?;
            let script =
                Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ts/ask_while_working.py");
            Some(Backend {
                command: vec![python.display().to_string(), script.display().to_string()],
                env: Vec::new(),
            })
        }
    }
}

/// One matrix cell: `mcpd OPTIONS [-- server]`, `client` through every step of
/// `tests/ts/client.mjs` for that server, having negotiated exactly `era`.
fn cell(client: Client, server: Server, options: &[&str], era: &str) {
    if !common::require_tool("node", &["node", "--version"]) {
        return;
    }
    let Some(modules) = sdk_modules(client) else {
        return;
    };
    let Some(Backend { command, env }) = server_command(server) else {
        return;
    };
    let mut args: Vec<&str> = options.to_vec();
    if !command.is_empty() {
        args.push("--");
        args.extend(command.iter().map(String::as_str));
    }
    let (sdk, transport) = match client {
        Client::Sdk1Http => ("1", "http"),
        Client::Sdk1Sse => ("1", "sse"),
        Client::Sdk2Auto => ("2", "http"),
    };
    let kind = match server {
        Server::Builtin => "builtin",
        Server::Everything => "everything",
        Server::Time => "time",
        Server::Ask => "ask",
    };
    let mode = if command.is_empty() {
        "-".to_string()
    } else if options.contains(&"--shared") {
        "shared".to_string()
    } else {
        "per-session".to_string()
    };
    let extra: Vec<&str> = options
        .iter()
        .copied()
        .filter(|o| *o != "--shared")
        .collect();
    let label = format!(
        "sdk{sdk}-{transport}-{kind}-{mode}{}",
        if extra.is_empty() { "" } else { "-eras" }
    );

    let mcpd = spawn_mcpd(&args);
    // Only these start the child with mcpd (per-session children start with their session).
    let child_at_start = options.contains(&"--shared") || options.contains(&ALL_ERAS);
    if matches!(server, Server::Everything) && child_at_start {
        settle_everything(&mcpd, &label);
    }
    let url = match client {
        Client::Sdk1Sse => format!("http://127.0.0.1:{}/sse", mcpd.port),
        _ => mcpd.url(),
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ts/client.mjs");
    let mut cmd = Command::new("node");
    cmd.arg(&script)
        .args([sdk, transport, url.as_str(), kind, era])
        .env("TS_MODULES", &modules)
        .env("NO_COLOR", "1");
    for (key, value) in &env {
        cmd.env(key, value);
    }
    let out = run_bounded(cmd, SCRIPT_TIMEOUT).expect("start node");
    let log = mcpd.stop();
    common::keep_logs("ts-sdk", &label, &log, &out.stdout, &out.stderr);
    let negotiated = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("NEGOTIATED "))
        .unwrap_or("(none)");
    let late = out
        .stdout
        .lines()
        .filter(|l| l.contains("late progress notification"))
        .count();
    let ok = out.all_ok();
    eprintln!(
        "MATRIX | {client:?} | {kind} | {mode}{}{} | {negotiated} | {} | progress the SDK saw \
         late: {late}",
        if extra.is_empty() { "" } else { " " },
        extra.join(" "),
        if ok { "pass" } else { "FAIL" }
    );
    assert!(
        ok,
        "[{label}] TS SDK {client:?} through mcpd {options:?} failed ({}{}):\n{}\n\
         stderr tail:\n{}\nmcpd stderr tail:\n{}",
        out.status,
        if out.timed_out { ", timed out" } else { "" },
        common::failure_lines(&out.stdout),
        tail(&out.stderr, 3000),
        tail(&log, 3000)
    );
    assert_eq!(
        negotiated.split_whitespace().next(),
        Some(era),
        "[{label}] negotiated"
    );
}

/// server-everything asks its client for roots 350 ms after `initialize` (`syncRoots`, in its
/// `server/index.js`). A child started with mcpd (`--shared`, or the shared child of translated
/// 2026 clients) has no client then, unless the test's first calls are already in flight: mcpd
/// hands such a request to the one request in flight, which for a 2026 client turns an
/// unrelated call into an `input_required` round. Each cell waits
/// (bounded) until that start-up request has been refused, so it always sees the same thing.
fn settle_everything(mcpd: &common::Mcpd, label: &str) {
    // The shared child of per-session 2026 clients starts on the first 2026 request.
    let discover = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "server/discover",
        "params": {"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientInfo": {"name": "ts_sdk.rs", "version": "1"},
            "io.modelcontextprotocol/clientCapabilities": {}}}});
    let reply = common::http::stateless(mcpd.port, &discover, &[], Duration::from_secs(20));
    assert_eq!(
        reply.status,
        200,
        "[{label}] server/discover: {}",
        reply.text()
    );
    // server-everything's start-up roots request is refused (mcpd's log says so).
    mcpd.wait_log(
        "Failed to request roots from client",
        Duration::from_secs(20),
    );
}

// --- TS SDK 1.32.2, Streamable HTTP: the 2025-11-25 handshake everywhere.

#[test]
fn sdk1_http_builtin() {
    cell(Client::Sdk1Http, Server::Builtin, &[], "2025-11-25");
}

#[test]
fn sdk1_http_everything_per_session() {
    cell(Client::Sdk1Http, Server::Everything, &[], "2025-11-25");
}

#[test]
fn sdk1_http_everything_shared() {
    cell(
        Client::Sdk1Http,
        Server::Everything,
        &["--shared"],
        "2025-11-25",
    );
}

#[test]
fn sdk1_http_time_per_session() {
    cell(Client::Sdk1Http, Server::Time, &[], "2025-11-25");
}

#[test]
fn sdk1_http_time_shared() {
    cell(Client::Sdk1Http, Server::Time, &["--shared"], "2025-11-25");
}

// --- TS SDK 1.32.2, HTTP+SSE (`/sse`).

#[test]
fn sdk1_sse_builtin() {
    cell(Client::Sdk1Sse, Server::Builtin, &[], "2025-11-25");
}

#[test]
fn sdk1_sse_everything_per_session() {
    cell(Client::Sdk1Sse, Server::Everything, &[], "2025-11-25");
}

#[test]
fn sdk1_sse_everything_shared() {
    cell(
        Client::Sdk1Sse,
        Server::Everything,
        &["--shared"],
        "2025-11-25",
    );
}

#[test]
fn sdk1_sse_time_per_session() {
    cell(Client::Sdk1Sse, Server::Time, &[], "2025-11-25");
}

#[test]
fn sdk1_sse_time_shared() {
    cell(Client::Sdk1Sse, Server::Time, &["--shared"], "2025-11-25");
}

// --- TS SDK 2.3.1 client, versionNegotiation auto.

#[test]
fn sdk2_auto_builtin_speaks_2026() {
    cell(Client::Sdk2Auto, Server::Builtin, &[], "2026-07-28");
}

/// Per-session mode offers no 2026-07-28 for a handshake-only child: the probe gets -32022
/// listing the handshake revisions and the client falls back to `initialize`.
#[test]
fn sdk2_auto_everything_per_session_falls_back() {
    cell(Client::Sdk2Auto, Server::Everything, &[], "2025-11-25");
}

/// The same with 2026-07-28 switched on by `--eras`: translated, one shared child.
#[test]
fn sdk2_auto_everything_per_session_with_eras_speaks_2026() {
    cell(
        Client::Sdk2Auto,
        Server::Everything,
        &[ALL_ERAS],
        "2026-07-28",
    );
}

#[test]
fn sdk2_auto_everything_shared_speaks_2026() {
    cell(
        Client::Sdk2Auto,
        Server::Everything,
        &["--shared"],
        "2026-07-28",
    );
}

#[test]
fn sdk2_auto_time_per_session_speaks_2026() {
    cell(Client::Sdk2Auto, Server::Time, &[], "2026-07-28");
}

#[test]
fn sdk2_auto_time_shared_speaks_2026() {
    cell(Client::Sdk2Auto, Server::Time, &["--shared"], "2026-07-28");
}

// --- Progress a handshake-only server sends while its client answers its question.

/// The handshake era (per-session: the 2.x client falls back): progress 2/3 travels on the
/// call's open stream while the client's (slow) sampling answer is pending.
#[test]
fn sdk2_auto_progress_while_answering_per_session() {
    cell(Client::Sdk2Auto, Server::Ask, &[], "2025-11-25");
}

/// The same server translated for a 2026 client (`--shared`): the question becomes an
/// `input_required` result that ends the first response, and progress 2/3, sent before the
/// client's retry arrives, must reach the retry (the bridge holds it for the retry's stream).
#[test]
fn sdk2_auto_progress_while_answering_shared() {
    cell(Client::Sdk2Auto, Server::Ask, &["--shared"], "2026-07-28");
}

/// The 1.x client through the shared child: the handshake era, one open stream, no gap.
#[test]
fn sdk1_http_progress_while_answering_shared() {
    cell(Client::Sdk1Http, Server::Ask, &["--shared"], "2025-11-25");
}
