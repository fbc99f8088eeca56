//! The stdio bridge end to end: the real `mcpd` binary bridging `mcpd --stdio` and misbehaving
//! children (`tests/children/fault_server.py`), driven over loopback HTTP/1.1, one request per
//! connection (`common::http::request`: framed answers, then the close it asked for). Process
//! hygiene is read from `/proc`.

mod common;

use common::{eventually, mcpd_bin, spawn_mcpd, Mcpd};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

/// Longest any single exchange may take; a hang fails the test instead of blocking it.
const IO_TIMEOUT: Duration = Duration::from_secs(15);

/// One HTTP answer: status, `Mcp-Session-Id`, and the JSON-RPC messages of its body.
#[derive(Debug)]
struct Answer {
    status: u16,
    session: Option<String>,
    retry_after: Option<String>,
    messages: Vec<Value>,
}

fn exchange(port: u16, method: &str, session: Option<&str>, body: &str) -> Answer {
    exchange_at(port, "/mcp", method, session, body)
}

fn exchange_at(port: u16, path: &str, method: &str, session: Option<&str>, body: &str) -> Answer {
    let headers: Vec<(&str, &str)> = session
        .map(|id| ("Mcp-Session-Id", id))
        .into_iter()
        .collect();
    exchange_with(port, path, method, &headers, body)
}

fn exchange_with(
    port: u16,
    path: &str,
    method: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    let mut all = common::http::MCP_POST.to_vec();
    all.extend_from_slice(headers);
    let response = common::http::request(port, method, path, &all, body.as_bytes(), IO_TIMEOUT);
    assert!(
        response.complete,
        "{method} {body}: no complete answer: {}",
        response.text()
    );
    let messages = if response
        .header("content-type")
        .is_some_and(|t| t.contains("text/event-stream"))
    {
        response
            .events()
            .iter()
            .filter_map(|e| serde_json::from_str(&e.data).ok())
            .collect()
    } else {
        serde_json::from_slice(&response.body).into_iter().collect()
    };
    Answer {
        status: response.status,
        session: response.header("mcp-session-id").map(str::to_string),
        retry_after: response.header("retry-after").map(str::to_string),
        messages,
    }
}

fn post(port: u16, session: Option<&str>, message: Value) -> Answer {
    exchange(port, "POST", session, &message.to_string())
}

fn initialize(port: u16) -> Answer {
    post(
        port,
        None,
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "bridge-test", "version": "1"}}}),
    )
}

/// `initialize` and `notifications/initialized`; the session id and the initialize answer.
fn open_session(port: u16) -> (String, Value) {
    let answer = initialize(port);
    let session = answer
        .session
        .unwrap_or_else(|| panic!("initialize gave no session: {:?}", answer.messages));
    let result = answer.messages.last().cloned().unwrap_or(Value::Null);
    post(
        port,
        Some(&session),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    );
    (session, result)
}

fn call(port: u16, session: &str, id: u64, name: &str) -> Answer {
    post(
        port,
        Some(session),
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
               "params": {"name": name, "arguments": {"message": "hi", "n": id}}}),
    )
}

fn health(port: u16) -> Value {
    let answer = exchange_at(port, "/health", "GET", None, "");
    answer.messages.into_iter().next().unwrap_or(Value::Null)
}

/// Polls `/health` until `ok` holds for it, and returns it; fails the test after `within`.
fn wait_health(port: u16, within: Duration, ok: impl Fn(&Value) -> bool) -> Value {
    eventually("/health to reach the expected state", within, || {
        let h = health(port);
        if ok(&h) {
            Ok(h)
        } else {
            Err(h.to_string())
        }
    })
}

fn fault_child(mode: &str) -> Vec<String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/children/fault_server.py");
    vec![
        "python3".into(),
        script.display().to_string(),
        mode.to_string(),
    ]
}

fn spawn_bridge(options: &[&str], command: &[String]) -> Mcpd {
    let mut args: Vec<&str> = options.to_vec();
    args.push("--");
    args.extend(command.iter().map(String::as_str));
    spawn_mcpd(&args)
}

