//! npm packages for the real-client and real-server tests: installed once, pinned, into
//! `target/npm/<name>` (under a file lock), and run from there with the machine's node.

use super::{install_problem, require_tool, run_bounded, target_dir, tool_missing};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// npm `@modelcontextprotocol/server-everything`, built on the TS SDK 1.x (handshake only).
pub const SERVER_EVERYTHING: &str = "2026.8.31";

/// The `node_modules` directory of `target/npm/<name>` holding every `package@version` of
/// `pins`, installed on first use. None when npm or the registry is unavailable outside CI
/// (under CI: a panic).
pub fn npm_packages(name: &str, pins: &[(&str, &str)]) -> Option<PathBuf> {
    let dir = target_dir().join("npm").join(name);
    std::fs::create_dir_all(&dir).expect("create the npm dir");
    let lock = File::create(dir.join(".lock")).expect("create the lock");
    // Released when `lock` is dropped at the end of this function.
    lock.lock().expect("lock the npm dir");
    let modules = dir.join("node_modules");
    if pins.iter().all(|(p, v)| installed(&modules, p, v)) {
        return Some(modules);
    }
    if !require_tool("npm (node)", &["npm", "--version"]) {
        return None;
    }
    let wanted: Vec<String> = pins.iter().map(|(p, v)| format!("{p}@{v}")).collect();
    eprintln!(
        "installing {} into {} (once)",
        wanted.join(" "),
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
    .args(&wanted)
    .env("npm_config_update_notifier", "false");
    let out = run_bounded(cmd, Duration::from_secs(600)).expect("start npm");
    if !out.status.success() || !pins.iter().all(|(p, v)| installed(&modules, p, v)) {
        tool_missing(
            "npm (registry)",
            &install_problem("npm install", &wanted, &out),
        );
        return None;
    }
    Some(modules)
}

/// `node_modules/.bin/<bin>` of `package@version` installed under `target/npm/<name>`.
pub fn npm_bin(name: &str, package: &str, version: &str, bin: &str) -> Option<PathBuf> {
    let path = npm_packages(name, &[(package, version)])?
        .join(".bin")
        .join(bin);
    if path.exists() {
        return Some(path);
    }
    tool_missing(
        "npm package binary",
        &format!("{package}@{version} has no {}", path.display()),
    );
    None
}

/// The `mcp-server-everything` binary of `@modelcontextprotocol/server-everything@`
/// [`SERVER_EVERYTHING`], installed on first use (see [`npm_bin`]).
pub fn server_everything() -> Option<PathBuf> {
    npm_bin(
        "server-everything",
        "@modelcontextprotocol/server-everything",
        SERVER_EVERYTHING,
        "mcp-server-everything",
    )
}

/// Whether `modules/<package>/package.json` names exactly `version`.
fn installed(modules: &Path, package: &str, version: &str) -> bool {
    std::fs::read_to_string(modules.join(package).join("package.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .is_some_and(|m| m["version"] == version)
}
