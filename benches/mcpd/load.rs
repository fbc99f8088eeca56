//! `tools/call echo` at a fixed concurrency: one thread and one keep-alive connection (and, for
//! mcpd, one session) per client, each sending its next call as soon as the last is answered
//! and checking every answer. The server's CPU time is read over the measured window only.

use crate::client::{self, Conn};
use crate::procs;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

const WARMING: u8 = 0;
const MEASURING: u8 = 1;
const STOPPED: u8 = 2;

/// What answers: mcpd (sessions, echoed text checked) or a fixed reply (nginx).
#[derive(Clone, Copy)]
pub enum Answers<'a> {
    Mcpd,
    Fixed(&'a [u8]),
}

/// The server under load.
pub struct Target<'a> {
    pub port: u16,
    pub path: &'a str,
    /// The process whose CPU time is charged to the calls.
    pub pid: u32,
    pub answers: Answers<'a>,
}

/// One measured window.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub concurrency: usize,
    pub calls: u64,
    pub seconds: f64,
    pub calls_per_s: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub cpu_us_per_call: f64,
}

/// Runs `concurrency` clients for `warmup`, then measures for `window`.
pub fn run(
    target: &Target,
    concurrency: usize,
    warmup: Duration,
    window: Duration,
) -> Result<Outcome, String> {
    let phase = AtomicU8::new(WARMING);
    let ready = Barrier::new(concurrency + 1);
    let (latencies, cpu_ns, seconds) = thread::scope(|scope| {
        let clients: Vec<_> = (0..concurrency)
            .map(|n| {
                let (phase, ready) = (&phase, &ready);
                scope.spawn(move || client(target, n, phase, ready))
            })
            .collect();
        ready.wait();
        thread::sleep(warmup);
        let cpu_before = procs::cpu_ns(target.pid);
        let start = Instant::now();
        phase.store(MEASURING, Ordering::SeqCst);
        thread::sleep(window);
        let cpu_after = procs::cpu_ns(target.pid);
        let seconds = start.elapsed().as_secs_f64();
        phase.store(STOPPED, Ordering::SeqCst);
        let mut latencies = Vec::new();
        let mut failure = None;
        for handle in clients {
            match handle.join() {
                Ok(Ok(mut own)) => latencies.append(&mut own),
                Ok(Err(e)) => failure = Some(e),
                Err(_) => failure = Some("a client thread panicked".to_string()),
            }
        }
        if let Some(e) = failure {
            return Err(e);
        }
        let cpu = match (cpu_before, cpu_after) {
            (Ok(before), Ok(after)) => after.saturating_sub(before),
            (Err(e), _) | (_, Err(e)) => return Err(format!("CPU time of {}: {e}", target.pid)),
        };
        Ok((latencies, cpu, seconds))
    })?;
    if latencies.is_empty() {
        return Err("no call completed in the window".to_string());
    }
    let calls = latencies.len() as u64;
    let (p50, p99) = percentiles(latencies);
    Ok(Outcome {
        concurrency,
        calls,
        seconds,
        calls_per_s: calls as f64 / seconds,
        p50_us: p50,
        p99_us: p99,
        cpu_us_per_call: cpu_ns as f64 / 1000.0 / calls as f64,
    })
}

/// One client: connect (and open a session), then call until stopped; the latencies, in
/// nanoseconds, of the calls that started and ended inside the window.
fn client(
    target: &Target,
    n: usize,
    phase: &AtomicU8,
    ready: &Barrier,
) -> Result<Vec<u32>, String> {
    let setup = || -> std::io::Result<(Conn, Option<String>)> {
        let mut conn = Conn::connect(target.port, target.path)?;
        let session = match target.answers {
            Answers::Mcpd => Some(client::open_session(&mut conn)?),
            Answers::Fixed(_) => None,
        };
        Ok((conn, session))
    };
    let outcome = setup();
    ready.wait();
    let (mut conn, session) = outcome.map_err(|e| format!("client {n}: setup: {e}"))?;
    // Nginx gets the same request, session header included, so both parse the same bytes.
    let session = session.unwrap_or_else(|| "00000000-0000-4000-8000-000000000000".to_string());
    let mut latencies = Vec::with_capacity(1 << 16);
    let (mut text, mut request) = (String::new(), Vec::new());
    for seq in 1.. {
        let started_in = phase.load(Ordering::Relaxed);
        if started_in == STOPPED {
            break;
        }
        client::echo_text(&mut text, n, seq);
        client::echo_request(&mut request, seq, &text);
        let start = Instant::now();
        let reply = conn
            .post(Some(&session), &request)
            .map_err(|e| format!("client {n}: call {seq}: {e}"))?;
        let elapsed = start.elapsed();
        if reply.status != 200 {
            return Err(format!("client {n}: call {seq}: status {}", reply.status));
        }
        match target.answers {
            Answers::Mcpd => client::check_echo(reply.body, seq, &text)
                .map_err(|e| format!("client {n}: call {seq}: {e}"))?,
            Answers::Fixed(expected) if reply.body != expected => {
                return Err(format!("client {n}: call {seq}: unexpected reply body"));
            }
            Answers::Fixed(_) => {}
        }
        if started_in == MEASURING && phase.load(Ordering::Relaxed) == MEASURING {
            latencies.push(u32::try_from(elapsed.as_nanos()).unwrap_or(u32::MAX));
        }
    }
    Ok(latencies)
}

/// p50 and p99 in microseconds (nearest rank).
pub fn percentiles(mut nanos: Vec<u32>) -> (f64, f64) {
    nanos.sort_unstable();
    let at = |p: f64| {
        let rank = ((p / 100.0) * (nanos.len() - 1) as f64).round() as usize;
        nanos[rank] as f64 / 1000.0
    };
    (at(50.0), at(99.0))
}

/// The median of `values` (the mean of the middle two for an even count); NaN when empty.
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// The round whose CPU per call is the median (the lower middle one for an even count), so a
/// row's figures all come from one window.
pub fn median_row(rounds: &[Outcome]) -> Outcome {
    let mut sorted = rounds.to_vec();
    sorted.sort_by(|a, b| a.cpu_us_per_call.total_cmp(&b.cpu_us_per_call));
    sorted[(sorted.len() - 1) / 2].clone()
}
