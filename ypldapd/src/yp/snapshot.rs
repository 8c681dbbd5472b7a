//! The immutable map snapshot (DESIGN §7): every served map's keys in byte
//! order with their values, built once from the entries of an update and
//! then shared read-only (`Arc<Snapshot>`) by every request, including ALL
//! streams that outlive a newer snapshot.
//!
//! Layout: one byte arena holding every key and line once, and per map a
//! sorted array of 12-byte slots (offsets into the arena). A lookup is one
//! binary search; enumeration is an index walk; `passwd.byname` and
//! `passwd.byuid` share their line bytes.
//!
//! Entries come from a helper process and are re-validated here: a peer is
//! never trusted to have done it.
#![forbid(unsafe_code)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;

use ipc_proto::messages::{GroupEntry, UserEntry};

use crate::maps::MapName;

/// A map line is at most 1023 bytes (YPMAXRECORD minus upstream's NUL).
pub const MAX_LINE: usize = 1023;

/// Keep at most this many dropped-entry samples for the log.
const MAX_SAMPLES: usize = 64;

/// The slot array index of a map.
pub fn map_index(m: MapName) -> usize {
    match m {
        MapName::PasswdByName => 0,
        MapName::PasswdByUid => 1,
        MapName::MasterPasswdByName => 2,
        MapName::MasterPasswdByUid => 3,
        MapName::GroupByName => 4,
        MapName::GroupByGid => 5,
        MapName::NetidByName => 6,
    }
}

/// Why an entry (or a user's netid entry) was left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DropReason {
    /// The name is empty.
    EmptyName,
    /// An earlier entry had the same name (first one wins).
    DuplicateName,
    /// A field contains `:`, newline or NUL, which would corrupt the line.
    BadCharacter,
    /// A group member is empty or contains `,`.
    BadMember,
    /// The line would exceed 1023 bytes.
    LineTooLong,
    /// Only the user's `netid.byname` entry: the line would exceed 1023 bytes.
    NetidTooLong,
    /// The snapshot reached 4 GiB.
    SnapshotFull,
}

impl DropReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::EmptyName => "empty name",
            DropReason::DuplicateName => "duplicate name",
            DropReason::BadCharacter => "field contains ':', newline or NUL",
            DropReason::BadMember => "group member empty or contains ','",
            DropReason::LineTooLong => "line longer than 1023 bytes",
            DropReason::NetidTooLong => "netid line longer than 1023 bytes",
            DropReason::SnapshotFull => "snapshot larger than 4 GiB",
        }
    }
}

/// Whether a dropped entry was a user or a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    User,
    Group,
}

/// One dropped entry, for a warning in the log. The name is escaped
/// (`escape_debug`) and shortened, since it came from the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    pub kind: EntryKind,
    pub name: String,
    pub reason: DropReason,
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
    /// The first few drops, for the log.
    pub samples: Vec<Dropped>,
}

impl BuildReport {
    fn drop_entry(&mut self, kind: EntryKind, name: &str, reason: DropReason) {
        *self.drops.entry(reason).or_default() += 1;
        if self.samples.len() < MAX_SAMPLES {
            let name: String = name.escape_debug().take(80).collect();
            self.samples.push(Dropped { kind, name, reason });
        }
    }

    /// Total dropped entries (netid-only drops included).
    pub fn dropped(&self) -> usize {
        self.drops.values().sum()
    }
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    key_off: u32,
    val_off: u32,
    key_len: u16,
    val_len: u16,
}

#[derive(Debug, Clone, Copy)]
struct Span {
    off: u32,
    len: u16,
}

/// An immutable set of the seven maps.
#[derive(Debug, Clone)]
pub struct Snapshot {
    arena: Vec<u8>,
    maps: [Vec<Slot>; 7],
    domain: String,
    order: u32,
}

struct Arena(Vec<u8>);

impl Arena {
    /// Appends `bytes`; `None` when the arena would pass 4 GiB or the item
    /// is longer than a slot can describe.
    fn push(&mut self, bytes: &[u8]) -> Option<Span> {
        let off = u32::try_from(self.0.len()).ok()?;
        let len = u16::try_from(bytes.len()).ok()?;
        u32::try_from(self.0.len() + bytes.len()).ok()?;
        self.0.extend_from_slice(bytes);
        Some(Span { off, len })
    }
}

fn slot(k: Span, v: Span) -> Slot {
    Slot {
        key_off: k.off,
        key_len: k.len,
        val_off: v.off,
        val_len: v.len,
    }
}

