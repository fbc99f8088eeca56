//! Deployment flags: `--instance-id` prefixes session ids (load-balancer affinity), and
//! `--exit-with-parent` stops mcpd when the process that started it dies.

mod common;

use common::http::{get, open_progress_call, post, read_until_closed, INITIALIZE};
use common::{eventually, fresh_dir, mcpd_bin, parse_listening, spawn_mcpd, wait_exit, WAIT};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

#[test]
fn instance_id_prefixes_every_session_id() {
    let server = spawn_mcpd(&["--instance-id", "node-7"]);
    let r = post(
        server.port,
        "/mcp",
        &[],
        INITIALIZE.as_bytes(),
        Duration::from_secs(3),
    );
    let id = r.header("mcp-session-id").expect("session id").to_string();
    assert!(
        id.starts_with("node-7-") && id.len() == "node-7-".len() + 36,
        "{id}"
    );
    assert!(
        id.bytes().all(|b| (0x21..=0x7e).contains(&b)),
        "visible ASCII only: {id}"
    );
    let ping = r#"{"jsonrpc":"2.0","id":2,"method":"ping"}"#;
    let r = post(
        server.port,
        "/mcp",
        &[("Mcp-Session-Id", id.as_str())],
        ping.as_bytes(),
        Duration::from_secs(3),
    );
    assert_eq!(r.status, 200, "the prefixed id names the session");
}

/// Whether `pid` is a live process (a zombie counts as gone).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// An mcpd whose launcher has exited; killed (by its PID) when dropped, if still alive.
struct Orphan {
    pid: u32,
    port: u16,
}

impl Drop for Orphan {
    fn drop(&mut self) {
        if alive(self.pid) {
            let _ = Command::new("kill")
                .args(["-9", &self.pid.to_string()])
                .status();
        }
    }
}

/// Starts mcpd (with `flags`) in the background from a shell that exits as soon as mcpd's
/// listening line is in its log (so whatever mcpd does at start-up, `--exit-with-parent`
/// included, is done); returns once that shell is gone.
fn orphaned_mcpd(flags: &str) -> Orphan {
    let log = fresh_dir("deployment", "orphan").join("stderr.log");
    let log = log.display();
    let script = format!(
        "'{}' {flags} --host 127.0.0.1 --port 0 >/dev/null 2>'{log}' & echo $!; i=0; \
         until grep -q 'listening on' '{log}' || [ $i -ge 200 ]; do sleep 0.05; i=$((i+1)); done",
        mcpd_bin()
    );
    let out = Command::new("sh")
        .arg("-c")
        .arg(&script)
        .output()
        .expect("run sh");
    let pid = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("mcpd pid");
    let text = std::fs::read_to_string(log.to_string()).unwrap_or_default();
    let port = text.lines().find_map(parse_listening).map(|(port, _)| port);
    let orphan = Orphan {
        pid,
        port: port.unwrap_or(0),
    };
    assert!(port.is_some(), "mcpd {flags} did not start: {text}");
    orphan
}

#[test]
fn exit_with_parent_stops_when_the_launcher_dies() {
    let orphan = orphaned_mcpd("--exit-with-parent");
    eventually("mcpd to exit after its launcher", WAIT, || {
        if alive(orphan.pid) {
            Err(format!("{} alive", orphan.pid))
        } else {
            Ok(())
        }
    });
}

#[test]
fn without_the_flag_mcpd_keeps_serving_after_its_launcher_exits() {
    let orphan = orphaned_mcpd("");
    // The launcher is gone (reaped); a health check answered "ok" (not "draining") now shows
    // no stop signal came with its death.
    let health = get(orphan.port, "/health", WAIT);
    assert_eq!(health.status, 200, "{}", health.text());
    assert_eq!(health.json()["status"], "ok");
}

/// A 2026 `tools/call` whose answer takes a while, its event stream open, then SIGTERM to mcpd;
/// the stream and what it brought so far.
fn sigterm_during_a_progress_call(server: &common::Mcpd) -> (TcpStream, Vec<u8>) {
    let (stream, seen) = open_progress_call(server.port, 3);
    let pid = server.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    (stream, seen)
}

/// Reads the rest of the call's stream (its answer must be there), then waits for exit 0.
fn answer_finishes_and_mcpd_exits_0(server: &mut common::Mcpd, call: (TcpStream, Vec<u8>)) {
    let (mut stream, mut seen) = call;
    seen.extend(read_until_closed(&mut stream, WAIT));
    let text = String::from_utf8_lossy(&seen);
    assert!(
        text.contains("\"id\":3") && text.contains("Progress test completed"),
        "the answer in flight finished: {text}"
    );
    let status = wait_exit(&mut server.child, WAIT).expect("mcpd exits after SIGTERM");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn sigterm_lets_an_answer_in_flight_finish_then_exits_0() {
    let mut server = spawn_mcpd(&[]);
    let stream = sigterm_during_a_progress_call(&server);
    answer_finishes_and_mcpd_exits_0(&mut server, stream);
}

#[test]
fn health_says_draining_from_sigterm_while_an_answer_finishes() {
    let mut server = spawn_mcpd(&[]);
    let stream = sigterm_during_a_progress_call(&server);
    // The signal is handled asynchronously: wait for the log line, then probe.
    server.wait_log("stopping", WAIT);
    let health = get(server.port, "/health", Duration::from_secs(3));
    assert_eq!(health.status, 503, "{}", health.text());
    assert_eq!(health.json()["status"], "draining");
    let refused = post(
        server.port,
        "/mcp",
        &[],
        INITIALIZE.as_bytes(),
        Duration::from_secs(3),
    );
    assert_eq!(refused.status, 503, "new sessions go elsewhere");
    assert_eq!(refused.header("retry-after"), Some("1"));
    answer_finishes_and_mcpd_exits_0(&mut server, stream);
}
