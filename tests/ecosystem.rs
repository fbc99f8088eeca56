//! Today's clients against today's stdio servers through the bridge (issue 11): the MCP Python
//! SDK 2.x `Client` in auto mode (probes `server/discover`, falls back to `initialize`) and in
//! legacy mode, against PyPI `mcp-server-time` (Python SDK 2.x: dual-era) and npm
//! `@modelcontextprotocol/server-everything` (TS SDK 1.x: handshake only), per-session and
//! `--shared`. Each Python cell of README's compatibility matrix is one test here (the TS SDK
//! clients' cells are in `tests/ts_sdk.rs`).
//!
//! Needs python3 with venv and PyPI, and npm with its registry; installs the pinned versions
//! under `target/` once (see `common::pyenv`, `common::npm`). Without them a test skips
//! loudly; with `CI` set it fails.

mod common;

use common::pyenv::{MCP2, SERVER_TIME};
use common::{fresh_dir, run_bounded, spawn_mcpd, tail};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// PyPI `mcp-server-git` (Python SDK 2.x: dual-era).
const SERVER_GIT: &str = "2026.10.19";
/// npm `@modelcontextprotocol/server-filesystem` (handshake only).
const SERVER_FILESYSTEM: &str = "2026.8.31";
/// One client run, start-up included (the script gives up after 45 s itself).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(90);

/// Which real server mcpd bridges.
#[derive(Clone, Copy, Debug)]
enum Server {
    Time,
    Everything,
    /// No bridge: mcpd's built-in server.
    Builtin,
    /// `mcp-server-git --repository DIR` on a fresh one-commit repository.
    Git,
    /// `mcp-server-filesystem DIR` on a directory holding `note.txt`.
    Filesystem,
}

/// The venv with the SDK and `mcp-server-time`.
fn python() -> Option<PathBuf> {
    common::pyenv::venv_python(
        "py2-venv",
        &[
            ("mcp", MCP2),
            ("mcp-server-time", SERVER_TIME),
            ("mcp-server-git", SERVER_GIT),
        ],
    )
}

/// `mcpd OPTIONS -- <server>`'s command words; `dir` is the server's fresh work directory.
fn server_command(server: Server, python: &Path, dir: &Path) -> Option<Vec<String>> {
    match server {
        Server::Git => {
            if !common::require_tool("git", &["git", "--version"]) {
                return None;
            }
            let git = |args: &[&str]| {
                let mut cmd = Command::new("git");
                cmd.arg("-C").arg(dir).args(args);
                let out = run_bounded(cmd, Duration::from_secs(30)).expect("start git");
                assert!(out.status.success(), "git {args:?}: {}", out.stderr);
            };
            git(&["init", "-q", "-b", "main"]);
            std::fs::write(dir.join("a.txt"), "hello\n").expect("write a.txt");
            git(&["add", "a.txt"]);
            git(&[
                "-c",
                "user.name=mcpd",
                "-c",
                "user.email=mcpd@example.com",
                "commit",
                "-qm",
                "first commit",
            ]);
            let bin = python.with_file_name("mcp-server-git");
            Some(vec![
                bin.display().to_string(),
                "--repository".into(),
                dir.display().to_string(),
            ])
        }
        Server::Filesystem => {
            std::fs::write(dir.join("note.txt"), "hi there\n").expect("write note.txt");
            let bin = common::npm::npm_bin(
                "server-filesystem",
                "@modelcontextprotocol/server-filesystem",
                SERVER_FILESYSTEM,
                "mcp-server-filesystem",
            )?;
            Some(vec![bin.display().to_string(), dir.display().to_string()])
        }
        Server::Time => {
            let bin = python.with_file_name("mcp-server-time");
            Some(vec![
                bin.display().to_string(),
                "--local-timezone".into(),
                "UTC".into(),
            ])
        }
        Server::Everything => {
            let bin = common::npm::server_everything()?;
            Some(vec![bin.display().to_string(), "stdio".into()])
        }
        Server::Builtin => Some(Vec::new()),
    }
}

