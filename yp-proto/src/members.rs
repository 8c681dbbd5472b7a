//! Group members given as DNs (`member`, `uniqueMember`), resolved to user
//! names.
//!
//! A member DN names a user read by the passwd search (its name joins the
//! group), or a group read by the group search, whose members join too
//! (nested groups, to [`BuildOptions::nesting`](crate::build::BuildOptions)
//! levels, cycles cut), or nothing: then it is left out and counted. DNs
//! are compared as the directory compares them ([`entry_rules::dn`]),
//! across every `directory` block of the domain: the first entry read with
//! a DN is the one it names, a user before a group. The names of a group's
//! line come in this order, each once: its own member names (`memberUid`),
//! then the names its member DNs resolve to, in the directory's order, a
//! nested group's members where the nested group stands.
//!
//! Resolution is done as the entries arrive where it can be: each user's
//! DN is indexed as the user comes, and a group's member DN that names a
//! user read before it is final then (a later entry with that DN would not
//! be the first). A group whose member DNs all name such users gets its
//! names when it arrives ([`Members::add_group`] says so); only the others
//! (a DN of a group, of a user of a later directory, or of nothing) wait
//! for the last entry. The users of a directory are read before its
//! groups, so in one directory that is the nesting groups alone.

use std::hash::{BuildHasher, RandomState};

use entry_rules::MAX_LINE;
use entry_rules::dn;
use hashbrown::HashTable;

use crate::snapshot::{KeyIndex, tag_of};

/// Where text is in the resolver's own buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slice {
    at: u32,
    len: u32,
}

/// A run of a flat list (a group's names or member DNs).
#[derive(Debug, Clone, Copy, Default)]
struct Run {
    from: u32,
    to: u32,
}

impl Run {
    fn range(self) -> std::ops::Range<usize> {
        self.from as usize..self.to as usize
    }
}

/// A member DN of a group, as far as it was known when the group came.
#[derive(Debug, Clone, Copy)]
enum Member {
    /// The user with this id: the first user read with that DN.
    User(u32),
    /// A canonical DN that named no user read before the group: a later
    /// user's, a group's, or nothing's. Looked up after the last entry.
    Later(Slice),
}

/// A group as resolution needs it.
#[derive(Debug, Clone, Copy, Default)]
struct GroupInfo {
    /// Its DN as the directory wrote it, for the log.
    raw_dn: Option<Slice>,
    /// Its member names given as names, in `Members::names`.
    names: Run,
    /// Its member DNs, in `Members::members`.
    members: Run,
}

/// What resolving did, for the update's summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemberCounts {
    /// Member DNs that named a user.
    pub resolved: usize,
    /// Member DNs that named a group whose members were included.
    pub nested: usize,
    /// Member DNs that named no entry read (left out).
    pub unresolved: usize,
    /// Nested groups not followed: deeper than the nesting limit, or a
    /// group that (through others) contains itself.
    pub cut: usize,
}

/// A member DN that named nothing, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unresolved {
    pub group_dn: String,
    pub member_dn: String,
}

/// In [`Members::resolve`]'s list of users: a name given as a name.
pub const NOT_A_USER: u32 = u32::MAX;

/// How many unresolved members are kept for the log.
const MAX_UNRESOLVED_SAMPLES: usize = 20;

/// Canonical DNs to the id of the first entry read with each. The index
/// holds 8 bytes an entry (id and hash tag, so it stays in cache for a
/// hundred thousand users: a lookup per member DN is what resolving
/// costs); the DNs are slices of `Members::text`, by id.
#[derive(Debug, Default)]
struct DnTable {
    index: KeyIndex,
    dns: Vec<Slice>,
}

/// No DN (an id whose entry had none that parsed).
const NO_DN: Slice = Slice {
    at: u32::MAX,
    len: 0,
};

impl DnTable {
    fn find(&self, text: &[u8], tag: u32, dn: &[u8]) -> Option<u32> {
        self.index.find(tag, |id| {
            self.dns
                .get(id as usize)
                .is_some_and(|&s| slice_of(text, s) == dn)
        })
    }

    /// Adds `dn` for `id` unless an earlier entry had it.
    fn insert_first(&mut self, text: &[u8], tag: u32, dn: Slice, id: u32) {
        if self.find(text, tag, slice_of(text, dn)).is_some() {
            return;
        }
        let i = id as usize;
        if self.dns.len() <= i {
            self.dns.resize(i + 1, NO_DN);
        }
        if let Some(slot) = self.dns.get_mut(i) {
            *slot = dn;
        }
        self.index.insert_unique(tag, id);
    }
}

