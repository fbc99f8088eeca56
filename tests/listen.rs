//! Where mcpd listens: `--listen` (repeatable; TCP and `unix:PATH` with `--socket-mode`), sockets
//! passed by systemd (`LISTEN_FDS`/`LISTEN_PID`), and a listener that keeps accepting after the
//! process ran out of file descriptors.

mod common;

use common::http::{get, parse, post, Response};
use common::{eventually, fresh_dir, mcpd_bin, spawn_mcpd, spawn_mcpd_command, WAIT};
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"listen-test","version":"1"}}}"#;
const ECHO: &str = r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"message":"over unix"}}}"#;

/// One request over the Unix socket at `path` with `Connection: close`; the whole answer.
fn unix_request(path: &Path, host: &str, session: Option<&str>, body: &str) -> Response {
    let mut stream = UnixStream::connect(path).expect("connect to the unix socket");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut head = format!(
        "POST /mcp HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(id) = session {
        head.push_str(&format!(
            "Mcp-Session-Id: {id}\r\nMCP-Protocol-Version: 2025-11-25\r\n"
        ));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    parse(&raw).unwrap_or_else(|| panic!("no answer: {:?}", String::from_utf8_lossy(&raw)))
}

#[test]
fn listen_serves_tcp_and_a_unix_socket_at_once() {
    let dir = fresh_dir("listen", "both");
    let sock = dir.join("mcpd.sock");
    let listen_unix = format!("unix:{}", sock.display());
    let server = spawn_mcpd(&[
        "--listen",
        "127.0.0.1:0",
        "--listen",
        &listen_unix,
        "--socket-mode",
        "0600",
    ]);
    server.wait_log(&format!("listening on {listen_unix} (endpoint /mcp)"), WAIT);
    let mode = std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "--socket-mode applies to the socket file");

    let tcp = post(
        server.port,
        "/mcp",
        &[],
        INIT.as_bytes(),
        Duration::from_secs(5),
    );
    assert_eq!(tcp.status, 200, "{}", tcp.text());

    // nginx sends `Host: localhost` to a unix: upstream by default.
    let init = unix_request(&sock, "localhost", None, INIT);
    assert_eq!(init.status, 200, "{}", init.text());
    let session = init
        .header("mcp-session-id")
        .expect("session id")
        .to_string();
    let echo = unix_request(&sock, "localhost", Some(&session), ECHO);
    assert!(echo.text().contains("over unix"), "{}", echo.text());

    // A Unix socket names no address: other Host values need --allow-host.
    let foreign = unix_request(&sock, "mcp.example.com", None, INIT);
    assert_eq!(foreign.status, 403, "{}", foreign.text());

    let _ = server.stop();
    assert!(!sock.exists(), "the socket file is removed on exit");
}

#[test]
fn allow_host_admits_a_proxied_name_over_a_unix_socket() {
    let dir = fresh_dir("listen", "allow-host");
    let sock = dir.join("m.sock");
    let listen_unix = format!("unix:{}", sock.display());
    let _server = spawn_mcpd(&[
        "--listen",
        &listen_unix,
        "--listen",
        "127.0.0.1:0",
        "--allow-host",
        "mcp.example.com",
    ]);
    let mode = std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660, "default --socket-mode");
    let init = unix_request(&sock, "mcp.example.com", None, INIT);
    assert_eq!(init.status, 200, "{}", init.text());
}

#[test]
fn a_stale_socket_file_is_replaced_and_a_live_one_is_refused() {
    let dir = fresh_dir("listen", "stale");
    let sock = dir.join("m.sock");
    // Left behind by a process that is gone: bound, never listened on, closed.
    drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
    assert!(sock.exists());
    let listen_unix = format!("unix:{}", sock.display());
    let first = spawn_mcpd(&["--listen", &listen_unix, "--listen", "127.0.0.1:0"]);
    let init = unix_request(&sock, "localhost", None, INIT);
    assert_eq!(init.status, 200);

    let out = Command::new(mcpd_bin())
        .args(["--listen", &listen_unix])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!(
            "cannot listen on {listen_unix}: another process is serving it"
        )),
        "{text}"
    );
    // The first one still serves: its file was not removed.
    let again = unix_request(&sock, "localhost", None, INIT);
    assert_eq!(again.status, 200);
    drop(first);
}

