use entry_rules::records::{Record, RecordKind, SiteFormat};
use entry_rules::{Origin, Text};

use super::*;
use crate::build::{BuildOptions, SnapshotBuilder};
use crate::snapshot::Snapshot;

fn search(kind: RecordKind, maps: &[&str]) -> SearchPlan {
    SearchPlan::of_kind(kind, |m| maps.contains(&m))
}

/// A record of search `search` with `values` by role index.
fn rec<'a>(search: u16, dn: &'a str, values: &[&[&'a str]]) -> Record<'a> {
    Record {
        origin: Origin {
            dn: Text::from(dn),
            uuid: None,
        },
        search,
        values: values
            .iter()
            .map(|vs| vs.iter().map(|v| Text::from(*v)).collect())
            .collect(),
    }
}

fn build(plan: RecordPlan, records: &[Record<'_>]) -> (Snapshot, crate::BuildReport) {
    let mut b = SnapshotBuilder::new("example.test", BuildOptions::default(), None)
        .with_records(Arc::new(plan));
    b.add_records(records);
    b.end_of_entries(1);
    b.finish()
}

fn get(s: &Snapshot, map: &str, key: &str) -> Option<String> {
    let m: MapName = map.parse().ok()?;
    s.get(m, key.as_bytes())
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

fn all(s: &Snapshot, map: &str) -> Vec<(String, String)> {
    let m: MapName = map.parse().expect("known map");
    s.iter(m)
        .map(|(k, v)| {
            (
                String::from_utf8_lossy(k).into_owned(),
                String::from_utf8_lossy(v).into_owned(),
            )
        })
        .collect()
}

#[test]
fn hosts_first_entry_wins_and_keys_sorted() {
    let plan = RecordPlan {
        searches: vec![search(RecordKind::Hosts, &["hosts.byname", "hosts.byaddr"])],
    };
    let (s, rep) = build(
        plan,
        &[
            rec(0, "cn=b,dc=x", &[&["b", "www"], &["192.0.2.2"]]),
            rec(
                0,
                "cn=a,dc=x",
                &[&["a", "www"], &["192.0.2.1", "192.0.2.3"]],
            ),
            rec(0, "cn=bad,dc=x", &[&["bad"], &["300.0.0.1"]]),
        ],
    );
    assert_eq!(
        get(&s, "hosts.byname", "www").as_deref(),
        Some("192.0.2.2\tb www")
    );
    assert_eq!(
        get(&s, "hosts.byname", "a").as_deref(),
        Some("192.0.2.1\ta www")
    );
    assert_eq!(
        all(&s, "hosts.byaddr")
            .into_iter()
            .map(|(k, _)| k)
            .collect::<Vec<_>>(),
        ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
    );
    assert_eq!(rep.duplicate_keys, 1);
    assert_eq!(
        rep.records.get(&RecordKind::Hosts),
        Some(&RecordCounts {
            received: 3,
            kept: 2
        })
    );
    assert_eq!(rep.drops.get(&DropReason::InvalidValue), Some(&1));
    let sample = &rep.samples[0];
    assert_eq!(
        sample.kind,
        crate::build::EntryKind::Record(RecordKind::Hosts)
    );
    assert!(sample.detail.contains("300.0.0.1"), "{sample:?}");
    // A map the plan does not serve is not in the snapshot.
    assert_eq!(s.other_maps().count(), 2);
}

#[test]
fn only_served_slots_are_filled() {
    let plan = RecordPlan {
        searches: vec![search(RecordKind::Services, &["services.byname"])],
    };
    let (s, _) = build(
        plan,
        &[rec(0, "cn=ssh,dc=x", &[&["ssh"], &["22"], &["tcp"]])],
    );
    assert_eq!(
        all(&s, "services.byname"),
        [("22/tcp".into(), "ssh\t22/tcp".into())]
    );
    assert!(all(&s, "services.byservicename").is_empty());
}

#[test]
fn netgroup_reverse_maps_as_revnetgroup() {
    let plan = RecordPlan {
        searches: vec![search(
            RecordKind::Netgroup,
            &["netgroup", "netgroup.byuser", "netgroup.byhost"],
        )],
    };
    let (s, rep) = build(
        plan,
        &[
            rec(
                0,
                "cn=admins,dc=x",
                &[&["admins"], &["(h1,alice,dom)", "(,bob,)"], &["ops"]],
            ),
            rec(
                0,
                "cn=ops,dc=x",
                &[&["ops"], &["(h2,carol,dom)", "(-,-,dom)"], &["admins"]],
            ),
            rec(0, "cn=empty,dc=x", &[&["empty"]]),
        ],
    );
    assert_eq!(rep.dropped(), 0, "{rep:?}");
    assert_eq!(
        get(&s, "netgroup", "admins").as_deref(),
        Some("(h1,alice,dom) (,bob,) ops")
    );
    assert_eq!(get(&s, "netgroup", "empty").as_deref(), Some(""));
    // Nested both ways (a cycle): each reaches the other's members.
    assert_eq!(
        all(&s, "netgroup.byuser"),
        [
            ("alice.dom".to_owned(), "admins,ops".to_owned()),
            ("bob.*".to_owned(), "admins,ops".to_owned()),
            ("carol.dom".to_owned(), "admins,ops".to_owned()),
        ]
    );
    assert_eq!(
        all(&s, "netgroup.byhost"),
        [
            ("*.*".to_owned(), "admins,ops".to_owned()),
            ("h1.dom".to_owned(), "admins,ops".to_owned()),
            ("h2.dom".to_owned(), "admins,ops".to_owned()),
        ]
    );
}

#[test]
fn reverse_value_too_long_is_dropped() {
    let plan = RecordPlan {
        searches: vec![search(RecordKind::Netgroup, &["netgroup.byuser"])],
    };
    let names: Vec<String> = (0..200).map(|i| format!("netgroup-{i:04}")).collect();
    let dns: Vec<String> = names.iter().map(|n| format!("cn={n},dc=x")).collect();
    let records: Vec<Record<'_>> = names
        .iter()
        .zip(&dns)
        .map(|(n, dn)| rec(0, dn, &[&[n.as_str()], &["(,alice,)"]]))
        .collect();
    let (s, rep) = build(plan, &records);
    assert_eq!(get(&s, "netgroup.byuser", "alice.*"), None);
    assert_eq!(rep.drops.get(&DropReason::LineTooLong), Some(&1));
}

#[test]
fn automount_entries_go_to_the_map_they_name() {
    let home = MapName::configured("auto.home").unwrap();
    let master = MapName::configured("auto.master").unwrap();
    let mut plan = RecordPlan {
        searches: vec![search(RecordKind::Automount, &[])],
    };
    plan.searches[0].slots = vec![Some(master), Some(home)];
    let (s, rep) = build(
        plan,
        &[
            rec(
                0,
                "automountKey=/home,automountMapName=auto.master,dc=x",
                &[&["/home"], &["auto.home"]],
            ),
            rec(
                0,
                "cn=alice,nisMapName=auto.home,dc=x",
                &[&[], &[], &["alice"], &["srv:/home/alice"], &["auto.home"]],
            ),
            rec(
                0,
                "automountKey=x,automountMapName=auto.other,dc=x",
                &[&["x"], &["y"]],
            ),
        ],
    );
    assert_eq!(rep.dropped(), 0);
    assert_eq!(
        get(&s, "auto.master", "/home").as_deref(),
        Some("auto.home")
    );
    assert_eq!(
        get(&s, "auto.home", "alice").as_deref(),
        Some("srv:/home/alice")
    );
    assert_eq!(s.other_maps().count(), 2);
}

#[test]
fn aliases_and_site_maps() {
    let (format, attrs) = SiteFormat::parse("${cn} ${labeledURI}").unwrap();
    let printers = MapName::configured("printers").unwrap();
    let site = SearchPlan {
        kind: RecordKind::Site,
        attributes: std::iter::once("cn".to_owned()).chain(attrs).collect(),
        site: Some(format),
        slots: vec![Some(printers)],
    };
    let plan = RecordPlan {
        searches: vec![search(RecordKind::Aliases, &["mail.aliases"]), site],
    };
    let (s, _) = build(
        plan,
        &[
            rec(
                0,
                "cn=postmaster,dc=x",
                &[&["postmaster"], &["root", "alice"]],
            ),
            rec(1, "cn=lp1,dc=x", &[&["lp1"], &["lp1"], &["ipp://lp1"]]),
            rec(7, "cn=unknown,dc=x", &[&["x"]]),
        ],
    );
    assert_eq!(
        all(&s, "mail.aliases"),
        [
            ("@".to_owned(), "@".to_owned()),
            ("postmaster".to_owned(), "root, alice".to_owned())
        ]
    );
    assert_eq!(get(&s, "printers", "lp1").as_deref(), Some("lp1 ipp://lp1"));
}

#[test]
fn users_and_classic_maps_side_by_side() {
    let plan = RecordPlan {
        searches: vec![search(RecordKind::Protocols, &["protocols.bynumber"])],
    };
    let (users, _) = crate::testdata::generate(3, 0);
    let mut b =
        SnapshotBuilder::new("d", BuildOptions::default(), None).with_records(Arc::new(plan));
    b.add_users(&users);
    b.add_records(&[rec(0, "cn=tcp,dc=x", &[&["tcp"], &["6"]])]);
    b.end_of_entries(1);
    let (s, rep) = b.finish();
    assert_eq!(rep.users_kept, 3);
    assert_eq!(
        get(&s, "protocols.bynumber", "6").as_deref(),
        Some("tcp\t6")
    );
    assert_eq!(s.len(MapName::PasswdByName), 3);
}
