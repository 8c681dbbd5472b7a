//! Groups whose members are given as DNs, kept current one change at a
//! time: the store's entries by canonical DN, the groups by the member
//! DNs they name (the reverse index), and each kept such group's resolved
//! names, so that a change finds the groups whose lines it can alter
//! without a scan and resolves them again by the build's own rules
//! ([`crate::members::resolve_in`] over the store's entries).
//!
//! A member DN names the first kept user with that DN (store order:
//! directories in configuration order, each one's users in order), else
//! the first kept group with it, else nothing; a group's line takes its
//! own names, then what its member DNs name, a named group's members to
//! the nesting limit. So a change can alter only the lines of the groups
//! that name (directly, or through at most `nesting` levels of groups
//! naming those) a DN whose entry or kept entry changed: the DNs of the
//! entry before and after, and of the entries kept for its names before
//! and after (one that was a duplicate of a name now kept, or the
//! reverse).

use std::collections::{BTreeSet, HashMap};

use entry_rules::dn;
use entry_rules::{Group, User};

use super::places::{Places, add, drop_place, mark};
use super::{DirectoryEntries, EntryStore};
use crate::build::{BuildOptions, group_head_len};
use crate::members::{MemberCounts, MemberGraph, Named, Work, resolve_in};
use entry_rules::MAX_LINE;

/// Where an entry is: directory and place.
pub(super) type Loc = (usize, u32);

/// See the module documentation. Places are as the vectors have them: a
/// compaction makes the index stale ([`MemberIndex::fits`]).
#[derive(Debug, Default)]
pub(super) struct MemberIndex {
    /// The options it was made with (nesting, disabled accounts).
    options: Option<BuildOptions>,
    /// Each directory's compactions when it was made.
    compactions: Vec<u64>,
    /// Every user by its canonical DN (kept or not).
    user_dns: HashMap<String, Places<Loc>>,
    /// Every group by its canonical DN (kept or not).
    group_dns: HashMap<String, Places<Loc>>,
    /// Every group with member DNs by each canonical member DN.
    naming: HashMap<String, Places<Loc>>,
    /// Each kept group with member DNs: its resolved names, or `None`
    /// when they make the line too long (the build serves no line).
    lines: HashMap<Loc, Option<Vec<String>>>,
    /// The kept groups with member DNs whose line lists a name.
    holders: HashMap<String, Places<Loc>>,
    /// Room for one resolution.
    work: Work,
    /// Where the making of this index is, until it is whole.
    making: Option<Making>,
}

/// How far an index being made in steps ([`EntryStore::prepare_members_some`])
/// has come: entries indexed up to a place, or the kept groups with
/// member DNs being resolved.
#[derive(Debug)]
enum Making {
    /// The next entry to index: directory, users (0) or groups (1), place.
    Entries(usize, u8, usize),
    /// The kept groups with member DNs, and how many are resolved.
    Lines(Vec<Loc>, usize),
}

/// Entries indexed, or groups resolved, per step (a fraction of a
/// millisecond; a few, in the tests, so that changes meet the index half
/// made).
const ENTRIES_PER_STEP: usize = if cfg!(test) { 3 } else { 2048 };
const GROUPS_PER_STEP: usize = if cfg!(test) { 1 } else { 32 };

pub(super) fn canonical(dn: &str) -> Option<String> {
    let mut out = String::new();
    dn::normalize_into(dn, &mut out).ok().map(|()| out)
}

fn canonical_member(dn: &str) -> Option<String> {
    let mut out = String::new();
    dn::normalize_member_into(dn, &mut out).ok().map(|()| out)
}

impl MemberIndex {
    /// Whether it describes `store` as it is, under `options`.
    pub(super) fn fits(&self, store: &EntryStore, options: &BuildOptions) -> bool {
        self.making.is_none() && self.was_made_for(store, options)
    }

    /// Whether it was begun for `store` as it is, under `options` (made
    /// whole or not).
    fn was_made_for(&self, store: &EntryStore, options: &BuildOptions) -> bool {
        self.options.as_ref() == Some(options)
            && self.compactions.len() == store.directories.len()
            && self
                .compactions
                .iter()
                .zip(&store.directories)
                .all(|(&c, d)| c == d.compactions)
    }

    pub(super) fn note_user(&mut self, at: Loc, u: &User<'_>, present: bool) {
        if let Some(dn) = canonical(&u.origin.dn) {
            mark(&mut self.user_dns, dn, at, present);
        }
    }

