//! The shared child's supervisor (`--shared`): its phases, the restart backoff, and the cached
//! `initialize` result every later client is answered from.
//!
//! ```text
//!      spawn           initialize answered          child exits
//! ──► Starting ─────────────────────────► Ready ───────────────► Down ──(backoff)──► Starting
//!        │ child exits (or spawn fails)                            ▲
//!        └─────────────────────────────────────────────────────────┘
//! any phase ── shutdown ──► Stopped (no more restarts)
//! ```
//!
//! Backoff ([`BridgeLimits`] `backoff_start`, `backoff_max`, `healthy_after`; by default): 0.5 s
//! after the first failure, doubling up to 30 s; a child that was ready for 60 s before it died
//! counts as healthy, and the next delay starts at 0.5 s again.
//!
//! Version negotiation for later clients (MCP lifecycle, "Version Negotiation"): the child
//! speaks the revision it answered mcpd with (V). A client that asks for a revision mcpd knows
//! and that is not newer than V is answered with its own revision, so the transport applies
//! that revision's rules (batches, SSE polling) to it; any other request gets V, and the client
//! decides whether it can go on. Messages from the child are V's, which older clients read as
//! the same shapes with extra fields.

use super::child::ChildId;
use crate::config::BridgeLimits;
use crate::mcp::{version, RequestHandle, SessionKey};
use serde_json::Value;
use std::time::{Duration, Instant};

/// Where the shared child is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Spawned (or being spawned); mcpd's `initialize` is not answered yet.
    Starting(ChildId),
    /// Answered `initialize`; serving.
    Ready {
        /// The child.
        child: ChildId,
        /// Since when.
        since: Instant,
    },
    /// No child; the next spawn is due at `retry_at`.
    Down {
        /// When to spawn again.
        retry_at: Instant,
    },
    /// mcpd is stopping: no more spawns.
    Stopped,
}

/// An `initialize` from a client waiting for the child to be ready.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaitingInit {
    /// The client's session.
    pub session: SessionKey,
    /// Its request.
    pub request: RequestHandle,
    /// The revision it asked for.
    pub requested: Option<String>,
}

/// The shared child's lifecycle across restarts.
#[derive(Debug)]
pub struct Supervisor {
    /// Where the child is.
    pub phase: Phase,
    /// Client `initialize` calls held until the child is ready.
    pub waiting: Vec<WaitingInit>,
    next_delay: Duration,
    /// Delay before the first restart.
    backoff_start: Duration,
    /// Longest delay between restarts.
    backoff_max: Duration,
    /// Time ready after which a child's death no longer counts towards the backoff.
    healthy_after: Duration,
    init: Option<Value>,
}

impl Supervisor {
    /// A supervisor whose first child `child` is being spawned, restarting with the backoff of
    /// `limits`.
    pub fn new(child: ChildId, limits: &BridgeLimits) -> Supervisor {
        Supervisor {
            phase: Phase::Starting(child),
            waiting: Vec::new(),
            next_delay: limits.backoff_start,
            backoff_start: limits.backoff_start,
            backoff_max: limits.backoff_max,
            healthy_after: limits.healthy_after,
            init: None,
        }
    }

    /// The current child, if there is one.
    pub fn child(&self) -> Option<ChildId> {
        match self.phase {
            Phase::Starting(child) | Phase::Ready { child, .. } => Some(child),
            Phase::Down { .. } | Phase::Stopped => None,
        }
    }

    /// Whether the child answers requests now.
    pub fn is_ready(&self) -> bool {
        matches!(self.phase, Phase::Ready { .. })
    }

    /// The child answered mcpd's `initialize` with `result`.
    pub fn ready(&mut self, child: ChildId, result: Value, now: Instant) {
        if self.phase == Phase::Starting(child) {
            self.phase = Phase::Ready { child, since: now };
            self.init = Some(result);
        }
    }

    /// `child` is gone. Returns when to spawn the next one (`None`: not the current child, or
    /// stopping).
    pub fn exited(&mut self, child: ChildId, now: Instant) -> Option<Instant> {
        let healthy = match self.phase {
            Phase::Starting(c) if c == child => false,
            Phase::Ready { child: c, since } if c == child => {
                now.saturating_duration_since(since) >= self.healthy_after
            }
            _ => return None,
        };
        if healthy {
            self.next_delay = self.backoff_start;
        }
        let retry_at = now + self.next_delay;
        self.next_delay = (self.next_delay * 2).min(self.backoff_max);
        self.phase = Phase::Down { retry_at };
        Some(retry_at)
    }

