//! `cargo bench --bench mcpd` (or `bash bench/run`): what mcpd costs, measured against nginx in
//! the same run. mcpd and nginx run on CPU 0, this load generator on CPU 1; CPU time per call is
//! the server's own (`/proc/PID/schedstat`) over the measured window, so a saturated load
//! generator cannot flatter it. Prints Markdown tables and writes JSON (target/bench/results.json
//! unless `--out`). Targets: DESIGN.md section 8. Never a test: nothing here asserts a time.
//!
//! Layout: `client` (HTTP/1.1 keep-alive client and MCP messages), `procs` (pinning, servers,
//! /proc), `load` (echo at a concurrency), `nginx`, `memory` (held SSE sessions), `ready`
//! (exec to first initialize), `bridge` (stdio bridge against direct pipes).

mod bridge;
mod client;
mod load;
mod memory;
mod nginx;
mod procs;
mod ready;

use procs::Cpus;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Duration;

const USAGE: &str = "usage: cargo bench --bench mcpd -- [--mcpd PATH] [--nginx PATH] \
[--only echo,nginx,memory,ready,bridge] [--seconds S] [--warmup S] [--concurrency 1,8,64] [--rounds N] \
[--sessions 1000,10000] [--hold S] [--ready-runs N] [--bridge-calls N] [--out FILE]";

const PARTS: [&str; 5] = ["echo", "nginx", "memory", "ready", "bridge"];

struct Options {
    mcpd: PathBuf,
    nginx: Option<PathBuf>,
    parts: Vec<String>,
    window: Duration,
    warmup: Duration,
    concurrency: Vec<usize>,
    rounds: usize,
    sessions: Vec<usize>,
    hold: Duration,
    ready_runs: usize,
    bridge_calls: u64,
    out: PathBuf,
}

fn target_dir() -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().map(PathBuf::from).unwrap_or(tmp)
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        mcpd: PathBuf::from(env!("CARGO_BIN_EXE_mcpd")),
        nginx: None,
        parts: PARTS.iter().map(|p| p.to_string()).collect(),
        window: Duration::from_secs(3),
        warmup: Duration::from_millis(500),
        concurrency: vec![1, 8, 64],
        rounds: 1,
        sessions: vec![1000, 10_000],
        hold: Duration::from_millis(3500),
        ready_runs: 21,
        bridge_calls: 5000,
        out: target_dir().join("bench").join("results.json"),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--bench" {
            continue; // cargo bench passes it to every bench target
        }
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let seconds = |v: &str| {
            v.parse::<f64>()
                .ok()
                .filter(|s| *s > 0.0)
                .map(Duration::from_secs_f64)
                .ok_or_else(|| format!("{flag}: seconds above 0 expected, got {v:?}"))
        };
        let list = |v: &str| {
            v.split(',')
                .map(|n| n.trim().parse::<usize>().ok().filter(|n| *n > 0))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| format!("{flag}: comma-separated counts expected, got {v:?}"))
        };
        let count = |v: &str| list(v)?.first().copied().ok_or_else(|| flag.clone());
        match flag.as_str() {
            "--mcpd" => options.mcpd = PathBuf::from(value),
            "--nginx" => options.nginx = Some(PathBuf::from(value)),
            "--only" => {
                options.parts = value.split(',').map(str::to_string).collect();
                if let Some(bad) = options.parts.iter().find(|p| !PARTS.contains(&p.as_str())) {
                    return Err(format!("--only: unknown part {bad:?}\n{USAGE}"));
                }
            }
            "--seconds" => options.window = seconds(&value)?,
            "--warmup" => options.warmup = seconds(&value)?,
            "--hold" => options.hold = seconds(&value)?,
            "--concurrency" => options.concurrency = list(&value)?,
            "--rounds" => options.rounds = count(&value)?,
            "--sessions" => options.sessions = list(&value)?,
            "--ready-runs" => options.ready_runs = count(&value)?,
            "--bridge-calls" => options.bridge_calls = count(&value)? as u64,
            "--out" => options.out = PathBuf::from(value),
            _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
        }
    }
    Ok(options)
}

