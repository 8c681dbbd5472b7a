//! Putting a [`Snapshot`] together while an update arrives.
//!
//! ypldapd serves from a single thread, so building the maps must never
//! hold up an answer for long. Each batch of entries is checked, turned
//! into lines written straight into the new snapshot's arena and indexed
//! as it arrives ([`SnapshotBuilder::add_users`], [`SnapshotBuilder::add_groups`]);
//! sorting proceeds in bounded slices ([`SnapshotBuilder::step`]) between
//! turns of the event loop; and once the last entry is in, the rest (the
//! netid lines, which need every group, and the last merges) is done in
//! slices too. Entries come from a helper process and are re-validated
//! here: a peer is never trusted to have done it.

use std::collections::BTreeMap;
use std::hash::RandomState;
use std::sync::Arc;

use entry_rules::records::RecordKind;
use entry_rules::{DropReason, Group, LOCKED, LockReason, MAX_LINE, Seconds, User};

mod classic;
mod netgroups;
use classic::Classic;
pub use classic::{RecordCounts, RecordPlan, SearchPlan};

use crate::members::{MemberCounts, Members, NOT_A_USER, Unresolved};
use crate::proto::YPMAXRECORD;
use crate::runs::RunSorter;
use crate::snapshot::{
    COLUMNS, GROUPS_BY_GID, GROUPS_BY_NAME, MASTER, NETID, PASSWD, SHADOW, Snapshot, Span, TABLES,
    Table, USERS_BY_NAME, USERS_BY_UID, tag_of,
};

/// Keep at most this many dropped-entry samples for the log.
const MAX_SAMPLES: usize = 64;

/// What a dropped entry was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    User,
    Group,
    /// An entry of a classic map (a host, a netgroup, …).
    Record(RecordKind),
}

/// One dropped entry, for a warning in the log. `entry` is its DN (its
/// name for a netid entry), escaped (`escape_debug`) and shortened, since
/// it came from the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    pub kind: EntryKind,
    pub entry: String,
    pub reason: DropReason,
    /// What was wrong, where more than the reason is known (records).
    pub detail: String,
}

/// What a build did: the numbers for the update's summary line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildReport {
    pub users_received: usize,
    pub users_kept: usize,
    pub groups_received: usize,
    pub groups_kept: usize,
    pub netid_entries: usize,
    /// Users kept in `*.byname` but shadowed in `*.byuid` by an earlier
    /// user with the same uid.
    pub shadowed_uids: usize,
    /// Groups shadowed in `group.bygid` by an earlier group with that gid.
    pub shadowed_gids: usize,
    pub drops: BTreeMap<DropReason, usize>,
    /// Users kept whose password is served locked, by reason.
    pub locked: BTreeMap<LockReason, usize>,
    /// Group members given as DNs: resolved, nested, unresolved.
    pub members: MemberCounts,
    /// The first few member DNs that named no entry, for the log.
    pub unresolved: Vec<Unresolved>,
    /// The first few drops, for the log.
    pub samples: Vec<Dropped>,
    /// Classic map entries received and kept, by kind.
    pub records: BTreeMap<RecordKind, RecordCounts>,
    /// Records naming a search the configuration does not have.
    pub records_unknown: usize,
    /// Keys of classic maps an earlier entry had given (the first wins).
    pub duplicate_keys: usize,
}

impl BuildReport {
    fn drop_entry(&mut self, kind: EntryKind, entry: &[u8], reason: DropReason) {
        self.drop_with(kind, entry, reason, "");
    }

    fn drop_record(&mut self, kind: RecordKind, dn: &str, reason: DropReason, detail: &str) {
        self.drop_with(EntryKind::Record(kind), dn.as_bytes(), reason, detail);
    }

    fn drop_with(&mut self, kind: EntryKind, entry: &[u8], reason: DropReason, detail: &str) {
        *self.drops.entry(reason).or_default() += 1;
        if self.samples.len() < MAX_SAMPLES {
            let entry: String = String::from_utf8_lossy(entry)
                .escape_debug()
                .take(200)
                .collect();
            self.samples.push(Dropped {
                kind,
                entry,
                reason,
                detail: detail.escape_debug().take(200).collect(),
            });
        }
    }

    /// Total dropped entries (netid-only drops included).
    pub fn dropped(&self) -> usize {
        self.drops.values().sum()
    }
}

/// Appends the decimal digits of `n`; returns their span's length.
fn push_decimal(out: &mut Vec<u8>, n: u64) -> u16 {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let d = &digits[i..];
    out.extend_from_slice(d);
    d.len() as u16
}

/// Appends fields separated by `:` (none after the last).
fn push_fields(out: &mut Vec<u8>, fields: &[&str]) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b':');
        }
        out.extend_from_slice(f.as_bytes());
    }
}

/// Appends a date of `master.passwd` as served.
fn push_seconds(out: &mut Vec<u8>, s: &Seconds<'_>) {
    match s {
        Seconds::Given(t) => out.extend_from_slice(t.as_bytes()),
        Seconds::Derived(n) => {
            push_decimal(out, *n);
        }
    }
}

/// A span of the arena; callers have checked that `off` and `len` fit
/// (offsets by [`SnapshotBuilder::room`], lengths by [`MAX_LINE`]).
fn span(off: usize, len: usize) -> Span {
    Span {
        off: off as u32,
        len: len as u16,
    }
}

/// Where `s` is in `arena`, as a range (empty if it is not there).
fn range_in(arena: &[u8], s: Span) -> std::ops::Range<usize> {
    match s.bytes(arena) {
        Some(b) => s.off as usize..s.off as usize + b.len(),
        None => 0..0,
    }
}

/// Appends `name:passwd:id:`, the start of every passwd, master.passwd
/// and group line; returns where the id's digits are.
fn push_line_head(out: &mut Vec<u8>, name: &[u8], passwd: &str, id: u32) -> Span {
    out.extend_from_slice(name);
    out.push(b':');
    out.extend_from_slice(passwd.as_bytes());
    out.push(b':');
    let at = out.len();
    let len = push_decimal(out, id.into());
    out.push(b':');
    span(at, usize::from(len))
}

/// Where a user's lines are, in the buffer [`write_user_lines`] wrote
/// them to.
struct UserSpans {
    passwd: Span,
    /// The uid's digits in the passwd line (the `*.byuid` key).
    uid_key: Span,
    master: Span,
    shadow: Span,
}

/// Appends a user's `passwd`, `master.passwd` and `shadow` lines to `a`
/// (`shown` in the passwd line's password field, `hash` in the others).
/// The caller has checked the user and that `a` has room.
fn write_user_lines(a: &mut Vec<u8>, u: &User<'_>, shown: &str, hash: &str) -> UserSpans {
    let name = u.name.as_bytes();
    let start = a.len();
    // passwd: name:x:uid:gid:gecos:home:shell (the hash instead of x
    // with `expose password hashes`).
    let uid_key = push_line_head(a, name, shown, u.uid);
    push_decimal(a, u.gid.into());
    a.push(b':');
    push_fields(a, &[&u.gecos, &u.home, &u.shell]);
    let passwd = span(start, a.len() - start);
    // master.passwd: name:hash:uid:gid:class:change:expire:gecos:home:shell
    let master_at = a.len();
    push_line_head(a, name, hash, u.uid);
    push_decimal(a, u.gid.into());
    a.push(b':');
    a.extend_from_slice(u.class.as_bytes());
    a.push(b':');
    push_seconds(a, &u.master_change());
    a.push(b':');
    push_seconds(a, &u.master_expire());
    a.push(b':');
    push_fields(a, &[&u.gecos, &u.home, &u.shell]);
    let master = span(master_at, a.len() - master_at);
    // shadow.byname: name:hash:lastchg:min:max:warn:inactive:expire:flag
    let shadow_at = a.len();
    a.extend_from_slice(name);
    a.push(b':');
    a.extend_from_slice(hash.as_bytes());
    for f in u.shadow_fields() {
        a.push(b':');
        if let Some(n) = f {
            push_decimal(a, n);
        }
    }
    let shadow = span(shadow_at, a.len() - shadow_at);
    UserSpans {
        passwd,
        uid_key,
        master,
        shadow,
    }
}

/// The password field of a user's `passwd` line, the hash of its other
/// lines, and why the hash is locked, if it is.
fn passwords<'u>(
    u: &'u User<'_>,
    options: &BuildOptions,
) -> (&'u str, &'u str, Option<LockReason>) {
    let (hash, locked) = match u.hash() {
        Ok(h) => (h, None),
        Err(r) => (LOCKED, Some(r)),
    };
    let shown = if options.expose_hashes {
        hash
    } else {
        PASSWD_PLACEHOLDER
    };
    (shown, hash, locked)
}