fn slice_of(text: &[u8], s: Slice) -> &[u8] {
    text.get(s.at as usize..(s.at as usize).saturating_add(s.len as usize))
        .unwrap_or(&[])
}

/// The DNs and members of an update's entries, gathered while they arrive.
#[derive(Debug, Default)]
pub struct Members {
    /// Canonical DNs, group DNs as written, member names.
    text: Vec<u8>,
    hasher: RandomState,
    /// Users by canonical DN (ids in the users table).
    users: DnTable,
    /// Groups by canonical DN (ids in the groups table).
    group_dns: DnTable,
    /// Per group (by its id in the groups table).
    groups: Vec<GroupInfo>,
    /// Every group's member names, end to end.
    names: Vec<Slice>,
    /// Every group's member DNs, end to end.
    members: Vec<Member>,
    /// Room to write one canonical DN.
    scratch: String,
    /// Room for one group's resolution, kept between groups.
    work: Work,
    pub counts: MemberCounts,
    pub samples: Vec<Unresolved>,
}

impl Members {
    /// Room for about `users` users and `groups` groups, so that a refresh
    /// of the size of the last one never grows a large table at once.
    pub fn with_capacity(users: usize, groups: usize) -> Members {
        let mut m = Members::default();
        m.users.index.reserve(users);
        m.users.dns.reserve(users);
        m.group_dns.index.reserve(groups);
        m.group_dns.dns.reserve(groups);
        m.groups.reserve(groups);
        m
    }

    fn push(&mut self, s: &str) -> Option<Slice> {
        let at = u32::try_from(self.text.len()).ok()?;
        let len = u32::try_from(s.len()).ok()?;
        at.checked_add(len)?;
        self.text.extend_from_slice(s.as_bytes());
        Some(Slice { at, len })
    }

    fn get(&self, s: Slice) -> &[u8] {
        slice_of(&self.text, s)
    }

    fn get_str(&self, s: Slice) -> &str {
        std::str::from_utf8(self.get(s)).unwrap_or("")
    }

    /// The canonical form of `dn` in `scratch`, or false if it is no DN.
    fn normalize(&mut self, dn: &str) -> bool {
        dn::normalize_into(dn, &mut self.scratch).is_ok()
    }

    /// Notes the DN of the user just added with id `user` (kept in its
    /// canonical form; a DN that is none names nothing; the first user of
    /// a DN is the one it names).
    pub fn add_user(&mut self, user: u32, dn: &str) {
        if !self.normalize(dn) {
            return;
        }
        let hash = tag_of(&self.hasher, self.scratch.as_bytes());
        if self
            .users
            .find(&self.text, hash, self.scratch.as_bytes())
            .is_some()
        {
            return;
        }
        let canonical = std::mem::take(&mut self.scratch);
        if let Some(slice) = self.push(&canonical) {
            self.users.insert_first(&self.text, hash, slice, user);
        }
        self.scratch = canonical;
    }

