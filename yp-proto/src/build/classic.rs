//! The classic maps in a build: hosts, services, netgroups, automount and
//! site maps and the rest (`entry_rules::records` makes each record's keys
//! and lines). A key two records give goes to the first (makedbm keeps the
//! last line; ypldap.conf(5) lists the difference). The netgroup reverse
//! maps, which need every netgroup, are computed once all have arrived,
//! in slices like the rest of the build.

use std::collections::HashMap;
use std::sync::Arc;

use entry_rules::records::{self, Context, NetgroupMember, Out, Record, RecordKind, SiteFormat};
use entry_rules::{DropReason, MAX_LINE};

use super::{SnapshotBuilder, TableBuilder, span};
use crate::maps::MapName;
use crate::snapshot::{COLUMNS, Span};

/// How the directories' record searches feed the served maps, from the
/// configuration. A record names its search by index in `searches`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordPlan {
    pub searches: Vec<SearchPlan>,
}

/// One record search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchPlan {
    pub kind: RecordKind,
    /// The LDAP attributes of the record's value lists (for messages).
    pub attributes: Vec<String>,
    /// A site map's value format.
    pub site: Option<SiteFormat>,
    /// The served map of each of the kind's slots (`RecordKind::maps`);
    /// a site map's one map. Automount entries go to the served map they
    /// name instead.
    pub slots: Vec<Option<MapName>>,
}

impl RecordPlan {
    /// Every map the plan can fill, each once, in plan order.
    pub fn maps(&self) -> Vec<MapName> {
        let mut maps = Vec::new();
        for s in &self.searches {
            for m in s.slots.iter().flatten() {
                if !maps.contains(m) {
                    maps.push(*m);
                }
            }
        }
        maps
    }
}

/// Records received and kept, for the update's summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordCounts {
    pub received: usize,
    pub kept: usize,
}

/// One netgroup, for the reverse maps.
#[derive(Debug)]
struct Netgroup {
    name: String,
    /// (host, user, domain); an empty field is a wildcard.
    triples: Vec<[String; 3]>,
    children: Vec<String>,
}

/// The classic part of a build.
#[derive(Debug, Default)]
pub(super) struct Classic {
    plan: Arc<RecordPlan>,
    pub(super) tables: Vec<(MapName, TableBuilder)>,
    out: Out,
    netgroups: Vec<Netgroup>,
    /// Netgroup names to their index in `netgroups` (the first wins).
    netgroup_index: HashMap<String, u32>,
    /// Per netgroup: the roots whose expansion it was last reached in
    /// (`root + 1`), so that each is expanded once per root.
    seen: Vec<u32>,
    /// Reverse map keys to the roots that reach them (by user, by host).
    reverse: [HashMap<String, Vec<u32>>; 2],
    reverse_keys: [Vec<String>; 2],
}

/// What [`Phase::ReverseNetgroups`](super::Phase) does per netgroup
/// expanded, in budget steps.
const REVERSE_STEP: usize = 64;

impl Classic {
    pub(super) fn new(plan: Arc<RecordPlan>) -> Classic {
        let tables = plan
            .maps()
            .into_iter()
            .map(|m| (m, TableBuilder::default()))
            .collect();
        Classic {
            plan,
            tables,
            ..Classic::default()
        }
    }

    fn table_of(&self, map: MapName) -> Option<usize> {
        self.tables.iter().position(|(m, _)| *m == map)
    }

    /// Whether there is reverse-map work once the entries are in.
    pub(super) fn has_netgroups(&self) -> bool {
        !self.netgroups.is_empty()
    }
}

impl SnapshotBuilder {
    /// The record searches of the configuration and the maps they feed;
    /// set before any record arrives.
    pub fn with_records(mut self, plan: Arc<RecordPlan>) -> SnapshotBuilder {
        self.classic = Classic::new(plan);
        self
    }

