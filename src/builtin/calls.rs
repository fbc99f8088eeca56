//! Tool calls in flight: the pending state of calls that answer later, and what resumes them.
//!
//! A scripted call ([`Plan::Script`]) runs its steps up to the next pause, sets a timer, and
//! waits; an asking call ([`Plan::Ask`]) sends the client a request and waits for its answer.
//! Each waits on exactly one timer token or one outgoing id, indexed in [`Builtin`] so a stale
//! token, a late answer, a cancelled call or a closed session all end in a lookup that finds
//! nothing. At most [`MAX_PENDING_CALLS`] wait per session.

use super::tools::{self, Arguments, Finish, Plan, Step};
use super::{input_required, stateless};
use super::{not_a_string, Bucket, Builtin};
use crate::mcp::jsonrpc::SERVER_ERROR;
use crate::mcp::{
    Context, ErrorObject, OutgoingId, Params, RequestHandle, SessionKey, SessionView,
};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::time::Instant;

/// Most tool calls one session may have waiting on a timer or the client; bounds memory
/// against a client that starts calls and never lets them finish.
const MAX_PENDING_CALLS: usize = 64;

/// A tool call that has not answered yet.
#[derive(Debug)]
pub(super) enum Pending {
    /// Waiting for timer `token`, then running the rest of `steps` and answering `result`.
    Script {
        token: u64,
        steps: VecDeque<Step>,
        result: Value,
    },
    /// Waiting for the client's answer to request `id`.
    Asked { id: OutgoingId, finish: Finish },
}

impl Builtin {
    /// Starts `tools/call`: answers now, or leaves the call pending.
    pub(super) fn call_tool(
        &mut self,
        ctx: &mut Context<'_>,
        request: RequestHandle,
        params: &Params,
    ) {
        // Read from the params text: most calls need only the name and a string.
        let Some(name) = params.get_str(&["name"]) else {
            return ctx.respond(request, Err(not_a_string("name")));
        };
        let name: &str = &name;
        let args = match Arguments::of(params.get_raw(&["arguments"])) {
            Ok(args) => args,
            Err(e) => return ctx.respond(request, Err(e)),
        };
        // MCP progress: a token is a string or an integer; anything else counts as none.
        let progress_token = params
            .get_raw(&["_meta"])
            .and_then(|_| params.get("_meta")?.get("progressToken"))
            .filter(|t| t.is_string() || t.is_number());
        let bucket = ctx.session();
        let plan = match ctx.session_view().filter(|v| v.is_modern()) {
            Some(view) => match stateless::log_filter(params) {
                Ok(logs) => {
                    let plan =
                        self.plan_stateless(ctx.now(), name, params, &args, progress_token, view);
                    if matches!(plan, Plan::Script { .. }) {
                        self.sessions.entry(bucket).or_default().logs = logs;
                    }
                    plan
                }
                Err(e) => Plan::Answer(Err(e)),
            },
            None => {
                let capabilities = ctx.session_view().map(|v| &v.client_capabilities);
                tools::plan(name, &args, progress_token, capabilities)
            }
        };
        let busy = self
            .sessions
            .get(&bucket)
            .is_some_and(|s| s.calls.len() >= MAX_PENDING_CALLS);
        match plan {
            Plan::Answer(outcome) => ctx.respond(request, outcome),
            Plan::Encoded(result) => ctx.respond_raw(request, result),
            Plan::Script { .. } | Plan::Ask { .. } if busy => ctx.respond(
                request,
                Err(ErrorObject::new(
                    SERVER_ERROR,
                    format!("Too many tool calls in progress (limit {MAX_PENDING_CALLS})"),
                )),
            ),
            Plan::Script { steps, result } => self.run(ctx, bucket, request, steps, result),
            Plan::Ask {
                method,
                params,
                finish,
            } => {
                let id = ctx.request(Some(request), method, params);
                self.asked.insert(id, (bucket, request));
                let calls = &mut self.sessions.entry(bucket).or_default().calls;
                calls.insert(request, Pending::Asked { id, finish });
            }
        }
    }