    /// Notes the group just added with id `group`: its DN, member names and
    /// the canonical forms of its member DNs, each looked up among the
    /// users read so far. True when every member DN named such a user:
    /// then the group's names are final now ([`Members::resolve`] may be
    /// called at once); otherwise they wait for the last entry.
    pub fn add_group<'a>(
        &mut self,
        group: u32,
        dn: &str,
        names: impl Iterator<Item = &'a str>,
        canonical_dns: impl Iterator<Item = &'a str>,
    ) -> bool {
        if self.groups.len() != group as usize {
            return false;
        }
        if self.normalize(dn) {
            let hash = tag_of(&self.hasher, self.scratch.as_bytes());
            if self
                .group_dns
                .find(&self.text, hash, self.scratch.as_bytes())
                .is_none()
            {
                let canonical = std::mem::take(&mut self.scratch);
                if let Some(slice) = self.push(&canonical) {
                    self.group_dns.insert_first(&self.text, hash, slice, group);
                }
                self.scratch = canonical;
            }
        }
        let raw_dn = self.push(dn);
        let names_from = run_index(self.names.len());
        for n in names {
            if let Some(s) = self.push(n) {
                self.names.push(s);
            }
        }
        let members_from = run_index(self.members.len());
        let mut all_users = true;
        for d in canonical_dns {
            let hash = tag_of(&self.hasher, d.as_bytes());
            let member = match self.users.find(&self.text, hash, d.as_bytes()) {
                Some(user) => Member::User(user),
                None => match self.push(d) {
                    Some(s) => {
                        all_users = false;
                        Member::Later(s)
                    }
                    None => continue,
                },
            };
            self.members.push(member);
        }
        self.groups.push(GroupInfo {
            raw_dn,
            names: Run {
                from: names_from,
                to: run_index(self.names.len()),
            },
            members: Run {
                from: members_from,
                to: run_index(self.members.len()),
            },
        });
        all_users
    }

    /// The DN of group `group` as the directory wrote it, for the log.
    pub fn dn_of(&self, group: u32) -> &[u8] {
        self.groups
            .get(group as usize)
            .and_then(|g| g.raw_dn)
            .map_or(&[], |s| self.get(s))
    }

    /// The member names of group `group`'s line, in order, each once,
    /// joined by `,`, and per name the id of the user whose name it is
    /// ([`NOT_A_USER`] for a name given as a name); `user_name` gives a
    /// user's name by id. `None` when the names would make the line longer
    /// than a YP record may be (room for `budget` bytes of names).
    pub fn resolve<'n>(
        &mut self,
        group: u32,
        nesting: u32,
        budget: usize,
        user_name: &dyn Fn(u32) -> &'n [u8],
    ) -> Option<(&[u8], &[u32])> {
        let mut work = std::mem::take(&mut self.work);
        let mut counts = self.counts;
        let mut samples = std::mem::take(&mut self.samples);
        let graph = BuildGraph {
            members: self,
            user_name,
        };
        let complete = resolve_in(
            &graph,
            &mut work,
            group,
            nesting,
            budget,
            &mut counts,
            &mut |g, i| {
                if samples.len() < MAX_UNRESOLVED_SAMPLES {
                    samples.push(graph.sample(g, i));
                }
            },
        );
        self.work = work;
        self.counts = counts;
        self.samples = samples;
        complete.then_some((self.work.line.as_slice(), self.work.users.as_slice()))
    }
}

/// What a member DN names, as [`resolve_in`] follows it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Named<'a> {
    /// The user with this id and name.
    User(u32, &'a [u8]),
    /// The group with this id.
    Group(u32),
    /// No entry: the DN is left out.
    Nothing,
}

/// The groups a resolution walks, by id: the build's ([`Members`]) or the
/// entries the store keeps (`store::nested`), so that both resolve by the
/// same rules.
pub(crate) trait MemberGraph {
    /// Group ids are below this.
    fn group_ids(&self) -> usize;
    /// How many member names group `group` gives as names.
    fn names(&self, group: u32) -> usize;
    /// Its `i`th name given as a name.
    fn name(&self, group: u32, i: usize) -> &[u8];
    /// How many member DNs group `group` has.
    fn member_dns(&self, group: u32) -> usize;
    /// What its `i`th member DN names.
    fn member(&self, group: u32, i: usize) -> Named<'_>;
}

/// The build's graph: [`Members`] and the names of the users read.
struct BuildGraph<'m, 'n> {
    members: &'m Members,
    user_name: &'m dyn Fn(u32) -> &'n [u8],
}

impl BuildGraph<'_, '_> {
    /// Member DN `i` of group `group` that named nothing, for the log.
    fn sample(&self, group: u32, i: usize) -> Unresolved {
        let m = self.members;
        let info = m.groups.get(group as usize).copied().unwrap_or_default();
        let member_dn = match m.members.get(info.members.from as usize + i) {
            Some(&Member::Later(dn)) => m.get_str(dn).to_owned(),
            _ => String::new(),
        };
        Unresolved {
            group_dn: info
                .raw_dn
                .map(|s| m.get_str(s).to_owned())
                .unwrap_or_default(),
            member_dn,
        }
    }
}

impl MemberGraph for BuildGraph<'_, '_> {
    fn group_ids(&self) -> usize {
        self.members.groups.len()
    }

    fn names(&self, group: u32) -> usize {
        let m = self.members;
        m.groups
            .get(group as usize)
            .map_or(0, |g| g.names.range().len())
    }

