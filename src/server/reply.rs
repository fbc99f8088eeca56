//! Writing answers onto a connection: a whole response (JSON, text, empty), the head of an SSE
//! stream and its events (chunked on HTTP/1.1, raw until close on HTTP/1.0), heartbeats on
//! every open stream, and the keep-alive-or-close decision once an answer is complete. Every
//! byte goes through the connection's bounded outbound buffer; a reader too far behind is
//! closed rather than buffered for.

use super::{ConnId, ConnTimer, Exchange, Output, Phase, Server, TimerEvent};
use super::{Reply, ReplyBody};
use crate::http::{self, BodyFraming, Version};
use crate::log;
use crate::mcp::Handler;
use crate::sse;
use std::time::Instant;

impl<H: Handler + ?Sized> Server<H> {
    /// Writes `reply` on `conn` and moves the connection to its next phase.
    ///
    /// The head and body go straight into the connection's outbound buffer: no temporary
    /// buffer and no header list is built per answer.
    pub(super) fn write_reply(
        &mut self,
        conn: ConnId,
        exchange: Exchange,
        reply: Reply,
        now: Instant,
    ) {
        let keep_alive = exchange.keep_alive;
        let version = exchange.version;
        let status = reply.status;
        let fields = |out: &mut Vec<u8>| {
            http::write_status_line(out, status);
            for (name, value) in exchange.headers.iter().chain(reply.headers.iter()) {
                http::write_field(out, name, value.as_bytes());
            }
        };
        let next = match &reply.body {
            ReplyBody::Json(body)
                if status == 200
                    && keep_alive
                    && version == Version::Http11
                    && exchange.headers.is_empty()
                    && reply.headers.is_empty() =>
            {
                self.push_out_with(conn, |out| http::write_json_ok(out, body.as_bytes()));
                None
            }
            ReplyBody::Empty | ReplyBody::Text(_) | ReplyBody::Json(_) => {
                self.push_out_with(conn, |out| {
                    fields(out);
                    let body = match &reply.body {
                        ReplyBody::Text(body) => body.as_bytes(),
                        ReplyBody::Json(body) => {
                            http::write_field(out, "Content-Type", b"application/json");
                            body.as_bytes()
                        }
                        _ => b"",
                    };
                    http::end_response(out, version, status, body, keep_alive);
                });
                None
            }
            ReplyBody::Stream { initial, end } => {
                let chunked = version == Version::Http11;
                let keep = keep_alive && chunked;
                let end = *end;
                self.push_out_with(conn, |out| {
                    fields(out);
                    http::write_field(out, "Content-Type", b"text/event-stream");
                    http::write_field(out, "Cache-Control", b"no-cache");
                    http::write_field(out, "X-Accel-Buffering", b"no");
                    http::end_head(out, version, status, BodyFraming::Chunked, keep);
                    write_body_bytes(out, chunked, initial);
                    if end && chunked {
                        http::write_last_chunk(out);
                    }
                });
                if end {
                    None
                } else {
                    Some(Phase::Streaming(Exchange {
                        keep_alive: keep,
                        ..exchange.clone()
                    }))
                }
            }
            ReplyBody::Deferred => {
                // Headers decided now (the new session's id) go out with the answer later.
                let mut waiting = exchange.clone();
                waiting.headers.extend(reply.headers.iter().cloned());
                Some(Phase::Waiting(waiting))
            }
        };
        let streaming = matches!(next, Some(Phase::Streaming(_)));
        match next {
            Some(phase) => {
                if let Some(c) = self.conn_mut(conn) {
                    c.phase = phase;
                }
                if streaming {
                    self.arm_heartbeat(now);
                }
            }
            None => self.finish_exchange(conn, keep_alive, now),
        }
    }