/// One matrix cell: `mcpd OPTIONS -- server`, the Python SDK client in `mode` (`auto`,
/// `legacy`, `sse`), which must end up speaking `era`, through every step of
/// `tests/py/sdk2_client.py` for that server.
fn cell(server: Server, options: &[&str], mode: &str, era: &str) {
    let Some(python) = python() else {
        return;
    };
    let sse = mode == "sse";
    let kind = match server {
        Server::Time => "time",
        Server::Everything => "everything",
        Server::Builtin => "builtin",
        Server::Git => "git",
        Server::Filesystem => "filesystem",
    };
    let work = fresh_dir("ecosystem-work", kind);
    let Some(command) = server_command(server, &python, &work) else {
        return;
    };
    let mut args: Vec<&str> = options.to_vec();
    if !command.is_empty() {
        args.push("--");
        args.extend(command.iter().map(String::as_str));
    }
    let mcpd = spawn_mcpd(&args);
    let url = match sse {
        true => format!("http://127.0.0.1:{}/sse", mcpd.port),
        false => mcpd.url(),
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut cmd = Command::new(&python);
    cmd.arg(root.join("tests/py/sdk2_client.py"))
        .args([mode, url.as_str(), kind, era])
        .env("MCPD_TEST_DIR", &work)
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
    let label = format!("{kind}-{bridge}-py-{mode}");
    common::keep_logs("ecosystem", &label, &log, &out.stdout, &out.stderr);
    let ok = out.all_ok();
    assert!(
        ok,
        "[{label}] Python SDK {mode} through mcpd {options:?} failed ({}{}):\n{}\n\
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

/// The translation itself, on the wire: server-everything's sampling request becomes an
/// `input_required` result; a tampered `requestState` is a clear 400; the real one, retried
/// with the answer, finishes the call; used again, it is refused.
#[test]
fn everything_shared_request_state_is_checked() {
    let Some(python) = python() else {
        return;
    };
    let work = fresh_dir("ecosystem-work", "everything-wire");
    let Some(command) = server_command(Server::Everything, &python, &work) else {
        return;
    };
    let mut args = vec!["--shared", "--"];
    args.extend(command.iter().map(String::as_str));
    let mcpd = spawn_mcpd(&args);
    let call = |extra: serde_json::Value| {
        let mut params = serde_json::json!({
            "name": "trigger-sampling-request",
            "arguments": {"prompt": "wire", "maxTokens": 5},
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {"sampling": {}},
                "io.modelcontextprotocol/clientInfo": {"name": "wire", "version": "1"},
            },
        });
        if let (Some(p), Some(e)) = (params.as_object_mut(), extra.as_object()) {
            p.extend(e.clone());
        }
        let body = serde_json::json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": params});
        let reply = common::http::stateless(
            mcpd.port,
            &body,
            &[("Mcp-Name", "trigger-sampling-request")],
            Duration::from_secs(20),
        );
        let message = if reply.header("content-type") == Some("text/event-stream") {
            reply.messages().pop().expect("an answer on the stream")
        } else {
            reply.json()
        };
        (reply.status, message)
    };
    let (status, first) = call(serde_json::json!({}));
    assert_eq!(status, 200, "{first}");
    let result = &first["result"];
    assert_eq!(result["resultType"], "input_required", "{first}");
    let asked = &result["inputRequests"]["sampling"];
    assert_eq!(asked["method"], "sampling/createMessage");
    let state = result["requestState"].as_str().unwrap().to_string();
    let answer = serde_json::json!({"sampling": {"role": "assistant", "model": "m",
        "content": {"type": "text", "text": "from the wire"}}});
    // One hex digit changed (never to itself).
    let last = if state.ends_with('0') { '1' } else { '0' };
    let tampered = format!("{}{last}", &state[..state.len() - 1]);
    let (status, refused) =
        call(serde_json::json!({"requestState": tampered, "inputResponses": answer}));
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error"]["code"], -32602);
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("requestState"),
        "{refused}"
    );
    let (status, done) = call(serde_json::json!({"requestState": state, "inputResponses": answer}));
    assert_eq!(status, 200, "{done}");
    let text = done["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(text.contains("from the wire"), "{done}");
    let (status, again) =
        call(serde_json::json!({"requestState": state, "inputResponses": answer}));
    assert_eq!(
        (status, &again["error"]["code"]),
        (400, &serde_json::json!(-32602))
    );
}

/// The 2024-11-05 HTTP+SSE transport (`sse_client`) through each bridge mode.
#[test]
fn time_shared_sse() {
    cell(Server::Time, &["--shared"], "sse", "2025-11-25");
}

#[test]
fn everything_per_session_sse() {
    cell(Server::Everything, &[], "sse", "2025-11-25");
}

#[test]
fn everything_shared_sse() {
    cell(Server::Everything, &["--shared"], "sse", "2025-11-25");
}

/// More servers people install: mcp-server-git (dual-era) and server-filesystem (handshake).
#[test]
fn git_per_session_auto_speaks_2026() {
    cell(Server::Git, &[], "auto", "2026-07-28");
}

#[test]
fn git_shared_auto_speaks_2026() {
    cell(Server::Git, &["--shared"], "auto", "2026-07-28");
}

#[test]
fn git_shared_legacy() {
    cell(Server::Git, &["--shared"], "legacy", "2025-11-25");
}

#[test]
fn filesystem_per_session_auto_falls_back() {
    cell(Server::Filesystem, &[], "auto", "2025-11-25");
}

#[test]
fn filesystem_shared_auto_speaks_2026() {
    cell(Server::Filesystem, &["--shared"], "auto", "2026-07-28");
}

#[test]
fn filesystem_shared_legacy() {
    cell(Server::Filesystem, &["--shared"], "legacy", "2025-11-25");
}