    pub(super) fn note_group(&mut self, at: Loc, g: &Group<'_>, present: bool) {
        if let Some(dn) = canonical(&g.origin.dn) {
            mark(&mut self.group_dns, dn, at, present);
        }
        for dn in g.member_dns.iter().filter_map(|m| canonical_member(m)) {
            mark(&mut self.naming, dn, at, present);
        }
    }

    /// Sets the resolved names of the group at `at` (`None`: it is no
    /// kept group with member DNs), and the names' holders with them.
    pub(super) fn set_line(&mut self, at: Loc, line: Option<Option<Vec<String>>>) {
        for n in self.lines.remove(&at).into_iter().flatten().flatten() {
            drop_place(&mut self.holders, &n, at);
        }
        if let Some(l) = line {
            for n in l.iter().flatten() {
                add(&mut self.holders, n.clone(), at);
            }
            self.lines.insert(at, l);
        }
    }

    /// The resolved names of the group at `at`: `None` when it is no kept
    /// group with member DNs, `Some(None)` when its line is too long.
    pub(super) fn line(&self, at: Loc) -> Option<Option<&[String]>> {
        self.lines.get(&at).map(Option::as_deref)
    }

    /// The kept groups with member DNs whose lines list `name`.
    pub(super) fn holders(&self, name: &str) -> &[Loc] {
        self.holders.get(name).map_or(&[], Places::as_slice)
    }
}

impl EntryStore {
    /// Makes the index of member DNs describe the store, from scratch if
    /// it does not (a change made another way, a compaction, other
    /// options): every entry indexed, every kept group with member DNs
    /// resolved.
    pub fn prepare_members(&mut self, options: &BuildOptions) {
        while !self.prepare_members_some(options, usize::MAX) {}
    }

    /// Whether groups name members by DN and the index of member DNs
    /// does not describe the store yet: [`Self::prepare_members_some`]
    /// has work to do.
    pub fn members_unprepared(&self, options: &BuildOptions) -> bool {
        self.groups_with_dns() > 0
            && !self
                .member_index
                .as_ref()
                .is_some_and(|i| i.fits(self, options))
    }

    /// [`Self::prepare_members`] a step at a time, between other work:
    /// at most `steps` times [`ENTRIES_PER_STEP`] entries indexed or
    /// [`GROUPS_PER_STEP`] groups resolved. True once the index describes
    /// the store. A change applied meanwhile finishes it first; a change
    /// made another way, or a compaction, begins it again.
    pub fn prepare_members_some(&mut self, options: &BuildOptions, steps: usize) -> bool {
        let current = self
            .member_index
            .as_ref()
            .is_some_and(|i| i.was_made_for(self, options));
        if !current {
            // Sized at once: growing a table of 100,000 DNs halfway
            // would move them all in one step.
            let users = self.directories.iter().map(|d| d.users.len()).sum();
            let groups = self.directories.iter().map(|d| d.groups.len()).sum();
            let named = self
                .directories
                .iter()
                .flat_map(|d| d.groups.iter().flatten())
                .map(|g| g.member_dns.len())
                .sum();
            self.member_index = Some(MemberIndex {
                options: Some(*options),
                compactions: self.directories.iter().map(|d| d.compactions).collect(),
                work: self.member_index.take().map(|i| i.work).unwrap_or_default(),
                making: Some(Making::Entries(0, 0, 0)),
                user_dns: HashMap::with_capacity(users),
                group_dns: HashMap::with_capacity(groups),
                naming: HashMap::with_capacity(named),
                ..MemberIndex::default()
            });
        }
        let mut left = steps.max(1);
        while left > 0 {
            let Some(index) = self.member_index.as_mut() else {
                return false;
            };
            match index.making.take() {
                None => return true,
                Some(Making::Entries(d, part, p)) => {
                    let next = self.index_entries(d, part, p);
                    if let Some(index) = self.member_index.as_mut() {
                        index.making = Some(next);
                    }
                }
                Some(Making::Lines(kept, done)) => {
                    let end = kept.len().min(done.saturating_add(GROUPS_PER_STEP));
                    let batch = kept.get(done..end).unwrap_or(&[]).to_vec();
                    self.resolve_lines(&batch, options);
                    if let Some(index) = self.member_index.as_mut() {
                        index.making = (end < kept.len()).then_some(Making::Lines(kept, end));
                    }
                }
            }
            left -= 1;
        }
        self.member_index
            .as_ref()
            .is_some_and(|i| i.making.is_none())
    }

