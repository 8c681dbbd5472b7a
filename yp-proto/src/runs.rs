//! Sorting a map's keys a bounded amount of work at a time.
//!
//! ypldapd has one thread (its seccomp filter allows no other), so a
//! 100,000-key sort done in one go would stop every YP answer for tens of
//! milliseconds. Instead ids are sorted into short runs as the entries
//! arrive and runs of similar length are merged pairwise; every call to
//! [`RunSorter::work`] does at most the number of steps it is given (one
//! step is about one comparison or one move), and the event loop answers
//! requests between calls. When the last entry has arrived, what is left
//! is a few merges of about twice the map's length in all. Directories
//! tend to return entries in creation order, so keys often arrive nearly
//! sorted: a merge of two runs that do not overlap is a copy.
//!
//! The ids handed to one sorter name distinct keys (the builder's hash
//! index rejects duplicates before), so stability does not matter.

use std::cmp::Ordering;

/// Fresh ids are sorted into a run once this many have arrived.
const RUN_LEN: usize = 64;

/// Ids sorted incrementally; see the module documentation.
#[derive(Debug, Default)]
pub struct RunSorter {
    /// Ids not yet in a run, in arrival order.
    fresh: Vec<u32>,
    /// Sorted runs, in no particular order.
    runs: Vec<Vec<u32>>,
    /// The merge in progress, if any.
    merge: Option<Merge>,
}

#[derive(Debug)]
struct Merge {
    left: Vec<u32>,
    right: Vec<u32>,
    i: usize,
    j: usize,
    out: Vec<u32>,
}

impl Merge {
    fn new(left: Vec<u32>, right: Vec<u32>, cmp: &impl Fn(u32, u32) -> Ordering) -> Merge {
        // Runs that do not overlap: the one with the smaller keys first,
        // and the merge is a copy.
        let (left, right) = match (left.first(), right.last()) {
            (Some(&l), Some(&r)) if cmp(r, l) == Ordering::Less => (right, left),
            _ => (left, right),
        };
        let disjoint = match (left.last(), right.first()) {
            (Some(&l), Some(&r)) => cmp(l, r) == Ordering::Less,
            _ => true,
        };
        let mut out = Vec::with_capacity(left.len() + right.len());
        let (i, j) = if disjoint {
            out.extend_from_slice(&left);
            (left.len(), 0)
        } else {
            (0, 0)
        };
        Merge {
            left,
            right,
            i,
            j,
            out,
        }
    }

    /// Merges up to `budget` ids; returns the steps used.
    fn step(&mut self, budget: usize, cmp: &impl Fn(u32, u32) -> Ordering) -> usize {
        let mut used = 0;
        while used < budget {
            let (Some(&a), Some(&b)) = (self.left.get(self.i), self.right.get(self.j)) else {
                // One side is exhausted: the other's rest is a copy.
                let rest_l = self.left.get(self.i..).unwrap_or(&[]);
                let rest_r = self.right.get(self.j..).unwrap_or(&[]);
                used += (rest_l.len() + rest_r.len()) / 8;
                self.out.extend_from_slice(rest_l);
                self.out.extend_from_slice(rest_r);
                self.i = self.left.len();
                self.j = self.right.len();
                break;
            };
            if cmp(a, b) == Ordering::Greater {
                self.out.push(b);
                self.j += 1;
            } else {
                self.out.push(a);
                self.i += 1;
            }
            used += 1;
        }
        used
    }

    fn is_done(&self) -> bool {
        self.i >= self.left.len() && self.j >= self.right.len()
    }
}

impl RunSorter {
    /// Adds an id; every [`RUN_LEN`] ids are sorted into a run at once
    /// (a few microseconds), the rest waits for [`Self::work`].
    pub fn push(&mut self, id: u32, cmp: &impl Fn(u32, u32) -> Ordering) {
        self.fresh.push(id);
        if self.fresh.len() >= RUN_LEN {
            self.sort_fresh(cmp);
        }
    }

    /// Sorts the fresh ids into a run; returns the steps used.
    fn sort_fresh(&mut self, cmp: &impl Fn(u32, u32) -> Ordering) -> usize {
        let mut run = std::mem::replace(&mut self.fresh, Vec::with_capacity(RUN_LEN));
        run.sort_unstable_by(|&a, &b| cmp(a, b));
        // About n log2 n comparisons for a short run.
        let used = run.len() * 6;
        self.runs.push(run);
        used
    }

    /// Whether every id is in one sorted run.
    pub fn is_sorted(&self) -> bool {
        self.fresh.is_empty() && self.merge.is_none() && self.runs.len() <= 1
    }

    /// Whether [`Self::work`] has something to do: with `finishing`,
    /// anything until sorted; otherwise only a merge of runs of similar
    /// length (fresh ids are sorted into runs by [`Self::push`]).
    pub fn has_work(&self, finishing: bool) -> bool {
        if finishing {
            return !self.is_sorted();
        }
        self.merge.is_some() || self.balanced_pair().is_some()
    }