fn main() -> ExitCode {
    let options = match parse_options() {
        Ok(options) => options,
        Err(e) => {
            eprintln!("bench: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(options: &Options) -> Result<(), String> {
    let cpus = Cpus::detect();
    if let Some(cpu) = cpus.load {
        procs::pin_current_thread(cpu)
            .map_err(|e| format!("pinning the load to CPU {cpu}: {e}"))?;
    }
    let nofile = procs::raise_nofile().map_err(|e| format!("raising the open-file limit: {e}"))?;
    let wants = |part: &str| options.parts.iter().any(|p| p == part);
    if let Some(most) = options.sessions.iter().max().filter(|_| wants("memory")) {
        if (*most as u64) + 256 > nofile {
            return Err(format!(
                "{most} held sessions need more than the open-file limit {nofile}: raise it \
                 (ulimit -Hn) or lower --sessions"
            ));
        }
    }
    let nginx_binary = match (wants("nginx"), &options.nginx) {
        (false, _) => None,
        (true, Some(path)) => Some(path.clone()),
        (true, None) => Some(nginx::find().ok_or(
            "nginx not found: `bash bench/run` installs it (apt-get install nginx-light), or \
             pass --nginx PATH, or leave it out with --only",
        )?),
    };
    let machine = machine(options, cpus);
    let summary = machine["summary"].as_str().unwrap_or("").to_string();
    eprintln!("bench: {summary}");
    println!("Machine: {summary}");
    let mut report = json!({ "machine": machine, "targets": targets() });

    if wants("echo") || wants("nginx") {
        report["echo"] = echo(options, cpus, nginx_binary.as_deref())?;
    }
    if wants("memory") {
        report["memory"] = memory(options, cpus)?;
    }
    if wants("ready") {
        eprintln!("bench: ready: {} runs", options.ready_runs);
        let ready = ready::measure(&options.mcpd, cpus, options.ready_runs)?;
        println!(
            "\nExec to first answered initialize ({} runs): median {:.2} ms (min {:.2}, max {:.2})",
            ready.runs, ready.median_ms, ready.min_ms, ready.max_ms
        );
        report["ready"] = json!({
            "runs": ready.runs, "median_ms": ready.median_ms,
            "min_ms": ready.min_ms, "max_ms": ready.max_ms,
        });
    }
    if wants("bridge") {
        report["bridge"] = bridge(options, cpus)?;
    }

    let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    if let Some(dir) = options.out.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(&options.out, format!("{text}\n"))
        .map_err(|e| format!("{}: {e}", options.out.display()))?;
    println!("\nJSON ({}):\n{text}", options.out.display());
    Ok(())
}

/// mcpd and nginx under the same load, then the ratio of their CPU per call.
///
/// Both servers run for the whole part and their windows are interleaved: at each concurrency
/// mcpd and nginx are measured back to back, the first of the pair alternating from round to
/// round. Measuring every mcpd row first and every nginx row after would charge whatever else
/// the machine did in that half minute (a build starting or ending) to one server only. Each
/// row reports the median of its rounds; each ratio is the median of the per-round ratios of a
/// pair measured a few seconds apart.
fn echo(
    options: &Options,
    cpus: Cpus,
    nginx_binary: Option<&std::path::Path>,
) -> Result<Value, String> {
    let mcpd = if options.parts.iter().any(|p| p == "echo") {
        let server = procs::Server::start(
            cpus.server,
            Command::new(&options.mcpd).args(["--port", "0"]),
            "listening on http://",
        )
        .map_err(|e| format!("mcpd: {e}"))?;
        Some(server)
    } else {
        None
    };
    let body = client::echo_answer(1_000_000, "c000n001000000");
    let nginx = match nginx_binary {
        Some(binary) => {
            let dir = target_dir().join("bench").join("nginx");
            let started = nginx::Nginx::start(binary, &dir, "/mcp", &body, cpus)
                .map_err(|e| format!("nginx ({}): {e}", binary.display()));
            match started {
                Ok(nginx) => Some(nginx),
                Err(e) => {
                    if let Some(server) = mcpd {
                        server.stop();
                    }
                    return Err(e);
                }
            }
        }
        None => None,
    };
    let mcpd_target = mcpd.as_ref().map(|server| load::Target {
        port: server.port,
        path: "/mcp",
        pid: server.pid(),
        answers: load::Answers::Mcpd,
    });
    let nginx_target = nginx.as_ref().map(|nginx| load::Target {
        port: nginx.port,
        path: "/mcp",
        pid: nginx.worker,
        answers: load::Answers::Fixed(body.as_bytes()),
    });
    let measured = interleave(options, mcpd_target.as_ref(), nginx_target.as_ref());
    let stderr = mcpd.as_ref().map(|s| s.stderr_tail()).unwrap_or_default();
    if let Some(server) = mcpd {
        server.stop();
    }
    if let Some(nginx) = nginx {
        nginx.stop();
    }
    let (mcpd_runs, nginx_runs) = measured.map_err(|e| {
        if stderr.is_empty() {
            e
        } else {
            format!("{e}; mcpd stderr: {stderr}")
        }
    })?;
    println!(
        "\n`tools/call echo`, keep-alive, {:.1} s per row, median of {} interleaved round{} ({})\n\n\
         | server | concurrency | calls/s | p50 µs | p99 µs | server CPU µs/call |\n\
         | --- | ---: | ---: | ---: | ---: | ---: |",
        options.window.as_secs_f64(),
        options.rounds,
        if options.rounds == 1 { "" } else { "s" },
        cpu_note(cpus)
    );
    let mut rows = Vec::new();
    for (name, runs) in [("mcpd", &mcpd_runs), ("nginx", &nginx_runs)] {
        for rounds in runs {
            let o = load::median_row(rounds);
            println!(
                "| {name} | {} | {:.0} | {:.1} | {:.1} | {:.2} |",
                o.concurrency, o.calls_per_s, o.p50_us, o.p99_us, o.cpu_us_per_call
            );
            let each: Vec<f64> = rounds.iter().map(|r| r.cpu_us_per_call).collect();
            rows.push(json!({
                "server": name, "concurrency": o.concurrency, "calls": o.calls,
                "seconds": o.seconds, "calls_per_s": o.calls_per_s, "p50_us": o.p50_us,
                "p99_us": o.p99_us, "cpu_us_per_call": o.cpu_us_per_call,
                "cpu_us_per_call_rounds": each,
            }));
        }
    }
    let mut ratios = Vec::new();
    let mut shown = Vec::new();
    for (m, n) in mcpd_runs.iter().zip(&nginx_runs) {
        let each: Vec<f64> = m
            .iter()
            .zip(n)
            .map(|(m, n)| m.cpu_us_per_call / n.cpu_us_per_call)
            .collect();
        let ratio = load::median(&each);
        let concurrency = m.first().map_or(0, |o| o.concurrency);
        ratios.push(json!({
            "concurrency": concurrency, "mcpd_over_nginx_cpu": ratio, "rounds": each,
        }));
        let rounds: Vec<String> = each.iter().map(|r| format!("{r:.2}")).collect();
        shown.push(if each.len() > 1 {
            format!("c={concurrency}: {ratio:.2} ({})", rounds.join(" "))
        } else {
            format!("c={concurrency}: {ratio:.2}")
        });
    }
    if !ratios.is_empty() {
        println!(
            "\nHeadline, mcpd CPU per call / nginx CPU per reply (target ≤ 1): {}",
            shown.join(", ")
        );
    }
    Ok(json!({ "rows": rows, "ratios": ratios, "rounds": options.rounds }))
}

/// Every round, every concurrency: mcpd and nginx back to back, alternating which goes first.
/// Returns, per server, one list of rounds per concurrency.
#[allow(clippy::type_complexity)]
fn interleave(
    options: &Options,
    mcpd: Option<&load::Target>,
    nginx: Option<&load::Target>,
) -> Result<(Vec<Vec<load::Outcome>>, Vec<Vec<load::Outcome>>), String> {
    let slots = || vec![Vec::new(); options.concurrency.len()];
    let (mut mcpd_runs, mut nginx_runs) = (slots(), slots());
    for round in 0..options.rounds {
        for (i, &concurrency) in options.concurrency.iter().enumerate() {
            let mut pair = [
                ("mcpd", mcpd, &mut mcpd_runs),
                ("nginx", nginx, &mut nginx_runs),
            ];
            if round % 2 == 1 {
                pair.reverse();
            }
            for (name, target, runs) in pair {
                let Some(target) = target else { continue };
                eprintln!(
                    "bench: {name} at concurrency {concurrency} (round {} of {})",
                    round + 1,
                    options.rounds
                );
                let outcome = load::run(target, concurrency, options.warmup, options.window)
                    .map_err(|e| format!("{name} at concurrency {concurrency}: {e}"))?;
                runs[i].push(outcome);
            }
        }
    }
    let keep = |runs: Vec<Vec<load::Outcome>>| runs.into_iter().filter(|r| !r.is_empty()).collect();
    Ok((keep(mcpd_runs), keep(nginx_runs)))
}

fn memory(options: &Options, cpus: Cpus) -> Result<Value, String> {
    eprintln!("bench: idle RSS");
    let (idle, idle_anon) = memory::idle_rss(&options.mcpd, cpus)?;
    println!(
        "\nMemory\n\n| measure | value |\n| --- | ---: |\n\
         | idle RSS (fresh mcpd) | {idle} KiB |\n| of which private (RssAnon) | {idle_anon} KiB |"
    );
    let mut held = Vec::new();
    for &sessions in &options.sessions {
        eprintln!("bench: {sessions} sessions with open streams");
        let h = memory::held(&options.mcpd, cpus, sessions, options.hold)?;
        println!(
            "| RSS per session, {} held with a GET SSE stream ({:.1} s, ≥{} heartbeats each) | {:.2} KiB |",
            h.sessions, h.hold_seconds, h.min_heartbeats, h.kib_per_session
        );
        held.push(json!({
            "sessions": h.sessions, "base_kib": h.base_kib, "held_kib": h.held_kib,
            "kib_per_session": h.kib_per_session, "min_heartbeats": h.min_heartbeats,
            "hold_seconds": h.hold_seconds,
        }));
    }
    Ok(json!({ "idle_rss_kib": idle, "idle_rss_anon_kib": idle_anon, "held": held }))
}

fn bridge(options: &Options, cpus: Cpus) -> Result<Value, String> {
    eprintln!("bench: bridge, {} calls each way", options.bridge_calls);
    let b = bridge::measure(&options.mcpd, cpus, options.bridge_calls)?;
    let d = &b.direct;
    println!(
        "\nStdio bridge, `tools/call echo` one at a time ({} calls)\n\n\
         | path | p50 µs | p99 µs | mean µs | CPU µs/call |\n| --- | ---: | ---: | ---: | ---: |\n\
         | `mcpd --stdio` over its pipes | {:.1} | {:.1} | {:.1} | child {:.2} |",
        d.calls, d.p50_us, d.p99_us, d.mean_us, d.cpu_us_per_call
    );
    let direct = json!({
        "calls": d.calls, "p50_us": d.p50_us, "p99_us": d.p99_us, "mean_us": d.mean_us,
        "cpu_us_per_call": d.cpu_us_per_call,
    });
    match &b.bridged {
        Ok(r) => {
            let child = r.child_cpu_us_per_call.unwrap_or(f64::NAN);
            println!(
                "| HTTP through `mcpd -- mcpd --stdio` | {:.1} | {:.1} | {:.1} | bridge {:.2} + child {:.2} |",
                r.p50_us, r.p99_us, r.mean_us, r.cpu_us_per_call, child
            );
            println!(
                "\nbridge: overhead {:.1} µs per call at the median, {:.1} µs on the mean (target < 50)",
                r.p50_us - d.p50_us,
                r.mean_us - d.mean_us
            );
            Ok(json!({
                "direct": direct,
                "bridged": {
                    "calls": r.calls, "p50_us": r.p50_us, "p99_us": r.p99_us, "mean_us": r.mean_us,
                    "bridge_cpu_us_per_call": r.cpu_us_per_call, "child_cpu_us_per_call": child,
                },
                "overhead_p50_us": r.p50_us - d.p50_us,
                "overhead_mean_us": r.mean_us - d.mean_us,
            }))
        }
        Err(why) => {
            println!("\nbridge: {why}");
            Ok(json!({ "direct": direct, "bridged": null, "unavailable": why }))
        }
    }
}

fn cpu_note(cpus: Cpus) -> String {
    match (cpus.server, cpus.load) {
        (Some(s), Some(l)) => format!("server pinned to CPU {s}, load to CPU {l}"),
        _ => "one CPU: nothing pinned".to_string(),
    }
}

/// Date, CPU, core count, kernel and the binary measured.
fn machine(options: &Options, cpus: Cpus) -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")?
                .split_once(':')
                .map(|(_, v)| v.trim())
        })
        .unwrap_or("unknown")
        .to_string();
    // SAFETY: sysconf only reads a system constant.
    let online = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_string();
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let size = std::fs::metadata(&options.mcpd)
        .map(|m| m.len())
        .unwrap_or(0);
    // Other work on the machine inflates every CPU figure: the load average says how much.
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let loadavg = loadavg
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ");
    let summary = format!(
        "{date}; {model}, nproc {online}, Linux {kernel}, load average {loadavg}; {} ({size} bytes); {}",
        options.mcpd.display(),
        cpu_note(cpus)
    );
    json!({
        "date": date, "cpu_model": model, "nproc": online, "kernel": kernel,
        "load_average": loadavg, "mcpd": options.mcpd.display().to_string(), "mcpd_bytes": size,
        "pinning": cpu_note(cpus), "summary": summary,
    })
}

/// DESIGN.md section 8, for the JSON reader.
fn targets() -> Value {
    json!({
        "cpu_per_call": "at most nginx's per fixed reply, same run",
        "rss_per_session_kib": 4, "idle_rss_kib": 1024, "ready_ms": 2,
        "static_x86_64_bytes": 600 * 1024, "bridge_overhead_us": 50,
    })
}
