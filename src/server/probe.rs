//! Probes: the `/health` JSON (503 "draining" from shutdown on, so a balancer takes the
//! instance out of rotation) and the `/metrics` text exposition, each merged with what the
//! handler reports. Routing and authorization are decided before these are called.
//!
//! The handler's [`Handler::health`] runs under `catch_unwind`: a panicking backend makes
//! `/health` answer 503 with `"status": "error"` (and `/metrics` leave its fields out) instead
//! of stopping the server.

use super::{Gauges, Server};
use super::{Reply, ReplyBody};
use crate::mcp::Handler;
use std::time::Instant;

impl<H: Handler + ?Sized> Server<H> {
    pub(super) fn metrics_reply(&self, now: Instant) -> Reply {
        let stats = self.transport.stats();
        let gauges = Gauges {
            connections: self.counters.connections,
            sessions: stats.active_sessions,
            sessions_total: stats.total_sessions,
            streams: stats.open_streams,
            uptime_secs: now.saturating_duration_since(self.started).as_secs_f64(),
        };
        let text = self
            .metrics
            .render(gauges, self.handler_health().ok().flatten().as_ref());
        Reply {
            status: 200,
            headers: vec![(
                "Content-Type",
                "text/plain; version=0.0.4; charset=utf-8".into(),
            )],
            body: ReplyBody::Text(text),
        }
    }

    pub(super) fn health(&self, now: Instant) -> Reply {
        let stats = self.transport.stats();
        let mut body = serde_json::json!({
            "status": "ok",
            "transport": "streamable-http",
            "active_sessions": stats.active_sessions,
            "total_sessions": stats.total_sessions,
            "streams": stats.open_streams,
            "connections": self.counters.connections,
            "uptime": now.saturating_duration_since(self.started).as_secs_f64(),
        });
        match (self.handler_health(), body.as_object_mut()) {
            (Ok(Some(serde_json::Value::Object(extra))), Some(fields)) => fields.extend(extra),
            (Err(Panicked), _) => body["status"] = "error".into(),
            _ => {}
        }
        if self.draining {
            // From SIGTERM on: a balancer's health check takes this instance out of rotation.
            body["status"] = "draining".into();
        }
        let healthy = body["status"] == "ok";
        Reply {
            status: if healthy { 200 } else { 503 },
            headers: Vec::new(),
            body: ReplyBody::Json(body.to_string()),
        }
    }

    /// [`Handler::health`], its panic caught and logged.
    fn handler_health(&self) -> Result<Option<serde_json::Value>, Panicked> {
        let handler = self.transport.handler();
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler.health())).map_err(|_| {
            crate::log::error(format_args!("handler panicked in health"));
            Panicked
        })
    }
}

/// The handler panicked.
struct Panicked;