fn mcpd_child() -> Vec<String> {
    vec![mcpd_bin().to_string(), "--stdio".to_string()]
}

/// Processes whose parent is `pid`: (pid, state letter).
fn children_of(pid: u32) -> Vec<(u32, char)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next().and_then(|s| s.chars().next()).unwrap_or('?');
        let ppid: u32 = fields.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        let child: u32 = head
            .split_whitespace()
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        if ppid == pid {
            found.push((child, state));
        }
    }
    found
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

fn error_of(answer: &Answer) -> Value {
    answer
        .messages
        .iter()
        .find_map(|m| m.get("error").cloned())
        .unwrap_or_else(|| panic!("no error in {answer:?}"))
}

#[test]
fn bridged_stdio_server_answers_through_http() {
    let mcpd = spawn_bridge(&[], &mcpd_child());
    let (session, init) = open_session(mcpd.port);
    assert_eq!(init["result"]["serverInfo"]["name"], "mcpd", "{init}");
    let answer = post(
        mcpd.port,
        Some(&session),
        json!({"jsonrpc": "2.0", "id": "s-7", "method": "tools/call",
               "params": {"name": "echo", "arguments": {"message": "through"}}}),
    );
    let reply = answer.messages.last().unwrap();
    assert_eq!(reply["id"], "s-7", "the client's id comes back: {reply}");
    assert_eq!(reply["result"]["content"][0]["text"], "through");
    let h = health(mcpd.port);
    assert_eq!(h["children"]["alive"], 1, "{h}");
    assert_eq!(h["bridge"], "per-session");
    assert_eq!(
        exchange(mcpd.port, "DELETE", Some(&session), "").status,
        200
    );
    let h = wait_health(mcpd.port, Duration::from_secs(5), |h| {
        h["children"]["alive"] == 0
    });
    assert_eq!(h["children"]["exited"], 1, "{h}");
}

#[test]
fn two_hundred_sessions_leave_no_children_zombies_or_descriptors() {
    let mcpd = spawn_bridge(&[], &mcpd_child());
    let pid = mcpd.child.id();
    health(mcpd.port);
    let fds_before = open_fds(pid);
    for n in 0..200u64 {
        let (session, _) = open_session(mcpd.port);
        let answer = post(
            mcpd.port,
            Some(&session),
            json!({"jsonrpc": "2.0", "id": n, "method": "tools/call",
                   "params": {"name": "echo", "arguments": {"message": format!("n{n}")}}}),
        );
        assert_eq!(
            answer.messages.last().unwrap()["result"]["content"][0]["text"],
            format!("n{n}")
        );
        assert_eq!(
            exchange(mcpd.port, "DELETE", Some(&session), "").status,
            200
        );
    }
    let h = wait_health(mcpd.port, Duration::from_secs(10), |h| {
        h["children"]["alive"] == 0 && h["connections"] == 1
    });
    assert_eq!(h["children"]["spawned"], 200, "{h}");
    assert_eq!(h["children"]["exited"], 200, "{h}");
    let children = children_of(pid);
    let zombies = children.iter().filter(|(_, s)| *s == 'Z').count();
    let fds_after = open_fds(pid);
    eprintln!(
        "hygiene after 200 sessions: children {}, zombies {zombies}, fds before {fds_before}, \
         after {fds_after}",
        children.len()
    );
    assert!(children.is_empty(), "children left: {children:?}");
    assert_eq!(fds_after, fds_before, "descriptors leaked");
}

