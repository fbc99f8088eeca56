//! Stateless (MCP 2026-07-28) requests through the bridge.
//!
//! Every such request goes to one child mcpd holds itself: the `--shared` child, or in
//! per-session mode a "stateless" child started with the first such request and supervised the
//! same way (restarted with backoff, shown in `/health`). Requests that arrive while it starts
//! are held (bounded) until it is ready and its tools are listed.
//!
//! - `server/discover` is answered here: a modern child's own answer (see [`super::era`]), else
//!   one made from the child's cached `initialize` result.
//! - Other requests go to a modern child as they are; for a handshake-only child they are
//!   translated (see [`super::translate`]); the transport adds `resultType` and the caching
//!   hints when the child leaves them out.
//! - `tools/call` is first checked against the `Mcp-Param-*` headers (see
//!   [`crate::mcp::transport::param_headers`]) with the schema from the child's `tools/list`, which mcpd
//!   asks for (with the 2026 `_meta`, so a dual-era child lists its 2026 tools) once the child
//!   is ready and again on `notifications/tools/list_changed`. Unknown tools are forwarded.
//! - The child's progress goes on the request's stream; list changes and resource updates go
//!   to the listen streams (through the transport's fan-out, with or without a request in
//!   flight); its requests to a client become `input_required` results (see
//!   [`super::translate`]), or are refused with -32601 where that cannot be (2026-07-28 has no
//!   server-to-client requests).

use super::child::ChildId;
use super::route::Origin;
use super::supervisor::{Phase, Supervisor};
use super::translate::Outcome;
use super::Bridge;
use super::Queued;
use crate::log;
use crate::mcp::jsonrpc::{self, ErrorObject, Params};
use crate::mcp::transport::param_headers;
use crate::mcp::transport::stateless::{META_CAPABILITIES, META_CLIENT_INFO, META_VERSION};
use crate::mcp::{version, Command, Context, RequestHandle, SessionKey, SessionView};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};

/// A stateless request waiting for the child.
#[derive(Debug)]
struct Held {
    session: SessionKey,
    request: RequestHandle,
    method: String,
    params: Option<Value>,
    view: SessionView,
}

/// Where the listing of the child's tools is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Listing {
    /// Not asked (no child ready yet).
    Idle,
    /// A `tools/list` of mcpd's is in flight; `refresh`: an earlier listing is in use meanwhile.
    Asking {
        /// Which page, from 1.
        page: usize,
        /// Whether the tools were listed before (`notifications/tools/list_changed`).
        refresh: bool,
    },
    /// Listed (or listing failed: nothing is checked).
    Done,
    /// The child declared no tools capability: nothing to list.
    NoTools,
}

/// The bridge's state for stateless requests.
#[derive(Debug)]
pub(super) struct Stateless {
    /// One-request sessions with their request in flight.
    pub(super) sessions: HashSet<SessionKey>,
    held: Vec<Held>,
    /// Tool name to its `inputSchema`.
    tools: HashMap<String, Value>,
    listing: Listing,
}

impl Stateless {
    /// Whether requests are served now rather than held.
    fn serving(&self) -> bool {
        matches!(
            self.listing,
            Listing::Done | Listing::NoTools | Listing::Asking { refresh: true, .. }
        )
    }
}

impl Default for Stateless {
    fn default() -> Stateless {
        Stateless {
            sessions: HashSet::new(),
            held: Vec::new(),
            tools: HashMap::new(),
            listing: Listing::Idle,
        }
    }
}

/// What became of a stateless request.
enum Served {
    /// Written to the child.
    Forwarded,
    /// Answered by mcpd.
    Answer(Result<Value, ErrorObject>),
    /// Refused for now (503).
    Overloaded(String),
}

