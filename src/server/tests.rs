//! Unit tests of the sans-IO server: connections driven with fake time, no sockets.

use super::*;
use crate::builtin::Builtin;
use crate::config::ResponseMode;
use crate::mcp::jsonrpc::ErrorObject;
use crate::mcp::{Context, OutgoingId, RequestHandle};
use crate::sse;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

const ACCEPT: &str = "application/json, text/event-stream";

/// One HTTP response read back from a connection's bytes.
#[derive(Debug)]
struct Resp {
    status: u16,
    /// Lower-cased names.
    headers: Vec<(String, String)>,
    /// Body with chunked framing removed.
    body: Vec<u8>,
    /// Whether the body's end was seen.
    complete: bool,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }

    /// The SSE events of the body, heartbeats skipped.
    fn events(&self) -> Vec<sse::ParsedEvent> {
        let mut reader = sse::EventReader::new(1 << 24);
        reader.feed(&self.body).expect("bounded");
        std::iter::from_fn(|| reader.next_event()).collect()
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Every response in `bytes`, the last one possibly unfinished.
fn parse(mut bytes: &[u8]) -> Vec<Resp> {
    let mut out = Vec::new();
    while let Some(end) = find(bytes, b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
        bytes = &bytes[end + 4..];
        let mut lines = head.split("\r\n");
        let status = lines.next().and_then(|l| l.get(9..12)).unwrap();
        let status: u16 = status.parse().unwrap();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let get = |n: &str| headers.iter().find(|(h, _)| h == n).map(|(_, v)| v.clone());
        let mut resp = Resp {
            status,
            headers: headers.clone(),
            body: Vec::new(),
            complete: true,
        };
        if status < 200 {
            out.push(resp);
            continue;
        }
        if let Some(len) = get("content-length") {
            let len: usize = len.parse().unwrap();
            resp.complete = bytes.len() >= len;
            let len = len.min(bytes.len());
            resp.body = bytes[..len].to_vec();
            bytes = &bytes[len..];
        } else if get("transfer-encoding").is_some() {
            resp.complete = false;
            while let Some(line_end) = find(bytes, b"\r\n") {
                let size = String::from_utf8_lossy(&bytes[..line_end]);
                let size = usize::from_str_radix(size.trim(), 16).unwrap();
                if bytes.len() < line_end + 2 + size + 2 {
                    break;
                }
                resp.body
                    .extend_from_slice(&bytes[line_end + 2..line_end + 2 + size]);
                bytes = &bytes[line_end + 2 + size + 2..];
                if size == 0 {
                    resp.complete = true;
                    break;
                }
            }
        } else {
            resp.body = bytes.to_vec();
            bytes = &[];
        }
        out.push(resp);
    }
    out
}

fn post(session: Option<&str>, body: &str) -> Vec<u8> {
    let session = session
        .map(|s| format!("Mcp-Session-Id: {s}\r\n"))
        .unwrap_or_default();
    format!(
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: {ACCEPT}\r\nContent-Type: application/json\r\n{session}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn get_stream(session: &str, last_event: Option<&str>) -> Vec<u8> {
    let last = last_event
        .map(|l| format!("Last-Event-ID: {l}\r\n"))
        .unwrap_or_default();
    format!("GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\nMcp-Session-Id: {session}\r\n{last}\r\n").into_bytes()
}

const HEALTH: &[u8] = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

fn initialize_body(version: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"initialize","params":{{"protocolVersion":"{version}","capabilities":{{}},"clientInfo":{{"name":"t","version":"1"}}}}}}"#
    )
}

fn progress_call(id: u64) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"test_tool_with_progress","arguments":{{}},"_meta":{{"progressToken":"p{id}"}}}}}}"#
    )
}

/// A server driven by hand: a fake clock, and what each connection received.
struct Net<H: Handler = Builtin> {
    server: Server<H>,
    now: Instant,
    got: HashMap<ConnId, Vec<u8>>,
    closed: HashSet<ConnId>,
    /// Connections whose socket takes nothing (a reader that stopped reading).
    stalled: HashSet<ConnId>,
    resumed: Vec<ConnId>,
}