#[test]
fn child_crash_mid_request_answers_with_its_stderr_and_ends_the_session() {
    let mcpd = spawn_bridge(&[], &fault_child("crash-mid-request"));
    let (session, _) = open_session(mcpd.port);
    let answer = call(mcpd.port, &session, 2, "work");
    let error = error_of(&answer);
    assert_eq!(error["code"], -32603, "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("exited with status 3"),
        "{error}"
    );
    assert_eq!(error["data"]["exit"], json!({"code": 3}));
    let stderr = error["data"]["stderr"].to_string();
    assert!(
        stderr.contains("RuntimeError: the tool crashed"),
        "{stderr}"
    );
    let after = call(mcpd.port, &session, 3, "work");
    assert_eq!(after.status, 404, "the session ended with its child");
    let log = mcpd.stop();
    assert!(
        log.contains("stderr: RuntimeError: the tool crashed"),
        "{log}"
    );
}

#[test]
fn child_crash_during_initialize_answers_that_post_at_once() {
    let mcpd = spawn_bridge(&[], &fault_child("crash-on-initialize"));
    // The answer is the crash itself (exit status and stderr), not a timeout's.
    let answer = initialize(mcpd.port);
    let error = error_of(&answer);
    assert_eq!(error["data"]["exit"], json!({"code": 1}), "{error}");
    assert!(error["data"]["stderr"].to_string().contains("ImportError"));
    let h = wait_health(mcpd.port, Duration::from_secs(5), |h| {
        h["active_sessions"] == 0 && h["children"]["alive"] == 0
    });
    assert_eq!(h["active_sessions"], 0, "{h}");
}

#[test]
fn non_json_stdout_lines_are_logged_and_dropped() {
    let mcpd = spawn_bridge(&[], &fault_child("garbage"));
    let (session, init) = open_session(mcpd.port);
    assert_eq!(init["result"]["serverInfo"]["name"], "fault-garbage");
    let answer = call(mcpd.port, &session, 2, "work");
    assert!(answer.messages.last().unwrap()["result"].is_object());
    let log = mcpd.stop();
    assert!(log.contains("not JSON-RPC"), "{log}");
}

#[test]
fn child_flooding_stdout_is_drained_with_bounded_memory() {
    let mcpd = spawn_bridge(&[], &fault_child("flood"));
    let (session, _) = open_session(mcpd.port);
    let answer = call(mcpd.port, &session, 2, "work");
    let last = answer.messages.last().expect("an answer");
    assert_eq!(last["result"]["content"][0]["text"], "survived", "{last}");
    let logs = answer
        .messages
        .iter()
        .filter(|m| m["method"] == "notifications/message")
        .count();
    assert_eq!(
        logs, 5_000,
        "every notification reached the request's stream"
    );
    let status = std::fs::read_to_string(format!("/proc/{}/status", mcpd.child.id())).unwrap();
    let rss_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmRSS");
    assert!(
        rss_kib < 64 * 1024,
        "mcpd RSS {rss_kib} KiB after a 20 MB flood"
    );
    assert_eq!(health(mcpd.port)["status"], "ok");
    let log = mcpd.stop();
    let warned = log.lines().filter(|l| l.contains("not JSON-RPC")).count();
    assert!(
        (8..=40).contains(&warned),
        "100,000 junk lines, {warned} log lines"
    );
    assert!(
        log.contains("dropped (65536 so far)"),
        "the running count is logged"
    );
}

#[test]
fn over_long_stdout_line_ends_the_child_with_a_clear_error() {
    let mcpd = spawn_bridge(&["--max-body-bytes", "64K"], &fault_child("long-line"));
    let (session, _) = open_session(mcpd.port);
    let error = error_of(&call(mcpd.port, &session, 2, "work"));
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("longer than the limit of 65536 bytes"),
        "{error}"
    );
    assert_eq!(call(mcpd.port, &session, 3, "work").status, 404);
    let h = wait_health(mcpd.port, Duration::from_secs(8), |h| {
        h["children"]["alive"] == 0
    });
    assert_eq!(h["children"]["alive"], 0, "{h}");
}

