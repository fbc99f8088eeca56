//! Helpers shared by the real-client integration tests: start `mcpd` on a free port, run an
//! external tool with a bounded wait, skip (or, under CI, fail) when a tool is missing.
//!
//! Every process started here is stopped by its own handle: `mcpd` by its PID, external tools by
//! the process group they were started in (npx and the Python SDK start children of their own).

#![allow(dead_code)] // Each test binary uses its own subset.

pub mod http;
pub mod npm;
pub mod pyenv;
pub mod wire;

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How long `mcpd` gets to print its listening line.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `mcpd` gets to exit after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// The `mcpd` binary cargo built for these tests.
pub fn mcpd_bin() -> &'static str {
    env!("CARGO_BIN_EXE_mcpd")
}

/// The cargo target directory (`target/`, or `$CARGO_TARGET_DIR`): every output goes under it.
pub fn target_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).to_path_buf()
}

/// A fresh, empty directory `target/<area>/<label>-<unix secs>-<pid>-<n>`.
pub fn fresh_dir(area: &str, label: &str) -> PathBuf {
    // Tests of one binary run in parallel threads: the counter keeps two calls with the same
    // label in the same second apart (they once shared, and removed, one git repository).
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let dir = target_dir()
        .join(area)
        .join(format!("{label}-{secs}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

/// A running `mcpd` started by [`spawn_mcpd`]; dropping it stops the process.
pub struct Mcpd {
    /// The port it listens on (parsed from its listening line).
    pub port: u16,
    /// The process itself.
    pub child: Child,
    path: String,
    stderr: Arc<Mutex<String>>,
    /// Signalled (or dropped) when the stderr drain thread ends.
    drain_done: Option<mpsc::Receiver<()>>,
}

impl Mcpd {
    /// The MCP endpoint, e.g. `http://127.0.0.1:41234/mcp`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}{}", self.port, self.path)
    }

    /// Everything `mcpd` wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Waits (at most `within`) until its stderr contains `needle`; returns the stderr then.
    pub fn wait_log(&self, needle: &str, within: Duration) -> String {
        eventually(&format!("{needle:?} in mcpd's stderr"), within, || {
            let log = self.stderr();
            if log.contains(needle) {
                Ok(log)
            } else {
                Err(tail(&log, 3000).to_string())
            }
        })
    }

    /// Stops it as dropping does, and returns everything it wrote to stderr.
    pub fn stop(mut self) -> String {
        self.shutdown();
        self.stderr()
    }

    /// SIGTERM to this PID only, then a bounded wait, then SIGKILL; idempotent.
    fn shutdown(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
                // SAFETY: kill(2) with a PID we own (our unreaped child) and a valid signal.
                unsafe { libc::kill(pid, libc::SIGTERM) };
            }
            if wait_exit(&mut self.child, STOP_TIMEOUT).is_none() {
                eprintln!(
                    "mcpd (pid {}) ignored SIGTERM for {STOP_TIMEOUT:?}: killed it",
                    self.child.id()
                );
            }
        }
        let _ = self.child.wait();
        // Bounded: a grandchild holding the pipe must not hang the test.
        if let Some(done) = self.drain_done.take() {
            let _ = done.recv_timeout(STOP_TIMEOUT);
        }
    }
}