    /// Plans a call of a stateless (2026-07-28) request: the 2026 fixtures first; a tool that
    /// would ask the client answers `input_required` instead, and no stream is closed early
    /// (there is nothing to resume at 2026).
    fn plan_stateless(
        &mut self,
        now: Instant,
        name: &str,
        params: &Value,
        args: &Arguments<'_>,
        progress_token: Option<&Value>,
        view: &SessionView,
    ) -> Plan {
        if let Some(outcome) = self.input_required_tool(now, name, params, view) {
            return Plan::Answer(outcome);
        }
        if let Some(plan) = stateless::plan(name, args.map(), view) {
            return plan;
        }
        match tools::plan(name, args, progress_token, Some(&view.client_capabilities)) {
            Plan::Ask {
                method,
                params: request,
                finish,
            } => Plan::Answer(input_required::ask_once(method, request, finish, params)),
            Plan::Script { steps, result } => Plan::Script {
                steps: steps
                    .into_iter()
                    .filter(|s| *s != Step::CloseStream)
                    .collect(),
                result,
            },
            answer => answer,
        }
    }

    /// Runs `steps` up to the next pause (then waits for its timer) or to the end (then answers).
    fn run(
        &mut self,
        ctx: &mut Context<'_>,
        bucket: Bucket,
        request: RequestHandle,
        mut steps: VecDeque<Step>,
        result: Value,
    ) {
        let logs = self
            .sessions
            .get(&bucket)
            .map(|s| s.logs)
            .unwrap_or_default();
        while let Some(step) = steps.pop_front() {
            match step {
                Step::Log(level, data) => {
                    if logs.allows(level) {
                        let params =
                            json!({"level": level.as_str(), "logger": "mcpd", "data": data});
                        ctx.notify(Some(request), "notifications/message", params);
                    }
                }
                Step::Progress(params) => {
                    ctx.notify(Some(request), "notifications/progress", params)
                }
                Step::CloseStream => ctx.close_stream(request),
                Step::ListChanged(method) => ctx.notify(None, method, json!({})),
                Step::Pause(after) => {
                    let token = self.next_token;
                    self.next_token += 1;
                    ctx.set_timer(after, token);
                    self.timers.insert(token, (bucket, request));
                    let pending = Pending::Script {
                        token,
                        steps,
                        result,
                    };
                    let calls = &mut self.sessions.entry(bucket).or_default().calls;
                    calls.insert(request, pending);
                    return;
                }
            }
        }
        ctx.respond(request, Ok(result));
    }

    /// Drops a pending call and the timer or client request that would have resumed it.
    fn forget(&mut self, pending: Pending) {
        match pending {
            Pending::Script { token, .. } => {
                self.timers.remove(&token);
            }
            Pending::Asked { id, .. } => {
                self.asked.remove(&id);
            }
        }
    }

    /// The client answered request `id`: finish the call that asked.
    pub(super) fn resume_asked(
        &mut self,
        ctx: &mut Context<'_>,
        id: OutgoingId,
        outcome: Result<Value, ErrorObject>,
    ) {
        let Some((bucket, request)) = self.asked.remove(&id) else {
            return;
        };
        let Some(state) = self.sessions.get_mut(&bucket) else {
            return;
        };
        match state.calls.remove(&request) {
            Some(Pending::Asked { finish, .. }) => {
                ctx.respond(request, Ok(tools::finish(finish, outcome)))
            }
            Some(other) => {
                state.calls.insert(request, other);
            }
            None => {}
        }
    }

    /// Timer `token` fired: run the next steps of the script that set it.
    pub(super) fn resume_script(&mut self, ctx: &mut Context<'_>, token: u64) {
        let Some((bucket, request)) = self.timers.remove(&token) else {
            return;
        };
        let Some(state) = self.sessions.get_mut(&bucket) else {
            return;
        };
        match state.calls.remove(&request) {
            Some(Pending::Script { steps, result, .. }) => {
                self.run(ctx, bucket, request, steps, result)
            }
            Some(other) => {
                state.calls.insert(request, other);
            }
            None => {}
        }
    }