impl Net<Builtin> {
    fn new(config: Config) -> Net {
        Net::with_handler(config, Builtin::new())
    }

    fn with(f: impl FnOnce(&mut Config)) -> Net {
        let mut config = Config::default();
        f(&mut config);
        Net::new(config)
    }
}

impl<H: Handler> Net<H> {
    fn with_handler(config: Config, handler: H) -> Net<H> {
        let now = Instant::now();
        Net {
            server: Server::new(config, Box::new(handler), now),
            now,
            got: HashMap::new(),
            closed: HashSet::new(),
            stalled: HashSet::new(),
            resumed: Vec::new(),
        }
    }

    fn connect(&mut self) -> ConnId {
        let c = self.server.handle_connect(self.now).expect("accepted");
        self.got.remove(&c);
        self.closed.remove(&c);
        self.stalled.remove(&c);
        self.pump();
        c
    }

    fn send(&mut self, c: ConnId, bytes: &[u8]) {
        self.server.handle_input(c, bytes, self.now);
        self.pump();
    }

    /// Drains outputs as an event loop whose sockets take everything (except stalled ones).
    fn pump(&mut self) {
        while let Some(output) = self.server.poll_output() {
            match output {
                Output::Write(c) if !self.stalled.contains(&c) => self.flush(c),
                Output::Write(_) => {}
                Output::Close(c) => {
                    self.closed.insert(c);
                }
                Output::ResumeRead(c) => self.resumed.push(c),
            }
        }
    }

    /// Writes what is pending; like the event loop, reports nothing when nothing is pending.
    fn flush(&mut self, c: ConnId) {
        let bytes = self.server.pending_output(c).to_vec();
        if bytes.is_empty() {
            return;
        }
        self.got.entry(c).or_default().extend_from_slice(&bytes);
        self.server.handle_sent(c, bytes.len());
    }

    /// Moves the clock forward by `d`, firing every deadline on the way at its exact time.
    fn advance(&mut self, d: Duration) {
        let target = self.now + d;
        while let Some(at) = self.server.next_deadline().filter(|at| *at <= target) {
            self.now = self.now.max(at);
            self.server.handle_timeout(self.now);
            self.pump();
        }
        self.now = target;
    }

    fn responses(&self, c: ConnId) -> Vec<Resp> {
        parse(self.got.get(&c).map_or(&[][..], Vec::as_slice))
    }

    fn last(&self, c: ConnId) -> Resp {
        self.responses(c).pop().expect("a response")
    }

    /// A new session on its own connection, `notifications/initialized` sent; its id.
    fn session(&mut self, version: &str) -> String {
        let c = self.connect();
        self.send(c, &post(None, &initialize_body(version)));
        let resp = self.last(c);
        assert_eq!(resp.status, 200, "{}", resp.text());
        let id = resp
            .header("mcp-session-id")
            .expect("session id")
            .to_string();
        self.send(
            c,
            &post(
                Some(&id),
                r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            ),
        );
        assert_eq!(self.last(c).status, 202);
        id
    }
}