    /// Sorts and merges for at most about `budget` steps, ordering ids with
    /// `cmp`. With `finishing`, every id has arrived and all runs are merged
    /// into one; otherwise only runs of similar length are, so arrival
    /// costs O(n log n) in all. Returns the steps used.
    pub fn work(
        &mut self,
        budget: usize,
        finishing: bool,
        cmp: &impl Fn(u32, u32) -> Ordering,
    ) -> usize {
        let mut used = 0;
        while used < budget {
            if let Some(m) = self.merge.as_mut() {
                used = used.saturating_add(m.step(budget - used, cmp));
                if m.is_done() {
                    if let Some(m) = self.merge.take() {
                        self.runs.push(m.out);
                    }
                }
                continue;
            }
            if finishing && !self.fresh.is_empty() {
                used = used.saturating_add(self.sort_fresh(cmp));
                continue;
            }
            let pair = if finishing {
                self.two_shortest()
            } else {
                self.balanced_pair()
            };
            let Some((a, b)) = pair else { break };
            // Remove the higher index first so the lower one stays valid.
            let (hi, lo) = if a > b { (a, b) } else { (b, a) };
            let right = self.runs.swap_remove(hi);
            let left = self.runs.swap_remove(lo);
            self.merge = Some(Merge::new(left, right, cmp));
            used += 2;
        }
        used
    }

    /// The sorted ids; call once [`Self::is_sorted`] (anything left is
    /// sorted here first, without a bound).
    pub fn into_sorted(mut self, cmp: &impl Fn(u32, u32) -> Ordering) -> Vec<u32> {
        while !self.is_sorted() {
            self.work(usize::MAX, true, cmp);
        }
        self.runs.pop().unwrap_or_default()
    }

    /// (length, index) of every run, shortest first.
    fn runs_by_length(&self) -> Vec<(usize, usize)> {
        let mut by_len: Vec<(usize, usize)> = self
            .runs
            .iter()
            .enumerate()
            .map(|(i, r)| (r.len(), i))
            .collect();
        by_len.sort_unstable();
        by_len
    }

    /// The two shortest runs.
    fn two_shortest(&self) -> Option<(usize, usize)> {
        match self.runs_by_length().as_slice() {
            [(_, a), (_, b), ..] => Some((*a, *b)),
            _ => None,
        }
    }

    /// Two runs whose lengths differ by at most a factor of two, the
    /// shortest such pair first: merging only those keeps about log2 n
    /// runs and the total work at O(n log n).
    fn balanced_pair(&self) -> Option<(usize, usize)> {
        self.runs_by_length()
            .windows(2)
            .find(|w| matches!(w, [(la, _), (lb, _)] if *lb <= la.saturating_mul(2)))
            .and_then(|w| match w {
                [(_, a), (_, b)] => Some((*a, *b)),
                _ => None,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn by_value(keys: &[u64]) -> impl Fn(u32, u32) -> Ordering + '_ {
        move |a, b| keys[a as usize].cmp(&keys[b as usize])
    }

    #[test]
    fn runs_stay_few_and_work_is_bounded() {
        let n = 100_000u32;
        // Distinct keys in a scrambled order.
        let keys: Vec<u64> = (0..u64::from(n))
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .collect();
        let cmp = by_value(&keys);
        let mut s = RunSorter::default();
        let mut total = 0;
        for id in 0..n {
            s.push(id, &cmp);
            if id % 150 == 0 {
                while s.has_work(false) {
                    let used = s.work(2048, false, &cmp);
                    assert!(used <= 2048 + 2);
                    total += used;
                }
                assert!(s.runs.len() <= 40, "{} runs", s.runs.len());
            }
        }
        // Arrival work stays O(n log n).
        assert!(total < 20 * n as usize, "{total}");
        let mut finish = 0;
        while s.has_work(true) {
            finish += s.work(2048, true, &cmp);
        }
        // What is left at the end is a few passes, not a sort.
        assert!(finish < 4 * n as usize, "{finish}");
        let sorted = s.into_sorted(&cmp);
        assert_eq!(sorted.len(), n as usize);
        assert!(
            sorted
                .windows(2)
                .all(|w| keys[w[0] as usize] < keys[w[1] as usize])
        );
    }

    proptest! {
        #[test]
        fn sorts_whatever_the_budget(
            keys in proptest::collection::hash_set(any::<u64>(), 0..600),
            budget in 1usize..300,
            pause_every in 1usize..200,
        ) {
            let keys: Vec<u64> = keys.into_iter().collect();
            let cmp = by_value(&keys);
            let mut s = RunSorter::default();
            for id in 0..keys.len() {
                s.push(id as u32, &cmp);
                if id % pause_every == 0 {
                    s.work(budget, false, &cmp);
                }
            }
            while s.has_work(true) {
                s.work(budget, true, &cmp);
            }
            prop_assert!(s.is_sorted());
            let got: Vec<u64> = s.into_sorted(&cmp).iter().map(|&i| keys[i as usize]).collect();
            let mut want = keys.clone();
            want.sort_unstable();
            prop_assert_eq!(got, want);
        }
    }
}
