//! Every directory's entries, as ypldapd keeps them while content
//! synchronization (RFC 4533) keeps some directory current: a change a
//! session pushes replaces, adds or removes one entry here, and the maps
//! are built again from all of them (DESIGN §14).
//!
//! Entries keep their place: one that is modified stays where it was first
//! read, one that is added goes last, as a directory returns them (in the
//! order it created them), so that "the first entry of a name wins" means
//! the same after any sequence of changes as after a full read. An entry
//! is known by the search that found it and its entryUUID: one directory
//! entry that two searches find (a user private group that is both a
//! `posixAccount` and a `posixGroup`) is two entries here, as in the maps.

use std::collections::HashMap;

use entry_rules::records::Record;
use entry_rules::{Group, User};

use crate::build::{BuildOptions, SnapshotBuilder, group_line, netid_line, user_lines};
use crate::maps::MapName;
use crate::snapshot::Snapshot;

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
    /// Where each entry with an entryUUID is, by search.
    index: HashMap<(Search, String), usize>,
    /// Removed entries whose places are still in the vectors.
    holes: usize,
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
        let key = u.origin.uuid.clone();
        upsert(&mut self.users, &mut self.index, Search::Users, key, u)
    }

    /// Puts `g` where the group with its entryUUID is, or last.
    pub fn upsert_group(&mut self, g: Group<'static>) -> Applied {
        let key = g.origin.uuid.clone();
        upsert(&mut self.groups, &mut self.index, Search::Groups, key, g)
    }

    /// Puts `r` where the record of its search with its entryUUID is, or
    /// last.
    pub fn upsert_record(&mut self, r: Record<'static>) -> Applied {
        let key = r.origin.uuid.clone();
        let search = Search::Records(r.search);
        upsert(&mut self.records, &mut self.index, search, key, r)
    }

    /// Removes the entry `search` found with entryUUID `uuid`.
    pub fn remove(&mut self, search: Search, uuid: &str) -> Applied {
        let Some(at) = self.index.remove(&(search, uuid.to_owned())) else {
            return Applied::Unknown;
        };
        let gone = match search {
            Search::Users => self.users.get_mut(at).and_then(Option::take).is_some(),
            Search::Groups => self.groups.get_mut(at).and_then(Option::take).is_some(),
            Search::Records(_) => self.records.get_mut(at).and_then(Option::take).is_some(),
        };
        if !gone {
            return Applied::Unknown;
        }
        self.holes += 1;
        if self.holes > 1024 && self.holes > self.len() {
            self.compact();
        }
        Applied::Removed
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
    }
}

/// Puts `entry` in `list`: in the place of the entry with `uuid` from
/// `search`, else last (an entry without an entryUUID, from a full read,
/// always goes last).
fn upsert<T>(
    list: &mut Vec<Option<T>>,
    index: &mut HashMap<(Search, String), usize>,
    search: Search,
    uuid: Option<String>,
    entry: T,
) -> Applied {
    let Some(uuid) = uuid else {
        list.push(Some(entry));
        return Applied::Added;
    };
    match index.get(&(search, uuid.clone())) {
        Some(&at) if at < list.len() => {
            list[at] = Some(entry);
            Applied::Replaced
        }
        _ => {
            index.insert((search, uuid), list.len());
            list.push(Some(entry));
            Applied::Added
        }
    }
}

/// A change to a map's value: map, key, new value.
pub type Value = (MapName, Vec<u8>, Vec<u8>);

impl EntryStore {
    /// The new values of the maps when user `new` (from directory
    /// `directory`) replaces the kept user with its entryUUID, if that
    /// change alters values and no key: the same DN, name, uid and gid,
    /// both versions served. Then `snapshot`, which must show the store
    /// as it is before the change, needs only these values instead of a
    /// build: the user's `passwd`, `master.passwd` and `shadow` lines by
    /// name, and by uid where the user holds its uid. `None`: the change
    /// needs a build.
    pub fn user_values(
        &self,
        directory: usize,
        new: &User<'_>,
        snapshot: &Snapshot,
        options: &BuildOptions,
    ) -> Option<Vec<Value>> {
        let d = self.directories.get(directory)?;
        let uuid = new.origin.uuid.clone()?;
        let &at = d.index.get(&(Search::Users, uuid))?;
        let old = d.users.get(at)?.as_ref()?;
        let same_keys = old.origin.dn == new.origin.dn
            && old.name == new.name
            && old.uid == new.uid
            && old.gid == new.gid;
        if !same_keys {
            return None;
        }
        user_lines(old, options).ok()?;
        let lines = user_lines(new, options).ok()?;
        // The user must be the one whose name the maps serve: the first
        // one served with that name, in the build's order.
        let first = self
            .directories
            .iter()
            .flat_map(|d| d.users.iter().flatten())
            .find(|u| u.name == old.name && user_lines(u, options).is_ok())?;
        if !std::ptr::eq(first, old) {
            return None;
        }
        let name = old.name.as_bytes().to_vec();
        let mut values = vec![
            (MapName::PasswdByName, name.clone(), lines.passwd.clone()),
            (
                MapName::MasterPasswdByName,
                name.clone(),
                lines.master.clone(),
            ),
            (MapName::ShadowByName, name.clone(), lines.shadow),
        ];
        // Names are unique among the users served: the uid's line names
        // this user when it holds the uid.
        let uid = old.uid.to_string().into_bytes();
        let holds_uid = snapshot
            .get(MapName::PasswdByUid, &uid)
            .is_some_and(|l| l.starts_with(&name) && l.get(name.len()) == Some(&b':'));
        if holds_uid {
            values.push((MapName::PasswdByUid, uid.clone(), lines.passwd));
            values.push((MapName::MasterPasswdByUid, uid, lines.master));
        }
        Some(values)
    }
}

