//! Server-side `requestState` for `input_required` results (MCP 2026-07-28, "Multi Round-Trip
//! Requests").
//!
//! The spec lets the server choose what `requestState` holds and says to treat it as attacker
//! controlled. Here the client only ever sees a random handle (a UUID v4 from the OS CSPRNG);
//! what it stands for stays in this table. So nothing needs sealing: a modified, guessed or
//! foreign handle is simply unknown. Stateless requests share nothing else, so the table is
//! global, not per session.
//!
//! A handle lives [`TTL`] from when it was issued, and at most [`MAX_STATES`] live at once (the
//! oldest goes first). A lookup does not consume the handle, so a client may retry a round that
//! failed on the wire; every round issues a fresh handle, so round states never repeat.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// How long a handle stays valid: a person answering an elicitation takes minutes, not hours.
pub(super) const TTL: Duration = Duration::from_secs(600);

/// Most handles kept at once; bounds memory against clients that start rounds and never finish.
pub(super) const MAX_STATES: usize = 1024;

/// Handles issued and what each stands for.
#[derive(Debug)]
pub(super) struct RequestStates<T> {
    /// `--instance-id` and `-`, or empty: like a session id, a handle names the instance that
    /// holds its state, so a load balancer can send the retried request back there.
    prefix: String,
    by_handle: HashMap<String, (Instant, T)>,
    /// Handles oldest first: time only moves forward, so expiry and eviction take the front.
    order: VecDeque<String>,
}

impl<T> Default for RequestStates<T> {
    fn default() -> Self {
        RequestStates {
            prefix: String::new(),
            by_handle: HashMap::new(),
            order: VecDeque::new(),
        }
    }
}

impl<T> RequestStates<T> {
    /// Handles from now on start with `instance_id` and `-` (none when it is empty).
    pub(super) fn set_instance_id(&mut self, instance_id: &str) {
        self.prefix = if instance_id.is_empty() {
            String::new()
        } else {
            format!("{instance_id}-")
        };
    }

    /// Keeps `state` and returns the new handle that names it.
    pub(super) fn issue(&mut self, now: Instant, state: T) -> String {
        while let Some(oldest) = self.order.front() {
            let expired = self
                .by_handle
                .get(oldest)
                .is_none_or(|(issued, _)| now.saturating_duration_since(*issued) >= TTL);
            if !expired && self.order.len() < MAX_STATES {
                break;
            }
            if let Some(oldest) = self.order.pop_front() {
                self.by_handle.remove(&oldest);
            }
        }
        let handle = format!("{}{}", self.prefix, uuid::Uuid::new_v4());
        self.by_handle.insert(handle.clone(), (now, state));
        self.order.push_back(handle.clone());
        handle
    }

    /// The state `handle` names, unless it is unknown or expired.
    pub(super) fn get(&self, handle: &str, now: Instant) -> Option<&T> {
        let (issued, state) = self.by_handle.get(handle)?;
        (now.saturating_duration_since(*issued) < TTL).then_some(state)
    }

    /// How many handles are kept.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.by_handle.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_fresh_and_name_their_state_until_the_ttl() {
        let t0 = Instant::now();
        let mut states = RequestStates::default();
        let a = states.issue(t0, 1);
        let b = states.issue(t0, 1);
        assert_ne!(a, b);
        assert_eq!(
            states.get(&a, t0 + TTL - Duration::from_millis(1)),
            Some(&1)
        );
        assert_eq!(states.get(&a, t0 + TTL), None);
        assert_eq!(states.get(&format!("{a}-TAMPERED"), t0), None);
        assert_eq!(states.get("", t0), None);
        assert_eq!(states.get(&a, t0), Some(&1), "a lookup does not consume");
    }

    #[test]
    fn handles_name_the_instance() {
        let t0 = Instant::now();
        let mut states = RequestStates::default();
        states.set_instance_id("i2");
        let a = states.issue(t0, 1);
        assert!(a.starts_with("i2-") && a.len() == 3 + 36, "{a}");
        assert_eq!(states.get(&a, t0), Some(&1));
    }

    #[test]
    fn expired_handles_are_dropped_when_the_next_is_issued() {
        let t0 = Instant::now();
        let mut states = RequestStates::default();
        states.issue(t0, "old");
        states.issue(t0 + Duration::from_secs(1), "newer");
        let fresh = states.issue(t0 + TTL, "fresh");
        assert_eq!(states.len(), 2);
        assert_eq!(states.get(&fresh, t0 + TTL), Some(&"fresh"));
    }

    #[test]
    fn the_oldest_handle_goes_when_the_table_is_full() {
        let t0 = Instant::now();
        let mut states = RequestStates::default();
        let handles: Vec<String> = (0..MAX_STATES).map(|i| states.issue(t0, i)).collect();
        let last = states.issue(t0, MAX_STATES);
        assert_eq!(states.len(), MAX_STATES);
        assert_eq!(states.get(&handles[0], t0), None);
        assert_eq!(states.get(&handles[1], t0), Some(&1));
        assert_eq!(states.get(&last, t0), Some(&MAX_STATES));
    }
}
