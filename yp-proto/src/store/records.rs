//! A change to one record (hosts, services, netgroups, automount, site
//! maps, …) applied to the served maps without building them again
//! (DESIGN §14).
//!
//! A build puts each record's keys in store order (directories in
//! configuration order, each one's records in order) and a key goes to
//! the first record that gives it; then the netgroup reverse maps get the
//! keys no record gave, and `mail.aliases` its `@` key. So a change to
//! record `E` can alter only the keys `E` gave before and gives after:
//! each one's value is that of the first record now giving it, found
//! through [`RecordIndex`] (records by the hash of each map and key they
//! give), so the work is about the record, not the directory.
//!
//! A change to a netgroup may alter its own `netgroup` line and the
//! reverse lines of every user and host reachable through it and through
//! the netgroups that include it: [`ReverseIndex`] expands again the
//! netgroups above it and works out the lines of the keys they reached
//! or reach. That costs about those netgroups and what they reach, never
//! the other entries.

use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasher, Hash, Hasher, RandomState};
use std::sync::Arc;

use entry_rules::records::{Out, Record};

use super::places::{Places, add, drop_place};
use super::reverse::ReverseIndex;
use super::{DirectoryEntries, EntryStore, Search};
use crate::build::RecordPlan;
use crate::maps::MapName;
use crate::snapshot::Edit;

/// A record's place in the store: directory in the high half, place in
/// its directory's records in the low half, so that the numbers sort in
/// store order.
type Loc = u64;

fn loc(directory: usize, place: usize) -> Loc {
    ((directory as u64) << 32) | place as u64
}

fn unloc(l: Loc) -> (usize, usize) {
    ((l >> 32) as usize, (l & 0xffff_ffff) as usize)
}

/// The maps and keys a record gives, each with its value.
type PlacedKeys = Vec<(MapName, String, String)>;

/// A netgroup's name and `netgroup` value.
type NetgroupLine = (String, String);

/// Places in store order.
type Locs = Places<Loc>;

/// The records of every directory by the maps and keys they give, and
/// the netgroups; see the module documentation. Valid for one plan and
/// domain, and for the places the records had when it was made: a
/// change made to the store another way, or a compaction, makes it stale
/// (it is made again, once, by the next record change).
#[derive(Debug)]
pub(super) struct RecordIndex {
    plan: Arc<RecordPlan>,
    domain: String,
    /// Each directory's compactions when this was made.
    compactions: Vec<u64>,
    hasher: RandomState,
    keys: HashMap<u64, Locs>,
    /// The netgroups, for the reverse maps (kept only when the plan
    /// serves one).
    netgroups: ReverseIndex,
    reverse_maps: [Option<MapName>; 2],
    aliases: Option<MapName>,
    out: Out,
}

impl RecordIndex {
    fn new(store: &EntryStore, plan: &Arc<RecordPlan>, domain: &str) -> RecordIndex {
        let aliases = "mail.aliases"
            .parse::<MapName>()
            .ok()
            .filter(|m| plan.maps().contains(m));
        let mut index = RecordIndex {
            plan: Arc::clone(plan),
            domain: domain.to_owned(),
            compactions: store.directories.iter().map(|d| d.compactions).collect(),
            hasher: RandomState::new(),
            keys: HashMap::new(),
            netgroups: ReverseIndex::default(),
            reverse_maps: plan.reverse_maps(),
            aliases,
            out: Out::default(),
        };
        for (di, d) in store.directories.iter().enumerate() {
            for (p, r) in d.records.iter().enumerate() {
                if let Some(r) = r {
                    index.add(loc(di, p), r);
                }
            }
        }
        index.netgroups.expand_all();
        index
    }

