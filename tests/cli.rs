//! Fail fast at the command line (issue 12, item 8): every mistake a new user makes starting
//! `mcpd` is exit status 2 (or a clear error) at once, naming what to change. Each case runs the
//! real binary, bounded in time.

mod common;

use common::{mcpd_bin, run_bounded, Output};
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
