//! Today's clients against today's stdio servers through the bridge (issue 11): the MCP Python
//! SDK 2.x `Client` in auto mode (probes `server/discover`, falls back to `initialize`) and in
//! legacy mode, against PyPI `mcp-server-time` (Python SDK 2.x: dual-era) and npm
//! `@modelcontextprotocol/server-everything` (TS SDK 1.x: handshake only), per-session and
//! `--shared`. Each cell of README's compatibility matrix is one test here.
//!
//! Needs python3 with venv and PyPI, and npm with its registry; installs the pinned versions
//! under `target/` once (see `common::pyenv`, `common::npm`). Without them a test skips
//! loudly; with `CI` set it fails.

mod common;

use common::{fresh_dir, run_bounded, spawn_mcpd, tail};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The Python SDK whose `Client(url)` probes `server/discover` by default.
const MCP: &str = "2.3.0";
/// PyPI `mcp-server-time`, built on the Python SDK 2.x (dual-era).
const SERVER_TIME: &str = "2026.10.19";
/// npm `@modelcontextprotocol/server-everything`, built on the TS SDK 1.x (handshake only).
const SERVER_EVERYTHING: &str = "2026.8.31";
/// One client run, start-up included (the script gives up after 45 s itself).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(90);

/// Which real server mcpd bridges.
#[derive(Clone, Copy, Debug)]
enum Server {
    Time,
    Everything,
    /// No bridge: mcpd's built-in server.
    Builtin,
}

/// The venv with the SDK and `mcp-server-time`.
fn python() -> Option<PathBuf> {
    common::pyenv::venv_python(
        "py2-venv",
        &[("mcp", MCP), ("mcp-server-time", SERVER_TIME)],
    )
}

/// `mcpd OPTIONS -- <server>`'s command words.
fn server_command(server: Server, python: &Path) -> Option<Vec<String>> {
    match server {
        Server::Time => {
            let bin = python.with_file_name("mcp-server-time");
            Some(vec![
                bin.display().to_string(),
                "--local-timezone".into(),
                "UTC".into(),
            ])
        }
        Server::Everything => {
            let bin = common::npm::npm_bin(
                "server-everything",
                "@modelcontextprotocol/server-everything",
                SERVER_EVERYTHING,
                "mcp-server-everything",
            )?;
            Some(vec![bin.display().to_string(), "stdio".into()])
        }
        Server::Builtin => Some(Vec::new()),
    }
}

/// One matrix cell: `mcpd OPTIONS -- server`, the SDK client in `mode`, which must end up
/// speaking `era`, through every step of `tests/py/sdk2_client.py` for that server.
fn cell(server: Server, options: &[&str], mode: &str, era: &str) {
    let Some(python) = python() else {
        return;
    };
    let Some(command) = server_command(server, &python) else {
        return;
    };
    let mut args: Vec<&str> = options.to_vec();
    if !command.is_empty() {
        args.push("--");
        args.extend(command.iter().map(String::as_str));
    }
    let mcpd = spawn_mcpd(&args);
    let url = mcpd.url();
    let kind = match server {
        Server::Time => "time",
        Server::Everything => "everything",
        Server::Builtin => "builtin",
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/sdk2_client.py");
    let mut cmd = Command::new(&python);
    cmd.arg(&script)
        .args([url.as_str(), mode, kind, era])
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    let out = run_bounded(cmd, SCRIPT_TIMEOUT).expect("start the venv's python");
    let log = mcpd.stop();
    let shown: Vec<&str> = options.iter().map(|o| o.trim_start_matches("--")).collect();
    let bridge = if shown.is_empty() {
        "per-session".to_string()
    } else {
        shown.join("-")
    };
    let label = format!("{kind}-{bridge}-{mode}");
    let dir = fresh_dir("ecosystem", &label);
    let _ = std::fs::write(dir.join("mcpd.log"), &log);
    let _ = std::fs::write(
        dir.join("client.log"),
        format!("{}{}", out.stdout, out.stderr),
    );
    let ok = out.status.success() && !out.timed_out && out.stdout.lines().any(|l| l == "ALL OK");
    assert!(
        ok,
        "[{label}] mcp {MCP} Client(mode={mode:?}) through mcpd {options:?} failed ({}{}):\n{}\n\
         stderr tail:\n{}\nmcpd stderr tail:\n{}",
        out.status,
        if out.timed_out { ", timed out" } else { "" },
        tail(&out.stdout, 4000),
        tail(&out.stderr, 4000),
        tail(&log, 3000)
    );
}

#[test]
fn time_per_session_auto_speaks_2026() {
    cell(Server::Time, &[], "auto", "2026-07-28");
}

#[test]
fn time_per_session_legacy() {
    cell(Server::Time, &[], "legacy", "2025-11-25");
}

#[test]
fn time_shared_auto_speaks_2026() {
    cell(Server::Time, &["--shared"], "auto", "2026-07-28");
}

#[test]
fn time_shared_legacy() {
    cell(Server::Time, &["--shared"], "legacy", "2025-11-25");
}

#[test]
fn everything_per_session_legacy() {
    cell(Server::Everything, &[], "legacy", "2025-11-25");
}

#[test]
fn everything_shared_auto_speaks_2026() {
    cell(Server::Everything, &["--shared"], "auto", "2026-07-28");
}

#[test]
fn everything_shared_legacy() {
    cell(Server::Everything, &["--shared"], "legacy", "2025-11-25");
}

/// Per-session mode offers no 2026-07-28 for a handshake-only child: the auto client's probe
/// gets -32022 listing the handshake revisions, and it falls back to `initialize`.
#[test]
fn everything_per_session_auto_falls_back_to_the_handshake() {
    cell(Server::Everything, &[], "auto", "2025-11-25");
}

/// The same with 2026-07-28 asked for: 2026 clients share one translated child.
#[test]
fn everything_per_session_auto_with_eras_speaks_2026() {
    let all = "--eras=2026-07-28,2025-11-25,2025-06-18,2025-03-26,2024-11-05";
    cell(Server::Everything, &[all], "auto", "2026-07-28");
}

#[test]
fn builtin_auto_speaks_2026() {
    cell(Server::Builtin, &[], "auto", "2026-07-28");
}

/// `--eras` without 2026-07-28: the auto client falls back to the newest offered handshake.
#[test]
fn builtin_auto_without_2026_falls_back() {
    cell(
        Server::Builtin,
        &["--eras=2025-06-18,2025-11-25"],
        "auto",
        "2025-11-25",
    );
}

/// `--eras` with only 2025-06-18: the legacy client is answered with it.
#[test]
fn builtin_legacy_with_one_handshake_revision() {
    cell(
        Server::Builtin,
        &["--eras=2025-06-18"],
        "legacy",
        "2025-06-18",
    );
}
