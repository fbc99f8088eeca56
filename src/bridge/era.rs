//! What the child mcpd holds itself speaks (MCP 2026-07-28 `basic/versioning`: legacy,
//! modern, dual-era), learnt before anything is advertised for it.
//!
//! ```text
//!  spawn ──► Probing ── server/discover answered, listing 2026-07-28 ──► Modern
//!               │                                                 (2026 requests as they are)
//!               └───── any error, or no 2026 revision listed ──────► Handshake
//!                                                  (mcpd's `initialize`; 2026 requests translated)
//! ```
//!
//! The probe is the first line a fresh shared or stateless child gets. Its verdict is logged at
//! info and shown in `/health` (`child_era`). A modern child's `server/discover` answer is what
//! 2026 clients get for `server/discover` (cached; asked again when the child says a list
//! changed).
//!
//! Why `--shared` needs a second child for a modern one ("the handshake child"): a dual-era
//! stdio server picks the era of its connection by the first request (Python SDK 2.x
//! `mcp/server/runner.py`: a connection opened with `initialize` refuses requests carrying the
//! 2026 envelope, one opened with a 2026 request refuses `initialize`). So the probed child
//! serves the 2026 clients, and a second child, initialized by mcpd, the handshake sessions;
//! it is supervised the same way (restarted with backoff).

use super::child::ChildId;
use super::route::Origin;
use super::supervisor::{Phase, Supervisor};
use super::{Bridge, Due};
use crate::log;
use crate::mcp::jsonrpc::ErrorObject;
use crate::mcp::transport::stateless::{META_CAPABILITIES, META_CLIENT_INFO, META_VERSION};
use crate::mcp::version;
use serde_json::{json, Value};
use std::time::Instant;

/// What the child mcpd holds itself speaks.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Era {
    /// No child yet, or its `server/discover` is not answered yet.
    #[default]
    Probing,
    /// It answered `server/discover` listing 2026-07-28 (the answer, kept for clients).
    Modern {
        /// Its `server/discover` result.
        discover: Value,
    },
    /// It refused the probe: it speaks the `initialize` handshake only.
    Handshake,
}

impl Era {
    /// For `/health` and the log.
    pub fn label(&self) -> &'static str {
        match self {
            Era::Probing => "probing",
            Era::Modern { .. } => "2026-07-28",
            Era::Handshake => "handshake",
        }
    }
}

/// The `server/discover` params mcpd probes with: the 2026 envelope, as a 2026 client sends it.
pub fn probe_params() -> Value {
    json!({"_meta": {
        META_VERSION: version::MODERN,
        META_CAPABILITIES: {},
        META_CLIENT_INFO: {"name": "mcpd", "version": env!("CARGO_PKG_VERSION")},
    }})
}

/// The era an answer to the probe shows: `Ok` with the result when it lists 2026-07-28, else
/// `Err` saying why the child is taken for a handshake-only one.
pub fn verdict(outcome: Result<Value, ErrorObject>) -> Result<Value, String> {
    match outcome {
        Err(error) => Err(format!("it refused server/discover ({})", error.message)),
        Ok(result) => {
            let modern = result
                .get("supportedVersions")
                .and_then(Value::as_array)
                .is_some_and(|vs| vs.iter().any(|v| v.as_str() == Some(version::MODERN)));
            if modern {
                Ok(result)
            } else {
                Err("its server/discover lists no 2026-07-28".into())
            }
        }
    }
}

impl Bridge {
    /// Asks child `id` for `server/discover` (see the module doc).
    pub(super) fn probe(&mut self, id: ChildId, refresh: bool) {
        let Some(child) = self.children.get_mut(&id) else {
            return;
        };
        let line = child.routes.request(
            Origin::Probe { refresh },
            "server/discover",
            Some(probe_params().into()),
        );
        self.write_control(id, &line);
        if !refresh {
            self.set_timer(self.limits.probe_timeout, Due::Probe(id));
        }
    }

    /// The probe of child `id` got no answer in time: a handshake-only child (a late answer is
    /// ignored).
    pub(super) fn probe_due(&mut self, id: ChildId) {
        if self.stateless_child() == Some(id) && self.era == Era::Probing {
            let why = format!(
                "it did not answer server/discover within {}s",
                self.limits.probe_timeout.as_secs()
            );
            self.handshake_verdict(id, &why);
        }
    }