/// Appends the line `name:passwd:gid:m1,m2,...` of a group whose members
/// are all names; returns where its gid's digits are.
fn write_group_line(a: &mut Vec<u8>, g: &Group<'_>) -> Span {
    let gid_key = push_line_head(a, g.name.as_bytes(), &g.passwd, g.gid);
    for (i, m) in g.members.iter().enumerate() {
        if i > 0 {
            a.push(b',');
        }
        a.extend_from_slice(m.as_bytes());
    }
    gid_key
}

/// The line a build would serve for a group whose members are all names
/// (no member DN), or why it would leave it out.
pub fn group_line(g: &Group<'_>) -> Result<Vec<u8>, DropReason> {
    if !g.member_dns.is_empty() {
        return Err(DropReason::BadMember);
    }
    g.check().map_err(|v| v.reason())?;
    let mut a = Vec::new();
    write_group_line(&mut a, g);
    Ok(a)
}

/// The length of a group line's head, `name:passwd:gid:`: the members'
/// names have the rest of [`MAX_LINE`].
pub(crate) fn group_head_len(name: usize, passwd: usize, gid: u32) -> usize {
    name + passwd + entry_rules::decimal_len(gid) + 3
}

/// The line of group `g` with its members resolved to `names` (joined by
/// `,`), as a build writes it.
pub(crate) fn resolved_group_line(g: &Group<'_>, names: &[u8]) -> Vec<u8> {
    let mut a = Vec::new();
    push_line_head(&mut a, g.name.as_bytes(), &g.passwd, g.gid);
    a.extend_from_slice(names);
    a
}

/// The `netid.byname` line of a user with `uid` and primary `gid` in the
/// groups `groups` (gids, in `group.byname` order): `uid:gid,g1,g2`, each
/// other gid once; `None` when it would be longer than [`MAX_LINE`] (a
/// build then leaves the entry out).
pub fn netid_line(uid: u32, gid: u32, groups: impl IntoIterator<Item = u32>) -> Option<Vec<u8>> {
    let mut a = Vec::new();
    push_decimal(&mut a, uid.into());
    a.push(b':');
    push_decimal(&mut a, gid.into());
    let mut seen: Vec<u32> = Vec::new();
    for g in groups {
        if g == gid || seen.contains(&g) {
            continue;
        }
        seen.push(g);
        a.push(b',');
        push_decimal(&mut a, g.into());
        if a.len() > MAX_LINE {
            return None;
        }
    }
    Some(a)
}

/// A user's lines as a build serves them, for a change that alters them
/// and no key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserLines {
    pub passwd: Vec<u8>,
    pub master: Vec<u8>,
    pub shadow: Vec<u8>,
}

/// The lines a build would serve for `u` under `options`, or why it
/// would leave `u` out.
pub fn user_lines(u: &User<'_>, options: &BuildOptions) -> Result<UserLines, DropReason> {
    u.check().map_err(|v| v.reason())?;
    if u.disabled && options.omit_disabled {
        return Err(DropReason::DisabledAccount);
    }
    let (shown, hash, _) = passwords(u, options);
    let mut a = Vec::new();
    let spans = write_user_lines(&mut a, u, shown, hash);
    let cut = |s: Span| s.bytes(&a).unwrap_or(&[]).to_vec();
    Ok(UserLines {
        passwd: cut(spans.passwd),
        master: cut(spans.master),
        shadow: cut(spans.shadow),
    })
}

/// A table being filled: the table itself plus its sorter.
#[derive(Debug, Default)]
struct TableBuilder {
    table: Table,
    sorter: RunSorter,
    /// Per id, the first bytes of its key as a number that orders as the
    /// bytes do ([`key_prefix`]): most comparisons of the sort end here,
    /// in a small array, instead of in two lines far apart in the arena.
    prefixes: Vec<u64>,
    /// Bytes every key of the table begins with (netid's `unix.`), left
    /// out of the prefixes.
    common: usize,
}

/// The first eight bytes of `key`, big-endian, zeros after a shorter key:
/// `a < b` for two prefixes means `a`'s key sorts before `b`'s; equal
/// prefixes say nothing (the keys are compared in full).
fn key_prefix(key: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = key.len().min(8);
    b[..n].copy_from_slice(&key[..n]);
    u64::from_be_bytes(b)
}

/// Byte order of two ids' keys, by prefix first.
fn prefix_order<'a>(
    table: &'a Table,
    prefixes: &'a [u64],
    arena: &'a [u8],
) -> impl Fn(u32, u32) -> std::cmp::Ordering + 'a {
    let full = table.key_order(arena);
    move |a, b| {
        let p = |id: u32| prefixes.get(id as usize).copied().unwrap_or(0);
        p(a).cmp(&p(b)).then_with(|| full(a, b))
    }
}

impl TableBuilder {
    fn with_capacity(n: usize) -> TableBuilder {
        let mut t = TableBuilder::default();
        t.table.keys.reserve(n);
        t.table.vals.reserve(n);
        t.prefixes.reserve(n);
        t.table.index.reserve(n);
        t
    }

    /// The hash tag of `key` when the table does not have it yet (for
    /// [`Self::insert_new`]); `None` when it does.
    fn tag_if_new(&self, arena: &[u8], hasher: &RandomState, key: &[u8]) -> Option<u32> {
        let tag = tag_of(hasher, key);
        match self.table.find_tagged(arena, tag, key) {
            Some(_) => None,
            None => Some(tag),
        }
    }

    /// Adds a key known to be new; `None` when ids ran out.
    fn insert_new(
        &mut self,
        arena: &[u8],
        tag: u32,
        key: Span,
        vals: [Span; COLUMNS],
    ) -> Option<u32> {
        let id = u32::try_from(self.table.keys.len())
            .ok()
            .filter(|&id| id != u32::MAX)?;
        self.table.index.insert_unique(tag, id);
        let bytes = key.bytes(arena).unwrap_or(&[]);
        self.prefixes
            .push(key_prefix(bytes.get(self.common..).unwrap_or(&[])));
        self.table.keys.push(key);
        self.table.vals.push(vals);
        self.sorter
            .push(id, &prefix_order(&self.table, &self.prefixes, arena));
        Some(id)
    }

    /// Sorting work for at most `budget` steps; returns the steps used.
    fn sort(&mut self, arena: &[u8], budget: usize, finishing: bool) -> usize {
        self.sorter.work(
            budget,
            finishing,
            &prefix_order(&self.table, &self.prefixes, arena),
        )
    }

    /// Moves the sorted ids into the table (sorting what is left first,
    /// if anything). Once done, the sorter is empty and this does nothing.
    fn settle(&mut self, arena: &[u8]) {
        let sorted = std::mem::take(&mut self.sorter).into_sorted(&prefix_order(
            &self.table,
            &self.prefixes,
            arena,
        ));
        self.prefixes = Vec::new();
        if !sorted.is_empty() {
            self.table.sorted = sorted;
        }
    }

    /// The finished table.
    fn into_table(mut self, arena: &[u8]) -> Table {
        self.settle(arena);
        self.table
    }
}

/// Supplementary gids per user, as linked lists in one vector (most users
/// have none or a few; one allocation per user would cost more).
#[derive(Debug, Default)]
struct GidLists {
    /// Per user id: the first link, or `NONE`.
    heads: Vec<u32>,
    /// (gid, next link).
    links: Vec<(u32, u32)>,
}

const NONE: u32 = u32::MAX;

impl GidLists {
    fn iter(&self, user: u32) -> impl Iterator<Item = u32> + '_ {
        let mut at = self.heads.get(user as usize).copied().unwrap_or(NONE);
        std::iter::from_fn(move || {
            let &(gid, next) = self.links.get(at as usize)?;
            at = next;
            Some(gid)
        })
    }

    /// Appends `gid` to the user's list unless it is there already.
    fn add(&mut self, user: u32, gid: u32) {
        let Ok(link) = u32::try_from(self.links.len()) else {
            return;
        };
        if self.heads.len() <= user as usize {
            self.heads.resize(user as usize + 1, NONE);
        }
        let Some(head) = self.heads.get_mut(user as usize) else {
            return;
        };
        // Walk to the end (lists are short), checking for `gid` on the way.
        let mut last = None;
        let mut at = *head;
        while let Some(&(g, next)) = self.links.get(at as usize) {
            if g == gid {
                return;
            }
            last = Some(at);
            at = next;
        }
        self.links.push((gid, NONE));
        match last.and_then(|l| self.links.get_mut(l as usize)) {
            Some(l) => l.1 = link,
            None => *head = link,
        }
    }
}

