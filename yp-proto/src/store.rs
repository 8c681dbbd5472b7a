//! Every directory's entries, as ypldapd keeps them while content
//! synchronization (RFC 4533) keeps some directory current: a change a
//! session pushes replaces, adds or removes one entry here, and the maps
//! are built again from all of them (DESIGN §14).
//!
//! Entries keep their place: one that is modified stays where it was first
//! read, one that is added goes last, as a directory returns them (in the
//! order it created them), so that "the first entry of a name wins" means
//! the same after any sequence of changes as after a full read. An entry
//! is known by the search that found it and its entryUUID, or, read in
//! full, its DN ([`entry_rules::Origin::key`]): one directory entry that
//! two searches find (a user private group that is both a `posixAccount`
//! and a `posixGroup`) is two entries here, as in the maps.
//!
//! A directory read in full again while its entries are kept is compared
//! with them ([`Reread`]): only the entries that differ, and the removal
//! of those the read did not return, are changes.

use std::collections::HashMap;

use entry_rules::records::Record;
use entry_rules::{Group, User};

use crate::build::SnapshotBuilder;

mod lookup;
mod nested;
mod places;
mod quick;
mod records;
mod reverse;
use lookup::Lookup;
use nested::MemberIndex;
pub use quick::EntryChange;
use records::RecordIndex;

/// Which search of a directory an entry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Search {
    Users,
    Groups,
    /// A record search, by id.
    Records(u16),
}

/// One directory's entries.
#[derive(Debug, Default)]
pub struct DirectoryEntries {
    users: Vec<Option<User<'static>>>,
    groups: Vec<Option<Group<'static>>>,
    records: Vec<Option<Record<'static>>>,
    /// Where each entry is, by search and key.
    index: HashMap<(Search, String), usize>,
    /// Removed entries whose places are still in the vectors.
    holes: usize,
    /// The users and groups by name, id and member.
    lookup: Lookup,
    /// Times the holes were closed (places moved).
    compactions: u64,
}

/// Which kept entries of a directory a full read of it returned again
/// ([`DirectoryEntries::reread_user`] and the like): a place per entry
/// kept when the read began; entries added since are the read's own.
#[derive(Debug, Default)]
pub struct Reread {
    users: Returned,
    groups: Returned,
    records: Returned,
}

/// The places of one list a full read returned, and the place it is
/// expected to return next: a directory returns its entries in the same
/// order each time, mostly, so most entries are found there without a
/// look-up by key.
#[derive(Debug, Default)]
struct Returned {
    seen: Vec<bool>,
    next: usize,
}

impl Returned {
    fn new(places: usize) -> Returned {
        Returned {
            seen: vec![false; places],
            next: 0,
        }
    }
}

/// What a change did to the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// An entry that was there was replaced.
    Replaced,
    /// A new entry was added (last).
    Added,
    /// An entry was removed.
    Removed,
    /// A removal of an entry that was not there.
    Unknown,
    /// An entry sent again as it was held: nothing changed.
    Unchanged,
}

