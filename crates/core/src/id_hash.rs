//! A fast hasher for maps keyed by ids. Ids are 128 random-ish bits, so one folded multiply per key
//! spreads them well; std's SipHash, built for arbitrary bytes, cost an eighth of a batch's time. The
//! keys are random per process (taken from std's own randomly keyed `RandomState`), so callers who
//! choose their transfer ids cannot aim them at one bucket.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hasher};

/// A `HashMap` keyed by ids.
pub type IdMap<K, V> = HashMap<K, V, IdHashBuilder>;
/// A `HashSet` of ids.
pub type IdSet<K> = HashSet<K, IdHashBuilder>;

/// Builds [`IdHasher`]s with this process's random keys.
#[derive(Clone, Copy, Debug)]
pub struct IdHashBuilder {
    k0: u64,
    k1: u64,
}

impl Default for IdHashBuilder {
    fn default() -> Self {
        use std::sync::OnceLock;
        static KEYS: OnceLock<(u64, u64)> = OnceLock::new();
        let (k0, k1) = *KEYS.get_or_init(|| {
            let random = std::collections::hash_map::RandomState::new();
            (random.hash_one(0x243F_6A88_85A3_08D3u64) | 1, random.hash_one(0x1319_8A2E_0370_7344u64))
        });
        IdHashBuilder { k0, k1 }
    }
}

impl BuildHasher for IdHashBuilder {
    type Hasher = IdHasher;

    fn build_hasher(&self) -> IdHasher {
        IdHasher { k0: self.k0, state: self.k1 }
    }
}

pub struct IdHasher {
    k0: u64,
    state: u64,
}

impl IdHasher {
    #[inline]
    fn mix(&mut self, word: u64) {
        // A folded multiply (as in foldhash): the word joins the keyed running state, and the product
        // with an odd random key is folded to 64 bits.
        let product = ((word ^ self.state) as u128).wrapping_mul(self.k0 as u128);
        self.state = (product as u64) ^ ((product >> 64) as u64);
    }
}

impl Hasher for IdHasher {
    #[inline]
    fn write_u128(&mut self, value: u128) {
        self.mix(value as u64);
        self.mix((value >> 64) as u64);
    }

    #[inline]
    fn write_u64(&mut self, value: u64) {
        self.mix(value);
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(word));
        }
        self.mix(bytes.len() as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_differing_in_one_bit_hash_apart() {
        let builder = IdHashBuilder::default();
        let mut buckets = HashSet::new();
        for bit in 0..128 {
            buckets.insert(builder.hash_one(1u128 << bit) & 0xFFFF);
        }
        // 128 keys into 65,536 buckets: a good hash leaves almost all of them apart.
        assert!(buckets.len() > 120, "{} distinct buckets", buckets.len());
    }

    #[test]
    fn the_same_id_hashes_the_same_within_a_process() {
        let a = IdHashBuilder::default();
        let b = IdHashBuilder::default();
        assert_eq!(a.hash_one(42u128), b.hash_one(42u128));
    }
}