    /// Adds records of the classic maps, in arrival order.
    pub fn add_records(&mut self, records: &[Record<'_>]) {
        if !matches!(self.phase, super::Phase::Receiving) {
            return;
        }
        for r in records {
            self.add_record(r);
        }
    }

    fn add_record(&mut self, r: &Record<'_>) {
        let plan = Arc::clone(&self.classic.plan);
        let Some(search) = plan.searches.get(usize::from(r.search)) else {
            // Only a broken reader sends an unknown search.
            self.report.records_unknown += 1;
            return;
        };
        let kind = search.kind;
        self.report.records.entry(kind).or_default().received += 1;
        let cx = Context {
            kind,
            attributes: &search.attributes,
            domain: &self.domain,
            site: search.site.as_ref(),
        };
        let mut out = std::mem::take(&mut self.classic.out);
        let built = records::build(&cx, r, &mut out);
        match built {
            Err(v) => self
                .report
                .drop_record(kind, &r.origin.dn, v.reason(), &v.to_string()),
            Ok(()) => {
                if self.place(search, &out) {
                    self.report.records.entry(kind).or_default().kept += 1;
                } else {
                    self.report
                        .drop_record(kind, &r.origin.dn, DropReason::SnapshotFull, "");
                }
            }
        }
        self.classic.out = out;
    }

    /// Puts one record's keys into their maps; false when the arena is
    /// full.
    fn place(&mut self, search: &SearchPlan, out: &Out) -> bool {
        if search.kind == RecordKind::Netgroup {
            self.keep_netgroup(out);
        }
        let mut written: Vec<Option<Span>> = vec![None; out.values.len()];
        for k in &out.keys {
            let map = match (&out.map, search.kind) {
                (Some(name), RecordKind::Automount) => name.parse::<MapName>().ok(),
                _ => search.slots.get(usize::from(k.slot)).copied().flatten(),
            };
            let Some(t) = map.and_then(|m| self.classic.table_of(m)) else {
                continue;
            };
            let Some(value) = out.values.get(k.value) else {
                continue;
            };
            let v = match written.get(k.value).copied().flatten() {
                Some(v) => v,
                None => {
                    let Some(v) = self.write(value.as_bytes()) else {
                        return false;
                    };
                    if let Some(w) = written.get_mut(k.value) {
                        *w = Some(v);
                    }
                    v
                }
            };
            self.put(t, k.key.as_bytes(), v);
        }
        true
    }

    /// Appends bytes to the arena; `None` when it is full.
    fn write(&mut self, bytes: &[u8]) -> Option<Span> {
        if bytes.len() > MAX_LINE || !self.room(bytes.len()) {
            return None;
        }
        let at = self.arena.len();
        self.arena.extend_from_slice(bytes);
        Some(span(at, bytes.len()))
    }

    /// Adds `key` to table `t` with `value`, unless an earlier record gave
    /// it (counted).
    fn put(&mut self, t: usize, key: &[u8], value: Span) {
        let Some((_, table)) = self.classic.tables.get(t) else {
            return;
        };
        let Some(tag) = table.tag_if_new(&self.arena, &self.hasher, key) else {
            self.report.duplicate_keys += 1;
            return;
        };
        let Some(key) = self.write(key) else {
            return;
        };
        let mut vals = [Span::ABSENT; COLUMNS];
        vals[0] = value;
        if let Some((_, table)) = self.classic.tables.get_mut(t) {
            table.insert_new(&self.arena, tag, key, vals);
        }
    }

    /// Keeps a netgroup's members for the reverse maps.
    fn keep_netgroup(&mut self, out: &Out) {
        let (Some(k), Some(value)) = (out.keys.first(), out.values.first()) else {
            return;
        };
        let c = &mut self.classic;
        if c.netgroup_index.contains_key(&k.key) {
            return;
        }
        let mut ng = Netgroup {
            name: k.key.clone(),
            triples: Vec::new(),
            children: Vec::new(),
        };
        for m in records::netgroup_members(value) {
            match m {
                NetgroupMember::Triple { host, user, domain } => {
                    ng.triples
                        .push([host.to_owned(), user.to_owned(), domain.to_owned()]);
                }
                NetgroupMember::Netgroup(n) => ng.children.push(n.to_owned()),
            }
        }
        let Ok(id) = u32::try_from(c.netgroups.len()) else {
            return;
        };
        c.netgroup_index.insert(ng.name.clone(), id);
        c.netgroups.push(ng);
    }

    /// Expands netgroups `from..` into the reverse maps, for about
    /// `budget` steps; returns where to go on (`None`: every netgroup
    /// done, the reverse maps written) and the steps used.
    pub(super) fn reverse_netgroups(
        &mut self,
        from: usize,
        budget: usize,
    ) -> (Option<usize>, usize) {
        let c = &mut self.classic;
        let n = c.netgroups.len();
        if c.seen.len() != n {
            c.seen = vec![0; n];
        }
        let mut used = 0;
        let mut root = from;
        let mut stack: Vec<u32> = Vec::new();
        while root < n && used < budget {
            let stamp = root as u32 + 1;
            stack.clear();
            stack.push(root as u32);
            if let Some(s) = c.seen.get_mut(root) {
                *s = stamp;
            }
            while let Some(g) = stack.pop() {
                used += 1;
                let Some(ng) = c.netgroups.get(g as usize) else {
                    continue;
                };
                for [host, user, domain] in &ng.triples {
                    used += 1;
                    for (i, field) in [user, host].into_iter().enumerate() {
                        // As revnetgroup: an empty field is the wildcard,
                        // one starting with `-` names nobody.
                        let field = if field.is_empty() {
                            "*"
                        } else {
                            field.as_str()
                        };
                        if field.starts_with('-') {
                            continue;
                        }
                        let domain = if domain.is_empty() {
                            "*"
                        } else {
                            domain.as_str()
                        };
                        let key = format!("{field}.{domain}");
                        let roots = match c.reverse[i].get_mut(&key) {
                            Some(r) => r,
                            None => {
                                c.reverse_keys[i].push(key.clone());
                                c.reverse[i].entry(key).or_default()
                            }
                        };
                        if roots.last() != Some(&(root as u32)) {
                            roots.push(root as u32);
                        }
                    }
                }
                for child in &ng.children {
                    if let Some(&id) = c.netgroup_index.get(child) {
                        if let Some(s) = c.seen.get_mut(id as usize) {
                            if *s != stamp {
                                *s = stamp;
                                stack.push(id);
                            }
                        }
                    }
                }
            }
            used += REVERSE_STEP;
            root += 1;
        }
        if root < n {
            return (Some(root), used);
        }
        self.write_reverse_maps();
        (None, used)
    }

    /// Writes `netgroup.byuser` and `netgroup.byhost`: each key to the
    /// netgroups that reach it, joined by `,`, in arrival order.
    fn write_reverse_maps(&mut self) {
        let plan = Arc::clone(&self.classic.plan);
        let slots = plan
            .searches
            .iter()
            .find(|s| s.kind == RecordKind::Netgroup)
            .map(|s| s.slots.clone())
            .unwrap_or_default();
        for (i, slot) in [1usize, 2].into_iter().enumerate() {
            let keys = std::mem::take(&mut self.classic.reverse_keys[i]);
            let mut reverse = std::mem::take(&mut self.classic.reverse[i]);
            let Some(t) = slots
                .get(slot)
                .copied()
                .flatten()
                .and_then(|m| self.classic.table_of(m))
            else {
                continue;
            };
            for key in keys {
                let Some(roots) = reverse.remove(&key) else {
                    continue;
                };
                let mut value = String::new();
                for r in roots {
                    if let Some(ng) = self.classic.netgroups.get(r as usize) {
                        if !value.is_empty() {
                            value.push(',');
                        }
                        value.push_str(&ng.name);
                    }
                }
                if value.len() > MAX_LINE {
                    let detail = format!(
                        "its line in {} would be {} bytes, more than {MAX_LINE}",
                        plan.searches
                            .iter()
                            .find_map(|s| s.slots.get(slot).copied().flatten())
                            .map_or("", MapName::as_str),
                        value.len()
                    );
                    self.report.drop_record(
                        RecordKind::Netgroup,
                        &key,
                        DropReason::LineTooLong,
                        &detail,
                    );
                    continue;
                }
                match self.write(value.as_bytes()) {
                    Some(v) => self.put(t, key.as_bytes(), v),
                    None => self.report.drop_record(
                        RecordKind::Netgroup,
                        &key,
                        DropReason::SnapshotFull,
                        "",
                    ),
                }
            }
        }
        self.classic.netgroups = Vec::new();
        self.classic.netgroup_index = HashMap::new();
        self.classic.seen = Vec::new();
    }

    /// The last touches: `mail.aliases` gets the `@` key makedbm
    /// --aliases writes (sendmail looks for it to know the map is
    /// complete).
    pub(super) fn finish_classic(&mut self) {
        if let Ok(aliases) = "mail.aliases".parse::<MapName>() {
            if let Some(t) = self.classic.table_of(aliases) {
                if let Some(v) = self.write(b"@") {
                    let before = self.report.duplicate_keys;
                    self.put(t, b"@", v);
                    self.report.duplicate_keys = before;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
