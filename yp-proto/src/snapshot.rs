//! The immutable map snapshot (DESIGN §7): every served map's keys in byte
//! order with their values, shared read-only (`Arc<Snapshot>`) by every
//! request, including ALL streams that outlive a newer snapshot. It is put
//! together by [`SnapshotBuilder`](crate::build::SnapshotBuilder) while an
//! update arrives.
//!
//! Layout: one byte arena holding every line once (a key is a slice of its
//! own line, except netid's) and five keyed tables. A table holds, by id
//! (arrival order), each key and up to two values; the ids in key byte
//! order (FIRST, NEXT, ALL); and a hash index from key to id (MATCH: one
//! probe instead of a binary search). `passwd.*` and `master.passwd.*`
//! have the same keys, so they share a table with two value columns.

use std::cmp::Ordering;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;

use crate::maps::MapName;

mod fold;
pub use fold::Fold;
mod key_index;
mod overlay;
pub(crate) use key_index::KeyIndex;
use overlay::{RowAt, Rows};

/// The slot array index of one of the users' and groups' maps (the order
/// of [`MapName::ALL`]); `None` for the others.
pub fn map_index(m: MapName) -> Option<usize> {
    match m {
        MapName::PasswdByName => Some(0),
        MapName::PasswdByUid => Some(1),
        MapName::MasterPasswdByName => Some(2),
        MapName::MasterPasswdByUid => Some(3),
        MapName::GroupByName => Some(4),
        MapName::GroupByGid => Some(5),
        MapName::NetidByName => Some(6),
        MapName::ShadowByName => Some(7),
        MapName::Other(_) => None,
    }
}

/// The tables: users by name and by uid, groups by name and by gid, netid.
pub(super) const TABLES: usize = 5;
pub(super) const USERS_BY_NAME: usize = 0;
pub(super) const USERS_BY_UID: usize = 1;
pub(super) const GROUPS_BY_NAME: usize = 2;
pub(super) const GROUPS_BY_GID: usize = 3;
pub(super) const NETID: usize = 4;

/// Value columns of the user tables (the others use the first only).
pub(super) const PASSWD: usize = 0;
pub(super) const MASTER: usize = 1;
pub(super) const SHADOW: usize = 2;
pub(super) const COLUMNS: usize = 3;

/// The table and value column that serve one of the users' and groups'
/// maps; `None` for the others, which have a table each.
fn table_of(m: MapName) -> Option<(usize, usize)> {
    Some(match m {
        MapName::PasswdByName => (USERS_BY_NAME, PASSWD),
        MapName::MasterPasswdByName => (USERS_BY_NAME, MASTER),
        MapName::PasswdByUid => (USERS_BY_UID, PASSWD),
        MapName::MasterPasswdByUid => (USERS_BY_UID, MASTER),
        MapName::GroupByName => (GROUPS_BY_NAME, 0),
        MapName::GroupByGid => (GROUPS_BY_GID, 0),
        MapName::NetidByName => (NETID, 0),
        MapName::ShadowByName => (USERS_BY_NAME, SHADOW),
        MapName::Other(_) => return None,
    })
}

/// Where bytes are in the arena.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Span {
    pub off: u32,
    pub len: u16,
}

impl Span {
    /// A value that is not there (a netid line that was too long).
    pub const ABSENT: Span = Span {
        off: u32::MAX,
        len: 0,
    };

    pub fn bytes(self, arena: &[u8]) -> Option<&[u8]> {
        if self == Span::ABSENT {
            return None;
        }
        let off = self.off as usize;
        arena.get(off..off + usize::from(self.len))
    }
}

/// The hash index's tag of a key. The hasher is seeded at random per
/// process, so no directory content can be chosen to make lookups slow.
pub(super) fn tag_of(hasher: &RandomState, key: &[u8]) -> u32 {
    (hasher.hash_one(key) >> 32) as u32
}

