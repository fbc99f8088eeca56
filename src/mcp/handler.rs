//! The handler trait: how application code answers MCP messages, and the context it acts through.
//!
//! A handler never blocks and never touches I/O. It describes itself once
//! ([`Handler::server_info`]: the dispatcher answers `initialize`, `ping` and `server/discover`
//! from it) and answers its own methods. Each callback gets a [`Context`], a view of the
//! dispatcher's [`Outbox`] scoped to the callback's session, that records what the handler
//! wants done (answer a request now or later, send a notification, send a request to the
//! client, set or cancel a timer); the transport that called it carries those out after the
//! callback returns. Work that arrives outside any callback goes into the same outbox in
//! [`Handler::handle_wake`], so every request id and timer key comes from one allocator. One
//! handler serves Streamable HTTP sessions, the stateless era and `--stdio` alike, and answers
//! that need the client's input (sampling, elicitation) are just requests whose reply arrives in
//! a later [`Handler::handle_response`] call.
//!
//! A panic inside a callback is caught by the dispatcher ([`super::dispatch`]): the request
//! being handled gets a JSON-RPC internal error and the server stays up. Whatever the callback
//! queued before the panic is discarded.

use super::dispatch::{Outbox, TimerKey};
use super::jsonrpc::{ErrorObject, Params, RawResult};
use super::lifecycle::ServerInfo;
use crate::process::ProcessHost;
use serde_json::Value;
use std::time::{Duration, Instant};

/// Names one client request in flight until it is answered; copy it into handler state to
/// answer later.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestHandle(pub(crate) u64);

/// Names a request the handler sent to the client; its answer comes back with the same id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OutgoingId(pub(crate) u64);

/// Names one session (one `initialize`), for per-session handler state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionKey(pub(crate) u64);

/// What a session agreed on at `initialize`, visible to every callback of that session.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SessionView {
    /// The id the client sends as `Mcp-Session-Id` (for logs); empty where there is none.
    pub id: String,
    /// The negotiated protocol revision.
    pub protocol_version: String,
    /// `capabilities` from the client's `initialize` params.
    pub client_capabilities: Value,
    /// `clientInfo` from the client's `initialize` params.
    pub client_info: Value,
    /// Stateless (2026-07-28) requests over HTTP: the `Mcp-Param-*` headers of this request,
    /// name after the prefix in lower case, value base64-decoded where it used
    /// `=?base64?...?=`. `None` where the transport has no headers (stdio, handshake sessions),
    /// so there is nothing to check them against (the transport checks them against a tool's `x-mcp-header` schema).
    pub param_headers: Option<Vec<(String, String)>>,
}

impl SessionView {
    /// Whether this is a stateless (2026-07-28) request: answers that need the client's input
    /// come back as `input_required` results, never as requests to the client.
    pub fn is_modern(&self) -> bool {
        super::version::is_modern(&self.protocol_version) && !self.protocol_version.is_empty()
    }

