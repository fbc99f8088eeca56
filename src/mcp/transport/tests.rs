//! Unit tests of the session-era and stateless transport, driven with fake time.

use super::*;
use crate::builtin::Builtin;
use crate::http::{Method, Version};
use crate::mcp::handler::{Command, Context, OutgoingId, RequestHandle};
use crate::mcp::jsonrpc::ErrorObject;
use crate::sse::{EventReader, ParsedEvent};
use serde_json::json;

const BOTH: &str = "application/json, text/event-stream";

fn head(method: Method, headers: &[(&str, &str)]) -> RequestHead {
    let fields: Vec<(&str, &[u8])> = headers.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
    RequestHead::new(method, "/mcp", Version::Http11, &fields)
}

fn events(bytes: &[u8]) -> Vec<ParsedEvent> {
    let mut reader = EventReader::new(1 << 20);
    reader.feed(bytes).unwrap();
    std::iter::from_fn(|| reader.next_event()).collect()
}

fn body_json(reply: &Reply) -> Value {
    match &reply.body {
        ReplyBody::Json(text) => serde_json::from_str(text).unwrap(),
        other => panic!("not JSON: {other:?}"),
    }
}

fn stream_events(reply: &Reply) -> (Vec<ParsedEvent>, bool) {
    match &reply.body {
        ReplyBody::Stream { initial, end } => (events(initial), *end),
        other => panic!("not a stream: {other:?}"),
    }
}

fn header<'a>(reply: &'a Reply, name: &str) -> Option<&'a str> {
    reply
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn request(id: u64, method: &str, params: Value) -> String {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string()
}

fn progress_call(id: u64) -> String {
    request(
        id,
        "tools/call",
        json!({"name": "test_tool_with_progress", "arguments": {},
               "_meta": {"progressToken": format!("p{id}")}}),
    )
}

/// A transport with a fake clock that fires the timers it asks for.
struct Rig<H: Handler> {
    t: Transport<H>,
    now: Instant,
    timers: Vec<(Instant, Timer)>,
    actions: Vec<Action>,
}

impl Rig<Builtin> {
    fn new(mode: ResponseMode) -> Rig<Builtin> {
        Rig::with(Builtin::new(), mode, |_| {})
    }
}

impl<H: Handler> Rig<H> {
    fn with(handler: H, mode: ResponseMode, f: impl FnOnce(&mut Settings)) -> Rig<H> {
        let mut settings = Settings {
            response_mode: mode,
            replay_bytes: 64 * 1024,
            session_timeout: Duration::from_secs(60),
            max_sessions: 100,
            instance_id: None,
            eras: crate::mcp::version::Eras::default(),
            max_listen_uris: 256,
            caps: crate::mcp::dispatch::Caps::of(&crate::config::Limits::default()),
            max_parked_streams: 16,
        };
        f(&mut settings);
        Rig {
            t: Transport::new(Box::new(handler), settings),
            now: Instant::now(),
            timers: Vec::new(),
            actions: Vec::new(),
        }
    }

    fn drain(&mut self) {
        while let Some(action) = self.t.poll_action() {
            match action {
                Action::Arm { at, timer } => self.timers.push((at, timer)),
                Action::Disarm { timer } => self.timers.retain(|(_, t)| *t != timer),
                other => self.actions.push(other),
            }
        }
        self.check_attachments();
    }

    /// After every call: the one table of which connection carries which stream agrees both
    /// ways, and names only streams that exist and are not parked as detached.
    fn check_attachments(&self) {
        self.t.attached.assert_consistent();
        for (conn, key, no) in self.t.attached.attached_streams() {
            let session = self.t.sessions.get(&key);
            let session = session.unwrap_or_else(|| panic!("{conn:?} carries ended {key:?}"));
            assert!(
                session.streams.contains_key(&no),
                "{conn:?}: stream {no} gone"
            );
            assert!(!session.detached.contains(&no), "{conn:?}: {no} parked");
        }
    }

    fn post_with(&mut self, conn: u32, headers: &[(&str, &str)], body: &str) -> Reply {
        let reply = self.t.post(
            c(conn),
            &head(Method::Post, headers),
            body.as_bytes(),
            self.now,
        );
        self.drain();
        reply
    }

    fn post(&mut self, conn: u32, session: &str, body: &str) -> Reply {
        self.post_with(
            conn,
            &[
                ("Accept", BOTH),
                ("Content-Type", "application/json"),
                ("Mcp-Session-Id", session),
            ],
            body,
        )
    }

    fn get(&mut self, conn: u32, session: &str, last_event: Option<&str>) -> Reply {
        let mut headers = vec![("Accept", "text/event-stream"), ("Mcp-Session-Id", session)];
        if let Some(last) = last_event {
            headers.push(("Last-Event-ID", last));
        }
        let reply = self
            .t
            .get(c(conn), &head(Method::Get, &headers), None, self.now);
        self.drain();
        reply
    }

    fn delete(&mut self, session: &str) -> Reply {
        let reply = self
            .t
            .delete(&head(Method::Delete, &[("Mcp-Session-Id", session)]), None);
        self.drain();
        reply
    }

    fn close(&mut self, conn: u32) {
        self.t.connection_closed(c(conn));
        self.drain();
    }

    fn initialize(&mut self, version: &str, capabilities: Value) -> Reply {
        let body = request(
            1,
            "initialize",
            json!({"protocolVersion": version, "capabilities": capabilities,
                   "clientInfo": {"name": "t", "version": "1"}}),
        );
        self.post_with(
            99,
            &[("Accept", BOTH), ("Content-Type", "application/json")],
            &body,
        )
    }

    /// A session on `version`, initialized; its id.
    fn session(&mut self, version: &str) -> String {
        let reply = self.initialize(version, json!({"sampling": {}}));
        assert_eq!(reply.status, 200, "{reply:?}");
        let id = header(&reply, "Mcp-Session-Id").unwrap().to_string();
        let note = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
        assert_eq!(self.post(99, &id, note).status, 202);
        id
    }

    /// Fires every timer due within `d`, in deadline order.
    fn advance(&mut self, d: Duration) {
        let target = self.now + d;
        loop {
            self.timers.sort_by_key(|(at, _)| *at);
            match self.timers.first() {
                Some((at, _)) if *at <= target => {
                    let (at, timer) = self.timers.remove(0);
                    self.now = self.now.max(at);
                    self.t.on_timer(timer, self.now);
                    self.drain();
                }
                _ => break,
            }
        }
        self.now = target;
    }

    /// Events sent to `conn` by actions so far, and whether its stream ended.
    fn sent_to(&self, conn: u32) -> (Vec<ParsedEvent>, bool) {
        let mut bytes = Vec::new();
        let mut ended = false;
        for action in &self.actions {
            match action {
                Action::Event { conn: to, bytes: b } if *to == c(conn) => {
                    bytes.extend_from_slice(b)
                }
                Action::EndStream { conn: to } | Action::Close { conn: to } if *to == c(conn) => {
                    ended = true
                }
                _ => {}
            }
        }
        (events(&bytes), ended)
    }
}

fn error_of(reply: &Reply) -> (Option<Value>, i64) {
    let body = body_json(reply);
    let code = body["error"]["code"].as_i64().unwrap();
    (body.get("id").cloned(), code)
}

#[test]
fn initialize_creates_a_session_id_header() {
    let mut rig = Rig::new(ResponseMode::Auto);
    let reply = rig.initialize("2025-06-18", json!({}));
    assert_eq!(reply.status, 200);
    let id = header(&reply, "Mcp-Session-Id").unwrap();
    assert!(id.bytes().all(|b| (0x21..=0x7e).contains(&b)));
    assert_eq!(body_json(&reply)["result"]["protocolVersion"], "2025-06-18");
    let other = rig.initialize("1999-01-01", json!({}));
    assert_ne!(header(&other, "Mcp-Session-Id").unwrap(), id);
    assert_eq!(body_json(&other)["result"]["protocolVersion"], "2025-11-25");
    assert_eq!(rig.t.stats().active_sessions, 2);
}

#[test]
fn missing_session_is_400_and_unknown_is_404() {
    let mut rig = Rig::new(ResponseMode::Auto);
    let ping = request(2, "ping", json!({}));
    let reply = rig.post_with(
        1,
        &[("Accept", BOTH), ("Content-Type", "application/json")],
        &ping,
    );
    assert_eq!(reply.status, 400);
    assert_eq!(error_of(&reply), (None, jsonrpc::SERVER_ERROR));
    let unknown = rig.post(1, "no-such-session", &ping);
    assert_eq!(unknown.status, 404);
    // The reference TypeScript SDK's "Session not found" code (mcp::Error::UnknownSession).
    assert_eq!(
        error_of(&unknown),
        (None, crate::mcp::error::UNKNOWN_SESSION)
    );
    assert_eq!(rig.get(1, "no-such-session", None).status, 404);
    assert_eq!(rig.delete("no-such-session").status, 404);
    let get = rig.t.get(
        c(1),
        &head(Method::Get, &[("Accept", "text/event-stream")]),
        None,
        rig.now,
    );
    assert_eq!(get.status, 400);
}