    fn name(&self, group: u32, i: usize) -> &[u8] {
        let m = self.members;
        m.groups
            .get(group as usize)
            .and_then(|g| m.names.get(g.names.from as usize + i))
            .map_or(&[], |&s| slice_of(&m.text, s))
    }

    fn member_dns(&self, group: u32) -> usize {
        let m = self.members;
        m.groups
            .get(group as usize)
            .map_or(0, |g| g.members.range().len())
    }

    fn member(&self, group: u32, i: usize) -> Named<'_> {
        let m = self.members;
        let member = m
            .groups
            .get(group as usize)
            .and_then(|g| m.members.get(g.members.from as usize + i));
        let dn = match member {
            Some(&Member::User(user)) => return Named::User(user, (self.user_name)(user)),
            Some(&Member::Later(dn)) => dn,
            None => return Named::Nothing,
        };
        let key = slice_of(&m.text, dn);
        let hash = tag_of(&m.hasher, key);
        if let Some(user) = m.users.find(&m.text, hash, key) {
            Named::User(user, (self.user_name)(user))
        } else if let Some(nested) = m.group_dns.find(&m.text, hash, key) {
            Named::Group(nested)
        } else {
            Named::Nothing
        }
    }
}

/// Resolves the members of `group` in `graph` into `work` (see
/// [`Members::resolve`] for the order), following nested groups to
/// `nesting` levels; `unresolved` hears of each member DN (group and
/// index) that names nothing. False when the names would outgrow
/// `budget` bytes.
pub(crate) fn resolve_in<G: MemberGraph>(
    graph: &G,
    work: &mut Work,
    group: u32,
    nesting: u32,
    budget: usize,
    counts: &mut MemberCounts,
    unresolved: &mut dyn FnMut(u32, usize),
) -> bool {
    work.start(budget.min(MAX_LINE), graph.group_ids());
    let mut walk = Walk {
        graph,
        counts,
        unresolved,
    };
    walk.expand(group, nesting, work)
}

struct Walk<'a, G> {
    graph: &'a G,
    counts: &'a mut MemberCounts,
    unresolved: &'a mut dyn FnMut(u32, usize),
}

impl<G: MemberGraph> Walk<'_, G> {
    /// Adds the members of `group` to `out`, following nested groups to
    /// `depth_left` more levels. Returns false when the names outgrew the
    /// budget.
    fn expand(&mut self, group: u32, depth_left: u32, out: &mut Work) -> bool {
        out.enter(group);
        let complete = self.expand_members(group, depth_left, out);
        out.leave(group);
        complete
    }

    fn expand_members(&mut self, group: u32, depth_left: u32, out: &mut Work) -> bool {
        let graph = self.graph;
        for i in 0..graph.names(group) {
            if !out.add_name(graph.name(group, i)) {
                return false;
            }
        }
        for i in 0..graph.member_dns(group) {
            match graph.member(group, i) {
                Named::User(user, name) => {
                    self.counts.resolved += 1;
                    if !out.add_user(user, name) {
                        return false;
                    }
                }
                Named::Group(nested) => {
                    if depth_left == 0 || out.on_stack(nested) {
                        self.counts.cut += 1;
                        continue;
                    }
                    // Reached before by another way: its names are in already.
                    if out.visited(nested) {
                        continue;
                    }
                    self.counts.nested += 1;
                    if !self.expand(nested, depth_left - 1, out) {
                        return false;
                    }
                }
                Named::Nothing => {
                    self.counts.unresolved += 1;
                    (self.unresolved)(group, i);
                }
            }
        }
        true
    }
}

