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
