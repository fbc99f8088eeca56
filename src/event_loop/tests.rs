//! Tests of the event loop's dispatch with a readiness source the test controls: the sockets
//! are real (127.0.0.1, port 0), but which events a batch holds and in what order is the
//! test's choice, not the kernel's. `Rig::wait` only waits until the kernel has the bytes or the
//! connection the next event stands for, so the event the test then dispatches is true.

use super::{listen, Ready, Shell, SocketTable, LISTENERS};
use crate::builtin::Builtin;
use crate::config::Config;
use crate::id::ConnId;
use crate::server::Server;
use mio::{Events, Poll, Token};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// How long any one wait for the kernel may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(10);

/// A shell over one real listener, with no poll loop: the test dispatches every event.
struct Rig {
    shell: Shell<()>,
    addr: SocketAddr,
    events: Events,
}

impl Rig {
    fn new() -> Rig {
        Rig::with(Config::default())
    }

    fn with(config: Config) -> Rig {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind port 0");
        let addr = std_listener.local_addr().expect("local address");
        let mut listener = listen::from_std(std_listener).expect("non-blocking listener");
        let poll = Poll::new().expect("poll");
        listener
            .register(poll.registry(), Token(LISTENERS))
            .expect("register the listener");
        let mut server: Server = Server::new(config, Box::new(Builtin::new()), Instant::now());
        server.listening_on(vec![addr.ip()]);
        Rig {
            shell: Shell::new(poll, server, vec![listener], ()),
            addr,
            events: Events::with_capacity(64),
        }
    }

    /// Waits until the poll reports `token` (events for other tokens are dropped: the test
    /// dispatches what it means to, in its own order).
    fn wait(&mut self, token: Token) {
        let until = Instant::now() + DEADLINE;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "no event for {token:?} within {DEADLINE:?}"
            );
            self.shell
                .poll
                .poll(&mut self.events, Some(left))
                .expect("poll");
            if self.events.iter().any(|e| e.token() == token) {
                return;
            }
        }
    }

    /// A client connection the kernel has queued on the listener (not yet accepted).
    fn connect(&mut self) -> TcpStream {
        let client = TcpStream::connect(self.addr).expect("connect");
        client
            .set_read_timeout(Some(DEADLINE))
            .expect("read timeout");
        self.wait(Token(LISTENERS));
        client
    }

    /// Sends `bytes` from `client` and waits until the server's socket in `slot` has them.
    fn send(&mut self, client: &mut TcpStream, slot: usize, bytes: &[u8]) {
        client.write_all(bytes).expect("client write");
        self.wait(Token(slot));
    }

    /// The connection whose socket sits in `slot`.
    fn conn_at(&self, slot: usize) -> Option<ConnId> {
        self.shell.sockets.id_at(slot)
    }

    fn health(&self, close: bool) -> Vec<u8> {
        let connection = if close { "close" } else { "keep-alive" };
        format!(
            "GET /health HTTP/1.1\r\nHost: {}\r\nConnection: {connection}\r\n\r\n",
            self.addr
        )
        .into_bytes()
    }
}

fn readable(slot: usize) -> Ready {
    Ready::Socket {
        slot,
        read: true,
        closed: false,
        write: false,
    }
}

fn writable(slot: usize) -> Ready {
    Ready::Socket {
        slot,
        read: false,
        closed: false,
        write: true,
    }
}

/// Reads one response framed by its Content-Length (the head parsed by httparse, the crate the
/// server reads requests with): (status, body).
fn read_response(client: &mut TcpStream) -> (u16, Vec<u8>) {
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
        match client.read(&mut byte) {
            Ok(1) => got.push(byte[0]),
            other => panic!("head cut short ({other:?}) after {:?}", lossy(&got)),
        }
    }
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut head = httparse::Response::new(&mut headers);
    assert!(
        head.parse(&got).is_ok_and(|s| s.is_complete()),
        "{}",
        lossy(&got)
    );
    let length = head
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .and_then(|h| std::str::from_utf8(h.value).ok()?.parse().ok())
        .expect("Content-Length");
    let mut body = vec![0; length];
    client.read_exact(&mut body).expect("body");
    (head.code.expect("status"), body)
}