    /// The answer is complete: keep the connection for the next request or close it. The caller
    /// reads on ([`Server::advance`] loops; never recurse, pipelined requests are many).
    fn finish_exchange(&mut self, conn: ConnId, keep_alive: bool, now: Instant) {
        let draining = self.draining;
        let Some(c) = self.conn_mut(conn) else { return };
        if !keep_alive || draining || c.peer_closed && c.input.is_empty() {
            self.close(conn, true);
            return;
        }
        c.phase = Phase::Reading;
        self.arm(conn, ConnTimer::Idle, now);
    }

    pub(super) fn push_out(&mut self, conn: ConnId, bytes: &[u8]) -> bool {
        self.push_out_with(conn, |out| out.extend_from_slice(bytes))
    }

    /// Queues what `write` appends on `conn`, written in place into its outbound buffer;
    /// closes the connection when that would pass the buffer's cap.
    pub(super) fn push_out_with(&mut self, conn: ConnId, write: impl FnOnce(&mut Vec<u8>)) -> bool {
        let Some(c) = self.conn_mut(conn) else {
            return false;
        };
        match c.out.push_with(write) {
            // A Write with nothing pending gets no handle_sent, which would leave write_queued set.
            Ok(0) => return true,
            Ok(_) => {}
            Err(_) => {
                log::warn(format_args!(
                    "connection {conn}: outbound buffer full; closing"
                ));
                self.close(conn, false);
                return false;
            }
        }
        if !c.write_queued {
            c.write_queued = true;
            self.outputs.push_back(Output::Write(conn));
        }
        true
    }

    /// Queues SSE bytes on a streaming connection, closing it when its reader has fallen more
    /// than the outbound cap behind (the stream stays resumable from the replay buffer).
    pub(super) fn stream_bytes(&mut self, conn: ConnId, bytes: &[u8]) {
        let cap = self.config.limits.max_outbound_bytes;
        let Some(c) = self.conn_mut(conn) else { return };
        let Phase::Streaming(exchange) = &c.phase else {
            return;
        };
        if !c.out.is_empty() && c.out.len() + bytes.len() > cap {
            log::warn(format_args!(
                "connection {conn}: SSE reader is {} bytes behind; closing the stream",
                c.out.len()
            ));
            self.metrics.slow_readers_closed += 1;
            self.close(conn, false);
            return;
        }
        let chunked = exchange.version == Version::Http11;
        self.push_out_with(conn, |out| write_body_bytes(out, chunked, bytes));
    }

    /// Writes the end of a streaming response, if `conn` is streaming.
    pub(super) fn end_stream_bytes(&mut self, conn: ConnId) -> Option<bool> {
        let c = self.conn_mut(conn)?;
        let Phase::Streaming(exchange) = &c.phase else {
            return None;
        };
        let keep_alive = exchange.keep_alive;
        let chunked = exchange.version == Version::Http11;
        c.phase = Phase::Reading;
        if chunked {
            self.push_out_with(conn, http::write_last_chunk);
        }
        Some(keep_alive)
    }

    pub(super) fn end_stream(&mut self, conn: ConnId, now: Instant) {
        if let Some(keep_alive) = self.end_stream_bytes(conn) {
            self.finish_exchange(conn, keep_alive, now);
        }
    }

    pub(super) fn heartbeat(&mut self, now: Instant) {
        self.heartbeat_armed = false;
        let mut any = false;
        for conn in self.conns.ids() {
            if matches!(
                self.conns.get(conn).map(|c| &c.phase),
                Some(Phase::Streaming(_))
            ) {
                any = true;
                self.metrics.heartbeats += 1;
                self.stream_bytes(conn, sse::HEARTBEAT);
            }
        }
        if any {
            self.arm_heartbeat(now);
        }
    }

    fn arm_heartbeat(&mut self, now: Instant) {
        if !self.heartbeat_armed {
            self.heartbeat_armed = true;
            self.wheel
                .insert(now + self.config.limits.heartbeat, TimerEvent::Heartbeat);
        }
    }
}

fn write_body_bytes(out: &mut Vec<u8>, chunked: bool, bytes: &[u8]) {
    if chunked {
        http::write_chunk(out, bytes);
    } else {
        out.extend_from_slice(bytes);
    }
}
