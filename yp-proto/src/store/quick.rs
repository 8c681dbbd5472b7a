//! A change to one user or group applied to the served maps without
//! building them again (DESIGN §14): the keys the change can alter are
//! found from the entry before and after it, and each one's value is
//! worked out again from the store by the build's own rules, through the
//! [`Lookup`](super::lookup::Lookup) of each directory, so the work is
//! about the entry and what derives from it, not the directory.
//!
//! The rules, as [`SnapshotBuilder`](crate::build::SnapshotBuilder)
//! applies them in store order (directories in configuration order, then
//! each one's users, then its groups): a name is served by its first
//! valid entry (the *kept* one); a uid by the first kept user with it, who
//! also has its `netid.byname` entry; a gid by the first kept group with
//! it; a netid line lists the gids of the kept groups naming the user, in
//! the byte order of their names. So a change to user `E` can alter only
//! the keys of the names `E` had and has, and the uids of `E` and of the
//! users kept for those names before and after; a change to group `E`
//! the keys of its names, the gids of `E` and of the groups kept for those
//! names, and the netid lines of the users whose kept groups changed.
//!
//! A group with member DNs makes lines depend on other entries through
//! DNs (resolved members, nested groups). While the store holds one, a
//! user's change that keeps its DN, name, uid, gid and validity (a shell,
//! a password, a lock) alters only the user's own lines; any other change
//! to a user or a group goes through the index of member DNs
//! ([`super::nested`]): the groups that name, directly or through at most
//! `nesting` levels of groups, the DNs of the entry before and after and
//! of the entries kept for its names before and after are resolved again
//! by the build's rules (the build's own walk,
//! [`crate::members::resolve_in`]), and their lines, their gids' lines
//! and the netid lines of the users whose kept groups changed are edited.
//! The work is about the entry, the groups above it and their members.
//!
//! No change to a user or a group builds the maps again any more. What
//! costs more than the entry is bounded by what derives from it: a group
//! nested by many groups resolves each of them again (each line at most a
//! record long), a user named in many groups has each resolved again. The
//! index itself is made from the whole store again when the store changed
//! in a way it cannot follow (a directory read in full and replaced, a
//! compaction, other options): a step at a time between answers
//! ([`EntryStore::prepare_members_some`]), else at once by the next
//! change that needs it (about 55 ms at 100,000 users). Records (classic
//! maps, netgroups) are applied by [`super::records`], whatever the store
//! holds; an entry sent again as the store holds it changes nothing (no
//! edit).

use std::collections::{BTreeMap, BTreeSet};

use std::sync::Arc;

use entry_rules::records::Record;
use entry_rules::{Group, User};

use super::{Applied, DirectoryEntries, EntryStore, Search, nested};
use crate::build::{
    BuildOptions, RecordPlan, group_line, netid_line, resolved_group_line, user_lines,
};
use crate::maps::MapName;
use crate::proto::YPMAXRECORD;
use crate::snapshot::Edit;

