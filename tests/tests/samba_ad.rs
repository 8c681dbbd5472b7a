//! Samba as an Active Directory domain controller, read as the man page's
//! Active Directory example says: users named by their full name
//! (`CN=Alice Liddell,CN=Users,…`) with RFC 2307 attributes, groups with
//! `member` DNs, a nested group, a group of 2,000 members, a disabled
//! account; over LDAPS with a CA the test made. One DC for the whole file
//! (provisioning takes seconds): one test, its steps in order.

use std::collections::BTreeSet;
use std::fmt::Write;

use tests::expect::{self, Password};
use tests::ldif::{Group, User};
use tests::nslcd::{Differences, Nslcd, NslcdConfig, compare_with_nslcd};
use tests::samba_ad::{ADMIN_DN, ADMIN_PW, USERS};
use tests::world::{Data, Directory, World};

/// Members of the big group: more than a YP record can list, more than
/// AD's 1,500 values per range.
const BIG: usize = 2000;
const DISABLED: &str = "dave";

/// (login, full name, uid): the users the other groups are made of.
const NAMED: [(&str, &str, u32); 4] = [
    ("alice", "Alice Liddell", 10001),
    ("bob", "Bob Builder", 10002),
    ("carol", "Carol Danvers", 10003),
    (DISABLED, "Dave Disabled", 10004),
];

fn user_dn(full_name: &str) -> String {
    format!("CN={full_name},{USERS}")
}

fn data() -> Data {
    let mut users: Vec<(User, String)> = NAMED
        .iter()
        .map(|&(login, full, uid)| (user(login, full, uid), full.to_owned()))
        .collect();
    for i in 1..=BIG {
        let full = format!("Member {i:04}");
        users.push((user(&format!("m{i:04}"), &full, 11000 + i as u32), full));
    }
    let mut text = String::new();
    for (u, full) in &users {
        // 544: enabled, no password needed; 546 adds ACCOUNTDISABLE.
        let uac = if u.name == DISABLED { 546 } else { 544 };
        let _ = write!(
            text,
            "dn: {dn}\nobjectClass: user\nsAMAccountName: {n}\nuserPrincipalName: {n}@example.test\n\
             uid: {n}\nuidNumber: {uid}\ngidNumber: {gid}\nunixHomeDirectory: {h}\nloginShell: {sh}\n\
             gecos: {g}\nuserAccountControl: {uac}\n\n",
            dn = user_dn(full),
            n = u.name,
            uid = u.uid,
            gid = u.gid,
            h = u.home,
            sh = u.shell,
            g = u.gecos,
        );
    }
    let group_dn = |name: &str| format!("CN={name},{USERS}");
    let big: Vec<String> = users[NAMED.len()..]
        .iter()
        .map(|(_, full)| user_dn(full))
        .collect();
    let groups: [(&str, u32, Vec<String>); 4] = [
        (
            "developers",
            20001,
            vec![user_dn("Alice Liddell"), user_dn("Bob Builder")],
        ),
        (
            "staff",
            20002,
            vec![user_dn("Carol Danvers"), user_dn("Dave Disabled")],
        ),
        (
            "allstaff",
            29001,
            vec![
                group_dn("staff"),
                group_dn("developers"),
                user_dn("Carol Danvers"),
            ],
        ),
        ("biggroup", 29000, big),
    ];
    for (name, gid, members) in &groups {
        let _ = write!(
            text,
            "dn: {}\nobjectClass: group\nsAMAccountName: {name}\ngidNumber: {gid}\n",
            group_dn(name)
        );
        for m in members {
            let _ = writeln!(text, "member: {m}");
        }
        text.push('\n');
    }
    let group = Group::named;
    Data {
        users: users.into_iter().map(|(u, _)| u).collect(),
        // biggroup is left out: its line would be too long.
        groups: vec![
            group("developers", 20001, &["alice", "bob"]),
            group("staff", 20002, &["carol", DISABLED]),
            group("allstaff", 29001, &["carol", DISABLED, "alice", "bob"]),
        ],
        ldif: text,
    }
}

