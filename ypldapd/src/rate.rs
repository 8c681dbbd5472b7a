//! Token buckets: how often something may happen, with a burst. Pure: the
//! caller passes the time. Used for the UDP answers to one source address
//! and for the log records of one helper.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// One bucket: `rate` events per second on average, up to `burst` at once.
#[derive(Debug, Clone)]
pub struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    /// A full bucket.
    pub fn new(rate: u32, burst: u32, now: Instant) -> Bucket {
        let burst = f64::from(burst.max(1));
        Bucket {
            rate: f64::from(rate),
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Takes one token if there is one.
    pub fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Whether the bucket would be full again at `now` (nothing to
    /// remember about it any more).
    fn refilled(&self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens + elapsed * self.rate >= self.burst
    }
}

/// One bucket per key (a source address), in a table of bounded size.
/// When the table is full, keys whose buckets have refilled are forgotten;
/// if none has, a new key is refused until one does, so a flood from
/// many forged addresses costs bounded memory (and an `allow` list keeps
/// the known clients out of it altogether).
#[derive(Debug)]
pub struct KeyedLimiter<K> {
    rate: u32,
    burst: u32,
    cap: usize,
    buckets: HashMap<K, Bucket>,
}

impl<K: Hash + Eq + Copy> KeyedLimiter<K> {
    pub fn new(rate: u32, burst: u32, cap: usize) -> Self {
        KeyedLimiter {
            rate,
            burst,
            cap: cap.max(1),
            buckets: HashMap::new(),
        }
    }

    /// Whether `key` may have one more event at `now`.
    pub fn allow(&mut self, key: K, now: Instant) -> bool {
        if let Some(b) = self.buckets.get_mut(&key) {
            return b.take(now);
        }
        if self.buckets.len() >= self.cap {
            self.buckets.retain(|_, b| !b.refilled(now));
            if self.buckets.len() >= self.cap {
                return false;
            }
        }
        let mut b = Bucket::new(self.rate, self.burst, now);
        let ok = b.take(now);
        self.buckets.insert(key, b);
        ok
    }

    /// Keys remembered now.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

/// Counts what a limiter refused, to be said at most once per `every`.
#[derive(Debug, Clone)]
pub struct Suppressed {
    every: Duration,
    count: u64,
    next_report: Option<Instant>,
}

impl Suppressed {
    pub fn new(every: Duration) -> Self {
        Suppressed {
            every,
            count: 0,
            next_report: None,
        }
    }

    /// Notes one refusal. Returns how many to report now, when it is time.
    pub fn note(&mut self, now: Instant) -> Option<u64> {
        self.count += 1;
        self.due(now)
    }

    /// How many to report now, if any were refused and it is time.
    pub fn due(&mut self, now: Instant) -> Option<u64> {
        if self.count == 0 || self.next_report.is_some_and(|t| now < t) {
            return None;
        }
        self.next_report = Some(now + self.every);
        Some(std::mem::take(&mut self.count))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_passes_its_burst_then_its_rate() {
        let t0 = Instant::now();
        let mut b = Bucket::new(10, 5, t0);
        assert_eq!((0..20).filter(|_| b.take(t0)).count(), 5);
        // One second later: ten more (the burst caps the refill at five).
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!((0..20).filter(|_| b.take(t1)).count(), 5);
        let t2 = t1 + Duration::from_millis(300);
        assert_eq!((0..20).filter(|_| b.take(t2)).count(), 3);
    }

    #[test]
    fn keys_are_limited_apart_and_the_table_is_bounded() {
        let t0 = Instant::now();
        let mut l = KeyedLimiter::new(1, 2, 3);
        assert!(l.allow(1, t0) && l.allow(1, t0) && !l.allow(1, t0));
        assert!(l.allow(2, t0) && l.allow(3, t0));
        // Full, and nobody refilled: a fourth key waits.
        assert!(!l.allow(4, t0));
        assert_eq!(l.len(), 3);
        // Two seconds on, every bucket is full again and forgotten.
        let t1 = t0 + Duration::from_secs(2);
        assert!(l.allow(4, t1));
        assert_eq!(l.len(), 1);
    }

    #[test]
    fn suppressed_counts_are_reported_once_per_period() {
        let t0 = Instant::now();
        let mut s = Suppressed::new(Duration::from_secs(1));
        assert_eq!(s.note(t0), Some(1));
        assert_eq!(s.note(t0), None);
        assert_eq!(s.note(t0 + Duration::from_millis(500)), None);
        assert_eq!(s.due(t0 + Duration::from_secs(1)), Some(2));
        assert_eq!(s.due(t0 + Duration::from_secs(3)), None);
    }
}
