//! The only unsafe code in mcpd: POSIX calls that neither std nor mio wrap.
//!
//! - stop signals (SIGTERM, SIGINT) and, for the bridge, SIGCHLD turned into a flag and a byte
//!   on a pipe the event loop polls, the classic self-pipe: the handler only does
//!   async-signal-safe work (atomic stores and loads and `write(2)`);
//! - for bridge children: a parent-death signal set between fork and exec, signals to a
//!   child's process group, and a look at whether a child has exited without reaping it;
//! - descriptors above 2 kept from bridged children (close-on-exec), inherited ones included;
//! - a non-blocking `send` for the log when stderr is a socket;
//! - SIGHUP ignored (DESIGN 7: it reopens nothing);
//! - the open-file soft limit raised to the hard limit, so 10,000 connections fit;
//! - the listening sockets systemd passes (socket activation) taken over.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::RawFd;
use std::os::unix::process::CommandExt;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

static SIGNAL_PIPE: AtomicI32 = AtomicI32::new(-1);
static STOP_REQUESTED: AtomicBool = AtomicBool::new(false);
static CHILD_EXITED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(signal: libc::c_int) {
    if signal == libc::SIGCHLD {
        CHILD_EXITED.store(true, Ordering::SeqCst);
    } else {
        STOP_REQUESTED.store(true, Ordering::SeqCst);
    }
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
        set_handler(signal, on_signal as *const () as libc::sighandler_t, 0)?;
    }
    set_handler(libc::SIGHUP, libc::SIG_IGN, 0)
}

/// Also routes SIGCHLD (exits only, not stops) to the pipe given to [`install_stop_signals`].
pub fn install_child_signal() -> io::Result<()> {
    let handler = on_signal as *const () as libc::sighandler_t;
    set_handler(libc::SIGCHLD, handler, libc::SA_NOCLDSTOP)
}

/// Whether SIGTERM or SIGINT arrived since the last call.
pub fn take_stop_request() -> bool {
    STOP_REQUESTED.swap(false, Ordering::SeqCst)
}

/// Whether SIGCHLD arrived since the last call.
pub fn take_child_exit() -> bool {
    CHILD_EXITED.swap(false, Ordering::SeqCst)
}

/// Makes the child `command` starts get SIGKILL when mcpd dies (Linux `PR_SET_PDEATHSIG`; it
/// fires when the forking thread ends, and mcpd has one thread). A child whose parent died
/// before the call fails to start instead.
pub fn kill_with_parent(command: &mut std::process::Command) {
    let parent = std::process::id();
    // SAFETY: the closure runs between fork and exec and only makes the async-signal-safe
    // syscalls prctl(2) and getppid(2); it allocates nothing (io::Error from a raw code does not).
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            if libc::getppid() as u32 != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}

/// Makes every descriptor above 2 close when the child `command` starts runs its program
/// (`close_range(3, ~0, CLOSE_RANGE_CLOEXEC)`, Linux 5.11). Marking instead of closing keeps
/// std's own exec-error pipe working. On older kernels the call fails and is ignored:
/// [`cloexec_inherited`] at startup already covers what mcpd inherited, and everything mcpd
/// opens itself is close-on-exec.
pub fn close_fds_on_exec(command: &mut std::process::Command) {
    // SAFETY: the closure runs between fork and exec and makes one async-signal-safe syscall
    // with plain integer arguments; it allocates nothing.
    unsafe {
        command.pre_exec(|| {
            libc::syscall(
                libc::SYS_close_range,
                3 as libc::c_uint,
                libc::c_uint::MAX,
                libc::CLOSE_RANGE_CLOEXEC,
            );
            Ok(())
        });
    }
}

/// Marks every descriptor above 2 that mcpd inherited from its launcher close-on-exec, so no
/// bridged child inherits it. Call once at startup, before any child starts; returns how many
/// descriptors were open besides stdio (listed in `/proc/self/fd`).
pub fn cloexec_inherited() -> io::Result<usize> {
    let fds: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&fd: &RawFd| fd > 2)
        .collect();
    for &fd in &fds {
        // SAFETY: fcntl(2) with F_GETFD/F_SETFD on a plain integer; a descriptor closed
        // meanwhile (the directory listing's own) fails with EBADF, which is ignored.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags >= 0 {
                libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
            }
        }
    }
    Ok(fds.len())
}

