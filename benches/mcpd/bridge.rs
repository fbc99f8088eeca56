//! The stdio bridge: `tools/call echo` round trips through `mcpd -- MCPD --stdio` over HTTP,
//! against the same child (`mcpd --stdio`) driven directly over its pipes. The difference of
//! the medians is the bridge's overhead per call.

use crate::client::{self, Conn};
use crate::load;
use crate::procs::{self, Cpus, Server, StartError};
use std::io::{self, BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

/// Calls before the measured ones.
const WARMUP_CALLS: u64 = 500;

/// Round trips of one path.
#[derive(Clone, Debug)]
pub struct RoundTrips {
    pub calls: u64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub mean_us: f64,
    /// CPU of the process the client talks to (the child, or the bridge itself).
    pub cpu_us_per_call: f64,
    /// CPU of the bridge's child, when there is one.
    pub child_cpu_us_per_call: Option<f64>,
}

/// What the bridge part found.
#[derive(Clone, Debug)]
pub struct Bridge {
    pub direct: RoundTrips,
    /// `Err` holds why the bridge is not available in this build.
    pub bridged: Result<RoundTrips, String>,
}

pub fn measure(mcpd: &Path, cpus: Cpus, calls: u64) -> Result<Bridge, String> {
    let direct = direct(mcpd, cpus, calls).map_err(|e| format!("mcpd --stdio: {e}"))?;
    let mut cmd = Command::new(mcpd);
    cmd.args(["--port", "0", "--"]).arg(mcpd).arg("--stdio");
    let bridged = match Server::start(cpus.server, &mut cmd, "listening on http://") {
        Ok(server) => {
            let outcome = bridged(&server, calls);
            let outcome = outcome.map_err(|e| format!("{e}; stderr: {}", server.stderr_tail()));
            server.stop();
            Ok(outcome.map_err(|e| format!("mcpd -- mcpd --stdio: {e}"))?)
        }
        Err(StartError::Exited(status, stderr)) if status.code() == Some(2) => {
            let why = stderr.lines().next().unwrap_or("").to_string();
            Err(format!("not available in this build ({why})"))
        }
        Err(e) => return Err(format!("mcpd -- mcpd --stdio: {e}")),
    };
    Ok(Bridge { direct, bridged })
}

fn direct(mcpd: &Path, cpus: Cpus, calls: u64) -> io::Result<RoundTrips> {
    let mut cmd = Command::new(mcpd);
    cmd.arg("--stdio")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let (mut child, _) = procs::spawn_on(cpus.server, &mut cmd)?;
    let pid = child.id();
    let mut input = child.stdin.take().expect("stdin is piped above");
    let mut output = BufReader::new(child.stdout.take().expect("stdout is piped above"));
    let mut line = String::new();
    let mut exchange = |body: &[u8], answered: bool, line: &mut String| -> io::Result<()> {
        input.write_all(body)?;
        input.write_all(b"\n")?;
        input.flush()?;
        line.clear();
        if answered && output.read_line(line)? == 0 {
            return Err(client::bad("mcpd --stdio closed its stdout"));
        }
        Ok(())
    };
    let outcome = (|| {
        exchange(client::initialize_body(), true, &mut line)?;
        exchange(client::initialized_body(), false, &mut line)?;
        let (mut text, mut request) = (String::new(), Vec::new());
        round_trips(calls, pid, None, |seq| {
            client::echo_text(&mut text, 0, seq);
            client::echo_request(&mut request, seq, &text);
            exchange(&request, true, &mut line)?;
            client::check_echo(line.as_bytes(), seq, &text).map_err(client::bad)
        })
    })();
    drop(input);
    procs::stop_child(&mut child);
    outcome
}

fn bridged(server: &Server, calls: u64) -> io::Result<RoundTrips> {
    let mut conn = Conn::connect(server.port, "/mcp")?;
    let session = client::open_session(&mut conn)?;
    let children = procs::children_of(server.pid());
    let child = match children.as_slice() {
        [child] => *child,
        other => {
            return Err(client::bad(format!(
                "expected one child of the bridge after initialize, found {other:?}"
            )))
        }
    };
    let (mut text, mut request) = (String::new(), Vec::new());
    round_trips(calls, server.pid(), Some(child), |seq| {
        client::echo_text(&mut text, 0, seq);
        client::echo_request(&mut request, seq, &text);
        let reply = conn.post(Some(&session), &request)?;
        if reply.status != 200 {
            return Err(client::bad(format!("call {seq}: status {}", reply.status)));
        }
        client::check_echo(reply.body, seq, &text).map_err(client::bad)
    })
}

/// Runs [`WARMUP_CALLS`] calls, then `calls` measured ones, charging CPU to `pid` (and `child`).
fn round_trips(
    calls: u64,
    pid: u32,
    child: Option<u32>,
    mut call: impl FnMut(u64) -> io::Result<()>,
) -> io::Result<RoundTrips> {
    for seq in 1..=WARMUP_CALLS {
        call(seq)?;
    }
    let cpu_before = procs::cpu_ns(pid)?;
    let child_before = child.map(procs::cpu_ns).transpose()?;
    let mut nanos = Vec::with_capacity(calls as usize);
    let start = Instant::now();
    for seq in WARMUP_CALLS + 1..=WARMUP_CALLS + calls {
        let sent = Instant::now();
        call(seq)?;
        nanos.push(u32::try_from(sent.elapsed().as_nanos()).unwrap_or(u32::MAX));
    }
    let total = start.elapsed();
    let cpu = procs::cpu_ns(pid)?.saturating_sub(cpu_before);
    let child_cpu = match (child, child_before) {
        (Some(child), Some(before)) => Some(procs::cpu_ns(child)?.saturating_sub(before)),
        _ => None,
    };
    let per_call = |ns: u64| ns as f64 / 1000.0 / calls as f64;
    let (p50_us, p99_us) = load::percentiles(nanos);
    Ok(RoundTrips {
        calls,
        p50_us,
        p99_us,
        mean_us: total.as_secs_f64() * 1e6 / calls as f64,
        cpu_us_per_call: per_call(cpu),
        child_cpu_us_per_call: child_cpu.map(per_call),
    })
}