#[test]
fn accept_must_admit_json_and_sse_in_any_order() {
    let mut rig = Rig::new(ResponseMode::Auto);
    let id = rig.session("2025-06-18");
    let ping = request(2, "ping", json!({}));
    let cases: [(Option<&str>, u16); 8] = [
        (Some("application/json"), 406),
        (Some("text/event-stream"), 406),
        (Some("text/html"), 406),
        (Some("text/event-stream, application/json"), 200),
        (Some("application/json;q=0.9, text/event-stream;q=0.1"), 200),
        (Some("*/*"), 200),
        (Some("application/*, text/*"), 200),
        (None, 200),
    ];
    for (accept, status) in cases {
        let mut headers = vec![
            ("Content-Type", "application/json"),
            ("Mcp-Session-Id", &id),
        ];
        if let Some(accept) = accept {
            headers.push(("Accept", accept));
        }
        let reply = rig.post_with(1, &headers, &ping);
        assert_eq!(reply.status, status, "Accept {accept:?}: {reply:?}");
        if status == 406 {
            assert_eq!(error_of(&reply), (None, jsonrpc::SERVER_ERROR));
        }
    }
    let get = head(
        Method::Get,
        &[("Accept", "application/json"), ("Mcp-Session-Id", &id)],
    );
    assert_eq!(rig.t.get(c(2), &get, None, rig.now).status, 406);
}

#[test]
fn body_must_be_declared_json() {
    let mut rig = Rig::new(ResponseMode::Auto);
    let id = rig.session("2025-06-18");
    let ping = request(2, "ping", json!({}));
    for (content_type, status) in [
        (Some("text/plain"), 415),
        (Some("application/jsonx"), 415),
        (None, 415),
        (Some("application/json; charset=utf-8"), 200),
        (Some("Application/JSON"), 200),
        (Some("application/json"), 200),
        (Some("application/json;"), 200),
        (Some("application/json, text/plain"), 415),
        (Some("application/js"), 415),
    ] {
        let mut headers = vec![("Accept", BOTH), ("Mcp-Session-Id", &id)];
        if let Some(ct) = content_type {
            headers.push(("Content-Type", ct));
        }
        let reply = rig.post_with(1, &headers, &ping);
        assert_eq!(reply.status, status, "{content_type:?}");
    }
}

#[test]
fn parse_error_is_400_without_id() {
    let mut rig = Rig::new(ResponseMode::Auto);
    let id = rig.session("2025-06-18");
    let reply = rig.post(1, &id, "{\"jsonrpc\":\"2.0\",\"id\":1,");
    assert_eq!(reply.status, 400);
    assert_eq!(error_of(&reply), (None, jsonrpc::PARSE_ERROR));
    // Before any session check: an unparseable initialize is a parse error too.
    let reply = rig.post_with(
        1,
        &[("Accept", BOTH), ("Content-Type", "application/json")],
        "not json",
    );
    assert_eq!(error_of(&reply), (None, jsonrpc::PARSE_ERROR));
}

#[test]
fn invalid_request_is_400_keeping_a_readable_id() {
    let mut rig = Rig::new(ResponseMode::Auto);
    let id = rig.session("2025-06-18");
    for (body, want) in [
        (
            r#"{"jsonrpc":"2.0","id":"abc","method":5}"#,
            Some(json!("abc")),
        ),
        (
            r#"{"jsonrpc":"1.0","id":7,"method":"ping"}"#,
            Some(json!(7)),
        ),
        (r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#, None),
        (r#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#, None),
        ("42", None),
    ] {
        let reply = rig.post(1, &id, body);
        assert_eq!(reply.status, 400, "{body}");
        assert_eq!(error_of(&reply), (want, jsonrpc::INVALID_REQUEST), "{body}");
    }
}

#[test]
fn notifications_and_responses_get_202_without_body() {
    let mut rig = Rig::new(ResponseMode::Auto);
    let id = rig.session("2025-06-18");
    for body in [
        r#"{"jsonrpc":"2.0","method":"notifications/roots/list_changed"}"#,
        r#"{"jsonrpc":"2.0","id":12345,"result":{}}"#,
        r#"{"jsonrpc":"2.0","id":12345,"error":{"code":-1,"message":"x"}}"#,
    ] {
        assert_eq!(rig.post(1, &id, body), Reply::empty(202), "{body}");
    }
}

#[test]
fn batch_on_2025_03_26_answers_an_array() {
    let mut rig = Rig::new(ResponseMode::Auto);
    let id = rig.session("2025-03-26");
    let batch = format!(
        "[{},{},{}]",
        request(2, "ping", json!({})),
        r#"{"jsonrpc":"2.0","method":"notifications/roots/list_changed"}"#,
        request(3, "tools/list", json!({}))
    );
    let reply = rig.post(1, &id, &batch);
    assert_eq!(reply.status, 200);
    let answers = body_json(&reply);
    let ids: Vec<&Value> = answers
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["id"])
        .collect();
    assert_eq!(ids, [&json!(2), &json!(3)]);
    let notes = r#"[{"jsonrpc":"2.0","method":"notifications/roots/list_changed"}]"#;
    assert_eq!(rig.post(1, &id, notes).status, 202);
    assert_eq!(rig.post(1, &id, "[]").status, 400);
    // A batch of one request is still answered with an array.
    let one = format!("[{}]", request(4, "ping", json!({})));
    assert!(body_json(&rig.post(1, &id, &one)).is_array());
}

#[test]
fn posts_in_a_row_answer_only_their_own_requests() {
    // The requests of a POST go through a vector the transport reuses: nothing of one POST
    // may leak into the next, whatever the ids and whether the POST was a batch.
    let mut rig = Rig::new(ResponseMode::Auto);
    let id = rig.session("2025-03-26");
    let request_s = |id: &str| format!(r#"{{"jsonrpc":"2.0","id":"{id}","method":"ping"}}"#);
    let batch = format!("[{},{}]", request_s("a"), request_s("b"));
    let ids = |reply: &Reply| -> Vec<Value> {
        match body_json(reply) {
            Value::Array(answers) => answers.iter().map(|a| a["id"].clone()).collect(),
            answer => vec![answer["id"].clone()],
        }
    };
    assert_eq!(ids(&rig.post(1, &id, &batch)), [json!("a"), json!("b")]);
    let single = request(9, "ping", json!({}));
    assert_eq!(ids(&rig.post(1, &id, &single)), [json!(9)]);
    let notes = r#"[{"jsonrpc":"2.0","method":"notifications/roots/list_changed"}]"#;
    assert_eq!(rig.post(1, &id, notes).status, 202);
    assert_eq!(ids(&rig.post(1, &id, &request_s("c"))), [json!("c")]);
    assert_eq!(rig.t.dispatcher.in_flight(), 0);
}

#[test]
fn batch_on_2025_06_18_is_400() {
    let mut rig = Rig::new(ResponseMode::Auto);
    let id = rig.session("2025-06-18");
    let batch = format!("[{}]", request(2, "ping", json!({})));
    let reply = rig.post(1, &id, &batch);
    assert_eq!(reply.status, 400);
    assert_eq!(error_of(&reply), (None, jsonrpc::INVALID_REQUEST));
}

#[test]
fn initialize_in_a_batch_is_an_error_element() {
    let mut rig = Rig::new(ResponseMode::Auto);
    let id = rig.session("2025-03-26");
    let batch = format!(
        "[{},{},{}]",
        request(5, "initialize", json!({"protocolVersion": "2025-03-26"})),
        request(6, "ping", json!({})),
        r#"{"jsonrpc":"2.0","id":"x","method":false}"#
    );
    let reply = rig.post(1, &id, &batch);
    assert_eq!(reply.status, 200);
    let answers = body_json(&reply);
    let answers = answers.as_array().unwrap();
    assert_eq!(answers.len(), 3);
    let by_id = |want: Value| answers.iter().find(|a| a["id"] == want).unwrap();
    assert_eq!(by_id(json!(5))["error"]["code"], jsonrpc::INVALID_REQUEST);
    assert_eq!(by_id(json!("x"))["error"]["code"], jsonrpc::INVALID_REQUEST);
    assert_eq!(by_id(json!(6))["result"], json!({}));
    assert_eq!(rig.t.stats().total_sessions, 1);
}

#[test]
fn protocol_header_outside_eras_is_32022_with_data() {
    let eras = ["2025-11-25".to_string()];
    let mut rig = Rig::with(Builtin::new(), ResponseMode::Auto, |s| {
        s.eras = crate::mcp::version::Eras::from_list(&eras);
    });
    let id = rig.session("2025-11-25");
    let headers = [
        ("Accept", BOTH),
        ("Content-Type", "application/json"),
        ("Mcp-Session-Id", id.as_str()),
        ("MCP-Protocol-Version", "2025-03-26"),
    ];
    let reply = rig.post_with(1, &headers, &request(2, "ping", json!({})));
    assert_eq!(reply.status, 400);
    // mcp::Error::UnsupportedProtocolVersion: -32022 naming what was asked and what is offered.
    let body = body_json(&reply);
    assert_eq!(body["error"]["code"], -32022, "{body}");
    assert_eq!(body["error"]["data"]["requested"], "2025-03-26");
    assert_eq!(body["error"]["data"]["supported"], json!(["2025-11-25"]));
}

#[test]
fn protocol_header_must_name_a_supported_revision() {
    let mut rig = Rig::new(ResponseMode::Auto);
    let id = rig.session("2025-11-25");
    let ping = request(2, "ping", json!({}));
    for (version, status) in [
        ("1999-01-01", 400),
        ("2026-07-28", 400),
        ("garbage", 400),
        ("2025-11-25", 200),
        ("2025-03-26", 200),
    ] {
        let headers = [
            ("Accept", BOTH),
            ("Content-Type", "application/json"),
            ("Mcp-Session-Id", id.as_str()),
            ("MCP-Protocol-Version", version),
        ];
        let reply = rig.post_with(1, &headers, &ping);
        assert_eq!(reply.status, status, "{version}");
    }
    let get = head(
        Method::Get,
        &[
            ("Accept", "text/event-stream"),
            ("Mcp-Session-Id", &id),
            ("MCP-Protocol-Version", "1999-01-01"),
        ],
    );
    // A version that is not a handshake revision selects the stateless era, which has no GET.
    assert_eq!(rig.t.get(c(2), &get, None, rig.now).status, 405);
}

#[test]
fn auto_mode_answers_json_when_ready_and_sse_when_streaming() {
    let mut rig = Rig::new(ResponseMode::Auto);
    let id = rig.session("2025-06-18");
    let reply = rig.post(1, &id, &request(2, "tools/list", json!({})));
    assert!(matches!(reply.body, ReplyBody::Json(_)));
    let reply = rig.post(2, &id, &progress_call(3));
    let (first, end) = stream_events(&reply);
    assert!(!end);
    assert_eq!(first.len(), 1, "progress 0 before the head leaves");
    assert!(first[0].data.contains("notifications/progress"));
    rig.advance(Duration::from_millis(100));
    let (rest, ended) = rig.sent_to(2);
    assert!(ended);
    assert_eq!(rest.len(), 3);
    let last: Value = serde_json::from_str(&rest[2].data).unwrap();
    assert_eq!(last["id"], 3);
    assert_eq!(rig.t.stats().open_streams, 0);
}

#[test]
fn json_mode_defers_and_sends_notifications_to_the_standalone_stream() {
    let mut rig = Rig::new(ResponseMode::Json);
    let id = rig.session("2025-06-18");
    let standalone = rig.get(7, &id, None);
    assert_eq!(standalone.status, 200);
    let reply = rig.post(2, &id, &progress_call(3));
    assert_eq!(reply.body, ReplyBody::Deferred);
    rig.advance(Duration::from_millis(100));
    let deferred: Vec<&Reply> = rig
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Reply { conn, reply } if *conn == c(2) => Some(reply),
            _ => None,
        })
        .collect();
    assert_eq!(deferred.len(), 1);
    assert_eq!(body_json(deferred[0])["id"], 3);
    let (notes, ended) = rig.sent_to(7);
    assert!(!ended);
    assert_eq!(notes.len(), 3);
    assert!(notes
        .iter()
        .all(|e| e.data.contains("notifications/progress")));
}

