//! `deploy/check.sh nginx|haproxy`: the shipped balancer files in front of three mcpd
//! instances (conformance suite, 30 Python SDK clients, an SSE stream, SIGKILL failover and
//! SIGTERM drain through the balancer). The script installs the balancer (Debian package)
//! when missing and makes the Python SDK venv; it needs npx for the conformance suite.
//!
//! Without npx, python3's venv, or a way to install the balancer, the test skips loudly; with
//! `CI` set it fails instead. The two runs take turns (a file lock): both may install packages.

mod common;

use common::{require_tool, run_bounded, tail, target_dir, tool_missing};
use std::fs::File;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The whole script: package installation, two conformance runs and the client checks.
const CHECK_TIMEOUT: Duration = Duration::from_secs(1500);

#[test]
fn nginx_recipe_passes_deploy_check() {
    run_check("nginx", "nginx");
}

#[test]
fn haproxy_recipe_passes_deploy_check() {
    run_check("haproxy", "haproxy");
}

fn run_check(balancer: &str, program: &str) {
    if !require_tool("npx (node + npm)", &["npx", "--version"])
        || !require_tool(
            "python3 with venv",
            &["python3", "-c", "import venv, ensurepip"],
        )
    {
        return;
    }
    let installed = Command::new("sh")
        .args(["-c", &format!("command -v {program} || command -v apt-get")])
        .output()
        .is_ok_and(|out| out.status.success());
    if !installed {
        tool_missing(balancer, "not installed, and no apt-get to install it");
        return;
    }
    std::fs::create_dir_all(target_dir()).expect("create the target dir");
    let lock = File::create(target_dir().join("deploy-check.lock")).expect("create the lock");
    // Released when `lock` is dropped at the end of this function.
    lock.lock().expect("lock deploy-check.lock");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut cmd = Command::new("bash");
    cmd.arg(root.join("deploy/check.sh"))
        .arg(balancer)
        .current_dir(root)
        .env("MCPD", common::mcpd_bin());
    let out = run_bounded(cmd, CHECK_TIMEOUT).expect("run bash");
    let summary: Vec<&str> = out
        .stdout
        .lines()
        .skip_while(|l| !l.ends_with(" summary"))
        .collect();
    eprintln!(
        "--- deploy/check.sh {balancer}: {} after {:.0?}\n{}",
        out.status,
        out.elapsed,
        summary.join("\n")
    );
    assert!(
        out.status.success() && !out.timed_out,
        "deploy/check.sh {balancer} failed ({}{}):\nstdout tail:\n{}\nstderr tail:\n{}",
        out.status,
        if out.timed_out { ", timed out" } else { "" },
        tail(&out.stdout, 4000),
        tail(&out.stderr, 4000)
    );
}