#[test]
fn child_that_ignores_sigterm_and_never_answers_is_killed_after_the_grace() {
    let mcpd = spawn_bridge(&["--kill-grace", "1"], &fault_child("ignore-term"));
    let pid = mcpd.child.id();
    let (session, _) = open_session(mcpd.port);
    let port = mcpd.port;
    let id = session.clone();
    let waiting = std::thread::spawn(move || call(port, &id, 2, "work"));
    // The call has reached the child once the child says so (its stderr is in mcpd's log).
    mcpd.wait_log("holding tools/call", IO_TIMEOUT);
    assert_eq!(children_of(pid).len(), 1);
    assert_eq!(
        exchange(mcpd.port, "DELETE", Some(&session), "").status,
        200
    );
    // The call's stream ends with its session (a complete answer, without a result).
    let answer = waiting.join().unwrap();
    assert!(answer.messages.iter().all(|m| m.get("result").is_none()));
    let h = wait_health(mcpd.port, Duration::from_secs(5), |h| {
        h["children"]["alive"] == 0
    });
    assert_eq!(h["children"]["alive"], 0, "{h}");
    assert!(children_of(pid).is_empty());
    let log = mcpd.stop();
    assert!(log.contains("sending SIGKILL"), "{log}");
}

#[test]
fn shutdown_ends_children_that_ignore_sigterm() {
    let mcpd = spawn_bridge(&["--kill-grace", "1"], &fault_child("ignore-term"));
    let pid = mcpd.child.id();
    open_session(mcpd.port);
    open_session(mcpd.port);
    let kids = children_of(pid);
    assert_eq!(kids.len(), 2);
    // `stop` kills an mcpd that is still running after 5 s; "stopped" is mcpd's own exit.
    let log = mcpd.stop();
    assert!(log.contains("sending SIGKILL"), "{log}");
    for (kid, _) in kids {
        assert!(
            !Path::new(&format!("/proc/{kid}")).exists(),
            "child {kid} outlived mcpd"
        );
    }
    assert!(log.contains("stopped"), "{log}");
}

#[test]
fn shared_child_restarts_after_a_crash_and_health_says_so() {
    let mcpd = spawn_bridge(&["--shared"], &fault_child("crash-mid-request"));
    let h = wait_health(mcpd.port, Duration::from_secs(5), |h| h["status"] == "ok");
    assert_eq!(h["shared_child"], "ready", "{h}");
    let (session, init) = open_session(mcpd.port);
    assert_eq!(
        init["result"]["serverInfo"]["name"],
        "fault-crash-mid-request"
    );
    let error = error_of(&call(mcpd.port, &session, 2, "work"));
    assert_eq!(error["data"]["exit"], json!({"code": 3}));
    let h = wait_health(mcpd.port, Duration::from_secs(5), |h| {
        h["status"] == "ok" && h["children"]["restarted"] == 1
    });
    assert_eq!(h["children"]["restarted"], 1, "{h}");
    // The session survives the restart and is served by the new child.
    let answer = post(
        mcpd.port,
        Some(&session),
        json!({"jsonrpc": "2.0", "id": 9, "method": "tools/list"}),
    );
    assert_eq!(answer.messages.last().unwrap()["id"], 9);
    assert!(answer.messages.last().unwrap()["result"]["tools"].is_array());
}