    /// mcpd's own `initialize` of child `id` (a handshake-only child, or the handshake child).
    pub(super) fn send_initialize(&mut self, id: ChildId) {
        let params = json!({
            "protocolVersion": version::LATEST_LEGACY,
            "capabilities": {"roots": {"listChanged": true}, "sampling": {}, "elicitation": {}},
            "clientInfo": {"name": "mcpd", "version": env!("CARGO_PKG_VERSION")},
        });
        let Some(child) = self.children.get_mut(&id) else {
            return;
        };
        let line = child
            .routes
            .request(Origin::Initialize, "initialize", Some(params.into()));
        self.write_control(id, &line);
    }

    /// The child answered mcpd's `server/discover`.
    pub(super) fn probed(
        &mut self,
        id: ChildId,
        refresh: bool,
        outcome: Result<Value, ErrorObject>,
        now: Instant,
    ) {
        if !refresh && self.era != Era::Probing {
            // Late: the probe timed out (a slow start) and the child was taken for
            // handshake-only. If it speaks 2026 after all, its `initialize` will be refused:
            // that refusal then makes it modern; a per-session refusal is undone.
            if let Ok(discover) = verdict(outcome) {
                log::info(format_args!("{id} answered server/discover late"));
                self.late_discover = Some((id, discover));
                if self.modern_refused {
                    self.modern_refused = false;
                    self.era = Era::Probing;
                }
            }
            return;
        }
        if self.stateless_child() != Some(id) {
            return;
        }
        match (verdict(outcome), refresh) {
            (Ok(discover), true) => self.era = Era::Modern { discover },
            (Err(why), true) => {
                log::warn(format_args!("{id}: server/discover refresh failed: {why}"))
            }
            (Ok(discover), false) => self.modern_verdict(id, discover, now),
            (Err(why), false) => self.handshake_verdict(id, &why),
        }
    }

    /// Child `id` answered the probe: it speaks 2026-07-28 (see the module doc).
    fn modern_verdict(&mut self, id: ChildId, discover: Value, now: Instant) {
        log::info(format_args!(
            "{id}: the MCP server speaks 2026-07-28 (it answered server/discover): 2026-07-28 \
             requests go to it as they are"
        ));
        self.era = Era::Modern {
            discover: discover.clone(),
        };
        // Ready without `initialize`: its `--init-timeout` is over.
        self.awaiting_init.remove(&id);
        self.init_failing = false;
        if let Some(sup) = &mut self.supervisor {
            sup.ready(id, discover, now);
        }
        if self.shared && self.handshake.is_none() {
            self.start_handshake_child();
        }
        self.stateless_ready(id);
    }

    /// Child `id` speaks the handshake only (`why`): per-session mode without `--eras` naming
    /// 2026-07-28 lets it go and refuses 2026 requests; otherwise mcpd initializes it and
    /// translates.
    fn handshake_verdict(&mut self, id: ChildId, why: &str) {
        self.era = Era::Handshake;
        if !self.shared && !self.eras.explicit() {
            log::info(format_args!(
                "{id}: the MCP server speaks the initialize handshake only ({why}); \
                 2026-07-28 is not offered for it in per-session mode (2026 clients would \
                 share one child; --eras can ask for it)"
            ));
            self.modern_refused = true;
            if let Some(error) = self.modern_refusal(version::MODERN) {
                self.refuse_held(&error);
            }
            self.awaiting_init.remove(&id);
            self.stop_child(id, "2026-07-28 is not offered for it", false);
            self.supervisor = None;
            return;
        }
        log::info(format_args!(
            "{id}: the MCP server speaks the initialize handshake only ({why}); 2026-07-28 \
             requests are translated"
        ));
        self.send_initialize(id);
    }

    /// Child `id` refused mcpd's `initialize`: `true` if that is because it answered the probe
    /// late and speaks 2026-07-28 (a dual-era server refuses `initialize` then); it is modern.
    pub(super) fn refused_initialize_late(&mut self, id: ChildId, now: Instant) -> bool {
        match self.late_discover.take() {
            Some((late, discover)) if late == id && self.stateless_child() == Some(id) => {
                self.modern_verdict(id, discover, now);
                true
            }
            _ => false,
        }
    }

