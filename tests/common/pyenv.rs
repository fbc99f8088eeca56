//! Python virtual environments for the real-client tests: one per pinned package set, made
//! once under `target/` (under a file lock, as test threads and processes may race) and reused
//! while it holds exactly those versions.

use super::{install_problem, require_tool, run_bounded, target_dir, tool_missing};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The Python SDK 1.x (the newest 1.x release): its client API is the one `tests/py` scripts
/// use, and it serves the handshake era only.
pub const MCP1: &str = "1.30.0";
/// The Python SDK 2.x, whose `Client(url)` probes `server/discover` by default.
pub const MCP2: &str = "2.3.0";
/// PyPI `mcp-server-time`, built on the Python SDK 2.x (dual-era).
pub const SERVER_TIME: &str = "2026.10.19";

/// The python of `target/<name>` with every `package==version` of `pins` installed, made on
/// first use. None when python3, venv or PyPI is unavailable outside CI (under CI: a panic).
pub fn venv_python(name: &str, pins: &[(&str, &str)]) -> Option<PathBuf> {
    let venv = target_dir().join(name);
    let python = venv.join("bin/python");
    std::fs::create_dir_all(target_dir()).expect("create the target dir");
    let lock = File::create(target_dir().join(format!("{name}.lock"))).expect("create the lock");
    // Released when `lock` is dropped at the end of this function.
    lock.lock().expect("lock the venv");
    if has_pins(&python, pins) {
        return Some(python);
    }
    if !require_tool(
        "python3 with venv",
        &["python3", "-c", "import venv, ensurepip"],
    ) {
        return None;
    }
    let wanted: Vec<String> = pins.iter().map(|(p, v)| format!("{p}=={v}")).collect();
    eprintln!(
        "creating {} with {} (once)",
        venv.display(),
        wanted.join(" ")
    );
    let _ = std::fs::remove_dir_all(&venv);
    let mut cmd = Command::new("python3");
    cmd.args(["-m", "venv"]).arg(&venv);
    let out = run_bounded(cmd, Duration::from_secs(120)).expect("start python3");
    if !out.status.success() {
        tool_missing(
            "python3 -m venv",
            &format!("{}\n{}{}", out.status, out.stdout, out.stderr),
        );
        return None;
    }
    let mut cmd = Command::new(&python);
    cmd.args([
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        "--quiet",
    ])
    .args(&wanted);
    let out = run_bounded(cmd, Duration::from_secs(600)).expect("start the venv's python");
    if !out.status.success() || !has_pins(&python, pins) {
        let _ = std::fs::remove_dir_all(&venv);
        tool_missing("pip (PyPI)", &install_problem("pip install", &wanted, &out));
        return None;
    }
    Some(python)
}

/// True if `python` runs and has exactly the pinned versions.
fn has_pins(python: &Path, pins: &[(&str, &str)]) -> bool {
    if !python.exists() {
        return false;
    }
    let mut cmd = Command::new(python);
    cmd.args([
        "-c",
        "import sys, importlib.metadata as m\n\
         pins = sys.argv[1:]\n\
         sys.exit(any(m.version(p) != v for p, v in zip(pins[::2], pins[1::2])))",
    ]);
    for (package, version) in pins {
        cmd.arg(package).arg(version);
    }
    matches!(run_bounded(cmd, Duration::from_secs(60)), Ok(out) if out.status.success())
}
