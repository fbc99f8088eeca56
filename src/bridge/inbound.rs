//! Messages from a child's stdout: parsed, then routed to the session and request they belong
//! to (the rules are in the [`super`] module doc). A line that is not JSON-RPC is logged and
//! dropped (peers' pain: non-JSON stdout corrupting the stream).

use super::child::ChildId;
use super::route::{self, Origin};
use super::Bridge;
use super::Queued;
use crate::log;
use crate::mcp::jsonrpc::{self, ErrorObject, Id, Message, Params};
use crate::mcp::{Command, RequestHandle, SessionKey};
use serde_json::{json, Value};
use std::time::Instant;

impl Bridge {
    /// One line from a child's stdout.
    pub(super) fn child_line(&mut self, id: ChildId, line: &[u8], now: Instant) {
        let parsed = serde_json::from_slice::<Value>(line)
            .map_err(|e| e.to_string())
            .and_then(|v| Message::from_value(v).map_err(|i| i.reason.to_string()));
        let message = match parsed {
            Ok(message) => message,
            Err(why) => {
                let dropped = self.children.get_mut(&id).map_or(1, |c| {
                    c.dropped_lines += 1;
                    c.dropped_lines
                });
                // A child spewing junk must not flood the log too: the first few lines, then
                // one at each power of two, with the running count.
                if dropped <= 8 || dropped.is_power_of_two() {
                    let cut = &line[..line.len().min(self.limits.log_preview_bytes)];
                    log::warn(format_args!(
                        "{id} wrote a stdout line that is not JSON-RPC ({why}); dropped ({dropped} so far): {}",
                        String::from_utf8_lossy(cut)
                    ));
                }
                return;
            }
        };
        match message {
            Message::Response { id: rid, result } => self.child_answered(id, &rid, Ok(result), now),
            Message::Error {
                id: Some(rid),
                error,
            } => self.child_answered(id, &rid, Err(error), now),
            Message::Error { id: None, error } => log::warn(format_args!(
                "{id} reported an error without id: {} ({})",
                error.message, error.code
            )),
            Message::Request {
                id: rid,
                method,
                params,
            } => self.child_request(id, rid, method, params),
            Message::Notification { method, params } => self.child_notification(
                id,
                method,
                params.map_or_else(|| json!({}), Params::into_value),
            ),
        }
    }

    fn child_answered(
        &mut self,
        id: ChildId,
        rid: &Id,
        outcome: Result<Value, ErrorObject>,
        now: Instant,
    ) {
        let Some(child) = self.children.get_mut(&id) else {
            return;
        };
        let origin = child.routes.answer(rid);
        if let Some(origin) = origin {
            self.init_answered(id, origin, outcome.is_ok());
        }
        match origin {
            None => log::debug(format_args!("{id} answered unknown id {rid}; dropped")),
            Some(Origin::Client { session, request }) => {
                self.drop_deadline(request);
                self.commands.push_back(Queued::Send(
                    Some(session),
                    Command::Respond { request, outcome },
                ));
            }
            Some(Origin::ListTools) => self.tools_listed(id, outcome),
            Some(Origin::Probe { refresh }) => self.probed(id, refresh, outcome, now),
            Some(Origin::Parked) => self.parked_answered(id, rid, outcome),
            Some(Origin::Internal) => {
                if let Err(error) = outcome {
                    log::debug(format_args!(
                        "{id} refused a request of mcpd's: {}",
                        error.message
                    ));
                }
            }
            Some(Origin::Initialize) => match outcome {
                Ok(result) => {
                    self.shared_ready(id, result, now);
                    if !self.is_handshake_child(id) {
                        self.stateless_ready(id);
                    }
                }
                Err(_) if self.refused_initialize_late(id, now) => {}
                Err(error) => {
                    let why = format!("it refused initialize: {}", error.message);
                    log::warn(format_args!("{id}: {why}"));
                    self.fail_child(id, &why, now);
                }
            },
        }
    }

    /// The shared child answered mcpd's `initialize`: it is ready, waiting clients are answered.
    fn shared_ready(&mut self, id: ChildId, result: Value, now: Instant) {
        let line = route::notification_line("notifications/initialized", None);
        self.write_control(id, &line);
        let sup = if self.is_handshake_child(id) {
            self.handshake.as_mut()
        } else {
            self.supervisor.as_mut()
        };
        let Some(sup) = sup else {
            return;
        };
        sup.ready(id, result, now);
        log::info(format_args!(
            "{id}: the shared MCP server is ready (protocol {})",
            sup.initialize_result(None)
                .and_then(|r| r.get("protocolVersion").cloned())
                .unwrap_or(Value::Null)
        ));
        for w in std::mem::take(&mut sup.waiting) {
            let outcome = sup
                .initialize_result(w.requested.as_deref())
                .ok_or_else(|| ErrorObject::new(jsonrpc::INTERNAL_ERROR, "no initialize result"));
            self.commands.push_back(Queued::Send(
                Some(w.session),
                Command::Respond {
                    request: w.request,
                    outcome,
                },
            ));
        }
    }

