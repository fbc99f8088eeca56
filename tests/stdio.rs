//! `mcpd --stdio` as a process whose reader falls behind: the output it holds stays bounded
//! (stdin is left unread instead), nothing is lost, and a stop signal is still served while
//! stdout is full (stdout is written through the event loop, never with a blocking write).

mod common;

use common::{eventually, mcpd_bin, wait_exit, WAIT};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::thread;

/// Echo calls sent without reading an answer; their answers (4 MiB) are far more than a pipe
/// and mcpd's 1 MiB output bound hold.
const CALLS: usize = 64;
const MESSAGE_BYTES: usize = 64 * 1024;

fn spawn_stdio() -> Child {
    Command::new(mcpd_bin())
        .arg("--stdio")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("mcpd starts")
}

/// Writes `initialize` and the echo calls from a thread (it blocks while mcpd holds back).
fn send_calls(mut stdin: ChildStdin) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
            "protocolVersion":"2025-06-18","capabilities":{},
            "clientInfo":{"name":"t","version":"1"}}});
        let mut lines = vec![init.to_string()];
        for id in 1..=CALLS {
            let message = "x".repeat(MESSAGE_BYTES);
            let call = json!({"jsonrpc":"2.0","id":id,"method":"tools/call",
                "params":{"name":"echo","arguments":{"message":message}}});
            lines.push(call.to_string());
        }
        for line in lines {
            // A broken pipe (mcpd stopped) ends the writer.
            if writeln!(stdin, "{line}").is_err() {
                return;
            }
        }
    })
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Bytes waiting in the pipe behind `fd` (either end) and the pipe's capacity.
fn pipe_fill(fd: BorrowedFd) -> (usize, usize) {
    let mut queued: libc::c_int = 0;
    // SAFETY: FIONREAD on a pipe descriptor we hold, into a c_int we own.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::FIONREAD, &mut queued) };
    assert_eq!(rc, 0, "FIONREAD: {}", std::io::Error::last_os_error());
    // SAFETY: F_GETPIPE_SZ on a pipe descriptor we hold; no pointer involved.
    let capacity = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETPIPE_SZ) };
    assert!(
        capacity > 0,
        "F_GETPIPE_SZ: {}",
        std::io::Error::last_os_error()
    );
    (queued as usize, capacity as usize)
}

/// Whether the pipe behind `fd` is full, give or take the page its reader is part-way through.
fn pipe_full(fd: BorrowedFd) -> Result<(), String> {
    let (queued, capacity) = pipe_fill(fd);
    if queued + 4096 >= capacity {
        Ok(())
    } else {
        Err(format!("{queued} of {capacity} bytes queued"))
    }
}

/// `mcpd --stdio` with the calls being written to it and nothing read yet, once it holds back:
/// its stdout pipe is full (nobody reads it) and so is its stdin pipe (it stopped reading the
/// calls instead of buffering their answers). The child and the writer thread.
fn held_back_stdio() -> (Child, thread::JoinHandle<()>) {
    let mut child = spawn_stdio();
    let stdin = child.stdin.take().unwrap();
    // A second descriptor for the same pipe, to look at it while the writer owns the first;
    // dropped before returning, so the writer's close is still mcpd's end-of-file.
    let watch = stdin.as_fd().try_clone_to_owned().unwrap();
    let writer = send_calls(stdin);
    let stdout = child.stdout.as_ref().unwrap().as_fd();
    eventually("mcpd's stdout full and its stdin left unread", WAIT, || {
        pipe_full(stdout).map_err(|e| format!("stdout: {e}"))?;
        pipe_full(watch.as_fd()).map_err(|e| format!("stdin: {e}"))
    });
    drop(watch);
    (child, writer)
}

#[test]
fn a_stalled_reader_bounds_memory_and_a_stop_signal_still_ends_mcpd() {
    let (mut child, writer) = held_back_stdio();
    let rss = rss_kib(child.id());
    assert!(rss < 24 * 1024, "RSS {rss} KiB with a stalled reader");
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = wait_exit(&mut child, WAIT);
    assert!(
        status.is_some_and(|s| s.success()),
        "mcpd did not stop while stdout was full: {status:?}"
    );
    drop(child.stdout.take());
    writer.join().unwrap();
}

#[test]
fn a_slow_reader_gets_every_answer_in_order() {
    // The reader starts only once mcpd has had to hold back.
    let (mut child, writer) = held_back_stdio();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    for id in 0..=CALLS {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "answer {id} missing"
        );
        let answer: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(answer["id"], id);
        if id > 0 {
            let text = answer["result"]["content"][0]["text"].as_str().unwrap();
            assert_eq!(text.len(), MESSAGE_BYTES);
        }
    }
    writer.join().unwrap();
    // The writer is done and its end of stdin is closed: mcpd ends by itself.
    let status = wait_exit(&mut child, WAIT);
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
}