    /// The -32022 refusal of a 2026 request (asking for `requested`) when per-session mode
    /// does not offer 2026-07-28 for its handshake-only child: it lists the handshake
    /// revisions, which today's clients read as "fall back to `initialize`" (see
    /// [`crate::mcp::transport::eras`]).
    pub(super) fn modern_refusal(&self, requested: &str) -> Option<ErrorObject> {
        if !self.modern_refused {
            return None;
        }
        let offered = self.eras.handshake();
        let error = ErrorObject::new(
            crate::mcp::transport::stateless::UNSUPPORTED_VERSION,
            format!(
                "Unsupported protocol version {requested:?}: the MCP server behind this bridge \
                 speaks the initialize handshake ({})",
                offered.join(", ")
            ),
        );
        Some(error.with_data(json!({"supported": offered, "requested": requested})))
    }

    /// `--shared` with a modern child: a second child for the handshake sessions; the
    /// `initialize` calls that waited for the probe now wait for it.
    pub(super) fn start_handshake_child(&mut self) {
        let id = self.new_child(None, "shared (handshake)".into());
        self.send_initialize(id);
        self.await_init(id, None);
        let waiting = self
            .supervisor
            .as_mut()
            .map(|s| std::mem::take(&mut s.waiting))
            .unwrap_or_default();
        match &mut self.handshake {
            Some(sup) => sup.starting(id),
            None => self.handshake = Some(Supervisor::new(id, &self.limits)),
        }
        if let Some(sup) = &mut self.handshake {
            sup.waiting.extend(waiting);
        }
    }

    /// Whether `id` is the `--shared` handshake child.
    pub(super) fn is_handshake_child(&self, id: ChildId) -> bool {
        self.handshake.as_ref().and_then(Supervisor::child) == Some(id)
    }

    /// The supervisor of the child serving handshake sessions in `--shared` mode.
    pub(super) fn session_supervisor(&mut self) -> Option<&mut Supervisor> {
        match self.handshake {
            Some(ref mut sup) => Some(sup),
            None => self.supervisor.as_mut(),
        }
    }

    /// Whether the shared child may serve handshake sessions: not while it is probed, and
    /// never a modern one (the handshake child does).
    pub(super) fn serves_sessions(&self) -> bool {
        self.handshake.is_some() || self.era == Era::Handshake
    }

    /// Its restart timer fired.
    pub(super) fn restart_handshake_child(&mut self, now: Instant) {
        let due = self
            .handshake
            .as_ref()
            .map(|s| (s.restart_due(now), s.phase));
        match due {
            Some((true, _)) => {
                self.stats.restarted += 1;
                self.start_handshake_child();
            }
            Some((false, Phase::Down { retry_at })) => self.set_timer(
                retry_at.saturating_duration_since(now),
                Due::RestartHandshake,
            ),
            _ => {}
        }
    }

    /// A list changed in a modern child: its `server/discover` answer may have too.
    pub(super) fn discover_changed(&mut self, id: ChildId, method: &str) {
        let list_change = method.ends_with("/list_changed");
        if list_change
            && matches!(self.era, Era::Modern { .. })
            && self.stateless_child() == Some(id)
        {
            self.probe(id, true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::jsonrpc;

    #[test]
    fn a_discover_answer_listing_2026_is_modern_anything_else_is_handshake() {
        let result = json!({"supportedVersions": ["2026-07-28"], "capabilities": {}});
        assert_eq!(verdict(Ok(result.clone())), Ok(result));
        let refused = ErrorObject::new(jsonrpc::METHOD_NOT_FOUND, "Method not found");
        assert!(verdict(Err(refused))
            .unwrap_err()
            .contains("Method not found"));
        let legacy = json!({"supportedVersions": ["2025-11-25"]});
        assert!(verdict(Ok(legacy)).is_err());
        assert!(verdict(Ok(json!({}))).is_err());
    }

    #[test]
    fn the_probe_carries_the_2026_envelope() {
        let params = probe_params();
        assert_eq!(params["_meta"][META_VERSION], "2026-07-28");
        assert!(params["_meta"][META_CAPABILITIES].is_object());
    }
}
