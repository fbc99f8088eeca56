//! The per-connection outbound buffer: bytes the socket has not taken yet, up to a byte cap.
//!
//! Past the cap a push fails as a whole ([`Overflow`]) and the caller closes the stream (DESIGN 5:
//! the client resumes from the replay buffer). Memory follows the bytes held, not the cap.

use super::Overflow;

/// Capacity an empty [`OutboundBuffer`] may keep: small events and heartbeats reuse it, while a
/// drained buffer that once held a large burst gives its memory back (DESIGN 8: under 4 KiB per
/// idle session).
const KEEP_CAPACITY: usize = 1024;

/// Bytes of one connection waiting for the socket, bounded by a cap.
///
/// Memory: nothing is allocated until the first push, and the cap is never preallocated. Consumed
/// bytes are dropped by moving the rest to the front once they are at least half of the storage,
/// or before the storage would grow; so storage stays within the cap plus one push. Once fully
/// drained, storage above 1 KiB is freed, so 10,000 idle streams cost almost nothing.
#[derive(Debug, Clone, Default)]
pub struct OutboundBuffer {
    buf: Vec<u8>,
    start: usize,
    cap: usize,
}

impl OutboundBuffer {
    /// An empty buffer that will hold at most `cap` unsent bytes.
    pub fn new(cap: usize) -> Self {
        OutboundBuffer {
            buf: Vec::new(),
            start: 0,
            cap,
        }
    }