    /// Whether this index describes `store` for `plan` and `domain`.
    fn fits(&self, store: &EntryStore, plan: &RecordPlan, domain: &str) -> bool {
        *self.plan == *plan
            && self.domain == domain
            && self.compactions.len() == store.directories.len()
            && store
                .directories
                .iter()
                .zip(&self.compactions)
                .all(|(d, &c)| d.compactions == c)
    }

    fn hash(&self, map: MapName, key: &str) -> u64 {
        let mut h = self.hasher.build_hasher();
        map.as_str().hash(&mut h);
        key.hash(&mut h);
        h.finish()
    }

    /// What record `r` puts into the maps (see [`RecordPlan::placed`]).
    fn placed(&mut self, r: &Record<'_>) -> Option<(PlacedKeys, Option<NetgroupLine>)> {
        let p = self.plan.placed(r, &self.domain, &mut self.out)?;
        Some((p.keys, p.netgroup))
    }

    /// Whether the reverse maps are served (the netgroups are kept).
    fn reverse_served(&self) -> bool {
        self.reverse_maps.iter().any(Option::is_some)
    }

    /// Notes record `r` at `at`; returns its netgroup name if it is a
    /// netgroup whose reverse keys need working out.
    fn add(&mut self, at: Loc, r: &Record<'_>) -> Option<String> {
        let (keys, netgroup) = self.placed(r)?;
        for (map, key, _) in &keys {
            let h = self.hash(*map, key);
            add(&mut self.keys, h, at);
        }
        let (name, value) = netgroup.filter(|_| self.reverse_served())?;
        self.netgroups.insert(at, &name, &value);
        Some(name)
    }

    /// Forgets record `r` at `at`; returns its netgroup name if it was
    /// a netgroup kept for the reverse maps.
    fn remove(&mut self, at: Loc, r: &Record<'_>) -> Option<String> {
        if let Some((keys, _)) = self.placed(r) {
            for (map, key, _) in &keys {
                let h = self.hash(*map, key);
                drop_place(&mut self.keys, &h, at);
            }
        }
        self.netgroups.remove(at)
    }

    /// Reverse keys by map number (0: by user, 1: by host), with the map
    /// each number is served as; a map not served is left out.
    fn reverse_keys(
        &self,
        changed: Vec<(usize, String)>,
    ) -> impl Iterator<Item = (MapName, String)> + '_ {
        changed.into_iter().filter_map(|(i, k)| {
            let map = self.reverse_maps.get(i).copied().flatten()?;
            Some((map, k))
        })
    }

    /// The value `map` serves for `key`: the first record's that gives
    /// it, else a reverse line or the `@` of `mail.aliases`.
    fn value(&mut self, store: &EntryStore, map: MapName, key: &str) -> Option<String> {
        let h = self.hash(map, key);
        let candidates: Vec<Loc> = self
            .keys
            .get(&h)
            .map(|l| l.as_slice().to_vec())
            .unwrap_or_default();
        for at in candidates {
            let (di, p) = unloc(at);
            let Some(Some(r)) = store.directories.get(di).and_then(|d| d.records.get(p)) else {
                continue;
            };
            let Some((keys, _)) = self.placed(r) else {
                continue;
            };
            // Another map and key with the same hash is skipped.
            if let Some((_, _, v)) = keys.into_iter().find(|(m, k, _)| *m == map && k == key) {
                return Some(v);
            }
        }
        if let Some(i) = self.reverse_maps.iter().position(|m| *m == Some(map)) {
            if let Some(v) = self.netgroups.line(i, key) {
                return Some(v);
            }
        }
        (Some(map) == self.aliases && key == "@").then(|| "@".to_owned())
    }
}

impl EntryStore {
    /// Makes the index of the records for `plan` and `domain`, unless it
    /// is current: after an update, so that the first record change does
    /// not pay for it.
    pub fn prepare_records(&mut self, plan: &Arc<RecordPlan>, domain: &str) {
        if !self
            .records_index
            .as_ref()
            .is_some_and(|i| i.fits(self, plan, domain))
        {
            self.records_index = Some(RecordIndex::new(self, plan, domain));
        }
    }

