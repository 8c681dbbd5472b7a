//! The classic maps in a build: hosts, services, netgroups, automount and
//! site maps and the rest (`entry_rules::records` makes each record's keys
//! and lines). A key two records give goes to the first (makedbm keeps the
//! last line; ypldap.conf(5) lists the difference). The netgroup reverse
//! maps, which need every netgroup, are computed once all have arrived,
//! in slices like the rest of the build.

use std::sync::Arc;

use entry_rules::records::{self, Context, Out, Record, RecordKind, SiteFormat};
use entry_rules::{DropReason, MAX_LINE};

use super::netgroups::Netgroups;
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

impl SearchPlan {
    /// A search of `kind`'s entries with its default attributes, serving
    /// each of the kind's maps that `serves` accepts (the others' slots
    /// empty).
    pub fn of_kind(kind: RecordKind, serves: impl Fn(&str) -> bool) -> SearchPlan {
        SearchPlan {
            kind,
            attributes: kind
                .roles()
                .iter()
                .map(|r| r.attribute.to_owned())
                .collect(),
            site: None,
            slots: kind
                .maps()
                .iter()
                .map(|&m| serves(m).then(|| MapName::configured(m).ok()).flatten())
                .collect(),
        }
    }

    /// The map key `k` of a record of this search goes to: an automount
    /// entry's own, else the kind's slot's (the plan may hold no table
    /// for it: the key is then left out).
    fn map_of(&self, out: &Out, k: &records::Key) -> Option<MapName> {
        match (&out.map, self.kind) {
            (Some(name), RecordKind::Automount) => name.parse::<MapName>().ok(),
            _ => self.slots.get(usize::from(k.slot)).copied().flatten(),
        }
    }
}

/// One record's part of the maps, as a build places it (for changes
/// applied without a build, `crate::store`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Placed {
    /// Each map and key the record gives, once, with its value (the
    /// first the record gives for it).
    pub keys: Vec<(MapName, String, String)>,
    /// A netgroup's name and `netgroup` value, for the reverse maps.
    pub netgroup: Option<(String, String)>,
}

impl RecordPlan {
    /// What record `r` puts into the maps, by the rules a build follows
    /// ([`SnapshotBuilder::add_records`]); `None` when the build drops it
    /// (or names no search of the plan). The arena's bound is not
    /// checked: it is about the whole build.
    pub(crate) fn placed(&self, r: &Record<'_>, domain: &str, out: &mut Out) -> Option<Placed> {
        let search = self.searches.get(usize::from(r.search))?;
        let cx = Context {
            kind: search.kind,
            attributes: &search.attributes,
            domain,
            site: search.site.as_ref(),
        };
        records::build(&cx, r, out).ok()?;
        let tables = self.maps();
        let mut placed = Placed::default();
        if search.kind == RecordKind::Netgroup {
            if let (Some(k), Some(v)) = (out.keys.first(), out.values.first()) {
                placed.netgroup = Some((k.key.clone(), v.clone()));
            }
        }
        for k in &out.keys {
            let Some(map) = search.map_of(out, k).filter(|m| tables.contains(m)) else {
                continue;
            };
            let Some(value) = out.values.get(k.value) else {
                continue;
            };
            if !placed
                .keys
                .iter()
                .any(|(m, key, _)| *m == map && *key == k.key)
            {
                placed.keys.push((map, k.key.clone(), value.clone()));
            }
        }
        Some(placed)
    }

    /// The maps `netgroup.byuser` and `netgroup.byhost` are served as, if
    /// the plan has a netgroup search that names them.
    pub(crate) fn reverse_maps(&self) -> [Option<MapName>; 2] {
        let tables = self.maps();
        let slot = |i: usize| {
            self.searches
                .iter()
                .find(|s| s.kind == RecordKind::Netgroup)
                .and_then(|s| s.slots.get(i).copied().flatten())
                .filter(|m| tables.contains(m))
        };
        [slot(1), slot(2)]
    }

    /// What a `netgroup` value gives the reverse maps directly: each
    /// triple's keys with their map (0: by user, 1: by host, see
    /// [`super::netgroups::triple_keys`]), and the member netgroups'
    /// names, in order.
    pub(crate) fn netgroup_parts(value: &str) -> (Vec<(usize, String)>, Vec<&str>) {
        let (mut keys, mut members) = (Vec::new(), Vec::new());
        let mut key = String::new();
        for m in records::netgroup_members(value) {
            match m {
                records::NetgroupMember::Triple { host, user, domain } => {
                    super::netgroups::triple_keys(host, user, domain, &mut key, |i, k| {
                        keys.push((i, k.to_owned()));
                    });
                }
                records::NetgroupMember::Netgroup(name) => members.push(name),
            }
        }
        (keys, members)
    }

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

/// The classic part of a build.
#[derive(Debug, Default)]
pub(super) struct Classic {
    plan: Arc<RecordPlan>,
    pub(super) tables: Vec<(MapName, TableBuilder)>,
    out: Out,
    /// The netgroups, for the reverse maps.
    netgroups: Netgroups,
    /// The value being written (a reverse map's).
    scratch: String,
}

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
            let Some(t) = search.map_of(out, k).and_then(|m| self.classic.table_of(m)) else {
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

    /// Keeps a netgroup for the reverse maps.
    fn keep_netgroup(&mut self, out: &Out) {
        if let (Some(k), Some(value)) = (out.keys.first(), out.values.first()) {
            self.classic.netgroups.add(&k.key, value);
        }
    }

    /// Expands netgroups `from..` into the reverse maps' keys (see
    /// [`Netgroups::expand`]).
    pub(super) fn reverse_netgroups(
        &mut self,
        from: usize,
        budget: usize,
    ) -> (Option<usize>, usize) {
        self.classic.netgroups.expand(from, budget)
    }

    /// Writes keys `from..` of reverse map `map` (0: `netgroup.byuser`,
    /// 1: `netgroup.byhost`), each to the netgroups that reach it, joined
    /// by `,`, in arrival order; about `budget` steps. Returns where to go
    /// on (`None`: both written) and the steps used.
    pub(super) fn write_reverse(
        &mut self,
        map: usize,
        from: usize,
        budget: usize,
    ) -> (Option<(usize, usize)>, usize) {
        const SLOTS: [usize; 2] = [1, 2];
        let Some(&slot) = SLOTS.get(map) else {
            self.classic.netgroups = Netgroups::default();
            return (None, 1);
        };
        let plan = Arc::clone(&self.classic.plan);
        let target = plan
            .searches
            .iter()
            .find(|s| s.kind == RecordKind::Netgroup)
            .and_then(|s| s.slots.get(slot).copied().flatten());
        let keys = self.classic.netgroups.reverse[map].len();
        let Some(t) = target.and_then(|m| self.classic.table_of(m)) else {
            return (Some((map + 1, 0)), 1);
        };
        let to = from.saturating_add(budget.div_ceil(8).max(1)).min(keys);
        let mut value = std::mem::take(&mut self.classic.scratch);
        let mut key = String::new();
        for k in from..to {
            self.classic.netgroups.reverse_value(map, k, &mut value);
            key.clear();
            key.push_str(self.classic.netgroups.reverse[map].key(k));
            if value.len() > MAX_LINE {
                let detail = format!(
                    "its line in {} would be {} bytes, more than {MAX_LINE}",
                    target.map_or("", MapName::as_str),
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
        self.classic.scratch = value;
        let used = (to - from) * 8;
        if to < keys {
            (Some((map, to)), used)
        } else {
            (Some((map + 1, 0)), used)
        }
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