/// `--exit-with-parent`: mcpd gets SIGTERM (a graceful stop) when the process that started it
/// dies. Fails if that parent is already gone (we were re-parented before the call).
pub fn stop_with_parent() -> io::Result<()> {
    // SAFETY: prctl(2) with PR_SET_PDEATHSIG and a plain signal number reads no memory of ours;
    // getppid(2) cannot fail.
    unsafe {
        let parent = libc::getppid();
        if libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGTERM as libc::c_ulong,
            0,
            0,
            0,
        ) != 0
        {
            return Err(io::Error::last_os_error());
        }
        if parent == 1 || libc::getppid() != parent {
            return Err(io::Error::other("the parent process is already gone"));
        }
    }
    Ok(())
}

/// Sends SIGTERM (or SIGKILL when `kill`) to the process group `pgid`. Only call it while the
/// group's leader is not reaped, so the id cannot have been reused.
pub fn signal_group(pgid: u32, kill: bool) -> io::Result<()> {
    let signal = if kill { libc::SIGKILL } else { libc::SIGTERM };
    let pgid =
        libc::pid_t::try_from(pgid).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: kill(2) takes plain integers; a negative pid names the process group.
    if unsafe { libc::kill(-pgid, signal) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// One `send(2)` on the socket `fd` that never blocks (`MSG_DONTWAIT`) and never raises
/// SIGPIPE (`MSG_NOSIGNAL`): the log's writer when stderr is a socket (journald).
pub fn send_nonblocking(fd: RawFd, bytes: &[u8]) -> io::Result<usize> {
    // SAFETY: send(2) reads `bytes.len()` bytes from a live slice.
    let n = unsafe {
        libc::send(
            fd,
            bytes.as_ptr().cast(),
            bytes.len(),
            libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
        )
    };
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

/// Whether our child `pid` has exited; it stays unreaped (`WNOWAIT`), so its pid and process
/// group id stay ours until `wait` reaps it.
pub fn has_exited(pid: u32) -> io::Result<bool> {
    // SAFETY: a zeroed siginfo_t is a valid out-parameter for waitid(2).
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: waitid(2) on one pid with a pointer to a live local.
    let rc = unsafe {
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: waitid filled `info`; si_pid is 0 when nothing has exited yet (WNOHANG).
    Ok(unsafe { info.si_pid() } != 0)
}

fn set_handler(
    signal: libc::c_int,
    handler: libc::sighandler_t,
    flags: libc::c_int,
) -> io::Result<()> {
    // SAFETY: a zeroed sigaction is a valid starting value; we set the handler and an empty
    // mask before passing pointers to live locals to sigaction(2).
    let rc = unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = handler;
        action.sa_flags = libc::SA_RESTART | flags;
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

/// Most descriptors taken from `LISTEN_FDS`: more is surely not a unit file's intent.
const MAX_LISTEN_FDS: usize = 64;

/// systemd socket activation (`sd_listen_fds(3)`): the listening sockets passed as descriptors
/// 3 onward when `LISTEN_PID` names this process and `LISTEN_FDS` counts them. The variables
/// (and `LISTEN_FDNAMES`) are removed either way, so bridged children never see them; each
/// descriptor gets close-on-exec. An unusable descriptor (not a listening socket) is an error.
pub fn take_listen_fds() -> io::Result<Vec<std::os::fd::OwnedFd>> {
    use std::os::fd::FromRawFd;
    let pid = std::env::var("LISTEN_PID").ok();
    let count = std::env::var("LISTEN_FDS").ok();
    for var in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        std::env::remove_var(var);
    }
    let (Some(pid), Some(count)) = (pid, count) else {
        return Ok(Vec::new());
    };
    if pid.trim().parse::<u32>().ok() != Some(std::process::id()) {
        return Ok(Vec::new());
    }
    let count: usize = count
        .trim()
        .parse()
        .ok()
        .filter(|n| *n <= MAX_LISTEN_FDS)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("LISTEN_FDS={count:?}: expected 0 to {MAX_LISTEN_FDS}"),
            )
        })?;
    let mut fds = Vec::with_capacity(count);
    for fd in 3..3 + count as RawFd {
        let mut listening: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: getsockopt(2) writes at most `len` bytes into a live local c_int; it fails
        // with EBADF or ENOTSOCK for a descriptor that is not an open socket.
        let rc = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_ACCEPTCONN,
                (&mut listening as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        if rc != 0 || listening == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("LISTEN_FDS: descriptor {fd} is not a listening stream socket"),
            ));
        }
        // SAFETY: fcntl(2) on a descriptor just checked to be open; it only sets a flag.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        // SAFETY: systemd handed these descriptors to this process (LISTEN_PID is ours) and
        // nothing else in mcpd owns them, so taking ownership once here is sound.
        fds.push(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) });
    }
    Ok(fds)
}
