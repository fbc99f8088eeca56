//! Processes under measurement: CPU pinning, starting a server and finding its port, and the
//! `/proc` figures read from it (CPU time from `schedstat`, RSS from `status`).

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How long a server gets to print its listening line.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a server gets to exit after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// Stderr lines kept for error messages.
const STDERR_TAIL: usize = 20;

/// Where the server and the load run: the server on `server`, the load generator on `load`,
/// or both unpinned on a machine with one CPU.
#[derive(Clone, Copy, Debug)]
pub struct Cpus {
    pub server: Option<usize>,
    pub load: Option<usize>,
}

impl Cpus {
    /// CPU 0 for servers and CPU 1 for the load when there are two or more.
    pub fn detect() -> Cpus {
        // SAFETY: sysconf only reads a system constant.
        let online = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
        if online >= 2 {
            Cpus {
                server: Some(0),
                load: Some(1),
            }
        } else {
            Cpus {
                server: None,
                load: None,
            }
        }
    }
}

/// Pins the calling thread (and every thread and process it starts later) to `cpu`.
pub fn pin_current_thread(cpu: usize) -> io::Result<()> {
    // SAFETY: cpu_set_t is plain data; sched_setaffinity reads the set we pass, a live local.
    let rc = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Raises the soft open-file limit to the hard one (thousands of held streams); returns it.
pub fn raise_nofile() -> io::Result<u64> {
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass, a live local.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(io::Error::last_os_error());
        }
        limit.rlim_cur = limit.rlim_max;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(limit.rlim_cur as u64)
    }
}

/// Spawns `cmd` from a thread pinned to `cpu`, so the child starts there without a `taskset`
/// exec in between; returns the child and the instant just before the spawn.
pub fn spawn_on(cpu: Option<usize>, cmd: &mut Command) -> io::Result<(Child, Instant)> {
    thread::scope(|scope| {
        scope
            .spawn(|| {
                if let Some(cpu) = cpu {
                    pin_current_thread(cpu)?;
                }
                let start = Instant::now();
                cmd.spawn().map(|child| (child, start))
            })
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("spawner thread panicked")))
    })
}

/// A free loopback port (bound and released; fine for a benchmark on a quiet machine).
pub fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// CPU time the task has run, in nanoseconds (first field of `/proc/PID/schedstat`).
pub fn cpu_ns(pid: u32) -> io::Result<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/schedstat"))?;
    text.split_whitespace()
        .next()
        .and_then(|field| field.parse().ok())
        .ok_or_else(|| io::Error::other(format!("unreadable /proc/{pid}/schedstat: {text:?}")))
}

/// A field of `/proc/PID/status`, such as `VmRSS` or `Cpus_allowed_list`, without its unit.
pub fn status_field(pid: u32, name: &str) -> io::Result<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
        .map(|value| value.trim().trim_end_matches(" kB").to_string())
        .ok_or_else(|| io::Error::other(format!("no {name} in /proc/{pid}/status")))
}

/// Resident set size in KiB.
pub fn rss_kib(pid: u32) -> io::Result<u64> {
    status_field(pid, "VmRSS")?
        .parse()
        .map_err(|e| io::Error::other(format!("VmRSS of {pid}: {e}")))
}

/// The PIDs whose parent is `parent` (nginx's worker, the bridge's child).
pub fn children_of(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Fields after the parenthesised command: state, ppid, ...
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|field| field.parse::<u32>().ok());
        if ppid == Some(parent) {
            found.push(pid);
        }
    }
    found
}

/// Sends SIGTERM to `pid`.
pub fn terminate(pid: u32) {
    // SAFETY: kill only sends a signal to a process we started and have not reaped.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGTERM);
    }
}

/// Why a server did not come up.
#[derive(Debug)]
pub enum StartError {
    /// It exited before listening: its status and last stderr lines.
    Exited(ExitStatus, String),
    /// It could not be spawned, or printed nothing in time.
    Failed(String),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Exited(status, stderr) => write!(f, "exited ({status}): {stderr}"),
            StartError::Failed(why) => f.write_str(why),
        }
    }
}

/// A running server whose stderr is drained by a thread (a full pipe would stall it).
pub struct Server {
    pub child: Child,
    pub port: u16,
    tail: Arc<Mutex<VecDeque<String>>>,
}

impl Server {
    /// Spawns `cmd` on `cpu` and waits for a stderr line holding `marker` followed by the port
    /// (mcpd's `listening on http://127.0.0.1:PORT/mcp`).
    pub fn start(
        cpu: Option<usize>,
        cmd: &mut Command,
        marker: &str,
    ) -> Result<Server, StartError> {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let (mut child, _) =
            spawn_on(cpu, cmd).map_err(|e| StartError::Failed(format!("spawn {cmd:?}: {e}")))?;
        let stderr = child.stderr.take().expect("stderr is piped above");
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let (port_tx, port_rx) = mpsc::channel();
        let wanted = marker.to_string();
        let kept = Arc::clone(&tail);
        thread::spawn(move || {
            let mut port_tx = Some(port_tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(port) = parse_port(&line, &wanted) {
                    if let Some(tx) = port_tx.take() {
                        let _ = tx.send(port);
                    }
                }
                let mut kept = kept.lock().unwrap_or_else(|e| e.into_inner());
                if kept.len() == STDERR_TAIL {
                    kept.pop_front();
                }
                kept.push_back(line);
            }
        });
        match port_rx.recv_timeout(START_TIMEOUT) {
            Ok(port) => Ok(Server { child, port, tail }),
            Err(_) => {
                let deadline = Instant::now() + Duration::from_secs(1);
                while Instant::now() < deadline {
                    if let Ok(Some(status)) = child.try_wait() {
                        thread::sleep(Duration::from_millis(20));
                        let tail = tail.lock().unwrap_or_else(|e| e.into_inner());
                        let text = tail.iter().cloned().collect::<Vec<_>>().join("\n");
                        return Err(StartError::Exited(status, text));
                    }
                    thread::sleep(Duration::from_millis(10));
                }
                let _ = child.kill();
                let _ = child.wait();
                Err(StartError::Failed(format!(
                    "{cmd:?} printed no '{marker}PORT' line within {START_TIMEOUT:?}"
                )))
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last stderr lines, for error messages.
    pub fn stderr_tail(&self) -> String {
        let tail = self.tail.lock().unwrap_or_else(|e| e.into_inner());
        tail.iter().cloned().collect::<Vec<_>>().join("\n")
    }

    /// SIGTERM, then SIGKILL if it has not exited within [`STOP_TIMEOUT`]; always reaped.
    pub fn stop(mut self) {
        stop_child(&mut self.child);
    }
}

/// SIGTERM `child`, wait for it, SIGKILL after [`STOP_TIMEOUT`].
pub fn stop_child(child: &mut Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    terminate(child.id());
    let deadline = Instant::now() + STOP_TIMEOUT;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        thread::sleep(Duration::from_millis(5));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The port after `marker` and `127.0.0.1:` or `[::1]:` in a log line.
fn parse_port(line: &str, marker: &str) -> Option<u16> {
    let rest = &line[line.find(marker)? + marker.len()..];
    let after_host = &rest[rest.rfind(':')? + 1..];
    let digits: String = after_host
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}
