//! Group members given as DNs (`member`, `uniqueMember`), resolved to user
//! names once every entry of an update is in.
//!
//! A member DN names a user read by the passwd search (its name joins the
//! group), or a group read by the group search, whose members join too
//! (nested groups, to [`BuildOptions::nesting`](crate::build::BuildOptions)
//! levels, cycles cut), or nothing: then it is left out and counted. DNs
//! are compared as the directory compares them ([`entry_rules::dn`]),
//! across every `directory` block of the domain: the first entry read with
//! a DN is the one it names. The names of a group's line come in this
//! order, each once: its own member names (`memberUid`), then the names its
//! member DNs resolve to, in the directory's order, a nested group's
//! members where the nested group stands.

use std::collections::{HashMap, HashSet};

use entry_rules::MAX_LINE;
use entry_rules::dn;

/// Where text is in the resolver's own buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slice {
    at: u32,
    len: u32,
}

/// A group as resolution needs it.
#[derive(Debug, Default)]
struct GroupInfo {
    /// Its DN, canonical (what member DNs are compared with).
    dn: Option<Slice>,
    /// Its DN as the directory wrote it, for the log.
    raw_dn: Option<Slice>,
    /// Member names given as names.
    names: Vec<Slice>,
    /// Member DNs, canonical.
    dns: Vec<Slice>,
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

/// How many unresolved members are kept for the log.
const MAX_UNRESOLVED_SAMPLES: usize = 20;

/// The DNs and members of an update's entries, gathered while they arrive.
#[derive(Debug, Default)]
pub struct Members {
    text: Vec<u8>,
    /// Per user (by its id in the users table): its canonical DN.
    user_dns: Vec<Option<Slice>>,
    /// Per group (by its id in the groups table).
    groups: Vec<GroupInfo>,
    /// Room to write one canonical DN.
    scratch: String,
    pub counts: MemberCounts,
    pub samples: Vec<Unresolved>,
}

/// The lookups built from [`Members`] when the last entry is in.
#[derive(Debug, Default)]
pub struct Index {
    users: HashMap<String, u32>,
    groups: HashMap<String, u32>,
}

impl Members {
    fn push(&mut self, s: &str) -> Option<Slice> {
        let at = u32::try_from(self.text.len()).ok()?;
        let len = u32::try_from(s.len()).ok()?;
        at.checked_add(len)?;
        self.text.extend_from_slice(s.as_bytes());
        Some(Slice { at, len })
    }

    fn get(&self, s: Slice) -> &[u8] {
        self.text
            .get(s.at as usize..(s.at + s.len) as usize)
            .unwrap_or(&[])
    }

    fn get_str(&self, s: Slice) -> &str {
        std::str::from_utf8(self.get(s)).unwrap_or("")
    }

    /// Notes the DN of the user just added with id `user` (kept in its
    /// canonical form; a DN that is none names nothing).
    pub fn add_user(&mut self, user: u32, dn: &str) {
        let mut canonical = std::mem::take(&mut self.scratch);
        let slice = match dn::normalize_into(dn, &mut canonical) {
            Ok(()) => self.push(&canonical),
            Err(_) => None,
        };
        self.scratch = canonical;
        if self.user_dns.len() == user as usize {
            self.user_dns.push(slice);
        }
    }

    /// Notes the group just added with id `group`: its DN, member names and
    /// the canonical forms of its member DNs.
    pub fn add_group<'a>(
        &mut self,
        group: u32,
        dn: &str,
        names: impl Iterator<Item = &'a str>,
        canonical_dns: impl Iterator<Item = &'a str>,
    ) {
        let mut canonical = std::mem::take(&mut self.scratch);
        let own = match dn::normalize_into(dn, &mut canonical) {
            Ok(()) => self.push(&canonical),
            Err(_) => None,
        };
        self.scratch = canonical;
        let info = GroupInfo {
            dn: own,
            raw_dn: self.push(dn),
            names: names.filter_map(|n| self.push(n)).collect(),
            dns: canonical_dns.filter_map(|d| self.push(d)).collect(),
        };
        if self.groups.len() == group as usize {
            self.groups.push(info);
        }
    }

    /// The DN of group `group` as the directory wrote it, for the log.
    pub fn dn_of(&self, group: u32) -> Vec<u8> {
        self.groups
            .get(group as usize)
            .and_then(|g| g.raw_dn)
            .map(|s| self.get(s).to_vec())
            .unwrap_or_default()
    }