    /// Indexes up to [`ENTRIES_PER_STEP`] entries from directory `d`'s
    /// users (`part` 0) or groups (1) at place `p` on; what is left.
    fn index_entries(&mut self, d: usize, part: u8, p: usize) -> Making {
        let Some(index) = self.member_index.as_mut() else {
            return Making::Lines(Vec::new(), 0);
        };
        let Some(dir) = self.directories.get(d) else {
            // Every entry indexed: the kept groups with member DNs next.
            let kept = self
                .directories
                .iter()
                .enumerate()
                .flat_map(|(di, d)| {
                    d.groups.iter().enumerate().filter_map(move |(p, g)| {
                        g.as_ref()
                            .filter(|g| !g.member_dns.is_empty())
                            .map(|_| (di, p as u32))
                    })
                })
                .collect::<Vec<Loc>>();
            let kept = kept
                .into_iter()
                .filter(|&at| self.is_kept_group(at))
                .collect();
            return Making::Lines(kept, 0);
        };
        let end = p.saturating_add(ENTRIES_PER_STEP);
        if part == 0 {
            for (i, u) in dir.users.iter().enumerate().take(end).skip(p) {
                if let Some(u) = u {
                    index.note_user((d, i as u32), u, true);
                }
            }
            if end < dir.users.len() {
                return Making::Entries(d, 0, end);
            }
            return Making::Entries(d, 1, 0);
        }
        for (i, g) in dir.groups.iter().enumerate().take(end).skip(p) {
            if let Some(g) = g {
                index.note_group((d, i as u32), g, true);
            }
        }
        if end < dir.groups.len() {
            Making::Entries(d, 1, end)
        } else {
            Making::Entries(d + 1, 0, 0)
        }
    }

    /// Whether the group at `at` is the kept one of its name.
    pub(super) fn is_kept_group(&self, at: Loc) -> bool {
        self.group_at(at)
            .is_some_and(|g| self.kept_group(&g.name).is_some_and(|(k, _)| k == at))
    }

    fn is_kept_user(&self, at: Loc, options: &BuildOptions) -> bool {
        self.user_at(at).is_some_and(|u| {
            self.kept_user(&u.name, options)
                .is_some_and(|(k, _)| k == at)
        })
    }

    pub(super) fn group_at(&self, (d, p): Loc) -> Option<&Group<'static>> {
        self.directories.get(d)?.groups.get(p as usize)?.as_ref()
    }

    pub(super) fn user_at(&self, (d, p): Loc) -> Option<&User<'static>> {
        self.directories.get(d)?.users.get(p as usize)?.as_ref()
    }

    /// Resolves the kept groups with member DNs at `locs` again and keeps
    /// their names (those no longer such groups are forgotten). Returns
    /// the names that joined or left one of their lines.
    pub(super) fn resolve_lines(&mut self, locs: &[Loc], options: &BuildOptions) -> Vec<String> {
        let Some(index) = self.member_index.as_mut() else {
            return Vec::new();
        };
        let mut work = std::mem::take(&mut index.work);
        let mut lines = Vec::with_capacity(locs.len());
        if let Some(index) = self.member_index.as_ref() {
            let graph = StoreGraph::new(self, index, options);
            for &at in locs {
                let line = match self.group_at(at) {
                    Some(g) if !g.member_dns.is_empty() && self.is_kept_group(at) => {
                        Some(graph.resolve(at, g, &mut work))
                    }
                    _ => None,
                };
                lines.push((at, line));
            }
        }
        let mut moved = Vec::new();
        if let Some(index) = self.member_index.as_mut() {
            index.work = work;
            for (at, line) in lines {
                let names = |l: Option<&Option<Vec<String>>>| -> BTreeSet<String> {
                    l.into_iter().flatten().flatten().cloned().collect()
                };
                let (was, is) = (names(index.lines.get(&at)), names(line.as_ref()));
                moved.extend(was.symmetric_difference(&is).cloned());
                index.set_line(at, line);
            }
        }
        moved
    }

    /// The kept groups with member DNs that name one of `dns`, directly
    /// or through at most `nesting` levels of such groups naming those.
    pub(super) fn groups_above(&self, dns: &BTreeSet<String>, nesting: u32) -> BTreeSet<Loc> {
        let Some(index) = self.member_index.as_ref() else {
            return BTreeSet::new();
        };
        let mut found = BTreeSet::new();
        let mut level: Vec<String> = dns.iter().cloned().collect();
        for _ in 0..=nesting {
            let mut next = Vec::new();
            for dn in &level {
                let naming = index
                    .naming
                    .get(dn.as_str())
                    .map_or(&[][..], Places::as_slice);
                for &at in naming {
                    if !self.is_kept_group(at) || !found.insert(at) {
                        continue;
                    }
                    if let Some(own) = self.group_at(at).and_then(|g| canonical(&g.origin.dn)) {
                        next.push(own);
                    }
                }
            }
            if next.is_empty() {
                break;
            }
            level = next;
        }
        found
    }

    /// The canonical DNs of the users at `locs` and the groups at
    /// `groups`, into `dns`.
    pub(super) fn dns_of(&self, users: &[Loc], groups: &[Loc], dns: &mut BTreeSet<String>) {
        let users = users
            .iter()
            .filter_map(|&at| self.user_at(at))
            .map(|u| &u.origin.dn);
        let groups = groups
            .iter()
            .filter_map(|&at| self.group_at(at))
            .map(|g| &g.origin.dn);
        dns.extend(users.chain(groups).filter_map(|d| canonical(d)));
    }
}