    /// Applies a record put in place (`new`) or removed (`removed`: its
    /// search and entryUUID) to directory `directory`'s entries, and
    /// returns the edits of the maps it alters (none for a record sent
    /// again as the store holds it).
    pub(super) fn quick_record(
        &mut self,
        directory: usize,
        new: Option<Record<'static>>,
        removed: Option<(u16, String)>,
        plan: &Arc<RecordPlan>,
        domain: &str,
    ) -> Vec<Edit> {
        let (search, uuid) = match (&new, &removed) {
            (Some(r), _) => (r.search, Some(r.origin.key().to_owned())),
            (None, Some((s, u))) => (*s, Some(u.clone())),
            (None, None) => return Vec::new(),
        };
        let old = self
            .current(
                directory,
                Search::Records(search),
                uuid.as_deref(),
                |d: &DirectoryEntries| &d.records,
            )
            .cloned();
        if old.is_some() && old == new {
            return Vec::new();
        }
        self.prepare_records(plan, domain);
        let Some(mut index) = self.records_index.take() else {
            return Vec::new();
        };
        let old_at = uuid.as_ref().and_then(|u| {
            let d = self.directories.get(directory)?;
            let &at = d.index.get(&(Search::Records(search), u.clone()))?;
            Some(loc(directory, at))
        });
        let mut affected: BTreeSet<(MapName, String)> = BTreeSet::new();
        let mut names: Vec<String> = Vec::new();
        if let (Some(at), Some(r)) = (old_at, &old) {
            if let Some((keys, _)) = index.placed(r) {
                affected.extend(keys.into_iter().map(|(m, k, _)| (m, k)));
            }
            names.extend(index.remove(at, r));
        }
        let d = self.dir_mut(directory);
        let compactions = d.compactions;
        match (new, removed) {
            (Some(r), _) => {
                d.upsert_record(r);
            }
            (None, Some((s, u))) => {
                d.remove(Search::Records(s), &u);
            }
            (None, None) => {}
        }
        let placed_new = self.directories.get(directory).and_then(|d| {
            // Without an entryUUID a record goes last.
            let at = match &uuid {
                Some(u) => *d.index.get(&(Search::Records(search), u.clone()))?,
                None => d.records.len().checked_sub(1)?,
            };
            Some((loc(directory, at), d.records.get(at)?.as_ref()?.clone()))
        });
        let compacted = self
            .directories
            .get(directory)
            .is_some_and(|d| d.compactions != compactions);
        if compacted {
            // Places moved: the index is made again from the store, and
            // every reverse key it had or has is worked out again.
            let was = index.netgroups.keys();
            index = RecordIndex::new(self, plan, domain);
            let now = index.netgroups.keys();
            affected.extend(index.reverse_keys(was));
            affected.extend(index.reverse_keys(now));
            if let Some((_, r)) = &placed_new {
                if let Some((keys, _)) = index.placed(r) {
                    affected.extend(keys.into_iter().map(|(m, k, _)| (m, k)));
                }
            }
        } else {
            let mut places: Vec<Loc> = old_at.into_iter().collect();
            if let Some((at, r)) = &placed_new {
                names.extend(index.add(*at, r));
                places.push(*at);
                if let Some((keys, _)) = index.placed(r) {
                    affected.extend(keys.into_iter().map(|(m, k, _)| (m, k)));
                }
            }
            if !names.is_empty() {
                let mut changed = Vec::new();
                index.netgroups.update(&names, &places, &mut changed);
                affected.extend(index.reverse_keys(changed));
            }
        }
        let edits = affected
            .into_iter()
            .map(|(map, key)| {
                let value = index.value(self, map, &key).map(String::into_bytes);
                (map, key.into_bytes(), value)
            })
            .collect();
        self.records_index = Some(index);
        edits
    }
}