impl Bridge {
    /// A stateless request (its view is modern); `session` lives until it is answered.
    pub(super) fn stateless_request(
        &mut self,
        ctx: &mut Context<'_>,
        session: SessionKey,
        request: RequestHandle,
        method: &str,
        params: Option<Value>,
    ) {
        let view = ctx.session_view().cloned().unwrap_or_default();
        if let Some(error) = self.modern_refusal(&view.protocol_version) {
            return ctx.respond(request, Err(error));
        }
        self.stateless.sessions.insert(session);
        if self.supervisor.is_none() {
            let child = self.start_shared("stateless");
            self.supervisor = Some(Supervisor::new(child, &self.limits));
        }
        let phase = self.supervisor.as_ref().map(|s| s.phase);
        let served = match phase {
            Some(Phase::Ready { .. }) if self.stateless.serving() => {
                self.serve(session, request, method, params, &view)
            }
            Some(Phase::Ready { .. } | Phase::Starting(_))
                if self.stateless.held.len() < self.limits.max_held =>
            {
                self.stateless.held.push(Held {
                    session,
                    request,
                    method: method.to_string(),
                    params,
                    view,
                });
                Served::Forwarded
            }
            Some(Phase::Ready { .. } | Phase::Starting(_)) => Served::Overloaded(format!(
                "{} stateless requests already wait for the MCP server to start",
                self.limits.max_held
            )),
            _ => Served::Overloaded("the MCP server for stateless requests is restarting".into()),
        };
        match served {
            Served::Forwarded => {}
            Served::Answer(outcome) => ctx.respond(request, outcome),
            Served::Overloaded(why) => ctx.overloaded(request, why),
        }
    }

    /// The child serving stateless requests, if there is one.
    pub(super) fn stateless_child(&self) -> Option<ChildId> {
        self.supervisor.as_ref().and_then(Supervisor::child)
    }

    /// Whether `id` serves only stateless clients (the per-session mode's stateless child).
    pub(super) fn only_stateless(&self, id: ChildId) -> bool {
        (!self.shared || self.handshake.is_some()) && self.stateless_child() == Some(id)
    }

    /// Discover, the header check, or forwarding.
    fn serve(
        &mut self,
        session: SessionKey,
        request: RequestHandle,
        method: &str,
        params: Option<Value>,
        view: &SessionView,
    ) -> Served {
        if method == "server/discover" {
            return Served::Answer(self.discover());
        }
        if method == "tools/call" {
            let p = params.as_ref();
            let schema = p
                .and_then(|p| p.get("name"))
                .and_then(Value::as_str)
                .and_then(|name| self.stateless.tools.get(name));
            let arguments = p.and_then(|p| p.get("arguments")).unwrap_or(&Value::Null);
            if let Some(Err(error)) = schema.map(|s| param_headers::check(s, arguments, view)) {
                return Served::Answer(Err(error));
            }
        }
        let Some(id) = self.stateless_child() else {
            return Served::Overloaded(
                "the MCP server for stateless requests is restarting".into(),
            );
        };
        if self.era == super::era::Era::Handshake {
            let capabilities = &view.client_capabilities;
            return match self.serve_translated(id, session, request, method, params, capabilities) {
                Outcome::Forwarded => Served::Forwarded,
                Outcome::Answer(outcome) => Served::Answer(outcome),
                Outcome::Overloaded(why) => Served::Overloaded(why.into()),
            };
        }
        match self.forward(id, session, request, method, params.map(Params::from)) {
            Ok(()) => Served::Forwarded,
            Err(why) => Served::Overloaded(why.into()),
        }
    }

    /// `server/discover` (MCP 2026-07-28 versioning, "Discovery") from the child's `initialize`
    /// result; the transport adds `resultType` and the caching hints.
    fn discover(&self) -> Result<Value, ErrorObject> {
        if let super::era::Era::Modern { discover } = &self.era {
            return Ok(discover.clone());
        }
        let init = self
            .supervisor
            .as_ref()
            .and_then(|s| s.initialize_result(None))
            .ok_or_else(|| ErrorObject::new(jsonrpc::INTERNAL_ERROR, "no initialize result"))?;
        let mut result = json!({
            "supportedVersions": version::MODERN_SUPPORTED,
            "capabilities": init.get("capabilities").cloned().unwrap_or_else(|| json!({})),
            "_meta": {"io.modelcontextprotocol/serverInfo": init.get("serverInfo").cloned().unwrap_or_else(|| json!({}))},
        });
        if let Some(instructions) = init.get("instructions") {
            result["instructions"] = instructions.clone();
        }
        Ok(result)
    }