#[test]
fn sse_mode_always_streams() {
    let mut rig = Rig::new(ResponseMode::Sse);
    let id = rig.session("2025-06-18");
    let reply = rig.post(1, &id, &request(2, "ping", json!({})));
    let (events, end) = stream_events(&reply);
    assert!(end);
    assert_eq!(events.len(), 1);
    assert_eq!(
        serde_json::from_str::<Value>(&events[0].data).unwrap()["id"],
        2
    );
    assert_eq!(
        rig.post(1, &id, r#"{"jsonrpc":"2.0","method":"x"}"#).status,
        202
    );
}

#[test]
fn priming_event_only_from_2025_11_25() {
    for (version, primed) in [("2025-06-18", false), ("2025-11-25", true)] {
        let mut rig = Rig::new(ResponseMode::Sse);
        let id = rig.session(version);
        let (events, _) = stream_events(&rig.post(1, &id, &request(2, "ping", json!({}))));
        let first = &events[0];
        assert_eq!(first.data.is_empty(), primed, "{version}");
        if primed {
            assert_eq!(first.retry, Some(session::RETRY_MS));
            assert!(first.id.as_deref().unwrap().ends_with("-0"));
            assert_eq!(events.len(), 2);
        }
        let (standalone, _) = stream_events(&rig.get(3, &id, None));
        assert_eq!(!standalone.is_empty(), primed, "{version} GET");
    }
}

#[test]
fn event_ids_are_unique_and_name_their_stream() {
    let mut rig = Rig::new(ResponseMode::Auto);
    let id = rig.session("2025-11-25");
    let mut ids = Vec::new();
    for conn in [1, 2, 3] {
        let reply = rig.post(conn, &id, &progress_call(conn as u64 + 10));
        ids.extend(stream_events(&reply).0.into_iter().map(|e| (conn, e.id)));
    }
    rig.advance(Duration::from_millis(100));
    for conn in [1, 2, 3] {
        ids.extend(rig.sent_to(conn).0.into_iter().map(|e| (conn, e.id)));
    }
    assert_eq!(ids.len(), 3 * 5, "priming, three progress, result");
    let mut seen = std::collections::HashSet::new();
    for (conn, event_id) in &ids {
        let event_id = event_id.clone().unwrap();
        let (stream, _) = session::parse_event_id(&event_id).unwrap();
        let stream_of_conn = ids
            .iter()
            .find(|(c, _)| c == conn)
            .and_then(|(_, e)| session::parse_event_id(e.as_deref()?))
            .unwrap()
            .0;
        assert_eq!(stream, stream_of_conn, "{event_id} names its stream");
        assert!(seen.insert(event_id.clone()), "{event_id} repeated");
    }
}

#[test]
fn resumption_replays_exactly_that_stream() {
    let mut rig = Rig::new(ResponseMode::Auto);
    let id = rig.session("2025-06-18");
    let (a, _) = stream_events(&rig.post(1, &id, &progress_call(21)));
    let (b, _) = stream_events(&rig.post(2, &id, &progress_call(22)));
    let a_first = a[0].id.clone().unwrap();
    let b_first = b[0].id.clone().unwrap();
    rig.close(1);
    rig.advance(Duration::from_millis(100));
    let (b_rest, b_ended) = rig.sent_to(2);
    assert!(b_ended && b_rest.len() == 3);
    assert!(
        rig.sent_to(1).0.is_empty(),
        "nothing goes to a closed connection"
    );
    let reply = rig.get(5, &id, Some(&a_first));
    assert_eq!(reply.status, 200);
    let (replayed, end) = stream_events(&reply);
    assert!(end, "A is complete: replay then end");
    let prefix = a_first.split('-').next().unwrap().to_string() + "-";
    assert_eq!(replayed.len(), 3);
    assert!(replayed
        .iter()
        .all(|e| e.id.as_ref().unwrap().starts_with(&prefix)));
    let last: Value = serde_json::from_str(&replayed[2].data).unwrap();
    assert_eq!(last["id"], 21);
    // B finished on its connection and is gone; foreign ids are refused.
    assert_eq!(rig.get(6, &id, Some(&b_first)).status, 400);
    assert_eq!(rig.get(6, &id, Some("99-1")).status, 400);
    assert_eq!(rig.get(6, &id, Some("not-an-id")).status, 400);
}

#[test]
fn one_table_follows_a_stream_through_resumption_takeover_and_end() {
    let mut rig = Rig::new(ResponseMode::Auto);
    let id = rig.session("2025-06-18");
    assert_eq!(rig.get(3, &id, None).status, 200);
    let (a, end) = stream_events(&rig.post(1, &id, &progress_call(21)));
    assert!(!end);
    assert_eq!(rig.t.stats().open_streams, 2);
    assert!(rig.t.is_long_lived(c(3)) && !rig.t.is_long_lived(c(1)));
    // Connection 5 resumes the call's stream while connection 1 still carries it: 1 is closed
    // and forgotten, 5 carries the stream.
    let resumed = rig.get(5, &id, a[0].id.as_deref());
    assert_eq!(resumed.status, 200);
    assert!(rig.actions.contains(&Action::Close { conn: c(1) }));
    assert_eq!(rig.t.attached.stream_of(c(1)), None);
    assert!(rig.t.attached.stream_of(c(5)).is_some());
    assert_eq!(rig.t.stats().open_streams, 2);
    rig.close(1); // The closed connection going away changes nothing.
    assert!(rig.t.attached.stream_of(c(5)).is_some());
    rig.advance(Duration::from_millis(100));
    let (events, ended) = rig.sent_to(5);
    assert!(ended, "the answer ends the resumed stream");
    let last: Value = serde_json::from_str(&events.last().unwrap().data).unwrap();
    assert_eq!(last["id"], 21);
    assert!(rig.sent_to(1).0.is_empty());
    assert_eq!(rig.t.stats().open_streams, 1);
    assert_eq!(rig.delete(&id), Reply::empty(200));
    assert!(rig.actions.contains(&Action::Close { conn: c(3) }));
    assert_eq!(rig.t.stats().open_streams, 0);
}

#[test]
fn reconnection_tool_answer_arrives_on_resumed_get() {
    let mut rig = Rig::new(ResponseMode::Auto);
    let (id, primed) = start_reconnection_call(&mut rig);
    rig.advance(Duration::from_millis(200));
    let reply = rig.get(2, &id, primed[0].id.as_deref());
    let (events, end) = stream_events(&reply);
    assert!(end);
    assert_eq!(events.len(), 1);
    let answer: Value = serde_json::from_str(&events[0].data).unwrap();
    assert_eq!(answer["id"], 2);
    assert!(answer["result"].is_object());
}

#[test]
fn second_standalone_get_is_409() {
    let mut rig = Rig::new(ResponseMode::Auto);
    let id = rig.session("2025-06-18");
    assert_eq!(rig.get(1, &id, None).status, 200);
    let second = rig.get(2, &id, None);
    assert_eq!(second.status, 409);
    assert_eq!(error_of(&second), (None, jsonrpc::SERVER_ERROR));
    rig.close(1);
    assert_eq!(rig.get(2, &id, None).status, 200);
}

#[test]
fn delete_ends_the_session_and_its_streams() {
    let mut rig = Rig::new(ResponseMode::Auto);
    let id = rig.session("2025-06-18");
    assert_eq!(rig.get(4, &id, None).status, 200);
    assert_eq!(rig.delete(&id), Reply::empty(200));
    assert!(rig.actions.contains(&Action::Close { conn: c(4) }));
    assert_eq!(rig.post(1, &id, &request(2, "ping", json!({}))).status, 404);
    assert_eq!(rig.get(5, &id, None).status, 404);
    assert_eq!(rig.delete(&id).status, 404);
    assert_eq!(rig.t.stats().active_sessions, 0);
}

#[test]
fn idle_session_expires_after_the_timeout() {
    let mut rig = Rig::with(Builtin::new(), ResponseMode::Auto, |s| {
        s.session_timeout = Duration::from_secs(1)
    });
    let id = rig.session("2025-06-18");
    rig.advance(Duration::from_millis(900));
    assert_eq!(rig.post(1, &id, &request(2, "ping", json!({}))).status, 200);
    rig.advance(Duration::from_millis(900));
    assert_eq!(
        rig.t.stats().active_sessions,
        1,
        "activity restarts the clock"
    );
    rig.advance(Duration::from_millis(100));
    assert_eq!(rig.t.stats().active_sessions, 0);
    assert_eq!(rig.post(1, &id, &request(3, "ping", json!({}))).status, 404);
}

#[test]
fn session_with_a_request_in_flight_does_not_expire() {
    let mut rig = Rig::with(Builtin::new(), ResponseMode::Auto, |s| {
        s.session_timeout = Duration::from_secs(1)
    });
    let id = rig.session("2025-06-18");
    let call = request(
        2,
        "tools/call",
        json!({"name": "test_sampling", "arguments": {"prompt": "hi"}}),
    );
    let (asked, _) = stream_events(&rig.post(1, &id, &call));
    let asked: Value = serde_json::from_str(&asked[0].data).unwrap();
    assert_eq!(asked["method"], "sampling/createMessage");
    rig.advance(Duration::from_secs(10));
    assert_eq!(rig.t.stats().active_sessions, 1);
    let answer = json!({"jsonrpc": "2.0", "id": asked["id"],
        "result": {"role": "assistant", "content": {"type": "text", "text": "ok"}, "model": "m"}});
    assert_eq!(rig.post(2, &id, &answer.to_string()).status, 202);
    assert!(rig.sent_to(1).1, "the call's stream ended with its answer");
    rig.advance(Duration::from_secs(2));
    assert_eq!(rig.t.stats().active_sessions, 0);
}

#[test]
fn session_with_an_open_stream_does_not_expire() {
    let mut rig = Rig::with(Builtin::new(), ResponseMode::Auto, |s| {
        s.session_timeout = Duration::from_secs(1)
    });
    let id = rig.session("2025-06-18");
    assert_eq!(rig.get(1, &id, None).status, 200);
    rig.advance(Duration::from_secs(10));
    assert_eq!(rig.t.stats().active_sessions, 1);
    rig.close(1);
    rig.advance(Duration::from_secs(2));
    assert_eq!(rig.t.stats().active_sessions, 0);
}

#[test]
fn session_cap_is_503_with_retry_after() {
    let mut rig = Rig::with(Builtin::new(), ResponseMode::Auto, |s| s.max_sessions = 2);
    let first = rig.session("2025-06-18");
    rig.session("2025-06-18");
    let reply = rig.initialize("2025-06-18", json!({}));
    assert_eq!(reply.status, 503);
    assert_eq!(header(&reply, "Retry-After"), Some("5"));
    let body = body_json(&reply);
    assert_eq!(body["id"], 1);
    assert_eq!(body["error"]["code"], jsonrpc::SERVER_ERROR);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("--max-sessions"));
    assert_eq!(rig.t.stats().total_sessions, 2);
    rig.delete(&first);
    assert_eq!(rig.initialize("2025-06-18", json!({})).status, 200);
}

