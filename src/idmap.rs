//! Hash tables keyed by numbers mcpd assigns itself (connection, session, request and stream
//! numbers). A peer cannot choose such keys, so SipHash's flooding resistance buys nothing
//! here, while its cost shows in every request's profile; a multiplicative (Fibonacci) hash of
//! the integer is enough.
//!
//! Session ids are strings a peer sends, but only as lookups: every stored id is one mcpd
//! generated (a random UUID), and flooding needs colliding *stored* keys. Probe lengths depend on
//! the stored keys alone, so a peer's crafted id costs one ordinary probe; [`SessionIdMap`] uses
//! the same fast hash, eight bytes a step.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// A map keyed by server-assigned numbers.
pub type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// A set of server-assigned numbers.
pub type IdSet<K> = HashSet<K, BuildHasherDefault<IdHasher>>;

/// A map keyed by session ids mcpd generated (see the module doc for why a fast hash is safe).
pub type SessionIdMap<V> = HashMap<String, V, BuildHasherDefault<IdHasher>>;

/// Fibonacci hashing of integer keys (Knuth, TAOCP 6.4): multiply by 2^64 / φ.
#[derive(Clone, Copy, Debug, Default)]
pub struct IdHasher(u64);

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Strings (session ids): eight bytes a step, then the tail byte by byte.
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            if let Ok(word) = <[u8; 8]>::try_from(word) {
                self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(GOLDEN);
            }
        }
        for &b in words.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(GOLDEN);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(GOLDEN);
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_keys_spread_and_round_trip() {
        let mut map: IdMap<u64, u64> = IdMap::default();
        for n in 0..10_000u64 {
            map.insert(n, n * 2);
        }
        assert!((0..10_000u64).all(|n| map.get(&n) == Some(&(n * 2))));
        let mut top_bits = IdSet::default();
        for n in 0..1024u64 {
            let mut h = IdHasher::default();
            h.write_u64(n);
            top_bits.insert(h.finish() >> 54);
        }
        assert!(
            top_bits.len() > 600,
            "sequential numbers land in many buckets: {}",
            top_bits.len()
        );
    }

    #[test]
    fn session_ids_spread_and_differ_in_their_tails() {
        let mut top_bits = IdSet::default();
        let mut map: SessionIdMap<usize> = SessionIdMap::default();
        for n in 0..1024usize {
            // Ids that share a long prefix and differ only near the end, as prefixed ids do.
            let id = format!("instance-a-0000-0000-0000-{n:012}");
            let mut h = IdHasher::default();
            h.write(id.as_bytes());
            top_bits.insert(h.finish() >> 54);
            map.insert(id, n);
        }
        assert!(
            top_bits.len() > 600,
            "ids land in many buckets: {}",
            top_bits.len()
        );
        assert_eq!(
            map.get("instance-a-0000-0000-0000-000000000513"),
            Some(&513)
        );
        assert_eq!(map.get("instance-a-0000-0000-0000-00000000051"), None);
    }
}
