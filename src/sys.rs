//! The only unsafe code in mcpd: POSIX calls that neither std nor mio wrap.
//!
//! - stop signals (SIGTERM, SIGINT) turned into a byte on a pipe the event loop polls, the
//!   classic self-pipe: the handler only does async-signal-safe work (an atomic load and
//!   `write(2)`);
//! - SIGHUP ignored (DESIGN 7: it reopens nothing);
//! - the open-file soft limit raised to the hard limit, so 10,000 connections fit.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicI32, Ordering};

static SIGNAL_PIPE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_stop_signal(_signal: libc::c_int) {
    let fd = SIGNAL_PIPE.load(Ordering::Relaxed);
    if fd >= 0 {
        let byte = 1u8;
        // SAFETY: write(2) is async-signal-safe; the buffer is a live local of length 1. A full
        // pipe (EAGAIN) is fine: one pending byte already wakes the loop.
        unsafe {
            libc::write(fd, (&byte as *const u8).cast(), 1);
        }
    }
}

/// Routes SIGTERM and SIGINT to a write on `pipe_fd` (non-blocking) and ignores SIGHUP.
pub fn install_stop_signals(pipe_fd: RawFd) -> io::Result<()> {
    SIGNAL_PIPE.store(pipe_fd, Ordering::Relaxed);
    for signal in [libc::SIGTERM, libc::SIGINT] {
        set_handler(signal, on_stop_signal as *const () as libc::sighandler_t)?;
    }
    set_handler(libc::SIGHUP, libc::SIG_IGN)
}

fn set_handler(signal: libc::c_int, handler: libc::sighandler_t) -> io::Result<()> {
    // SAFETY: a zeroed sigaction is a valid starting value; we set the handler and an empty
    // mask before passing pointers to live locals to sigaction(2).
    let rc = unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = handler;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(signal, &action, std::ptr::null_mut())
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Raises the soft limit on open files to the hard limit; returns the new soft limit.
pub fn raise_fd_limit() -> io::Result<u64> {
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass, a live local.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(io::Error::last_os_error());
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                return Ok(raised.rlim_cur as u64);
            }
        }
        Ok(limit.rlim_cur as u64)
    }
}
