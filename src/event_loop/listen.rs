//! Listening sockets: TCP (`--host`/`--port`, `--listen HOST:PORT`), Unix (`--listen
//! unix:PATH`) and those systemd passes (socket activation), and the accepted streams of either
//! kind behind one type, so the rest of the loop does not care which it serves.

use crate::config::{Config, ListenAddr};
use crate::sys;
use mio::event::Source;
use mio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use mio::{Interest, Registry, Token};
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// One socket mcpd accepts connections on.
pub(super) enum Listener {
    /// A TCP listener.
    Tcp(TcpListener),
    /// A Unix stream listener; `created` is the socket file mcpd made (removed on drop), `None`
    /// for one systemd passed (systemd owns that file).
    Unix {
        listener: UnixListener,
        path: PathBuf,
        created: bool,
    },
}

/// An accepted connection of either kind.
pub(super) enum Stream {
    /// Over TCP.
    Tcp(TcpStream),
    /// Over a Unix socket.
    Unix(UnixStream),
}

impl Listener {
    /// Accepts one connection (non-blocking: `WouldBlock` when the queue is empty).
    pub(super) fn accept(&self) -> io::Result<Stream> {
        match self {
            Listener::Tcp(listener) => {
                let (stream, _) = listener.accept()?;
                let _ = stream.set_nodelay(true);
                Ok(Stream::Tcp(stream))
            }
            Listener::Unix { listener, .. } => Ok(Stream::Unix(listener.accept()?.0)),
        }
    }

    /// The TCP address, if this is a TCP listener.
    pub(super) fn tcp_addr(&self) -> Option<SocketAddr> {
        match self {
            Listener::Tcp(listener) => listener.local_addr().ok(),
            Listener::Unix { .. } => None,
        }
    }

    /// What the "listening on" log line names: `http://ADDR/PATH` or `unix:PATH`.
    pub(super) fn describe(&self, path: &str) -> String {
        match self {
            Listener::Tcp(listener) => match listener.local_addr() {
                Ok(addr) => format!("http://{addr}{path}"),
                Err(_) => format!("a TCP socket (endpoint {path})"),
            },
            Listener::Unix { path: file, .. } => {
                format!("unix:{} (endpoint {path})", file.display())
            }
        }
    }

    /// Takes it out of the poll.
    pub(super) fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        match self {
            Listener::Tcp(l) => registry.deregister(l),
            Listener::Unix { listener, .. } => registry.deregister(listener),
        }
    }

    /// Registers for readable events under `token`.
    pub(super) fn register(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        match self {
            Listener::Tcp(l) => registry.register(l, token, Interest::READABLE),
            Listener::Unix { listener, .. } => {
                registry.register(listener, token, Interest::READABLE)
            }
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Listener::Unix {
            path,
            created: true,
            ..
        } = self
        {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The TCP addresses among `listeners`, for the Host guard.
pub(super) fn tcp_ips(listeners: &[Listener]) -> Vec<IpAddr> {
    listeners
        .iter()
        .filter_map(Listener::tcp_addr)
        .map(|a| a.ip())
        .collect()
}

/// Every listener `config` asks for: the sockets systemd passed (`LISTEN_FDS`, when
/// `LISTEN_PID` is this process) plus each `--listen` address; `--host`/`--port` only when
/// there is neither.
pub(super) fn bind_all(config: &Config) -> io::Result<Vec<Listener>> {
    let mut listeners = Vec::new();
    for fd in sys::take_listen_fds()? {
        listeners.push(adopt(fd)?);
    }
    for addr in &config.listen {
        listeners.push(match addr {
            ListenAddr::Tcp(addr) => bind_tcp(*addr)?,
            ListenAddr::Unix(path) => bind_unix(path, config.socket_mode)?,
        });
    }
    if listeners.is_empty() {
        listeners.push(bind_tcp(SocketAddr::new(config.host, config.port))?);
    }
    Ok(listeners)
}

/// Wraps a std TCP listener someone else bound (the library's `serve`).
pub(super) fn from_std(listener: std::net::TcpListener) -> io::Result<Listener> {
    listener.set_nonblocking(true)?;
    Ok(Listener::Tcp(TcpListener::from_std(listener)))
}

fn bind_tcp(addr: SocketAddr) -> io::Result<Listener> {
    match std::net::TcpListener::bind(addr) {
        Ok(listener) => from_std(listener),
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => Err(io::Error::new(
            e.kind(),
            format!(
                "cannot listen on {addr}: address already in use (another process listens \
                 there); choose another port with --port (MCPD_PORT) or another --listen address"
            ),
        )),
        Err(e) => Err(io::Error::new(
            e.kind(),
            format!("cannot listen on {addr}: {e}"),
        )),
    }
}

/// Binds `unix:PATH` with `mode`. A socket file left by a process that is gone (connecting is
/// refused) is replaced; a live one, or any other file, is an error, never overwritten.
fn bind_unix(path: &Path, mode: u32) -> io::Result<Listener> {
    let shown = path.display();
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("cannot listen on unix:{shown}: the file exists and is not a socket"),
            ));
        }
        match std::os::unix::net::UnixStream::connect(path) {
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("cannot listen on unix:{shown}: another process is serving it"),
                ))
            }
            Err(_) => std::fs::remove_file(path)?,
        }
    }
    let listener = std::os::unix::net::UnixListener::bind(path)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on unix:{shown}: {e}")))?;
    // Permissions are set after bind: until then the umask's bits apply (by default only the
    // owner may write, so nobody else can connect in between).
    let ready = listener.set_nonblocking(true).and_then(|()| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| io::Error::new(e.kind(), format!("--socket-mode on unix:{shown}: {e}")))
    });
    // Built first, so a failure below removes the file again (Drop).
    let bound = Listener::Unix {
        listener: UnixListener::from_std(listener),
        path: path.to_path_buf(),
        created: true,
    };
    ready.map(|()| bound)
}

/// A descriptor systemd passed: TCP when it has an IP address, Unix otherwise.
fn adopt(fd: OwnedFd) -> io::Result<Listener> {
    let tcp = std::net::TcpListener::from(fd);
    if tcp.local_addr().is_ok() {
        return from_std(tcp);
    }
    let unix = std::os::unix::net::UnixListener::from(OwnedFd::from(tcp));
    let path = unix
        .local_addr()?
        .as_pathname()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("(unnamed)"));
    unix.set_nonblocking(true)?;
    Ok(Listener::Unix {
        listener: UnixListener::from_std(unix),
        path,
        created: false,
    })
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.flush(),
            Stream::Unix(s) => s.flush(),
        }
    }
}

impl Source for Stream {
    fn register(&mut self, r: &Registry, token: Token, interest: Interest) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.register(r, token, interest),
            Stream::Unix(s) => s.register(r, token, interest),
        }
    }

    fn reregister(&mut self, r: &Registry, token: Token, interest: Interest) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.reregister(r, token, interest),
            Stream::Unix(s) => s.reregister(r, token, interest),
        }
    }

    fn deregister(&mut self, r: &Registry) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.deregister(r),
            Stream::Unix(s) => s.deregister(r),
        }
    }
}