impl Drop for Mcpd {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Starts `mcpd --host 127.0.0.1 --port 0 ARGS...` and waits (at most 10 s) for its
/// `listening on http://127.0.0.1:PORT/PATH` line on stderr. Panics with the stderr seen if it
/// exits first or takes too long. A thread keeps draining stderr into a buffer afterwards.
pub fn spawn_mcpd(args: &[&str]) -> Mcpd {
    spawn_mcpd_command(loopback_mcpd(args), args)
}

/// `mcpd --host 127.0.0.1 --port 0 ARGS...`, not started yet.
fn loopback_mcpd(args: &[&str]) -> Command {
    let mut command = Command::new(mcpd_bin());
    command
        .args(["--host", "127.0.0.1", "--port", "0"])
        .args(args);
    command
}

/// Starts `command` (an `mcpd`) with stdin and stdout on /dev/null and stderr on a pipe.
fn start_with_stderr_piped(mut command: Command) -> Child {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", mcpd_bin()))
}

/// Like [`spawn_mcpd`] for a prepared `command` that ends up running `mcpd` in its own process
/// (e.g. a shell that sets up descriptors and then `exec`s it); `args` only label errors.
pub fn spawn_mcpd_command(command: Command, args: &[&str]) -> Mcpd {
    let mut child = start_with_stderr_piped(command);
    let stderr = child.stderr.take().expect("piped stderr");
    let buffer = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = mpsc::channel::<String>();
    let (done_tx, done) = mpsc::channel::<()>();
    {
        let buffer = Arc::clone(&buffer);
        thread::spawn(move || {
            let mut reader = BufReader::new(stderr);
            let mut line = Vec::new();
            loop {
                line.clear();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let text = String::from_utf8_lossy(&line).into_owned();
                        if let Ok(mut b) = buffer.lock() {
                            b.push_str(&text);
                        }
                        // The receiver is gone once the listening line was found: ignore.
                        let _ = tx.send(text);
                    }
                }
            }
            let _ = done_tx.send(());
        });
    }

    let deadline = Instant::now() + STARTUP_TIMEOUT;
    let seen = |buffer: &Arc<Mutex<String>>| buffer.lock().map(|s| s.clone()).unwrap_or_default();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                if let Some((port, path)) = parse_listening(&line) {
                    return Mcpd {
                        port,
                        child,
                        path,
                        stderr: buffer,
                        drain_done: Some(done),
                    };
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                let _ = child.wait();
                let _ = done.recv_timeout(STOP_TIMEOUT);
                panic!(
                    "mcpd {args:?} printed no 'listening on' line within {STARTUP_TIMEOUT:?}; \
                     stderr:\n{}",
                    seen(&buffer)
                );
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = child.wait();
                let _ = done.recv_timeout(STOP_TIMEOUT);
                panic!(
                    "mcpd {args:?} closed stderr before listening ({status:?}); stderr:\n{}",
                    seen(&buffer)
                );
            }
        }
    }
}

/// Like [`spawn_mcpd`], but nobody reads `mcpd`'s stderr after its listening line: the pipe
/// stays open and fills up, as with a stalled logger, for as long as the returned reader lives.
/// Bounded: at most 10 s for the listening line.
pub fn spawn_mcpd_undrained(args: &[&str]) -> (Mcpd, std::process::ChildStderr) {
    let mut child = start_with_stderr_piped(loopback_mcpd(args));
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, rx) = mpsc::channel();
    // Reads byte by byte up to the listening line's end, so nothing past it is consumed.
    thread::spawn(move || {
        let mut stderr = stderr;
        let mut seen = Vec::new();
        let mut byte = [0u8; 1];
        while let Ok(1) = stderr.read(&mut byte) {
            seen.push(byte[0]);
            if byte[0] == b'\n' {
                let text = String::from_utf8_lossy(&seen).into_owned();
                if let Some(found) = text.lines().last().and_then(parse_listening) {
                    let _ = tx.send(Ok((found, stderr)));
                    return;
                }
            }
        }
        let _ = tx.send(Err(String::from_utf8_lossy(&seen).into_owned()));
    });
    match rx.recv_timeout(STARTUP_TIMEOUT) {
        Ok(Ok(((port, path), stderr))) => (
            Mcpd {
                port,
                child,
                path,
                stderr: Arc::new(Mutex::new(String::new())),
                drain_done: None,
            },
            stderr,
        ),
        other => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("mcpd {args:?} did not start: {other:?}");
        }
    }
}

/// `(port, path)` from a line containing `listening on http://HOST:PORT/PATH`.
pub fn parse_listening(line: &str) -> Option<(u16, String)> {
    let rest = &line[line.find("listening on http://")? + "listening on http://".len()..];
    let rest = rest.split_whitespace().next()?;
    let slash = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(slash);
    let port = authority.rsplit_once(':')?.1.parse().ok()?;
    let path = if path.is_empty() { "/" } else { path };
    Some((port, path.to_string()))
}