    /// The decoded `Mcp-Param-{name}` header of a stateless request (`name` case-insensitive).
    pub fn param_header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.param_headers
            .as_ref()?
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One thing a handler asked for through its [`Outbox`]; carried out by the transport after the
/// callback (or [`Handler::handle_wake`]) returns.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Answer a client request.
    Respond {
        /// The request answered.
        request: RequestHandle,
        /// Its result or error.
        outcome: Result<Value, ErrorObject>,
    },
    /// Answer a client request with a result already encoded as JSON text.
    RespondRaw {
        /// The request answered.
        request: RequestHandle,
        /// Its result, written as is.
        result: RawResult,
    },
    /// Send a notification, on the stream of `related` when given.
    Notify {
        /// The request it belongs to, if any.
        related: Option<RequestHandle>,
        /// Notification method.
        method: String,
        /// Notification params.
        params: Value,
    },
    /// Send a request to the client, on the stream of `related` when given.
    Request {
        /// The request it serves, if any.
        related: Option<RequestHandle>,
        /// Id the client's answer will carry; unique within the session.
        id: OutgoingId,
        /// Request method.
        method: String,
        /// Request params.
        params: Value,
    },
    /// Call [`Handler::handle_timer`] with `token` after `after`.
    Timer {
        /// Names the timer; the transport arms it under this key.
        key: TimerKey,
        /// Delay from now.
        after: Duration,
        /// Passed back to the handler.
        token: u64,
    },
    /// Forget the timer `key`. The dispatcher passes it on only while the timer is live, and
    /// the transport takes it off its wheel.
    CancelTimer {
        /// The timer.
        key: TimerKey,
    },
    /// End the HTTP stream carrying `request` before its answer; the client resumes it with
    /// `Last-Event-ID` (MCP 2025-11-25 SSE polling).
    CloseStream {
        /// The request whose stream ends.
        request: RequestHandle,
    },
    /// Refuse a request because the backend cannot take more now: HTTP 503 with
    /// `Retry-After` when the answer travels as plain JSON, a JSON-RPC error either way.
    Overloaded {
        /// The request refused.
        request: RequestHandle,
        /// Why, for the error message.
        message: String,
    },
    /// End the session (its backend is gone): streams close, later requests get 404.
    EndSession,
    /// End this session once it has been idle (no request in flight, no open stream) for
    /// `after`, when that is shorter than the session timeout: a session that holds a child
    /// process should not hoard it for the whole session timeout.
    IdleTimeout {
        /// Idle time after which the session ends.
        after: Duration,
    },
}

impl Command {
    /// The request this command answers, if it is an answer.
    pub fn answered(&self) -> Option<RequestHandle> {
        match self {
            Command::Respond { request, .. } | Command::RespondRaw { request, .. } => {
                Some(*request)
            }
            _ => None,
        }
    }
}

/// What a callback may do: the dispatcher's [`Outbox`], scoped to the callback's session.
/// Everything is queued; nothing happens until the callback returns.
pub struct Context<'a> {
    now: Instant,
    session: Option<SessionKey>,
    view: Option<&'a SessionView>,
    out: &'a mut Outbox,
    least_active_idle: Option<SessionKey>,
}

impl<'a> Context<'a> {
    /// A context for one callback; the dispatcher builds it.
    pub(crate) fn new(
        now: Instant,
        session: Option<SessionKey>,
        view: Option<&'a SessionView>,
        out: &'a mut Outbox,
    ) -> Context<'a> {
        Context {
            now,
            session,
            view,
            out,
            least_active_idle: None,
        }
    }

    /// Names the session [`Context::least_active_idle`] returns (transports, for `initialize`).
    pub(crate) fn set_least_active_idle(&mut self, session: Option<SessionKey>) {
        self.least_active_idle = session;
    }

    /// During `initialize` over Streamable HTTP: the least recently active idle session (no
    /// request in flight, no open stream) other than this one, so a handler at its limit of
    /// per-session resources can end it (with [`Outbox::end_session`]) to make room. `None`
    /// elsewhere, or when no session is idle.
    pub fn least_active_idle(&self) -> Option<SessionKey> {
        self.least_active_idle
    }

    /// The current time, as the event loop read it before this callback.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The session this callback belongs to. A stateless (2026-07-28) request gets a key that
    /// lives only until it is answered; `None` outside any request or session.
    pub fn session(&self) -> Option<SessionKey> {
        self.session
    }

    /// What the session agreed on at `initialize`, once it is known.
    pub fn session_view(&self) -> Option<&SessionView> {
        self.view
    }

    /// The outbox itself, for work in another session than this callback's.
    pub fn outbox(&mut self) -> &mut Outbox {
        self.out
    }

    /// Answers `request` with a result or an error. A second answer to the same request is ignored.
    pub fn respond(&mut self, request: RequestHandle, outcome: Result<Value, ErrorObject>) {
        self.out.respond(request, outcome);
    }

    /// Answers `request` with a result already encoded as JSON text: a proxy forwarding what
    /// upstream sent, or a fixed answer kept as text, reaches the wire without a [`Value`] tree
    /// being built and serialized again.
    pub fn respond_raw(&mut self, request: RequestHandle, result: RawResult) {
        self.out.respond_raw(request, result);
    }

    /// Sends a notification; with `related` it travels on that request's stream (progress,
    /// logging during a tool call), otherwise on the session's standalone stream.
    pub fn notify(&mut self, related: Option<RequestHandle>, method: &str, params: Value) {
        self.out.notify(self.session, related, method, params);
    }

    /// Sends a request to the client (sampling, elicitation, roots, ping); its answer arrives in
    /// [`Handler::handle_response`] with the returned id. Outside a session there is no client
    /// to ask: the request is dropped (the id is never answered).
    pub fn request(
        &mut self,
        related: Option<RequestHandle>,
        method: &str,
        params: Value,
    ) -> OutgoingId {
        self.out.request_in(self.session, related, method, params)
    }

    /// Asks for [`Handler::handle_timer`] with `token` after `after`, in this session; the key
    /// cancels it ([`Context::cancel_timer`]).
    pub fn set_timer(&mut self, after: Duration, token: u64) -> TimerKey {
        self.out.set_timer(self.session, after, token)
    }

    /// Cancels a timer; a key that fired or was cancelled already is ignored.
    pub fn cancel_timer(&mut self, key: TimerKey) {
        self.out.cancel_timer(key);
    }

    /// Refuses `request` because the backend is saturated (HTTP 503 where possible).
    pub fn overloaded(&mut self, request: RequestHandle, message: impl Into<String>) {
        self.out.overloaded(request, message);
    }

    /// Ends this session, as if the client had sent DELETE (for example its backend died).
    pub fn end_session(&mut self) {
        if let Some(session) = self.session {
            self.out.end_session(session);
        }
    }

    /// Ends the HTTP stream of `request` before its answer, so the client reconnects with
    /// `Last-Event-ID` and gets the answer replayed. Ignored where streams cannot resume.
    pub fn close_stream(&mut self, request: RequestHandle) {
        self.out.close_stream(request);
    }
}