#[test]
fn keep_alive_requests_leave_one_wheel_entry_per_connection() {
    let mut net = Net::new(Config::default());
    let c = net.connect();
    for _ in 0..50 {
        net.send(c, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    }
    assert_eq!(net.responses(c).len(), 50);
    assert_eq!(
        net.server.wheel.len(),
        1,
        "one lazy entry, not one per request"
    );
    net.advance(Duration::from_secs(61));
    assert!(net.closed.contains(&c), "the idle deadline still closes it");
    assert!(net.server.wheel.is_empty());
}

#[test]
fn keep_alive_idle_closes_after_timeout() {
    let mut net = Net::with(|c| c.limits.keep_alive_timeout = Duration::from_secs(5));
    let c = net.connect();
    net.send(c, HEALTH);
    assert_eq!(net.last(c).status, 200);
    net.advance(Duration::from_millis(4999));
    assert!(!net.closed.contains(&c));
    net.advance(Duration::from_millis(1));
    assert!(net.closed.contains(&c));
    assert_eq!(net.responses(c).len(), 1, "closing idle writes nothing");
    assert_eq!(net.server.connection_count(), 0);
}

#[test]
fn each_request_restarts_the_idle_timer() {
    let mut net = Net::with(|c| c.limits.keep_alive_timeout = Duration::from_secs(5));
    let c = net.connect();
    for _ in 0..3 {
        net.advance(Duration::from_secs(4));
        net.send(c, HEALTH);
    }
    net.advance(Duration::from_secs(4));
    assert!(!net.closed.contains(&c));
    assert_eq!(net.responses(c).len(), 3);
}

#[test]
fn head_timeout_answers_408() {
    let mut net = Net::with(|c| c.limits.head_timeout = Duration::from_secs(2));
    let c = net.connect();
    net.send(c, b"GET /health HTTP/1.1\r\nHo");
    net.advance(Duration::from_secs(2));
    let resp = net.last(c);
    assert_eq!(resp.status, 408);
    assert!(net.closed.contains(&c));
}

#[test]
fn silent_new_connection_closes_without_an_answer() {
    let mut net = Net::with(|c| c.limits.head_timeout = Duration::from_secs(2));
    let c = net.connect();
    net.advance(Duration::from_secs(2));
    assert!(net.closed.contains(&c));
    assert!(net.got.get(&c).is_none_or(Vec::is_empty));
}

#[test]
fn trickled_head_is_held_to_one_deadline() {
    let mut net = Net::with(|c| c.limits.head_timeout = Duration::from_secs(2));
    let c = net.connect();
    for b in b"GET /health HTTP/1.1\r\n".iter() {
        net.send(c, &[*b]);
        net.advance(Duration::from_millis(50));
    }
    // 22 bytes at 50 ms each leaves 0.9 s; one more byte a second does not extend it.
    net.advance(Duration::from_millis(900));
    assert_eq!(net.last(c).status, 408);
    assert!(net.closed.contains(&c));
}

#[test]
fn pipelined_requests_answer_in_order() {
    let mut net = Net::new(Config::default());
    let c = net.connect();
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&post(None, &initialize_body("2025-06-18")));
    bytes.extend_from_slice(HEALTH);
    bytes.extend_from_slice(b"GET /nowhere HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    bytes.extend_from_slice(HEALTH);
    net.send(c, &bytes);
    let statuses: Vec<u16> = net.responses(c).iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 200, 404, 200]);
    assert!(net.responses(c)[0].header("mcp-session-id").is_some());
}

#[test]
fn a_full_buffer_of_tiny_pipelined_requests_is_answered() {
    let mut net = Net::new(Config::default());
    let c = net.connect();
    let tiny = b"GET / HTTP/1.1\r\nHost:localhost\r\n\r\n";
    let room = net.server.input_room(c);
    let bytes: Vec<u8> = tiny.iter().copied().cycle().take(room).collect();
    net.send(c, &bytes);
    let responses = net.responses(c);
    assert_eq!(responses.len(), room / tiny.len());
    assert!(responses.iter().all(|r| r.status == 404));
    assert!(!net.closed.contains(&c));
}

#[test]
fn request_pipelined_behind_a_stream_waits_for_its_end() {
    let mut net = Net::new(Config::default());
    let id = net.session("2025-06-18");
    let c = net.connect();
    let mut bytes = post(Some(&id), &progress_call(2));
    bytes.extend_from_slice(HEALTH);
    net.send(c, &bytes);
    let first = net.last(c);
    assert_eq!(first.header("content-type"), Some("text/event-stream"));
    assert!(!first.complete);
    assert_eq!(net.responses(c).len(), 1, "health must wait for the stream");
    net.advance(Duration::from_millis(100));
    let all = net.responses(c);
    assert_eq!(all.len(), 2);
    assert!(all[0].complete);
    let events = all[0].events();
    assert_eq!(
        events.len(),
        4,
        "three progress notifications and the result"
    );
    assert!(events[3].data.contains("Progress test completed"));
    assert_eq!(all[1].status, 200);
    assert!(all[1].text().contains("\"status\":\"ok\""));
}