/// The full hash the index works with, from a tag: spreads the tag over
/// 64 bits (the index takes its bucket from the low bits and a check byte
/// from the high ones).
pub(super) fn widen(tag: u32) -> u64 {
    u64::from(tag).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// One keyed table; see the module documentation.
#[derive(Debug, Default, Clone)]
pub(super) struct Table {
    pub keys: Vec<Span>,
    pub vals: Vec<[Span; COLUMNS]>,
    pub sorted: Vec<u32>,
    /// Each key's id by the high half of its hash (its tag), so growing
    /// the index never has to hash a key again.
    pub index: KeyIndex,
}

impl Table {
    pub fn key<'a>(&self, arena: &'a [u8], id: u32) -> &'a [u8] {
        self.keys
            .get(id as usize)
            .and_then(|s| s.bytes(arena))
            .unwrap_or(&[])
    }

    /// The id of `key`, if the table has it.
    pub fn find(&self, arena: &[u8], hasher: &RandomState, key: &[u8]) -> Option<u32> {
        self.find_tagged(arena, tag_of(hasher, key), key)
    }

    /// [`Self::find`] with the key's tag already at hand.
    pub fn find_tagged(&self, arena: &[u8], tag: u32, key: &[u8]) -> Option<u32> {
        self.index.find(tag, |id| self.key(arena, id) == key)
    }

    /// Byte order of the keys of two ids.
    pub fn key_order<'a>(&'a self, arena: &'a [u8]) -> impl Fn(u32, u32) -> Ordering + 'a {
        move |a, b| self.key(arena, a).cmp(self.key(arena, b))
    }

    fn value<'a>(&self, arena: &'a [u8], id: u32, col: usize) -> Option<&'a [u8]> {
        self.vals.get(id as usize)?.get(col)?.bytes(arena)
    }

    fn bytes(&self) -> usize {
        self.keys.capacity() * size_of::<Span>()
            + self.vals.capacity() * size_of::<[Span; COLUMNS]>()
            + self.sorted.capacity() * size_of::<u32>()
            + self.index.capacity() * KeyIndex::SLOT_BYTES
    }
}

/// The maps as a build made them: the arena and the tables.
#[derive(Debug)]
pub(super) struct Base {
    pub(super) arena: Vec<u8>,
    /// Shared with the folds of this base that left them unchanged
    /// ([`Snapshot::folded`]).
    pub(super) tables: [Arc<Table>; TABLES],
    /// The other maps (classic, automount, site), one table each, values
    /// in the first column.
    pub(super) others: Vec<(MapName, Arc<Table>)>,
    pub(super) hasher: RandomState,
    pub(super) domain: String,
    /// Bytes of the arena values no longer use, at most (see
    /// [`Snapshot::folded`]): none after a build.
    pub(super) stale: usize,
}

/// The keys and values changed since the build, per map, and each
/// changed map's ORDER number: a change to an entry is served by a new
/// snapshot that shares the build's tables and the unchanged rows
/// ([`Snapshot::with_edits`]), instead of building every map again. A
/// map's place is its [`map_index`] for the users' and groups' maps, and
/// `MapName::ALL.len()` plus its place among the build's other maps for
/// the rest (a short vector, copied with each new snapshot).
#[derive(Debug, Clone, Default)]
struct Overlay {
    maps: Vec<(Option<Arc<Rows>>, Option<u32>)>,
}

impl Overlay {
    fn rows(&self, slot: Option<usize>) -> Option<&Rows> {
        self.maps.get(slot?)?.0.as_deref().filter(|r| r.len() > 0)
    }

    fn order(&self, slot: Option<usize>) -> Option<u32> {
        self.maps.get(slot?)?.1
    }

    fn len(&self) -> usize {
        self.maps
            .iter()
            .filter_map(|m| m.0.as_ref())
            .map(|r| r.len())
            .sum()
    }
}

/// An immutable set of the maps: a build's, with any changes since
/// ([`Snapshot::with_edits`]). A clone shares everything.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub(super) base: Arc<Base>,
    overlay: Overlay,
    /// The build's ORDER number.
    order: u32,
}

/// A map's key as a change leaves it: its value, or `None` when the map
/// does not serve the key any more.
pub type Edit = (MapName, Vec<u8>, Option<Vec<u8>>);

/// Why edits could not be applied to a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditError {
    /// A map this snapshot does not hold (its build had no table for it).
    NotEditable(MapName),
    /// A key or value longer than a YP record may be.
    TooLong { map: MapName, len: usize },
}