    /// The child answered mcpd's `initialize`: list its tools if it has any, else serve.
    pub(super) fn stateless_ready(&mut self, id: ChildId) {
        self.stateless.tools.clear();
        self.resubscribe();
        let has_tools = self
            .supervisor
            .as_ref()
            .and_then(|s| s.initialize_result(None))
            .is_some_and(|r| r["capabilities"].get("tools").is_some());
        if has_tools {
            self.list_tools(id, None, 1, false);
        } else {
            self.stateless.listing = Listing::NoTools;
            self.release_held();
        }
    }

    /// Asks the child for (a page of) its tools, as a 2026 client would.
    fn list_tools(&mut self, id: ChildId, cursor: Option<Value>, page: usize, refresh: bool) {
        let mut params = json!({"_meta": {
            META_VERSION: version::MODERN,
            META_CAPABILITIES: {},
            META_CLIENT_INFO: {"name": "mcpd", "version": env!("CARGO_PKG_VERSION")},
        }});
        if let Some(cursor) = cursor {
            params["cursor"] = cursor;
        }
        let Some(child) = self.children.get_mut(&id) else {
            return;
        };
        let line = child
            .routes
            .request(Origin::ListTools, "tools/list", Some(params.into()));
        self.stateless.listing = Listing::Asking { page, refresh };
        let _ = self.write(id, &line);
    }

    /// The child answered mcpd's `tools/list`.
    pub(super) fn tools_listed(&mut self, id: ChildId, outcome: Result<Value, ErrorObject>) {
        let (page, refresh) = match self.stateless.listing {
            Listing::Asking { page, refresh } => (page, refresh),
            _ => (1, true),
        };
        if page == 1 {
            self.stateless.tools.clear();
        }
        let result = match outcome {
            Ok(result) => result,
            Err(error) => {
                log::warn(format_args!(
                    "{id}: tools/list failed ({}); Mcp-Param-* headers are not checked",
                    error.message
                ));
                Value::Null
            }
        };
        let listed = result.get("tools").and_then(Value::as_array);
        for tool in listed.into_iter().flatten() {
            if self.stateless.tools.len() >= self.limits.max_cached_tools {
                break;
            }
            let (Some(name), Some(schema)) = (tool["name"].as_str(), tool.get("inputSchema"))
            else {
                continue;
            };
            self.stateless
                .tools
                .insert(name.to_string(), schema.clone());
        }
        let next = result.get("nextCursor").filter(|c| !c.is_null()).cloned();
        match next {
            Some(cursor)
                if page < self.limits.max_tool_pages
                    && self.stateless.tools.len() < self.limits.max_cached_tools =>
            {
                self.list_tools(id, Some(cursor), page + 1, refresh)
            }
            _ => {
                log::debug(format_args!(
                    "{id}: {} tools cached",
                    self.stateless.tools.len()
                ));
                self.stateless.listing = Listing::Done;
                self.release_held();
            }
        }
    }

    /// The child said its tools changed: list them again (requests are not held meanwhile).
    pub(super) fn tools_changed(&mut self, id: ChildId) {
        if self.stateless_child() == Some(id) && self.stateless.listing == Listing::Done {
            self.list_tools(id, None, 1, true);
        }
    }

