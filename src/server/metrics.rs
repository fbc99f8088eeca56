//! `/metrics`: counters in the Prometheus text exposition format (version 0.0.4), so a
//! constrained host can be watched without an agent. Every label set is bounded: methods fold
//! into six names and statuses are the few this server emits.

use crate::http::Method;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Running totals since start.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metrics {
    /// Connections accepted.
    pub accepted: u64,
    /// Connections refused at `--max-connections`.
    pub refused: u64,
    /// `accept` calls that failed for want of file descriptors (the connection stays queued).
    pub accept_exhausted: u64,
    /// Requests answered, by method and status.
    pub requests: BTreeMap<(&'static str, u16), u64>,
    /// Bytes read from clients.
    pub bytes_in: u64,
    /// Bytes written to clients.
    pub bytes_out: u64,
    /// Heartbeat comments written on open streams.
    pub heartbeats: u64,
    /// Streams closed because their reader fell more than the outbound cap behind.
    pub slow_readers_closed: u64,
    /// Requests refused before routing (framing errors, limits, timeouts), by status.
    pub rejected: BTreeMap<u16, u64>,
}

/// Values that are read off the server when `/metrics` is asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Gauges {
    /// Connections open now.
    pub connections: usize,
    /// Live handshake-era sessions.
    pub sessions: usize,
    /// Sessions created since start.
    pub sessions_total: u64,
    /// Streams on a connection now.
    pub streams: usize,
    /// Seconds since start.
    pub uptime_secs: f64,
}

impl Metrics {
    /// Counts one answered request.
    pub fn record(&mut self, method: &Method, status: u16) {
        let method = match method {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
            _ => "other",
        };
        *self.requests.entry((method, status)).or_default() += 1;
    }

    /// Counts one request refused by the HTTP layer.
    pub fn reject(&mut self, status: u16) {
        *self.rejected.entry(status).or_default() += 1;
    }

    /// The exposition text; `backend` adds the handler's numeric health fields (for the bridge:
    /// children alive, spawned, exited, restarted).
    pub fn render(&self, gauges: Gauges, backend: Option<&Value>) -> String {
        let mut out = String::with_capacity(2048);
        let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, String)]| {
            let _ = writeln!(out, "# HELP mcpd_{name} {help}\n# TYPE mcpd_{name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "mcpd_{name}{labels} {value}");
            }
        };
        let one = |v: String| vec![(String::new(), v)];
        metric(
            "connections",
            "gauge",
            "Client connections open now.",
            &one(gauges.connections.to_string()),
        );
        metric(
            "connections_accepted_total",
            "counter",
            "Client connections accepted.",
            &one(self.accepted.to_string()),
        );
        metric(
            "connections_refused_total",
            "counter",
            "Connections refused at --max-connections.",
            &one(self.refused.to_string()),
        );
        metric(
            "accept_fd_exhausted_total",
            "counter",
            "accept() failures for want of file descriptors (EMFILE, ENFILE); the connection stays queued and is retried.",
            &one(self.accept_exhausted.to_string()),
        );
        metric(
            "sessions",
            "gauge",
            "Live sessions (handshake eras).",
            &one(gauges.sessions.to_string()),
        );
        metric(
            "sessions_created_total",
            "counter",
            "Sessions created.",
            &one(gauges.sessions_total.to_string()),
        );
        metric(
            "streams",
            "gauge",
            "SSE streams on a connection now.",
            &one(gauges.streams.to_string()),
        );
        let requests: Vec<_> = self
            .requests
            .iter()
            .map(|((method, status), n)| {
                (
                    format!("{{method=\"{method}\",status=\"{status}\"}}"),
                    n.to_string(),
                )
            })
            .collect();
        metric(
            "requests_total",
            "counter",
            "Requests answered, by method and status.",
            &requests,
        );
        let rejected: Vec<_> = self
            .rejected
            .iter()
            .map(|(status, n)| (format!("{{status=\"{status}\"}}"), n.to_string()))
            .collect();
        metric(
            "http_rejected_total",
            "counter",
            "Requests refused by the HTTP layer (framing, limits, timeouts).",
            &rejected,
        );
        metric(
            "bytes_received_total",
            "counter",
            "Bytes read from clients.",
            &one(self.bytes_in.to_string()),
        );
        metric(
            "bytes_sent_total",
            "counter",
            "Bytes written to clients.",
            &one(self.bytes_out.to_string()),
        );
        metric(
            "heartbeats_total",
            "counter",
            "SSE heartbeat comments written.",
            &one(self.heartbeats.to_string()),
        );
        metric(
            "slow_readers_closed_total",
            "counter",
            "Streams closed past the outbound cap.",
            &one(self.slow_readers_closed.to_string()),
        );
        metric(
            "uptime_seconds",
            "gauge",
            "Seconds since start.",
            &one(format!("{:.3}", gauges.uptime_secs)),
        );
        if let Some(backend) = backend {
            let mut leaves = Vec::new();
            numeric_leaves("backend", backend, &mut leaves);
            for (name, value) in leaves {
                metric(&name, "gauge", "Backend state (see /health).", &one(value));
            }
        }
        out
    }
}

/// Every numeric field of a JSON object, named by its path (`backend_children_alive`).
fn numeric_leaves(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Number(n) => out.push((prefix.to_string(), n.to_string())),
        Value::Object(fields) => {
            for (key, field) in fields {
                let key: String = key
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                    .collect();
                numeric_leaves(&format!("{prefix}_{key}"), field, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn exposition_has_help_type_and_bounded_labels() {
        let mut m = Metrics::default();
        m.record(&Method::Post, 200);
        m.record(&Method::Post, 200);
        m.record(&Method::Other("BREW".into()), 405);
        m.reject(431);
        let text = m.render(
            Gauges {
                connections: 3,
                ..Gauges::default()
            },
            Some(&json!({"children": {"alive": 2}, "bridge": "shared"})),
        );
        assert!(text.contains("# TYPE mcpd_requests_total counter\n"));
        assert!(text.contains("mcpd_requests_total{method=\"POST\",status=\"200\"} 2\n"));
        assert!(text.contains("mcpd_requests_total{method=\"other\",status=\"405\"} 1\n"));
        assert!(text.contains("mcpd_http_rejected_total{status=\"431\"} 1\n"));
        assert!(text.contains("mcpd_connections 3\n"));
        assert!(text.contains("mcpd_backend_children_alive 2\n"));
        assert!(!text.contains("bridge"), "strings are not metrics");
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (name, value) = line.rsplit_once(' ').unwrap();
            assert!(name.starts_with("mcpd_"), "{line}");
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
}