/// Where an iteration of a map is: the place in the build's keys and in
/// the changed rows. [`Position::START`] is before the first key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Position {
    base: usize,
    rows: RowAt,
}

impl Position {
    pub const START: Position = Position {
        base: 0,
        rows: RowAt { chunk: 0, row: 0 },
    };
}

impl Snapshot {
    /// The snapshot of a build.
    pub(super) fn from_base(base: Base, order: u32) -> Snapshot {
        Snapshot {
            base: Arc::new(base),
            overlay: Overlay::default(),
            order,
        }
    }

    /// This snapshot with `edits` applied (`(map, key, value)`, a key
    /// removed where the value is `None`), and ORDER number `order` for
    /// the maps they alter; `None` when they alter nothing (every key
    /// already has that value). This one stays as it is for whoever
    /// reads it. Costs about the edits times the logarithm of the keys,
    /// plus copies of the few chunks of changed rows they touch.
    pub fn with_edits(&self, edits: &[Edit], order: u32) -> Result<Option<Snapshot>, EditError> {
        let mut overlay = self.overlay.clone();
        let mut altered = false;
        for (map, key, value) in edits {
            let Some(i) = self.slot(*map) else {
                return Err(EditError::NotEditable(*map));
            };
            for len in [key.len(), value.as_ref().map_or(0, Vec::len)] {
                if len > entry_rules::MAX_LINE {
                    return Err(EditError::TooLong { map: *map, len });
                }
            }
            let now = match overlay.rows(Some(i)).and_then(|r| r.get(key)) {
                Some(row) => row.value.as_deref(),
                None => self.base_get(*map, key),
            };
            if now == value.as_deref() {
                continue;
            }
            let was = isize::from(now.is_some());
            let will = isize::from(value.is_some());
            if overlay.maps.len() <= i {
                overlay.maps.resize(i + 1, (None, None));
            }
            let Some((slot, o)) = overlay.maps.get_mut(i) else {
                continue;
            };
            let rows = Arc::make_mut(slot.get_or_insert_with(Arc::default));
            rows.set(key, value.as_deref());
            rows.len_delta += will - was;
            *o = Some(order);
            altered = true;
        }
        Ok(altered.then(|| Snapshot {
            base: Arc::clone(&self.base),
            overlay,
            order: self.order,
        }))
    }

    /// How many keys were changed since the build (each map counted).
    pub fn changed_values(&self) -> usize {
        self.overlay.len()
    }

    /// The domain the netid keys were built for.
    pub fn domain(&self) -> &str {
        &self.base.domain
    }

    /// The newest ORDER number of its maps: seconds since the epoch when
    /// it was built, or of the last change since (at least one more than
    /// the one before).
    pub fn order(&self) -> u32 {
        self.overlay
            .maps
            .iter()
            .filter_map(|m| m.1)
            .fold(self.order, u32::max)
    }

    /// The ORDER number of `map`: that of the last change that altered
    /// it, else the build's.
    pub fn map_order(&self, map: MapName) -> u32 {
        self.overlay.order(self.slot(map)).unwrap_or(self.order)
    }

    /// Number of keys in a map.
    pub fn len(&self, map: MapName) -> usize {
        let built = self.table(map).0.sorted.len();
        let delta = self.rows(map).map_or(0, |r| r.len_delta);
        built.saturating_add_signed(delta)
    }

    pub fn is_empty(&self, map: MapName) -> bool {
        self.len(map) == 0
    }

    /// Bytes held by the arena and the tables.
    pub fn memory_bytes(&self) -> usize {
        self.base.arena.capacity()
            + self
                .base
                .tables
                .iter()
                .chain(self.base.others.iter().map(|(_, t)| t))
                .map(|t| t.bytes())
                .sum::<usize>()
    }