/// Builtin, except that `boom` panics, `surrogate` answers raw text a `Value` cannot hold, and
/// `listened_uris` is recorded: one delegating wrapper for the tests that need any of them.
struct Wrapped(Builtin, Vec<Vec<String>>);

impl Wrapped {
    fn new() -> Wrapped {
        Wrapped(Builtin::new(), Vec::new())
    }
}

impl Handler for Wrapped {
    fn server_info(&self) -> crate::mcp::ServerInfo {
        self.0.server_info()
    }

    fn handle_request(
        &mut self,
        ctx: &mut Context<'_>,
        request: RequestHandle,
        method: &str,
        params: Option<Params>,
    ) {
        if method == "boom" {
            ctx.respond(request, Ok(json!({"lost": true})));
            panic!("boom");
        }
        if method == "surrogate" {
            let text = r#"{"content":[{"text":"up\ud800stream","type":"text"}]}"#;
            let raw = crate::mcp::RawResult::new(text.into()).unwrap();
            return ctx.respond_raw(request, raw);
        }
        self.0.handle_request(ctx, request, method, params)
    }

    fn handle_notification(&mut self, ctx: &mut Context<'_>, method: &str, params: Option<Params>) {
        self.0.handle_notification(ctx, method, params)
    }

    fn handle_response(
        &mut self,
        ctx: &mut Context<'_>,
        id: OutgoingId,
        outcome: Result<Value, ErrorObject>,
    ) {
        self.0.handle_response(ctx, id, outcome)
    }

    fn handle_timer(&mut self, ctx: &mut Context<'_>, token: u64) {
        self.0.handle_timer(ctx, token)
    }

    fn listened_uris(&mut self, uris: &[String]) {
        self.1.push(uris.to_vec());
    }
}

#[test]
fn raw_text_a_value_cannot_hold_goes_out_as_given_or_fails_where_it_is_edited() {
    let mut rig = Rig::with(Wrapped::new(), ResponseMode::Json, |_| {});
    let id = rig.session("2025-06-18");
    let reply = rig.post(1, &id, &request(2, "surrogate", json!({})));
    let expected = r#"{"id":2,"jsonrpc":"2.0","result":{"content":[{"text":"up\ud800stream","type":"text"}]}}"#;
    assert_eq!(reply.body, ReplyBody::Json(expected.into()));

    // 2026-07-28 results get `resultType`: the text must become a value, and cannot.
    let mut rig = Rig::with(Wrapped::new(), ResponseMode::Auto, |_| {});
    let reply = stateless_post(&mut rig, 1, 5, "surrogate", json!({}), None);
    let body = body_json(&reply);
    assert_eq!(body["error"]["code"], jsonrpc::INTERNAL_ERROR, "{body}");
    assert!(body.get("result").is_none(), "{body}");
}