#[test]
fn listen_takes_an_ipv6_literal_in_brackets() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("SKIPPED: no IPv6 loopback here");
        return;
    }
    let server = spawn_mcpd(&["--listen", "127.0.0.1:0", "--listen", "[::1]:0"]);
    let stderr = server.wait_log("listening on http://[::1]:", WAIT);
    let line = stderr
        .lines()
        .find(|l| l.contains("listening on http://[::1]:"))
        .expect("the line");
    let port: u16 = line
        .rsplit_once("]:")
        .and_then(|(_, rest)| rest.split('/').next())
        .and_then(|p| p.parse().ok())
        .expect("port");
    let mut stream = std::net::TcpStream::connect(("::1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: [::1]\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    assert_eq!(parse(&raw).expect("answer").status, 200);
}

/// systemd's protocol without systemd: the listening socket is descriptor 3, and `sh` sets
/// `LISTEN_PID` to its own pid (`$$`), which `exec` hands to mcpd.
#[test]
fn socket_activation_serves_the_passed_socket_and_hides_the_variables() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = fresh_dir("listen", "activation");
    let env_file = dir.join("child-env");
    let mut command = Command::new("sh");
    command.args([
        "-c",
        r#"LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES=http exec "$0" "$@""#,
        mcpd_bin(),
    ]);
    let fd = std::os::fd::AsRawFd::as_raw_fd(&listener);
    // SAFETY: dup2(2) and fcntl(2) are async-signal-safe; both descriptors are valid in the
    // child. dup2 onto itself would keep close-on-exec, so that case clears the flag instead.
    unsafe {
        command.pre_exec(move || {
            let rc = if fd == 3 {
                libc::fcntl(3, libc::F_SETFD, 0)
            } else {
                libc::dup2(fd, 3)
            };
            if rc < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    // The bridge's child records its environment, then serves MCP over stdio.
    let child = format!(
        "env > '{}'; exec '{}' --stdio",
        env_file.display(),
        mcpd_bin()
    );
    let args = [
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--shell",
        "--",
        &child,
    ];
    command.args(args);
    let server = spawn_mcpd_command(command, &args);
    drop(listener);
    assert_eq!(server.port, port, "mcpd serves the passed socket");
    let init = post(port, "/mcp", &[], INIT.as_bytes(), Duration::from_secs(10));
    assert_eq!(init.status, 200, "{}", init.text());
    let env = eventually("the bridged child to write its environment", WAIT, || {
        match std::fs::read_to_string(&env_file) {
            Ok(text) if text.contains("PATH=") => Ok(text),
            other => Err(format!("{other:?}")),
        }
    });
    assert!(!env.contains("LISTEN_"), "children see no LISTEN_*: {env}");
}

#[test]
fn socket_activation_for_another_pid_is_ignored() {
    let server = spawn_mcpd_command(
        {
            let mut c = Command::new(mcpd_bin());
            c.env("LISTEN_PID", "1").env("LISTEN_FDS", "1");
            c.args(["--host", "127.0.0.1", "--port", "0"]);
            c
        },
        &["LISTEN_PID=1"],
    );
    let r = get(server.port, "/health", Duration::from_secs(5));
    assert_eq!(r.status, 200, "served on --host/--port instead");
}

/// Issue 12, item 1: under a low descriptor limit, more connections than descriptors are opened
/// and all closed; the connections still queued must be drained and `/health` answered.
#[test]
fn accept_survives_running_out_of_file_descriptors() {
    let mut command = Command::new(mcpd_bin());
    // SAFETY: setrlimit(2) is async-signal-safe and reads a live local.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 64,
                rlim_max: 64,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command.args(["--host", "127.0.0.1", "--port", "0"]);
    let server = spawn_mcpd_command(command, &["RLIMIT_NOFILE=64"]);
    // More than the 64 descriptors, fewer than they plus the listen queue (128 or more), so
    // every connect completes at once and the queue holds the rest.
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], server.port));
    let mut clients = Vec::new();
    for _ in 0..150 {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
            Ok(stream) => clients.push(stream),
            Err(e) => panic!("connect: {e}"),
        }
    }
    // Let mcpd run into the limit (it accepts until EMFILE), then close every client.
    server.wait_log("accept failed", WAIT);
    drop(clients);
    let health = get(server.port, "/health", Duration::from_secs(10));
    assert_eq!(health.status, 200, "{}", health.text());
    let metrics = get(server.port, "/metrics", Duration::from_secs(10));
    let text = metrics.text();
    let exhausted = text
        .lines()
        .find_map(|l| l.strip_prefix("mcpd_accept_fd_exhausted_total "))
        .and_then(|v| v.parse::<u64>().ok())
        .expect("the counter");
    assert!(exhausted > 0, "{text}");
}