fn user(login: &str, full: &str, uid: u32) -> User {
    User {
        name: login.into(),
        uid,
        gid: 100,
        gecos: full.into(),
        home: format!("/home/{login}"),
        shell: "/bin/bash".into(),
        password: "*".into(),
    }
}

/// A group map's entries with their members as sets: AD keeps no value
/// order.
fn as_sets(lines: &[(String, String)]) -> Vec<(String, String, BTreeSet<String>)> {
    let mut v: Vec<_> = lines
        .iter()
        .map(|(k, l)| {
            let (head, members) = tests::nslcd::group_entry(l);
            (k.clone(), head, members)
        })
        .collect();
    v.sort();
    v
}

/// Every map; the group maps with their members as sets.
fn assert_maps(w: &World) {
    let users = w.users();
    let disabled = users.iter().find(|u| u.name == DISABLED).expect("disabled");
    let want = expect::locked(w.expected_maps(), disabled);
    assert_eq!(w.config.password(), Password::Fixed);
    for (map, lines) in &want {
        let got = w.ypcat(map).unwrap_or_else(|e| panic!("{e}"));
        if map.starts_with("group.") {
            assert_eq!(as_sets(&got), as_sets(lines), "{map}");
        } else {
            assert_eq!(&got, lines, "{map}");
        }
    }
}

#[test]
fn samba_ad_full_names_nested_big_and_disabled() {
    let mut w = World::builder("ad.test")
        .directory(Directory::samba_ad(data()))
        .start();
    let log = w.log();
    assert!(
        log.contains(&format!(
            "{} users, 3 groups, dropped: 1 entry too large, passwords served locked: 1 disabled account",
            BIG + NAMED.len()
        )),
        "{log}"
    );
    assert!(
        log.lines()
            .any(|l| l.starts_with("dropped \"CN=biggroup,CN=Users,DC=example,DC=test\"")),
        "{log}"
    );
    assert_maps(&w);

    // nslcd, configured for AD the same way, agrees; it serves biggroup,
    // whose line no YP record can hold.
    w.bind_clients();
    let ca = w.pki().path("ca.crt");
    {
        let _nslcd = Nslcd::start(
            &w.ns,
            &NslcdConfig {
                lines: vec![
                    "uri ldaps://127.0.0.1/".into(),
                    format!("tls_cacertfile {}", ca.display()),
                    format!("binddn {ADMIN_DN}"),
                    format!("bindpw {ADMIN_PW}"),
                    format!("base {USERS}"),
                    "filter passwd (&(objectCategory=person)(uidNumber=*))".into(),
                    "map passwd uid sAMAccountName".into(),
                    "map passwd homeDirectory unixHomeDirectory".into(),
                    "map passwd gecos gecos".into(),
                    "filter group (&(objectClass=group)(gidNumber=*))".into(),
                    "map group cn sAMAccountName".into(),
                    // Member DNs alone, as ypldapd is configured (AD keeps
                    // memberUid in step with nothing).
                    "map group memberUid description".into(),
                    "map group member member".into(),
                    "nss_nested_groups yes".into(),
                ],
            },
        );
        compare_with_nslcd(
            &w,
            &Differences {
                groups_left_out: vec!["biggroup"],
                // `id` through nslcd costs ~0.4 s on Samba: the named
                // users and two members of the big group.
                id_users: Some(vec!["alice", "bob", "carol", DISABLED, "m0001", "m2000"]),
                ..Differences::default()
            },
        );
    }

    // Samba sends ranges only when asked: asked for one value at a time
    // (`member;range=0-0`), it answers `member;range=0-0`, and the reader
    // must fetch `member;range=1-*` for every group of two or more.
    w.config.directories[0].members = vec!["member;range=0-0".into()];
    w.restart_ypldapd();
    assert_maps(&w);
    assert!(
        w.log().contains("3 groups, dropped: 1 entry too large"),
        "{}",
        w.log()
    );
}