    /// The restart timer fired: whether to spawn now.
    pub fn restart_due(&self, now: Instant) -> bool {
        matches!(self.phase, Phase::Down { retry_at } if retry_at <= now)
    }

    /// A new child is being spawned.
    pub fn starting(&mut self, child: ChildId) {
        if self.phase != Phase::Stopped {
            self.phase = Phase::Starting(child);
        }
    }

    /// mcpd is stopping.
    pub fn stop(&mut self) {
        self.phase = Phase::Stopped;
    }

    /// The answer to a client's `initialize` that asked for `requested`, from the cached result
    /// (see the module doc for the revision chosen); `None` before the first child was ready.
    pub fn initialize_result(&self, requested: Option<&str>) -> Option<Value> {
        let mut result = self.init.clone()?;
        let spoken = result.get("protocolVersion").and_then(Value::as_str);
        let chosen = match (requested, spoken) {
            (Some(r), Some(v)) if version::is_supported(r) && r <= v => Some(r.to_string()),
            _ => None,
        };
        if let (Some(chosen), Some(fields)) = (chosen, result.as_object_mut()) {
            fields.insert("protocolVersion".into(), Value::from(chosen));
        }
        Some(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn backoff_doubles_to_the_cap_and_resets_after_a_healthy_run() {
        let t0 = Instant::now();
        let mut sup = Supervisor::new(ChildId(1), &BridgeLimits::default());
        let mut now = t0;
        let mut delays = Vec::new();
        for n in 1..=9 {
            let at = sup.exited(ChildId(n), now).unwrap();
            delays.push(at - now);
            assert!(!sup.restart_due(at - Duration::from_millis(1)));
            assert!(sup.restart_due(at));
            sup.starting(ChildId(n + 1));
            now = at;
        }
        let ms: Vec<u128> = delays.iter().map(Duration::as_millis).collect();
        assert_eq!(
            ms,
            [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
        );
        sup.ready(ChildId(10), json!({}), now);
        let healthy_after = BridgeLimits::default().healthy_after;
        let at = sup.exited(ChildId(10), now + healthy_after).unwrap();
        assert_eq!(at - (now + healthy_after), Duration::from_millis(500));
    }

    #[test]
    fn backoff_follows_the_configured_limits() {
        let limits = BridgeLimits {
            backoff_start: Duration::from_millis(100),
            backoff_max: Duration::from_millis(250),
            healthy_after: Duration::from_secs(1),
            ..BridgeLimits::default()
        };
        let t0 = Instant::now();
        let mut sup = Supervisor::new(ChildId(1), &limits);
        let mut now = t0;
        let mut delays = Vec::new();
        for n in 1..=3 {
            let at = sup.exited(ChildId(n), now).unwrap();
            delays.push((at - now).as_millis());
            sup.starting(ChildId(n + 1));
            now = at;
        }
        assert_eq!(delays, [100, 200, 250]);
        sup.ready(ChildId(4), json!({}), now);
        let at = sup
            .exited(ChildId(4), now + Duration::from_secs(1))
            .unwrap();
        assert_eq!(
            at - (now + Duration::from_secs(1)),
            Duration::from_millis(100)
        );
    }

    #[test]
    fn only_the_current_child_counts_and_stop_is_final() {
        let now = Instant::now();
        let mut sup = Supervisor::new(ChildId(1), &BridgeLimits::default());
        assert_eq!(sup.exited(ChildId(7), now), None);
        sup.stop();
        assert_eq!(sup.exited(ChildId(1), now), None);
        sup.starting(ChildId(2));
        assert_eq!(sup.phase, Phase::Stopped);
    }

    #[test]
    fn later_clients_get_the_cached_result_with_a_sensible_revision() {
        let mut sup = Supervisor::new(ChildId(1), &BridgeLimits::default());
        assert_eq!(sup.initialize_result(Some("2025-06-18")), None);
        let result = json!({"protocolVersion": "2025-06-18", "serverInfo": {"name": "s"}});
        sup.ready(ChildId(1), result, Instant::now());
        let version =
            |r: Option<&str>| sup.initialize_result(r).unwrap()["protocolVersion"].clone();
        assert_eq!(version(Some("2025-03-26")), "2025-03-26");
        assert_eq!(version(Some("2025-06-18")), "2025-06-18");
        assert_eq!(
            version(Some("2025-11-25")),
            "2025-06-18",
            "never newer than the child"
        );
        assert_eq!(version(Some("1999-01-01")), "2025-06-18");
        assert_eq!(version(None), "2025-06-18");
        assert_eq!(
            sup.initialize_result(None).unwrap()["serverInfo"]["name"],
            "s"
        );
    }
}