#[test]
fn handler_panic_fails_only_that_request() {
    let mut rig = Rig::with(Wrapped::new(), ResponseMode::Auto, |_| {});
    let id = rig.session("2025-06-18");
    let reply = rig.post(1, &id, &request(2, "boom", json!({})));
    assert_eq!(reply.status, 200);
    let body = body_json(&reply);
    assert_eq!(body["id"], 2);
    assert_eq!(body["error"]["code"], jsonrpc::INTERNAL_ERROR);
    assert!(
        body.get("result").is_none(),
        "what the panicking callback queued is dropped"
    );
    let ping = rig.post(1, &id, &request(3, "ping", json!({})));
    assert_eq!(body_json(&ping)["result"], json!({}));
}

/// Builtin, except that `initialize` is answered late, after its stream was let go (SSE
/// polling), as a backend that asks upstream first might do.
#[derive(Default)]
struct LateInit {
    inner: Builtin,
    init: Option<(RequestHandle, Option<Value>)>,
}

const CLOSE_INIT: u64 = u64::MAX - 1;
const ANSWER_INIT: u64 = u64::MAX - 2;

impl Handler for LateInit {
    fn server_info(&self) -> crate::mcp::ServerInfo {
        self.inner.server_info()
    }

    fn initialize(
        &mut self,
        ctx: &mut Context<'_>,
        request: RequestHandle,
        params: Option<Params>,
    ) {
        self.init = Some((request, params.map(Params::into_value)));
        ctx.set_timer(Duration::from_millis(10), CLOSE_INIT);
    }

    fn handle_request(
        &mut self,
        ctx: &mut Context<'_>,
        request: RequestHandle,
        method: &str,
        params: Option<Params>,
    ) {
        self.inner.handle_request(ctx, request, method, params)
    }

    fn handle_notification(&mut self, ctx: &mut Context<'_>, method: &str, params: Option<Params>) {
        self.inner.handle_notification(ctx, method, params)
    }

    fn handle_response(
        &mut self,
        ctx: &mut Context<'_>,
        id: OutgoingId,
        outcome: Result<Value, ErrorObject>,
    ) {
        self.inner.handle_response(ctx, id, outcome)
    }

    fn handle_timer(&mut self, ctx: &mut Context<'_>, token: u64) {
        match (token, &self.init) {
            (CLOSE_INIT, Some((request, _))) => {
                ctx.close_stream(*request);
                ctx.set_timer(Duration::from_millis(10), ANSWER_INIT);
            }
            (ANSWER_INIT, Some((request, params))) => {
                let answer = self.server_info().initialize(params.as_ref());
                ctx.respond(*request, answer);
            }
            _ => self.inner.handle_timer(ctx, token),
        }
    }
}

#[test]
fn a_held_initialize_let_go_before_its_answer_sends_its_head_and_resumes() {
    let mut rig = Rig::with(LateInit::default(), ResponseMode::Auto, |_| {});
    let reply = rig.initialize("2025-11-25", json!({}));
    assert_eq!(reply.body, ReplyBody::Deferred, "held until the answer");
    rig.advance(Duration::from_millis(10));
    // The waiting connection gets its head now: the session id and the priming event, then
    // the end; it does not wait for an answer that will never come to it.
    let sent = rig.actions.iter().find_map(|a| match a {
        Action::Reply { conn, reply } if *conn == c(99) => Some(reply),
        _ => None,
    });
    let sent = sent.expect("the held reply is sent when its stream is let go");
    let id = header(sent, "Mcp-Session-Id").unwrap().to_string();
    let (primed, end) = stream_events(sent);
    assert!(end);
    assert_eq!(primed.len(), 1);
    assert_eq!(rig.t.stats().open_streams, 0);
    rig.advance(Duration::from_millis(10));
    let resumed = rig.get(7, &id, primed[0].id.as_deref());
    let (events, end) = stream_events(&resumed);
    assert!(end, "the answer is all the stream carries");
    let answer: Value = serde_json::from_str(&events[0].data).unwrap();
    assert_eq!(answer["id"], 1);
    assert_eq!(answer["result"]["protocolVersion"], "2025-11-25");
}

#[test]
fn cancelled_request_gets_no_answer_and_its_stream_ends() {
    let mut rig = Rig::new(ResponseMode::Auto);
    let id = rig.session("2025-06-18");
    let (first, _) = stream_events(&rig.post(1, &id, &progress_call(7)));
    assert_eq!(first.len(), 1);
    let cancel = json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                        "params": {"requestId": 7, "reason": "test"}});
    assert_eq!(rig.post(2, &id, &cancel.to_string()).status, 202);
    rig.advance(Duration::from_millis(500));
    let (later, ended) = rig.sent_to(1);
    assert!(later.is_empty(), "{later:?}");
    assert!(ended);
    assert_eq!(rig.t.stats().open_streams, 0);
    // Cancelling an id that is not in flight changes nothing.
    let stray = json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                       "params": {"requestId": 7}});
    assert_eq!(rig.post(2, &id, &stray.to_string()).status, 202);
}

#[test]
fn cancelled_json_mode_request_is_answered_202_not_an_empty_array() {
    let mut rig = Rig::new(ResponseMode::Json);
    let id = rig.session("2025-06-18");
    assert_eq!(
        rig.post(1, &id, &progress_call(7)).body,
        ReplyBody::Deferred
    );
    let cancel = json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                        "params": {"requestId": 7}});
    assert_eq!(rig.post(2, &id, &cancel.to_string()).status, 202);
    let deferred = rig.actions.iter().find_map(|a| match a {
        Action::Reply { conn, reply } if *conn == c(1) => Some(reply),
        _ => None,
    });
    let reply = deferred.expect("the waiting POST gets its answer");
    assert_eq!((reply.status, &reply.body), (202, &ReplyBody::Empty));
}

#[test]
fn compatibility_paths_name_the_session() {
    let mut rig = Rig::new(ResponseMode::Auto);
    let id = rig.session("2025-06-18");
    let get = head(Method::Get, &[("Accept", "text/event-stream")]);
    assert_eq!(rig.t.get(c(1), &get, Some(&id), rig.now).status, 200);
    assert_eq!(
        rig.t.delete(&head(Method::Delete, &[]), Some(&id)).status,
        200
    );
    assert_eq!(
        rig.t.delete(&head(Method::Delete, &[]), Some(&id)).status,
        404
    );
}

/// Connection `n` (first generation) of the rig's transport.
fn c(n: u32) -> ConnId {
    ConnId::new(n, 0)
}

/// Headers and `_meta` of a stateless (2026-07-28) request for `method`.
fn stateless_post<H: Handler>(
    rig: &mut Rig<H>,
    conn: u32,
    id: u64,
    method: &str,
    mut params: Value,
    name: Option<&str>,
) -> Reply {
    params["_meta"]["io.modelcontextprotocol/protocolVersion"] = json!("2026-07-28");
    params["_meta"]["io.modelcontextprotocol/clientCapabilities"] = json!({});
    let mut headers = vec![
        ("Accept", BOTH),
        ("Content-Type", "application/json"),
        ("MCP-Protocol-Version", "2026-07-28"),
        ("Mcp-Method", method),
    ];
    if let Some(name) = name {
        headers.push(("Mcp-Name", name));
    }
    rig.post_with(conn, &headers, &request(id, method, params))
}

#[test]
fn a_raw_echo_result_is_decorated_at_2026_and_sent_as_given_before() {
    let mut rig = Rig::new(ResponseMode::Auto);
    let params = json!({"name": "echo", "arguments": {"message": "hi"}});
    let reply = stateless_post(&mut rig, 1, 5, "tools/call", params.clone(), Some("echo"));
    assert_eq!(reply.status, 200);
    let result = &body_json(&reply)["result"];
    assert_eq!(result["resultType"], "complete");
    assert_eq!(result["content"], json!([{"type": "text", "text": "hi"}]));

    let mut rig = Rig::new(ResponseMode::Json);
    let session = rig.session("2025-06-18");
    let reply = rig.post(1, &session, &request(2, "tools/call", params));
    assert_eq!(reply.status, 200);
    let expected = r#"{"id":2,"jsonrpc":"2.0","result":{"content":[{"text":"hi","type":"text"}]}}"#;
    assert_eq!(reply.body, ReplyBody::Json(expected.into()));
}