/// An index into a flat list (lists are bounded by the 32-bit text
/// offsets of their entries long before this saturates).
fn run_index(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// One group's names being gathered; its buffers are kept from one group
/// to the next. Users and groups met are marked with the number of the
/// resolution (no set to clear between groups).
#[derive(Debug, Default)]
pub(crate) struct Work {
    hasher: RandomState,
    /// The names so far, joined by `,`.
    line: Vec<u8>,
    /// Where each name is in `line`.
    spans: Vec<(u32, u32)>,
    /// Per name: the user whose name it is, or [`NOT_A_USER`] for a name
    /// given as a name (which may still be a user's).
    users: Vec<u32>,
    budget: usize,
    /// This resolution's mark.
    stamp: u32,
    /// Per user: the mark of the last resolution that added its name.
    user_marks: Vec<u32>,
    /// Per group: the mark of the last resolution that expanded it.
    group_marks: Vec<u32>,
    /// Per group: whether it is on the way down from the group resolved
    /// (a cycle is a group met again on it).
    stack: Vec<bool>,
    /// The names in `line` by content (indices into `spans`), kept only
    /// once a name given as a name is met: until then every name is a
    /// user's, and the marks tell them apart.
    by_name: HashTable<u32>,
    by_name_on: bool,
}

impl Work {
    /// The names resolved, in order.
    pub(crate) fn names(&self) -> impl Iterator<Item = &[u8]> {
        (0..run_index(self.spans.len())).map(|i| self.name_at(i))
    }

    fn start(&mut self, budget: usize, groups: usize) {
        self.line.clear();
        self.spans.clear();
        self.users.clear();
        self.by_name.clear();
        self.by_name_on = false;
        self.budget = budget;
        if self.stamp == u32::MAX {
            self.user_marks.fill(0);
            self.group_marks.fill(0);
            self.stamp = 0;
        }
        self.stamp += 1;
        if self.group_marks.len() < groups {
            self.group_marks.resize(groups, 0);
            self.stack.resize(groups, false);
        }
    }

    fn enter(&mut self, group: u32) {
        let g = group as usize;
        if let (Some(mark), Some(on)) = (self.group_marks.get_mut(g), self.stack.get_mut(g)) {
            *mark = self.stamp;
            *on = true;
        }
    }

    fn leave(&mut self, group: u32) {
        if let Some(on) = self.stack.get_mut(group as usize) {
            *on = false;
        }
    }

    fn on_stack(&self, group: u32) -> bool {
        self.stack.get(group as usize).copied().unwrap_or(false)
    }

    fn visited(&self, group: u32) -> bool {
        self.group_marks.get(group as usize) == Some(&self.stamp)
    }

    fn name_at(&self, i: u32) -> &[u8] {
        let (at, len) = self.spans.get(i as usize).copied().unwrap_or((0, 0));
        self.line
            .get(at as usize..(at as usize).saturating_add(len as usize))
            .unwrap_or(&[])
    }

    fn has_name(&self, name: &[u8]) -> bool {
        let hash = self.hasher.hash_one(name);
        self.by_name
            .find(hash, |&i| self.name_at(i) == name)
            .is_some()
    }

    /// Adds the name of user `user` unless it is there already; false
    /// when over budget.
    fn add_user(&mut self, user: u32, name: &[u8]) -> bool {
        let u = user as usize;
        if self.user_marks.len() <= u {
            self.user_marks.resize(u + 1, 0);
        }
        if self.user_marks.get(u) == Some(&self.stamp) || (self.by_name_on && self.has_name(name)) {
            return true;
        }
        if let Some(mark) = self.user_marks.get_mut(u) {
            *mark = self.stamp;
        }
        self.push(name, user)
    }

    /// Adds a name given as a name unless it is there already; false when
    /// over budget.
    fn add_name(&mut self, name: &[u8]) -> bool {
        if !self.by_name_on {
            self.by_name_on = true;
            for i in 0..run_index(self.spans.len()) {
                self.index_name(i);
            }
        }
        if self.has_name(name) {
            return true;
        }
        self.push(name, NOT_A_USER)
    }

    fn push(&mut self, name: &[u8], user: u32) -> bool {
        let comma = usize::from(!self.spans.is_empty());
        if self.line.len() + comma + name.len() > self.budget {
            return false;
        }
        if comma == 1 {
            self.line.push(b',');
        }
        let at = run_index(self.line.len());
        self.line.extend_from_slice(name);
        let i = run_index(self.spans.len());
        self.spans.push((at, run_index(name.len())));
        self.users.push(user);
        if self.by_name_on {
            self.index_name(i);
        }
        true
    }

    /// Adds name `i` to `by_name`.
    fn index_name(&mut self, i: u32) {
        let Work {
            hasher,
            line,
            spans,
            by_name,
            ..
        } = self;
        let name_of = |j: u32| {
            let (at, len) = spans.get(j as usize).copied().unwrap_or((0, 0));
            line.get(at as usize..(at as usize).saturating_add(len as usize))
                .unwrap_or(&[])
        };
        let hash = hasher.hash_one(name_of(i));
        by_name.insert_unique(hash, i, |&j| hasher.hash_one(name_of(j)));
    }
}