/// The store's entries as [`resolve_in`] walks them: ids are places
/// numbered across directories.
struct StoreGraph<'s> {
    store: &'s EntryStore,
    index: &'s MemberIndex,
    options: &'s BuildOptions,
    /// Per directory, the id of its first user and first group.
    users_from: Vec<u32>,
    groups_from: Vec<u32>,
    groups: usize,
}

impl<'s> StoreGraph<'s> {
    fn new(store: &'s EntryStore, index: &'s MemberIndex, options: &'s BuildOptions) -> Self {
        let from = |len: fn(&DirectoryEntries) -> usize| {
            let mut at = 0u32;
            store
                .directories
                .iter()
                .map(|d| {
                    let first = at;
                    at = at.saturating_add(len(d) as u32);
                    first
                })
                .collect::<Vec<u32>>()
        };
        let users_from = from(|d| d.users.len());
        let groups_from = from(|d| d.groups.len());
        let groups = store.directories.iter().map(|d| d.groups.len()).sum();
        StoreGraph {
            store,
            index,
            options,
            users_from,
            groups_from,
            groups,
        }
    }

    fn group_id(&self, (d, p): Loc) -> u32 {
        self.groups_from
            .get(d)
            .map_or(u32::MAX, |f| f.saturating_add(p))
    }

    fn user_id(&self, (d, p): Loc) -> u32 {
        self.users_from
            .get(d)
            .map_or(u32::MAX, |f| f.saturating_add(p))
    }

    fn group_loc(&self, id: u32) -> Loc {
        let d = self
            .groups_from
            .partition_point(|&f| f <= id)
            .saturating_sub(1);
        let from = self.groups_from.get(d).copied().unwrap_or(0);
        (d, id - from.min(id))
    }

    fn group(&self, id: u32) -> Option<&'s Group<'static>> {
        self.store.group_at(self.group_loc(id))
    }

    /// The resolved names of group `g` at `at`, `None` when the line
    /// would be too long.
    fn resolve(&self, at: Loc, g: &Group<'_>, work: &mut Work) -> Option<Vec<String>> {
        let budget = MAX_LINE.saturating_sub(group_head_len(g.name.len(), g.passwd.len(), g.gid));
        let mut counts = MemberCounts::default();
        let complete = resolve_in(
            self,
            work,
            self.group_id(at),
            self.options.nesting,
            budget,
            &mut counts,
            &mut |_, _| {},
        );
        complete.then(|| {
            work.names()
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .collect()
        })
    }
}

impl<'s> MemberGraph for StoreGraph<'s> {
    fn group_ids(&self) -> usize {
        self.groups
    }

    fn names(&self, group: u32) -> usize {
        self.group(group).map_or(0, |g| g.members.len())
    }

    fn name(&self, group: u32, i: usize) -> &[u8] {
        self.group(group)
            .and_then(|g| g.members.get(i))
            .map_or(&[], |n| n.as_bytes())
    }

    fn member_dns(&self, group: u32) -> usize {
        self.group(group).map_or(0, |g| g.member_dns.len())
    }

    fn member(&self, group: u32, i: usize) -> Named<'_> {
        let Some(dn) = self
            .group(group)
            .and_then(|g| g.member_dns.get(i))
            .and_then(|m| canonical_member(m))
        else {
            return Named::Nothing;
        };
        let at = |map: &'s HashMap<String, Places<Loc>>| {
            map.get(dn.as_str()).map_or(&[][..], Places::as_slice)
        };
        let user = at(&self.index.user_dns)
            .iter()
            .find(|&&l| self.store.is_kept_user(l, self.options));
        if let Some(&l) = user {
            let name = self.store.user_at(l).map_or(&[][..], |u| u.name.as_bytes());
            return Named::User(self.user_id(l), name);
        }
        match at(&self.index.group_dns)
            .iter()
            .find(|&&l| self.store.is_kept_group(l))
        {
            Some(&l) => Named::Group(self.group_id(l)),
            None => Named::Nothing,
        }
    }
}
