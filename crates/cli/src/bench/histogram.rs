//! A latency histogram for `sanhu bench http`: log-bucketed as HdrHistogram is (each power of two split
//! into 128 linear sub-buckets, so any recorded value is known to within 1/128, under 0.8%), in a fixed
//! array of counters, so recording is an index and an increment and histograms of several connections
//! add up exactly. Sixty lines here instead of a dependency and its two of its own.

/// Sub-buckets per power of two: 2^7, so percentiles carry about two significant digits and a half.
const SUB_BUCKET_BITS: u32 = 7;
const SUB_BUCKETS: usize = 1 << SUB_BUCKET_BITS;
/// Values up to 2^40 microseconds (about 12 days) have their own bucket; larger ones count in the last.
const MAGNITUDES: usize = 40 - SUB_BUCKET_BITS as usize + 1;
const BUCKETS: usize = SUB_BUCKETS * (MAGNITUDES + 1);

/// Counts of values (microseconds), by bucket.
#[derive(Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Histogram {
        Histogram { counts: vec![0; BUCKETS], total: 0, max: 0 }
    }
}

impl Histogram {
    /// Values below 128 have a bucket each; above, a value's bucket is its power of two (beyond the
    /// sub-buckets' bits) and its next 7 bits.
    fn bucket_of(value: u64) -> usize {
        if value < SUB_BUCKETS as u64 {
            return value as usize;
        }
        let magnitude = 63 - value.leading_zeros() - SUB_BUCKET_BITS + 1;
        let sub_bucket = (value >> (magnitude - 1)) as usize - SUB_BUCKETS;
        (SUB_BUCKETS * magnitude as usize + sub_bucket).min(BUCKETS - 1)
    }

    /// The highest value a bucket holds (what a percentile reports: never below the true value).
    fn highest_of(bucket: usize) -> u64 {
        if bucket < SUB_BUCKETS {
            return bucket as u64;
        }
        let (magnitude, sub_bucket) = ((bucket / SUB_BUCKETS) as u32, (bucket % SUB_BUCKETS) as u64);
        ((SUB_BUCKETS as u64 + sub_bucket + 1) << (magnitude - 1)) - 1
    }

    pub fn record(&mut self, value: u64) {
        self.counts[Histogram::bucket_of(value)] += 1;
        self.total += 1;
        self.max = self.max.max(value);
    }

    pub fn add(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    /// The value at or below which `quantile` (0 to 1) of the values lie, to within a bucket; 0 when
    /// empty. The top quantile is the largest value recorded, exactly.
    pub fn value_at(&self, quantile: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((quantile.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (bucket, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Histogram::highest_of(bucket).min(self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_lands_in_a_bucket_that_holds_it_within_one_part_in_128() {
        let mut value = 0u64;
        while value < 1 << 40 {
            let bucket = Histogram::bucket_of(value);
            let highest = Histogram::highest_of(bucket);
            let lowest = if bucket == 0 { 0 } else { Histogram::highest_of(bucket - 1) + 1 };
            assert!((lowest..=highest).contains(&value), "{value} in bucket {bucket} [{lowest}, {highest}]");
            assert!(highest - lowest <= value / SUB_BUCKETS as u64, "{value}: bucket [{lowest}, {highest}] too wide");
            value = value * 17 / 16 + 1;
        }
    }

    #[test]
    fn percentiles_of_a_known_spread() {
        let mut histogram = Histogram::default();
        for value in 1..=10_000u64 {
            histogram.record(value);
        }
        let close = |found: u64, wanted: u64| found >= wanted && found - wanted <= wanted / 128;
        assert!(close(histogram.value_at(0.5), 5_000), "p50 {}", histogram.value_at(0.5));
        assert!(close(histogram.value_at(0.99), 9_900), "p99 {}", histogram.value_at(0.99));
        assert!(close(histogram.value_at(0.999), 9_990), "p99.9 {}", histogram.value_at(0.999));
        assert_eq!(histogram.value_at(1.0), 10_000);
        assert_eq!(histogram.value_at(0.0), 1);
        assert_eq!(Histogram::default().value_at(0.5), 0);
    }

    #[test]
    fn histograms_add_up_to_the_histogram_of_all_values() {
        let (mut a, mut b, mut all) = (Histogram::default(), Histogram::default(), Histogram::default());
        for value in 0..5_000u64 {
            let value = value * value;
            if value % 3 == 0 {
                a.record(value);
            } else {
                b.record(value);
            }
            all.record(value);
        }
        a.add(&b);
        assert_eq!(a.count(), all.count());
        for quantile in [0.0, 0.25, 0.5, 0.9, 0.99, 0.999, 1.0] {
            assert_eq!(a.value_at(quantile), all.value_at(quantile), "quantile {quantile}");
        }
    }
}