#[test]
fn sse_stream_gets_heartbeats() {
    let mut net = Net::with(|c| c.limits.heartbeat = Duration::from_secs(1));
    let id = net.session("2025-06-18");
    let c = net.connect();
    net.send(c, &get_stream(&id, None));
    assert_eq!(net.last(c).status, 200);
    assert!(net.last(c).body.is_empty());
    net.advance(Duration::from_millis(3500));
    assert_eq!(net.last(c).text(), ":\n\n".repeat(3));
    assert!(!net.closed.contains(&c));
}

#[test]
fn request_storage_is_kept_for_the_next_request_but_not_by_a_held_stream() {
    let mut net = Net::new(Config::default());
    let c = net.connect();
    net.send(c, HEALTH);
    assert_eq!(net.last(c).status, 200);
    assert!(net.server.conns.get(c).unwrap().reader.holds_spare());
    let id = net.session("2025-06-18");
    let s = net.connect();
    net.send(s, &get_stream(&id, None));
    assert!(!net.last(s).complete);
    assert!(!net.server.conns.get(s).unwrap().reader.holds_spare());
}

#[test]
fn open_stream_outlives_the_idle_timer() {
    let mut net = Net::with(|c| {
        c.limits.keep_alive_timeout = Duration::from_secs(1);
        c.limits.head_timeout = Duration::from_secs(1);
    });
    let id = net.session("2025-06-18");
    let c = net.connect();
    net.send(c, &get_stream(&id, None));
    net.advance(Duration::from_secs(10));
    assert!(!net.closed.contains(&c));
    assert!(!net.last(c).complete);
}

#[test]
fn heartbeats_stop_when_no_stream_is_open() {
    let mut net = Net::with(|c| c.limits.heartbeat = Duration::from_secs(1));
    let id = net.session("2025-06-18");
    let c = net.connect();
    net.send(c, &get_stream(&id, None));
    net.server.handle_reset(c, net.now);
    net.pump();
    net.advance(Duration::from_secs(2));
    assert_eq!(net.server.next_deadline().map(|d| d > net.now), Some(true));
    // Nothing on a 1 s beat remains (connection deadlines are seconds away, expiry an hour).
    assert!(net.server.next_deadline().unwrap() - net.now > Duration::from_secs(5));
}

#[test]
fn slow_sse_reader_is_closed_past_outbound_cap() {
    let mut net = Net::with(|c| {
        c.response_mode = ResponseMode::Json;
        c.limits.max_outbound_bytes = 2048;
    });
    let id = net.session("2025-06-18");
    let reader = net.connect();
    net.stalled.insert(reader);
    net.send(reader, &get_stream(&id, None));
    // JSON mode sends each call's progress notifications on the standalone stream.
    let mut callers = Vec::new();
    for n in 0..30 {
        let c = net.connect();
        net.send(c, &post(Some(&id), &progress_call(10 + n)));
        callers.push(c);
        if net.closed.contains(&reader) {
            break;
        }
    }
    assert!(net.closed.contains(&reader), "stalled reader still open");
    assert!(callers.len() > 5, "closed after {} calls", callers.len());
    // The calls go on, and the stream resumes from its replay buffer.
    net.advance(Duration::from_millis(100));
    for c in &callers {
        let resp = net.last(*c);
        assert_eq!(resp.status, 200);
        assert!(resp.text().contains("Progress test completed"));
    }
    let again = net.connect();
    net.send(again, &get_stream(&id, Some("0-0")));
    let events = net.last(again).events();
    assert_eq!(events.len(), callers.len() * 3);
    assert_eq!(events[0].id.as_deref(), Some("0-1"));
}