    /// Adds DNs to the lookups, from DN number `from` on (users first, then
    /// groups; the first of each DN wins), at most `budget` of them; where
    /// to go on, or `None` when every DN is in. Called after the last
    /// entry, when a group has member DNs, in slices.
    pub fn index_step(&self, idx: &mut Index, from: usize, budget: usize) -> Option<usize> {
        let users = self.user_dns.len();
        let total = users + self.groups.len();
        if from == 0 {
            // Room for all at once: growing a large map rehashes it all in
            // one insert, far longer than a slice.
            idx.users.reserve(users);
            idx.groups.reserve(self.groups.len());
        }
        let to = from.saturating_add(budget).min(total);
        for i in from..to {
            if let Some(id) = self.user_dns.get(i).copied() {
                if let (Some(dn), Ok(id)) = (id, u32::try_from(i)) {
                    idx.users.entry(self.get_str(dn).to_owned()).or_insert(id);
                }
            } else if let Some(g) = self.groups.get(i - users) {
                if let (Some(dn), Ok(id)) = (g.dn, u32::try_from(i - users)) {
                    idx.groups.entry(self.get_str(dn).to_owned()).or_insert(id);
                }
            }
        }
        (to < total).then_some(to)
    }

    /// The member names of group `group`'s line, in order, each once;
    /// `user_name` gives a user's name by id. `None` when the names would
    /// make the line longer than a YP record may be (room for `budget`
    /// bytes of names).
    pub fn resolve(
        &mut self,
        idx: &Index,
        group: u32,
        nesting: u32,
        budget: usize,
        user_name: &dyn Fn(u32) -> Vec<u8>,
    ) -> Option<Vec<Vec<u8>>> {
        let mut out = Resolution {
            names: Vec::new(),
            seen: HashSet::new(),
            len: 0,
            budget: budget.min(MAX_LINE),
            visited: HashSet::new(),
            stack: HashSet::new(),
        };
        let complete = self.expand(idx, group, nesting, &mut out, user_name);
        complete.then_some(out.names)
    }

    /// Adds the members of `group` to `out`, following nested groups to
    /// `depth_left` more levels. Returns false when the names outgrew the
    /// budget.
    fn expand(
        &mut self,
        idx: &Index,
        group: u32,
        depth_left: u32,
        out: &mut Resolution,
        user_name: &dyn Fn(u32) -> Vec<u8>,
    ) -> bool {
        out.visited.insert(group);
        out.stack.insert(group);
        let complete = self.expand_members(idx, group, depth_left, out, user_name);
        out.stack.remove(&group);
        complete
    }

    fn expand_members(
        &mut self,
        idx: &Index,
        group: u32,
        depth_left: u32,
        out: &mut Resolution,
        user_name: &dyn Fn(u32) -> Vec<u8>,
    ) -> bool {
        let Some(info) = self.groups.get(group as usize) else {
            return true;
        };
        let names: Vec<Vec<u8>> = info.names.iter().map(|&s| self.get(s).to_vec()).collect();
        let dns: Vec<Slice> = info.dns.clone();
        let group_dn = info.raw_dn;
        for n in names {
            if !out.add(n) {
                return false;
            }
        }
        for dn in dns {
            let key = self.get_str(dn);
            if let Some(&user) = idx.users.get(key) {
                self.counts.resolved += 1;
                if !out.add(user_name(user)) {
                    return false;
                }
            } else if let Some(&nested) = idx.groups.get(key) {
                if depth_left == 0 || out.stack.contains(&nested) {
                    self.counts.cut += 1;
                    continue;
                }
                // Reached before by another way: its names are in already.
                if out.visited.contains(&nested) {
                    continue;
                }
                self.counts.nested += 1;
                if !self.expand(idx, nested, depth_left - 1, out, user_name) {
                    return false;
                }
            } else {
                self.counts.unresolved += 1;
                if self.samples.len() < MAX_UNRESOLVED_SAMPLES {
                    let sample = Unresolved {
                        group_dn: group_dn
                            .map(|s| self.get_str(s).to_owned())
                            .unwrap_or_default(),
                        member_dn: self.get_str(dn).to_owned(),
                    };
                    self.samples.push(sample);
                }
            }
        }
        true
    }
}

/// One group's names being gathered.
struct Resolution {
    names: Vec<Vec<u8>>,
    seen: HashSet<Vec<u8>>,
    /// Bytes of names and separating commas so far.
    len: usize,
    budget: usize,
    /// The groups expanded so far for this one.
    visited: HashSet<u32>,
    /// The groups on the way down from the one resolved (a cycle is a
    /// group met again on it).
    stack: HashSet<u32>,
}

impl Resolution {
    /// Adds a name unless it is there already; false when over budget.
    fn add(&mut self, name: Vec<u8>) -> bool {
        if self.seen.contains(&name) {
            return true;
        }
        self.len += name.len() + usize::from(!self.names.is_empty());
        if self.len > self.budget {
            return false;
        }
        self.seen.insert(name.clone());
        self.names.push(name);
        true
    }
}