#[test]
fn stateless_request_leaves_no_session_behind() {
    let mut rig = Rig::new(ResponseMode::Auto);
    let reply = stateless_post(&mut rig, 1, 5, "tools/list", json!({}), None);
    assert_eq!(reply.status, 200);
    assert!(header(&reply, "Mcp-Session-Id").is_none());
    assert_eq!(body_json(&reply)["result"]["resultType"], "complete");
    assert!(
        rig.t.sessions.is_empty(),
        "the one-request session is reaped"
    );
    assert_eq!(rig.t.stats().active_sessions, 0);
}

#[test]
fn closing_a_stateless_stream_cancels_and_forgets_the_request() {
    let mut rig = Rig::new(ResponseMode::Auto);
    let mut params = json!({"name": "test_tool_with_progress", "arguments": {}});
    params["_meta"] = json!({"progressToken": 1});
    let reply = stateless_post(
        &mut rig,
        1,
        5,
        "tools/call",
        params,
        Some("test_tool_with_progress"),
    );
    let (events, ended) = stream_events(&reply);
    assert_eq!(
        (events.len(), ended),
        (1, false),
        "first progress, no priming"
    );
    rig.close(1);
    assert!(rig.t.sessions.is_empty());
    rig.advance(Duration::from_secs(1));
    let (later, _) = rig.sent_to(1);
    assert!(
        later.is_empty(),
        "nothing is sent for a cancelled request: {later:?}"
    );
}

#[test]
fn listen_streams_get_only_the_notifications_they_asked_for() {
    let mut rig = Rig::new(ResponseMode::Auto);
    let tools = json!({"notifications": {"toolsListChanged": true}});
    let reply = stateless_post(&mut rig, 1, 70, "subscriptions/listen", tools, None);
    let (ack, ended) = stream_events(&reply);
    assert!(!ended);
    assert!(ack[0]
        .data
        .contains("notifications/subscriptions/acknowledged"));
    let prompts = json!({"notifications": {"promptsListChanged": true}});
    stateless_post(&mut rig, 2, 71, "subscriptions/listen", prompts, None);
    let trigger = json!({"name": "test_trigger_tool_change", "arguments": {}});
    let reply = stateless_post(
        &mut rig,
        3,
        72,
        "tools/call",
        trigger,
        Some("test_trigger_tool_change"),
    );
    assert_eq!(reply.status, 200);
    let (to_tools, _) = rig.sent_to(1);
    let (to_prompts, _) = rig.sent_to(2);
    assert_eq!(to_tools.len(), 1, "{to_tools:?}");
    assert!(to_tools[0]
        .data
        .contains("notifications/tools/list_changed"));
    assert!(to_tools[0]
        .data
        .contains("\"io.modelcontextprotocol/subscriptionId\":70"));
    assert!(to_prompts.is_empty(), "{to_prompts:?}");
    rig.close(1);
    assert_eq!(
        rig.t.listeners.len(),
        1,
        "a closed listen stream is forgotten"
    );
}

/// A backend that decides each `initialize` by its `mode` param, the way a bridge does:
/// `refuse` (overloaded), `later` (answered through `handle_wake`), else at once; it also
/// notes what `least_active_idle` offered and can ask for a shorter idle timeout.
#[derive(Default)]
struct Gate {
    held: Vec<(SessionKey, RequestHandle)>,
    queue: VecDeque<(Option<SessionKey>, Command)>,
    offered: Vec<Option<SessionKey>>,
    idle_after: Option<Duration>,
}

impl Handler for Gate {
    fn initialize(
        &mut self,
        ctx: &mut Context<'_>,
        request: RequestHandle,
        params: Option<Params>,
    ) {
        self.handle_request(ctx, request, "initialize", params);
    }

    fn handle_request(
        &mut self,
        ctx: &mut Context<'_>,
        request: RequestHandle,
        method: &str,
        params: Option<Params>,
    ) {
        let mode = params
            .as_ref()
            .and_then(|p| p.get("mode"))
            .and_then(Value::as_str);
        if method == "initialize" {
            self.offered.push(ctx.least_active_idle());
            if let (Some(after), Some(key)) = (self.idle_after, ctx.session()) {
                self.queue
                    .push_back((Some(key), Command::IdleTimeout { after }));
            }
        }
        match mode {
            Some("refuse") => ctx.overloaded(request, "the backend is restarting"),
            Some("later") => self.held.push((ctx.session().unwrap(), request)),
            _ => ctx.respond(request, Ok(json!({"protocolVersion": "2025-06-18"}))),
        }
    }

    fn handle_wake(&mut self, out: &mut crate::mcp::Outbox) {
        while let Some((key, command)) = self.queue.pop_front() {
            match (command, key) {
                (Command::Respond { request, outcome }, _) => out.respond(request, outcome),
                (Command::IdleTimeout { after }, Some(key)) => out.idle_timeout(key, after),
                (other, _) => panic!("Gate queues no {other:?}"),
            }
        }
    }
}

impl Rig<Gate> {
    fn init_mode(&mut self, conn: u32, mode: &str) -> Reply {
        let body = request(
            1,
            "initialize",
            json!({"protocolVersion": "2025-06-18", "mode": mode}),
        );
        self.post_with(
            conn,
            &[("Accept", BOTH), ("Content-Type", "application/json")],
            &body,
        )
    }

    /// Answers the first held request with `outcome`; the deferred reply of `conn`.
    fn answer_held(&mut self, conn: u32, outcome: Result<Value, ErrorObject>) -> Reply {
        let (key, request) = self.t.handler_mut().held.remove(0);
        let command = Command::Respond { request, outcome };
        self.t.handler_mut().queue.push_back((Some(key), command));
        self.t.pump_backend(self.now);
        self.drain();
        let at = self
            .actions
            .iter()
            .position(|a| matches!(a, Action::Reply { conn: to, .. } if *to == c(conn)));
        match at.map(|at| self.actions.remove(at)) {
            Some(Action::Reply { reply, .. }) => reply,
            other => panic!(
                "no deferred reply for {conn}: {other:?} in {:?}",
                self.actions
            ),
        }
    }
}

#[test]
fn refused_initialize_is_503_with_retry_after_and_no_session() {
    let mut rig = Rig::with(Gate::default(), ResponseMode::Auto, |_| {});
    let reply = rig.init_mode(1, "refuse");
    assert_eq!(reply.status, 503, "{reply:?}");
    assert_eq!(header(&reply, "Retry-After"), Some("5"));
    assert!(header(&reply, "Mcp-Session-Id").is_none());
    assert!(body_json(&reply)["error"]["message"]
        .as_str()
        .unwrap()
        .contains("restarting"));
    assert!(rig.t.sessions.is_empty(), "no session is left behind");
}

#[test]
fn initialize_answered_later_is_held_and_gets_the_session_id_only_on_success() {
    let mut rig = Rig::with(Gate::default(), ResponseMode::Auto, |_| {});
    let reply = rig.init_mode(1, "later");
    assert_eq!(
        reply.body,
        ReplyBody::Deferred,
        "held until the backend answers"
    );
    assert!(reply.headers.is_empty(), "{reply:?}");
    let error = ErrorObject::new(jsonrpc::INTERNAL_ERROR, "cannot start the server")
        .with_data(json!({"stderr": ["boom"]}));
    let failed = rig.answer_held(1, Err(error));
    assert_eq!(failed.status, 500);
    assert!(header(&failed, "Mcp-Session-Id").is_none());
    assert_eq!(body_json(&failed)["error"]["data"]["stderr"][0], "boom");
    assert!(rig.t.sessions.is_empty());

    rig.init_mode(2, "later");
    let timeout = ErrorObject::new(jsonrpc::REQUEST_TIMEOUT, "no answer (--init-timeout)");
    assert_eq!(rig.answer_held(2, Err(timeout)).status, 504);

    rig.init_mode(3, "later");
    let ok = rig.answer_held(3, Ok(json!({"protocolVersion": "2025-06-18"})));
    assert_eq!(ok.status, 200);
    let id = header(&ok, "Mcp-Session-Id").expect("the session id comes with success");
    assert_eq!(rig.post(4, id, &request(2, "ping", json!({}))).status, 200);
}

#[test]
fn stateless_refusal_stays_503_with_retry_after() {
    let mut rig = Rig::with(Gate::default(), ResponseMode::Auto, |_| {});
    let mut params = json!({"mode": "refuse"});
    params["_meta"]["io.modelcontextprotocol/protocolVersion"] = json!("2026-07-28");
    params["_meta"]["io.modelcontextprotocol/clientCapabilities"] = json!({});
    let headers = [
        ("Accept", BOTH),
        ("Content-Type", "application/json"),
        ("MCP-Protocol-Version", "2026-07-28"),
        ("Mcp-Method", "tools/list"),
    ];
    let reply = rig.post_with(1, &headers, &request(7, "tools/list", params));
    assert_eq!(reply.status, 503, "{reply:?}");
    assert_eq!(header(&reply, "Retry-After"), Some("5"));
}