fn bad_char(s: &str) -> bool {
    s.bytes().any(|b| matches!(b, b':' | b'\n' | b'\0'))
}

fn user_check(u: &UserEntry) -> Result<(), DropReason> {
    if u.name.is_empty() {
        return Err(DropReason::EmptyName);
    }
    let fields = [
        &u.name, &u.passwd, &u.class, &u.change, &u.expire, &u.gecos, &u.home, &u.shell,
    ];
    if fields.iter().any(|f| bad_char(f)) {
        return Err(DropReason::BadCharacter);
    }
    Ok(())
}

fn group_check(g: &GroupEntry) -> Result<(), DropReason> {
    if g.name.is_empty() {
        return Err(DropReason::EmptyName);
    }
    if bad_char(&g.name) || bad_char(&g.passwd) || g.members.iter().any(|m| bad_char(m)) {
        return Err(DropReason::BadCharacter);
    }
    if g.members.iter().any(|m| m.is_empty() || m.contains(',')) {
        return Err(DropReason::BadMember);
    }
    Ok(())
}

struct KeptUser {
    uid: u32,
    gid: u32,
    name: Span,
    uid_key: Span,
    line: Span,
    master: Span,
}

impl Snapshot {
    /// Builds the maps from one update's entries, in arrival order (config
    /// order of directories, then LDAP order). `order` is the ORDER number
    /// (seconds since the epoch of the build).
    pub fn build(
        domain: &str,
        users: &[UserEntry],
        groups: &[GroupEntry],
        order: u32,
    ) -> (Snapshot, BuildReport) {
        let mut rep = BuildReport {
            users_received: users.len(),
            groups_received: groups.len(),
            ..Default::default()
        };
        let mut arena = Arena(Vec::new());
        let mut maps: [Vec<Slot>; 7] = Default::default();
        let mut line = String::with_capacity(256);

        // Users.
        let mut seen_names: HashSet<&str> = HashSet::new();
        let mut kept: Vec<KeptUser> = Vec::new();
        let mut user_by_name: HashMap<&str, usize> = HashMap::new();
        for u in users {
            if let Err(r) = user_check(u) {
                rep.drop_entry(EntryKind::User, &u.name, r);
                continue;
            }
            if seen_names.contains(u.name.as_str()) {
                rep.drop_entry(EntryKind::User, &u.name, DropReason::DuplicateName);
                continue;
            }
            line.clear();
            let _ = write!(
                line,
                "{}:{}:{}:{}:{}:{}:{}:{}:{}:{}",
                u.name,
                u.passwd,
                u.uid,
                u.gid,
                u.class,
                u.change,
                u.expire,
                u.gecos,
                u.home,
                u.shell
            );
            // The 10-field line is never shorter than the 7-field one.
            if line.len() > MAX_LINE {
                rep.drop_entry(EntryKind::User, &u.name, DropReason::LineTooLong);
                continue;
            }
            let short = format!(
                "{}:{}:{}:{}:{}:{}:{}",
                u.name, u.passwd, u.uid, u.gid, u.gecos, u.home, u.shell
            );
            let uid_s = u.uid.to_string();
            let spans = (|| {
                Some((
                    arena.push(u.name.as_bytes())?,
                    arena.push(uid_s.as_bytes())?,
                    arena.push(short.as_bytes())?,
                    arena.push(line.as_bytes())?,
                ))
            })();
            let Some((name, uid_key, short_sp, master)) = spans else {
                rep.drop_entry(EntryKind::User, &u.name, DropReason::SnapshotFull);
                continue;
            };
            seen_names.insert(&u.name);
            user_by_name.insert(&u.name, kept.len());
            kept.push(KeptUser {
                uid: u.uid,
                gid: u.gid,
                name,
                uid_key,
                line: short_sp,
                master,
            });
        }
        rep.users_kept = kept.len();
        let mut uid_winners: Vec<usize> = Vec::with_capacity(kept.len());
        let mut seen_uids: HashSet<u32> = HashSet::new();
        for (i, k) in kept.iter().enumerate() {
            maps[map_index(MapName::PasswdByName)].push(slot(k.name, k.line));
            maps[map_index(MapName::MasterPasswdByName)].push(slot(k.name, k.master));
            if seen_uids.insert(k.uid) {
                uid_winners.push(i);
                maps[map_index(MapName::PasswdByUid)].push(slot(k.uid_key, k.line));
                maps[map_index(MapName::MasterPasswdByUid)].push(slot(k.uid_key, k.master));
            } else {
                rep.shadowed_uids += 1;
            }
        }

        // Groups.
        let mut seen_groups: HashSet<&str> = HashSet::new();
        let mut seen_gids: HashSet<u32> = HashSet::new();
        let mut kept_groups: Vec<&GroupEntry> = Vec::new();
        for g in groups {
            if let Err(r) = group_check(g) {
                rep.drop_entry(EntryKind::Group, &g.name, r);
                continue;
            }
            if seen_groups.contains(g.name.as_str()) {
                rep.drop_entry(EntryKind::Group, &g.name, DropReason::DuplicateName);
                continue;
            }
            line.clear();
            let _ = write!(
                line,
                "{}:{}:{}:{}",
                g.name,
                g.passwd,
                g.gid,
                g.members.join(",")
            );
            if line.len() > MAX_LINE {
                rep.drop_entry(EntryKind::Group, &g.name, DropReason::LineTooLong);
                continue;
            }
            let gid_s = g.gid.to_string();
            let spans = (|| {
                Some((
                    arena.push(g.name.as_bytes())?,
                    arena.push(gid_s.as_bytes())?,
                    arena.push(line.as_bytes())?,
                ))
            })();
            let Some((name, gid_key, val)) = spans else {
                rep.drop_entry(EntryKind::Group, &g.name, DropReason::SnapshotFull);
                continue;
            };
            seen_groups.insert(&g.name);
            kept_groups.push(g);
            maps[map_index(MapName::GroupByName)].push(slot(name, val));
            if seen_gids.insert(g.gid) {
                maps[map_index(MapName::GroupByGid)].push(slot(gid_key, val));
            } else {
                rep.shadowed_gids += 1;
            }
        }
        rep.groups_kept = kept_groups.len();

        // netid: supplementary gids in group-name order, deduplicated,
        // primary excluded.
        kept_groups.sort_unstable_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
        let mut extra: Vec<Vec<u32>> = vec![Vec::new(); kept.len()];
        for g in &kept_groups {
            for m in &g.members {
                if let Some(&ui) = user_by_name.get(m.as_str()) {
                    let (Some(user), Some(list)) = (kept.get(ui), extra.get_mut(ui)) else {
                        continue;
                    };
                    if g.gid != user.gid && !list.contains(&g.gid) {
                        list.push(g.gid);
                    }
                }
            }
        }
        let mut key = String::with_capacity(96);
        for &i in &uid_winners {
            let (Some(u), Some(list)) = (kept.get(i), extra.get(i)) else {
                continue;
            };
            line.clear();
            let _ = write!(line, "{}:{}", u.uid, u.gid);
            for g in list {
                let _ = write!(line, ",{g}");
                if line.len() > MAX_LINE {
                    break;
                }
            }
            key.clear();
            let _ = write!(key, "unix.{}@{}", u.uid, domain);
            let name = String::from_utf8_lossy(arena.0.get(span_range(u.name)).unwrap_or(&[]))
                .into_owned();
            if line.len() > MAX_LINE || key.len() > super::proto::YPMAXRECORD {
                rep.drop_entry(EntryKind::User, &name, DropReason::NetidTooLong);
                continue;
            }
            match (arena.push(key.as_bytes()), arena.push(line.as_bytes())) {
                (Some(k), Some(v)) => maps[map_index(MapName::NetidByName)].push(slot(k, v)),
                _ => rep.drop_entry(EntryKind::User, &name, DropReason::SnapshotFull),
            }
        }
        rep.netid_entries = maps[map_index(MapName::NetidByName)].len();

        let arena = arena.0;
        for m in maps.iter_mut() {
            m.sort_unstable_by(|a, b| {
                slice(&arena, a.key_off, a.key_len).cmp(slice(&arena, b.key_off, b.key_len))
            });
            m.shrink_to_fit();
        }
        let snap = Snapshot {
            arena,
            maps,
            domain: domain.to_owned(),
            order,
        };
        (snap, rep)
    }