#[test]
fn shared_sessions_with_equal_ids_get_their_own_answers() {
    let mcpd = spawn_bridge(&["--shared"], &fault_child("well"));
    wait_health(mcpd.port, Duration::from_secs(5), |h| h["status"] == "ok");
    let sessions: Vec<String> = (0..3).map(|_| open_session(mcpd.port).0).collect();
    let port = mcpd.port;
    let threads: Vec<_> = sessions
        .iter()
        .cloned()
        .enumerate()
        .map(|(n, session)| {
            std::thread::spawn(move || {
                for round in 0..10 {
                    let answer = post(
                        port,
                        Some(&session),
                        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                               "params": {"name": "work", "arguments": {"who": n, "round": round}}}),
                    );
                    let reply = answer.messages.last().unwrap();
                    assert_eq!(reply["id"], 1);
                    let text = reply["result"]["content"][0]["text"].as_str().unwrap();
                    let args: Value = serde_json::from_str(text).unwrap();
                    assert_eq!(args, json!({"who": n, "round": round}), "cross-talk");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn stdio_with_a_command_is_refused() {
    let out = std::process::Command::new(mcpd_bin())
        .args(["--stdio", "--", "server"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--stdio"), "{stderr}");
}

/// A stateless (2026-07-28) request with its headers, `_meta` and `extra` headers.
fn stateless(port: u16, method: &str, mut params: Value, extra: &[(&str, &str)]) -> Answer {
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
    });
    let name = params
        .get("name")
        .and_then(Value::as_str)
        .map(str::to_string);
    let mut headers = vec![
        ("MCP-Protocol-Version", "2026-07-28"),
        ("Mcp-Method", method),
    ];
    if let Some(name) = &name {
        headers.push(("Mcp-Name", name));
    }
    headers.extend_from_slice(extra);
    let body = json!({"jsonrpc": "2.0", "id": 9, "method": method, "params": params});
    exchange_with(port, "/mcp", "POST", &headers, &body.to_string())
}

fn result_of(answer: &Answer) -> Value {
    answer
        .messages
        .iter()
        .find_map(|m| m.get("result").cloned())
        .unwrap_or_else(|| panic!("no result in {answer:?}"))
}

/// Stateless requests through the bridge, per-session (a lazily started stateless child) and
/// `--shared`: discover from the child's initialize result, results with `resultType`, calls
/// answered, unknown methods 404, `Mcp-Param-*` checked against the child's tool schema.
#[test]
fn stateless_requests_are_served_through_the_bridge() {
    for options in [&[][..], &["--shared"][..]] {
        let server = spawn_bridge(options, &mcpd_child());
        let port = server.port;
        let discover = stateless(port, "server/discover", json!({}), &[]);
        assert_eq!(discover.status, 200, "{options:?} {discover:?}");
        let result = result_of(&discover);
        assert_eq!(result["supportedVersions"], json!(["2026-07-28"]));
        assert_eq!(
            result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
            "mcpd"
        );
        assert!(result["capabilities"]["tools"].is_object());
        assert_eq!(
            (&result["resultType"], &result["ttlMs"]),
            (&json!("complete"), &json!(0))
        );
        if options.is_empty() {
            assert_eq!(health(port)["stateless_child"], "ready");
        }
        let list = result_of(&stateless(port, "tools/list", json!({}), &[]));
        assert_eq!(list["resultType"], "complete");
        assert!(list["tools"].to_string().contains("test_x_mcp_header"));
        let echo = stateless(
            port,
            "tools/call",
            json!({"name": "echo", "arguments": {"message": "hi"}}),
            &[],
        );
        assert_eq!(echo.status, 200);
        let echoed = result_of(&echo);
        assert_eq!(
            (&echoed["content"][0]["text"], &echoed["resultType"]),
            (&json!("hi"), &json!("complete"))
        );
        let unknown = stateless(port, "unknown/method", json!({}), &[]);
        assert_eq!(
            (unknown.status, error_of(&unknown)["code"].clone()),
            (404, json!(-32601))
        );
        let region = json!({"name": "test_x_mcp_header", "arguments": {"region": "eu"}});
        let missing = stateless(port, "tools/call", region.clone(), &[]);
        assert_eq!(
            (missing.status, error_of(&missing)["code"].clone()),
            (400, json!(-32020))
        );
        let sent = stateless(port, "tools/call", region, &[("Mcp-Param-Region", "eu")]);
        assert_eq!(result_of(&sent)["content"][0]["text"], "region=eu");
        server.stop();
    }
}

#[test]
fn child_that_never_answers_initialize_gets_504_with_its_stderr_and_health_degraded() {
    // 5 s: the child's first stderr line must be in before the timeout, on a loaded machine too.
    let mcpd = spawn_bridge(&["--init-timeout", "5"], &fault_child("mute"));
    let answer = initialize(mcpd.port);
    assert_eq!(answer.status, 504, "{answer:?}");
    assert_eq!(answer.session, None, "no session for a failed initialize");
    let error = error_of(&answer);
    assert_eq!(error["code"], -32001, "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("--init-timeout"),
        "{error}"
    );
    assert!(
        error["data"]["stderr"]
            .to_string()
            .contains("starting in mode mute"),
        "{error}"
    );
    let h = health(mcpd.port);
    assert_eq!(h["status"], "degraded", "{h}");
    assert_eq!(h["children"]["init_timeouts"], 1, "{h}");
    let h = wait_health(mcpd.port, Duration::from_secs(10), |h| {
        h["children"]["alive"] == 0 && h["active_sessions"] == 0
    });
    assert_eq!(h["children"]["alive"], 0, "the child was ended: {h}");
}

#[test]
fn request_the_child_never_answers_is_cancelled_after_the_request_timeout() {
    for mode in ["auto", "json"] {
        let mcpd = spawn_bridge(
            &["--request-timeout", "1", "--response-mode", mode],
            &fault_child("silent-calls"),
        );
        let (session, _) = open_session(mcpd.port);
        let answer = call(mcpd.port, &session, 2, "work");
        let error = error_of(&answer);
        assert_eq!(error["code"], -32001, "{mode}: {error}");
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("--request-timeout"),
            "{error}"
        );
        let ping = post(
            mcpd.port,
            Some(&session),
            json!({"jsonrpc": "2.0", "id": 3, "method": "ping"}),
        );
        assert_eq!(ping.status, 200, "the session goes on: {ping:?}");
        assert_eq!(health(mcpd.port)["children"]["request_timeouts"], 1);
        let log = mcpd.stop();
        assert!(
            log.contains("stderr: cancelled: no answer within 1s (mcpd --request-timeout)"),
            "the child was told: {log}"
        );
    }
}

#[test]
fn shared_child_down_answers_initialize_and_stateless_503_with_retry_after_never_404() {
    let mcpd = spawn_bridge(&["--shared"], &fault_child("crash-on-initialize"));
    let mut seen = Vec::new();
    // While the child is down both get 503; while it starts they wait and get its crash (500).
    let mut pending = vec!["initialize", "stateless"];
    for _ in 0..20 {
        wait_health(mcpd.port, Duration::from_secs(10), |h| {
            h["shared_child"] == "down"
        });
        let Some(&which) = pending.last() else {
            return;
        };
        let answer = match which {
            "initialize" => initialize(mcpd.port),
            _ => stateless(mcpd.port, "tools/list", json!({}), &[]),
        };
        assert_ne!(answer.status, 404, "{which}: {answer:?}");
        assert!(answer.status >= 500, "{which}: {answer:?}");
        assert_eq!(answer.session, None, "{answer:?}");
        seen.push((which, answer.status));
        if answer.status == 503 {
            assert_eq!(answer.retry_after.as_deref(), Some("5"), "{answer:?}");
            pending.pop();
        }
    }
    assert!(
        pending.is_empty(),
        "never saw 503 for {pending:?}: {seen:?}"
    );
}

#[test]
fn child_that_cannot_be_spawned_gets_500_and_no_session_id() {
    let dir = common::fresh_dir("bridge", "spawn-failure");
    let script = dir.join("server");
    // It exists and is executable (so a check at start passes), but exec fails: ENOENT for
    // its interpreter.
    std::fs::write(&script, "#!/nonexistent/interpreter\n").unwrap();
    let mode = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    std::fs::set_permissions(&script, mode).unwrap();
    let mcpd = spawn_bridge(&[], &[script.display().to_string()]);
    let answer = initialize(mcpd.port);
    assert_eq!(answer.status, 500, "{answer:?}");
    assert_eq!(answer.session, None, "{answer:?}");
    assert!(
        error_of(&answer)["message"]
            .as_str()
            .unwrap()
            .contains("could not be started"),
        "{answer:?}"
    );
}

#[test]
fn at_max_children_the_idle_session_makes_room_then_503_with_retry_after() {
    let mcpd = spawn_bridge(&["--max-children", "1"], &mcpd_child());
    let (first, _) = open_session(mcpd.port);
    let (second, _) = open_session(mcpd.port);
    let gone = call(mcpd.port, &first, 2, "echo");
    assert_eq!(gone.status, 404, "the idle session made room: {gone:?}");
    assert_eq!(health(mcpd.port)["children"]["evicted"], 1);
    // An open standalone stream keeps the second session busy: no room, 503.
    let mut stream = TcpStream::connect(("127.0.0.1", mcpd.port)).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let get = format!(
        "GET /mcp HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAccept: text/event-stream\r\n\
         Mcp-Session-Id: {second}\r\n\r\n",
        mcpd.port
    );
    stream.write_all(get.as_bytes()).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(stream.read(&mut byte).unwrap(), 1, "stream head");
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 200"), "{head:?}");
    let refused = initialize(mcpd.port);
    assert_eq!(refused.status, 503, "{refused:?}");
    assert_eq!(refused.retry_after.as_deref(), Some("5"));
    assert_eq!(refused.session, None);
    assert!(error_of(&refused)["message"]
        .as_str()
        .unwrap()
        .contains("--max-children"));
}

#[test]
fn idle_child_session_ends_after_the_child_idle_timeout() {
    let mcpd = spawn_bridge(&["--child-idle-timeout", "1"], &mcpd_child());
    let (session, _) = open_session(mcpd.port);
    let h = health(mcpd.port);
    assert_eq!(h["child_idle_timeout_seconds"], 1.0, "{h}");
    assert_eq!(h["max_children"], 32, "{h}");
    let h = wait_health(mcpd.port, Duration::from_secs(10), |h| {
        h["active_sessions"] == 0 && h["children"]["alive"] == 0
    });
    assert_eq!(h["active_sessions"], 0, "{h}");
    assert_eq!(call(mcpd.port, &session, 2, "echo").status, 404);
    let metrics = common::http::get(mcpd.port, "/metrics", IO_TIMEOUT).text();
    assert!(
        metrics.contains("\nmcpd_backend_max_children 32\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("\nmcpd_backend_child_idle_timeout_seconds 1.0\n"),
        "{metrics}"
    );
}

#[test]
fn session_whose_request_never_ends_still_ends() {
    let mcpd = spawn_bridge(
        &["--request-timeout", "1", "--child-idle-timeout", "1"],
        &fault_child("silent-calls"),
    );
    let (session, _) = open_session(mcpd.port);
    assert_eq!(
        error_of(&call(mcpd.port, &session, 2, "work"))["code"],
        -32001
    );
    let h = wait_health(mcpd.port, Duration::from_secs(10), |h| {
        h["active_sessions"] == 0 && h["children"]["alive"] == 0
    });
    assert_eq!(
        h["active_sessions"], 0,
        "bounded by the request timeout: {h}"
    );
    assert_eq!(call(mcpd.port, &session, 3, "work").status, 404);
}

#[test]
fn children_get_no_mcpd_variables_and_no_inherited_descriptors() {
    // Issue 12, item 2: mcpd is started with its token in the environment and descriptor 7
    // inherited without close-on-exec (as a careless launcher would leave it).
    let probe = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/children/probe_server.py");
    let token = "i12-secret-token";
    let mut command = std::process::Command::new("sh");
    command
        .args(["-c", "exec 7</dev/null; exec \"$0\" \"$@\"", mcpd_bin()])
        .args([
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--env",
            "ADDED=by-env",
            "--",
        ])
        .args(["python3", &probe.display().to_string()])
        .env("MCPD_AUTH_TOKEN", token)
        .env("MCPD_UNRELATED", "x")
        .env("I12_KEPT", "inherited");
    let mcpd = common::spawn_mcpd_command(command, &["(probe)"]);
    let fds = std::fs::read_dir(format!("/proc/{}/fd", mcpd.child.id()))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect::<Vec<_>>();
    assert!(
        fds.contains(&"7".to_string()),
        "mcpd itself inherited fd 7: {fds:?}"
    );
    let bearer = format!("Bearer {token}");
    let auth = [("Authorization", bearer.as_str())];
    let init = exchange_with(
        mcpd.port,
        "/mcp",
        "POST",
        &auth,
        &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "bridge-test", "version": "1"}}})
        .to_string(),
    );
    let session = init.session.expect("a session");
    let headers = [auth[0], ("Mcp-Session-Id", session.as_str())];
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                      "params": {"name": "probe", "arguments": {}}});
    let answer = exchange_with(mcpd.port, "/mcp", "POST", &headers, &call.to_string());
    let text = answer.messages.last().unwrap()["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("{answer:?}"))
        .to_string();
    let report: Value = serde_json::from_str(&text).unwrap();
    let env = report["env"].as_object().unwrap();
    let own: Vec<&String> = env.keys().filter(|k| k.starts_with("MCPD_")).collect();
    assert!(own.is_empty(), "MCPD_* reached the child: {own:?}");
    assert!(!text.contains(token), "the token reached the child");
    assert_eq!(env["I12_KEPT"], "inherited", "the rest is inherited");
    assert_eq!(env["ADDED"], "by-env", "--env adds on top");
    assert_eq!(
        report["fds"],
        json!([]),
        "descriptors above 2 reached the child"
    );
}

