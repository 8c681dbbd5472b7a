//! Folding the keys changed since a build into the tables: a new base
//! that serves every map exactly as the snapshot does, with no changed
//! rows left. Changed rows cost memory and a second search per lookup,
//! so past a bound they must go; a build from the entries would do it
//! too, but formats every line and sorts every key again, where a fold
//! copies the arena and the tables and touches only the changed keys.
//!
//! A key a fold removes stays in its table's index and key list, with no
//! value in any column and out of the sorted order: a tombstone, found
//! by a lookup that then answers "no such key", taken again if the key
//! comes back. The bytes a changed value no longer uses stay in the
//! arena; [`Snapshot::stale_bytes`] says how many, and
//! [`Snapshot::mostly_stale`] when the caller should build afresh.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{
    Base, COLUMNS, Edit, MapName, Overlay, Rows, Snapshot, Span, TABLES, Table, map_index,
    table_of, tag_of,
};

/// One changed key of a table: per column, the value its map now has
/// (`Some(None)`: the key is gone from that map), `None` where that
/// column's map did not change it.
type Changed<'a> = [Option<Option<&'a [u8]>>; COLUMNS];

/// Bytes of the old arena copied per [`Fold::step`]: about a
/// millisecond's work, so an answer waits at most that long for a step.
const COPY_PER_STEP: usize = 1 << 20;

/// A fold under way, a step at a time ([`Snapshot::fold`]): the caller
/// answers requests between steps, keeps serving the snapshot it folds
/// and editing it, and hands each edit it makes meanwhile to
/// [`Fold::note`], so that [`Fold::finish`] gives the folded tables with
/// those edits too.
#[derive(Debug)]
pub struct Fold {
    from: Snapshot,
    arena: Vec<u8>,
    /// Bytes of the old arena copied so far.
    copied: usize,
    stale: usize,
    /// The tables folded so far: the users' and groups' first, then the
    /// others in order.
    tables: Vec<Arc<Table>>,
    /// Edits made since the fold began, to make again on its result.
    since: Vec<(Vec<Edit>, u32)>,
    failed: bool,
}

impl Snapshot {
    /// Starts folding the keys changed since the build into the tables
    /// (see [`Fold`] and [`Snapshot::folded`]).
    pub fn fold(&self) -> Fold {
        let added: usize = self
            .overlay
            .maps
            .iter()
            .filter_map(|m| m.0.as_deref())
            .flat_map(Rows::iter)
            .map(|(k, v)| k.len() + v.map_or(0, <[u8]>::len))
            .sum();
        let size = self.base.arena.len().checked_add(added);
        Fold {
            from: self.clone(),
            arena: Vec::with_capacity(size.unwrap_or(0)),
            copied: 0,
            stale: self.base.stale,
            tables: Vec::with_capacity(TABLES + self.base.others.len()),
            since: Vec::new(),
            failed: size.is_none(),
        }
    }

    /// This snapshot with its changed keys moved into the tables: the
    /// same maps, keys, values and ORDER numbers, nothing changed since
    /// the (new) build, so that lookups and further changes cost what
    /// they cost after a build. Costs a copy of the arena and tables and
    /// work per changed key, far less than a build. `None` when the keys
    /// cannot be folded: the arena would outgrow its offsets, ids ran
    /// out, or a key would be in some of a table's maps and not in the
    /// others (changes that no build makes; a build is due then).
    pub fn folded(&self) -> Option<Snapshot> {
        let mut fold = self.fold();
        while !fold.step() {}
        fold.finish()
    }

    /// Bytes of the arena no key or value uses any more since the build
    /// (values folds changed or removed), at most: a value sharing bytes
    /// with another is counted whole.
    pub fn stale_bytes(&self) -> usize {
        self.base.stale
    }

    /// Bytes of the arena, used or not.
    pub fn arena_bytes(&self) -> usize {
        self.base.arena.len()
    }

