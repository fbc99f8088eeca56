//! 2026-07-28 clients of a handshake-only child (issue 11): the request runs in the handshake
//! session mcpd holds with the child, and what the child asks of the client while serving it
//! becomes a Multi Round-Trip Request (MCP 2026-07-28 `basic/patterns/mrtr`, SEP-2322).
//!
//! - The 2026 envelope (`_meta` keys under `io.modelcontextprotocol/`) is stripped; a
//!   per-request log level (`io.modelcontextprotocol/logLevel`) becomes `logging/setLevel` on
//!   the child when it differs from the last one sent (the child is shared: the last level
//!   wins).
//! - A `sampling/createMessage`, `elicitation/create` or `roots/list` from the child during
//!   such a request answers that request with `{resultType: "input_required", inputRequests:
//!   {key: {method, params}}, requestState}`, while the child's original request stays parked
//!   in its route table ([`super::route::Routes::park`]). `requestState` is a random UUID v4
//!   (after `--instance-id` and `-`, as session ids) naming a continuation held here: unguessable, bound to the method and params of the
//!   request that started it, consumed by its retry, bounded in count and bytes
//!   ([`BridgeLimits`](crate::config::BridgeLimits) `max_continuations`, `max_held_bytes`), and expiring after
//!   `continuation_ttl` (the child's questions then get
//!   an error and its request is cancelled).
//! - The retry (same method and params plus `inputResponses` and `requestState`) answers the
//!   child's waiting requests, one per key, and takes over the parked request: its progress and
//!   answer go to the retry. Questions the child asked meanwhile open the next round at once.
//! - Progress the child reports while its request is parked has no stream to go on (the round's
//!   stream ended with `input_required`; MCP 2026-07-28 sends progress only on the stream of
//!   the request it reports on). The latest `max_parked_progress` of them are held (their
//!   bytes count in `max_held_bytes`) and go out first on the retry's stream, under the
//!   retry's progress token (none: dropped), so the client sees every step in order.
//! - An unknown, expired, reused or foreign `requestState` is -32602 (HTTP 400) saying so.

use super::child::ChildId;
use super::route;
use super::Queued;
use super::{Bridge, Due};
use crate::log;
use crate::mcp::jsonrpc::{self, ErrorObject, Id, Params};
use crate::mcp::{Command, RequestHandle, SessionKey};
use serde_json::{json, Map, Value};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

/// `_meta` keys of the 2026 envelope, which a handshake-only child does not know.
const ENVELOPE_PREFIX: &str = "io.modelcontextprotocol/";
/// The per-request log level (MCP 2026-07-28 logging).
const META_LOG_LEVEL: &str = "io.modelcontextprotocol/logLevel";

/// Whether the child may ask this of a 2026 client through `input_required`.
pub fn is_input_request(method: &str) -> bool {
    capability_of(method).is_some()
}

/// The client capability a child's request needs, which is also its `inputRequests` key.
fn capability_of(method: &str) -> Option<&'static str> {
    match method {
        "sampling/createMessage" => Some("sampling"),
        "elicitation/create" => Some("elicitation"),
        "roots/list" => Some("roots"),
        _ => None,
    }
}

/// A 2026 request's params for a handshake-only child: the envelope stripped. Returns them,
/// the requested log level, and the progress token.
pub fn strip_envelope(params: Option<Value>) -> (Option<Value>, Option<String>, Option<Value>) {
    let Some(mut params) = params else {
        return (None, None, None);
    };
    let mut level = None;
    let mut token = None;
    if let Some(fields) = params.as_object_mut() {
        fields.remove("inputResponses");
        fields.remove("requestState");
        let mut empty = false;
        if let Some(Value::Object(meta)) = fields.get_mut("_meta") {
            level = meta
                .get(META_LOG_LEVEL)
                .and_then(Value::as_str)
                .map(str::to_string);
            token = meta.get("progressToken").cloned();
            meta.retain(|k, _| !k.starts_with(ENVELOPE_PREFIX));
            empty = meta.is_empty();
        }
        if empty {
            fields.remove("_meta");
        }
    }
    (Some(params), level, token)
}

