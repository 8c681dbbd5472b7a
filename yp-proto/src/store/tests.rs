use std::collections::HashMap;
use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use crate::build::{BuildOptions, RecordPlan, SearchPlan, SnapshotBuilder};
use crate::maps::MapName;
use crate::snapshot::Snapshot;
use crate::testdata;
use entry_rules::records::RecordKind;
use entry_rules::{Origin, Text};

fn with_uuid(mut u: User<'static>, uuid: &str) -> User<'static> {
    u.origin.uuid = Some(uuid.to_owned());
    u
}

fn build(store: &EntryStore) -> Snapshot {
    let mut b = SnapshotBuilder::new("d", BuildOptions::default(), None);
    store.feed(&mut b);
    b.end_of_entries(1);
    b.finish().0
}

fn line(s: &Snapshot, map: MapName, key: &str) -> Option<String> {
    s.get(map, key.as_bytes())
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

#[test]
fn a_modified_entry_keeps_its_place_and_a_removed_one_frees_its_name() {
    let mut store = EntryStore::default();
    let d = store.directory(0);
    d.upsert_user(with_uuid(testdata::user("alice", 1000, 100), "u1"));
    d.upsert_user(with_uuid(testdata::user("alice", 1001, 100), "u2"));
    // u1 wins the name; a change to it keeps it first.
    assert_eq!(
        d.upsert_user(with_uuid(testdata::user("alice", 1002, 100), "u1")),
        Applied::Replaced
    );
    let s = build(&store);
    assert!(line(&s, MapName::PasswdByName, "alice").is_some_and(|l| l.contains(":1002:")));
    // u1 gone: u2 takes the name.
    assert_eq!(
        store.directory(0).remove(Search::Users, "u1"),
        Applied::Removed
    );
    assert_eq!(
        store.directory(0).remove(Search::Users, "u1"),
        Applied::Unknown
    );
    let s = build(&store);
    assert!(line(&s, MapName::PasswdByName, "alice").is_some_and(|l| l.contains(":1001:")));
    // A new entry goes last: u2 keeps the name.
    assert_eq!(
        store
            .directory(0)
            .upsert_user(with_uuid(testdata::user("alice", 1003, 100), "u3")),
        Applied::Added
    );
    let s = build(&store);
    assert!(line(&s, MapName::PasswdByName, "alice").is_some_and(|l| l.contains(":1001:")));
    assert_eq!(store.len(), 2);
}

#[test]
fn one_entry_found_by_two_searches_is_two_entries() {
    let mut store = EntryStore::default();
    let d = store.directory(0);
    let mut g = testdata::group("alice", 1000, &[]);
    g.origin.uuid = Some("same".into());
    d.upsert_user(with_uuid(testdata::user("alice", 1000, 1000), "same"));
    d.upsert_group(g);
    assert_eq!(d.len(), 2);
    d.remove(Search::Groups, "same");
    let s = build(&store);
    assert!(line(&s, MapName::PasswdByName, "alice").is_some());
    assert!(line(&s, MapName::GroupByName, "alice").is_none());
}

#[test]
fn directories_keep_their_order() {
    let mut store = EntryStore::default();
    store
        .directory(1)
        .upsert_user(with_uuid(testdata::user("bob", 2000, 100), "b"));
    store
        .directory(0)
        .upsert_user(with_uuid(testdata::user("bob", 1000, 100), "a"));
    let s = build(&store);
    assert!(line(&s, MapName::PasswdByName, "bob").is_some_and(|l| l.contains(":1000:")));
}

#[test]
fn a_build_in_slices_gives_every_entry_in_order() {
    let mut store = EntryStore::default();
    for d in 0..3 {
        for i in 0..10u32 {
            store.directory(d).upsert_user(with_uuid(
                testdata::user(&format!("u{d}-{i}"), 1000 * d as u32 + i, 100),
                &i.to_string(),
            ));
        }
        let mut g = testdata::group(&format!("g{d}"), 50 + d as u32, &[]);
        g.origin.uuid = Some("g".into());
        store.directory(d).upsert_group(g);
    }
    store.directory(1).remove(Search::Users, "3");
    let whole = build(&store);
    let mut b = SnapshotBuilder::new("d", BuildOptions::default(), None);
    let mut at = Some(Cursor::default());
    let mut slices = 0;
    while let Some(c) = at {
        at = store.feed_some(c, &mut b, 4);
        slices += 1;
    }
    b.end_of_entries(1);
    let sliced = b.finish().0;
    assert!(slices >= 8, "{slices}");
    for map in MapName::ALL {
        assert_eq!(
            sliced.iter(map).collect::<Vec<_>>(),
            whole.iter(map).collect::<Vec<_>>()
        );
    }
    assert_eq!(sliced.len(MapName::PasswdByName), 29);
}

#[derive(Debug, Clone)]
enum Op {
    Upsert { uuid: u8, name: u8, uid: u32 },
    Remove { uuid: u8 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u8..40, 0u8..12, 1000u32..1010).prop_map(|(uuid, name, uid)| Op::Upsert { uuid, name, uid }),
        1 => (0u8..40).prop_map(|uuid| Op::Remove { uuid }),
    ]
}

proptest! {
    /// After any changes, the maps are those of a full read of the
    /// directory as it then is: entries in the order they were created,
    /// a modified one where it was.
    #[test]
    fn changes_give_the_maps_of_a_full_read(ops in proptest::collection::vec(op(), 0..200)) {
        let mut store = EntryStore::default();
        // The directory as a full read would return it.
        let mut model: Vec<(u8, User<'static>)> = Vec::new();
        for op in &ops {
            match *op {
                Op::Upsert { uuid, name, uid } => {
                    let u = with_uuid(testdata::user(&format!("user{name}"), uid, 100), &uuid.to_string());
                    store.directory(0).upsert_user(u.clone());
                    match model.iter_mut().find(|(id, _)| *id == uuid) {
                        Some(slot) => slot.1 = u,
                        None => model.push((uuid, u)),
                    }
                }
                Op::Remove { uuid } => {
                    store.directory(0).remove(Search::Users, &uuid.to_string());
                    model.retain(|(id, _)| *id != uuid);
                }
            }
        }
        let users: Vec<User<'static>> = model.into_iter().map(|(_, u)| u).collect();
        let (want, _) = Snapshot::build("d", &users, &[], 1);
        let got = build(&store);
        for map in MapName::ALL {
            let a: Vec<_> = got.iter(map).collect();
            let b: Vec<_> = want.iter(map).collect();
            prop_assert_eq!(a, b, "{}", map);
        }
    }
}

#[test]
fn closing_holes_keeps_order_and_places() {
    let mut store = EntryStore::default();
    let d = store.directory(0);
    for i in 0..3000u32 {
        d.upsert_user(with_uuid(
            testdata::user(&format!("u{i}"), 10_000 + i, 100),
            &i.to_string(),
        ));
    }
    for i in (0..3000u32).filter(|i| i % 3 != 0) {
        d.remove(Search::Users, &i.to_string());
    }
    assert_eq!(d.len(), 1000);
    // Places were renumbered: a change still replaces its own entry.
    assert_eq!(
        d.upsert_user(with_uuid(testdata::user("u2997", 99, 100), "2997")),
        Applied::Replaced
    );
    assert_eq!(d.len(), 1000);
    let s = build(&store);
    assert!(line(&s, MapName::PasswdByName, "u2997").is_some_and(|l| l.contains(":99:")));
    let names: Vec<String> = s
        .iter(MapName::PasswdByUid)
        .map(|(k, _)| String::from_utf8_lossy(k).into_owned())
        .take(2)
        .collect();
    assert_eq!(names, ["10000", "10003"]);
}

#[derive(Debug, Clone)]
enum Change {
    User {
        dir: usize,
        uuid: u8,
        name: u8,
        uid: u32,
        gid: u32,
        shell: u8,
        disabled: bool,
        invalid: bool,
        moved: bool,
    },
    Group {
        dir: usize,
        uuid: u8,
        name: u8,
        gid: u32,
        members: Vec<u8>,
        invalid: bool,
        /// Member DNs, from [`member_dn`]'s pool.
        dns: Vec<u8>,
        /// Its DN by entryUUID (`cn=team<uuid>`), else by name.
        team: bool,
    },
    RemoveUser {
        dir: usize,
        uuid: u8,
    },
    RemoveGroup {
        dir: usize,
        uuid: u8,
    },
    /// A record of search `search` (see [`plan`]): `a`, `b` and `c`
    /// pick its values from a few that collide.
    Record {
        dir: usize,
        uuid: u8,
        search: u16,
        a: u8,
        b: u8,
        c: Vec<u8>,
        invalid: bool,
    },
    RemoveRecord {
        dir: usize,
        uuid: u8,
        search: u16,
    },
    /// The entry the store holds at this place (user, group or record,
    /// by `what`), sent again as it is: a refresh that sends everything.
    Resend {
        dir: usize,
        what: u8,
        pick: u8,
    },
    /// The user last given with this place and entryUUID, another shell
    /// and maybe (un)disabled: its keys unchanged.
    Shell {
        dir: usize,
        uuid: u8,
        shell: u8,
        disabled: bool,
    },
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        4 => user_change(),
        3 => group_change(),
        1 => (0usize..2, 0u8..12).prop_map(|(dir, uuid)| Change::RemoveUser { dir, uuid }),
        1 => (0usize..2, 0u8..8).prop_map(|(dir, uuid)| Change::RemoveGroup { dir, uuid }),
        2 => shell_change(),
        6 => (
            0usize..2,
            0u8..10,
            0u16..5,
            any::<u8>(),
            any::<u8>(),
            proptest::collection::vec(0u8..9, 0..4),
            proptest::bool::weighted(0.1),
        )
            .prop_map(|(dir, uuid, search, a, b, c, invalid)| Change::Record { dir, uuid, search, a, b, c, invalid }),
        1 => (0usize..2, 0u8..10, 0u16..5).prop_map(|(dir, uuid, search)| Change::RemoveRecord { dir, uuid, search }),
        2 => (0usize..2, 0u8..3, any::<u8>()).prop_map(|(dir, what, pick)| Change::Resend { dir, what, pick }),
    ]
}

/// Users and groups only, most groups naming their members by DN.
fn member_dn_change() -> impl Strategy<Value = Change> {
    prop_oneof![
        4 => user_change(),
        5 => group_change(),
        1 => (0usize..2, 0u8..12).prop_map(|(dir, uuid)| Change::RemoveUser { dir, uuid }),
        1 => (0usize..2, 0u8..8).prop_map(|(dir, uuid)| Change::RemoveGroup { dir, uuid }),
        1 => shell_change(),
        1 => (0usize..2, 0u8..2, any::<u8>()).prop_map(|(dir, what, pick)| Change::Resend { dir, what, pick }),
    ]
}

fn shell_change() -> impl Strategy<Value = Change> {
    (0usize..2, 0u8..12, 0u8..3, proptest::bool::weighted(0.2)).prop_map(
        |(dir, uuid, shell, disabled)| Change::Shell {
            dir,
            uuid,
            shell,
            disabled,
        },
    )
}

fn user_change() -> impl Strategy<Value = Change> {
    (
        0usize..2,
        0u8..12,
        0u8..6,
        1000u32..1006,
        100u32..104,
        0u8..3,
        proptest::bool::weighted(0.1),
        (proptest::bool::weighted(0.1), proptest::bool::weighted(0.3)),
    )
        .prop_map(
            |(dir, uuid, name, uid, gid, shell, disabled, (invalid, moved))| Change::User {
                dir,
                uuid,
                name,
                uid,
                gid,
                shell,
                disabled,
                invalid,
                moved,
            },
        )
}

fn group_change() -> impl Strategy<Value = Change> {
    (
        0usize..2,
        0u8..8,
        0u8..5,
        100u32..106,
        proptest::collection::vec(0u8..7, 0..5),
        proptest::bool::weighted(0.1),
        prop_oneof![1 => Just(Vec::new()), 2 => proptest::collection::vec(0u8..MEMBER_DNS, 1..5)],
        proptest::bool::weighted(0.7),
    )
        .prop_map(
            |(dir, uuid, name, gid, members, invalid, dns, team)| Change::Group {
                dir,
                uuid,
                name,
                gid,
                members,
                invalid,
                dns,
                team,
            },
        )
}

/// The record searches of the property test: hosts, services,
/// netgroups (with both reverse maps), automount, mail aliases.
fn plan() -> Arc<RecordPlan> {
    let search = |kind: RecordKind, slots: &[&str]| SearchPlan {
        slots: slots
            .iter()
            .map(|m| Some(MapName::configured(m).expect("a map name")))
            .collect(),
        ..SearchPlan::of_kind(kind, |_| false)
    };
    Arc::new(RecordPlan {
        searches: vec![
            search(RecordKind::Hosts, &["hosts.byname", "hosts.byaddr"]),
            search(
                RecordKind::Services,
                &["services.byname", "services.byservicename"],
            ),
            search(
                RecordKind::Netgroup,
                &["netgroup", "netgroup.byuser", "netgroup.byhost"],
            ),
            search(RecordKind::Automount, &["auto.master", "auto.home"]),
            search(RecordKind::Aliases, &["mail.aliases"]),
        ],
    })
}

/// Every map the property test's builds hold.
fn all_maps() -> Vec<MapName> {
    MapName::ALL.into_iter().chain(plan().maps()).collect()
}

fn record(
    dir: usize,
    uuid: u8,
    search: u16,
    a: u8,
    b: u8,
    c: &[u8],
    invalid: bool,
) -> Record<'static> {
    let pick = |pool: &[&'static str], i: u8| pool[usize::from(i) % pool.len()];
    let list =
        |pool: &[&'static str]| -> Vec<&'static str> { c.iter().map(|&i| pick(pool, i)).collect() };
    let values: Vec<Vec<&'static str>> = match search {
        0 => {
            let mut addrs = list(&["192.0.2.1", "192.0.2.2", "2001:db8::1", "192.0.2.1"]);
            if invalid {
                addrs.push("bad");
            }
            let mut names = vec![pick(&["h0", "H0", "h1", "h2"], a)];
            if b % 2 == 0 {
                names.push(pick(&["h1", "www", "H2"], b / 2));
            }
            vec![names, addrs]
        }
        1 => vec![
            vec![pick(&["s0", "s1", "S0"], a)],
            vec![if invalid { "x" } else { pick(&["22", "80"], b) }],
            list(&["tcp", "udp"]),
        ],
        2 => {
            let mut triples: Vec<&str> = c
                .iter()
                .filter(|&&i| i < 4)
                .map(|&i| pick(&["(h0,u0,d)", "(,u1,)", "(h1,-,)", "(h0,u0,)"], i))
                .collect();
            if invalid {
                triples.push("bad");
            }
            let members = c
                .iter()
                .filter(|&&i| i >= 4)
                .map(|&i| pick(&["n0", "n1", "n2", "n3", "n4"], i))
                .collect();
            vec![vec![pick(&["n0", "n1", "n2", "n3"], a)], triples, members]
        }
        3 => vec![
            vec![pick(&["/home", "k0", "k1"], a)],
            vec![if invalid {
                " "
            } else {
                pick(&["srv:/a", "srv:/b"], b)
            }],
            vec![],
            vec![],
            vec![pick(
                &["auto.master", "auto.home", "auto.other"],
                c.first().copied().unwrap_or(0),
            )],
        ],
        _ => vec![
            vec![pick(&["a0", "@", "a1"], a)],
            if invalid { vec![] } else { list(&["x", "y"]) },
        ],
    };
    Record {
        origin: Origin {
            dn: Text::from(format!("cn=r{uuid},ou={search},dc={dir}")),
            uuid: Some(format!("r{uuid}")),
        },
        search,
        values: values
            .into_iter()
            .map(|vs| vs.into_iter().map(Text::from).collect())
            .collect(),
    }
}

/// How many member DNs [`member_dn`] has.
const MEMBER_DNS: u8 = 40;

/// A member DN of the pool: users by entryUUID (even ones, a rename
/// keeps their DN) and by name, groups by entryUUID (`team`), most
/// often; written as the directory may (case, spaces, an optional UID);
/// DNs of nothing.
fn member_dn(k: u8) -> String {
    match k {
        0..=17 => format!("cn=person{},dc=x", 2 * (k % 6)),
        18..=29 => format!("cn=team{},dc=x", (k - 18) % 8),
        30 => "CN=Person4, DC=X".into(),
        31 => "cn=TEAM1,dc=x#'0101'B".into(),
        32 => "cn=group2-3,dc=x".into(),
        33 => "uid=user0-4,dc=y".into(),
        34 => "uid=user1-1,dc=x".into(),
        35 => "uid=user0-3,dc=x".into(),
        36 => "uid=user2-5,dc=x".into(),
        _ => format!("cn=nobody{k},dc=x"),
    }
}

/// The store's form of a generated change; `users` holds the last user
/// given for each place and entryUUID.
fn entry_change(
    c: &Change,
    users: &mut HashMap<(usize, u8), User<'static>>,
) -> (usize, EntryChange) {
    let (dir, change) = entry_change_of(c, users);
    if let EntryChange::User(u) = &change {
        if let Change::User { uuid, .. } | Change::Shell { uuid, .. } = c {
            users.insert((dir, *uuid), u.clone());
        }
    }
    (dir, change)
}

fn entry_change_of(
    c: &Change,
    users: &HashMap<(usize, u8), User<'static>>,
) -> (usize, EntryChange) {
    match c {
        Change::Shell {
            dir,
            uuid,
            shell,
            disabled,
        } => {
            let mut u = users
                .get(&(*dir, *uuid))
                .cloned()
                .unwrap_or_else(|| user(*uuid, 0, 1000, 0, false));
            u.shell = format!("/bin/other{shell}").into();
            u.disabled = *disabled;
            (*dir, EntryChange::User(u))
        }
        Change::User {
            dir,
            uuid,
            name,
            uid,
            gid,
            shell,
            disabled,
            invalid,
            moved,
        } => {
            let mut u = user(*uuid, *name, *uid, *shell, *disabled);
            u.gid = *gid;
            if *invalid {
                u.gecos = "a:b".into();
            }
            // Moved elsewhere in the tree: member DNs name it no more.
            if *moved {
                u.origin.dn = format!("uid=user{name}-{uuid},dc=y").into();
            } else if uuid % 2 == 0 {
                // Its DN by entryUUID: a rename keeps it.
                u.origin.dn = format!("cn=person{uuid},dc=x").into();
            }
            (*dir, EntryChange::User(u))
        }
        Change::Group {
            dir,
            uuid,
            name,
            gid,
            members,
            invalid,
            dns,
            team,
        } => {
            let mut g = group(*uuid, *name, *gid, members);
            if *invalid {
                g.passwd = "a:b".into();
            }
            g.member_dns = dns.iter().map(|&k| member_dn(k).into()).collect();
            if *team {
                g.origin.dn = format!("cn=team{uuid},dc=x").into();
            }
            (*dir, EntryChange::Group(g))
        }
        Change::RemoveUser { dir, uuid } => {
            (*dir, EntryChange::Remove(Search::Users, uuid.to_string()))
        }
        Change::RemoveGroup { dir, uuid } => (
            *dir,
            EntryChange::Remove(Search::Groups, format!("g{uuid}")),
        ),
        Change::Record {
            dir,
            uuid,
            search,
            a,
            b,
            c,
            invalid,
        } => (
            *dir,
            EntryChange::Record(record(*dir, *uuid, *search, *a, *b, c, *invalid)),
        ),
        Change::RemoveRecord { dir, uuid, search } => (
            *dir,
            EntryChange::Remove(Search::Records(*search), format!("r{uuid}")),
        ),
        // Made from the store by `resend`; a user nobody has otherwise.
        Change::Resend { dir, .. } => (*dir, EntryChange::Remove(Search::Users, "none".into())),
    }
}

/// A [`Change::Resend`]: the entry the store holds, as it is.
fn resend(store: &EntryStore, dir: usize, what: u8, pick: u8) -> Option<EntryChange> {
    let d = store.get(dir)?;
    let nth = |n: usize| usize::from(pick) % n.max(1);
    match what {
        0 => d
            .users()
            .nth(nth(d.users().count()))
            .cloned()
            .map(EntryChange::User),
        1 => d
            .groups()
            .nth(nth(d.groups().count()))
            .cloned()
            .map(EntryChange::Group),
        _ => d
            .records()
            .nth(nth(d.records().count()))
            .cloned()
            .map(EntryChange::Record),
    }
}

/// Applies a change the way a build after it would see it.
fn apply_slow(store: &mut EntryStore, dir: usize, c: EntryChange) {
    store.directory(dir).apply(c);
}

/// Every map of `got` is `want`'s, byte for byte: MATCH of every key
/// either has (and of `others`, keys that may be gone), FIRST and NEXT
/// from every such key, ALL, and the number of keys.
fn same_maps(got: &Snapshot, want: &Snapshot, others: &[Vec<u8>]) -> Result<(), TestCaseError> {
    for map in all_maps() {
        let a: Vec<_> = got.iter(map).collect();
        let b: Vec<_> = want.iter(map).collect();
        prop_assert_eq!(&a, &b, "{}", map);
        prop_assert_eq!(got.len(map), want.len(map), "{}", map);
        prop_assert_eq!(got.first(map), want.first(map), "{}", map);
        let keys = a
            .iter()
            .map(|(k, _)| k.to_vec())
            .chain(others.iter().cloned())
            .chain([b"".to_vec(), b"zzz".to_vec(), b"1003x".to_vec()]);
        for k in keys {
            prop_assert_eq!(got.get(map, &k), want.get(map, &k), "{} {:?}", map, k);
            prop_assert_eq!(
                got.next_after(map, &k),
                want.next_after(map, &k),
                "{} {:?}",
                map,
                k
            );
        }
        let all = crate::dispatch::AllStream::new(7, Arc::new(got.clone()), map).collect(256);
        let all_want = crate::dispatch::AllStream::new(7, Arc::new(want.clone()), map).collect(256);
        prop_assert_eq!(all, all_want, "{}", map);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    /// The oracle of the incremental path: random sequences of adds,
    /// modifications, deletes, renames, uid and gid changes, membership
    /// changes, duplicates and entries that become invalid and valid
    /// again, member DNs and nested groups, each applied to the served
    /// maps as edits (none builds them again), leave every map equal, byte
    /// for byte, to the maps built from scratch from the store; and each
    /// change that alters a map gives it a higher ORDER number, while the
    /// others keep theirs.
    #[test]
    fn incremental_changes_give_the_maps_of_a_build(
        initial in proptest::collection::vec(change(), 0..25),
        changes in proptest::collection::vec(change(), 1..40),
        omit in any::<bool>(),
        nesting in prop_oneof![Just(0u32), Just(1), Just(2), Just(10)],
    ) {
        let options = BuildOptions { omit_disabled: omit, nesting, ..BuildOptions::default() };
        incremental_run(&initial, &changes, options)?;
    }

    /// The same oracle on users and groups alone, most groups naming
    /// members by DN (users by a DN their renames keep or not, groups
    /// nesting groups, cycles, DNs of nothing and DNs that come to name
    /// an entry later), across two directories and nesting limits: every
    /// change is applied as edits (no build), and the maps are a build's.
    #[test]
    fn member_dn_changes_give_the_maps_of_a_build(
        initial in proptest::collection::vec(member_dn_change(), 0..30),
        changes in proptest::collection::vec(member_dn_change(), 1..40),
        omit in any::<bool>(),
        nesting in prop_oneof![Just(0u32), Just(1), Just(2), Just(10)],
    ) {
        let options = BuildOptions { omit_disabled: omit, nesting, ..BuildOptions::default() };
        incremental_run(&initial, &changes, options)?;
    }
}

/// Applies `initial` to a store, builds the maps, then applies each of
/// `changes` as [`EntryStore::apply_quick`] edits (asserting none needs
/// a build) and checks the maps against a build after each: the body of
/// the property tests above.
fn incremental_run(
    initial: &[Change],
    changes: &[Change],
    options: BuildOptions,
) -> Result<(), TestCaseError> {
    let plan = plan();
    let maps = all_maps();
    let build_with = |store: &EntryStore, order: u32| {
        let mut b = SnapshotBuilder::new("d", options, None).with_records(Arc::clone(&plan));
        store.feed(&mut b);
        b.end_of_entries(order);
        b.finish().0
    };
    let mut store = EntryStore::default();
    let mut users = HashMap::new();
    for c in initial {
        let (dir, c) = entry_change(c, &mut users);
        apply_slow(&mut store, dir, c);
    }
    let mut order = 1;
    let mut served = build_with(&store, order);
    let mut folding: Option<crate::snapshot::Fold> = None;
    prop_assert_eq!(served.other_maps().count(), plan.maps().len());
    for (i, c) in changes.iter().enumerate() {
        let resent = matches!(c, Change::Resend { .. });
        let (dir, c) = match c {
            Change::Resend { dir, what, pick } => match resend(&store, *dir, *what, *pick) {
                Some(e) => (*dir, e),
                None => continue,
            },
            c => entry_change(c, &mut users),
        };
        let before: Vec<Vec<u8>> = maps
            .iter()
            .flat_map(|&m| served.iter(m).map(|(k, _)| k.to_vec()).collect::<Vec<_>>())
            .collect();
        let was = build_with(&store, 0);
        order += 1;
        // The index of member DNs a step further (ypldapd makes it
        // between answers): a change may meet it half made.
        store.prepare_members_some(&options, 1);
        let next = match store.apply_quick(dir, c, &options, &plan, "d") {
            Ok(edits) => {
                // An entry sent again as held: no edit at all.
                prop_assert!(!resent || edits.is_empty(), "{:?}", edits);
                if let Some(f) = folding.as_mut() {
                    f.note(edits.clone(), order);
                }
                served.with_edits(&edits, order).expect("edits fit")
            }
            Err(c) => {
                // Every change to users and groups is applied as
                // edits, member DNs and nesting included.
                prop_assert!(false, "built again: {:?}", c);
                apply_slow(&mut store, dir, *c);
                Some(build_with(&store, order))
            }
        };
        let want = build_with(&store, 0);
        if let Some(next) = next {
            for &map in &maps {
                let altered = !was.iter(map).eq(want.iter(map));
                if altered {
                    prop_assert!(next.map_order(map) > served.map_order(map), "{}", map);
                } else if next.changed_values() > 0 {
                    prop_assert_eq!(next.map_order(map), served.map_order(map), "{}", map);
                }
            }
            served = next;
        } else {
            for &map in &maps {
                prop_assert!(
                    was.iter(map).eq(want.iter(map)),
                    "{} altered without edits",
                    map
                );
            }
        }
        same_maps(&served, &want, &before)?;
        // A fold of the keys changed since the build (as ypldapd does
        // past a bound) begins every third change and takes a few steps
        // a change, told the edits made meanwhile; once done, its result
        // replaces the maps served: the same maps, each with its ORDER
        // number, and the changes that follow are edits of its tables.
        if folding.is_none() && i % 3 == 2 {
            folding = Some(served.fold());
        } else if folding.as_mut().is_some_and(|f| (0..4).any(|_| f.step())) {
            let Some(f) = folding.take() else { continue };
            prop_assert!(f.is_of(&served));
            let folded = f.finish().expect("the changed keys fold");
            for &map in &maps {
                prop_assert_eq!(folded.map_order(map), served.map_order(map), "{}", map);
            }
            same_maps(&folded, &served, &before)?;
            served = folded;
        }
    }
    Ok(())
}

#[test]
fn a_new_user_is_served_at_once_with_its_groups() {
    let options = BuildOptions::default();
    let mut store = EntryStore::default();
    store.directory(0).upsert_user(user(1, 1, 1000, 0, false));
    store.directory(0).upsert_group(group(1, 1, 200, &[2]));
    let served = build(&store);
    let edits = store
        .apply_quick(
            0,
            EntryChange::User(user(2, 2, 1001, 0, false)),
            &options,
            &plan(),
            "d",
        )
        .expect("a new user is quick");
    let next = served.with_edits(&edits, 5).expect("fits").expect("alters");
    assert_eq!(
        line(&next, MapName::PasswdByUid, "1001").as_deref(),
        Some("user2:x:1001:100:User user2:/home/user2:/bin/sh0")
    );
    assert_eq!(
        line(&next, MapName::NetidByName, "unix.1001@d").as_deref(),
        Some("1001:100,200")
    );
    let keys: Vec<_> = next.iter(MapName::PasswdByName).map(|(k, _)| k).collect();
    assert_eq!(keys, [&b"user1"[..], b"user2"]);
    assert_eq!(next.map_order(MapName::PasswdByName), 5);
    assert_eq!(next.map_order(MapName::GroupByName), 1);
    assert_eq!(next.order(), 5);
    // A rename: the old name goes, the new one comes, in key order.
    let edits = store
        .apply_quick(
            0,
            EntryChange::User(user(1, 0, 1000, 0, false)),
            &options,
            &plan(),
            "d",
        )
        .expect("a rename is quick");
    let renamed = next.with_edits(&edits, 6).expect("fits").expect("alters");
    let keys: Vec<_> = renamed
        .iter(MapName::PasswdByName)
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys, [&b"user0"[..], b"user2"]);
    assert_eq!(renamed.get(MapName::PasswdByName, b"user1"), None);
    // The older snapshot is unchanged for whoever still reads it.
    let keys: Vec<_> = next.iter(MapName::PasswdByName).map(|(k, _)| k).collect();
    assert_eq!(keys, [&b"user1"[..], b"user2"]);
}

fn user(uuid: u8, name: u8, uid: u32, shell: u8, disabled: bool) -> User<'static> {
    let mut u = with_uuid(
        testdata::user(&format!("user{name}"), uid, 100),
        &uuid.to_string(),
    );
    u.shell = format!("/bin/sh{shell}").into();
    u.origin.dn = format!("uid=user{name}-{uuid},dc=x").into();
    u.disabled = disabled;
    u
}