    /// Serves the requests held while the child started.
    fn release_held(&mut self) {
        for held in std::mem::take(&mut self.stateless.held) {
            let Held {
                session,
                request,
                method,
                params,
                view,
            } = held;
            let command = match self.serve(session, request, &method, params, &view) {
                Served::Forwarded => continue,
                Served::Answer(outcome) => Command::Respond { request, outcome },
                Served::Overloaded(message) => Command::Overloaded { request, message },
            };
            self.commands
                .push_back(Queued::Send(Some(session), command));
        }
    }

    /// The held requests are answered with `error` (2026-07-28 is not offered after all).
    pub(super) fn refuse_held(&mut self, error: &ErrorObject) {
        for held in std::mem::take(&mut self.stateless.held) {
            let outcome = Err(error.clone());
            let command = Command::Respond {
                request: held.request,
                outcome,
            };
            self.commands
                .push_back(Queued::Send(Some(held.session), command));
        }
    }

    /// The child is gone before it served the held requests: they fail with `message`.
    pub(super) fn fail_held(&mut self, message: &str, data: &Value) {
        self.stateless.listing = Listing::Idle;
        for held in std::mem::take(&mut self.stateless.held) {
            let error = ErrorObject::new(jsonrpc::INTERNAL_ERROR, message.to_string())
                .with_data(data.clone());
            self.commands.push_back(Queued::Send(
                Some(held.session),
                Command::Respond {
                    request: held.request,
                    outcome: Err(error),
                },
            ));
        }
    }

    /// A stateless request was cancelled (its stream closed): held, or cancelled in the child.
    pub(super) fn stateless_cancel(&mut self, request: RequestHandle) {
        self.stateless.held.retain(|h| h.request != request);
        let Some(id) = self.stateless_child() else {
            return;
        };
        let line = self
            .children
            .get_mut(&id)
            .and_then(|c| c.routes.cancel(request));
        if let Some(line) = line {
            self.write_control(id, &line);
        }
    }

    /// A one-request session ended; `false` if it was not a stateless one.
    pub(super) fn stateless_closed(&mut self, session: SessionKey) -> bool {
        if !self.stateless.sessions.remove(&session) {
            return false;
        }
        self.translation_closed(session);
        self.stateless.held.retain(|h| h.session != session);
        if let Some(id) = self.stateless_child() {
            let lines = self
                .children
                .get_mut(&id)
                .map(|c| c.routes.session_ended(session))
                .unwrap_or_default();
            for line in lines {
                self.write_control(id, &line);
            }
        }
        true
    }

    /// A request from the child while it serves stateless clients: 2026-07-28 has no
    /// server-to-client requests, so the child is told so (`ping` is answered by mcpd).
    pub(super) fn refuse_for_stateless(&mut self, id: ChildId, rid: jsonrpc::Id, method: &str) {
        let outcome = if method == "ping" {
            Ok(json!({}))
        } else {
            log::debug(format_args!(
                "{id}: {method} refused: the request it serves is stateless (2026-07-28)"
            ));
            Err(ErrorObject::new(
                jsonrpc::METHOD_NOT_FOUND,
                format!(
                    "mcpd cannot deliver {method}: the client made a stateless (2026-07-28) \
                     request, and that revision has no server-to-client requests"
                ),
            ))
        };
        let line = super::route::response_line(rid, outcome);
        self.write_control(id, &line);
    }

    /// Whether a notification is server-wide news for `subscriptions/listen` streams.
    pub(super) fn is_listen_news(method: &str) -> bool {
        matches!(
            method,
            "notifications/tools/list_changed"
                | "notifications/prompts/list_changed"
                | "notifications/resources/list_changed"
                | "notifications/resources/updated"
        )
    }

    /// Hands server-wide news of the stateless child to the listen streams (a notification
    /// of no session: the transport fans it out), whether or not a request is in flight.
    pub(super) fn fan_out_stateless(&mut self, method: &str, params: &Value) {
        self.commands.push_back(Queued::Send(
            None,
            Command::Notify {
                related: None,
                method: method.to_string(),
                params: params.clone(),
            },
        ));
    }
}
