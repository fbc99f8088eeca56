//! Connection deadlines: a request head must be complete within the head timeout and an idle
//! keep-alive connection closes after the keep-alive timeout. One lazy wheel entry per
//! connection: a deadline that moves later costs no cancellation, the entry re-arms itself
//! when it fires early. No deadline runs while an answer is pending or streaming.

use super::{ConnId, ConnTimer, Phase, Server, TimerEvent};
use crate::http;
use crate::mcp::Handler;
use std::time::Instant;

impl<H: Handler + ?Sized> Server<H> {
    /// A connection's wheel entry fired: act if its deadline has come, else re-arm for it.
    pub(super) fn conn_timer(&mut self, conn: ConnId, now: Instant) {
        let Some(c) = self.conn_mut(conn) else { return };
        c.entry = None;
        let Some((at, kind)) = c.deadline else { return };
        if at > now {
            let key = self.wheel.insert(at, TimerEvent::Conn(conn));
            if let Some(c) = self.conn_mut(conn) {
                c.entry = Some((key, at));
            }
            return;
        }
        c.deadline = None;
        if !matches!(c.phase, Phase::Reading) {
            return;
        }
        match kind {
            ConnTimer::Idle => self.close(conn, true),
            ConnTimer::Request => {
                if c.input.is_empty() && c.reader.is_idle() {
                    self.close(conn, true);
                } else {
                    self.fail(conn, &http::Error::HeadTimeout);
                }
            }
        }
    }

    /// Sets the connection's deadline; the wheel is touched only if no entry is due by then.
    pub(super) fn arm(&mut self, conn: ConnId, kind: ConnTimer, now: Instant) {
        let limits = &self.config.limits;
        let at = now
            + match kind {
                ConnTimer::Request => limits.head_timeout,
                ConnTimer::Idle => limits.keep_alive_timeout,
            };
        let Some(c) = self.conns.get_mut(conn) else {
            return;
        };
        c.deadline = Some((at, kind));
        match c.entry {
            Some((_, due)) if due <= at => {}
            Some((key, _)) => {
                self.wheel.cancel(key);
                let key = self.wheel.insert(at, TimerEvent::Conn(conn));
                c.entry = Some((key, at));
            }
            None => {
                let key = self.wheel.insert(at, TimerEvent::Conn(conn));
                c.entry = Some((key, at));
            }
        }
    }

    /// No deadline for now (an answer is pending or streaming); the entry, if any, stays.
    pub(super) fn disarm(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.get_mut(conn) {
            c.deadline = None;
        }
    }
}