/// Application code behind the transport. One instance serves every session; keep per-session
/// state keyed by [`SessionKey`] and drop it in [`Handler::session_closed`].
pub trait Handler {
    /// Who the server is and what it offers: the default [`Handler::initialize`] and
    /// [`Handler::discover`] answer from it, so a handler only describes itself.
    fn server_info(&self) -> ServerInfo {
        ServerInfo::new(
            "mcpd",
            env!("CARGO_PKG_VERSION"),
            Value::Object(Default::default()),
        )
    }

    /// `initialize` of a handshake-era session, after the transport checked the revision
    /// against the configured eras and opened the session. The default answers from
    /// [`Handler::server_info`] (the transport puts in the revision it negotiated); a backend
    /// that must ask upstream first (the stdio bridge) overrides it and answers later.
    fn initialize(
        &mut self,
        ctx: &mut Context<'_>,
        request: RequestHandle,
        params: Option<Params>,
    ) {
        ctx.respond(request, self.server_info().initialize(params.as_deref()));
    }

    /// `ping`: answered at once by default. A proxy may override it to ask its backend.
    fn ping(&mut self, ctx: &mut Context<'_>, request: RequestHandle, _params: Option<Params>) {
        ctx.respond(request, Ok(Value::Object(Default::default())));
    }

    /// `server/discover` of a stateless (2026-07-28) request: answered from
    /// [`Handler::server_info`] by default. A proxy may override it to ask its backend.
    fn discover(&mut self, ctx: &mut Context<'_>, request: RequestHandle, _params: Option<Params>) {
        ctx.respond(request, Ok(self.server_info().discover()));
    }

    /// Every other client request (the lifecycle ones go to the methods above). Answer now or
    /// later with [`Context::respond`]. `params` are read from their JSON text on demand
    /// ([`Params`]), so a handler pays for the members it reads.
    fn handle_request(
        &mut self,
        ctx: &mut Context<'_>,
        request: RequestHandle,
        method: &str,
        params: Option<Params>,
    );

    /// A client notification (`notifications/initialized`, `notifications/cancelled`, ...).
    /// Ignored unless a handler needs them.
    fn handle_notification(
        &mut self,
        _ctx: &mut Context<'_>,
        _method: &str,
        _params: Option<Params>,
    ) {
    }

