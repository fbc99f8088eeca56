//! The official MCP Python SDK (`mcp` on PyPI, 1.x client API) against `mcpd`: over Streamable
//! HTTP (`tests/py/sdk_http.py`), over the 2024-11-05 HTTP+SSE transport (`tests/py/sdk_sse.py`)
//! and over stdio (`tests/py/sdk_stdio.py`).
//!
//! Needs python3 with `venv` and PyPI. The SDK is installed once into `target/py-venv` and reused
//! while it holds the pinned version.

mod common;

use common::{fresh_dir, mcpd_bin, run_bounded, spawn_mcpd, tail};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// One script run, SDK start-up included (the scripts give up after 45 s themselves).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(60);

#[test]
fn python_sdk_streamable_http() {
    let Some(python) = venv_python() else {
        return;
    };
    let server = spawn_mcpd(&[]);
    let url = server.url();
    let mut cmd = Command::new(&python);
    cmd.arg(script("sdk_http.py")).arg(&url);
    let out = run_script(cmd);
    let log = server.stop();
    common::keep_logs("python-sdk", "http", &log, &out.stdout, &out.stderr);
    eprintln!(
        "--- sdk_http.py {url}: {}\n--- stdout:\n{}--- stderr:\n{}",
        out.status, out.stdout, out.stderr
    );
    assert_passed("Python SDK over Streamable HTTP", &out, &log);
}

#[test]
fn python_sdk_legacy_sse() {
    run_sse("sse", &[]);
}

/// The SDK's legacy SSE client against a bridged `mcpd --stdio`, one child per connection.
#[test]
fn python_sdk_legacy_sse_through_the_bridge() {
    run_sse("sse-bridge", &["--", mcpd_bin(), "--stdio"]);
}

/// The same against the `--shared` child.
#[test]
fn python_sdk_legacy_sse_through_the_shared_bridge() {
    run_sse(
        "sse-bridge-shared",
        &["--shared", "--", mcpd_bin(), "--stdio"],
    );
}

/// `tests/py/sdk_sse.py` against `/sse` of `mcpd SERVER_ARGS...`.
fn run_sse(label: &str, server_args: &[&str]) {
    let Some(python) = venv_python() else {
        return;
    };
    let server = spawn_mcpd(server_args);
    let url = format!("http://127.0.0.1:{}/sse", server.port);
    let mut cmd = Command::new(&python);
    cmd.arg(script("sdk_sse.py")).arg(&url);
    let out = run_script(cmd);
    let log = server.stop();
    common::keep_logs("python-sdk", label, &log, &out.stdout, &out.stderr);
    assert_passed(&format!("[{label}] Python SDK over HTTP+SSE"), &out, &log);
}

#[test]
fn python_sdk_stdio() {
    let Some(python) = venv_python() else {
        return;
    };
    let dir = fresh_dir("python-sdk", "stdio");
    let errlog = dir.join("mcpd.log");
    let mut cmd = Command::new(&python);
    cmd.arg(script("sdk_stdio.py")).arg(mcpd_bin()).arg(&errlog);
    let out = run_script(cmd);
    let _ = std::fs::write(
        dir.join("client.log"),
        format!("{}{}", out.stdout, out.stderr),
    );
    let log = std::fs::read_to_string(&errlog).unwrap_or_default();
    eprintln!(
        "--- sdk_stdio.py {} --stdio: {}\n--- stdout:\n{}--- stderr:\n{}",
        mcpd_bin(),
        out.status,
        out.stdout,
        out.stderr
    );
    assert_passed("Python SDK over stdio", &out, &log);
}

/// A Python SDK (FastMCP) stdio server behind `mcpd -- python stdio_server.py`, one child per
/// session, driven by the SDK's HTTP client.
#[test]
fn python_sdk_stdio_server_through_the_bridge() {
    run_bridged("bridge", &[], 2, 5);
}

/// The same server behind `--shared`: 5 sessions × 20 concurrent calls with distinct
/// arguments, each session getting exactly its own answers.
#[test]
fn python_sdk_stdio_server_shared_by_concurrent_sessions() {
    run_bridged("bridge-shared", &["--shared"], 5, 20);
}

fn run_bridged(label: &str, options: &[&str], sessions: usize, calls: usize) {
    let Some(python) = venv_python() else {
        return;
    };
    let python = python.display().to_string();
    let server_script = script("stdio_server.py").display().to_string();
    let mut args = options.to_vec();
    args.extend(["--", &python, &server_script]);
    let server = spawn_mcpd(&args);
    let url = server.url();
    let mut cmd = Command::new(&python);
    cmd.arg(script("sdk_bridge.py"))
        .arg(&url)
        .arg(sessions.to_string())
        .arg(calls.to_string());
    let out = run_script(cmd);
    let log = server.stop();
    common::keep_logs("python-sdk", label, &log, &out.stdout, &out.stderr);
    eprintln!(
        "--- sdk_bridge.py {url} {sessions} {calls} (mcpd {options:?} -- python stdio_server.py): \
         {}\n--- stdout:\n{}--- stderr:\n{}",
        out.status, out.stdout, out.stderr
    );
    assert_passed(
        &format!("Python SDK through the bridge ({options:?})"),
        &out,
        &log,
    );
}

/// Fails the test with the script's `FAIL:` lines and both stderr tails unless it passed.
fn assert_passed(what: &str, out: &ScriptRun, mcpd_log: &str) {
    assert!(
        out.ok,
        "{what} failed ({}):\n{}\nstderr tail:\n{}\nmcpd stderr tail:\n{}",
        out.status,
        common::failure_lines(&out.stdout),
        tail(&out.stderr, 4000),
        tail(mcpd_log, 3000)
    );
}

/// A script under `tests/py/`.
fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/py")
        .join(name)
}

/// What a client script did.
struct ScriptRun {
    stdout: String,
    stderr: String,
    /// Exit status and run time, or the timeout.
    status: String,
    /// Exited 0 and printed the line `ALL OK`.
    ok: bool,
}

/// Runs a client script, bounded.
fn run_script(mut cmd: Command) -> ScriptRun {
    cmd.env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    let out = run_bounded(cmd, SCRIPT_TIMEOUT).expect("start the venv's python");
    let status = if out.timed_out {
        format!("killed after {SCRIPT_TIMEOUT:?}")
    } else {
        format!("{} after {:.1?}", out.status, out.elapsed)
    };
    let ok = out.all_ok();
    ScriptRun {
        stdout: out.stdout,
        stderr: out.stderr,
        status,
        ok,
    }
}

/// The venv's python with `mcp==MCP1` (see [`common::pyenv`]).
fn venv_python() -> Option<PathBuf> {
    common::pyenv::venv_python("py-venv", &[("mcp", common::pyenv::MCP1)])
}