#[test]
fn handler_idle_timeout_ends_an_idle_session_sooner() {
    let mut rig = Rig::with(Gate::default(), ResponseMode::Auto, |s| {
        s.session_timeout = Duration::from_secs(60)
    });
    rig.t.handler_mut().idle_after = Some(Duration::from_secs(5));
    let reply = rig.init_mode(1, "now");
    let id = header(&reply, "Mcp-Session-Id").unwrap().to_string();
    rig.t.pump_backend(rig.now);
    rig.drain();
    rig.advance(Duration::from_secs(4));
    assert_eq!(rig.post(2, &id, &request(2, "ping", json!({}))).status, 200);
    assert_eq!(rig.get(3, &id, None).status, 200);
    rig.advance(Duration::from_secs(30));
    assert_eq!(
        rig.t.stats().active_sessions,
        1,
        "an open stream is not idle"
    );
    rig.close(3);
    rig.advance(Duration::from_secs(5));
    assert_eq!(rig.t.stats().active_sessions, 0, "ended long before 60 s");
}

#[test]
fn initialize_is_offered_the_least_recently_active_idle_session() {
    let mut rig = Rig::with(Gate::default(), ResponseMode::Auto, |_| {});
    let first = rig.init_mode(1, "now");
    let first = header(&first, "Mcp-Session-Id").unwrap().to_string();
    rig.advance(Duration::from_secs(1));
    rig.init_mode(2, "now");
    rig.advance(Duration::from_secs(1));
    rig.init_mode(3, "now");
    let offered = rig.t.handler().offered.clone();
    assert_eq!(offered[..2], [None, Some(SessionKey(1))]);
    assert_eq!(offered[2], Some(SessionKey(1)), "the oldest idle one");
    assert_eq!(rig.get(4, &first, None).status, 200);
    rig.init_mode(5, "now");
    assert_eq!(
        rig.t.handler().offered[3],
        Some(SessionKey(2)),
        "a session with an open stream is not idle"
    );
}

#[test]
fn the_handler_learns_which_resources_the_listen_streams_follow() {
    let mut rig = Rig::with(Wrapped::new(), ResponseMode::Auto, |_| {});
    let follow = |uris: &[&str]| json!({"notifications": {"resourceSubscriptions": uris}});
    stateless_post(
        &mut rig,
        1,
        70,
        "subscriptions/listen",
        follow(&["b://2", "a://1"]),
        None,
    );
    stateless_post(
        &mut rig,
        2,
        71,
        "subscriptions/listen",
        follow(&["a://1"]),
        None,
    );
    rig.close(1);
    rig.close(2);
    let told: Vec<Vec<String>> = rig.t.handler().1.clone();
    let want: Vec<Vec<String>> = vec![
        vec!["a://1".into(), "b://2".into()],
        vec!["a://1".into(), "b://2".into()],
        vec!["a://1".into()],
        vec![],
    ];
    assert_eq!(told, want, "the sorted union after every change");
}

#[test]
fn reconnection_tool_answer_follows_a_get_resumed_before_it_is_ready() {
    let mut rig = Rig::new(ResponseMode::Auto);
    let (id, primed) = start_reconnection_call(&mut rig);
    rig.close(1);
    // The client reconnects at once, before the tool's pause is over.
    let reply = rig.get(2, &id, primed[0].id.as_deref());
    assert_eq!(reply.status, 200);
    let (early, end) = stream_events(&reply);
    assert!(!end && early.iter().all(|e| e.data.is_empty()), "{early:?}");
    rig.advance(Duration::from_millis(200));
    let (events, end) = rig.sent_to(2);
    assert!(end, "the resumed stream ends with the answer");
    let answers: Vec<Value> = events
        .iter()
        .filter(|e| !e.data.is_empty())
        .map(|e| serde_json::from_str(&e.data).unwrap())
        .collect();
    assert_eq!(answers.len(), 1, "{events:?}");
    assert_eq!(answers[0]["id"], 2);
    assert!(answers[0]["result"].is_object());
}

/// A 2025-11-25 session whose `test_reconnection` call (id 2, on connection 1) has sent its
/// priming event and ended its POST stream; the session id and that one event.
fn start_reconnection_call(rig: &mut Rig<Builtin>) -> (String, Vec<ParsedEvent>) {
    let id = rig.session("2025-11-25");
    let call = request(
        2,
        "tools/call",
        json!({"name": "test_reconnection", "arguments": {}}),
    );
    let (primed, end) = stream_events(&rig.post(1, &id, &call));
    assert!(end, "the POST stream ends after priming");
    assert_eq!(primed.len(), 1);
    assert!(primed[0].data.is_empty());
    (id, primed)
}

#[test]
fn one_pass_accept_check_agrees_with_two() {
    let values = [
        "application/json",
        "text/event-stream",
        "TEXT/EVENT-STREAM ; q=1, Application/JSON",
        "application/*, text/*",
        "*/*",
        "text/html, */*;q=0.1",
        "application/json, text/plain",
        "",
        " , ",
        "application/json, text/event-stream",
        "text/event-stream, application/json",
        "application/json,text/event-stream",
        "application/json, text/event-stream;q=0",
        "Application/JSON, Text/Event-Stream",
    ];
    let mut heads = vec![head(Method::Post, &[])];
    for a in values {
        heads.push(head(Method::Post, &[("Accept", a)]));
        for b in values {
            heads.push(head(Method::Post, &[("Accept", a), ("accept", b)]));
        }
    }
    heads.push(RequestHead::new(
        Method::Post,
        "/mcp",
        Version::Http11,
        &[("Accept", b"application/json, \xff text/event-stream")],
    ));
    for h in heads {
        let two = super::accepts(&h, super::Accept::Json) && super::accepts(&h, super::Accept::Sse);
        assert_eq!(super::accepts_json_and_sse(&h), two, "{h:?}");
    }
}

#[test]
fn media_ranges_split_like_str_split() {
    for value in [
        "",
        ",",
        " , ,",
        "application/json",
        "text/event-stream;q=0.5 , application/json ;q=1,",
        "a;b;c,d",
        "\u{a0}text/*\u{a0}, é/ü ; x",
        ";,;",
    ] {
        let got: Vec<&str> = super::media_ranges(value).collect();
        let want: Vec<&str> = value
            .split(',')
            .map(|item| item.split(';').next().unwrap_or("").trim())
            .collect();
        assert_eq!(got, want, "{value:?}");
    }
}

/// Ends its session on `end`, answers everything at once, and logs what it is told.
#[derive(Default)]
struct Ender(Vec<String>);

impl Handler for Ender {
    fn handle_request(
        &mut self,
        ctx: &mut Context<'_>,
        request: RequestHandle,
        method: &str,
        _: Option<Params>,
    ) {
        self.0.push(method.to_string());
        match method {
            "hold" => return,
            "end" => ctx.end_session(),
            _ => {}
        }
        ctx.respond(request, Ok(json!({})));
    }

    fn session_closed(&mut self, _: SessionKey) {
        self.0.push("closed".into());
    }
}

/// Opens an HTTP+SSE session on connection 1 and POSTs `batch` to it; the session's key.
fn http_sse_batch(rig: &mut Rig<Ender>, batch: &str) -> SessionKey {
    let get = head(Method::Get, &[("Accept", "text/event-stream")]);
    let opened = rig.t.open_http_sse(c(1), &get, "/messages", rig.now);
    rig.drain();
    let (initial, _) = stream_events(&opened);
    let endpoint = initial[0].data.clone();
    let key = *rig.t.sessions.keys().next().unwrap();
    let fields: Vec<(&str, &[u8])> = vec![("Content-Type", b"application/json")];
    let post = RequestHead::new(Method::Post, &endpoint, Version::Http11, &fields);
    let reply = rig.t.post_http_sse(&post, batch.as_bytes(), rig.now);
    rig.drain();
    assert_eq!(reply.status, 202);
    key
}

#[test]
fn http_sse_past_the_pending_cap_is_the_same_error_as_other_transports() {
    let mut rig = Rig::with(Ender::default(), ResponseMode::Auto, |s| s.caps.pending = 1);
    let batch = format!(
        "[{},{}]",
        request(1, "hold", json!({})),
        request(2, "hold", json!({}))
    );
    http_sse_batch(&mut rig, &batch);
    let (sent, _) = rig.sent_to(1);
    let refusal: Value = serde_json::from_str(&sent.last().unwrap().data).unwrap();
    let expected = crate::mcp::error::Error::TooManyRequests(1).object();
    assert_eq!(refusal["id"], 2);
    assert_eq!(refusal["error"]["code"], expected.code);
    assert_eq!(refusal["error"]["message"], expected.message.as_str());
}