    /// The maps other than the users' and groups' this snapshot holds.
    pub fn other_maps(&self) -> impl Iterator<Item = MapName> + '_ {
        self.base.others.iter().map(|&(m, _)| m)
    }

    /// Bytes of every map's keys and values, as a client would count them
    /// (`passwd.*` and `master.passwd.*` separately, shared bytes twice).
    pub fn map_bytes(&self) -> usize {
        MapName::ALL
            .into_iter()
            .chain(self.other_maps())
            .map(|m| self.iter(m).map(|(k, v)| k.len() + v.len()).sum::<usize>())
            .sum()
    }

    /// The overlay's place of `map`; `None` for a map this snapshot does
    /// not hold.
    fn slot(&self, map: MapName) -> Option<usize> {
        map_index(map).or_else(|| {
            let j = self.base.others.iter().position(|(m, _)| *m == map)?;
            Some(MapName::ALL.len() + j)
        })
    }

    /// The rows of `map` changed since the build, if any.
    fn rows(&self, map: MapName) -> Option<&Rows> {
        if map_index(map).is_none() && self.overlay.maps.len() <= MapName::ALL.len() {
            // No other map changed: no search of the build's maps.
            return None;
        }
        self.overlay.rows(self.slot(map))
    }

    fn table(&self, map: MapName) -> (&Table, usize) {
        // `table_of` only names existing tables; an empty one is a safe
        // answer all the same (and the answer for a map this snapshot
        // does not hold).
        static EMPTY: Table = Table {
            keys: Vec::new(),
            vals: Vec::new(),
            sorted: Vec::new(),
            index: KeyIndex::EMPTY,
        };
        match table_of(map) {
            Some((t, col)) => (self.base.tables.get(t).map_or(&EMPTY, |t| &**t), col),
            None => (
                self.base
                    .others
                    .iter()
                    .find(|(m, _)| *m == map)
                    .map_or(&EMPTY, |(_, t)| &**t),
                0,
            ),
        }
    }

    /// The build's value of `key` in `map`.
    fn base_get(&self, map: MapName, key: &[u8]) -> Option<&[u8]> {
        let (t, col) = self.table(map);
        let id = t.find(&self.base.arena, &self.base.hasher, key)?;
        t.value(&self.base.arena, id, col)
    }

    /// The first entry at or after `at` in key byte order, and the
    /// position after it: the build's keys merged with the changed rows,
    /// a changed row taking the place of the build's key it names and a
    /// removed key skipped.
    pub fn entry_at(&self, map: MapName, at: Position) -> Option<(&[u8], &[u8], Position)> {
        let (t, col) = self.table(map);
        let arena = &self.base.arena;
        let rows = self.rows(map);
        let mut at = at;
        loop {
            let built = t.sorted.get(at.base).map(|&id| (id, t.key(arena, id)));
            let row = rows.and_then(|r| Some((r, r.at(at.rows)?)));
            let take_row = match (built, row) {
                (None, None) => return None,
                (Some((id, key)), None) => {
                    at.base += 1;
                    match t.value(arena, id, col) {
                        Some(v) => return Some((key, v, at)),
                        None => continue,
                    }
                }
                (None, Some(_)) => true,
                (Some((_, key)), Some((_, r))) => match key.cmp(&r.key) {
                    Ordering::Less => {
                        let (id, key) = built?;
                        at.base += 1;
                        match t.value(arena, id, col) {
                            Some(v) => return Some((key, v, at)),
                            None => continue,
                        }
                    }
                    Ordering::Equal => {
                        at.base += 1;
                        true
                    }
                    Ordering::Greater => true,
                },
            };
            if take_row {
                let (rows, r) = row?;
                at.rows = rows.next(at.rows);
                if let Some(v) = &r.value {
                    return Some((&r.key, v, at));
                }
            }
        }
    }

    /// The `i`-th entry in key byte order (a walk from the first key when
    /// keys changed since the build: tests and small maps only; ALL and
    /// NEXT go by [`Position`]).
    pub fn entry(&self, map: MapName, i: usize) -> Option<(&[u8], &[u8])> {
        if self.rows(map).is_none() {
            let (t, col) = self.table(map);
            let &id = t.sorted.get(i)?;
            return Some((
                t.key(&self.base.arena, id),
                t.value(&self.base.arena, id, col)?,
            ));
        }
        self.iter(map).nth(i)
    }

    /// Reads ahead what looking up `lookups` will read, in stages across
    /// all of them: the index places, then the rows, then the lines. The
    /// loads of one stage do not depend on each other, so the processor
    /// waits for their cache misses together instead of one after the
    /// other, as a lookup (place, row, line: each needs the one before)
    /// does; the lookups that follow find what they need in the cache.
    /// For a batch of UDP requests. Returns a value made of what was read
    /// (so no stage can be left out as unused); it means nothing.
    pub fn warm(&self, lookups: &[(MapName, &[u8])]) -> u64 {
        const MOST: usize = 64;
        let arena = &self.base.arena;
        let mut ids: [Option<(&Table, u32, usize)>; MOST] = [None; MOST];
        for (&(map, key), out) in lookups.iter().zip(ids.iter_mut()) {
            let (t, col) = self.table(map);
            *out = t
                .index
                .first_at(tag_of(&self.base.hasher, key))
                .map(|id| (t, id, col));
        }
        let mut seen = 0u64;
        let mut spans = [(Span::ABSENT, Span::ABSENT); MOST];
        for (&(t, id, col), out) in ids.iter().flatten().zip(spans.iter_mut()) {
            let key = t.keys.get(id as usize).copied().unwrap_or(Span::ABSENT);
            let val = t
                .vals
                .get(id as usize)
                .and_then(|v| v.get(col))
                .copied()
                .unwrap_or(Span::ABSENT);
            *out = (key, val);
        }
        for (key, val) in &spans {
            for s in [key, val] {
                seen =
                    seen.wrapping_add(u64::from(arena.get(s.off as usize).copied().unwrap_or(0)));
            }
        }
        std::hint::black_box(seen)
    }

    /// Exact lookup (one hash probe, and a binary search of the keys
    /// changed since the build if any).
    pub fn get(&self, map: MapName, key: &[u8]) -> Option<&[u8]> {
        if let Some(row) = self.rows(map).and_then(|r| r.get(key)) {
            return row.value.as_deref();
        }
        self.base_get(map, key)
    }

    pub fn first(&self, map: MapName) -> Option<(&[u8], &[u8])> {
        self.entry_at(map, Position::START).map(|(k, v, _)| (k, v))
    }

    /// The position of the first key strictly greater than `key`: where
    /// NEXT continues, whether or not `key` still exists.
    pub fn position_after(&self, map: MapName, key: &[u8]) -> Position {
        let (t, _) = self.table(map);
        let base = t
            .sorted
            .partition_point(|&id| t.key(&self.base.arena, id) <= key);
        let rows = self
            .rows(map)
            .map_or(RowAt::default(), |r| r.seek(key, false));
        Position { base, rows }
    }

    /// The entry after `key` in byte order.
    pub fn next_after(&self, map: MapName, key: &[u8]) -> Option<(&[u8], &[u8])> {
        self.entry_at(map, self.position_after(map, key))
            .map(|(k, v, _)| (k, v))
    }

    /// Every entry of a map in key order.
    pub fn iter(&self, map: MapName) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        let mut at = Some(Position::START);
        std::iter::from_fn(move || {
            let (k, v, next) = self.entry_at(map, at?)?;
            at = Some(next);
            Some((k, v))
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::build::EntryKind;
    pub use crate::testdata::{group, user};
    use entry_rules::{DropReason, MAX_LINE};

    fn s(b: Option<&[u8]>) -> Option<&str> {
        b.map(|b| std::str::from_utf8(b).unwrap())
    }

    #[test]
    fn lines_and_keys() {
        let (snap, rep) = Snapshot::build(
            "dom",
            &[user("alice", 1000, 1000), user("bob", 1001, 100)],
            &[
                group("staff", 20, &["alice", "bob", "ghost"]),
                group("users", 100, &["bob"]),
            ],
            42,
        );
        assert_eq!(rep.users_kept, 2);
        assert_eq!(rep.groups_kept, 2);
        assert_eq!(rep.dropped(), 0);
        assert_eq!(snap.order(), 42);
        assert_eq!(
            s(snap.get(MapName::PasswdByName, b"alice")),
            Some("alice:x:1000:1000:User alice:/home/alice:/bin/sh")
        );
        assert_eq!(
            s(snap.get(MapName::MasterPasswdByUid, b"1000")),
            Some("alice:*:1000:1000::0:0:User alice:/home/alice:/bin/sh")
        );
        assert_eq!(
            s(snap.get(MapName::ShadowByName, b"alice")),
            Some("alice:*:::::::")
        );
        assert_eq!(
            s(snap.get(MapName::GroupByGid, b"20")),
            Some("staff:*:20:alice,bob,ghost")
        );
        assert_eq!(
            s(snap.get(MapName::NetidByName, b"unix.1000@dom")),
            Some("1000:1000,20")
        );
        assert_eq!(
            s(snap.get(MapName::NetidByName, b"unix.1001@dom")),
            Some("1001:100,20")
        );
        let keys = |m| -> Vec<Vec<u8>> { snap.iter(m).map(|(k, _)| k.to_vec()).collect() };
        assert_eq!(keys(MapName::PasswdByUid), [&b"1000"[..], b"1001"]);
        assert_eq!(keys(MapName::MasterPasswdByName), [&b"alice"[..], b"bob"]);
        assert_eq!(keys(MapName::GroupByName), [&b"staff"[..], b"users"]);
        assert_eq!(keys(MapName::GroupByGid), [&b"100"[..], b"20"]);
        assert_eq!(
            keys(MapName::NetidByName),
            [&b"unix.1000@dom"[..], b"unix.1001@dom"]
        );
        assert_eq!(
            snap.next_after(MapName::PasswdByName, b"alice")
                .map(|e| e.0),
            Some(&b"bob"[..])
        );
        assert_eq!(
            snap.next_after(MapName::PasswdByName, b"aaa").map(|e| e.0),
            Some(&b"alice"[..])
        );
        assert_eq!(
            snap.next_after(MapName::PasswdByName, b"b"),
            snap.entry(MapName::PasswdByName, 1)
        );
        assert_eq!(snap.next_after(MapName::PasswdByName, b"bob"), None);
    }

    #[test]
    fn passwords_by_map_and_scheme() {
        use crate::build::{BuildOptions, SnapshotBuilder};
        use entry_rules::{LockReason, Shadow};
        let mut crypt = user("c", 1, 1);
        crypt.passwd = "{CRYPT}$6$salt$hash".into();
        let mut lower = user("l", 2, 1);
        lower.passwd = "{crypt}abcdefghijklm".into();
        let mut ssha = user("s", 3, 1);
        ssha.passwd = "{SSHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=".into();
        let mut clear = user("t", 4, 1);
        clear.passwd = "secret".into();
        let mut empty = user("e", 5, 1);
        empty.passwd = "".into();
        let mut aged = user("a", 6, 1);
        aged.passwd = "$y$j9T$abc$def".into();
        aged.shadow = Shadow {
            lastchange: Some(19_000),
            max: Some(90),
            warning: Some(7),
            expire: Some(20_000),
            ..Shadow::default()
        };
        let mut secs = user("x", 7, 1);
        secs.expire = "1728000000".into();
        let users = [crypt, lower, ssha, clear, empty, aged, secs];
        for expose in [false, true] {
            let mut b = SnapshotBuilder::new(
                "d",
                BuildOptions {
                    expose_hashes: expose,
                    ..BuildOptions::default()
                },
                None,
            );
            b.add_users(&users);
            let (snap, rep) = b.finish();
            let get = |m, k: &[u8]| s(snap.get(m, k)).map(str::to_owned);
            let shown = |h: &str| if expose { h.to_owned() } else { "x".into() };
            assert_eq!(
                get(MapName::PasswdByName, b"c"),
                Some(format!(
                    "c:{}:1:1:User c:/home/c:/bin/sh",
                    shown("$6$salt$hash")
                ))
            );
            assert_eq!(
                get(MapName::MasterPasswdByName, b"c").as_deref(),
                Some("c:$6$salt$hash:1:1::0:0:User c:/home/c:/bin/sh")
            );
            assert_eq!(
                get(MapName::ShadowByName, b"l").as_deref(),
                Some("l:abcdefghijklm:::::::")
            );
            for locked in [&b"s"[..], b"t", b"e"] {
                let line = get(MapName::ShadowByName, locked).expect("kept");
                assert_eq!(line.split(':').nth(1), Some("*"), "{line}");
                let line = get(MapName::MasterPasswdByName, locked).expect("kept");
                assert_eq!(line.split(':').nth(1), Some("*"), "{line}");
            }
            assert_eq!(rep.locked.get(&LockReason::UnsupportedScheme), Some(&1));
            assert_eq!(rep.locked.get(&LockReason::NotAHash), Some(&2));
            assert_eq!(rep.users_kept, users.len());
            // One date, two units: days in shadow, seconds in master.passwd.
            assert_eq!(
                get(MapName::ShadowByName, b"a").as_deref(),
                Some("a:$y$j9T$abc$def:19000::90:7::20000:")
            );
            assert_eq!(
                get(MapName::MasterPasswdByName, b"a").as_deref(),
                Some("a:$y$j9T$abc$def:6:1::1649376000:1728000000:User a:/home/a:/bin/sh")
            );
            assert_eq!(
                get(MapName::ShadowByName, b"x").as_deref(),
                Some("x:*::::::20000:")
            );
        }
    }

    #[test]
    fn duplicates_first_wins() {
        let users = [user("a", 5, 1), user("b", 5, 2), user("a", 6, 3)];
        let groups = [
            group("g", 10, &[]),
            group("h", 10, &[]),
            group("g", 11, &[]),
        ];
        let (snap, rep) = Snapshot::build("d", &users, &groups, 0);
        assert_eq!(rep.drops.get(&DropReason::DuplicateName), Some(&2));
        assert_eq!(rep.shadowed_uids, 1);
        assert_eq!(rep.shadowed_gids, 1);
        assert!(
            s(snap.get(MapName::PasswdByName, b"a"))
                .unwrap()
                .starts_with("a:x:5:1")
        );
        assert!(
            s(snap.get(MapName::PasswdByUid, b"5"))
                .unwrap()
                .starts_with("a:")
        );
        assert_eq!(snap.get(MapName::PasswdByUid, b"6"), None);
        assert_eq!(snap.len(MapName::PasswdByName), 2);
        assert_eq!(s(snap.get(MapName::GroupByGid, b"10")), Some("g:*:10:"));
        assert_eq!(snap.get(MapName::GroupByGid, b"11"), None);
        assert_eq!(s(snap.get(MapName::NetidByName, b"unix.5@d")), Some("5:1"));
        assert_eq!(snap.len(MapName::NetidByName), 1);
    }

    #[test]
    fn every_drop_reason() {
        let mut bad_colon = user("c", 1, 1);
        bad_colon.gecos = "x:y".into();
        let mut bad_nl = user("n", 2, 1);
        bad_nl.home = "/h\n".into();
        let mut bad_nul = user("z", 3, 1);
        bad_nul.shell = "\0".into();
        let mut long = user("l", 4, 1);
        long.gecos = "g".repeat(1000).into();
        let mut fits = user("f", 5, 1);
        // exactly 1023 bytes of 10-field line
        let base = "f:*:5:1::0:0::/home/f:/bin/sh".len();
        fits.gecos = "g".repeat(MAX_LINE - base).into();
        let users = [user("", 9, 9), bad_colon, bad_nl, bad_nul, long, fits];
        let groups = [
            group("", 1, &[]),
            group("g:", 2, &[]),
            group("m", 3, &["a,b"]),
            group("e", 4, &[""]),
            group("big", 5, &[&"u".repeat(1020)]),
        ];
        let (snap, rep) = Snapshot::build("d", &users, &groups, 0);
        assert_eq!(rep.drops.get(&DropReason::EmptyName), Some(&2));
        assert_eq!(rep.drops.get(&DropReason::ForbiddenCharacter), Some(&4));
        assert_eq!(rep.drops.get(&DropReason::BadMember), Some(&2));
        assert_eq!(rep.drops.get(&DropReason::LineTooLong), Some(&2));
        assert_eq!(rep.users_kept, 1);
        assert_eq!(
            snap.get(MapName::MasterPasswdByName, b"f").map(<[u8]>::len),
            Some(MAX_LINE)
        );
        assert_eq!(rep.groups_kept, 0);
        assert_eq!(rep.samples.len(), rep.dropped());
    }

    #[test]
    fn netid_dedup_order_and_overflow() {
        let users = [user("u", 7, 100), user("big", 8, 1)];
        let groups = [
            group("zz", 300, &["u"]),
            group("aa", 200, &["u", "u"]),
            group("mm", 100, &["u"]),
            group("bb", 200, &["u"]),
        ];
        let mut groups = groups.to_vec();
        for i in 0..200 {
            groups.push(group(&format!("x{i:03}"), 100_000 + i, &["big"]));
        }
        let (snap, rep) = Snapshot::build("d", &users, &groups, 0);
        assert_eq!(
            s(snap.get(MapName::NetidByName, b"unix.7@d")),
            Some("7:100,200,300")
        );
        assert_eq!(snap.get(MapName::NetidByName, b"unix.8@d"), None);
        assert!(snap.get(MapName::PasswdByName, b"big").is_some());
        assert_eq!(rep.drops.get(&DropReason::NetidTooLong), Some(&1));
        assert_eq!(rep.netid_entries, 1);
    }

    use proptest::prelude::*;

    fn field() -> impl Strategy<Value = String> {
        proptest::string::string_regex("[a-c:,\n\u{0}é]{0,6}|x{1000,1030}").unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        #[test]
        fn build_checks_everything(
            us in proptest::collection::vec((field(), field(), 0u32..4, 0u32..4), 0..12),
            gs in proptest::collection::vec((field(), 0u32..4, proptest::collection::vec(field(), 0..3)), 0..8),
        ) {
            let users: Vec<_> = us.iter().map(|(n, g, uid, gid)| {
                let mut u = user(n, *uid, *gid);
                u.gecos = g.clone().into();
                u
            }).collect();
            let groups: Vec<_> = gs.iter().map(|(n, gid, m)| {
                group(n, *gid, &m.iter().map(String::as_str).collect::<Vec<_>>())
            }).collect();
            let (snap, rep) = Snapshot::build("d", &users, &groups, 0);
            let netid_drops = rep.drops.get(&DropReason::NetidTooLong).copied().unwrap_or(0);
            let user_drops = rep.samples.iter().filter(|d| d.kind == EntryKind::User && d.reason != DropReason::NetidTooLong).count();
            let group_drops = rep.samples.iter().filter(|d| d.kind == EntryKind::Group).count();
            prop_assert_eq!(rep.users_kept + user_drops, users.len());
            prop_assert_eq!(rep.groups_kept + group_drops, groups.len());
            prop_assert_eq!(snap.len(MapName::PasswdByName), rep.users_kept);
            prop_assert_eq!(snap.len(MapName::MasterPasswdByName), rep.users_kept);
            prop_assert_eq!(snap.len(MapName::GroupByName), rep.groups_kept);
            prop_assert_eq!(snap.len(MapName::GroupByGid) + rep.shadowed_gids, rep.groups_kept);
            prop_assert_eq!(snap.len(MapName::PasswdByUid) + rep.shadowed_uids, rep.users_kept);
            prop_assert_eq!(snap.len(MapName::NetidByName), rep.netid_entries);
            prop_assert_eq!(snap.len(MapName::NetidByName) + netid_drops, snap.len(MapName::PasswdByUid));
            for (map, colons) in [
                (MapName::PasswdByName, 6), (MapName::PasswdByUid, 6),
                (MapName::MasterPasswdByName, 9), (MapName::MasterPasswdByUid, 9),
                (MapName::GroupByName, 3), (MapName::GroupByGid, 3), (MapName::NetidByName, 1),
            ] {
                let mut prev: Option<&[u8]> = None;
                for (k, v) in snap.iter(map) {
                    prop_assert!(!k.is_empty() && k.len() <= 1024);
                    prop_assert!(v.len() <= MAX_LINE);
                    prop_assert!(!v.iter().any(|&b| b == b'\n' || b == 0));
                    prop_assert_eq!(v.iter().filter(|&&b| b == b':').count(), colons);
                    prop_assert!(prev.is_none_or(|p| p < k));
                    prev = Some(k);
                    prop_assert_eq!(snap.get(map, k), Some(v));
                }
            }
        }
    }
}