impl DirectoryEntries {
    /// Adds users as an update reads them (in order).
    pub fn add_users(&mut self, users: &[User<'_>]) {
        for u in users {
            self.upsert_user(u.clone().into_owned());
        }
    }

    /// Adds groups as an update reads them (in order).
    pub fn add_groups(&mut self, groups: &[Group<'_>]) {
        for g in groups {
            self.upsert_group(g.clone().into_owned());
        }
    }

    /// Adds records as an update reads them (in order).
    pub fn add_records(&mut self, records: &[Record<'_>]) {
        for r in records {
            self.upsert_record(r.clone().into_owned());
        }
    }

    /// Puts `u` where the user with its entryUUID is, or last.
    pub fn upsert_user(&mut self, u: User<'static>) -> Applied {
        let key = u.origin.key().to_owned();
        let (applied, place, old) = upsert(&mut self.users, &mut self.index, Search::Users, key, u);
        if applied == Applied::Unchanged {
            return applied;
        }
        if let Some(old) = old {
            self.lookup.remove_user(&old, place);
        }
        if let Some(Some(new)) = self.users.get(place as usize) {
            self.lookup.add_user(new, place);
        }
        applied
    }

    /// Puts `g` where the group with its entryUUID is, or last.
    pub fn upsert_group(&mut self, g: Group<'static>) -> Applied {
        let key = g.origin.key().to_owned();
        let (applied, place, old) =
            upsert(&mut self.groups, &mut self.index, Search::Groups, key, g);
        if applied == Applied::Unchanged {
            return applied;
        }
        if let Some(old) = old {
            self.lookup.remove_group(&old, place);
        }
        if let Some(Some(new)) = self.groups.get(place as usize) {
            self.lookup.add_group(new, place);
        }
        applied
    }

    /// Puts `r` where the record of its search with its entryUUID is, or
    /// last.
    pub fn upsert_record(&mut self, r: Record<'static>) -> Applied {
        let key = r.origin.key().to_owned();
        let search = Search::Records(r.search);
        upsert(&mut self.records, &mut self.index, search, key, r).0
    }

    /// Applies one change to a user or a group.
    pub fn apply(&mut self, change: EntryChange) -> Applied {
        match change {
            EntryChange::User(u) => self.upsert_user(u),
            EntryChange::Group(g) => self.upsert_group(g),
            EntryChange::Record(r) => self.upsert_record(r),
            EntryChange::Remove(search, uuid) => self.remove(search, &uuid),
        }
    }

    /// Removes the entry `search` found with entryUUID `uuid`.
    pub fn remove(&mut self, search: Search, uuid: &str) -> Applied {
        let Some(at) = self.index.remove(&(search, uuid.to_owned())) else {
            return Applied::Unknown;
        };
        let place = at as u32;
        let gone = match search {
            Search::Users => match self.users.get_mut(at).and_then(Option::take) {
                Some(u) => {
                    self.lookup.remove_user(&u, place);
                    true
                }
                None => false,
            },
            Search::Groups => match self.groups.get_mut(at).and_then(Option::take) {
                Some(g) => {
                    self.lookup.remove_group(&g, place);
                    true
                }
                None => false,
            },
            Search::Records(_) => self.records.get_mut(at).and_then(Option::take).is_some(),
        };
        if !gone {
            return Applied::Unknown;
        }
        if self.removal_compacts() {
            self.holes += 1;
            self.compact();
        } else {
            self.holes += 1;
        }
        Applied::Removed
    }

    /// Whether the next removal closes the holes (places move): more than
    /// 1024 of them, and more than entries held.
    fn removal_compacts(&self) -> bool {
        let holes = self.holes + 1;
        holes > 1024 && holes > self.len().saturating_sub(1)
    }

    /// The users held, in order.
    pub fn users(&self) -> impl Iterator<Item = &User<'static>> {
        self.users.iter().flatten()
    }

    /// The groups held, in order.
    pub fn groups(&self) -> impl Iterator<Item = &Group<'static>> {
        self.groups.iter().flatten()
    }

    /// The records held, in order.
    pub fn records(&self) -> impl Iterator<Item = &Record<'static>> {
        self.records.iter().flatten()
    }

    /// Whether the entry `search` found with entryUUID `uuid` is held.
    pub fn contains(&self, search: Search, uuid: &str) -> bool {
        self.index.contains_key(&(search, uuid.to_owned()))
    }

    /// The entryUUIDs of the entries `search` found.
    pub fn uuids(&self, search: Search) -> Vec<String> {
        self.index
            .keys()
            .filter(|(s, _)| *s == search)
            .map(|(_, u)| u.clone())
            .collect()
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.users.len() + self.groups.len() + self.records.len() - self.holes
    }

    /// A full read of this directory begins: nothing of it returned yet.
    pub fn reread(&self) -> Reread {
        Reread {
            users: Returned::new(self.users.len()),
            groups: Returned::new(self.groups.len()),
            records: Returned::new(self.records.len()),
        }
    }

    /// Whether user `u`, returned by the full read `r`, is kept exactly
    /// so; the kept entry of its key is marked returned either way.
    pub fn reread_user(&self, r: &mut Reread, u: &User<'_>) -> bool {
        returned(
            &self.index,
            &self.users,
            &mut r.users,
            Search::Users,
            &u.origin,
            |kept| kept == u,
        )
    }

    /// [`Self::reread_user`] for a group.
    pub fn reread_group(&self, r: &mut Reread, g: &Group<'_>) -> bool {
        returned(
            &self.index,
            &self.groups,
            &mut r.groups,
            Search::Groups,
            &g.origin,
            |kept| kept == g,
        )
    }

    /// [`Self::reread_user`] for a record.
    pub fn reread_record(&self, r: &mut Reread, rec: &Record<'_>) -> bool {
        let search = Search::Records(rec.search);
        returned(
            &self.index,
            &self.records,
            &mut r.records,
            search,
            &rec.origin,
            |kept| kept == rec,
        )
    }