/// True if `probe` (a program and its arguments) runs and exits 0 within 60 s. Otherwise: under
/// CI (`CI` set) panic; elsewhere print a loud skip notice naming `name` and return false.
pub fn require_tool(name: &str, probe: &[&str]) -> bool {
    let problem = match probe.split_first() {
        None => "empty probe command".to_string(),
        Some((program, args)) => {
            let mut cmd = Command::new(program);
            cmd.args(args);
            match run_bounded(cmd, Duration::from_secs(60)) {
                Ok(out) if out.status.success() => return true,
                Ok(out) => format!(
                    "{probe:?} failed: {}{}\nstdout:\n{}\nstderr:\n{}",
                    describe(&out),
                    if out.timed_out { " (timed out)" } else { "" },
                    out.stdout,
                    out.stderr
                ),
                Err(e) => format!("{probe:?} could not start: {e}"),
            }
        }
    };
    tool_missing(name, &problem)
}

/// The shared "tool unavailable" outcome: panic under CI, loud skip (false) elsewhere.
pub fn tool_missing(name: &str, problem: &str) -> bool {
    if std::env::var_os("CI").is_some() {
        panic!("required tool '{name}' is not usable and CI is set: {problem}");
    }
    eprintln!(
        "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
         !!! SKIPPED: '{name}' is not usable here, so this test checked NOTHING.\n\
         !!! {problem}\n\
         !!! (Under CI, with the CI variable set, this is a failure.)\n\
         !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
    );
    false
}

/// What [`run_bounded`] collected.
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// The deadline passed and the process group was killed.
    pub timed_out: bool,
    pub elapsed: Duration,
}

impl Output {
    /// Exited 0 in time and printed the line `ALL OK`, as every client script does last.
    pub fn all_ok(&self) -> bool {
        self.status.success() && !self.timed_out && self.stdout.lines().any(|l| l == "ALL OK")
    }
}

/// Keeps one client run's output (`client.log`) and mcpd's stderr (`mcpd.log`) in a fresh
/// `target/<area>/<label>-…` directory, for reading after a failure; that directory.
pub fn keep_logs(area: &str, label: &str, mcpd_log: &str, stdout: &str, stderr: &str) -> PathBuf {
    let dir = fresh_dir(area, label);
    let _ = std::fs::write(dir.join("mcpd.log"), mcpd_log);
    let _ = std::fs::write(dir.join("client.log"), format!("{stdout}{stderr}"));
    dir
}

/// "exit status 1", "killed by signal 9" and so on.
pub fn describe(out: &Output) -> String {
    out.status.to_string()
}

/// Runs `cmd` in a process group of its own with stdout and stderr captured (stdin empty), waits
/// at most `timeout`, and then kills that whole group (the command and any children it started,
/// nothing else). Output is drained by threads, so a chatty command never blocks on a full pipe.
/// When the command ends, whatever it left running in its group is killed too, while the
/// command is still an unreaped zombie, so the group id cannot have been reused.
pub fn run_bounded(mut cmd: Command, timeout: Duration) -> std::io::Result<Output> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let start = Instant::now();
    let mut child = cmd.spawn()?;
    let pid = libc::pid_t::try_from(child.id()).expect("pid fits pid_t");
    let stdout = Drain::start(child.stdout.take().expect("piped stdout"));
    let stderr = Drain::start(child.stderr.take().expect("piped stderr"));
    let deadline = start + timeout;
    let mut timed_out = false;
    loop {
        if exited_unreaped(pid)? {
            break;
        }
        if Instant::now() >= deadline {
            timed_out = true;
            break;
        }
        thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: kill(2) on the group this function created (pgid == pid); its leader is either
    // running or an unreaped zombie, so the id is still ours.
    unsafe { libc::kill(-pid, libc::SIGKILL) };
    let status = child.wait()?;
    // A grandchild that left the group could still hold a pipe open: do not wait on it forever.
    let grace = Instant::now() + Duration::from_secs(5);
    Ok(Output {
        status,
        stdout: stdout.finish(grace),
        stderr: stderr.finish(grace),
        timed_out,
        elapsed: start.elapsed(),
    })
}

