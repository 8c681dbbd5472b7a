//! 389 Directory Server (FreeIPA's directory) as sites run it: users as
//! `inetOrgPerson` + `posixAccount`, groups as `groupOfNames` +
//! `posixGroup` with `member` DNs, a nested group, an account locked with
//! `nsAccountLock: TRUE`. One instance for the whole file (creating one
//! takes seconds): one test, its steps in order.

use std::fmt::Write;

use tests::expect::{self, Maps};
use tests::ldif::{self, BIND_DN, BIND_PW, Group, SUFFIX, User};
use tests::nslcd::{Differences, Nslcd, NslcdConfig, compare_with_nslcd};
use tests::world::{Data, Directory, World};

fn dn(rdn: &str, ou: &str) -> String {
    format!("{rdn},ou={ou},{SUFFIX}")
}

/// The locked account.
const LOCKED: &str = "dave";

fn data() -> Data {
    let users = vec![
        User::named("alice", 10001),
        User::named("bob", 10002),
        User::named("carol", 10003),
        User::named(LOCKED, 10004),
    ];
    let mut text = ldif::ldif(&users, &[]).replacen(
        &format!("uid: {LOCKED}\n"),
        &format!("uid: {LOCKED}\nnsAccountLock: TRUE\n"),
        1,
    );
    let groups: [(&str, u32, Vec<String>); 3] = [
        (
            "developers",
            20001,
            vec![dn("uid=alice", "People"), dn("uid=bob", "People")],
        ),
        (
            "staff",
            20002,
            vec![dn("uid=carol", "People"), dn("uid=dave", "People")],
        ),
        (
            "nested",
            20003,
            vec![
                dn("cn=staff", "Groups"),
                dn("cn=developers", "Groups"),
                dn("uid=alice", "People"),
            ],
        ),
    ];
    for (cn, gid, members) in &groups {
        let _ = write!(
            text,
            "dn: cn={cn},ou=Groups,{SUFFIX}\nobjectClass: top\nobjectClass: groupOfNames\n\
             objectClass: posixGroup\ncn: {cn}\ngidNumber: {gid}\n"
        );
        for m in members {
            let _ = writeln!(text, "member: {m}");
        }
        text.push('\n');
    }
    let group = Group::named;
    Data {
        users,
        groups: vec![
            group("developers", 20001, &["alice", "bob"]),
            group("staff", 20002, &["carol", "dave"]),
            // staff's members where it stands, then developers', alice once.
            group("nested", 20003, &["carol", "dave", "alice", "bob"]),
        ],
        ldif: text,
    }
}

fn assert_maps(w: &World, want: &Maps) {
    for (map, lines) in want {
        let got = w.ypcat(map).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(&got, lines, "{map}");
    }
}

#[test]
fn ds389_groups_of_names_nested_and_locked() {
    let mut w = World::builder("ds389.test")
        .directory(Directory::ds389(data()).read(|b| {
            b.members = vec!["member".into()];
        }))
        .start();
    let users = w.users();
    let locked = users
        .iter()
        .find(|u| u.name == LOCKED)
        .expect("locked user");
    let want = expect::locked(w.expected_maps(), locked);
    assert_maps(&w, &want);
    let log = w.log();
    assert!(
        log.contains("4 users, 3 groups, dropped: none")
            && log.contains("passwords served locked: 1 disabled account")
            && log
                .contains("member DNs: 9 resolved, 2 nested groups, 0 unresolved, 0 nestings cut"),
        "{log}"
    );

    // nslcd on the same server agrees on users, groups and group lists.
    w.bind_clients();
    {
        let _nslcd = Nslcd::start(
            &w.ns,
            &NslcdConfig {
                lines: vec![
                    "uri ldap://127.0.0.1/".into(),
                    format!("base {SUFFIX}"),
                    format!("binddn {BIND_DN}"),
                    format!("bindpw {BIND_PW}"),
                    "filter passwd (objectClass=posixAccount)".into(),
                    "filter group (objectClass=posixGroup)".into(),
                    "map group member member".into(),
                    "nss_nested_groups yes".into(),
                ],
            },
        );
        compare_with_nslcd(&w, &Differences::default());
    }

    // `disabled accounts omitted`: the locked account is left out, and
    // from its group too (a DN that names no entry read).
    w.config.statements.push("disabled accounts omitted".into());
    w.restart_ypldapd();
    let log = w.log();
    assert!(
        log.contains("3 users, 3 groups, dropped: 1 disabled account"),
        "{log}"
    );
    let got = w.ypcat("group.byname").expect("ypcat");
    let staff = got.iter().find(|(k, _)| k == "staff").expect("staff");
    assert_eq!(staff.1, "staff:*:20002:carol");
    assert!(
        w.ypcat("passwd.byname")
            .expect("ypcat")
            .iter()
            .all(|(k, _)| k != LOCKED)
    );
}
