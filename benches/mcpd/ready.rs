//! Time from exec to the first answered `initialize`: spawn mcpd on a known port, connect in a
//! retry loop from the other CPU, POST initialize, stop at the answer.

use crate::client::{self, Conn};
use crate::procs::{self, Cpus};
use std::io;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Give up on a run after this long.
const RUN_TIMEOUT: Duration = Duration::from_secs(5);

/// Median, fastest and slowest of `runs`, in milliseconds.
#[derive(Clone, Debug)]
pub struct Ready {
    pub runs: usize,
    pub median_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
}

pub fn measure(mcpd: &Path, cpus: Cpus, runs: usize) -> Result<Ready, String> {
    let mut times = Vec::with_capacity(runs);
    for run in 0..runs {
        times.push(once(mcpd, cpus).map_err(|e| format!("run {run}: {e}"))?);
    }
    times.sort_by(f64::total_cmp);
    Ok(Ready {
        runs,
        median_ms: times[times.len() / 2],
        min_ms: times[0],
        max_ms: times[times.len() - 1],
    })
}

fn once(mcpd: &Path, cpus: Cpus) -> io::Result<f64> {
    let port = procs::free_port()?;
    let mut cmd = Command::new(mcpd);
    cmd.args(["--port", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let (mut child, start) = procs::spawn_on(cpus.server, &mut cmd)?;
    let answered = (|| {
        let stream = loop {
            match TcpStream::connect(("127.0.0.1", port)) {
                Ok(stream) => break stream,
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    if start.elapsed() > RUN_TIMEOUT {
                        return Err(io::Error::other("mcpd did not listen within 5 s"));
                    }
                    std::thread::yield_now();
                }
                Err(e) => return Err(e),
            }
        };
        let mut conn = Conn::over(stream, port, "/mcp");
        let reply = conn.post(None, client::initialize_body())?;
        if reply.status != 200 || reply.session.is_none() {
            return Err(client::bad(format!("initialize answered {}", reply.status)));
        }
        Ok(start.elapsed().as_secs_f64() * 1000.0)
    })();
    procs::stop_child(&mut child);
    answered
}