    /// Whether the arena holds more bytes no key or value uses than used
    /// ones: a fold that leaves it so is not worth its memory, a build
    /// from the entries is due instead.
    pub fn mostly_stale(&self) -> bool {
        self.stale_bytes() > self.arena_bytes() / 2
    }

    /// One table folded: `maps` are the overlay places of its maps and
    /// the column each fills.
    fn fold_table(
        &self,
        old: &Arc<Table>,
        maps: &[(usize, usize)],
        arena: &mut Vec<u8>,
        stale: &mut usize,
    ) -> Option<Arc<Table>> {
        let mut changed: BTreeMap<&[u8], Changed<'_>> = BTreeMap::new();
        for &(slot, col) in maps {
            for (key, value) in self
                .overlay
                .rows(Some(slot))
                .into_iter()
                .flat_map(Rows::iter)
            {
                let cols = changed.entry(key).or_insert([None; COLUMNS]);
                *cols.get_mut(col)? = Some(value);
            }
        }
        if changed.is_empty() {
            return Some(Arc::clone(old));
        }
        let used: Vec<usize> = maps.iter().map(|&(_, col)| col).collect();
        let mut table = Table::clone(old);
        let hasher = &self.base.hasher;
        // Ids leaving and joining the sorted order; the joining in key
        // order, as the changed keys are visited.
        let mut leaving = Vec::new();
        let mut joining = Vec::new();
        for (key, cols) in changed {
            let id = table.find(arena, hasher, key);
            let was = id
                .and_then(|id| table.vals.get(id as usize).copied())
                .unwrap_or([Span::ABSENT; COLUMNS]);
            let mut now = was;
            for (c, value) in cols.iter().enumerate() {
                let Some(value) = value else { continue };
                let old_span = was.get(c).copied().unwrap_or(Span::ABSENT);
                if old_span != Span::ABSENT {
                    *stale += usize::from(old_span.len);
                }
                *now.get_mut(c)? = match value {
                    Some(bytes) => push(arena, bytes)?,
                    None => Span::ABSENT,
                };
            }
            let live = now[0] != Span::ABSENT;
            // A key is in all of its table's maps or in none: `len` and
            // the sorted order are the table's, shared by its maps.
            if used
                .iter()
                .any(|&c| now.get(c).is_some_and(|s| *s != Span::ABSENT) != live)
            {
                return None;
            }
            let was_live = id.is_some() && was[0] != Span::ABSENT;
            let id = match id {
                Some(id) => id,
                None if live => {
                    let id = u32::try_from(table.keys.len())
                        .ok()
                        .filter(|&id| id != u32::MAX)?;
                    let key_span = push(arena, key)?;
                    table.keys.push(key_span);
                    table.vals.push(now);
                    table.index.insert_unique(tag_of(hasher, key), id);
                    id
                }
                None => continue,
            };
            *table.vals.get_mut(id as usize)? = now;
            match (was_live, live) {
                (true, false) => leaving.push(id),
                (false, true) => joining.push(id),
                _ => {}
            }
        }
        if !leaving.is_empty() {
            let mut gone = vec![false; table.keys.len()];
            for &id in &leaving {
                *gone.get_mut(id as usize)? = true;
            }
            table
                .sorted
                .retain(|&id| !gone.get(id as usize).copied().unwrap_or(false));
        }
        if !joining.is_empty() {
            let old_sorted = std::mem::take(&mut table.sorted);
            let mut sorted = Vec::with_capacity(old_sorted.len() + joining.len());
            let key = |id: u32| table.key(arena, id);
            let mut from = 0;
            for id in joining {
                let k = key(id);
                let rest = old_sorted.get(from..).unwrap_or(&[]);
                let at = from + rest.partition_point(|&o| key(o) < k);
                sorted.extend_from_slice(old_sorted.get(from..at).unwrap_or(&[]));
                sorted.push(id);
                from = at;
            }
            sorted.extend_from_slice(old_sorted.get(from..).unwrap_or(&[]));
            table.sorted = sorted;
        }
        Some(Arc::new(table))
    }
}