    /// Queues `bytes` whole, or nothing at all if they would take the buffer past its cap.
    #[cfg(test)]
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), Overflow> {
        if bytes.len() > self.cap.saturating_sub(self.len()) {
            return Err(Overflow);
        }
        if self.start > 0 && bytes.len() > self.buf.capacity() - self.buf.len() {
            self.compact();
        }
        self.buf.extend_from_slice(bytes);
        Ok(())
    }

    /// Queues what `write` appends, written straight into the storage (no temporary buffer per
    /// answer); all or nothing like [`OutboundBuffer::push`]: past the cap the appended bytes
    /// are taken back. Returns how many bytes were queued.
    pub fn push_with(&mut self, write: impl FnOnce(&mut Vec<u8>)) -> Result<usize, Overflow> {
        if self.start > 0 && self.buf.capacity() - self.buf.len() < self.start {
            // The length is unknown until written. Move the pending bytes only when the spare
            // room is smaller than the sent prefix they would free: a slow reader's next event
            // then costs no copy of everything still waiting (up to the cap) on every push.
            self.compact();
        }
        let before = self.buf.len();
        write(&mut self.buf);
        if self.len() > self.cap {
            self.buf.truncate(before);
            return Err(Overflow);
        }
        Ok(self.buf.len() - before)
    }

    /// The unsent bytes, oldest first, as one slice for a single `write`.
    pub fn pending(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// Drops the first `n` pending bytes (the socket took them); more than `len()` drops all.
    pub fn consume(&mut self, n: usize) {
        self.start += n.min(self.len());
        if self.start == self.buf.len() {
            self.clear();
        } else if self.start >= self.buf.len() - self.start {
            self.compact();
        }
    }

    /// Unsent bytes.
    pub fn len(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Whether nothing waits for the socket.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[cfg(test)]
    /// The most unsent bytes this buffer accepts.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Drops every pending byte and frees storage above 1 KiB.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.start = 0;
        if self.buf.capacity() > KEEP_CAPACITY {
            self.buf = Vec::new();
        }
    }

    /// Moves the pending bytes to the front of the storage.
    fn compact(&mut self) {
        self.buf.drain(..self.start);
        self.start = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sse::HEARTBEAT;
    use crate::timer::tests::XorShift;
    use std::collections::VecDeque;

    #[test]
    fn outbound_push_is_all_or_nothing() {
        let mut buf = OutboundBuffer::new(10);
        assert_eq!(buf.cap(), 10);
        buf.push(b"hello").unwrap();
        assert_eq!(buf.push(b"world!"), Err(Overflow));
        assert_eq!(buf.pending(), b"hello");
        buf.push(b"world").unwrap();
        assert_eq!(buf.push(b""), Ok(()));
        assert_eq!(buf.push(b"!"), Err(Overflow));
        buf.consume(3);
        assert_eq!(buf.pending(), b"loworld");
        buf.push(b"abc").unwrap();
        assert_eq!(buf.pending(), b"loworldabc");
        buf.consume(100);
        assert!(buf.is_empty());
        assert_eq!(Overflow.to_string(), "SSE buffer limit exceeded");
    }

    #[test]
    fn outbound_push_with_is_all_or_nothing() {
        let mut buf = OutboundBuffer::new(10);
        assert_eq!(buf.push_with(|out| out.extend_from_slice(b"hello")), Ok(5));
        assert_eq!(
            buf.push_with(|out| out.extend_from_slice(b"world!")),
            Err(Overflow)
        );
        assert_eq!(buf.pending(), b"hello");
        buf.consume(2);
        assert_eq!(buf.push_with(|_| {}), Ok(0));
        assert_eq!(buf.push_with(|out| out.extend_from_slice(b"world")), Ok(5));
        assert_eq!(buf.pending(), b"lloworld");
        buf.consume(100);
        assert!(buf.is_empty());
    }

    #[test]
    fn a_slow_readers_pushes_keep_order_and_bounded_storage_without_moving_every_time() {
        let cap = 1000;
        let mut buf = OutboundBuffer::new(cap);
        let mut model = std::collections::VecDeque::new();
        for round in 0..2000u32 {
            let event = [(round % 251) as u8; 7];
            if buf.push_with(|out| out.extend_from_slice(&event)).is_ok() {
                model.extend(event);
            }
            // The reader takes a little less than arrives, so the buffer stays near its cap.
            let n = if round % 3 == 0 { 13 } else { 3 };
            buf.consume(n);
            for _ in 0..n.min(model.len()) {
                model.pop_front();
            }
            assert_eq!(buf.pending(), model.iter().copied().collect::<Vec<u8>>());
            assert!(buf.buf.len() <= 2 * cap + event.len());
        }
        assert!(buf.buf.capacity() <= 4 * cap, "{}", buf.buf.capacity());
    }

    #[test]
    fn outbound_matches_vecdeque_model() {
        for seed in 1..=4u64 {
            let mut rng = XorShift(seed * 0x2545_F491_4F6C_DD1D);
            let cap = 1 + rng.below(4096) as usize;
            let mut buf = OutboundBuffer::new(cap);
            let mut model = VecDeque::new();
            let mut next_byte = 0u8;
            for _ in 0..3000 {
                if rng.below(2) == 0 {
                    let n = rng.below(cap as u64 / 2 + 2) as usize;
                    let bytes: Vec<u8> = (0..n)
                        .map(|_| {
                            next_byte = next_byte.wrapping_add(1);
                            next_byte
                        })
                        .collect();
                    let fits = model.len() + n <= cap;
                    assert_eq!(buf.push(&bytes).is_ok(), fits);
                    if fits {
                        model.extend(bytes);
                    }
                } else {
                    let n = rng.below(cap as u64 + 8) as usize;
                    buf.consume(n);
                    model.drain(..n.min(model.len()));
                }
                assert_eq!(buf.len(), model.len());
                assert!(buf.pending().iter().eq(model.iter()));
                assert!(buf.buf.capacity() <= 2 * cap.max(KEEP_CAPACITY));
            }
        }
    }

    #[test]
    fn outbound_releases_capacity_when_drained() {
        let mut buf = OutboundBuffer::new(1 << 20);
        assert_eq!(buf.buf.capacity(), 0, "cap is not preallocated");
        buf.push(&[b'x'; 64 * 1024]).unwrap();
        buf.consume(64 * 1024 - 1);
        assert_eq!(buf.pending(), b"x");
        buf.consume(1);
        assert_eq!(buf.buf.capacity(), 0);
        buf.push(HEARTBEAT).unwrap();
        buf.consume(HEARTBEAT.len());
        assert!(buf.buf.capacity() <= KEEP_CAPACITY, "small storage is kept");
        buf.push(&[b'y'; 4096]).unwrap();
        buf.clear();
        assert!(buf.is_empty());
        assert_eq!(buf.buf.capacity(), 0);
    }
}