    /// The client cancelled `request`: nothing more is sent for it.
    pub(super) fn drop_call(&mut self, bucket: Bucket, request: RequestHandle) {
        let pending = self
            .sessions
            .get_mut(&bucket)
            .and_then(|s| s.calls.remove(&request));
        if let Some(pending) = pending {
            self.forget(pending);
        }
    }

    /// The session ended: drop its state and every call it had waiting.
    pub(super) fn drop_session(&mut self, session: SessionKey) {
        if let Some(state) = self.sessions.remove(&Some(session)) {
            for (_, pending) in state.calls {
                self.forget(pending);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::harness::builtin_session;
    use super::*;
    use crate::mcp::handler::Command;
    use crate::mcp::Handler;
    use std::time::Duration;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn code(outcome: Result<Value, ErrorObject>) -> i64 {
        outcome.expect_err("an error").code
    }

    #[test]
    fn logging_tool_sends_three_info_messages_50ms_apart_then_answers() {
        let mut h = builtin_session();
        let call = h.request(
            "tools/call",
            json!({"name": "test_tool_with_logging", "arguments": {}}),
        );
        assert_eq!(h.notifications("notifications/message").len(), 1);
        h.advance(ms(49));
        assert_eq!(h.notifications("notifications/message").len(), 1);
        h.advance(ms(1));
        assert_eq!(h.notifications("notifications/message").len(), 2);
        assert_eq!(h.response(call), None);
        h.advance(ms(50));
        let messages = h.notifications("notifications/message");
        let data: Vec<&Value> = messages.iter().map(|(_, p)| &p["data"]).collect();
        assert_eq!(
            data,
            [
                "Tool execution started",
                "Tool processing data",
                "Tool execution completed"
            ]
        );
        for (related, params) in &messages {
            assert_eq!(*related, Some(call));
            assert_eq!(params["level"], "info");
            assert_eq!(params["logger"], "mcpd");
        }
        let result = h.response(call).unwrap().unwrap();
        assert!(!result["content"][0]["text"].as_str().unwrap().is_empty());
        assert_eq!(h.pending_timers(), 0);
    }

    #[test]
    fn set_level_filters_tool_log_messages() {
        let mut h = builtin_session();
        for (level, want) in [("warning", 0), ("info", 3), ("debug", 3), ("emergency", 0)] {
            h.clear();
            h.call("logging/setLevel", json!({ "level": level }))
                .unwrap();
            h.call_tool("test_tool_with_logging", json!({})).unwrap();
            assert_eq!(
                h.notifications("notifications/message").len(),
                want,
                "{level}"
            );
        }
    }

    #[test]
    fn progress_token_keeps_its_type_and_progress_rises() {
        for token in [json!(1), json!("progress-test-1")] {
            let mut h = builtin_session();
            let call = h.request(
                "tools/call",
                json!({"name": "test_tool_with_progress", "arguments": {},
                    "_meta": {"progressToken": token}}),
            );
            h.run_timers();
            let progress = h.notifications("notifications/progress");
            let values: Vec<u64> = progress
                .iter()
                .map(|(related, p)| {
                    assert_eq!(*related, Some(call));
                    assert_eq!(p["progressToken"], token);
                    assert_eq!(p["total"], 100);
                    p["progress"].as_u64().unwrap()
                })
                .collect();
            assert_eq!(values, [0, 50, 100]);
            assert_eq!(
                h.response(call),
                Some(Ok(tools::text_result("Progress test completed")))
            );
        }
    }

    #[test]
    fn progress_token_that_is_not_a_string_or_integer_counts_as_none() {
        let mut h = builtin_session();
        let got = h.call(
            "tools/call",
            json!({"name": "test_tool_with_progress", "_meta": {"progressToken": null}}),
        );
        assert_eq!(got, Ok(tools::text_result("Progress test completed")));
        assert!(h.notifications("notifications/progress").is_empty());
    }

    #[test]
    fn sampling_round_trips_through_the_client() {
        let mut h = builtin_session();
        let call = h.request(
            "tools/call",
            json!({"name": "test_sampling", "arguments": {"prompt": "Test prompt for sampling"}}),
        );
        let asked = h.client_requests();
        assert_eq!(asked.len(), 1);
        let (related, id, method, params) = asked[0].clone();
        assert_eq!(
            (related, method.as_str()),
            (Some(call), "sampling/createMessage")
        );
        assert_eq!(
            params["messages"][0]["content"]["text"],
            "Test prompt for sampling"
        );
        assert_eq!(h.response(call), None);
        h.answer(
            id,
            Ok(
                json!({"role": "assistant", "model": "test-model", "stopReason": "endTurn",
                "content": {"type": "text", "text": "This is a test response from the client"}}),
            ),
        );
        assert_eq!(
            h.response(call),
            Some(Ok(json!({"content":[{"type":"text",
                "text":"LLM response: This is a test response from the client"}]})))
        );
        h.answer(id, Ok(json!({})));
        assert_eq!(h.responses(call), 1);
    }

    #[test]
    fn elicitation_round_trips_through_the_client() {
        let mut h = builtin_session();
        let call = h.request(
            "tools/call",
            json!({"name": "test_elicitation",
                "arguments": {"message": "Please provide your information"}}),
        );
        let (_, id, method, params) = h.client_requests()[0].clone();
        assert_eq!(method, "elicitation/create");
        assert_eq!(params["message"], "Please provide your information");
        h.answer(
            id,
            Ok(json!({"action": "accept",
                "content": {"username": "testuser", "email": "test@example.com"}})),
        );
        let text = h.response(call).unwrap().unwrap()["content"][0]["text"].clone();
        assert_eq!(
            text,
            "User response: accept, {\"email\":\"test@example.com\",\"username\":\"testuser\"}"
        );
    }

    #[test]
    fn client_error_answer_becomes_an_error_result() {
        let mut h = builtin_session();
        let call = h.request(
            "tools/call",
            json!({"name": "test_elicitation_sep1034_defaults"}),
        );
        let (_, id, ..) = h.client_requests()[0].clone();
        h.answer(id, Err(ErrorObject::new(-32603, "no user")));
        let result = h.response(call).unwrap().unwrap();
        assert_eq!(result["isError"], true);
        assert!(result["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("no user"));
    }

    #[test]
    fn roots_are_listed_only_when_the_client_declared_them() {
        let mut h = builtin_session();
        assert_eq!(
            h.call_tool("list_roots", json!({})).unwrap()["isError"],
            true
        );
        h.view.as_mut().unwrap().client_capabilities = json!({"roots": {"listChanged": true}});
        let call = h.request("tools/call", json!({"name": "list_roots"}));
        let (_, id, method, _) = h.client_requests()[0].clone();
        assert_eq!(method, "roots/list");
        h.answer(
            id,
            Ok(json!({"roots": [{"uri": "file:///work", "name": "work"}]})),
        );
        assert_eq!(
            h.response(call),
            Some(Ok(tools::text_result("Client roots:\nfile:///work (work)")))
        );
        h.notify("notifications/roots/list_changed", json!({}));
    }

    #[test]
    fn reconnection_closes_the_stream_then_answers_after_100ms() {
        let mut h = builtin_session();
        let call = h.request(
            "tools/call",
            json!({"name": "test_reconnection", "arguments": {}}),
        );
        assert_eq!(h.commands(), [Command::CloseStream { request: call }]);
        h.advance(ms(99));
        assert_eq!(h.response(call), None);
        h.advance(ms(1));
        assert_eq!(
            h.response(call),
            Some(Ok(tools::text_result("Reconnection test completed")))
        );
    }

    #[test]
    fn cancel_stops_further_messages_and_the_answer() {
        let mut h = builtin_session();
        let logging = h.request("tools/call", json!({"name": "test_tool_with_logging"}));
        let sampling = h.request(
            "tools/call",
            json!({"name": "test_sampling", "arguments": {"prompt": "p"}}),
        );
        h.notify("notifications/cancelled", json!({"requestId": 0}));
        h.cancel(logging);
        h.cancel(sampling);
        h.run_timers();
        let (_, id, ..) = h.client_requests()[0].clone();
        h.answer(id, Ok(json!({"content": {"type": "text", "text": "late"}})));
        assert_eq!(h.notifications("notifications/message").len(), 1);
        assert_eq!((h.responses(logging), h.responses(sampling)), (0, 0));
        assert!(h.handler().timers.is_empty() && h.handler().asked.is_empty());
    }

    #[test]
    fn session_closed_drops_its_state_and_pending_calls() {
        let mut h = builtin_session();
        h.call("logging/setLevel", json!({"level": "error"}))
            .unwrap();
        h.call(
            "resources/subscribe",
            json!({"uri": "test://watched-resource"}),
        )
        .unwrap();
        let progress = h.request(
            "tools/call",
            json!({"name": "test_tool_with_progress", "_meta": {"progressToken": 7}}),
        );
        h.request(
            "tools/call",
            json!({"name": "test_sampling", "arguments": {"prompt": "p"}}),
        );
        h.handler_mut().session_closed(SessionKey(1));
        assert!(h.handler().sessions.is_empty());
        assert!(h.handler().timers.is_empty() && h.handler().asked.is_empty());
        h.run_timers();
        let (_, id, ..) = h.client_requests()[0].clone();
        h.answer(id, Ok(json!({"content": {"type": "text", "text": "late"}})));
        assert_eq!(h.notifications("notifications/progress").len(), 1);
        assert_eq!(h.responses(progress), 0);
        assert!(h.handler().sessions.is_empty());
    }

    #[test]
    fn stray_timers_and_unknown_answers_do_nothing() {
        let mut h = builtin_session();
        h.fire_stray_timer(12345);
        h.answer(OutgoingId(999), Ok(json!({})));
        h.cancel(RequestHandle(999));
        h.handler_mut().session_closed(SessionKey(42));
        assert!(h.commands().is_empty());
    }

    #[test]
    fn pending_calls_are_bounded_per_session() {
        let mut h = builtin_session();
        let sample = json!({"name": "test_sampling", "arguments": {"prompt": "p"}});
        for _ in 0..MAX_PENDING_CALLS {
            h.request("tools/call", sample.clone());
        }
        assert_eq!(code(h.call("tools/call", sample.clone())), SERVER_ERROR);
        assert!(h.call_tool("test_simple_text", json!({})).is_ok());
        h.session = Some(SessionKey(2));
        let other = h.request("tools/call", sample.clone());
        assert_eq!(h.response(other), None);
        h.session = Some(SessionKey(1));
        let (_, id, ..) = h.client_requests()[0].clone();
        h.answer(id, Ok(json!({"content": {"type": "text", "text": "ok"}})));
        let again = h.request("tools/call", sample);
        assert_eq!(h.response(again), None);
        assert_eq!(h.client_requests().len(), MAX_PENDING_CALLS + 2);
    }

    #[test]
    fn stateless_requests_work_without_a_session() {
        let mut h = builtin_session();
        h.session = None;
        h.view = None;
        assert_eq!(
            h.call("logging/setLevel", json!({"level": "emergency"})),
            Ok(json!({}))
        );
        h.call_tool("test_tool_with_logging", json!({})).unwrap();
        assert_eq!(h.notifications("notifications/message").len(), 3);
        let got = h
            .call_tool("test_sampling", json!({"prompt": "p"}))
            .unwrap();
        assert_eq!(got["isError"], true);
        assert_eq!(
            h.call("resources/subscribe", json!({"uri": "test://static-text"})),
            Ok(json!({}))
        );
        assert!(h
            .handler()
            .sessions
            .get(&None)
            .is_none_or(|s| s.subscriptions.is_empty()));
    }
}