#[test]
fn input_room_is_bounded_while_streaming() {
    // A configured slack, not the default: the room follows `Limits::input_slack_bytes`.
    let mut net = Net::with(|c| c.limits.input_slack_bytes = 5000);
    let cap = Config::default().limits.max_head_bytes + 5000;
    let id = net.session("2025-06-18");
    let c = net.connect();
    net.send(c, &post(Some(&id), &progress_call(2)));
    assert!(!net.last(c).complete);
    let pipelined: Vec<u8> = HEALTH.iter().copied().cycle().take(2 * cap).collect();
    let mut queued = 0;
    while net.server.input_room(c) > 0 {
        let room = net.server.input_room(c);
        let chunk = &pipelined[queued..queued + room.min(1000)];
        net.send(c, chunk);
        queued += chunk.len();
    }
    assert_eq!(queued, cap);
    assert!(net.resumed.is_empty());
    net.advance(Duration::from_millis(100));
    assert_eq!(net.resumed, [c], "reading resumes once the stream ends");
    let complete_requests = cap / HEALTH.len();
    let statuses: Vec<u16> = net.responses(c).iter().map(|r| r.status).collect();
    assert_eq!(statuses.len(), 1 + complete_requests);
    assert!(statuses.iter().all(|s| *s == 200));
}

#[test]
fn connection_cap_refuses() {
    let mut net = Net::with(|c| c.limits.max_connections = 2);
    let a = net.connect();
    let _b = net.connect();
    assert_eq!(net.server.handle_connect(net.now), None);
    assert_eq!(net.server.counters().refused, 1);
    net.server.handle_reset(a, net.now);
    net.pump();
    assert!(net.closed.contains(&a));
    assert!(net.server.handle_connect(net.now).is_some());
}

#[test]
fn eof_after_a_request_answers_then_closes() {
    let mut net = Net::new(Config::default());
    let c = net.connect();
    net.send(c, HEALTH);
    net.server.handle_eof(c, net.now);
    net.pump();
    assert_eq!(net.last(c).status, 200);
    assert!(net.closed.contains(&c));
}

#[test]
fn health_counts_sessions_and_streams() {
    let mut net = Net::new(Config::default());
    let a = net.session("2025-06-18");
    let _b = net.session("2025-06-18");
    let s = net.connect();
    net.send(s, &get_stream(&a, None));
    let c = net.connect();
    net.send(c, HEALTH);
    let health = net.last(c).json();
    assert_eq!(health["active_sessions"], 2);
    assert_eq!(health["total_sessions"], 2);
    assert_eq!(health["streams"], 1);
    let delete = format!("DELETE /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nMcp-Session-Id: {a}\r\n\r\n");
    net.send(c, delete.as_bytes());
    assert_eq!(net.last(c).status, 200);
    assert!(
        net.closed.contains(&s),
        "the deleted session's stream closes"
    );
    net.send(c, HEALTH);
    let health = net.last(c).json();
    assert_eq!(health["active_sessions"], 1);
    assert_eq!(health["total_sessions"], 2);
    assert_eq!(health["streams"], 0);
}

#[test]
fn foreign_host_is_403_before_any_session_work() {
    let mut net = Net::new(Config::default());
    let c = net.connect();
    let body = initialize_body("2025-06-18");
    let request = format!(
        "POST /mcp HTTP/1.1\r\nHost: evil.example.com\r\nAccept: {ACCEPT}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    net.send(c, request.as_bytes());
    let resp = net.last(c);
    assert_eq!(resp.status, 403);
    assert!(resp.text().contains("--allow-host"));
    assert_eq!(net.server.transport.stats().total_sessions, 0);
}

#[test]
fn shutdown_closes_streams_after_flushing() {
    let mut net = Net::new(Config::default());
    let id = net.session("2025-06-18");
    let s = net.connect();
    net.send(s, &get_stream(&id, None));
    let idle = net.connect();
    net.server.shutdown(net.now);
    net.pump();
    assert!(net.closed.contains(&s));
    assert!(net.closed.contains(&idle));
    assert_eq!(net.server.connection_count(), 0);
}

#[test]
fn shutdown_lets_answers_in_flight_finish_then_closes() {
    let mut net = Net::new(Config::default());
    let id = net.session("2025-06-18");
    let busy = net.connect();
    net.send(busy, &post(Some(&id), &progress_call(9)));
    let standalone = net.connect();
    net.send(standalone, &get_stream(&id, None));
    net.server.shutdown(net.now);
    net.pump();
    assert!(
        net.closed.contains(&standalone),
        "long-lived streams end at once"
    );
    assert!(
        !net.closed.contains(&busy),
        "the answer in flight is not cut off"
    );
    net.advance(Duration::from_millis(200));
    let events = net.last(busy).events();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&events.last().unwrap().data).unwrap()["id"],
        9
    );
    assert!(net.closed.contains(&busy), "closed once its answer is out");
    assert!(net.server.is_drained());
}