/// What a continuation is bound to: the method and the params without `_meta` and the retry
/// fields, so the retry must be the same request.
fn binding(method: &str, params: Option<&Value>) -> Value {
    let mut params = params.cloned().unwrap_or(Value::Null);
    if let Some(fields) = params.as_object_mut() {
        for key in ["_meta", "inputResponses", "requestState"] {
            fields.remove(key);
        }
    }
    json!([method, params])
}

/// A child request put (or to be put) to the client.
#[derive(Debug)]
struct Question {
    /// The child's id for it.
    rid: Id,
    method: String,
    params: Value,
}

/// A parked request waiting for its client's retry.
#[derive(Debug)]
struct Continuation {
    child: ChildId,
    /// The child-side id of the parked request.
    parked: u64,
    /// See [`binding`].
    binding: Value,
    /// The questions of the round the client holds, by `inputRequests` key.
    asked: Vec<(String, Id)>,
    /// Questions the child asked after that round went out.
    queued: Vec<Question>,
    /// The child answered the parked request before the retry came.
    finished: Option<Result<Value, ErrorObject>>,
    /// Progress params (and their sizes) reported while parked, oldest first.
    progress: VecDeque<(Value, usize)>,
    issued: Instant,
    bytes: usize,
}

/// The translator's state.
#[derive(Debug, Default)]
pub(super) struct Translator {
    states: HashMap<String, Continuation>,
    /// Handles oldest first (time only moves forward, so expiry takes the front).
    order: VecDeque<String>,
    bytes: usize,
    /// Capabilities each in-flight translated request's client declared.
    clients: HashMap<SessionKey, (RequestHandle, Value, Value)>,
    /// The last `logging/setLevel` sent to the child.
    log_level: Option<String>,
    /// A sweep timer is set.
    sweeping: bool,
    /// Resource URIs the listen streams follow (at most [`crate::config::BridgeLimits::max_subscriptions`]).
    wanted: Vec<String>,
    /// Those the child was sent `resources/subscribe` for.
    subscribed: BTreeSet<String>,
    /// `--instance-id` and `-`, or empty: a handle names its instance, like a session id, so a
    /// balancer can route the retry back here.
    prefix: String,
}

impl Translator {
    /// A translator whose handles start with `instance_id` (`--instance-id`) and `-`.
    pub(super) fn for_instance(instance_id: Option<&str>) -> Translator {
        let prefix = match instance_id {
            None => String::new(),
            Some(id) => format!("{id}-"),
        };
        Translator {
            prefix,
            ..Translator::default()
        }
    }

    fn remove(&mut self, handle: &str) -> Option<Continuation> {
        let state = self.states.remove(handle)?;
        self.order.retain(|h| h != handle);
        self.bytes = self.bytes.saturating_sub(state.bytes);
        Some(state)
    }
}

/// The -32602 for a `requestState` that names nothing (now); continuations live `ttl`.
fn stale(detail: &str, ttl: Duration) -> ErrorObject {
    ErrorObject::new(
        jsonrpc::INVALID_PARAMS,
        format!(
            "requestState {detail}; input requests expire after {} s and each is answered once: \
             send the request again without requestState",
            ttl.as_secs()
        ),
    )
}

/// How [`Bridge::serve_translated`] left a request.
pub(super) enum Outcome {
    /// Written to the child (or parked again): answered later.
    Forwarded,
    /// Answered now.
    Answer(Result<Value, ErrorObject>),
    /// Not written: the reason for a 503.
    Overloaded(&'static str),
}

impl Bridge {
    /// A 2026 request for handshake-only child `id` (see the module doc).
    pub(super) fn serve_translated(
        &mut self,
        id: ChildId,
        session: SessionKey,
        request: RequestHandle,
        method: &str,
        params: Option<Value>,
        capabilities: &Value,
    ) -> Outcome {
        let ttl = self.limits.continuation_ttl;
        let stale = move |detail: &str| stale(detail, ttl);
        let state = params
            .as_ref()
            .and_then(|p| p.get("requestState"))
            .filter(|s| !s.is_null());
        if let Some(state) = state {
            let Some(state) = state.as_str().map(str::to_string) else {
                return Outcome::Answer(Err(stale("is not a string")));
            };
            return self.resume(id, (session, request), method, params, &state, capabilities);
        }
        let bound = binding(method, params.as_ref());
        let (params, level, _) = strip_envelope(params);
        if let Some(level) = level {
            self.set_log_level(id, level);
        }
        self.translator
            .clients
            .insert(session, (request, capabilities.clone(), bound));
        match self.forward(id, session, request, method, params.map(Params::from)) {
            Ok(()) => Outcome::Forwarded,
            Err(why) => Outcome::Overloaded(why),
        }
    }