/// Where a build is.
#[derive(Debug)]
enum Phase {
    /// Entries are arriving; only sorting work of balanced runs is done.
    Receiving,
    /// Resolving the member DNs of the groups in `pending` (those that
    /// could not be resolved as they came) from `next` on.
    Resolving { next: usize },
    /// Sorting `group.byname`, which the netid lines follow.
    GroupOrder,
    /// Collecting each user's groups: the group at `pos` in name order,
    /// its members from byte `member` of its line on (its `nth` name).
    Memberships {
        pos: usize,
        member: usize,
        nth: usize,
    },
    /// Writing netid lines from entry `next` on.
    NetidValues { next: usize },
    /// Expanding the netgroups from `next` on into the reverse maps.
    ReverseNetgroups { next: usize },
    /// Writing reverse map `map` (0: by user, 1: by host) from key `next`
    /// on.
    ReverseWrite { map: usize, next: usize },
    /// The last merges.
    Sorting,
    /// Everything done: [`SnapshotBuilder::finish`] costs nothing more.
    Ready,
}

/// What [`SnapshotBuilder::step`] left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Nothing to do until more entries arrive or the end is declared.
    Idle,
    /// More work: call again (after serving what is waiting).
    Busy,
    /// The snapshot is complete: take it with [`SnapshotBuilder::finish`].
    Ready,
}

/// The password field of `passwd.byname` and `passwd.byuid` unless the
/// configuration says `expose password hashes`: glibc then reads the hash
/// from `shadow.byname`, BSD libc (as root) from `master.passwd.*`.
pub const PASSWD_PLACEHOLDER: &str = "x";

/// How the maps are built, from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildOptions {
    /// `expose password hashes`: the hash in `passwd.*` too.
    pub expose_hashes: bool,
    /// How many levels of nested groups a group's members are taken from
    /// (`group nesting`); 0 takes no nested group's members.
    pub nesting: u32,
    /// `disabled accounts omitted`: a disabled account is left out instead
    /// of served locked.
    pub omit_disabled: bool,
}

/// The default of [`BuildOptions::nesting`]: deeper than any group
/// hierarchy sites use, and a bound on the work a pathological directory
/// (a chain of thousands of groups) can cause.
pub const DEFAULT_NESTING: u32 = 10;

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            expose_hashes: false,
            nesting: DEFAULT_NESTING,
            omit_disabled: false,
        }
    }
}

/// A group whose line waits for its member DNs.
#[derive(Debug, Clone, Copy)]
struct Pending {
    /// Its id in `group.byname`.
    group: u32,
    /// Its id in `group.bygid`, unless an earlier group had its gid.
    by_gid: Option<u32>,
    gid: u32,
    /// Its password field, in the arena.
    passwd: Span,
}

/// A snapshot under construction; see the module documentation.
#[derive(Debug)]
pub struct SnapshotBuilder {
    domain: String,
    options: BuildOptions,
    hasher: RandomState,
    arena: Vec<u8>,
    tables: [TableBuilder; TABLES],
    /// Per user (by its id in `users.byname`): uid and primary gid.
    user_ids: Vec<(u32, u32)>,
    /// Per group (by its id in `group.byname`): its gid.
    group_gids: Vec<u32>,
    /// DNs and members, for groups with member DNs.
    members: Members,
    /// The canonical member DNs of the group being added, end to end,
    /// with where each ends.
    member_dns: (String, Vec<usize>),
    /// Groups whose member DNs wait for the last entry.
    pending: Vec<Pending>,
    /// For groups whose member DNs are resolved: per group id, where the
    /// users of its line's names are in the list (the user of each name,
    /// [`NOT_A_USER`] for a name given as a name), so that collecting
    /// memberships need not look each name up again.
    line_users: (Vec<(u32, u32)>, Vec<u32>),
    /// Per netid entry: the user's id.
    netid_users: Vec<u32>,
    extra_gids: GidLists,
    /// The classic maps (hosts, netgroups, automount, …).
    classic: Classic,
    /// The table whose sorting goes first in the next slice.
    turn: usize,
    report: BuildReport,
    phase: Phase,
    order: u32,
}

impl SnapshotBuilder {
    /// An empty builder for `domain`. With `like`, room for about as much
    /// as that snapshot holds is reserved at once, so a refresh of similar
    /// size never stops to grow a large buffer.
    pub fn new(domain: &str, options: BuildOptions, like: Option<&Snapshot>) -> SnapshotBuilder {
        let room = |n: usize| n + n / 8;
        let size = |t: usize| {
            like.and_then(|s| s.base.tables.get(t))
                .map_or(0, |t| room(t.keys.len()))
        };
        let tables = std::array::from_fn(|t| TableBuilder {
            // Every netid key is `unix.<uid>@<domain>` (add_netid_key).
            common: if t == NETID { "unix.".len() } else { 0 },
            ..TableBuilder::with_capacity(size(t))
        });
        SnapshotBuilder {
            domain: domain.to_owned(),
            options,
            hasher: RandomState::new(),
            arena: Vec::with_capacity(like.map_or(0, |s| room(s.base.arena.len()))),
            tables,
            user_ids: Vec::with_capacity(size(USERS_BY_NAME)),
            group_gids: Vec::with_capacity(size(GROUPS_BY_NAME)),
            members: Members::with_capacity(size(USERS_BY_NAME), size(GROUPS_BY_NAME)),
            member_dns: (String::new(), Vec::new()),
            pending: Vec::new(),
            line_users: (Vec::new(), Vec::new()),
            netid_users: Vec::with_capacity(size(NETID)),
            extra_gids: GidLists::default(),
            classic: Classic::default(),
            turn: 0,
            report: BuildReport::default(),
            phase: Phase::Receiving,
            order: 0,
        }
    }

    /// Entries received so far, kept or not.
    pub fn received(&self) -> usize {
        let records: usize = self.report.records.values().map(|c| c.received).sum();
        self.report.users_received + self.report.groups_received + records
    }