    /// The removals of the entries kept when the full read `r` began
    /// that it did not return.
    pub fn not_reread(&self, r: &Reread) -> Vec<EntryChange> {
        fn gone<'a, T: 'a>(
            list: &'a [Option<T>],
            seen: &'a [bool],
            key: impl Fn(&'a T) -> (Search, &'a str) + 'a,
        ) -> impl Iterator<Item = EntryChange> + 'a {
            list.iter()
                .zip(seen)
                .filter(|(_, seen)| !**seen)
                .filter_map(move |(e, _)| {
                    let (search, k) = key(e.as_ref()?);
                    Some(EntryChange::Remove(search, k.to_owned()))
                })
        }
        gone(&self.users, &r.users.seen, |u| {
            (Search::Users, u.origin.key())
        })
        .chain(gone(&self.groups, &r.groups.seen, |g| {
            (Search::Groups, g.origin.key())
        }))
        .chain(gone(&self.records, &r.records.seen, |rec| {
            (Search::Records(rec.search), rec.origin.key())
        }))
        .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Gives every entry to `b`, in order.
    pub fn feed(&self, b: &mut SnapshotBuilder) {
        for u in self.users.iter().flatten() {
            b.add_users(std::slice::from_ref(u));
        }
        for g in self.groups.iter().flatten() {
            b.add_groups(std::slice::from_ref(g));
        }
        for r in self.records.iter().flatten() {
            b.add_records(std::slice::from_ref(r));
        }
    }

    /// Gives `b` part `part`'s entries from place `from` on, at most
    /// `budget`; returns how many and where to go on (`None`: the part
    /// is done).
    fn feed_part(
        &self,
        part: u8,
        from: usize,
        b: &mut SnapshotBuilder,
        budget: usize,
    ) -> (usize, Option<usize>) {
        fn part_of<T>(
            list: &[Option<T>],
            from: usize,
            budget: usize,
            mut give: impl FnMut(&T),
        ) -> (usize, Option<usize>) {
            let mut given = 0;
            for (i, e) in list.iter().enumerate().skip(from) {
                if given == budget {
                    return (given, Some(i));
                }
                if let Some(e) = e {
                    give(e);
                    given += 1;
                }
            }
            (given, None)
        }
        match part {
            0 => part_of(&self.users, from, budget, |u| {
                b.add_users(std::slice::from_ref(u));
            }),
            1 => part_of(&self.groups, from, budget, |g| {
                b.add_groups(std::slice::from_ref(g));
            }),
            _ => part_of(&self.records, from, budget, |r| {
                b.add_records(std::slice::from_ref(r));
            }),
        }
    }

    /// Closes the holes removals left, keeping the order.
    fn compact(&mut self) {
        fn squeeze<T>(v: &mut Vec<Option<T>>) -> Vec<usize> {
            let mut moved = vec![usize::MAX; v.len()];
            let mut next = 0;
            for (i, slot) in v.iter().enumerate() {
                if slot.is_some() {
                    moved[i] = next;
                    next += 1;
                }
            }
            v.retain(Option::is_some);
            moved
        }
        let users = squeeze(&mut self.users);
        let groups = squeeze(&mut self.groups);
        let records = squeeze(&mut self.records);
        for ((search, _), at) in &mut self.index {
            let moved = match search {
                Search::Users => &users,
                Search::Groups => &groups,
                Search::Records(_) => &records,
            };
            if let Some(&to) = moved.get(*at) {
                *at = to;
            }
        }
        self.holes = 0;
        self.compactions += 1;
        let mut lookup = Lookup::default();
        for (place, u) in self.users.iter().enumerate() {
            if let Some(u) = u {
                lookup.add_user(u, place as u32);
            }
        }
        for (place, g) in self.groups.iter().enumerate() {
            if let Some(g) = g {
                lookup.add_group(g, place as u32);
            }
        }
        self.lookup = lookup;
    }
}

/// Whether the kept entry `search` found with the key of `origin` is
/// `same` as the one read; it is marked returned either way. The place
/// after the last one returned is tried first.
fn returned<T>(
    index: &HashMap<(Search, String), usize>,
    list: &[Option<T>],
    r: &mut Returned,
    search: Search,
    origin: &entry_rules::Origin<'_>,
    same: impl Fn(&T) -> bool,
) -> bool {
    while list.get(r.next).is_some_and(Option::is_none) {
        r.next += 1;
    }
    if let Some(Some(kept)) = list.get(r.next) {
        if same(kept) {
            if let Some(s) = r.seen.get_mut(r.next) {
                *s = true;
            }
            r.next += 1;
            return true;
        }
    }
    let Some(&at) = index.get(&(search, origin.key().to_owned())) else {
        return false;
    };
    if let Some(s) = r.seen.get_mut(at) {
        *s = true;
    }
    r.next = at + 1;
    list.get(at).and_then(Option::as_ref).is_some_and(same)
}

