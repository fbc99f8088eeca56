//! npm packages for the real-server tests: installed once, pinned, into `target/npm/<name>`
//! (under a file lock), and run from there with the machine's node.

use super::{require_tool, run_bounded, tail, target_dir, tool_missing};
use std::fs::File;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// `node_modules/.bin/<bin>` of `package@version` installed under `target/npm/<name>`, made on
/// first use. None when npm or the registry is unavailable outside CI (under CI: a panic).
pub fn npm_bin(name: &str, package: &str, version: &str, bin: &str) -> Option<PathBuf> {
    let dir = target_dir().join("npm").join(name);
    std::fs::create_dir_all(&dir).expect("create the npm dir");
    let lock = File::create(dir.join(".lock")).expect("create the lock");
    // Released when `lock` is dropped at the end of this function.
    lock.lock().expect("lock the npm dir");
    let path = dir.join("node_modules/.bin").join(bin);
    let manifest = dir.join("node_modules").join(package).join("package.json");
    let installed = std::fs::read_to_string(&manifest)
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .is_some_and(|m| m["version"] == version);
    if installed && path.exists() {
        return Some(path);
    }
    if !require_tool("npm (node)", &["npm", "--version"]) {
        return None;
    }
    eprintln!(
        "installing {package}@{version} into {} (once)",
        dir.display()
    );
    let mut cmd = Command::new("npm");
    cmd.args([
        "install",
        "--no-audit",
        "--no-fund",
        "--no-save",
        "--prefix",
    ])
    .arg(&dir)
    .arg(format!("{package}@{version}"))
    .env("npm_config_update_notifier", "false");
    let out = run_bounded(cmd, Duration::from_secs(600)).expect("start npm");
    if !out.status.success() || !path.exists() {
        let problem = format!(
            "npm install {package}@{version}: {}{}\n{}{}",
            out.status,
            if out.timed_out { " (timed out)" } else { "" },
            tail(&out.stdout, 2000),
            tail(&out.stderr, 3000)
        );
        tool_missing("npm (registry)", &problem);
        return None;
    }
    Some(path)
}