impl Fold {
    /// One step: a megabyte of the arena copied, or one table folded.
    /// True once nothing is left to do.
    pub fn step(&mut self) -> bool {
        if self.failed {
            return true;
        }
        let old = &self.from.base;
        if self.copied < old.arena.len() {
            let end = old.arena.len().min(self.copied + COPY_PER_STEP);
            self.arena
                .extend_from_slice(old.arena.get(self.copied..end).unwrap_or(&[]));
            self.copied = end;
            return false;
        }
        let t = self.tables.len();
        let folded = if t < TABLES {
            let maps: Vec<(usize, usize)> = MapName::ALL
                .into_iter()
                .filter_map(|m| {
                    let (mt, col) = table_of(m)?;
                    Some((map_index(m)?, col)).filter(|_| mt == t)
                })
                .collect();
            old.tables.get(t).and_then(|table| {
                self.from
                    .fold_table(table, &maps, &mut self.arena, &mut self.stale)
            })
        } else if let Some((_, table)) = old.others.get(t - TABLES) {
            let slot = MapName::ALL.len() + t - TABLES;
            self.from
                .fold_table(table, &[(slot, 0)], &mut self.arena, &mut self.stale)
        } else {
            return true;
        };
        match folded {
            Some(table) => self.tables.push(table),
            None => self.failed = true,
        }
        self.failed || self.tables.len() == TABLES + old.others.len()
    }

    /// Edits made to the snapshot being folded (or to one made from it
    /// by edits) since the fold began, with their ORDER number: made
    /// again on the fold's result.
    pub fn note(&mut self, edits: Vec<Edit>, order: u32) {
        self.since.push((edits, order));
    }

    /// How many batches of edits were noted ([`Self::note`]).
    pub fn noted(&self) -> usize {
        self.since.len()
    }

    /// Whether `snap` is the snapshot being folded or one made from it by
    /// edits (no build since): the one the fold's result can replace.
    pub fn is_of(&self, snap: &Snapshot) -> bool {
        Arc::ptr_eq(&self.from.base, &snap.base)
    }

    /// The folded snapshot, with the edits noted since the fold began;
    /// `None` when it could not be made (see [`Snapshot::folded`]) or
    /// [`Self::step`] has work left.
    pub fn finish(self) -> Option<Snapshot> {
        let old = &self.from.base;
        if self.failed || self.tables.len() != TABLES + old.others.len() {
            return None;
        }
        let mut tables = self.tables.into_iter();
        let users_and_groups: [Arc<Table>; TABLES] =
            std::array::from_fn(|_| tables.next().unwrap_or_default());
        let others = old.others.iter().map(|(m, _)| *m).zip(tables).collect();
        let base = Base {
            arena: self.arena,
            tables: users_and_groups,
            others,
            hasher: old.hasher.clone(),
            domain: old.domain.clone(),
            stale: self.stale,
        };
        let mut snap = Snapshot {
            base: Arc::new(base),
            // Every map keeps its ORDER number: a fold changes no map.
            overlay: Overlay {
                maps: self.from.overlay.maps.iter().map(|m| (None, m.1)).collect(),
            },
            order: self.from.order,
        };
        for (edits, order) in &self.since {
            if let Some(next) = snap.with_edits(edits, *order).ok()? {
                snap = next;
            }
        }
        Some(snap)
    }
}

/// Appends `bytes` to the arena; `None` when its offsets would not reach
/// them.
fn push(arena: &mut Vec<u8>, bytes: &[u8]) -> Option<Span> {
    let off = u32::try_from(arena.len()).ok()?;
    let len = u16::try_from(bytes.len()).ok()?;
    off.checked_add(u32::from(len))
        .filter(|&end| end != u32::MAX)?;
    arena.extend_from_slice(bytes);
    Some(Span { off, len })
}