    /// Which session (and which of its requests) a message from a child without an id of its
    /// own belongs to; see the module doc. `Err` lists the sessions when it is ambiguous.
    fn addressee(
        &self,
        id: ChildId,
    ) -> Result<(SessionKey, Option<RequestHandle>), Vec<SessionKey>> {
        let Some(child) = self.children.get(&id) else {
            return Err(Vec::new());
        };
        let mut flights = child.routes.in_flight();
        let first = flights.next();
        let second = flights.next();
        if let (Some((session, request)), None) = (first, second) {
            return Ok((session, Some(request)));
        }
        if let Some(owner) = child.owner {
            return Ok((owner, None));
        }
        let mut busy: Vec<SessionKey> = child.routes.in_flight().map(|(s, _)| s).collect();
        busy.sort_unstable();
        busy.dedup();
        // The per-session mode's stateless child serves no member session.
        let members = self.members.keys().filter(|_| self.shared);
        let mut all: Vec<SessionKey> = members.copied().collect();
        all.sort_unstable();
        match (busy.as_slice(), all.as_slice()) {
            ([only], _) | ([], [only]) => Ok((*only, None)),
            _ => Err(all),
        }
    }

    /// A request from a child to a client (sampling, elicitation, roots, ping).
    fn child_request(&mut self, id: ChildId, rid: Id, method: String, params: Option<Params>) {
        let params = params.map(Params::into_value);
        let refuse = |this: &mut Bridge, code: i64, message: String| {
            let line = route::response_line(rid.clone(), Err(ErrorObject::new(code, message)));
            this.write_control(id, &line);
        };
        let translating = self.era == super::era::Era::Handshake
            && self.stateless_child() == Some(id)
            && super::translate::is_input_request(&method);
        if translating {
            let target = match self.addressee(id) {
                Ok((session, Some(request))) if self.stateless.sessions.contains(&session) => {
                    Some(Some((session, request)))
                }
                Ok((_, Some(_))) => None,
                _ => Some(None),
            };
            if let Some(target) = target {
                if self.translate_ask(id, &rid, &method, &params, target) {
                    return;
                }
            }
        }
        if self.only_stateless(id) {
            return self.refuse_for_stateless(id, rid, &method);
        }
        let (session, related) = match self.addressee(id) {
            Ok((session, _)) if self.stateless.sessions.contains(&session) => {
                return self.refuse_for_stateless(id, rid, &method)
            }
            Ok(target) => target,
            Err(_) if method == "ping" => {
                let line = route::response_line(rid.clone(), Ok(json!({})));
                return self.write_control(id, &line);
            }
            Err(sessions) => {
                return refuse(
                    self,
                    jsonrpc::INTERNAL_ERROR,
                    format!(
                        "mcpd --shared cannot tell which of {} sessions {method} is for; it \
                         routes requests to a client only while one session has requests in \
                         flight",
                        sessions.len()
                    ),
                )
            }
        };
        let needs = match method.as_str() {
            "sampling/createMessage" => Some("sampling"),
            "elicitation/create" => Some("elicitation"),
            "roots/list" => Some("roots"),
            _ => None,
        };
        let Some(member) = self.members.get_mut(&session) else {
            return refuse(self, jsonrpc::INTERNAL_ERROR, "the session ended".into());
        };
        if let (Some(capability), true) = (needs, self.shared) {
            if member.capabilities.get(capability).is_none() {
                return refuse(
                    self,
                    jsonrpc::METHOD_NOT_FOUND,
                    format!(
                        "the client of this session did not declare the {capability} capability"
                    ),
                );
            }
        }
        // The outbox names the request in `handle_wake`, which records its route then.
        self.commands.push_back(Queued::Ask {
            session,
            related,
            method,
            params: params.unwrap_or_else(|| json!({})),
            child: id,
            child_id: rid,
        });
    }

    /// A notification from a child.
    fn child_notification(&mut self, id: ChildId, method: String, mut params: Value) {
        let Some(child) = self.children.get_mut(&id) else {
            return;
        };
        if method == "notifications/progress" {
            match child.routes.progress(&mut params) {
                Some(route::ProgressTo::Parked(parked)) => self.parked_progress(id, parked, params),
                Some(route::ProgressTo::Request(session, request)) => {
                    self.progress_seen(request);
                    self.commands.push_back(Queued::Send(
                        Some(session),
                        Command::Notify {
                            related: Some(request),
                            method,
                            params,
                        },
                    ))
                }
                None => log::debug(format_args!("{id}: progress for an unknown token; dropped")),
            }
            return;
        }
        if method == "notifications/cancelled" {
            let target = params.get("requestId").and_then(Id::from_value);
            if let Some((session, ours)) = target.and_then(|t| child.routes.asked_by_child(&t)) {
                params["requestId"] = Value::from(ours.0);
                self.commands.push_back(Queued::Send(
                    Some(session),
                    Command::Notify {
                        related: None,
                        method,
                        params,
                    },
                ));
            }
            return;
        }
        let news = Bridge::is_listen_news(&method);
        if self.stateless_child() == Some(id) {
            if method == "notifications/tools/list_changed" {
                self.tools_changed(id);
            }
            self.discover_changed(id, &method);
            if news {
                self.fan_out_stateless(&method, &params);
            }
        }
        let targets = match self.addressee(id) {
            Ok((session, related)) => vec![(session, related)],
            Err(sessions) => sessions.into_iter().map(|s| (s, None)).collect(),
        };
        for (session, related) in targets {
            if self.stateless.sessions.contains(&session) && (news || related.is_none()) {
                continue; // Fanned out above, or for no request of a session that has no stream.
            }
            self.commands.push_back(Queued::Send(
                Some(session),
                Command::Notify {
                    related,
                    method: method.clone(),
                    params: params.clone(),
                },
            ));
        }
    }
}
