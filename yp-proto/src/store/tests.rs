use proptest::prelude::*;

use super::*;
use crate::build::{BuildOptions, SnapshotBuilder};
use crate::maps::MapName;
use crate::snapshot::Snapshot;
use crate::testdata;

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
struct Modify {
    who: u8,
    shell: u8,
    rename: bool,
    new_uid: Option<u32>,
    disable: bool,
}

fn modify() -> impl Strategy<Value = Modify> {
    (
        any::<u8>(),
        0u8..4,
        proptest::bool::weighted(0.1),
        proptest::option::weighted(0.1, 1000u32..1004),
        proptest::bool::weighted(0.1),
    )
        .prop_map(|(who, shell, rename, new_uid, disable)| Modify {
            who,
            shell,
            rename,
            new_uid,
            disable,
        })
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

proptest! {
    /// Where a modification alters values only, the values it gives make
    /// the maps a build of the changed store makes, byte for byte.
    #[test]
    fn quick_values_give_the_maps_of_a_build(
        users in proptest::collection::vec((0u8..8, 1000u32..1006, 0u8..4), 1..30),
        changes in proptest::collection::vec(modify(), 1..20),
        omit in any::<bool>(),
    ) {
        let options = BuildOptions { omit_disabled: omit, ..BuildOptions::default() };
        let build_with = |store: &EntryStore| {
            let mut b = SnapshotBuilder::new("d", options, None);
            store.feed(&mut b);
            b.end_of_entries(1);
            b.finish().0
        };
        let mut store = EntryStore::default();
        for (i, &(name, uid, shell)) in users.iter().enumerate() {
            store.directory(i % 2).upsert_user(user(i as u8, name, uid, shell, false));
        }
        let mut served = build_with(&store);
        for m in &changes {
            let i = usize::from(m.who) % users.len();
            let (name, uid, _) = users[i];
            let name = if m.rename { name.wrapping_add(1) % 8 } else { name };
            let new = user(i as u8, name, m.new_uid.unwrap_or(uid), m.shell, m.disable);
            let d = i % 2;
            let values = store.user_values(d, &new, &served, &options);
            store.directory(d).upsert_user(new);
            let want = build_with(&store);
            served = match values {
                Some(v) => {
                    let patched = served.with_values(&v, 2).expect("keys exist");
                    for map in MapName::ALL {
                        let a: Vec<_> = patched.iter(map).collect();
                        let b: Vec<_> = want.iter(map).collect();
                        prop_assert_eq!(a, b, "{}", map);
                        for (k, v) in want.iter(map) {
                            prop_assert_eq!(patched.get(map, k), Some(v));
                        }
                    }
                    patched
                }
                None => want,
            };
        }
    }
}

#[test]
fn a_shell_change_is_quick_and_a_rename_is_not() {
    let options = BuildOptions::default();
    let mut store = EntryStore::default();
    store.directory(0).upsert_user(user(1, 1, 1000, 0, false));
    store.directory(0).upsert_user(user(2, 2, 1001, 0, false));
    let served = build(&store);
    let shell = store.user_values(0, &user(1, 1, 1000, 3, false), &served, &options);
    let values = shell.expect("a shell change alters values only");
    assert_eq!(values.len(), 5);
    assert!(
        store
            .user_values(0, &user(1, 5, 1000, 3, false), &served, &options)
            .is_none()
    );
    assert!(
        store
            .user_values(0, &user(1, 1, 1009, 3, false), &served, &options)
            .is_none()
    );
    // Not kept: an add.
    assert!(
        store
            .user_values(0, &user(9, 1, 1000, 3, false), &served, &options)
            .is_none()
    );
}

fn group(uuid: u8, name: u8, gid: u32, members: &[u8]) -> Group<'static> {
    let names: Vec<String> = members.iter().map(|m| format!("user{m}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut g = testdata::group(&format!("group{name}"), gid, &refs);
    g.origin.uuid = Some(format!("g{uuid}"));
    g.origin.dn = format!("cn=group{name}-{uuid},dc=x").into();
    g
}

proptest! {
    /// Where a group's change alters values only, the values it gives make
    /// the maps a build of the changed store makes, byte for byte (group
    /// lines, and the netid lines of the users who join or leave).
    #[test]
    fn quick_group_values_give_the_maps_of_a_build(
        users in proptest::collection::vec((0u8..10, 1000u32..1008, 100u32..104), 1..20),
        groups in proptest::collection::vec((0u8..6, 100u32..106, proptest::collection::vec(0u8..12, 0..6)), 1..12),
        changes in proptest::collection::vec((any::<u8>(), proptest::collection::vec(0u8..12, 0..8), proptest::bool::weighted(0.1)), 1..15),
    ) {
        let options = BuildOptions::default();
        let build_with = |store: &EntryStore| {
            let mut b = SnapshotBuilder::new("d", options, None);
            store.feed(&mut b);
            b.end_of_entries(1);
            b.finish().0
        };
        let mut store = EntryStore::default();
        for (i, &(name, uid, gid)) in users.iter().enumerate() {
            let mut u = user(i as u8, name, uid, 0, false);
            u.gid = gid;
            store.directory(0).upsert_user(u);
        }
        for (i, (name, gid, members)) in groups.iter().enumerate() {
            store.directory(i % 2).upsert_group(group(i as u8, *name, *gid, members));
        }
        let mut served = build_with(&store);
        for (who, members, regid) in &changes {
            let i = usize::from(*who) % groups.len();
            let (name, gid, _) = &groups[i];
            let gid = if *regid { gid + 1 } else { *gid };
            let new = group(i as u8, *name, gid, members);
            let d = i % 2;
            let values = store.group_values(d, &new, &served, "d");
            store.directory(d).upsert_group(new);
            let want = build_with(&store);
            served = match values {
                Some(v) => {
                    let patched = served.with_values(&v, 2).expect("keys exist");
                    for map in MapName::ALL {
                        let a: Vec<_> = patched.iter(map).collect();
                        let b: Vec<_> = want.iter(map).collect();
                        prop_assert_eq!(a, b, "{}", map);
                    }
                    patched
                }
                None => want,
            };
        }
    }
}

#[test]
fn a_member_added_is_quick_and_changes_the_netid() {
    let mut store = EntryStore::default();
    store.directory(0).upsert_user(user(1, 1, 1000, 0, false));
    store.directory(0).upsert_group(group(1, 1, 200, &[]));
    let served = build(&store);
    let values = store
        .group_values(0, &group(1, 1, 200, &[1]), &served, "d")
        .expect("a member added alters values only");
    let patched = served.with_values(&values, 2).expect("keys exist");
    assert_eq!(
        line(&patched, MapName::GroupByName, "group1").as_deref(),
        Some("group1:*:200:user1")
    );
    assert_eq!(
        line(&patched, MapName::NetidByName, "unix.1000@d").as_deref(),
        Some("1000:100,200")
    );
}