#[test]
fn draining_says_so_on_health_and_starts_no_new_work() {
    let mut net = Net::new(Config::default());
    let id = net.session("2025-06-18");
    let busy = net.connect();
    net.send(busy, &post(Some(&id), &progress_call(4)));
    net.server.shutdown(net.now);
    net.pump();
    assert!(!net.server.is_drained(), "an answer is in flight");

    let probe = net.connect();
    net.send(probe, HEALTH);
    let health = net.last(probe);
    assert_eq!(health.status, 503);
    assert_eq!(health.json()["status"], "draining");
    assert!(net.closed.contains(&probe), "no keep-alive while draining");

    let fresh = net.connect();
    net.send(fresh, &post(None, &initialize_body("2025-11-25")));
    let refused = net.last(fresh);
    assert_eq!(refused.status, 503, "{}", refused.text());
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert_eq!(net.server.transport.stats().total_sessions, 1);

    let later = net.connect();
    net.send(later, &post(Some(&id), &progress_call(5)));
    assert_eq!(
        net.last(later).status,
        404,
        "the session ends with the process"
    );

    let idle = net.connect();
    net.advance(Duration::from_millis(200));
    assert_eq!(
        net.last(busy)
            .events()
            .last()
            .map(|e| e.data.contains("\"id\":4")),
        Some(true)
    );
    assert!(net.server.connection_count() >= 1, "{idle} is still open");
    assert!(
        net.server.is_drained(),
        "an idle connection does not hold the exit"
    );
}

#[test]
fn deferred_initialize_answer_keeps_its_session_header() {
    // A backend that answers initialize later (the bridge) in --response-mode json.
    struct Later(Builtin, Option<RequestHandle>);
    impl Handler for Later {
        fn initialize(
            &mut self,
            ctx: &mut Context<'_>,
            request: RequestHandle,
            params: Option<crate::mcp::Params>,
        ) {
            self.handle_request(ctx, request, "initialize", params);
        }
        fn handle_request(
            &mut self,
            ctx: &mut Context<'_>,
            request: RequestHandle,
            method: &str,
            params: Option<crate::mcp::Params>,
        ) {
            if method == "initialize" {
                self.1 = Some(request);
                ctx.set_timer(Duration::from_millis(10), 1);
            } else {
                self.0.handle_request(ctx, request, method, params);
            }
        }
        fn handle_notification(
            &mut self,
            ctx: &mut Context<'_>,
            method: &str,
            params: Option<crate::mcp::Params>,
        ) {
            self.0.handle_notification(ctx, method, params);
        }
        fn handle_response(
            &mut self,
            ctx: &mut Context<'_>,
            id: OutgoingId,
            outcome: Result<serde_json::Value, ErrorObject>,
        ) {
            self.0.handle_response(ctx, id, outcome);
        }
        fn handle_timer(&mut self, ctx: &mut Context<'_>, _token: u64) {
            if let Some(request) = self.1.take() {
                let result = serde_json::json!({"protocolVersion": "2025-06-18", "capabilities": {}, "serverInfo": {"name": "later", "version": "1"}});
                ctx.respond(request, Ok(result));
            }
        }
    }
    let config = Config {
        response_mode: ResponseMode::Json,
        ..Config::default()
    };
    let mut net = Net::with_handler(config, Later(Builtin::new(), None));
    let c = net.connect();
    net.send(c, &post(None, &initialize_body("2025-06-18")));
    assert!(net.responses(c).is_empty(), "deferred");
    net.advance(Duration::from_millis(20));
    let resp = net.last(c);
    assert_eq!(resp.json()["result"]["serverInfo"]["name"], "later");
    assert!(
        resp.header("mcp-session-id")
            .is_some_and(|id| !id.is_empty()),
        "{}",
        resp.text()
    );
}