#[test]
fn http_sse_batch_items_after_the_session_ended_are_not_handled() {
    let mut rig = Rig::with(Ender::default(), ResponseMode::Auto, |_| {});
    let batch = format!(
        "[{},{}]",
        request(1, "end", json!({})),
        request(2, "after", json!({}))
    );
    let key = http_sse_batch(&mut rig, &batch);
    assert_eq!(rig.t.dispatcher.handler().0, ["end", "closed"]);
    assert_eq!(
        rig.t.dispatcher.pending_in(key),
        0,
        "no entry for the dead session"
    );
}

#[test]
fn an_answer_for_a_session_gone_still_frees_its_entry() {
    let mut rig = Rig::new(ResponseMode::Auto);
    let handle = rig
        .t
        .dispatcher
        .track(SessionKey(77), Id::from(1u64), "x", 0);
    rig.t
        .respond(handle, Ok(crate::mcp::jsonrpc::Answer::Value(json!({}))));
    assert!(rig.t.dispatcher.get(handle).is_none());
}

/// Sets, cancels and asks on demand (`tools/call` with `name` `arm`, `disarm` or `nag`), and
/// asks the client again every time a request of its is refused.
#[derive(Default)]
struct Timed {
    keys: Vec<crate::mcp::TimerKey>,
    refusals: usize,
}

impl Handler for Timed {
    fn handle_request(
        &mut self,
        ctx: &mut Context<'_>,
        request: RequestHandle,
        _method: &str,
        params: Option<Params>,
    ) {
        let name = params.as_ref().and_then(|p| p.get("name")).cloned();
        match name.as_ref().and_then(Value::as_str) {
            Some("arm") => self.keys.push(ctx.set_timer(Duration::from_secs(3600), 1)),
            Some("disarm") => self.keys.drain(..).for_each(|key| ctx.cancel_timer(key)),
            Some("nag") => {
                ctx.request(Some(request), "ping", json!({}));
            }
            _ => {}
        }
        ctx.respond(request, Ok(json!({})));
    }

    fn handle_response(
        &mut self,
        ctx: &mut Context<'_>,
        _id: OutgoingId,
        outcome: Result<Value, ErrorObject>,
    ) {
        if outcome.is_err() {
            self.refusals += 1;
            ctx.request(None, "ping", json!({}));
        }
    }
}

fn handler_timers(rig: &Rig<Timed>) -> usize {
    let handler = |(_, t): &&(Instant, Timer)| matches!(t, Timer::Handler(_));
    rig.timers.iter().filter(handler).count()
}

#[test]
fn cancelled_handler_timers_and_those_of_an_ended_session_are_disarmed() {
    let mut rig = Rig::with(Timed::default(), ResponseMode::Json, |_| {});
    let id = rig.session("2025-06-18");
    let call = |n: u64, name: &str| request(n, "tools/call", json!({ "name": name }));
    for n in 0..3 {
        assert_eq!(rig.post(1, &id, &call(10 + n, "arm")).status, 200);
    }
    assert_eq!(handler_timers(&rig), 3);
    rig.post(1, &id, &call(20, "disarm"));
    assert_eq!(handler_timers(&rig), 0, "cancelled timers leave the wheel");
    assert_eq!(rig.t.dispatcher.live_timers(), 0);
    // Cancelling again is a no-op, not a second disarm.
    rig.post(1, &id, &call(21, "arm"));
    rig.post(1, &id, &call(22, "arm"));
    assert_eq!(handler_timers(&rig), 2);
    rig.delete(&id);
    assert_eq!(
        handler_timers(&rig),
        0,
        "an ended session's timers leave too"
    );
    assert_eq!(rig.t.dispatcher.live_timers(), 0);
}

#[test]
fn a_handler_that_asks_again_on_every_refusal_is_called_back_a_bounded_number_of_times() {
    let mut rig = Rig::with(Timed::default(), ResponseMode::Json, |s| {
        s.caps.outgoing = 0
    });
    let id = rig.session("2025-06-18");
    let reply = rig.post(1, &id, &request(5, "tools/call", json!({"name": "nag"})));
    assert_eq!(
        body_json(&reply)["result"],
        json!({}),
        "the call is answered"
    );
    let bound = crate::mcp::dispatch::MAX_REFUSALS_PER_APPLY;
    assert_eq!(rig.t.handler().refusals, bound);
    // The session goes on.
    let reply = rig.post(1, &id, &request(6, "tools/call", json!({"name": "x"})));
    assert_eq!(reply.status, 200);
}

#[test]
fn the_harness_calls_a_handler_that_asks_again_on_every_refusal_back_a_bounded_number_of_times() {
    let mut h = crate::testing::Harness::new(Timed::default());
    let cap = crate::config::Limits::default().max_outgoing_per_session;
    for _ in 0..cap {
        assert_eq!(h.call_tool("nag", json!({})), Ok(json!({})));
    }
    assert_eq!(
        h.handler().refusals,
        0,
        "up to the cap every request is sent"
    );
    assert_eq!(
        h.call_tool("nag", json!({})),
        Ok(json!({})),
        "the call is answered"
    );
    let bound = crate::mcp::dispatch::MAX_REFUSALS_PER_APPLY;
    assert_eq!(h.handler().refusals, bound);
}

/// One line to a stdio transport; the lines it wrote back.
fn stdio_send(t: &mut stdio::StdioTransport, message: Value) -> Vec<Value> {
    t.handle_input(format!("{message}\n").as_bytes(), Instant::now());
    let n = t.pending_output().len();
    let text = String::from_utf8(t.pending_output().to_vec()).unwrap();
    t.consume_output(n);
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn stdio_takes_cancelled_timers_and_those_of_an_answered_stateless_request_off_its_wheel() {
    let limits = crate::config::Limits::default();
    let mut t = stdio::StdioTransport::new(Box::new(Timed::default()), &limits);
    let call = |id: u64, name: &str| json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": name}});
    stdio_send(&mut t, call(1, "arm"));
    stdio_send(&mut t, call(2, "arm"));
    assert_eq!(t.armed_timers(), 2);
    stdio_send(&mut t, call(3, "disarm"));
    assert_eq!(t.armed_timers(), 0, "cancelled timers leave the wheel");
    assert_eq!(t.next_deadline(), None);
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "c", "version": "1"},
    });
    let mut stateless = call(4, "arm");
    stateless["params"]["_meta"] = meta;
    let out = stdio_send(&mut t, stateless);
    assert_eq!(out[0]["id"], 4, "{out:?}");
    assert_eq!(
        t.armed_timers(),
        0,
        "the timer of an answered stateless request goes with its session"
    );
}

#[test]
fn stdio_calls_a_handler_that_asks_again_on_every_refusal_back_a_bounded_number_of_times() {
    let limits = crate::config::Limits {
        max_outgoing_per_session: 0,
        ..crate::config::Limits::default()
    };
    let mut t = stdio::StdioTransport::new(Box::new(Timed::default()), &limits);
    let out = stdio_send(
        &mut t,
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "nag"}}),
    );
    assert_eq!(
        out.len(),
        1,
        "only the answer: no refused request is written"
    );
    assert_eq!(out[0]["result"], json!({}));
    // The stream goes on.
    let out = stdio_send(
        &mut t,
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "x"}}),
    );
    assert_eq!(out[0]["id"], 2);
}

#[test]
fn a_single_request_past_the_pending_cap_is_503_and_opens_no_stream() {
    // One request goes through its own path (no vectors): the cap is checked before its stream
    // is opened, as for a batch.
    let mut rig = Rig::with(Ender::default(), ResponseMode::Json, |s| s.caps.pending = 1);
    let id = rig.session("2025-06-18");
    let held = rig.post(1, &id, &request(2, "hold", json!({})));
    assert_eq!(held.body, ReplyBody::Deferred);
    let streams = rig.t.stats().open_streams;
    let refused = rig.post(2, &id, &request(3, "hold", json!({})));
    assert_eq!(refused.status, 503);
    assert_eq!(header(&refused, "Retry-After"), Some("1"));
    assert_eq!(error_of(&refused), (None, jsonrpc::SERVER_ERROR));
    assert_eq!(rig.t.stats().open_streams, streams);
    assert_eq!(rig.t.attached.stream_of(c(2)), None);
    assert!(
        rig.t.attached.stream_of(c(1)).is_some(),
        "the held request waits"
    );
}
