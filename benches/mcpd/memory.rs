//! Memory: idle RSS of a fresh mcpd, and RSS growth per legacy session holding an open GET SSE
//! stream with heartbeats flowing (every stream is read, and must see them).

use crate::client::{self, Conn};
use crate::procs::{self, Cpus, Server};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

/// How long a fresh server settles before its idle RSS is read.
const SETTLE: Duration = Duration::from_millis(300);
/// Pause between sweeps over the held streams.
const SWEEP_EVERY: Duration = Duration::from_millis(100);

/// Sessions held with open streams.
#[derive(Clone, Debug)]
pub struct Held {
    pub sessions: usize,
    pub base_kib: u64,
    pub held_kib: u64,
    pub kib_per_session: f64,
    /// Fewest heartbeats any one stream saw while held.
    pub min_heartbeats: u64,
    pub hold_seconds: f64,
}

/// VmRSS and RssAnon (its private part: no shared library pages) of a fresh mcpd with default
/// flags, once settled.
pub fn idle_rss(mcpd: &Path, cpus: Cpus) -> Result<(u64, u64), String> {
    let server = Server::start(
        cpus.server,
        Command::new(mcpd).args(["--port", "0"]),
        "listening on http://",
    )
    .map_err(|e| format!("mcpd: {e}"))?;
    thread::sleep(SETTLE);
    let rss = procs::rss_kib(server.pid()).and_then(|rss| {
        let anon = procs::status_field(server.pid(), "RssAnon")?;
        let anon = anon
            .parse()
            .map_err(|e| io::Error::other(format!("RssAnon: {e}")))?;
        Ok((rss, anon))
    });
    server.stop();
    rss.map_err(|e| e.to_string())
}

/// Opens `sessions` sessions with a GET stream each on a fresh mcpd (heartbeat 1 s), reads the
/// streams for `hold`, and reads RSS while they are still open.
pub fn held(mcpd: &Path, cpus: Cpus, sessions: usize, hold: Duration) -> Result<Held, String> {
    let limit = (sessions + 64).to_string();
    let server = Server::start(
        cpus.server,
        Command::new(mcpd).args([
            "--port",
            "0",
            "--heartbeat",
            "1",
            "--max-sessions",
            &limit,
            "--max-connections",
            &limit,
        ]),
        "listening on http://",
    )
    .map_err(|e| format!("mcpd: {e}"))?;
    let outcome = hold_streams(&server, sessions, hold);
    let outcome = outcome.map_err(|e| format!("{e}; mcpd stderr: {}", server.stderr_tail()));
    server.stop();
    outcome
}

fn hold_streams(server: &Server, sessions: usize, hold: Duration) -> io::Result<Held> {
    thread::sleep(SETTLE);
    let base_kib = procs::rss_kib(server.pid())?;
    let mut ids = Vec::with_capacity(sessions);
    {
        let mut conn = Conn::connect(server.port, "/mcp")?;
        for _ in 0..sessions {
            ids.push(client::open_session(&mut conn)?);
        }
    }
    let mut streams = Vec::with_capacity(sessions);
    for id in &ids {
        let mut stream = TcpStream::connect(("127.0.0.1", server.port))?;
        write!(
            stream,
            "GET /mcp HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAccept: text/event-stream\r\n\
             Mcp-Session-Id: {id}\r\nMCP-Protocol-Version: {}\r\n\r\n",
            server.port,
            client::PROTOCOL_VERSION
        )?;
        stream.set_nonblocking(true)?;
        streams.push(Stream {
            stream,
            answered: false,
            heartbeats: 0,
        });
    }
    let start = Instant::now();
    let mut buf = vec![0u8; 16 * 1024];
    while start.elapsed() < hold {
        for stream in &mut streams {
            stream.drain(&mut buf)?;
        }
        thread::sleep(SWEEP_EVERY);
    }
    let held_kib = procs::rss_kib(server.pid())?;
    let hold_seconds = start.elapsed().as_secs_f64();
    if let Some(silent) = streams.iter().position(|s| !s.answered) {
        return Err(client::bad(format!("stream {silent} got no answer head")));
    }
    Ok(Held {
        sessions,
        base_kib,
        held_kib,
        kib_per_session: held_kib.saturating_sub(base_kib) as f64 / sessions as f64,
        min_heartbeats: streams.iter().map(|s| s.heartbeats).min().unwrap_or(0),
        hold_seconds,
    })
}

/// One held GET stream.
struct Stream {
    stream: TcpStream,
    answered: bool,
    heartbeats: u64,
}

impl Stream {
    /// Reads what has arrived; the head must be `200`, then heartbeats (`:\n\n`) are counted.
    fn drain(&mut self, buf: &mut [u8]) -> io::Result<()> {
        loop {
            let read = match self.stream.read(buf) {
                Ok(0) => return Err(client::bad("an SSE stream was closed while held")),
                Ok(read) => read,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            };
            let mut data = &buf[..read];
            if !self.answered {
                if !data.starts_with(b"HTTP/1.1 200 ") {
                    let text = String::from_utf8_lossy(data).into_owned();
                    return Err(client::bad(format!("GET stream answered: {text}")));
                }
                self.answered = true;
                let head_end = client::find(data, b"\r\n\r\n").map_or(data.len(), |at| at + 4);
                data = &data[head_end..];
            }
            self.heartbeats += data.windows(3).filter(|w| w == b":\n\n").count() as u64;
        }
    }
}