fn group(uuid: u8, name: u8, gid: u32, members: &[u8]) -> Group<'static> {
    let names: Vec<String> = members.iter().map(|m| format!("user{m}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut g = testdata::group(&format!("group{name}"), gid, &refs);
    g.origin.uuid = Some(format!("g{uuid}"));
    g.origin.dn = format!("cn=group{name}-{uuid},dc=x").into();
    g
}

#[test]
fn with_member_dns_renames_moves_and_nestings_are_quick() {
    let options = BuildOptions::default();
    let mut store = EntryStore::default();
    store.directory(0).upsert_user(user(1, 1, 1000, 0, false));
    let mut g = group(1, 1, 200, &[]);
    g.member_dns = vec!["uid=user1-1,dc=x".into()];
    store.directory(0).upsert_group(g);
    let mut served = build(&store);
    assert_eq!(
        line(&served, MapName::GroupByName, "group1").as_deref(),
        Some("group1:*:200:user1")
    );
    let mut quick = |store: &mut EntryStore, c: EntryChange, order: u32| {
        let edits = store
            .apply_quick(0, c, &options, &plan(), "d")
            .expect("quick");
        if let Some(next) = served.with_edits(&edits, order).expect("fits") {
            served = next;
        }
        same_maps(&served, &build(store), &[]).expect("a build's maps");
        served.clone()
    };
    // A shell; moved in the tree (the member DN names it no more); back;
    // renamed; a new uid.
    quick(&mut store, EntryChange::User(user(1, 1, 1000, 2, false)), 2);
    let mut moved = user(1, 1, 1000, 2, false);
    moved.origin.dn = "uid=user1-1,dc=y".into();
    let s = quick(&mut store, EntryChange::User(moved), 3);
    assert_eq!(
        line(&s, MapName::GroupByName, "group1").as_deref(),
        Some("group1:*:200:")
    );
    assert_eq!(
        line(&s, MapName::NetidByName, "unix.1000@d").as_deref(),
        Some("1000:100")
    );
    quick(&mut store, EntryChange::User(user(1, 1, 1000, 2, false)), 4);
    let mut renamed = user(1, 2, 1000, 2, false);
    renamed.origin.dn = "uid=user1-1,dc=x".into();
    let s = quick(&mut store, EntryChange::User(renamed), 5);
    assert_eq!(
        line(&s, MapName::GroupByName, "group1").as_deref(),
        Some("group1:*:200:user2")
    );
    // A new user, then named by DN in a group that group1 nests.
    quick(&mut store, EntryChange::User(user(3, 3, 1003, 0, false)), 6);
    let mut inner = group(2, 2, 201, &[]);
    inner.member_dns = vec!["UID=user3-3, DC=x".into()];
    quick(&mut store, EntryChange::Group(inner), 7);
    let mut outer = group(1, 1, 200, &[]);
    outer.member_dns = vec!["uid=user1-1,dc=x".into(), "cn=group2-2,dc=x".into()];
    let s = quick(&mut store, EntryChange::Group(outer), 8);
    assert_eq!(
        line(&s, MapName::GroupByName, "group1").as_deref(),
        Some("group1:*:200:user2,user3")
    );
    assert_eq!(
        line(&s, MapName::NetidByName, "unix.1003@d").as_deref(),
        Some("1003:100,200,201")
    );
    // A cycle: the inner group names the outer one.
    let mut inner = group(2, 2, 201, &[]);
    inner.member_dns = vec!["uid=user3-3,dc=x".into(), "cn=group1-1,dc=x".into()];
    let s = quick(&mut store, EntryChange::Group(inner), 9);
    assert_eq!(
        line(&s, MapName::GroupByName, "group2").as_deref(),
        Some("group2:*:201:user3,user2")
    );
    // The user named through the nesting removed.
    let s = quick(
        &mut store,
        EntryChange::Remove(Search::Users, "3".into()),
        10,
    );
    assert_eq!(
        line(&s, MapName::GroupByName, "group1").as_deref(),
        Some("group1:*:200:user2")
    );
}

/// Removals that close the holes (places renumbered) and changes after
/// them: the index of the records follows, and the maps stay a build's.
#[test]
fn record_changes_across_a_compaction_give_the_maps_of_a_build() {
    let options = BuildOptions::default();
    let plan = plan();
    let build_with = |store: &EntryStore| {
        let mut b = SnapshotBuilder::new("d", options, None).with_records(Arc::clone(&plan));
        store.feed(&mut b);
        b.end_of_entries(1);
        b.finish().0
    };
    let host = |i: u32, octet: u32| {
        let mut r = record(0, 0, 0, 0, 1, &[], false);
        r.origin.uuid = Some(format!("h{i}"));
        r.values = vec![
            vec![Text::from(format!("host{i}"))],
            vec![Text::from(format!("10.0.{}.{octet}", i % 250))],
        ];
        r
    };
    let mut store = EntryStore::default();
    for i in 0..3000 {
        store.directory(0).upsert_record(host(i, 1));
    }
    // Hosts 2250 to 2260 give one address too, and a record after them
    // all: around the removal that closes the holes (about the 1500th)
    // the places of the records that give it move.
    for i in 2250..2261 {
        let mut h = host(i, 1);
        h.values[1].push(Text::from("10.9.9.9"));
        store.directory(0).upsert_record(h);
    }
    let mut after = host(9999, 1);
    after.values[1] = vec![Text::from("10.9.9.9")];
    store.directory(0).upsert_record(after);
    // Netgroups n0 -> n1 -> n0 (a cycle), as the generated ones.
    for (uuid, a, c) in [(1u8, 0u8, vec![0u8, 5]), (2, 1, vec![1, 4])] {
        store
            .directory(0)
            .upsert_record(record(0, uuid, 2, a, 0, &c, false));
    }
    let mut served = build_with(&store);
    let mut order = 1;
    let mut apply = |store: &mut EntryStore, served: &mut Snapshot, c: EntryChange| {
        order += 1;
        let edits = store
            .apply_quick(0, c, &options, &plan, "d")
            .expect("records are quick");
        if let Some(next) = served.with_edits(&edits, order).expect("edits fit") {
            *served = next;
        }
    };
    let compactions = store.directories[0].compactions;
    let byaddr = MapName::configured("hosts.byaddr").unwrap();
    let mut removals = (0..3000).filter(|i| i % 3 != 0);
    for i in removals.by_ref() {
        apply(
            &mut store,
            &mut served,
            EntryChange::Remove(Search::Records(0), format!("h{i}")),
        );
        if store.directories[0].compactions > compactions {
            // At the compaction itself: the key's records moved.
            assert_eq!(
                line(&served, byaddr, "10.9.9.9"),
                line(&build_with(&store), byaddr, "10.9.9.9"),
                "compacted at host {i}"
            );
            assert!(line(&served, byaddr, "10.9.9.9").is_some());
            break;
        }
    }
    assert!(
        store.directories[0].compactions > compactions,
        "no compaction"
    );
    for i in removals {
        apply(
            &mut store,
            &mut served,
            EntryChange::Remove(Search::Records(0), format!("h{i}")),
        );
    }
    same_maps(&served, &build_with(&store), &[]).expect("a build's maps");
    assert!(line(&served, byaddr, "10.9.9.9").is_some_and(|l| l.ends_with("\thost2250")));
    // A host again at an address a removed one had, one moved, a
    // netgroup changed: the places after the compaction are right.
    apply(&mut store, &mut served, EntryChange::Record(host(1, 1)));
    apply(&mut store, &mut served, EntryChange::Record(host(2997, 7)));
    apply(
        &mut store,
        &mut served,
        EntryChange::Record(record(0, 2, 2, 1, 0, &[2, 3], false)),
    );
    same_maps(&served, &build_with(&store), &[b"10.0.1.1".to_vec()]).expect("a build's maps");
    assert!(
        line(
            &served,
            MapName::configured("hosts.byname").unwrap(),
            "host2997"
        )
        .is_some_and(|l| l.starts_with("10.0.247.7\t"))
    );
}

/// Users removed while groups name users by DN, past the removal that
/// closes the holes (places renumbered, the index of DNs made again),
/// then changes after it: every map stays a build's, and none is built.
#[test]
fn member_dn_changes_across_a_compaction_give_the_maps_of_a_build() {
    let options = BuildOptions::default();
    let person = |i: u32| format!("cn=person{i},dc=x");
    let user_of = |i: u32, name: &str| {
        let mut u = with_uuid(testdata::user(name, 10_000 + i, 100), &format!("u{i}"));
        u.origin.dn = person(i).into();
        u
    };
    let dn_group = |j: u32, dns: Vec<String>| {
        let mut g = testdata::group(&format!("team{j}"), 500 + j, &[]);
        g.origin.uuid = Some(format!("g{j}"));
        g.origin.dn = format!("cn=team{j},dc=x").into();
        g.member_dns = dns.into_iter().map(Into::into).collect();
        g
    };
    let mut store = EntryStore::default();
    for i in 0..3000 {
        store
            .directory(0)
            .upsert_user(user_of(i, &format!("user{i}")));
    }
    // Groups naming users late in the store (their places move), one
    // nesting the other, and one naming users that go.
    store.directory(0).upsert_group(dn_group(
        0,
        vec![person(2998), "cn=team1,dc=x".into(), person(1)],
    ));
    store
        .directory(0)
        .upsert_group(dn_group(1, vec![person(2999), person(2500), person(4)]));
    let mut served = build(&store);
    let mut order = 1;
    let mut apply = |store: &mut EntryStore, served: &mut Snapshot, c: EntryChange| {
        order += 1;
        let edits = store
            .apply_quick(0, c, &options, &plan(), "d")
            .expect("quick");
        if let Some(next) = served.with_edits(&edits, order).expect("edits fit") {
            *served = next;
        }
    };
    let compactions = store.directories[0].compactions;
    for i in (0..2990).filter(|i| i % 4 != 0) {
        apply(
            &mut store,
            &mut served,
            EntryChange::Remove(Search::Users, format!("u{i}")),
        );
    }
    assert!(
        store.directories[0].compactions > compactions,
        "no compaction"
    );
    same_maps(&served, &build(&store), &[]).expect("a build's maps");
    assert_eq!(
        line(&served, MapName::GroupByName, "team0").as_deref(),
        Some("team0:*:500:user2998,user2999,user2500,user4")
    );
    // After it: a rename of a user named by DN, a nesting removed.
    apply(
        &mut store,
        &mut served,
        EntryChange::User(user_of(2999, "renamed")),
    );
    apply(
        &mut store,
        &mut served,
        EntryChange::Group(dn_group(0, vec![person(2998)])),
    );
    same_maps(&served, &build(&store), &[]).expect("a build's maps");
    assert_eq!(
        line(&served, MapName::GroupByName, "team1").as_deref(),
        Some("team1:*:501:renamed,user2500,user4")
    );
}

/// A group whose resolved members make its line longer than a record:
/// the build serves no line for its name or gid (a later group of either
/// does not take them), nor for a group nesting it, and no netid line
/// lists it; members dropped or added across the limit, as edits.
#[test]
fn member_dn_lines_across_the_record_limit_give_the_maps_of_a_build() {
    let options = BuildOptions::default();
    let person = |i: u32| format!("cn=person{i},dc=x");
    let mut store = EntryStore::default();
    for i in 0..150 {
        let mut u = with_uuid(
            testdata::user(&format!("longname{i:03}"), 1000 + i, 100),
            &format!("u{i}"),
        );
        u.origin.dn = person(i).into();
        store.directory(0).upsert_user(u);
    }
    let dn_group = |uuid: &str, name: &str, gid: u32, dns: Vec<String>| {
        let mut g = testdata::group(name, gid, &[]);
        g.origin.uuid = Some(uuid.to_owned());
        g.origin.dn = format!("cn={uuid},dc=x").into();
        g.member_dns = dns.into_iter().map(Into::into).collect();
        g
    };
    let members = |n: u32| (0..n).map(person).collect::<Vec<_>>();
    store
        .directory(0)
        .upsert_group(dn_group("big", "big", 500, members(150)));
    store
        .directory(0)
        .upsert_group(dn_group("outer", "outer", 501, vec!["cn=big,dc=x".into()]));
    let mut later = testdata::group("big", 502, &["longname000"]);
    later.origin.uuid = Some("later".into());
    store.directory(0).upsert_group(later);
    let mut same_gid = testdata::group("other", 500, &["longname001"]);
    same_gid.origin.uuid = Some("other".into());
    store.directory(0).upsert_group(same_gid);
    let mut served = build(&store);
    assert_eq!(line(&served, MapName::GroupByName, "big"), None);
    assert_eq!(line(&served, MapName::GroupByGid, "500"), None);
    assert_eq!(line(&served, MapName::GroupByName, "outer"), None);
    let mut order = 1;
    let steps = [
        dn_group("big", "big", 500, members(50)),
        dn_group("big", "big", 500, members(84)),
        dn_group("big", "big", 500, members(85)),
        dn_group("big", "big", 500, members(10)),
        dn_group("big", "big", 500, members(150)),
    ];
    let mut fitted = false;
    for g in steps {
        order += 1;
        let edits = store
            .apply_quick(0, EntryChange::Group(g), &options, &plan(), "d")
            .expect("quick");
        if let Some(next) = served.with_edits(&edits, order).expect("fits") {
            served = next;
        }
        same_maps(&served, &build(&store), &[]).expect("a build's maps");
        fitted |= line(&served, MapName::GroupByName, "outer").is_some();
    }
    assert!(fitted, "the nesting group's line never fitted");
    // A user named through both removed, then one renamed: the lines
    // that fit follow, the others stay out.
    for c in [
        EntryChange::Remove(Search::Users, "u3".into()),
        EntryChange::Group(dn_group("big", "big", 500, members(20))),
        EntryChange::Remove(Search::Users, "u4".into()),
    ] {
        order += 1;
        let edits = store
            .apply_quick(0, c, &options, &plan(), "d")
            .expect("quick");
        if let Some(next) = served.with_edits(&edits, order).expect("fits") {
            served = next;
        }
        same_maps(&served, &build(&store), &[]).expect("a build's maps");
    }
    assert!(
        line(&served, MapName::NetidByName, "unix.1005@d").is_some_and(|l| l.contains("500")),
        "{:?}",
        line(&served, MapName::NetidByName, "unix.1005@d")
    );
}

/// An entry as a full read returns it: no entryUUID, known by its DN
/// (`e{id}`), whatever its name and numbers.
#[derive(Debug, Clone)]
struct Read {
    group: bool,
    id: u8,
    name: u8,
    number: u32,
    shell: u8,
    members: Vec<u8>,
}

impl Read {
    fn change(&self) -> EntryChange {
        if self.group {
            let mut g = group(self.id, self.name, 200 + self.number, &self.members);
            g.origin = Origin {
                dn: format!("cn=e{},dc=x", self.id).into(),
                uuid: None,
            };
            EntryChange::Group(g)
        } else {
            let mut u = user(self.id, self.name, 1000 + self.number, self.shell, false);
            u.origin = Origin {
                dn: format!("uid=e{},dc=x", self.id).into(),
                uuid: None,
            };
            EntryChange::User(u)
        }
    }
}

fn read_entry() -> impl Strategy<Value = Read> {
    (
        any::<bool>(),
        0u8..14,
        0u8..6,
        0u32..4,
        0u8..3,
        proptest::collection::vec(0u8..6, 0..3),
    )
        .prop_map(|(group, id, name, number, shell, members)| Read {
            group,
            id,
            name,
            number,
            shell,
            members,
        })
}

/// One entry per DN and kind, the first kept, as one search returns it.
fn one_per_dn(entries: Vec<Read>) -> Vec<Read> {
    let mut seen = std::collections::HashSet::new();
    entries
        .into_iter()
        .filter(|e| seen.insert((e.group, e.id)))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    /// A directory read in full again, compared with its kept entries as
    /// ypldapd does (in batches, each entry not kept as read a change,
    /// then the kept entries not read again removed), and the changes
    /// served as edits: the kept entries are then those of the second
    /// read, and every map equals the maps built from them. A read that
    /// returns every entry as kept, in any order, changes nothing.
    #[test]
    fn a_full_read_compared_with_the_kept_entries_gives_its_maps(
        first in proptest::collection::vec(read_entry(), 0..20),
        fate in proptest::collection::vec(0u8..4, 20),
        new in proptest::collection::vec(read_entry(), 0..6),
        reversed in any::<bool>(),
    ) {
        let options = BuildOptions::default();
        let plan = plan();
        let build_with = |store: &EntryStore, order: u32| {
            let mut b = SnapshotBuilder::new("d", options, None).with_records(Arc::clone(&plan));
            store.feed(&mut b);
            b.end_of_entries(order);
            b.finish().0
        };
        let first = one_per_dn(first);
        let mut store = EntryStore::default();
        for e in &first {
            store.directory(0).apply(e.change());
        }
        let mut served = build_with(&store, 1);
        let before: Vec<Vec<u8>> = all_maps()
            .into_iter()
            .flat_map(|m| served.iter(m).map(|(k, _)| k.to_vec()).collect::<Vec<_>>())
            .collect();
        // The second read: each entry kept, changed (its shell or gid),
        // or gone; new ones; in the same order or not.
        let mut second: Vec<Read> = first
            .iter()
            .zip(&fate)
            .filter(|(_, f)| **f != 0)
            .map(|(e, f)| {
                let mut e = e.clone();
                if *f == 1 {
                    e.shell += 1;
                    e.number += 1;
                }
                e
            })
            .collect();
        second.extend(new);
        if reversed {
            second.reverse();
        }
        let second = one_per_dn(second);
        let entries = |read: &[Read]| {
            let mut all: Vec<String> = read.iter().map(|e| format!("{:?}", e.change())).collect();
            all.sort();
            all
        };
        let untouched = entries(&second) == entries(&first);

        let mut reread = store.get(0).map(DirectoryEntries::reread).unwrap_or_default();
        let mut order = 1;
        let mut changes = 0;
        let mut serve = |store: &mut EntryStore, served: &mut Snapshot, c: EntryChange| {
            order += 1;
            let edits = store.apply_quick(0, c, &options, &plan, "d").expect("no member DNs");
            if let Some(next) = served.with_edits(&edits, order).expect("edits fit") {
                *served = next;
            }
        };
        for batch in second.chunks(3) {
            let kept = store.directory(0);
            let read: Vec<EntryChange> = batch
                .iter()
                .map(Read::change)
                .filter(|c| match c {
                    EntryChange::User(u) => !kept.reread_user(&mut reread, u),
                    EntryChange::Group(g) => !kept.reread_group(&mut reread, g),
                    _ => true,
                })
                .collect();
            changes += read.len();
            for c in read {
                serve(&mut store, &mut served, c);
            }
        }
        let gone = store.directory(0).not_reread(&reread);
        changes += gone.len();
        for c in gone {
            serve(&mut store, &mut served, c);
        }
        if untouched {
            prop_assert_eq!(changes, 0);
        }
        // The kept entries are the second read's, whatever their order.
        let mut kept: Vec<String> = store
            .get(0)
            .map(|d| {
                d.users()
                    .map(|u| format!("{u:?}"))
                    .chain(d.groups().map(|g| format!("{g:?}")))
                    .collect()
            })
            .unwrap_or_default();
        let mut want: Vec<String> = second
            .iter()
            .map(|e| match e.change() {
                EntryChange::User(u) => format!("{u:?}"),
                EntryChange::Group(g) => format!("{g:?}"),
                _ => String::new(),
            })
            .collect();
        kept.sort();
        want.sort();
        prop_assert_eq!(kept, want);
        let built = build_with(&store, 0);
        same_maps(&served, &built, &before)?;
    }
}