/// Puts `entry` in `list`: in the place of the entry `search` found with
/// `key` ([`entry_rules::Origin::key`]), else last. Returns what it did,
/// the place and the entry that was there.
fn upsert<T: PartialEq>(
    list: &mut Vec<Option<T>>,
    index: &mut HashMap<(Search, String), usize>,
    search: Search,
    key: String,
    entry: T,
) -> (Applied, u32, Option<T>) {
    let last = list.len() as u32;
    match index.get(&(search, key.clone())) {
        Some(&at) if at < list.len() => {
            if list[at].as_ref() == Some(&entry) {
                return (Applied::Unchanged, at as u32, None);
            }
            let old = list[at].replace(entry);
            (Applied::Replaced, at as u32, old)
        }
        _ => {
            index.insert((search, key), list.len());
            list.push(Some(entry));
            (Applied::Added, last, None)
        }
    }
}

/// Where a build from the store is: the directory, the part (users,
/// groups, records) and the place in it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cursor {
    directory: usize,
    part: u8,
    index: usize,
}

/// Every directory's entries, in configuration order.
#[derive(Debug, Default)]
pub struct EntryStore {
    directories: Vec<DirectoryEntries>,
    /// The records by map and key, for changes applied without a build;
    /// `None` once the store changed another way.
    records_index: Option<RecordIndex>,
    /// The entries by DN and the groups with member DNs resolved, for
    /// changes applied without a build; `None` until one needs it, and
    /// once the store changed another way.
    member_index: Option<MemberIndex>,
}

impl EntryStore {
    /// Directory `d`'s entries, if any are kept.
    pub fn get(&self, d: usize) -> Option<&DirectoryEntries> {
        self.directories.get(d)
    }

    /// How many directories have a place.
    pub fn directories(&self) -> usize {
        self.directories.len()
    }

    /// Directory `d`'s entries (created empty when new), to change them
    /// other than by [`Self::apply_quick`].
    pub fn directory(&mut self, d: usize) -> &mut DirectoryEntries {
        self.records_index = None;
        self.member_index = None;
        self.dir_mut(d)
    }

    /// Directory `d`'s entries, for a change that keeps the index of the
    /// records (one to a user or a group, or one that updates it).
    fn dir_mut(&mut self, d: usize) -> &mut DirectoryEntries {
        if self.directories.len() <= d {
            self.directories
                .resize_with(d + 1, DirectoryEntries::default);
        }
        &mut self.directories[d]
    }

    /// Replaces directory `d`'s entries (an update read it again).
    pub fn replace(&mut self, d: usize, entries: DirectoryEntries) {
        *self.directory(d) = entries;
    }

    /// Keeps the first `n` directories (a reload that has fewer).
    pub fn truncate(&mut self, n: usize) {
        if n < self.directories.len() {
            self.records_index = None;
            self.member_index = None;
        }
        self.directories.truncate(n);
    }

    /// Gives every directory's entries to `b`, in configuration order.
    pub fn feed(&self, b: &mut SnapshotBuilder) {
        for d in &self.directories {
            d.feed(b);
        }
    }

    /// Gives `b` the entries from `at` on, at most `budget` of them (at
    /// least one): a build from the store in slices, between turns of the
    /// event loop. Returns where to go on, `None` once every entry is
    /// given.
    pub fn feed_some(&self, at: Cursor, b: &mut SnapshotBuilder, budget: usize) -> Option<Cursor> {
        let mut at = at;
        let mut left = budget.max(1);
        while let Some(d) = self.directories.get(at.directory) {
            let (given, next) = d.feed_part(at.part, at.index, b, left);
            left -= given;
            match next {
                Some(index) => {
                    at.index = index;
                    return Some(at);
                }
                None if at.part < 2 => {
                    at.part += 1;
                    at.index = 0;
                }
                None => {
                    at = Cursor {
                        directory: at.directory + 1,
                        part: 0,
                        index: 0,
                    };
                }
            }
            if left == 0 {
                return Some(at).filter(|c| c.directory < self.directories.len());
            }
        }
        None
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.directories.iter().map(DirectoryEntries::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests;
