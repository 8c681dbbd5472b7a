//! The netgroup reverse maps kept current one netgroup at a time.
//!
//! A build expands every netgroup that serves its name (the first of the
//! name, the *root*), following member netgroups by name (each once, so
//! a cycle ends), and keys each `user.domain` and `host.domain` reached
//! to the roots that reach it, in store order. A change to netgroup `X`
//! can alter only what the roots that reach `X`'s names (before or after)
//! reach: those are found from `X`'s names through the netgroups naming
//! them as members, and so on up; each of them is expanded again and
//! the keys it reached or reaches are worked out again. The work is about
//! the netgroups above `X` and what they reach, not every netgroup.

use std::collections::{BTreeSet, HashMap, HashSet};

use entry_rules::MAX_LINE;

use crate::build::RecordPlan;

/// A netgroup record's place in the store (see `records::Loc`).
type Loc = u64;

/// The netgroups a build keeps and what each root reaches.
#[derive(Debug, Default)]
pub(super) struct ReverseIndex {
    /// Name and value of every netgroup a build keeps.
    lines: HashMap<Loc, (String, String)>,
    /// Netgroups by name, in store order (the first is the root).
    by_name: HashMap<String, BTreeSet<Loc>>,
    /// Netgroups by the member names their values list.
    by_member: HashMap<String, BTreeSet<Loc>>,
    /// Per root: the keys it reaches, by map (0: by user, 1: by host).
    reach: HashMap<Loc, [Vec<String>; 2]>,
    /// Per map and key: the roots that reach it.
    roots: [HashMap<String, BTreeSet<Loc>>; 2],
}

impl ReverseIndex {
    /// Notes netgroup `name` with `value` at `at`, without expanding.
    pub(super) fn insert(&mut self, at: Loc, name: &str, value: &str) {
        self.by_name.entry(name.to_owned()).or_default().insert(at);
        for m in RecordPlan::netgroup_parts(value).1 {
            self.by_member.entry(m.to_owned()).or_default().insert(at);
        }
        self.lines.insert(at, (name.to_owned(), value.to_owned()));
    }

    /// Forgets the netgroup at `at`, without expanding; returns its name.
    pub(super) fn remove(&mut self, at: Loc) -> Option<String> {
        let (name, value) = self.lines.remove(&at)?;
        drop_loc(&mut self.by_name, &name, at);
        for m in RecordPlan::netgroup_parts(&value).1 {
            drop_loc(&mut self.by_member, m, at);
        }
        Some(name)
    }

    /// Expands every root (a new index).
    pub(super) fn expand_all(&mut self) {
        let roots: Vec<Loc> = self.lines.keys().copied().collect();
        for r in roots {
            self.expand(r, &mut Vec::new());
        }
    }

    /// Expands again the roots above the netgroups named `names` (and
    /// the netgroups at `places`), after a change; the keys whose roots
    /// changed are added to `changed`, by map.
    pub(super) fn update(
        &mut self,
        names: &[String],
        places: &[Loc],
        changed: &mut Vec<(usize, String)>,
    ) {
        let mut seen: HashSet<&str> = HashSet::new();
        let mut todo: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut affected: BTreeSet<Loc> = places.iter().copied().collect();
        while let Some(n) = todo.pop() {
            if !seen.insert(n) {
                continue;
            }
            affected.extend(self.by_name.get(n).into_iter().flatten());
            for at in self.by_member.get(n).into_iter().flatten() {
                if let Some((name, _)) = self.lines.get(at) {
                    todo.push(name);
                }
            }
        }
        for r in affected {
            self.expand(r, changed);
        }
    }

    /// Works out again what `r` reaches (nothing when it is no root, or
    /// gone); the keys that gain or lose it go to `changed`.
    fn expand(&mut self, r: Loc, changed: &mut Vec<(usize, String)>) {
        if let Some(old) = self.reach.remove(&r) {
            for (map, keys) in old.into_iter().enumerate() {
                for k in keys {
                    if let Some(roots) = self.roots.get_mut(map) {
                        drop_loc(roots, &k, r);
                    }
                    changed.push((map, k));
                }
            }
        }
        let root = self
            .lines
            .get(&r)
            .is_some_and(|(name, _)| self.first(name) == Some(r));
        if !root {
            return;
        }
        let mut reach: [Vec<String>; 2] = Default::default();
        let mut found: [HashSet<String>; 2] = Default::default();
        let mut visited: HashSet<Loc> = HashSet::from([r]);
        let mut stack = vec![r];
        while let Some(g) = stack.pop() {
            let Some((_, value)) = self.lines.get(&g) else {
                continue;
            };
            let (keys, members) = RecordPlan::netgroup_parts(value);
            for (map, k) in keys {
                if let (Some(f), Some(out)) = (found.get_mut(map), reach.get_mut(map)) {
                    if f.insert(k.clone()) {
                        out.push(k);
                    }
                }
            }
            // A name no netgroup has is skipped, as revnetgroup does.
            for m in members {
                if let Some(at) = self.first(m) {
                    if visited.insert(at) {
                        stack.push(at);
                    }
                }
            }
        }
        for (map, keys) in reach.iter().enumerate() {
            for k in keys {
                if let Some(roots) = self.roots.get_mut(map) {
                    roots.entry(k.clone()).or_default().insert(r);
                }
                changed.push((map, k.clone()));
            }
        }
        self.reach.insert(r, reach);
    }

    /// Every reverse key, by map.
    pub(super) fn keys(&self) -> Vec<(usize, String)> {
        self.roots
            .iter()
            .enumerate()
            .flat_map(|(i, r)| r.keys().map(move |k| (i, k.clone())))
            .collect()
    }

    /// The root of `name`.
    fn first(&self, name: &str) -> Option<Loc> {
        self.by_name.get(name)?.first().copied()
    }

    /// The line of `key` in reverse map `map`: the names of the roots that
    /// reach it, in store order; `None` when none does or the line would
    /// be too long (a build drops it).
    pub(super) fn line(&self, map: usize, key: &str) -> Option<String> {
        let roots = self.roots.get(map)?.get(key)?;
        let mut line = String::new();
        for r in roots {
            let (name, _) = self.lines.get(r)?;
            if !line.is_empty() {
                line.push(',');
            }
            line.push_str(name);
        }
        (!roots.is_empty() && line.len() <= MAX_LINE).then_some(line)
    }
}

fn drop_loc(map: &mut HashMap<String, BTreeSet<Loc>>, key: &str, at: Loc) {
    if let Some(set) = map.get_mut(key) {
        set.remove(&at);
        if set.is_empty() {
            map.remove(key);
        }
    }
}