/// True once `pid` (our child) has exited; it is left unreaped (`WNOWAIT`).
fn exited_unreaped(pid: libc::pid_t) -> std::io::Result<bool> {
    // SAFETY: zeroed siginfo_t is a valid out-parameter for waitid(2).
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: waitid on our own child with a valid out-pointer.
    let rc = unsafe {
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: si_pid is set by waitid (0 when nothing has exited yet with WNOHANG).
    Ok(unsafe { info.si_pid() } != 0)
}

/// A thread copying one pipe into a shared buffer.
struct Drain {
    buffer: Arc<Mutex<Vec<u8>>>,
    done: mpsc::Receiver<()>,
}

impl Drain {
    fn start<R: Read + Send + 'static>(mut pipe: R) -> Drain {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let (tx, done) = mpsc::channel();
        let shared = Arc::clone(&buffer);
        thread::spawn(move || {
            let mut chunk = [0u8; 8192];
            while let Ok(n @ 1..) = pipe.read(&mut chunk) {
                if let Ok(mut b) = shared.lock() {
                    b.extend_from_slice(&chunk[..n]);
                }
            }
            let _ = tx.send(());
        });
        Drain { buffer, done }
    }

    /// What was read, once the pipe closed or `deadline` passed.
    fn finish(self, deadline: Instant) -> String {
        let _ = self
            .done
            .recv_timeout(deadline.saturating_duration_since(Instant::now()));
        let bytes = self.buffer.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// How long [`eventually`] and the log and exit waits give a condition by default before the
/// test fails (a loaded machine is slow).
pub const WAIT: Duration = Duration::from_secs(10);

/// Checks `check` every 20 ms until it gives `Some`, and returns that; panics naming `what`
/// (and the last state `check` reported through `Err`) once `within` has passed. The one
/// polling loop of the tests: a wait for an event with a deadline, never "nothing happened
/// within N ms".
pub fn eventually<T>(
    what: &str,
    within: Duration,
    mut check: impl FnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        match check() {
            Ok(value) => return value,
            Err(last) => assert!(
                Instant::now() < deadline,
                "{what}: not within {within:?}; last seen: {last}"
            ),
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Waits (at most `within`) for `child` to exit; kills and reaps it and returns `None` when it
/// does not.
pub fn wait_exit(child: &mut Child, within: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().expect("try_wait on our own child") {
            return Some(status);
        }
        thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// The `FAIL:` lines of a client script's stdout, or its tail when it has none.
pub fn failure_lines(stdout: &str) -> String {
    let fails: Vec<&str> = stdout.lines().filter(|l| l.starts_with("FAIL")).collect();
    if fails.is_empty() {
        tail(stdout, 4000).to_string()
    } else {
        fails.join("\n")
    }
}

/// What a failed package install (`what`: "npm install", "pip install") of `wanted` printed,
/// for the skip notice or the CI failure.
pub fn install_problem(what: &str, wanted: &[String], out: &Output) -> String {
    format!(
        "{what} {}: {}{}\n{}{}",
        wanted.join(" "),
        out.status,
        if out.timed_out { " (timed out)" } else { "" },
        tail(&out.stdout, 2000),
        tail(&out.stderr, 3000)
    )
}

/// The last `max` characters of `text`, for panic messages.
pub fn tail(text: &str, max: usize) -> &str {
    match text.char_indices().rev().nth(max) {
        Some((i, _)) => &text[i..],
        None => text,
    }
}

#[test]
fn parses_listening_lines() {
    assert_eq!(
        parse_listening("mcpd: info: listening on http://127.0.0.1:41234/mcp\n"),
        Some((41234, "/mcp".to_string()))
    );
    assert_eq!(
        parse_listening("listening on http://[::1]:8000/x/y"),
        Some((8000, "/x/y".to_string()))
    );
    assert_eq!(parse_listening("mcpd: info: starting"), None);
}