/// Asserts the server closed `client`'s connection: the next read is EOF (or a reset).
fn assert_closed(client: &mut TcpStream) {
    let mut rest = [0u8; 64];
    match client.read(&mut rest) {
        Ok(0) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        other => panic!("expected the server to close, got {other:?}"),
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A first connection in slot 0 with its answer computed but not written and `Connection:
/// close` asked for, as when the socket's send buffer was full: the writable event that
/// finishes it is then the one that frees its slot.
fn closing_first_connection(rig: &mut Rig) -> (TcpStream, ConnId) {
    let client = rig.connect();
    rig.shell.dispatch(Ready::Accept(0));
    let conn = rig.conn_at(0).expect("first connection in slot 0");
    let request = rig.health(true);
    rig.shell
        .server
        .handle_input(conn, &request, Instant::now());
    assert!(!rig.shell.server.pending_output(conn).is_empty());
    (client, conn)
}

/// Asserts `client` got its whole answer (200) and then the server's close.
fn assert_answered_then_closed(client: &mut TcpStream) {
    let (status, body) = read_response(client);
    assert_eq!(status, 200, "{}", lossy(&body));
    assert_closed(client);
}

/// Asserts the connection of `client` in `slot` is the live one: it answers a request.
fn assert_serves(rig: &mut Rig, client: &mut TcpStream, slot: usize) {
    let request = rig.health(false);
    rig.send(client, slot, &request);
    rig.shell.dispatch(readable(slot));
    let (status, body) = read_response(client);
    assert_eq!(status, 200, "{}", lossy(&body));
}

#[test]
fn a_stale_close_leaves_the_new_socket_of_a_reused_slot_alone() {
    let mut table = SocketTable::default();
    let old = ConnId::new(0, 0);
    let new = ConnId::new(0, 1);
    table.insert(old, "old socket");
    // The old connection's close is still queued when the slot is reused.
    table.insert(new, "new socket");
    assert_eq!(table.take(old), None);
    assert_eq!(table.id_at(0), Some(new));
    assert_eq!(table.get_mut(new), Some(&mut "new socket"));
    assert_eq!(table.take(new), Some("new socket"));
    assert_eq!(table.id_at(0), None);
}

#[test]
fn a_connection_accepted_after_a_write_freed_its_slot_in_the_same_batch_survives() {
    let mut rig = Rig::new();
    let (mut first, old) = closing_first_connection(&mut rig);
    let mut second = rig.connect();

    // One batch: the write that finishes the closing connection, then the accept that
    // reuses its slot.
    rig.shell.dispatch(writable(0));
    rig.shell.dispatch(Ready::Accept(0));

    let new = rig.conn_at(0).expect("second connection in slot 0");
    assert_ne!(new, old);
    assert_eq!(rig.shell.server.connection_count(), 1);
    assert_answered_then_closed(&mut first);
    assert_serves(&mut rig, &mut second, 0);
    assert_eq!(rig.conn_at(0), Some(new));
    assert_eq!(rig.shell.server.connection_count(), 1);
}

#[test]
fn a_request_hang_up_and_writable_in_one_event_are_answered_and_the_slot_is_freed() {
    let mut rig = Rig::new();
    let mut client = rig.connect();
    rig.shell.dispatch(Ready::Accept(0));
    let conn = rig.conn_at(0).expect("accepted");
    let request = rig.health(false);
    client.write_all(&request).expect("client write");
    client.shutdown(Shutdown::Write).expect("half-close");
    rig.wait(Token(0));

    // Readable, read-closed and writable arrive as one event: the read answers and closes,
    // and the write half of the same event then finds the connection gone (a no-op).
    rig.shell.dispatch(Ready::Socket {
        slot: 0,
        read: true,
        closed: true,
        write: true,
    });

    assert_answered_then_closed(&mut client);
    assert_eq!(rig.conn_at(0), None);
    assert_eq!(rig.shell.server.connection_count(), 0);
    // A writable event for the freed slot later in the batch finds nothing, and the next
    // connection takes the slot under a new id.
    rig.shell.dispatch(writable(0));
    let mut next = rig.connect();
    rig.shell.dispatch(Ready::Accept(0));
    let reused = rig.conn_at(0).expect("slot 0 reused");
    assert_ne!(reused, conn);
    assert_serves(&mut rig, &mut next, 0);
}

#[test]
fn a_slot_reused_twice_in_one_batch_keeps_only_its_newest_connection() {
    let mut rig = Rig::new();
    let (mut first, a) = closing_first_connection(&mut rig);
    let mut second = rig.connect();
    let mut third = rig.connect();
    // The second connection sends a `Connection: close` request before it is even accepted.
    let request = rig.health(true);
    second.write_all(&request).expect("client write");

    // One batch: the write frees slot 0; the accept takes both queued connections (the second
    // into slot 0, the third into slot 1); the second's request-and-close frees slot 0 again;
    // stale events for slot 0 follow, then another accept.
    rig.shell.dispatch(writable(0));
    rig.shell.dispatch(Ready::Accept(0));
    let b = rig.conn_at(0).expect("second in slot 0");
    let c = rig.conn_at(1).expect("third in slot 1");
    rig.wait(Token(0));
    rig.shell.dispatch(readable(0));
    rig.shell.dispatch(Ready::Socket {
        slot: 0,
        read: true,
        closed: false,
        write: true,
    });
    let mut fourth = rig.connect();
    rig.shell.dispatch(Ready::Accept(0));

    let d = rig.conn_at(0).expect("fourth in slot 0");
    let ids = [a, b, d];
    assert!(ids.iter().all(|id| id.slot() == 0));
    assert!(a.generation() < b.generation() && b.generation() < d.generation());
    assert_eq!(rig.shell.server.connection_count(), 2);
    assert_answered_then_closed(&mut first);
    assert_answered_then_closed(&mut second);
    assert_serves(&mut rig, &mut fourth, 0);
    assert_serves(&mut rig, &mut third, 1);
    assert_eq!(rig.conn_at(0), Some(d));
    assert_eq!(rig.conn_at(1), Some(c));
}

#[test]
fn an_event_for_a_slot_with_no_socket_is_a_spurious_wake_up() {
    let mut rig = Rig::new();
    rig.shell.dispatch(readable(7));
    rig.shell.dispatch(writable(7));
    rig.shell.dispatch(Ready::Accept(3));
    let mut client = rig.connect();
    rig.shell.dispatch(Ready::Accept(0));
    assert_serves(&mut rig, &mut client, 0);
}

#[test]
fn a_connection_past_the_cap_is_closed_at_accept_and_takes_no_slot() {
    let mut config = Config::default();
    config.limits.max_connections = 1;
    let mut rig = Rig::with(config);
    let mut kept = rig.connect();
    let mut refused = rig.connect();
    rig.shell.dispatch(Ready::Accept(0));
    assert_closed(&mut refused);
    assert_eq!(rig.shell.server.connection_count(), 1);
    assert_eq!(rig.conn_at(1), None);
    assert_serves(&mut rig, &mut kept, 0);
}

#[test]
fn reads_are_stamped_with_the_turns_clock_not_a_clock_read_each() {
    let mut config = Config::default();
    config.limits.keep_alive_timeout = Duration::from_secs(1);
    let mut rig = Rig::with(config);
    // The time the turn's poll returned, before anything of this test happened.
    let turn = Instant::now();
    let mut client = rig.connect();
    rig.shell.dispatch(Ready::Accept(0));
    let request = rig.health(false);
    rig.send(&mut client, 0, &request);
    rig.shell.now = turn;
    rig.shell.dispatch(readable(0));
    let (status, body) = read_response(&mut client);
    assert_eq!(status, 200, "{}", lossy(&body));
    // The answered request arms the keep-alive deadline from the turn's time (earlier than
    // the 10 s head deadline the accept armed, so it is the next one).
    assert_eq!(
        rig.shell.server.next_deadline(),
        Some(turn + Duration::from_secs(1))
    );
}