/// A change to a user or a group, as the store takes it.
#[derive(Debug, Clone)]
pub enum EntryChange {
    /// A user added or replaced (by its entryUUID).
    User(User<'static>),
    /// A group added or replaced (by its entryUUID).
    Group(Group<'static>),
    /// A record added or replaced (by its search and entryUUID).
    Record(Record<'static>),
    /// The entry a search found with this entryUUID removed.
    Remove(Search, String),
}

use super::nested::Loc;

fn user_valid(u: &User<'_>, options: &BuildOptions) -> bool {
    u.check().is_ok() && !(u.disabled && options.omit_disabled)
}

fn group_valid(g: &Group<'_>) -> bool {
    g.check().is_ok()
}

/// A kept group as the netid lines see it: name, gid, members.
type GroupView = (String, u32, BTreeSet<String>);

impl EntryStore {
    pub(super) fn groups_with_dns(&self) -> usize {
        self.directories
            .iter()
            .map(|d| d.lookup.groups_with_dns())
            .sum()
    }

    /// The kept user of `name`.
    pub(super) fn kept_user(
        &self,
        name: &str,
        options: &BuildOptions,
    ) -> Option<(Loc, &User<'static>)> {
        self.directories.iter().enumerate().find_map(|(di, d)| {
            d.lookup.users_named(name).iter().find_map(|&p| {
                let u = d.users.get(p as usize)?.as_ref()?;
                (*u.name == *name && user_valid(u, options)).then_some(((di, p), u))
            })
        })
    }

    /// The user served for `uid`: the first kept user with it.
    fn uid_holder(&self, uid: u32, options: &BuildOptions) -> Option<&User<'static>> {
        self.directories.iter().enumerate().find_map(|(di, d)| {
            d.lookup.users_with_uid(uid).iter().find_map(|&p| {
                let u = d.users.get(p as usize)?.as_ref()?;
                let kept = u.uid == uid
                    && self
                        .kept_user(&u.name, options)
                        .is_some_and(|(at, _)| at == (di, p));
                kept.then_some(u)
            })
        })
    }

    /// The kept group of `name`.
    pub(super) fn kept_group(&self, name: &str) -> Option<(Loc, &Group<'static>)> {
        self.directories.iter().enumerate().find_map(|(di, d)| {
            d.lookup.groups_named(name).iter().find_map(|&p| {
                let g = d.groups.get(p as usize)?.as_ref()?;
                (*g.name == *name && group_valid(g)).then_some(((di, p), g))
            })
        })
    }

    /// The group served for `gid`: the first kept group with it.
    fn gid_holder(&self, gid: u32) -> Option<(Loc, &Group<'static>)> {
        self.directories.iter().enumerate().find_map(|(di, d)| {
            d.lookup.groups_with_gid(gid).iter().find_map(|&p| {
                let g = d.groups.get(p as usize)?.as_ref()?;
                let kept = g.gid == gid
                    && self
                        .kept_group(&g.name)
                        .is_some_and(|(at, _)| at == (di, p));
                kept.then_some(((di, p), g))
            })
        })
    }

    /// The line a build serves for the kept group `g` at `at`: its own
    /// for a group of names, its resolved one for a group with member
    /// DNs (none when too long).
    fn group_line_at(&self, at: Loc, g: &Group<'_>) -> Option<Vec<u8>> {
        if g.member_dns.is_empty() {
            return group_line(g).ok();
        }
        let names = self.member_index.as_ref()?.line(at)??;
        Some(resolved_group_line(g, names.join(",").as_bytes()))
    }

    /// The names a build lists in the line of the kept group `g` at `at`.
    fn group_names_at(&self, at: Loc, g: &Group<'_>) -> BTreeSet<String> {
        if g.member_dns.is_empty() {
            return g.members.iter().map(|m| m.to_string()).collect();
        }
        let names = self
            .member_index
            .as_ref()
            .and_then(|i| i.line(at))
            .flatten();
        names.into_iter().flatten().cloned().collect()
    }

    /// The `netid.byname` line of `uid`, as a build makes it.
    fn netid_value(&self, uid: u32, options: &BuildOptions) -> Option<Vec<u8>> {
        let holder = self.uid_holder(uid, options)?;
        let mut groups: Vec<(&str, u32)> = Vec::new();
        for (di, d) in self.directories.iter().enumerate() {
            for &p in d.lookup.groups_listing(&holder.name) {
                let Some(Some(g)) = d.groups.get(p as usize) else {
                    continue;
                };
                let listed = g.member_dns.is_empty() && g.members.contains(&holder.name);
                let kept = || {
                    self.kept_group(&g.name)
                        .is_some_and(|(at, _)| at == (di, p))
                };
                if listed && kept() {
                    groups.push((&g.name, g.gid));
                }
            }
        }
        if let Some(index) = self.member_index.as_ref() {
            for &at in index.holders(&holder.name) {
                if let Some(g) = self.group_at(at).filter(|_| self.is_kept_group(at)) {
                    if index.line(at).is_some_and(|l| l.is_some()) {
                        groups.push((&g.name, g.gid));
                    }
                }
            }
        }
        groups.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        netid_line(uid, holder.gid, groups.into_iter().map(|(_, gid)| gid))
    }

    /// The kept group of each name, as the netid lines see it.
    fn kept_groups_of(&self, names: &[String]) -> Vec<GroupView> {
        names
            .iter()
            .filter_map(|n| self.kept_group(n))
            .map(|(at, g)| (g.name.to_string(), g.gid, self.group_names_at(at, g)))
            .collect()
    }

    /// Applies `change` to directory `directory`'s entries and returns
    /// the edits that make the maps of the store before it (a snapshot
    /// built from it, with any edits since) those of the store after it;
    /// `Err(change)`, with the store untouched, when the change is not
    /// one this can apply: the maps must be built again (no change to a
    /// user, group or record is such a change now; callers keep the way
    /// back for one that may be).
    /// `plan` is the record searches' (the build's).
    pub fn apply_quick(
        &mut self,
        directory: usize,
        change: EntryChange,
        options: &BuildOptions,
        plan: &Arc<RecordPlan>,
        domain: &str,
    ) -> Result<Vec<Edit>, Box<EntryChange>> {
        let change = match change {
            EntryChange::Record(r) => {
                return Ok(self.quick_record(directory, Some(r), None, plan, domain));
            }
            EntryChange::Remove(Search::Records(s), uuid) => {
                return Ok(self.quick_record(directory, None, Some((s, uuid)), plan, domain));
            }
            change => change,
        };
        if self.holds_as_is(directory, &change) {
            return Ok(Vec::new());
        }
        let with_dns = self.groups_with_dns() > 0
            || matches!(&change, EntryChange::Group(g) if !g.member_dns.is_empty());
        if with_dns {
            return Ok(match change {
                EntryChange::User(u) if self.same_keys_and_validity(directory, &u, options) => {
                    self.quick_user_values(directory, u, options)
                }
                change => self.quick_with_dns(directory, change, options, domain),
            });
        }
        // Kept only while groups with member DNs are: other changes do
        // not keep it.
        self.member_index = None;
        match change {
            EntryChange::User(u) => Ok(self.quick_user(directory, Some(u), None, options, domain)),
            EntryChange::Group(g) => {
                Ok(self.quick_group(directory, Some(g), None, options, domain))
            }
            EntryChange::Remove(Search::Users, uuid) => {
                Ok(self.quick_user(directory, None, Some(uuid), options, domain))
            }
            EntryChange::Remove(Search::Groups, uuid) => {
                Ok(self.quick_group(directory, None, Some(uuid), options, domain))
            }
            EntryChange::Remove(s @ Search::Records(_), uuid) => {
                Err(Box::new(EntryChange::Remove(s, uuid)))
            }
            EntryChange::Record(r) => Err(Box::new(EntryChange::Record(r))),
        }
    }

    /// Whether `change` puts in place a user or group the store holds
    /// exactly so (a refresh that sends every entry again, a change to
    /// attributes no map shows).
    fn holds_as_is(&self, directory: usize, change: &EntryChange) -> bool {
        match change {
            EntryChange::User(u) => self
                .current(directory, Search::Users, Some(u.origin.key()), |d| &d.users)
                .is_some_and(|old| old == u),
            EntryChange::Group(g) => self
                .current(directory, Search::Groups, Some(g.origin.key()), |d| {
                    &d.groups
                })
                .is_some_and(|old| old == g),
            _ => false,
        }
    }

    /// Whether user `new` replaces a kept entry with the same DN, name,
    /// uid and gid, and is valid exactly when that one is: then no group
    /// line (members resolved from DNs included) and no netid line can
    /// change, only the user's own lines.
    fn same_keys_and_validity(
        &self,
        directory: usize,
        new: &User<'_>,
        options: &BuildOptions,
    ) -> bool {
        self.current(directory, Search::Users, Some(new.origin.key()), |d| {
            &d.users
        })
        .is_some_and(|old| {
            old.origin.dn == new.origin.dn
                && old.name == new.name
                && old.uid == new.uid
                && old.gid == new.gid
                && user_valid(old, options) == user_valid(new, options)
        })
    }

    /// A user that [`Self::same_keys_and_validity`] accepts put in place:
    /// its lines by name and by uid.
    fn quick_user_values(
        &mut self,
        directory: usize,
        new: User<'static>,
        options: &BuildOptions,
    ) -> Vec<Edit> {
        let (name, uid) = (new.name.to_string(), new.uid);
        self.dir_mut(directory).apply(EntryChange::User(new));
        let mut edits = Vec::new();
        self.name_edits(&name, options, &mut edits);
        self.uid_line_edits(uid, options, &mut edits);
        edits
    }

    /// The kept entry with `uuid` in directory `directory`.
    pub(super) fn current<T>(
        &self,
        directory: usize,
        search: Search,
        uuid: Option<&str>,
        list: impl Fn(&DirectoryEntries) -> &[Option<T>],
    ) -> Option<&T> {
        let d = self.directories.get(directory)?;
        let &at = d.index.get(&(search, uuid?.to_owned()))?;
        list(d).get(at)?.as_ref()
    }

    /// A user `new` put in place (or the one with `removed` taken away).
    fn quick_user(
        &mut self,
        directory: usize,
        new: Option<User<'static>>,
        removed: Option<String>,
        options: &BuildOptions,
        domain: &str,
    ) -> Vec<Edit> {
        let uuid = new.as_ref().map(|u| u.origin.key()).or(removed.as_deref());
        let old = self.current(directory, Search::Users, uuid, |d| &d.users);
        let mut names: Vec<String> = Vec::new();
        let mut uids: Vec<u32> = Vec::new();
        for u in old.into_iter().chain(&new) {
            if !names.iter().any(|n| **n == *u.name) {
                names.push(u.name.to_string());
            }
            uids.push(u.uid);
        }
        let before = |store: &Self, uids: &mut Vec<u32>| {
            for n in &names {
                if let Some((_, u)) = store.kept_user(n, options) {
                    uids.push(u.uid);
                }
            }
        };
        before(self, &mut uids);
        let d = self.dir_mut(directory);
        match (new, removed) {
            (Some(u), _) => d.apply(EntryChange::User(u)),
            (None, Some(uuid)) => d.apply(EntryChange::Remove(Search::Users, uuid)),
            (None, None) => Applied::Unknown,
        };
        before(self, &mut uids);
        uids.sort_unstable();
        uids.dedup();
        let mut edits = Vec::new();
        for n in &names {
            self.name_edits(n, options, &mut edits);
        }
        for &uid in &uids {
            self.uid_line_edits(uid, options, &mut edits);
            self.netid_edit(uid, options, domain, &mut edits);
        }
        edits
    }

    /// The edits of `passwd.byname`, `master.passwd.byname` and
    /// `shadow.byname` for `name`.
    fn name_edits(&self, name: &str, options: &BuildOptions, edits: &mut Vec<Edit>) {
        let lines = self
            .kept_user(name, options)
            .and_then(|(_, u)| user_lines(u, options).ok());
        let key = name.as_bytes().to_vec();
        let (passwd, master, shadow) = match lines {
            Some(l) => (Some(l.passwd), Some(l.master), Some(l.shadow)),
            None => (None, None, None),
        };
        edits.push((MapName::PasswdByName, key.clone(), passwd));
        edits.push((MapName::MasterPasswdByName, key.clone(), master));
        edits.push((MapName::ShadowByName, key, shadow));
    }

    /// The edits of `passwd.byuid` and `master.passwd.byuid` for `uid`.
    fn uid_line_edits(&self, uid: u32, options: &BuildOptions, edits: &mut Vec<Edit>) {
        let lines = self
            .uid_holder(uid, options)
            .and_then(|u| user_lines(u, options).ok());
        let key = uid.to_string().into_bytes();
        let (passwd, master) = match lines {
            Some(l) => (Some(l.passwd), Some(l.master)),
            None => (None, None),
        };
        edits.push((MapName::PasswdByUid, key.clone(), passwd));
        edits.push((MapName::MasterPasswdByUid, key, master));
    }

    fn netid_edit(&self, uid: u32, options: &BuildOptions, domain: &str, edits: &mut Vec<Edit>) {
        // As the build: no netid key at all when the longest would not
        // fit in a record.
        if "unix.@".len() + 10 + domain.len() > YPMAXRECORD {
            return;
        }
        let key = format!("unix.{uid}@{domain}").into_bytes();
        edits.push((MapName::NetidByName, key, self.netid_value(uid, options)));
    }

    /// A group `new` put in place (or the one with `removed` taken away).
    fn quick_group(
        &mut self,
        directory: usize,
        new: Option<Group<'static>>,
        removed: Option<String>,
        options: &BuildOptions,
        domain: &str,
    ) -> Vec<Edit> {
        let uuid = new.as_ref().map(|g| g.origin.key()).or(removed.as_deref());
        let old = self.current(directory, Search::Groups, uuid, |d| &d.groups);
        let mut names: Vec<String> = Vec::new();
        let mut gids: Vec<u32> = Vec::new();
        for g in old.into_iter().chain(&new) {
            if !names.iter().any(|n| **n == *g.name) {
                names.push(g.name.to_string());
            }
            gids.push(g.gid);
        }
        let before = self.kept_groups_of(&names);
        let d = self.dir_mut(directory);
        match (new, removed) {
            (Some(g), _) => d.apply(EntryChange::Group(g)),
            (None, Some(uuid)) => d.apply(EntryChange::Remove(Search::Groups, uuid)),
            (None, None) => Applied::Unknown,
        };
        let after = self.kept_groups_of(&names);
        gids.extend(before.iter().chain(&after).map(|(_, gid, _)| *gid));
        gids.sort_unstable();
        gids.dedup();
        let mut edits = Vec::new();
        for n in &names {
            let line = self.kept_group(n).and_then(|(_, g)| group_line(g).ok());
            edits.push((MapName::GroupByName, n.as_bytes().to_vec(), line));
        }
        for &gid in &gids {
            let line = self
                .gid_holder(gid)
                .and_then(|(at, g)| self.group_line_at(at, g));
            edits.push((MapName::GroupByGid, gid.to_string().into_bytes(), line));
        }
        // The members whose kept groups changed: their netid lines.
        let moved = moved_members(&before, &after);
        let mut uids: Vec<u32> = moved
            .filter_map(|m| self.kept_user(m, options).map(|(_, u)| u.uid))
            .collect();
        uids.sort_unstable();
        uids.dedup();
        for uid in uids {
            self.netid_edit(uid, options, domain, &mut edits);
        }
        edits
    }

    /// The kept users of `users` and the kept groups of `groups`.
    fn kept_of(
        &self,
        users: &[String],
        groups: &[String],
        options: &BuildOptions,
    ) -> (Vec<Loc>, Vec<Loc>) {
        let users = users.iter().filter_map(|n| self.kept_user(n, options));
        let groups = groups.iter().filter_map(|n| self.kept_group(n));
        (
            users.map(|(at, _)| at).collect(),
            groups.map(|(at, _)| at).collect(),
        )
    }

    /// A change to a user or a group while groups name entries by DN
    /// (see the module documentation): the groups whose lines it can
    /// alter are found through the index of member DNs and resolved
    /// again; then the edits of the user's keys, of those groups' names
    /// and gids, and of the netid lines of the users whose kept groups
    /// changed.
    fn quick_with_dns(
        &mut self,
        directory: usize,
        change: EntryChange,
        options: &BuildOptions,
        domain: &str,
    ) -> Vec<Edit> {
        // A removal that would close the holes moves places under the
        // index: they are closed first, and the index made for them, so
        // that it holds every line as it was before the change.
        let removal = matches!(change, EntryChange::Remove(..));
        if removal
            && self
                .directories
                .get(directory)
                .is_some_and(DirectoryEntries::removal_compacts)
        {
            self.dir_mut(directory).compact();
        }
        self.prepare_members(options);
        let (search, key) = match &change {
            EntryChange::User(u) => (Search::Users, u.origin.key().to_owned()),
            EntryChange::Group(g) => (Search::Groups, g.origin.key().to_owned()),
            EntryChange::Remove(search, key) => (*search, key.clone()),
            EntryChange::Record(_) => return Vec::new(),
        };
        let place = |store: &Self| {
            let d = store.directories.get(directory)?;
            let &at = d.index.get(&(search, key.clone()))?;
            Some((directory, at as u32))
        };
        let old_at = place(self);
        let (mut user_names, mut group_names) = (Vec::new(), Vec::new());
        let mut uids = Vec::new();
        let mut dns = BTreeSet::new();
        let mut note = |name: &str, dn: &str, names: &mut Vec<String>| {
            if !names.iter().any(|n| n == name) {
                names.push(name.to_owned());
            }
            dns.extend(nested::canonical(dn));
        };
        let old_user = old_at.filter(|_| search == Search::Users);
        let old_group = old_at.filter(|_| search == Search::Groups);
        for u in old_user
            .and_then(|at| self.user_at(at))
            .into_iter()
            .chain(match &change {
                EntryChange::User(u) => Some(u),
                _ => None,
            })
        {
            note(&u.name, &u.origin.dn, &mut user_names);
            uids.push(u.uid);
        }
        for g in old_group
            .and_then(|at| self.group_at(at))
            .into_iter()
            .chain(match &change {
                EntryChange::Group(g) => Some(g),
                _ => None,
            })
        {
            note(&g.name, &g.origin.dn, &mut group_names);
        }
        // Before: the entries kept for those names and the groups above.
        let kept_before = self.kept_of(&user_names, &group_names, options);
        self.dns_of(&kept_before.0, &kept_before.1, &mut dns);
        let above_before = self.groups_above(&dns, options.nesting);
        let mut view_names: BTreeSet<String> = group_names.iter().cloned().collect();
        view_names.extend(
            above_before
                .iter()
                .filter_map(|&at| self.group_at(at))
                .map(|g| g.name.to_string()),
        );
        for &at in &kept_before.0 {
            uids.extend(self.user_at(at).map(|u| u.uid));
        }
        let views: Vec<String> = view_names.iter().cloned().collect();
        let before = self.kept_groups_of(&views);
        // The change, and the index with it.
        let compactions = self.directories.get(directory).map_or(0, |d| d.compactions);
        let mut index = self.member_index.take();
        if let Some(index) = index.as_mut() {
            if let Some((at, u)) = old_user.and_then(|at| Some((at, self.user_at(at)?))) {
                index.note_user(at, u, false);
            }
            if let Some((at, g)) = old_group.and_then(|at| Some((at, self.group_at(at)?))) {
                index.note_group(at, g, false);
                index.set_line(at, None);
            }
            for &at in &kept_before.1 {
                index.set_line(at, None);
            }
        }
        self.member_index = index;
        self.dir_mut(directory).apply(change);
        let compacted = self.directories.get(directory).map_or(0, |d| d.compactions) != compactions;
        debug_assert!(!compacted, "the holes were closed before the change");
        if compacted {
            // Not reached (see above): the index is made again.
            self.member_index = None;
            self.prepare_members(options);
        } else {
            let new_at = place(self);
            let mut index = self.member_index.take();
            if let (Some(index), Some(at)) = (index.as_mut(), new_at) {
                match search {
                    Search::Users => {
                        if let Some(u) = self.user_at(at) {
                            index.note_user(at, u, true);
                        }
                    }
                    _ => {
                        if let Some(g) = self.group_at(at) {
                            index.note_group(at, g, true);
                        }
                    }
                }
            }
            self.member_index = index;
        }
        // After: the same, and every group found resolved again.
        let kept_after = self.kept_of(&user_names, &group_names, options);
        self.dns_of(&kept_after.0, &kept_after.1, &mut dns);
        for &at in &kept_after.0 {
            uids.extend(self.user_at(at).map(|u| u.uid));
        }
        let mut again = self.groups_above(&dns, options.nesting);
        again.extend(kept_after.1.iter().copied());
        if !compacted {
            again.extend(above_before.iter().copied());
            let again: Vec<Loc> = again.iter().copied().collect();
            // The members a line gained or lost: their netid lines.
            let moved = self.resolve_lines(&again, options);
            uids.extend(
                moved
                    .iter()
                    .filter_map(|m| self.kept_user(m, options).map(|(_, u)| u.uid)),
            );
        }
        view_names.extend(
            again
                .iter()
                .filter_map(|&at| self.group_at(at))
                .map(|g| g.name.to_string()),
        );
        let views: Vec<String> = view_names.iter().cloned().collect();
        let after = self.kept_groups_of(&views);
        let mut edits = Vec::new();
        for n in &user_names {
            self.name_edits(n, options, &mut edits);
        }
        for n in &views {
            let line = self
                .kept_group(n)
                .and_then(|(at, g)| self.group_line_at(at, g));
            edits.push((MapName::GroupByName, n.as_bytes().to_vec(), line));
        }
        let mut gids: Vec<u32> = before
            .iter()
            .chain(&after)
            .map(|(_, gid, _)| *gid)
            .collect();
        gids.sort_unstable();
        gids.dedup();
        for &gid in &gids {
            let line = self
                .gid_holder(gid)
                .and_then(|(at, g)| self.group_line_at(at, g));
            edits.push((MapName::GroupByGid, gid.to_string().into_bytes(), line));
        }
        uids.extend(
            moved_members(&before, &after)
                .filter_map(|m| self.kept_user(m, options).map(|(_, u)| u.uid)),
        );
        uids.sort_unstable();
        uids.dedup();
        for &uid in &uids {
            if !user_names.is_empty() {
                self.uid_line_edits(uid, options, &mut edits);
            }
            self.netid_edit(uid, options, domain, &mut edits);
        }
        edits
    }
}

/// The members whose kept groups (name and gid) differ between the views
/// `was` and `is` of the same names.
fn moved_members<'v>(
    was: &'v [GroupView],
    is: &'v [GroupView],
) -> impl Iterator<Item = &'v String> {
    let groups_of = |views: &'v [GroupView]| {
        let mut of: BTreeMap<&'v String, Vec<(&'v String, u32)>> = BTreeMap::new();
        for (name, gid, members) in views {
            for m in members {
                of.entry(m).or_default().push((name, *gid));
            }
        }
        of
    };
    let (was, is) = (groups_of(was), groups_of(is));
    let gone: Vec<&String> = was
        .iter()
        .filter(|(m, g)| is.get(*m) != Some(g))
        .map(|(m, _)| *m)
        .collect();
    let came: Vec<&String> = is
        .keys()
        .filter(|m| !was.contains_key(*m))
        .copied()
        .collect();
    gone.into_iter().chain(came)
}