    /// [`Snapshot::build`] with the current time as ORDER number.
    pub fn build_now(
        domain: &str,
        users: &[UserEntry],
        groups: &[GroupEntry],
    ) -> (Snapshot, BuildReport) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Self::build(
            domain,
            users,
            groups,
            u32::try_from(now).unwrap_or(u32::MAX),
        )
    }

    /// The domain the netid keys were built for.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The ORDER number: seconds since the epoch when it was built.
    pub fn order(&self) -> u32 {
        self.order
    }

    /// Number of keys in a map.
    pub fn len(&self, map: MapName) -> usize {
        self.slots(map).len()
    }

    pub fn is_empty(&self, map: MapName) -> bool {
        self.slots(map).is_empty()
    }

    /// Bytes held by the arena and the slot arrays.
    pub fn memory_bytes(&self) -> usize {
        self.arena.len()
            + self
                .maps
                .iter()
                .map(|m| m.len() * size_of::<Slot>())
                .sum::<usize>()
    }

    fn slots(&self, map: MapName) -> &[Slot] {
        self.maps
            .get(map_index(map))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    fn key_of(&self, s: &Slot) -> &[u8] {
        slice(&self.arena, s.key_off, s.key_len)
    }

    /// The `i`-th entry in key byte order.
    pub fn entry(&self, map: MapName, i: usize) -> Option<(&[u8], &[u8])> {
        let s = self.slots(map).get(i)?;
        Some((self.key_of(s), slice(&self.arena, s.val_off, s.val_len)))
    }

    /// Exact lookup (binary search).
    pub fn get(&self, map: MapName, key: &[u8]) -> Option<&[u8]> {
        let slots = self.slots(map);
        let i = slots.binary_search_by(|s| self.key_of(s).cmp(key)).ok()?;
        self.entry(map, i).map(|(_, v)| v)
    }

    pub fn first(&self, map: MapName) -> Option<(&[u8], &[u8])> {
        self.entry(map, 0)
    }

    /// Index of the first key strictly greater than `key`: where NEXT
    /// continues, whether or not `key` still exists.
    pub fn index_after(&self, map: MapName, key: &[u8]) -> usize {
        self.slots(map).partition_point(|s| self.key_of(s) <= key)
    }

    /// The entry after `key` in byte order.
    pub fn next_after(&self, map: MapName, key: &[u8]) -> Option<(&[u8], &[u8])> {
        self.entry(map, self.index_after(map, key))
    }

    /// Every entry of a map in key order.
    pub fn iter(&self, map: MapName) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        (0..self.len(map)).filter_map(move |i| self.entry(map, i))
    }
}

