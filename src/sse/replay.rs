//! The per-stream replay buffer for `Last-Event-ID` resumption (MCP Streamable HTTP:
//! resumability and redelivery): the latest events of one stream, bounded by bytes, and a
//! refusal ([`ReplayGap`]) instead of a silently partial replay. Event ids are chosen by the MCP
//! layer, not here.

use std::collections::VecDeque;
use std::fmt;

/// A resuming client asked for events of which some were already dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayGap;

impl fmt::Display for ReplayGap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("events after Last-Event-ID are no longer in the replay buffer")
    }
}

impl std::error::Error for ReplayGap {}

/// The latest events of one SSE stream, for `Last-Event-ID` resumption (MCP Streamable HTTP:
/// resumability and redelivery), bounded by the bytes of their messages.
///
/// Sequence numbers must strictly increase; a push whose `seq` is not above the last one is
/// ignored (a caller bug: it would make replays ambiguous). When the bytes exceed the cap, the
/// oldest events are dropped; a message larger than the whole cap is not kept, and since no replay
/// across it could be complete, every older event is dropped with it. Either way the buffer
/// remembers the newest dropped `seq`, so a replay from before it is refused, never silently
/// partial.
#[derive(Debug, Clone, Default)]
pub struct ReplayBuffer {
    events: VecDeque<(u64, String)>,
    bytes: usize,
    cap: usize,
    last_seq: Option<u64>,
    dropped_upto: Option<u64>,
}

impl ReplayBuffer {
    /// An empty buffer keeping at most `cap_bytes` bytes of messages.
    pub fn new(cap_bytes: usize) -> Self {
        ReplayBuffer {
            cap: cap_bytes,
            ..ReplayBuffer::default()
        }
    }

    /// Records an event just sent on the stream, dropping the oldest ones beyond the cap.
    pub fn push(&mut self, seq: u64, message: String) {
        if self.last_seq.is_some_and(|last| seq <= last) {
            return;
        }
        self.last_seq = Some(seq);
        if message.len() > self.cap {
            self.events.clear();
            self.bytes = 0;
            self.dropped_upto = Some(seq);
            return;
        }
        self.bytes += message.len();
        self.events.push_back((seq, message));
        while self.bytes > self.cap {
            let Some((old, message)) = self.events.pop_front() else {
                break;
            };
            self.bytes -= message.len();
            self.dropped_upto = Some(old);
        }
    }

    /// Every kept event with `seq > last_seen`, oldest first, or `ReplayGap` if one was dropped.
    pub fn replay_after(
        &self,
        last_seen: u64,
    ) -> Result<impl Iterator<Item = (u64, &str)> + '_, ReplayGap> {
        if self.dropped_upto.is_some_and(|dropped| dropped > last_seen) {
            return Err(ReplayGap);
        }
        let first = self.events.partition_point(|(seq, _)| *seq <= last_seen);
        Ok(self
            .events
            .range(first..)
            .map(|(seq, message)| (*seq, message.as_str())))
    }

    #[cfg(any(test, fuzzing))]
    /// The `seq` of the newest event pushed, kept or not.
    pub fn last_seq(&self) -> Option<u64> {
        self.last_seq
    }

    #[cfg(any(test, fuzzing))]
    /// Events kept.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    #[cfg(any(test, fuzzing))]
    /// Whether no event is kept.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    #[cfg(any(test, fuzzing))]
    /// Bytes of the kept messages (never above the cap).
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replay(buffer: &ReplayBuffer, last_seen: u64) -> Result<Vec<(u64, String)>, ReplayGap> {
        buffer
            .replay_after(last_seen)
            .map(|events| events.map(|(seq, m)| (seq, m.to_owned())).collect())
    }

    #[test]
    fn replay_evicts_oldest_by_bytes() {
        let mut buffer = ReplayBuffer::new(10);
        assert_eq!(buffer.last_seq(), None);
        assert_eq!(replay(&buffer, 0), Ok(vec![]));
        for seq in 1..=5 {
            buffer.push(seq, format!("ab{seq}"));
        }
        assert_eq!((buffer.len(), buffer.bytes()), (3, 9));
        assert_eq!(buffer.last_seq(), Some(5));
        for last_seen in 0..=1 {
            assert_eq!(replay(&buffer, last_seen), Err(ReplayGap));
        }
        for last_seen in 2..=7 {
            let expected: Vec<_> = (last_seen + 1..=5).map(|s| (s, format!("ab{s}"))).collect();
            assert_eq!(replay(&buffer, last_seen), Ok(expected));
        }
        assert_eq!(
            ReplayGap.to_string(),
            "events after Last-Event-ID are no longer in the replay buffer"
        );
    }

    #[test]
    fn replay_ignores_non_increasing_seq() {
        let mut buffer = ReplayBuffer::new(100);
        buffer.push(5, "a".into());
        buffer.push(5, "b".into());
        buffer.push(3, "c".into());
        assert_eq!(replay(&buffer, 0), Ok(vec![(5, "a".into())]));
    }

    #[test]
    fn oversize_message_is_a_gap_for_everything_before_it() {
        let mut buffer = ReplayBuffer::new(8);
        buffer.push(1, "one".into());
        buffer.push(2, "two".into());
        buffer.push(3, "much too long".into());
        assert!(buffer.is_empty());
        assert_eq!((buffer.bytes(), buffer.last_seq()), (0, Some(3)));
        for last_seen in 0..3 {
            assert_eq!(replay(&buffer, last_seen), Err(ReplayGap));
        }
        assert_eq!(replay(&buffer, 3), Ok(vec![]));
        buffer.push(4, "four".into());
        assert_eq!(replay(&buffer, 3), Ok(vec![(4, "four".into())]));
        assert_eq!(replay(&buffer, 2), Err(ReplayGap));
    }
}