#[test]
fn a_normal_session_end_is_one_info_line() {
    // Issue 12, item 8: mcpd's own SIGTERM to a child whose session ended is routine.
    let mcpd = spawn_bridge(&[], &mcpd_child());
    let (session, _) = open_session(mcpd.port);
    assert_eq!(
        exchange(mcpd.port, "DELETE", Some(&session), "").status,
        200
    );
    wait_health(mcpd.port, Duration::from_secs(10), |h| {
        h["children"]["alive"] == 0
    });
    // A second child is still running at shutdown: its end is routine too.
    open_session(mcpd.port);
    let log = mcpd.stop();
    let after_start: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(&session) && !l.contains(" created") && !l.contains(" started"))
        .collect();
    assert_eq!(after_start.len(), 1, "{log}");
    assert!(
        after_start[0].contains("info: session ") && after_start[0].contains(" ended: "),
        "{log}"
    );
    assert!(!log.contains("killed by signal"), "{log}");
    assert!(!log.contains("warn"), "{log}");
}

#[test]
fn a_child_flooding_stderr_is_rate_limited_with_a_count() {
    // Issue 12, item 3: 5,000 stderr lines at once; mcpd logs its burst and counts the rest,
    // and what was logged plus what was counted is every line.
    let probe = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/children/probe_server.py");
    let script = format!(
        "i=0; while [ $i -lt 5000 ]; do echo \"flood line $i\" >&2; i=$((i+1)); done; \
         exec python3 '{}'",
        probe.display()
    );
    let mcpd = spawn_bridge(&[], &["sh".into(), "-c".into(), script]);
    let (session, init) = open_session(mcpd.port);
    assert_eq!(init["result"]["serverInfo"]["name"], "probe", "{init}");
    assert_eq!(
        exchange(mcpd.port, "DELETE", Some(&session), "").status,
        200
    );
    wait_health(mcpd.port, Duration::from_secs(10), |h| {
        h["children"]["alive"] == 0
    });
    let log = mcpd.stop();
    let logged = log
        .lines()
        .filter(|l| l.contains("stderr: flood line"))
        .count();
    let counted: u64 = log
        .lines()
        .filter_map(|l| l.split_once("stderr: ")?.1.strip_suffix(" in all)"))
        .filter_map(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    eprintln!("child stderr flood: {logged} lines logged, {counted} counted as not logged");
    assert!((200..5000).contains(&logged), "{logged} logged");
    assert_eq!(logged as u64 + counted, 5000, "{log}");
}
