//! YP requests counted by procedure and transport, since the start and
//! over the last minute (`ypldapctl show clients`, `show metrics`). Pure:
//! the caller passes the time. Counting costs one array index per
//! request; the minute is kept as one bucket per second, reused as the
//! seconds come round, so nothing needs a timer.

use std::time::Instant;

use ctl_proto::{Procedure, RATE_WINDOW_SECONDS};

const PROCEDURES: usize = Procedure::ALL.len();
const WINDOW: usize = RATE_WINDOW_SECONDS as usize;

/// One second's requests.
#[derive(Debug, Clone, Copy)]
struct Second {
    /// Seconds since the counters started.
    at: u64,
    counts: [u64; PROCEDURES],
}

/// Requests by procedure: totals per transport, and per second over the
/// last [`RATE_WINDOW_SECONDS`].
#[derive(Debug, Clone)]
pub struct RequestCounters {
    origin: Instant,
    /// `[procedure][0 = UDP, 1 = TCP]`.
    totals: [[u64; 2]; PROCEDURES],
    seconds: [Second; WINDOW],
}

impl RequestCounters {
    pub fn new(now: Instant) -> Self {
        RequestCounters {
            origin: now,
            totals: [[0; 2]; PROCEDURES],
            // No second is `u64::MAX`: every bucket starts stale.
            seconds: [Second {
                at: u64::MAX,
                counts: [0; PROCEDURES],
            }; WINDOW],
        }
    }

    fn second(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.origin).as_secs()
    }

    /// Counts one request of `procedure`.
    pub fn note(&mut self, procedure: Procedure, tcp: bool, now: Instant) {
        let p = procedure.index();
        self.totals[p][usize::from(tcp)] += 1;
        let at = self.second(now);
        let bucket = &mut self.seconds[(at % WINDOW as u64) as usize];
        if bucket.at != at {
            *bucket = Second {
                at,
                counts: [0; PROCEDURES],
            };
        }
        bucket.counts[p] += 1;
    }

    /// Requests of `procedure` since the start: (UDP, TCP).
    pub fn total(&self, procedure: Procedure) -> (u64, u64) {
        let [udp, tcp] = self.totals[procedure.index()];
        (udp, tcp)
    }

    /// Requests of `procedure` over the last [`Self::window`] seconds
    /// (this second included).
    pub fn recent(&self, procedure: Procedure, now: Instant) -> u64 {
        let now = self.second(now);
        self.seconds
            .iter()
            .filter(|s| s.at <= now && now - s.at < WINDOW as u64)
            .map(|s| s.counts[procedure.index()])
            .sum()
    }

    /// How many seconds [`Self::recent`] covers: the window, or less just
    /// after the start.
    pub fn window(&self, now: Instant) -> u32 {
        u32::try_from(self.second(now) + 1)
            .unwrap_or(RATE_WINDOW_SECONDS)
            .min(RATE_WINDOW_SECONDS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn totals_and_the_last_minute() {
        let t0 = Instant::now();
        let mut c = RequestCounters::new(t0);
        let at = |s: u64| t0 + Duration::from_millis(s * 1000 + 500);
        c.note(Procedure::Match, false, at(0));
        c.note(Procedure::Match, true, at(0));
        c.note(Procedure::All, true, at(1));
        assert_eq!(c.total(Procedure::Match), (1, 1));
        assert_eq!(c.total(Procedure::All), (0, 1));
        assert_eq!(c.total(Procedure::Null), (0, 0));
        assert_eq!(c.recent(Procedure::Match, at(1)), 2);
        assert_eq!(c.window(at(1)), 2);
        // 59 s later the first second is still in the window, 60 s later not.
        assert_eq!(c.recent(Procedure::Match, at(59)), 2);
        assert_eq!(c.recent(Procedure::Match, at(60)), 0);
        assert_eq!(c.recent(Procedure::All, at(60)), 1);
        assert_eq!(c.window(at(600)), RATE_WINDOW_SECONDS);
        // A bucket reused a minute later starts from zero.
        c.note(Procedure::Match, false, at(60));
        assert_eq!(c.recent(Procedure::Match, at(60)), 1);
        assert_eq!(c.total(Procedure::Match), (2, 1));
    }

    #[test]
    fn many_requests_in_one_second() {
        let t0 = Instant::now();
        let mut c = RequestCounters::new(t0);
        for _ in 0..1000 {
            c.note(Procedure::Next, false, t0);
        }
        assert_eq!(c.recent(Procedure::Next, t0), 1000);
        assert_eq!(c.recent(Procedure::Next, t0 + Duration::from_secs(120)), 0);
    }
}