    /// `logging/setLevel` on the child when the level differs from the last one sent.
    fn set_log_level(&mut self, id: ChildId, level: String) {
        if self.translator.log_level.as_deref() == Some(level.as_str()) {
            return;
        }
        let Some(child) = self.children.get_mut(&id) else {
            return;
        };
        let line = child.routes.request(
            route::Origin::Internal,
            "logging/setLevel",
            Some(json!({"level": level}).into()),
        );
        self.translator.log_level = Some(level);
        self.write_control(id, &line);
    }

    /// The retry of a round: the child's questions answered, the parked request taken over.
    fn resume(
        &mut self,
        id: ChildId,
        (session, request): (SessionKey, RequestHandle),
        method: &str,
        params: Option<Value>,
        handle: &str,
        capabilities: &Value,
    ) -> Outcome {
        let now = self.now;
        let ttl = self.limits.continuation_ttl;
        let stale = move |detail: &str| stale(detail, ttl);
        let live = self
            .translator
            .states
            .get(handle)
            .map(|c| (now.saturating_duration_since(c.issued) < ttl, c.child == id));
        match live {
            None => return Outcome::Answer(Err(stale("is unknown, expired or already used"))),
            Some((false, _)) => {
                self.expire(handle);
                return Outcome::Answer(Err(stale("has expired")));
            }
            Some((true, false)) => {
                self.expire(handle);
                return Outcome::Answer(Err(stale("belongs to an MCP server that has restarted")));
            }
            Some((true, true)) => {}
        }
        let bound = binding(method, params.as_ref());
        if self.translator.states.get(handle).map(|c| &c.binding) != Some(&bound) {
            return Outcome::Answer(Err(stale("was issued for another request")));
        }
        let Some(state) = self.translator.remove(handle) else {
            return Outcome::Answer(Err(stale("is unknown")));
        };
        let responses = params
            .as_ref()
            .and_then(|p| p.get("inputResponses"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for (key, rid) in &state.asked {
            let outcome = match responses.get(key) {
                Some(Value::Object(answer)) => Ok(Value::Object(answer.clone())),
                _ => Err(ErrorObject::new(
                    jsonrpc::INVALID_PARAMS,
                    format!("the client gave no answer under inputResponses.{key}"),
                )),
            };
            self.write_control(id, &route::response_line(rid.clone(), outcome));
        }
        let (_, _, token) = strip_envelope(params);
        let held = self.release_progress(session, request, token.as_ref(), state.progress);
        if let Some(finished) = state.finished {
            return self.answer_after(held, session, request, finished);
        }
        let resumed = self
            .children
            .get_mut(&id)
            .is_some_and(|c| c.routes.resume(state.parked, session, request, token));
        if !resumed {
            let error = ErrorObject::new(
                jsonrpc::INTERNAL_ERROR,
                "the request ended in the MCP server before the retry came",
            );
            return Outcome::Answer(Err(error));
        }
        self.start_deadline(id, session, request);
        self.translator
            .clients
            .insert(session, (request, capabilities.clone(), bound.clone()));
        if state.queued.is_empty() {
            return Outcome::Forwarded;
        }
        match self.open_round(id, session, request, state.queued, bound) {
            Some(result) => self.answer_after(held, session, request, Ok(result)),
            None => Outcome::Forwarded,
        }
    }

    /// The progress held for a parked request goes on the stream of its retry `request`,
    /// under the retry's `token`. Returns whether any went.
    fn release_progress(
        &mut self,
        session: SessionKey,
        request: RequestHandle,
        token: Option<&Value>,
        held: VecDeque<(Value, usize)>,
    ) -> bool {
        let Some(token) = token else {
            return false;
        };
        let any = !held.is_empty();
        for (mut params, _) in held {
            params["progressToken"] = token.clone();
            let command = Command::Notify {
                related: Some(request),
                method: "notifications/progress".into(),
                params,
            };
            self.commands
                .push_back(Queued::Send(Some(session), command));
        }
        any
    }

    /// A retry answered at once: after the progress just queued for it (`held`), so the
    /// answer is queued behind it rather than given to the transport first.
    fn answer_after(
        &mut self,
        held: bool,
        session: SessionKey,
        request: RequestHandle,
        outcome: Result<Value, ErrorObject>,
    ) -> Outcome {
        if !held {
            return Outcome::Answer(outcome);
        }
        let command = Command::Respond { request, outcome };
        self.commands
            .push_back(Queued::Send(Some(session), command));
        Outcome::Forwarded
    }

    /// Child `id` reported progress on its parked request `parked`: held for the retry
    /// (bounded: the latest [`crate::config::BridgeLimits::max_parked_progress`], within
    /// [`crate::config::BridgeLimits::max_held_bytes`]).
    pub(super) fn parked_progress(&mut self, id: ChildId, parked: u64, params: Value) {
        let size = params.to_string().len();
        let t = &mut self.translator;
        let Some(state) = t
            .states
            .values_mut()
            .find(|c| c.child == id && c.parked == parked)
        else {
            log::debug(format_args!("{id}: progress for a parked request; dropped"));
            return;
        };
        if state.progress.len() >= self.limits.max_parked_progress {
            if let Some((_, old)) = state.progress.pop_front() {
                state.bytes = state.bytes.saturating_sub(old);
                t.bytes = t.bytes.saturating_sub(old);
            }
        }
        if t.bytes + size > self.limits.max_held_bytes {
            log::debug(format_args!(
                "{id}: progress for a parked request dropped: {} bytes held",
                t.bytes
            ));
            return;
        }
        state.progress.push_back((params, size));
        state.bytes += size;
        t.bytes += size;
    }

    /// A request of child `id` (`rid`, `method`, `params`) that a translated 2026 request may
    /// carry to its client. Returns `false` when it is not one (the caller routes it as before).
    pub(super) fn translate_ask(
        &mut self,
        id: ChildId,
        rid: &Id,
        method: &str,
        params: &Option<Value>,
        target: Option<(SessionKey, RequestHandle)>,
    ) -> bool {
        let Some(capability) = capability_of(method) else {
            return false;
        };
        let question = Question {
            rid: rid.clone(),
            method: method.to_string(),
            params: params.clone().unwrap_or_else(|| json!({})),
        };
        let Some((session, request)) = target else {
            // Asked while its request is parked: it goes out with the retry.
            let mut parked = self.translator.states.iter().filter(|(_, c)| c.child == id);
            let (Some((handle, state)), None) = (parked.next(), parked.next()) else {
                return false;
            };
            let handle = handle.clone();
            let size = question.params.to_string().len();
            let room = self.translator.bytes + size <= self.limits.max_held_bytes;
            if !room || state.queued.len() >= self.limits.max_queued {
                let error = ErrorObject::new(
                    jsonrpc::INTERNAL_ERROR,
                    "mcpd holds too many questions for this request's client",
                );
                self.write_control(id, &route::response_line(rid.clone(), Err(error)));
                return true;
            }
            if let Some(state) = self.translator.states.get_mut(&handle) {
                state.bytes += size;
                state.queued.push(question);
                self.translator.bytes += size;
            }
            return true;
        };
        let Some((_, capabilities, bound)) = self.translator.clients.get(&session).cloned() else {
            return false;
        };
        if capabilities.get(capability).is_none() {
            let error = ErrorObject::new(
                jsonrpc::METHOD_NOT_FOUND,
                format!("the client of this request did not declare the {capability} capability"),
            );
            self.write_control(id, &route::response_line(rid.clone(), Err(error)));
            return true;
        }
        let result = self.open_round(id, session, request, vec![question], bound);
        if let Some(result) = result {
            let command = Command::Respond {
                request,
                outcome: Ok(result),
            };
            self.commands
                .push_back(Queued::Send(Some(session), command));
        }
        true
    }

    /// Parks `request` and returns its `input_required` result putting `questions` to the
    /// client; `None` when that is impossible (the questions are refused to the child).
    fn open_round(
        &mut self,
        id: ChildId,
        session: SessionKey,
        request: RequestHandle,
        questions: Vec<Question>,
        bound: Value,
    ) -> Option<Value> {
        let bytes = bound.to_string().len()
            + questions
                .iter()
                .map(|q| q.params.to_string().len())
                .sum::<usize>();
        let t = &self.translator;
        let full = t.states.len() >= self.limits.max_continuations
            || t.bytes + bytes > self.limits.max_held_bytes;
        let parked = if full {
            None
        } else {
            self.children
                .get_mut(&id)
                .and_then(|c| c.routes.park(request))
        };
        let Some(parked) = parked else {
            log::warn(format_args!(
                "{id}: a question for a 2026 client refused: {} continuations, {} bytes held",
                t.states.len(),
                t.bytes
            ));
            for q in questions {
                let error = ErrorObject::new(
                    jsonrpc::INTERNAL_ERROR,
                    "mcpd holds too many requests waiting for their clients' input",
                );
                self.write_control(id, &route::response_line(q.rid, Err(error)));
            }
            return None;
        };
        let mut requests = Map::new();
        let mut asked = Vec::new();
        for (n, q) in questions.into_iter().enumerate() {
            let base = capability_of(&q.method).unwrap_or("input");
            let key = if n == 0 {
                base.to_string()
            } else {
                format!("{base}-{n}")
            };
            requests.insert(key.clone(), json!({"method": q.method, "params": q.params}));
            asked.push((key, q.rid));
        }
        let handle = format!("{}{}", self.translator.prefix, uuid::Uuid::new_v4());
        let state = Continuation {
            child: id,
            parked,
            binding: bound,
            asked,
            queued: Vec::new(),
            finished: None,
            progress: VecDeque::new(),
            issued: self.now,
            bytes,
        };
        self.translator.states.insert(handle.clone(), state);
        self.translator.order.push_back(handle.clone());
        self.translator.bytes += bytes;
        self.translator.clients.remove(&session);
        if !self.translator.sweeping {
            self.translator.sweeping = true;
            self.set_timer(self.limits.continuation_ttl, Due::Sweep);
        }
        Some(json!({
            "resultType": "input_required",
            "inputRequests": requests,
            "requestState": handle,
        }))
    }

    /// The child answered a parked request before its retry came: the retry gets the answer.
    pub(super) fn parked_answered(
        &mut self,
        id: ChildId,
        rid: &Id,
        outcome: Result<Value, ErrorObject>,
    ) {
        let Id::Number(n) = rid else { return };
        let parked = n.as_u64();
        let state = self
            .translator
            .states
            .values_mut()
            .find(|c| c.child == id && Some(c.parked) == parked);
        if let Some(state) = state {
            state.finished = Some(outcome);
        }
    }

    /// Ends continuation `handle`: the child's questions get an error, its request is cancelled.
    fn expire(&mut self, handle: &str) {
        let Some(state) = self.translator.remove(handle) else {
            return;
        };
        let id = state.child;
        let rids = state.asked.into_iter().map(|(_, rid)| rid);
        let rids: Vec<Id> = rids
            .chain(state.queued.into_iter().map(|q| q.rid))
            .collect();
        for rid in rids {
            let error = ErrorObject::new(
                jsonrpc::INTERNAL_ERROR,
                format!(
                    "the client did not answer within {} s",
                    self.limits.continuation_ttl.as_secs()
                ),
            );
            self.write_control(id, &route::response_line(rid, Err(error)));
        }
        let line = self
            .children
            .get_mut(&id)
            .and_then(|c| c.routes.drop_parked(state.parked));
        if let Some(line) = line {
            self.write_control(id, &line);
        }
    }

    /// The sweep timer fired: expired continuations end; the timer is set again while any
    /// is held.
    pub(super) fn sweep(&mut self, now: Instant) {
        self.translator.sweeping = false;
        while let Some(oldest) = self.translator.order.front().cloned() {
            let issued = self.translator.states.get(&oldest).map(|c| c.issued);
            match issued {
                Some(at) if now.saturating_duration_since(at) < self.limits.continuation_ttl => {
                    self.translator.sweeping = true;
                    let after = self.limits.continuation_ttl - now.saturating_duration_since(at);
                    self.set_timer(after, Due::Sweep);
                    return;
                }
                Some(_) => self.expire(&oldest),
                None => {
                    self.translator.order.pop_front();
                }
            }
        }
    }

    /// Child `id` is gone: its continuations name nothing any more.
    pub(super) fn translations_gone(&mut self, id: ChildId) {
        let handles: Vec<String> = self
            .translator
            .states
            .iter()
            .filter(|(_, c)| c.child == id)
            .map(|(h, _)| h.clone())
            .collect();
        for handle in handles {
            self.translator.remove(&handle);
        }
        self.translator.log_level = None;
        self.translator.subscribed.clear();
    }

    /// The listen streams now follow `uris`: `resources/subscribe` (and `unsubscribe`) on a
    /// handshake-only child that can, so its updates reach them.
    pub(super) fn listened(&mut self, uris: &[String]) {
        self.translator.wanted = uris
            .iter()
            .take(self.limits.max_subscriptions)
            .cloned()
            .collect();
        self.resubscribe();
    }

    /// Brings the child's subscriptions to what the listen streams follow.
    pub(super) fn resubscribe(&mut self) {
        let Some(id) = self.stateless_child() else {
            return;
        };
        let ready = self.supervisor.as_ref().is_some_and(|s| s.is_ready());
        let can = self
            .supervisor
            .as_ref()
            .and_then(|s| s.initialize_result(None))
            .is_some_and(|r| r["capabilities"]["resources"]["subscribe"] == true);
        if self.era != super::era::Era::Handshake || !ready || !can {
            return;
        }
        let wanted: BTreeSet<String> = self.translator.wanted.iter().cloned().collect();
        let gone: Vec<String> = self
            .translator
            .subscribed
            .difference(&wanted)
            .cloned()
            .collect();
        let new: Vec<String> = wanted
            .difference(&self.translator.subscribed)
            .cloned()
            .collect();
        for (method, uris) in [
            ("resources/unsubscribe", gone),
            ("resources/subscribe", new),
        ] {
            for uri in uris {
                let Some(child) = self.children.get_mut(&id) else {
                    return;
                };
                let line = child.routes.request(
                    route::Origin::Internal,
                    method,
                    Some(json!({"uri": uri}).into()),
                );
                self.write_control(id, &line);
            }
        }
        self.translator.subscribed = wanted;
    }

    /// A one-request session ended.
    pub(super) fn translation_closed(&mut self, session: SessionKey) {
        self.translator.clients.remove(&session);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_is_stripped_and_the_rest_kept() {
        let params = json!({"name": "t", "arguments": {"a": 1}, "requestState": "x",
            "inputResponses": {}, "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/logLevel": "debug",
            "progressToken": 7}});
        let (stripped, level, token) = strip_envelope(Some(params));
        assert_eq!(
            stripped,
            Some(json!({"name": "t", "arguments": {"a": 1}, "_meta": {"progressToken": 7}}))
        );
        assert_eq!(level.as_deref(), Some("debug"));
        assert_eq!(token, Some(json!(7)));
        let bare = json!({"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}});
        assert_eq!(strip_envelope(Some(bare)).0, Some(json!({})));
    }

    #[test]
    fn a_retry_is_bound_to_the_same_method_and_params() {
        let first = json!({"name": "t", "arguments": {"a": 1}, "_meta": {"x": 1}});
        let retry = json!({"name": "t", "arguments": {"a": 1}, "requestState": "s",
            "inputResponses": {"sampling": {}}});
        assert_eq!(
            binding("tools/call", Some(&first)),
            binding("tools/call", Some(&retry))
        );
        let other = json!({"name": "t", "arguments": {"a": 2}});
        assert_ne!(
            binding("tools/call", Some(&first)),
            binding("tools/call", Some(&other))
        );
        assert_ne!(
            binding("tools/call", Some(&first)),
            binding("prompts/get", Some(&first))
        );
    }
}