#[test]
fn json_mode_deferred_answer_is_written() {
    let mut net = Net::with(|c| c.response_mode = ResponseMode::Json);
    let id = net.session("2025-06-18");
    let c = net.connect();
    net.send(c, &post(Some(&id), &progress_call(5)));
    assert!(net.responses(c).is_empty());
    net.advance(Duration::from_millis(100));
    let resp = net.last(c);
    assert_eq!(resp.header("content-type"), Some("application/json"));
    assert_eq!(resp.json()["id"], 5);
}

/// Issue 10's id-reuse bug: a write that finishes a closing connection frees its slot and queues
/// its close; a connection accepted before that close is carried out reuses the slot, and the
/// close must not reach it.
#[test]
fn a_close_queued_before_the_slot_is_reused_names_only_the_old_connection() {
    let mut net = Net::new(Config::default());
    let old = net.connect();
    net.stalled.insert(old);
    net.send(
        old,
        b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    );
    // The socket becomes writable and takes the whole answer; outputs are not drained yet.
    let n = net.server.pending_output(old).len();
    assert!(n > 0);
    net.server.handle_sent(old, n);
    let new = net.server.handle_connect(net.now).expect("accepted");
    assert_eq!(new.slot(), old.slot(), "the freed slot is reused");
    assert_ne!(new, old);
    net.pump();
    assert!(net.closed.contains(&old));
    assert!(!net.closed.contains(&new), "the new connection stays open");
    net.send(new, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    assert_eq!(net.last(new).status, 200);
    assert_eq!(net.server.connection_count(), 1);
}

/// Builtin whose `health` panics.
struct SickHealth(Builtin);

impl Handler for SickHealth {
    fn handle_request(
        &mut self,
        ctx: &mut crate::mcp::Context<'_>,
        request: crate::mcp::RequestHandle,
        method: &str,
        params: Option<crate::mcp::Params>,
    ) {
        self.0.handle_request(ctx, request, method, params)
    }

    fn health(&self) -> Option<serde_json::Value> {
        panic!("health")
    }
}

#[test]
fn a_panicking_health_hook_is_503_error_and_the_server_stays_up() {
    let mut net = Net::with_handler(Config::default(), SickHealth(Builtin::new()));
    let c = net.connect();
    net.send(c, HEALTH);
    let reply = net.last(c);
    assert_eq!(reply.status, 503);
    assert_eq!(reply.json()["status"], "error");
    net.send(c, b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    assert_eq!(net.last(c).status, 200);
}

#[test]
fn the_handler_timers_of_an_ended_session_leave_the_wheel_and_fired_ones_their_map() {
    let mut net = Net::new(Config::default());
    let id = net.session("2025-06-18");
    let c = net.connect();
    net.send(c, &post(Some(&id), &progress_call(5)));
    assert_eq!(net.server.handler_timers.len(), 1, "its next progress step");
    let with_timer = net.server.wheel.len();
    let delete = format!("DELETE /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nMcp-Session-Id: {id}\r\n\r\n");
    let d = net.connect();
    net.send(d, delete.as_bytes());
    assert_eq!(net.last(d).status, 200);
    assert!(net.server.handler_timers.is_empty());
    assert!(
        net.server.wheel.len() < with_timer,
        "the step's wheel entry went with its session"
    );
    // Timers that fire leave the map as well.
    let id = net.session("2025-06-18");
    let e = net.connect();
    net.send(e, &post(Some(&id), &progress_call(6)));
    assert_eq!(net.server.handler_timers.len(), 1);
    net.advance(Duration::from_secs(1));
    assert_eq!(net.last(e).status, 200);
    assert!(net.server.handler_timers.is_empty());
}
