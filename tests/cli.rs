//! Fail fast at the command line (issue 12, item 8): every mistake a new user makes starting
//! `mcpd` is exit status 2 (or a clear error) at once, naming what to change. Each case runs the
//! real binary, bounded in time.

mod common;

use common::{mcpd_bin, run_bounded, wait_exit, Output};
use std::process::Command;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(10);

fn mcpd(args: &[&str]) -> Output {
    let mut cmd = Command::new(mcpd_bin());
    cmd.args(["--host", "127.0.0.1", "--port", "0"]).args(args);
    let out = run_bounded(cmd, LIMIT).expect("run mcpd");
    assert!(
        !out.timed_out,
        "mcpd {args:?} still ran after {LIMIT:?}: {}",
        out.stderr
    );
    out
}

#[test]
fn a_bridge_command_that_cannot_run_is_exit_2_naming_it() {
    let cases: [(&[&str], &str); 3] = [
        (
            &["--", "no-such-mcp-server-i12", "--stdio"],
            "not found in PATH",
        ),
        (&["--", "/nonexistent/mcp-server"], "no such file"),
        (&["--", "/etc/passwd"], "is not executable"),
    ];
    for (args, why) in cases {
        let out = mcpd(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", out.stderr);
        let program = args[1];
        assert!(
            out.stderr
                .contains(&format!("cannot run the bridge command '{program}'"))
                && out.stderr.contains(why),
            "{args:?}: {}",
            out.stderr
        );
        assert!(!out.stderr.contains("listening on"), "{}", out.stderr);
    }
}

#[test]
fn bridge_only_flags_without_a_command_are_exit_2() {
    for flags in [
        &["--shared"][..],
        &["--env", "A=1"],
        &["--cwd", "/tmp"],
        &["--shell"],
        &["--kill-grace", "1"],
        &["--max-children", "3"],
        &["--request-timeout", "1"],
        &["--init-timeout", "1"],
        &["--child-idle-timeout", "1"],
    ] {
        let out = mcpd(flags);
        assert_eq!(out.status.code(), Some(2), "{flags:?}: {}", out.stderr);
        assert!(
            out.stderr.contains(&format!(
                "{} only applies when bridging a command",
                flags[0]
            )) && out.stderr.contains("mcpd [OPTIONS] -- CMD [ARGS...]"),
            "{flags:?}: {}",
            out.stderr
        );
    }
}

#[test]
fn a_command_without_double_dash_gets_a_hint() {
    let out = mcpd(&["npx", "foo"]);
    assert_eq!(out.status.code(), Some(2), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("put `--` before it: mcpd [OPTIONS] -- npx foo"),
        "{}",
        out.stderr
    );
}

#[test]
fn address_in_use_names_the_address_and_suggests_port() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a port");
    let port = taken.local_addr().unwrap().port().to_string();
    let mut cmd = Command::new(mcpd_bin());
    cmd.args(["--host", "127.0.0.1", "--port", &port]);
    let out = run_bounded(cmd, LIMIT).expect("run mcpd");
    assert!(!out.timed_out, "{}", out.stderr);
    assert!(!out.status.success(), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!("127.0.0.1:{port}"))
            && out.stderr.contains("already in use")
            && out.stderr.contains("--port"),
        "{}",
        out.stderr
    );
}

/// Runs `mcpd` on a port already taken (it logs one error line and exits) with stderr on a pipe
/// made here, optionally with `JOURNAL_STREAM` naming that pipe; returns the stderr text.
fn error_line_on_own_pipe(journal: bool) -> String {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::MetadataExt;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a port");
    let port = taken.local_addr().unwrap().port().to_string();
    let (mut reader, writer) = std::io::pipe().expect("pipe");
    let meta = std::fs::metadata(format!("/proc/self/fd/{}", reader.as_raw_fd())).unwrap();
    let mut cmd = Command::new(mcpd_bin());
    cmd.args(["--host", "127.0.0.1", "--port", &port])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(writer)
        .env_remove("JOURNAL_STREAM");
    if journal {
        cmd.env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()));
    }
    let mut child = cmd.spawn().expect("start mcpd");
    drop(cmd); // our copy of the write end: EOF comes when mcpd exits
    assert!(
        wait_exit(&mut child, LIMIT).is_some(),
        "mcpd did not exit on a taken port"
    );
    let mut text = String::new();
    reader.read_to_string(&mut text).unwrap();
    text
}

#[test]
fn log_lines_carry_rfc3339_times_unless_journald_stamps_them() {
    // Issue 12, item 3 (timestamps): `2026-11-30T04:05:06.789Z mcpd: error: ...`.
    let stamped = error_line_on_own_pipe(false);
    let (time, rest) = stamped.split_once(' ').unwrap();
    assert!(
        rest.starts_with("mcpd: error: cannot listen on"),
        "{stamped}"
    );
    let b = time.as_bytes();
    assert_eq!(time.len(), 24, "{time}");
    assert!(
        b[4] == b'-' && b[7] == b'-' && b[10] == b'T' && b[13] == b':' && b[19] == b'.',
        "{time}"
    );
    assert!(time.ends_with('Z'), "{time}");
    let journal = error_line_on_own_pipe(true);
    assert!(
        journal.starts_with("mcpd: error: cannot listen on"),
        "{journal}"
    );
}