fn span_range(s: Span) -> std::ops::Range<usize> {
    let off = s.off as usize;
    off..off + usize::from(s.len)
}

fn slice(arena: &[u8], off: u32, len: u16) -> &[u8] {
    let off = off as usize;
    arena.get(off..off + usize::from(len)).unwrap_or(&[])
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn user(name: &str, uid: u32, gid: u32) -> UserEntry {
        UserEntry {
            name: name.into(),
            passwd: "*".into(),
            uid,
            gid,
            class: "".into(),
            change: "0".into(),
            expire: "0".into(),
            gecos: format!("User {name}"),
            home: format!("/home/{name}"),
            shell: "/bin/sh".into(),
        }
    }

    pub fn group(name: &str, gid: u32, members: &[&str]) -> GroupEntry {
        GroupEntry {
            name: name.into(),
            passwd: "*".into(),
            gid,
            members: members.iter().map(|s| s.to_string()).collect(),
        }
    }

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
            Some("alice:*:1000:1000:User alice:/home/alice:/bin/sh")
        );
        assert_eq!(
            s(snap.get(MapName::MasterPasswdByUid, b"1000")),
            Some("alice:*:1000:1000::0:0:User alice:/home/alice:/bin/sh")
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
        let keys: Vec<_> = snap
            .iter(MapName::PasswdByUid)
            .map(|(k, _)| k.to_vec())
            .collect();
        assert_eq!(keys, vec![b"1000".to_vec(), b"1001".to_vec()]);
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
                .starts_with("a:*:5:1")
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
        long.gecos = "g".repeat(1000);
        let mut fits = user("f", 5, 1);
        // exactly 1023 bytes of 10-field line
        let base = "f:*:5:1::0:0::/home/f:/bin/sh".len();
        fits.gecos = "g".repeat(MAX_LINE - base);
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
        assert_eq!(rep.drops.get(&DropReason::BadCharacter), Some(&4));
        assert_eq!(rep.drops.get(&DropReason::BadMember), Some(&2));
        assert_eq!(rep.drops.get(&DropReason::LineTooLong), Some(&2));
        assert_eq!(rep.users_kept, 1);
        assert_eq!(
            snap.get(MapName::MasterPasswdByName, b"f").map(|v| v.len()),
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
                u.gecos = g.clone();
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
