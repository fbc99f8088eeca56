//! Admission around the edges of a server's life: the addresses it listens on (for the Host
//! guard), `accept` running out of descriptors, and what a draining server still takes.

use super::Reply;
use super::Server;
use crate::http::{Field, Method, RequestHead};
use crate::log;
use crate::mcp::error::Error;
use crate::mcp::Handler;
use std::net::IpAddr;

impl<H: Handler + ?Sized> Server<H> {
    /// The IP addresses mcpd actually listens on over TCP (the event loop knows them once bound,
    /// including sockets systemd passed); the Host guard accepts them as names of this server.
    /// By default the guard assumes `config.host`.
    pub fn listening_on(&mut self, ips: Vec<IpAddr>) {
        self.listen_ips = ips;
    }

    /// `accept` failed for want of file descriptors (EMFILE, ENFILE): counted for `/metrics`,
    /// logged at powers of two so a storm cannot flood the log.
    pub fn handle_accept_exhausted(&mut self, error: &std::io::Error) {
        self.metrics.accept_exhausted += 1;
        let n = self.metrics.accept_exhausted;
        if n.is_power_of_two() {
            log::warn(format_args!(
                "accept failed: {error}; waiting connections stay queued and are retried ({n} times so far)"
            ));
        }
    }

    /// After SIGTERM no new work starts here, so what is in flight can finish and the process
    /// can exit: a request naming a session gets 404 (the session ends with this process; a
    /// spec-following client re-initializes, through a balancer on another instance); one
    /// naming none (`initialize`, a stateless request, a new `/sse` stream) gets 503 with
    /// `Retry-After`, which a balancer retries on another instance. DELETE and preflights are
    /// still answered.
    pub(super) fn refuse_while_draining(&self, head: &RequestHead, path: &str) -> Option<Reply> {
        if !self.draining || matches!(head.method, Method::Delete | Method::Options) {
            return None;
        }
        let names_session = head.header_str(Field::McpSessionId).is_some()
            || path != self.config.path && path != self.config.sse_path;
        Some(if names_session {
            Error::SessionEndedByShutdown.reply(None)
        } else {
            Error::Draining.reply(None)
        })
    }
}