impl EntryStore {
    /// The new values of the maps when group `new` (from directory
    /// `directory`) replaces the kept group with its entryUUID, if that
    /// change alters values and no key: the same DN, name and gid, both
    /// versions served, members given as names only (no group of the
    /// directories has member DNs, which could nest it). The values are
    /// the group's line by name (and by gid where it holds its gid) and
    /// the `netid.byname` lines of the users it gains or loses. `None`:
    /// the change needs a build. `snapshot` must show the store as it is
    /// before the change.
    pub fn group_values(
        &self,
        directory: usize,
        new: &Group<'_>,
        snapshot: &Snapshot,
        domain: &str,
    ) -> Option<Vec<Value>> {
        let d = self.directories.get(directory)?;
        let uuid = new.origin.uuid.clone()?;
        let &at = d.index.get(&(Search::Groups, uuid))?;
        let old = d.groups.get(at)?.as_ref()?;
        if old.origin.dn != new.origin.dn || old.name != new.name || old.gid != new.gid {
            return None;
        }
        let groups = || {
            self.directories
                .iter()
                .flat_map(|d| d.groups.iter().flatten())
        };
        if groups().any(|g| !g.member_dns.is_empty()) || !new.member_dns.is_empty() {
            return None;
        }
        group_line(old).ok()?;
        let line = group_line(new).ok()?;
        let first = groups().find(|g| g.name == old.name && group_line(g).is_ok())?;
        if !std::ptr::eq(first, old) {
            return None;
        }
        let name = old.name.as_bytes().to_vec();
        snapshot.get(MapName::GroupByName, &name)?;
        let mut values = vec![(MapName::GroupByName, name.clone(), line.clone())];
        let gid = old.gid.to_string().into_bytes();
        let holds_gid = snapshot
            .get(MapName::GroupByGid, &gid)
            .is_some_and(|l| l.starts_with(&name) && l.get(name.len()) == Some(&b':'));
        if holds_gid {
            values.push((MapName::GroupByGid, gid, line.clone()));
        }
        // Users who join or leave: their netid lines, from the groups as
        // they are served with this group's new line.
        let mut moved: Vec<&str> = Vec::new();
        for m in old.members.iter().chain(&new.members) {
            let in_old = old.members.iter().any(|x| x == m);
            let in_new = new.members.iter().any(|x| x == m);
            if in_old != in_new && !moved.contains(&&**m) {
                moved.push(m);
            }
        }
        for member in moved {
            let Some(entry) = snapshot.get(MapName::PasswdByName, member.as_bytes()) else {
                continue;
            };
            let mut fields = entry.split(|&b| b == b':');
            let (Some(_), Some(_), Some(uid), Some(gid)) =
                (fields.next(), fields.next(), fields.next(), fields.next())
            else {
                return None;
            };
            let (uid_text, gid_text) = (uid.to_vec(), gid.to_vec());
            // The netid entry is the uid holder's: only if that is this user.
            let holder = snapshot.get(MapName::PasswdByUid, &uid_text)?;
            if !(holder.starts_with(member.as_bytes()) && holder.get(member.len()) == Some(&b':')) {
                continue;
            }
            let key = format!("unix.{}@{domain}", String::from_utf8_lossy(&uid_text)).into_bytes();
            snapshot.get(MapName::NetidByName, &key)?;
            let (uid, gid) = (
                std::str::from_utf8(&uid_text).ok()?.parse::<u32>().ok()?,
                std::str::from_utf8(&gid_text).ok()?.parse::<u32>().ok()?,
            );
            let member_groups = snapshot.iter(MapName::GroupByName).filter_map(|(k, l)| {
                let l = if k == name.as_slice() {
                    line.as_slice()
                } else {
                    l
                };
                let mut f = l.splitn(4, |&b| b == b':');
                let (_, _, g, members) = (f.next()?, f.next()?, f.next()?, f.next()?);
                members
                    .split(|&b| b == b',')
                    .any(|n| n == member.as_bytes())
                    .then(|| std::str::from_utf8(g).ok()?.parse::<u32>().ok())
                    .flatten()
            });
            let netid = netid_line(uid, gid, member_groups)?;
            values.push((MapName::NetidByName, key, netid));
        }
        Some(values)
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
}

impl EntryStore {
    /// Directory `d`'s entries (created empty when new).
    /// Directory `d`'s entries, if any are kept.
    pub fn get(&self, d: usize) -> Option<&DirectoryEntries> {
        self.directories.get(d)
    }

    /// How many directories have a place.
    pub fn directories(&self) -> usize {
        self.directories.len()
    }

    pub fn directory(&mut self, d: usize) -> &mut DirectoryEntries {
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
