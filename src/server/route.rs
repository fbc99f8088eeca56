//! Routing: which answer a request gets, decided once from its path and method.
//!
//! Every route passes the DNS-rebinding guard first. `/health` and `/metrics` are probes
//! (see `probe.rs`); the MCP endpoint, its `/sse/ID` and `/sessions/ID` sub-paths and the
//! HTTP+SSE era's stream and messages paths go to the transport after authorization; any other
//! path is 404 and a method a route does not take is 405 with `Allow`. Writing the answer is
//! `reply.rs`'s job.

use super::Reply;
use super::{ConnId, Exchange, Server};
use crate::http::{Method, Request, RequestHead};
use crate::log;
use crate::mcp::error::Error;
use crate::mcp::Handler;
use std::time::Instant;

impl<H: Handler + ?Sized> Server<H> {
    pub(super) fn route(&mut self, conn: ConnId, request: &Request, now: Instant) {
        self.counters.requests += 1;
        let Request {
            head,
            body,
            keep_alive,
        } = request;
        let keep_alive = *keep_alive && !self.conn_mut(conn).is_some_and(|c| c.peer_closed);
        let mut exchange = Exchange {
            version: head.version,
            keep_alive,
            headers: Vec::new(),
        };
        let path = head.path();
        let under_base = path.strip_prefix(self.config.path.trim_end_matches('/'));
        let probe = path == "/metrics" || path == "/health" || under_base == Some("/health");
        let mcp = path == self.config.path
            || under_base.is_some_and(|rest| rest.starts_with('/'))
            || path == self.config.sse_path
            || path == self.config.messages_path;
        // The DNS-rebinding guard comes first on every route: a rebound page must not read
        // /health or /metrics either (they are readable without a token by default).
        let guarded = self.guard(head);
        let reply = if let Err(reply) = guarded {
            reply
        } else if probe {
            let authorized = if self.config.public_health {
                Ok(())
            } else {
                self.authorize(head)
            };
            match (authorized, &head.method) {
                (Err(reply), _) => reply,
                (Ok(()), Method::Get | Method::Head) if path == "/metrics" => {
                    self.metrics_reply(now)
                }
                (Ok(()), Method::Get | Method::Head) => self.health(now),
                (Ok(()), _) => method_not_allowed("GET, HEAD"),
            }
        } else if mcp {
            // Preflights carry no credentials (Fetch standard, CORS-preflight request).
            let authorized = if head.method == Method::Options {
                Ok(())
            } else {
                self.authorize(head)
            };
            match guarded.and_then(|cors| authorized.map(|()| cors)) {
                Err(reply) => reply,
                Ok(cors) => {
                    if let Some(origin) = cors {
                        exchange
                            .headers
                            .push(("Access-Control-Allow-Origin", origin));
                        exchange
                            .headers
                            .push(("Access-Control-Expose-Headers", "Mcp-Session-Id".into()));
                        exchange.headers.push(("Vary", "Origin".into()));
                    }
                    self.route_mcp(conn, head, body, path, now)
                }
            }
        } else {
            Error::NoRoute(path.to_string()).reply(None)
        };
        log::debug(format_args!(
            "{} {} -> {}",
            head.method.as_str(),
            head.target,
            reply.status
        ));
        self.metrics.record(&head.method, reply.status);
        if head.method == Method::Head {
            exchange.keep_alive = false;
        }
        self.write_reply(conn, exchange, reply, now);
    }

    fn route_mcp(
        &mut self,
        conn: ConnId,
        head: &RequestHead,
        body: &[u8],
        path: &str,
        now: Instant,
    ) -> Reply {
        if let Some(reply) = self.refuse_while_draining(head, path) {
            return reply;
        }
        if path == self.config.sse_path {
            return match head.method {
                Method::Get => {
                    let messages = self.config.messages_path.clone();
                    self.transport.open_http_sse(conn, head, &messages, now)
                }
                Method::Options => self.preflight(head),
                _ => method_not_allowed("GET, OPTIONS"),
            };
        }
        if path == self.config.messages_path {
            return match head.method {
                Method::Post => self.transport.post_http_sse(head, body, now),
                Method::Options => self.preflight(head),
                _ => method_not_allowed("POST, OPTIONS"),
            };
        }
        let base = self.config.path.trim_end_matches('/');
        if path == self.config.path {
            return match head.method {
                Method::Post => self.transport.post(conn, head, body, now),
                Method::Get => self.transport.get(conn, head, None, now),
                Method::Delete => self.transport.delete(head, None),
                Method::Options => self.preflight(head),
                _ => method_not_allowed("GET, POST, DELETE, OPTIONS"),
            };
        }
        let rest = &path[base.len()..];
        if let Some(id) = rest
            .strip_prefix("/sse/")
            .filter(|id| !id.is_empty() && !id.contains('/'))
        {
            return match head.method {
                Method::Get => self.transport.get(conn, head, Some(id), now),
                Method::Options => self.preflight(head),
                _ => method_not_allowed("GET, OPTIONS"),
            };
        }
        if let Some(id) = rest
            .strip_prefix("/sessions/")
            .filter(|id| !id.is_empty() && !id.contains('/'))
        {
            return match head.method {
                Method::Delete => self.transport.delete(head, Some(id)),
                Method::Options => self.preflight(head),
                _ => method_not_allowed("DELETE, OPTIONS"),
            };
        }
        Error::NoRoute(path.to_string()).reply(None)
    }
}

fn method_not_allowed(allow: &'static str) -> Reply {
    let message = "Method Not Allowed".to_string();
    Error::WrongMethod { message, allow }.reply(None)
}
