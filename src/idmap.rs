//! Hash tables keyed by numbers mcpd assigns itself (connection, session, request and stream
//! numbers). A peer cannot choose such keys, so SipHash's flooding resistance buys nothing
//! here, while its cost shows in every request's profile; a multiplicative (Fibonacci) hash of
//! the integer is enough. Tables keyed by what a peer sends (session id strings) keep the
//! standard hasher.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// A map keyed by server-assigned numbers.
pub type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// A set of server-assigned numbers.
pub type IdSet<K> = HashSet<K, BuildHasherDefault<IdHasher>>;

/// Fibonacci hashing of integer keys (Knuth, TAOCP 6.4): multiply by 2^64 / φ.
#[derive(Clone, Copy, Debug, Default)]
pub struct IdHasher(u64);

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not used by integer keys; folds any other input so the type stays a valid Hasher.
        for &b in bytes {
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
}