    /// Adds users, in arrival order (config order of directories, then
    /// LDAP order): the first of a name wins, and the first of a uid wins
    /// `*.byuid` and `netid.byname`. Entries after the end was declared
    /// are ignored.
    pub fn add_users(&mut self, users: &[User<'_>]) {
        if !matches!(self.phase, Phase::Receiving) {
            return;
        }
        self.report.users_received += users.len();
        for u in users {
            self.add_user(u);
        }
    }

    /// Adds groups, in arrival order (the first of a name wins, and the
    /// first of a gid wins `group.bygid`).
    pub fn add_groups(&mut self, groups: &[Group<'_>]) {
        if !matches!(self.phase, Phase::Receiving) {
            return;
        }
        self.report.groups_received += groups.len();
        for g in groups {
            self.add_group(g);
        }
    }

    /// Whether the arena can take `more` bytes (offsets are 32 bits).
    fn room(&self, more: usize) -> bool {
        self.arena
            .len()
            .checked_add(more)
            .is_some_and(|end| u32::try_from(end).is_ok())
    }

    fn add_user(&mut self, u: &User<'_>) {
        let dn = u.origin.dn.as_bytes();
        let drop = |b: &mut Self, r| b.report.drop_entry(EntryKind::User, dn, r);
        // The stored password's form is worked out once, for the check,
        // the lengths and the lines.
        let (shown, hash, locked) = passwords(u, &self.options);
        // The client checked it too; a peer is never trusted to have.
        // Checked: master.passwd and shadow lines at most MAX_LINE, and
        // the passwd line is never longer than the master.passwd one.
        let (master_len, shadow_len) = match u.check_with(hash) {
            Ok(lens) => lens,
            Err(v) => return drop(self, v.reason()),
        };
        if u.disabled && self.options.omit_disabled {
            return drop(self, DropReason::DisabledAccount);
        }
        let name = u.name.as_bytes();
        let Some(tag) = self.tables[USERS_BY_NAME].tag_if_new(&self.arena, &self.hasher, name)
        else {
            return drop(self, DropReason::DuplicateName);
        };
        if !self.room(2 * master_len + shadow_len) {
            return drop(self, DropReason::SnapshotFull);
        }
        let start = self.arena.len();
        let UserSpans {
            passwd,
            uid_key,
            master,
            shadow,
        } = write_user_lines(&mut self.arena, u, shown, hash);
        // All spans fit: lengths ≤ 1023, offsets checked by `room`.
        let mut vals = [Span::ABSENT; COLUMNS];
        vals[PASSWD] = passwd;
        vals[MASTER] = master;
        vals[SHADOW] = shadow;
        let Some(id) =
            self.tables[USERS_BY_NAME].insert_new(&self.arena, tag, span(start, name.len()), vals)
        else {
            self.arena.truncate(start);
            return drop(self, DropReason::SnapshotFull);
        };
        if let Some(r) = locked {
            *self.report.locked.entry(r).or_default() += 1;
        }
        self.user_ids.push((u.uid, u.gid));
        self.members.add_user(id, &u.origin.dn);

        let uid_bytes = uid_key.bytes(&self.arena).unwrap_or(&[]);
        let by_uid = &mut self.tables[USERS_BY_UID];
        let Some(uid_tag) = by_uid.tag_if_new(&self.arena, &self.hasher, uid_bytes) else {
            self.report.shadowed_uids += 1;
            return;
        };
        by_uid.insert_new(&self.arena, uid_tag, uid_key, vals);
        self.add_netid_key(u, id);
    }

    /// The uid and primary gid of the user with id `user`.
    fn ids_of(&self, user: u32) -> Option<(u32, u32)> {
        self.user_ids.get(user as usize).copied()
    }

    /// The user's `netid.byname` key; the value waits for every group.
    fn add_netid_key(&mut self, u: &User<'_>, user: u32) {
        let key_len = "unix.@".len() + 10 + self.domain.len();
        if key_len > YPMAXRECORD || !self.room(key_len) {
            let reason = if key_len > YPMAXRECORD {
                DropReason::NetidTooLong
            } else {
                DropReason::SnapshotFull
            };
            return self
                .report
                .drop_entry(EntryKind::User, u.origin.dn.as_bytes(), reason);
        }
        let start = self.arena.len();
        self.arena.extend_from_slice(b"unix.");
        push_decimal(&mut self.arena, u.uid.into());
        self.arena.push(b'@');
        self.arena.extend_from_slice(self.domain.as_bytes());
        let key = span(start, self.arena.len() - start);
        let tag = tag_of(&self.hasher, key.bytes(&self.arena).unwrap_or(&[]));
        if self.tables[NETID]
            .insert_new(&self.arena, tag, key, [Span::ABSENT; COLUMNS])
            .is_some()
        {
            self.netid_users.push(user);
        }
    }

    fn add_group(&mut self, g: &Group<'_>) {
        let dn = g.origin.dn.as_bytes();
        let drop = |b: &mut Self, r| b.report.drop_entry(EntryKind::Group, dn, r);
        // Checked, and each member DN's canonical form kept (one parse).
        let (mut buf, mut ends) = std::mem::take(&mut self.member_dns);
        buf.clear();
        ends.clear();
        let checked = g.check_with(&mut |d| {
            buf.push_str(d);
            ends.push(buf.len());
        });
        self.member_dns = (buf, ends);
        if let Err(v) = checked {
            return drop(self, v.reason());
        }
        let name = g.name.as_bytes();
        let Some(tag) = self.tables[GROUPS_BY_NAME].tag_if_new(&self.arena, &self.hasher, name)
        else {
            return drop(self, DropReason::DuplicateName);
        };
        if !g.member_dns.is_empty() {
            return self.add_pending_group(g, tag);
        }
        // name:passwd:gid:m1,m2,...
        let len = g.line_len();
        if !self.room(len) {
            return drop(self, DropReason::SnapshotFull);
        }
        let start = self.arena.len();
        let gid_key = write_group_line(&mut self.arena, g);
        let line_len = self.arena.len() - start;
        debug_assert_eq!(line_len, len);
        let vals = [span(start, line_len), Span::ABSENT, Span::ABSENT];
        if self.tables[GROUPS_BY_NAME]
            .insert_new(&self.arena, tag, span(start, name.len()), vals)
            .is_none()
        {
            self.arena.truncate(start);
            return drop(self, DropReason::SnapshotFull);
        }
        self.note_group(g);
        self.add_gid_key(gid_key, vals);
    }

    /// Notes a kept group for the member resolution (its DN for nested
    /// lookups, its members, the canonical member DNs its check left in
    /// `member_dns`) and its gid. True when its member DNs all name users
    /// read before it, so its line can be written now.
    fn note_group(&mut self, g: &Group<'_>) -> bool {
        let id = u32::try_from(self.group_gids.len()).unwrap_or(u32::MAX);
        self.group_gids.push(g.gid);
        let (buf, ends) = &self.member_dns;
        let dns = ends.iter().scan(0, |start, &end| {
            let dn = buf.get(*start..end).unwrap_or("");
            *start = end;
            Some(dn)
        });
        self.members
            .add_group(id, &g.origin.dn, g.members.iter().map(|m| &**m), dns)
    }

    /// Adds a group's `group.bygid` key (the first of a gid wins); its id
    /// there, if it was added.
    fn add_gid_key(&mut self, gid_key: Span, vals: [Span; COLUMNS]) -> Option<u32> {
        let gid_bytes = gid_key.bytes(&self.arena).unwrap_or(&[]);
        let by_gid = &mut self.tables[GROUPS_BY_GID];
        match by_gid.tag_if_new(&self.arena, &self.hasher, gid_bytes) {
            Some(gid_tag) => by_gid.insert_new(&self.arena, gid_tag, gid_key, vals),
            None => {
                self.report.shadowed_gids += 1;
                None
            }
        }
    }

    /// A group with member DNs: its keys now (so the first of a name or a
    /// gid wins, as for any group), its line now if its member DNs all
    /// name users read before it, else once every entry is in.
    fn add_pending_group(&mut self, g: &Group<'_>, tag: u32) {
        let dn = g.origin.dn.as_bytes();
        let name = g.name.as_bytes();
        if !self.room(name.len() + g.passwd.len() + 10) {
            return self
                .report
                .drop_entry(EntryKind::Group, dn, DropReason::SnapshotFull);
        }
        let a = &mut self.arena;
        let name_key = span(a.len(), name.len());
        a.extend_from_slice(name);
        let passwd = span(a.len(), g.passwd.len());
        a.extend_from_slice(g.passwd.as_bytes());
        let gid_at = a.len();
        let gid_len = push_decimal(a, g.gid.into());
        let gid_key = span(gid_at, usize::from(gid_len));
        let absent = [Span::ABSENT; COLUMNS];
        let Some(group) =
            self.tables[GROUPS_BY_NAME].insert_new(&self.arena, tag, name_key, absent)
        else {
            return self
                .report
                .drop_entry(EntryKind::Group, dn, DropReason::SnapshotFull);
        };
        let ready = self.note_group(g);
        let by_gid = self.add_gid_key(gid_key, absent);
        let p = Pending {
            group,
            by_gid,
            gid: g.gid,
            passwd,
        };
        if ready {
            self.resolve_pending(p);
        } else {
            self.pending.push(p);
        }
    }

    /// Writes the line of a group whose member DNs are resolved, or drops
    /// it when the line would be too long.
    fn resolve_pending(&mut self, p: Pending) {
        let users = &self.tables[USERS_BY_NAME].table;
        let arena = &self.arena;
        let user_name = |id: u32| users.key(arena, id);
        let name_key = self.tables[GROUPS_BY_NAME].table.keys.get(p.group as usize);
        let name = name_key.map_or(0..0, |&k| range_in(arena, k));
        let passwd = range_in(arena, p.passwd);
        let head = group_head_len(name.len(), passwd.len(), p.gid);
        let budget = MAX_LINE.saturating_sub(head);
        let names = self
            .members
            .resolve(p.group, self.options.nesting, budget, &user_name);
        let Some((names, ids)) = names else {
            let dn = self.members.dn_of(p.group);
            return self
                .report
                .drop_entry(EntryKind::Group, dn, DropReason::LineTooLong);
        };
        let len = head + names.len();
        let room = self
            .arena
            .len()
            .checked_add(len)
            .is_some_and(|end| u32::try_from(end).is_ok());
        if !room {
            let dn = self.members.dn_of(p.group);
            return self
                .report
                .drop_entry(EntryKind::Group, dn, DropReason::SnapshotFull);
        }
        // name:passwd:gid:names, the name and password copied from
        // earlier in the arena.
        let a = &mut self.arena;
        let start = a.len();
        a.extend_from_within(name);
        a.push(b':');
        a.extend_from_within(passwd);
        a.push(b':');
        push_decimal(a, p.gid.into());
        a.push(b':');
        a.extend_from_slice(names);
        let line = span(start, a.len() - start);
        let (runs, users) = &mut self.line_users;
        let from = u32::try_from(users.len()).unwrap_or(u32::MAX);
        users.extend_from_slice(ids);
        let to = u32::try_from(users.len()).unwrap_or(u32::MAX);
        let g = p.group as usize;
        if runs.len() <= g {
            runs.resize(g + 1, (0, 0));
        }
        if let Some(run) = runs.get_mut(g) {
            *run = (from, to);
        }
        if let Some(v) = self.tables[GROUPS_BY_NAME]
            .table
            .vals
            .get_mut(p.group as usize)
        {
            v[0] = line;
        }
        if let Some(v) = p
            .by_gid
            .and_then(|id| self.tables[GROUPS_BY_GID].table.vals.get_mut(id as usize))
        {
            v[0] = line;
        }
    }

    /// Puts what resolving the member DNs did in the report.
    fn note_member_counts(&mut self) {
        self.report.members = self.members.counts;
        self.report.unresolved = std::mem::take(&mut self.members.samples);
    }

    /// Declares that every entry has arrived; `order` is the ORDER number
    /// (seconds since the epoch) the snapshot will carry.
    pub fn end_of_entries(&mut self, order: u32) {
        if matches!(self.phase, Phase::Receiving) {
            self.order = order;
            self.phase = if self.pending.is_empty() {
                self.note_member_counts();
                Phase::GroupOrder
            } else {
                Phase::Resolving { next: 0 }
            };
        }
    }

    /// Does at most about `budget` steps of work (one step is about one
    /// comparison, one moved id or one group member).
    pub fn step(&mut self, budget: usize) -> Step {
        let mut used = 0;
        while used < budget {
            let left = budget - used;
            match &mut self.phase {
                Phase::Receiving => {
                    // Each table in turn first, so none falls behind.
                    let count = TABLES + self.classic.tables.len();
                    self.turn = (self.turn + 1) % count;
                    let mut did = 0;
                    for k in 0..count {
                        let i = (self.turn + k) % count;
                        let t = match i.checked_sub(TABLES) {
                            None => self.tables.get_mut(i),
                            Some(c) => self.classic.tables.get_mut(c).map(|(_, t)| t),
                        };
                        if let Some(t) = t {
                            if did < left {
                                did += t.sort(&self.arena, left - did, false);
                            }
                        }
                    }
                    if did == 0 {
                        return Step::Idle;
                    }
                    used += did;
                }
                Phase::Resolving { next } => {
                    let from = *next;
                    let to = from
                        .saturating_add(left.div_ceil(64))
                        .min(self.pending.len());
                    for i in from..to {
                        if let Some(&p) = self.pending.get(i) {
                            self.resolve_pending(p);
                        }
                    }
                    used += (to - from) * 64;
                    self.phase = if to < self.pending.len() {
                        Phase::Resolving { next: to }
                    } else {
                        self.note_member_counts();
                        Phase::GroupOrder
                    };
                }
                Phase::GroupOrder => {
                    let groups = &mut self.tables[GROUPS_BY_NAME];
                    used += groups.sort(&self.arena, left, true).max(1);
                    if groups.sorter.is_sorted() {
                        groups.settle(&self.arena);
                        self.phase = Phase::Memberships {
                            pos: 0,
                            member: 0,
                            nth: 0,
                        };
                    }
                }
                Phase::Memberships { pos, member, nth } => {
                    let at = (*pos, *member, *nth);
                    let (next, did) = self.collect_memberships(at, left);
                    used += did.max(1);
                    self.phase = match next {
                        Some((pos, member, nth)) => Phase::Memberships { pos, member, nth },
                        None => {
                            self.line_users = (Vec::new(), Vec::new());
                            Phase::NetidValues { next: 0 }
                        }
                    };
                }
                Phase::NetidValues { next } => {
                    let from = *next;
                    let (to, did) = self.write_netid_values(from, left);
                    used += did.max(1);
                    self.phase = if to < self.netid_users.len() {
                        Phase::NetidValues { next: to }
                    } else {
                        // Not needed any more: free it before the last
                        // merges, when memory use peaks.
                        self.extra_gids = GidLists::default();
                        self.netid_users = Vec::new();
                        self.user_ids = Vec::new();
                        self.group_gids = Vec::new();
                        if self.classic.has_netgroups() {
                            Phase::ReverseNetgroups { next: 0 }
                        } else {
                            self.finish_classic();
                            Phase::Sorting
                        }
                    };
                }
                Phase::ReverseNetgroups { next } => {
                    let from = *next;
                    let (next, did) = self.reverse_netgroups(from, left);
                    used += did.max(1);
                    self.phase = match next {
                        Some(next) => Phase::ReverseNetgroups { next },
                        None => Phase::ReverseWrite { map: 0, next: 0 },
                    };
                }
                Phase::ReverseWrite { map, next } => {
                    let (map, from) = (*map, *next);
                    let (next, did) = self.write_reverse(map, from, left);
                    used += did.max(1);
                    self.phase = match next {
                        Some((map, next)) => Phase::ReverseWrite { map, next },
                        None => {
                            self.finish_classic();
                            Phase::Sorting
                        }
                    };
                }
                Phase::Sorting => {
                    let mut did = 0;
                    let others = self.classic.tables.iter_mut().map(|(_, t)| t);
                    for t in self.tables.iter_mut().chain(others) {
                        if did < left && t.sorter.has_work(true) {
                            did += t.sort(&self.arena, left - did, true);
                        }
                    }
                    let others = self.classic.tables.iter().map(|(_, t)| t);
                    if self
                        .tables
                        .iter()
                        .chain(others)
                        .all(|t| t.sorter.is_sorted())
                    {
                        self.phase = Phase::Ready;
                    }
                    used += did.max(1);
                }
                Phase::Ready => return Step::Ready,
            }
        }
        match self.phase {
            Phase::Ready => Step::Ready,
            _ => Step::Busy,
        }
    }

    /// Adds the gids of groups in name order from (`pos`, `member`) on to
    /// their members' lists, for up to `budget` members. Returns where to
    /// go on (`None`: done) and the members handled.
    fn collect_memberships(
        &mut self,
        (mut pos, mut member, mut nth): (usize, usize, usize),
        budget: usize,
    ) -> (Option<(usize, usize, usize)>, usize) {
        let groups = &self.tables[GROUPS_BY_NAME].table;
        let users = &self.tables[USERS_BY_NAME].table;
        let (runs, line_users) = &self.line_users;
        let mut did = 0;
        while did < budget {
            let Some(&group) = groups.sorted.get(pos) else {
                return (None, did);
            };
            let line = groups
                .vals
                .get(group as usize)
                .and_then(|v| v[0].bytes(&self.arena))
                .unwrap_or(&[]);
            // name:passwd:gid:members (no field before the members has ':').
            let list = line.splitn(4, |&b| b == b':').nth(3).unwrap_or(&[]);
            let gid = self.group_gids.get(group as usize).copied();
            let rest = list.get(member..).unwrap_or(&[]);
            let Some(name) = rest.split(|&b| b == b',').next().filter(|n| !n.is_empty()) else {
                pos += 1;
                member = 0;
                nth = 0;
                continue;
            };
            member += name.len() + 1;
            // The user of a resolved member DN is known; a name is looked up.
            let known = runs
                .get(group as usize)
                .filter(|&&(from, to)| from < to)
                .and_then(|&(from, to)| {
                    let i = from as usize + nth;
                    line_users.get(i).filter(|_| i < to as usize)
                })
                .filter(|&&u| u != NOT_A_USER);
            nth += 1;
            did += 1;
            let user = match known {
                Some(&u) => Some(u),
                None => users.find(&self.arena, &self.hasher, name),
            };
            let (Some(gid), Some(user)) = (gid, user) else {
                continue;
            };
            let primary = self.ids_of(user).map(|(_, gid)| gid);
            if primary != Some(gid) {
                self.extra_gids.add(user, gid);
            }
        }
        (Some((pos, member, nth)), did)
    }

    /// Writes the netid lines of entries `from..` for up to `budget`
    /// entries; returns where to go on and the entries written.
    fn write_netid_values(&mut self, from: usize, budget: usize) -> (usize, usize) {
        let to = from.saturating_add(budget).min(self.netid_users.len());
        for n in from..to {
            let Some(&user) = self.netid_users.get(n) else {
                break;
            };
            let (uid, gid) = self.ids_of(user).unwrap_or((0, 0));
            let start = self.arena.len();
            let a = &mut self.arena;
            push_decimal(a, uid.into());
            a.push(b':');
            push_decimal(a, gid.into());
            for g in self.extra_gids.iter(user) {
                if a.len() - start > MAX_LINE {
                    break;
                }
                a.push(b',');
                push_decimal(a, g.into());
            }
            let len = a.len() - start;
            let fits = u32::try_from(a.len()).is_ok();
            if len > MAX_LINE || !fits {
                a.truncate(start);
                let name = self.tables[USERS_BY_NAME]
                    .table
                    .key(&self.arena, user)
                    .to_vec();
                let reason = if fits {
                    DropReason::NetidTooLong
                } else {
                    DropReason::SnapshotFull
                };
                self.report.drop_entry(EntryKind::User, &name, reason);
                continue;
            }
            if let Some(v) = self.tables[NETID].table.vals.get_mut(n) {
                v[0] = span(start, len);
            }
        }
        (to, to - from)
    }

    /// The snapshot and what the build did. Anything not yet done is done
    /// now, without a bound.
    pub fn finish(mut self) -> (Snapshot, BuildReport) {
        if matches!(self.phase, Phase::Receiving) {
            self.end_of_entries(0);
        }
        while self.step(usize::MAX / 2) != Step::Ready {}
        let arena = self.arena;
        let mut tables = self.tables.map(|t| t.into_table(&arena));
        let others = std::mem::take(&mut self.classic.tables)
            .into_iter()
            .map(|(m, t)| (m, Arc::new(t.into_table(&arena))))
            .collect();
        // Keys without a line are left out: netid lines too long, groups
        // whose resolved members made the line too long.
        for t in [NETID, GROUPS_BY_NAME, GROUPS_BY_GID] {
            let table = &mut tables[t];
            let vals = &table.vals;
            table
                .sorted
                .retain(|&id| vals.get(id as usize).is_some_and(|v| v[0] != Span::ABSENT));
        }
        let tables = tables.map(Arc::new);
        let mut report = self.report;
        report.users_kept = tables[USERS_BY_NAME].keys.len();
        report.groups_kept = tables[GROUPS_BY_NAME].sorted.len();
        report.netid_entries = tables[NETID].sorted.len();
        let snapshot = Snapshot::from_base(
            crate::snapshot::Base {
                arena,
                tables,
                others,
                hasher: self.hasher,
                domain: self.domain,
                stale: 0,
            },
            self.order,
        );
        (snapshot, report)
    }
}

impl Snapshot {
    /// Builds the maps from one update's entries at once, in arrival order
    /// (config order of directories, then LDAP order). `order` is the
    /// ORDER number (seconds since the epoch of the build).
    pub fn build(
        domain: &str,
        users: &[User<'_>],
        groups: &[Group<'_>],
        order: u32,
    ) -> (Snapshot, BuildReport) {
        let mut b = SnapshotBuilder::new(domain, BuildOptions::default(), None);
        b.add_users(users);
        b.add_groups(groups);
        b.end_of_entries(order);
        b.finish()
    }

    /// [`Snapshot::build`] with the current time as ORDER number.
    pub fn build_now(
        domain: &str,
        users: &[User<'_>],
        groups: &[Group<'_>],
    ) -> (Snapshot, BuildReport) {
        Self::build(domain, users, groups, now_order())
    }
}

/// The ORDER number for a snapshot built now: seconds since the epoch.
pub fn now_order() -> u32 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    u32::try_from(now).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maps::MapName;
    use crate::members::Unresolved;
    use crate::snapshot::tests::{group, user};
    use entry_rules::Origin;
    use proptest::prelude::*;

    fn maps(s: &Snapshot) -> Vec<Vec<(Vec<u8>, Vec<u8>)>> {
        MapName::ALL
            .iter()
            .map(|&m| s.iter(m).map(|(k, v)| (k.to_vec(), v.to_vec())).collect())
            .collect()
    }

    proptest! {
        /// Ordering by prefix first, then in full, is byte order, for keys
        /// that share long beginnings, are prefixes of each other, hold
        /// NULs or bytes above 0x7f.
        #[test]
        fn prefix_order_is_byte_order(keys in proptest::collection::vec(
            proptest::collection::vec(prop_oneof![Just(0u8), Just(b'a'), Just(b'b'), Just(0xffu8)], 0..12),
            2..40,
        )) {
            let mut arena = Vec::new();
            let mut table = Table::default();
            for k in &keys {
                let off = u32::try_from(arena.len()).unwrap();
                arena.extend_from_slice(k);
                table.keys.push(Span { off, len: u16::try_from(k.len()).unwrap() });
            }
            let prefixes: Vec<u64> = keys.iter().map(|k| key_prefix(k)).collect();
            let order = prefix_order(&table, &prefixes, &arena);
            for a in 0..keys.len() {
                for b in 0..keys.len() {
                    let (ia, ib) = (u32::try_from(a).unwrap(), u32::try_from(b).unwrap());
                    prop_assert_eq!(order(ia, ib), keys[a].cmp(&keys[b]));
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Fed in batches with small slices of work in between, presized
        /// or not, a builder makes exactly what one whole build makes.
        #[test]
        fn slices_make_the_same_snapshot(
            us in proptest::collection::vec(("[a-f]{1,3}", 0u32..40, 0u32..5), 0..150),
            gs in proptest::collection::vec(("[a-f]{1,2}", 0u32..8, proptest::collection::vec("[a-f]{1,3}", 0..5)), 0..40),
            batch in 1usize..40,
            budget in 1usize..200,
            presize in any::<bool>(),
        ) {
            let users: Vec<_> = us.iter().map(|(n, uid, gid)| user(n, *uid, *gid)).collect();
            let groups: Vec<_> = gs.iter().map(|(n, gid, m)| {
                group(n, *gid, &m.iter().map(String::as_str).collect::<Vec<_>>())
            }).collect();
            let (whole, whole_rep) = Snapshot::build("d", &users, &groups, 9);
            let mut b = SnapshotBuilder::new("d", BuildOptions::default(), presize.then_some(&whole));
            for chunk in users.chunks(batch) {
                b.add_users(chunk);
                prop_assert_ne!(b.step(budget), Step::Ready);
            }
            for chunk in groups.chunks(batch) {
                b.add_groups(chunk);
                b.step(budget);
            }
            prop_assert_eq!(b.received(), users.len() + groups.len());
            b.end_of_entries(9);
            let mut turns = 0;
            while b.step(budget) != Step::Ready {
                turns += 1;
                prop_assert!(turns < 100_000);
            }
            let (sliced, rep) = b.finish();
            prop_assert_eq!(maps(&sliced), maps(&whole));
            prop_assert_eq!(rep, whole_rep);
            for m in MapName::ALL {
                for (k, v) in whole.iter(m) {
                    prop_assert_eq!(sliced.get(m, k), Some(v));
                }
            }
        }
    }

    fn dn_group(name: &str, gid: u32, names: &[&str], dns: &[&str]) -> Group<'static> {
        Group {
            member_dns: dns.iter().map(|&d| d.to_owned().into()).collect(),
            ..group(name, gid, names)
        }
    }

    fn line(s: &Snapshot, map: MapName, key: &str) -> Option<String> {
        s.get(map, key.as_bytes())
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }

    /// What the member DNs of an update resolve to, the plain way: every
    /// entry in first, then each group with member DNs in arrival order,
    /// looked up in maps of every DN (the first user, then the first
    /// group, of a DN). The oracle of the builder, which resolves what it
    /// can as the entries arrive.
    mod oracle {
        use std::collections::{HashMap, HashSet};

        use entry_rules::dn::Dn;
        use entry_rules::{Group, MAX_LINE, User};

        use crate::members::{MemberCounts, Unresolved};

        /// One batch of the update, in arrival order.
        pub enum Batch {
            Users(Vec<User<'static>>),
            Groups(Vec<Group<'static>>),
        }

        struct Kept {
            raw_dn: String,
            names: Vec<String>,
            dns: Vec<String>,
        }

        pub struct Resolved {
            /// Per kept group with member DNs: its name, and its member
            /// names (`None`: dropped as too long).
            pub lines: Vec<(String, Option<String>)>,
            pub counts: MemberCounts,
            pub samples: Vec<Unresolved>,
        }

        fn canonical(dn: &str) -> Option<String> {
            Dn::parse_member(dn).ok().map(|d| d.normalized().to_owned())
        }

        pub fn resolve(batches: &[Batch], nesting: u32) -> Resolved {
            let mut user_names = HashSet::new();
            let mut users: Vec<String> = Vec::new();
            let mut user_by_dn: HashMap<String, usize> = HashMap::new();
            let mut group_names = HashSet::new();
            let mut groups: Vec<Kept> = Vec::new();
            let mut group_by_dn: HashMap<String, usize> = HashMap::new();
            let mut pending = Vec::new();
            for b in batches {
                match b {
                    Batch::Users(us) => {
                        for u in us {
                            if !user_names.insert(u.name.to_string()) {
                                continue;
                            }
                            if let Some(dn) = canonical(&u.origin.dn) {
                                user_by_dn.entry(dn).or_insert(users.len());
                            }
                            users.push(u.name.to_string());
                        }
                    }
                    Batch::Groups(gs) => {
                        for g in gs {
                            if !group_names.insert(g.name.to_string()) {
                                continue;
                            }
                            if let Some(dn) = canonical(&g.origin.dn) {
                                group_by_dn.entry(dn).or_insert(groups.len());
                            }
                            if !g.member_dns.is_empty() {
                                let head = g.name.len()
                                    + g.passwd.len()
                                    + entry_rules::decimal_len(g.gid)
                                    + 3;
                                pending.push((groups.len(), g.name.to_string(), head));
                            }
                            groups.push(Kept {
                                raw_dn: g.origin.dn.to_string(),
                                names: g.members.iter().map(|m| m.to_string()).collect(),
                                dns: g.member_dns.iter().filter_map(|d| canonical(d)).collect(),
                            });
                        }
                    }
                }
            }
            let mut r = Resolver {
                users: &users,
                user_by_dn: &user_by_dn,
                groups: &groups,
                group_by_dn: &group_by_dn,
                counts: MemberCounts::default(),
                samples: Vec::new(),
            };
            let mut lines = Vec::new();
            for (g, name, head) in pending {
                let mut out = Out {
                    names: Vec::new(),
                    len: 0,
                    budget: MAX_LINE.saturating_sub(head),
                    visited: HashSet::new(),
                    stack: HashSet::new(),
                };
                let complete = r.expand(g, nesting, &mut out);
                lines.push((name, complete.then(|| out.names.join(","))));
            }
            Resolved {
                lines,
                counts: r.counts,
                samples: r.samples,
            }
        }

        struct Out {
            names: Vec<String>,
            len: usize,
            budget: usize,
            visited: HashSet<usize>,
            stack: HashSet<usize>,
        }

        impl Out {
            fn add(&mut self, name: &str) -> bool {
                if self.names.iter().any(|n| n == name) {
                    return true;
                }
                self.len += name.len() + usize::from(!self.names.is_empty());
                if self.len > self.budget {
                    return false;
                }
                self.names.push(name.to_owned());
                true
            }
        }

        struct Resolver<'a> {
            users: &'a [String],
            user_by_dn: &'a HashMap<String, usize>,
            groups: &'a [Kept],
            group_by_dn: &'a HashMap<String, usize>,
            counts: MemberCounts,
            samples: Vec<Unresolved>,
        }

        impl Resolver<'_> {
            fn expand(&mut self, g: usize, depth_left: u32, out: &mut Out) -> bool {
                out.visited.insert(g);
                out.stack.insert(g);
                let group = &self.groups[g];
                let mut complete = group.names.iter().all(|n| out.add(n));
                if complete {
                    for dn in &group.dns {
                        if let Some(&u) = self.user_by_dn.get(dn) {
                            self.counts.resolved += 1;
                            if !out.add(&self.users[u]) {
                                complete = false;
                                break;
                            }
                        } else if let Some(&n) = self.group_by_dn.get(dn) {
                            if depth_left == 0 || out.stack.contains(&n) {
                                self.counts.cut += 1;
                            } else if !out.visited.contains(&n) {
                                self.counts.nested += 1;
                                if !self.expand(n, depth_left - 1, out) {
                                    complete = false;
                                    break;
                                }
                            }
                        } else {
                            self.counts.unresolved += 1;
                            if self.samples.len() < 20 {
                                self.samples.push(Unresolved {
                                    group_dn: group.raw_dn.clone(),
                                    member_dn: dn.clone(),
                                });
                            }
                        }
                    }
                }
                out.stack.remove(&g);
                complete
            }
        }
    }

    /// A DN among a few, written in one of several ways.
    fn some_dn(kind: &str, name: &str, style: u8) -> String {
        match style % 3 {
            0 => format!("{kind}={name},dc=t"),
            1 => format!("{} = {} ,DC=T", kind.to_uppercase(), name.to_uppercase()),
            _ => format!("{kind}=\\{:02x}{},dc=t", name.as_bytes()[0], &name[1..]),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// Member DNs resolved as entries arrive give what resolving them
        /// all after the last entry gives: the same names in the same
        /// order, the same counts and unresolved samples, the same groups
        /// dropped as too long. Users may come after groups (another
        /// directory), DNs may name a user and a group at once, users may
        /// share a DN, groups may nest, loop or name nothing.
        #[test]
        fn resolving_as_entries_arrive_matches_the_oracle(
            batches in proptest::collection::vec(
                (
                    any::<bool>(),
                    proptest::collection::vec(
                        ("[a-e]{1,2}", "[a-f]", 0u8..3, any::<bool>(), 0u32..4,
                         proptest::collection::vec("[a-e]{1,2}", 0..3),
                         proptest::collection::vec(("[a-f]", 0u8..6, 0u8..3), 0..12)),
                        0..8,
                    ),
                ),
                0..8,
            ),
            nesting in 0u32..4,
            long in any::<bool>(),
        ) {
            // Long names make some lines too long to serve.
            let pad = if long { "x".repeat(150) } else { String::new() };
            let mut uid = 0;
            let batches: Vec<oracle::Batch> = batches
                .iter()
                .map(|(users, entries)| {
                    if *users {
                        oracle::Batch::Users(entries.iter().map(|(name, dn, style, _, gid, _, _)| {
                            uid += 1;
                            User {
                                origin: Origin { dn: some_dn("uid", dn, *style).into(), uuid: None },
                                ..user(&format!("{name}{pad}"), uid, *gid)
                            }
                        }).collect())
                    } else {
                        oracle::Batch::Groups(entries.iter().map(|(name, dn, style, as_cn, gid, names, dns)| {
                            let names: Vec<&str> = names.iter().map(String::as_str).collect();
                            let own = some_dn(if *as_cn { "cn" } else { "uid" }, dn, *style);
                            let dns: Vec<String> = dns.iter().map(|(n, kind, style)| match kind {
                                0..=2 => some_dn("uid", n, *style),
                                3..=4 => some_dn("cn", n, *style),
                                _ => format!("ou={n},dc=t"),
                            }).collect();
                            let dns: Vec<&str> = dns.iter().map(String::as_str).collect();
                            Group {
                                origin: Origin { dn: own.into(), uuid: None },
                                ..dn_group(name, 100 + gid, &names, &dns)
                            }
                        }).collect())
                    }
                })
                .collect();
            let want = oracle::resolve(&batches, nesting);
            let options = BuildOptions { nesting, ..BuildOptions::default() };
            let mut b = SnapshotBuilder::new("d", options, None);
            for batch in &batches {
                match batch {
                    oracle::Batch::Users(us) => b.add_users(us),
                    oracle::Batch::Groups(gs) => b.add_groups(gs),
                }
                b.step(64);
            }
            let (s, rep) = b.finish();
            for (name, names) in &want.lines {
                let got = line(&s, MapName::GroupByName, name);
                let got_names = got.as_deref().map(|l| l.splitn(4, ':').nth(3).unwrap_or("").to_owned());
                prop_assert_eq!(&got_names, names, "group {}", name);
            }
            prop_assert_eq!(rep.members, want.counts);
            prop_assert_eq!(rep.unresolved, want.samples);
            // netid.byname: each user's groups as the group lines list
            // them, in group name order, the primary gid left out.
            let field = |l: &[u8], i: usize| {
                String::from_utf8_lossy(l.split(|&b| b == b':').nth(i).unwrap_or(&[])).into_owned()
            };
            for (_, pw) in s.iter(MapName::PasswdByName) {
                let (name, uid, gid) = (field(pw, 0), field(pw, 2), field(pw, 3));
                let mut gids: Vec<String> = Vec::new();
                for (_, gl) in s.iter(MapName::GroupByName) {
                    let g = field(gl, 2);
                    let member = field(gl, 3).split(',').any(|n| n == name);
                    if member && g != gid && !gids.contains(&g) {
                        gids.push(g);
                    }
                }
                let mut want_netid = format!("{uid}:{gid}");
                for g in &gids {
                    want_netid.push(',');
                    want_netid.push_str(g);
                }
                let key = format!("unix.{uid}@d");
                let got = line(&s, MapName::NetidByName, &key);
                prop_assert_eq!(got.as_deref(), Some(want_netid.as_str()), "{}", key);
            }
        }
    }

    #[test]
    fn member_dns_resolve_to_names_nested_groups_included() {
        // testdata DNs: uid=NAME,dc=example,dc=com and cn=NAME,dc=example,dc=com
        let users = [
            user("alice", 1, 10),
            user("bob", 2, 10),
            user("carol", 3, 10),
        ];
        let groups = [
            // memberUid names first, then the DN members in order, each once.
            dn_group(
                "staff",
                20,
                &["carol"],
                &[
                    "UID=Bob, DC=Example,dc=com",
                    "uid=alice,dc=example,dc=com",
                    "uid=carol,dc=example,dc=com",
                ],
            ),
            // A nested group, and a DN naming nothing.
            dn_group(
                "all",
                21,
                &[],
                &["cn=staff,dc=example,dc=com", "uid=ghost,dc=example,dc=com"],
            ),
            // A cycle: top -> mid -> top.
            dn_group("top", 22, &["alice"], &["cn=mid,dc=example,dc=com"]),
            dn_group("mid", 23, &["bob"], &["cn=top,dc=example,dc=com"]),
            // A group that contains itself.
            dn_group("self", 24, &["carol"], &["cn=self,dc=example,dc=com"]),
            // memberUid-only groups can be nested too.
            group("plain", 25, &["dave"]),
            dn_group("outer", 26, &[], &["cn=plain,dc=example,dc=com"]),
        ];
        let (s, rep) = Snapshot::build("d", &users, &groups, 1);
        let g = |k: &str| line(&s, MapName::GroupByName, k);
        assert_eq!(g("staff").as_deref(), Some("staff:*:20:carol,bob,alice"));
        assert_eq!(g("all").as_deref(), Some("all:*:21:carol,bob,alice"));
        assert_eq!(g("top").as_deref(), Some("top:*:22:alice,bob"));
        assert_eq!(g("mid").as_deref(), Some("mid:*:23:bob,alice"));
        assert_eq!(g("self").as_deref(), Some("self:*:24:carol"));
        assert_eq!(g("outer").as_deref(), Some("outer:*:26:dave"));
        assert_eq!(
            line(&s, MapName::GroupByGid, "21").as_deref(),
            Some("all:*:21:carol,bob,alice")
        );
        assert_eq!(rep.members.unresolved, 1);
        assert_eq!(
            rep.unresolved,
            [Unresolved {
                group_dn: "cn=all,dc=example,dc=com".into(),
                member_dn: "uid=ghost,dc=example,dc=com".into(),
            }]
        );
        assert_eq!(rep.members.cut, 3, "top<->mid twice, self once");
        assert!(
            rep.members.nested >= 4 && rep.members.resolved >= 5,
            "{:?}",
            rep.members
        );
        // netid: every group a user ends up in, nested ones included.
        assert_eq!(
            line(&s, MapName::NetidByName, "unix.1@d").as_deref(),
            Some("1:10,21,23,20,22")
        );
        assert_eq!(rep.groups_kept, groups.len());
    }

    #[test]
    fn nesting_depth_and_long_lines() {
        // A chain g0 <- g1 <- ... : gN lists g(N-1); g0 lists alice.
        let users = [user("alice", 1, 10)];
        let mut groups = vec![dn_group("g0", 100, &["alice"], &[])];
        for i in 1..10_000u32 {
            let prev = format!("cn=g{},dc=example,dc=com", i - 1);
            groups.push(dn_group(&format!("g{i}"), 100 + i, &[], &[&prev]));
        }
        let (s, rep) = Snapshot::build("d", &users, &groups, 1);
        // The default depth (10): g10 still has alice, g11 not.
        let g = |k: &str| line(&s, MapName::GroupByName, k);
        assert_eq!(g("g10").as_deref(), Some("g10:*:110:alice"));
        assert_eq!(g("g11").as_deref(), Some("g11:*:111:"));
        assert_eq!(rep.groups_kept, 10_000);
        assert!(rep.members.cut > 9_000);
        // With nesting 0 no nested group's members are taken.
        let mut b = SnapshotBuilder::new(
            "d",
            BuildOptions {
                nesting: 0,
                ..BuildOptions::default()
            },
            None,
        );
        b.add_users(&users);
        b.add_groups(&groups[..3]);
        let (s, _) = b.finish();
        assert_eq!(
            line(&s, MapName::GroupByName, "g1").as_deref(),
            Some("g1:*:101:")
        );

        // 300 members resolved: the line would pass 1023 bytes, so the
        // group is dropped (both maps), not cut, and the rest is kept.
        let many: Vec<_> = (0..300)
            .map(|i| user(&format!("user{i:04}"), 1000 + i, 10))
            .collect();
        let dns: Vec<String> = (0..300)
            .map(|i| format!("uid=user{i:04},dc=example,dc=com"))
            .collect();
        let dns: Vec<&str> = dns.iter().map(String::as_str).collect();
        let groups = [
            dn_group("big", 7, &[], &dns),
            dn_group("small", 8, &[], &dns[..3]),
        ];
        let (s, rep) = Snapshot::build("d", &many, &groups, 1);
        assert_eq!(line(&s, MapName::GroupByName, "big"), None);
        assert_eq!(line(&s, MapName::GroupByGid, "7"), None);
        assert_eq!(s.len(MapName::GroupByName), 1);
        assert_eq!(s.iter(MapName::GroupByGid).count(), 1);
        assert_eq!(rep.drops.get(&DropReason::LineTooLong), Some(&1));
        assert_eq!(rep.groups_kept, 1);
        assert_eq!(
            line(&s, MapName::GroupByName, "small").as_deref(),
            Some("small:*:8:user0000,user0001,user0002")
        );
    }

    #[test]
    fn disabled_accounts_resolve_but_cannot_log_in() {
        let mut off = user("off", 9, 10);
        off.passwd = "$6$salt$hash".into();
        off.disabled = true;
        let users = [user("on", 8, 10), off];
        let (s, rep) = Snapshot::build("d", &users, &[], 1);
        assert_eq!(
            line(&s, MapName::PasswdByName, "off").as_deref(),
            Some("off:x:9:10:User off:/home/off:/bin/sh")
        );
        assert_eq!(
            line(&s, MapName::MasterPasswdByName, "off").as_deref(),
            Some("off:*:9:10::0:86400:User off:/home/off:/bin/sh")
        );
        assert_eq!(
            line(&s, MapName::ShadowByName, "off").as_deref(),
            Some("off:*::::::1:")
        );
        assert_eq!(rep.locked.get(&LockReason::Disabled), Some(&1));
        let mut b = SnapshotBuilder::new(
            "d",
            BuildOptions {
                omit_disabled: true,
                ..BuildOptions::default()
            },
            None,
        );
        b.add_users(&users);
        let (s, rep) = b.finish();
        assert_eq!(line(&s, MapName::PasswdByName, "off"), None);
        assert_eq!(s.len(MapName::PasswdByName), 1);
        assert_eq!(rep.drops.get(&DropReason::DisabledAccount), Some(&1));
    }

    #[test]
    fn entries_after_the_end_are_ignored() {
        let mut b = SnapshotBuilder::new("d", BuildOptions::default(), None);
        b.add_users(&[user("a", 1, 1)]);
        b.end_of_entries(5);
        b.add_users(&[user("b", 2, 1)]);
        b.add_groups(&[group("g", 1, &[])]);
        let (s, rep) = b.finish();
        assert_eq!(s.len(MapName::PasswdByName), 1);
        assert_eq!(s.len(MapName::GroupByName), 0);
        assert_eq!(rep.users_received, 1);
        assert_eq!(s.order(), 5);
    }

    #[test]
    fn idle_when_nothing_to_sort() {
        let mut b = SnapshotBuilder::new("d", BuildOptions::default(), None);
        assert_eq!(b.step(100), Step::Idle);
        b.add_users(&[user("a", 1, 1)]);
        assert_eq!(b.step(100), Step::Idle);
        b.end_of_entries(1);
        assert_eq!(b.step(usize::MAX / 2), Step::Ready);
    }
}