    /// The client's answer to a request sent with [`Context::request`]; a handler that sends
    /// none gets none.
    fn handle_response(
        &mut self,
        _ctx: &mut Context<'_>,
        _id: OutgoingId,
        _outcome: Result<Value, ErrorObject>,
    ) {
    }

    /// A timer set with [`Context::set_timer`] fired; a handler that sets none gets none.
    fn handle_timer(&mut self, _ctx: &mut Context<'_>, _token: u64) {}

    /// The client cancelled `request` (`notifications/cancelled`, or a modern stream closed).
    /// No answer is expected any more; one sent anyway is dropped.
    fn handle_cancel(&mut self, _ctx: &mut Context<'_>, _request: RequestHandle) {}

    /// The session ended (DELETE, expiry, shutdown): forget its state.
    fn session_closed(&mut self, _session: SessionKey) {}

    /// The resource URIs the open `subscriptions/listen` streams follow changed: `uris` is
    /// their union, sorted. A backend that must subscribe upstream (a bridged handshake-era
    /// server's `resources/subscribe`) does it here.
    fn listened_uris(&mut self, _uris: &[String]) {}

    /// The backend may have news (a child process answered, a worker finished): queue what it
    /// means for clients in `out`, which allocates request ids and timer keys like a
    /// [`Context`] does. Called often, not only when there is news: after every input the
    /// server handles (a request, a timer, a child's output), on every turn of the stdio loop,
    /// and after each callback under [`crate::testing::Harness`]; with nothing to do it should
    /// return at once.
    fn handle_wake(&mut self, _out: &mut Outbox) {}

    /// Extra fields for `/health` (for example live children); a `"status"` other than `"ok"`
    /// makes `/health` answer 503.
    fn health(&self) -> Option<Value> {
        None
    }

    /// The child processes this backend hosts, for the event loop to run (the stdio bridge);
    /// `None` for a handler without processes.
    fn processes(&mut self) -> Option<&mut dyn ProcessHost> {
        None
    }
}

impl<H: Handler + ?Sized> Handler for Box<H> {
    fn server_info(&self) -> ServerInfo {
        (**self).server_info()
    }

    fn initialize(
        &mut self,
        ctx: &mut Context<'_>,
        request: RequestHandle,
        params: Option<Params>,
    ) {
        (**self).initialize(ctx, request, params)
    }

    fn ping(&mut self, ctx: &mut Context<'_>, request: RequestHandle, params: Option<Params>) {
        (**self).ping(ctx, request, params)
    }

    fn discover(&mut self, ctx: &mut Context<'_>, request: RequestHandle, params: Option<Params>) {
        (**self).discover(ctx, request, params)
    }

    fn handle_request(
        &mut self,
        ctx: &mut Context<'_>,
        request: RequestHandle,
        method: &str,
        params: Option<Params>,
    ) {
        (**self).handle_request(ctx, request, method, params)
    }

    fn handle_notification(&mut self, ctx: &mut Context<'_>, method: &str, params: Option<Params>) {
        (**self).handle_notification(ctx, method, params)
    }

    fn handle_response(
        &mut self,
        ctx: &mut Context<'_>,
        id: OutgoingId,
        outcome: Result<Value, ErrorObject>,
    ) {
        (**self).handle_response(ctx, id, outcome)
    }

    fn handle_timer(&mut self, ctx: &mut Context<'_>, token: u64) {
        (**self).handle_timer(ctx, token)
    }

    fn handle_cancel(&mut self, ctx: &mut Context<'_>, request: RequestHandle) {
        (**self).handle_cancel(ctx, request)
    }

    fn session_closed(&mut self, session: SessionKey) {
        (**self).session_closed(session)
    }

    fn listened_uris(&mut self, uris: &[String]) {
        (**self).listened_uris(uris)
    }

    fn handle_wake(&mut self, out: &mut Outbox) {
        (**self).handle_wake(out)
    }

    fn health(&self) -> Option<Value> {
        (**self).health()
    }

    fn processes(&mut self) -> Option<&mut dyn ProcessHost> {
        (**self).processes()
    }
}
