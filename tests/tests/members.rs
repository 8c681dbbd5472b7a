//! Group members given as DNs (RFC 2307bis) on a real slapd: nested
//! groups, a cycle, escaped and odd-case DNs, a dangling DN, a group with
//! both `memberUid` and `member`; nslcd reading the same directory as the
//! reference; and bad input that must not stop an update.

use std::fmt::Write;

use tests::config::DirectoryBlock;
use tests::ldif::{self, BIND_DN, BIND_PW, Group, SUFFIX, User};
use tests::nslcd::{Differences, Known, Nslcd, NslcdConfig, compare_with_nslcd};
use tests::world::{Data, Directory, World};

fn user(name: &str, uid: u32, gecos: &str) -> User {
    User {
        name: name.into(),
        uid,
        gid: 100,
        gecos: gecos.into(),
        home: format!("/home/{name}"),
        shell: "/bin/sh".into(),
        password: format!("{{CRYPT}}$6${name}$hash"),
    }
}

fn group(name: &str, gid: u32, members: &[&str]) -> Group {
    Group {
        name: name.into(),
        gid,
        members: members.iter().map(|m| (*m).to_owned()).collect(),
    }
}

/// A `groupOfNames` with a `gidNumber` (through `extensibleObject`), its
/// `member` DNs and `memberUid` names as given, in that order.
fn group_entry(cn: &str, gid: u32, member: &[&str], member_uid: &[&str]) -> String {
    let mut s = format!(
        "dn: cn={cn},ou=Groups,{SUFFIX}\nobjectClass: groupOfNames\nobjectClass: extensibleObject\n\
         cn: {cn}\ngidNumber: {gid}\n"
    );
    for m in member {
        let _ = writeln!(s, "member: {m}");
    }
    for m in member_uid {
        let _ = writeln!(s, "memberUid: {m}");
    }
    s.push('\n');
    s
}

fn user_dn(name: &str) -> String {
    format!("uid={name},ou=People,{SUFFIX}")
}

fn group_dn(name: &str) -> String {
    format!("cn={name},ou=Groups,{SUFFIX}")
}

/// The RFC 2307bis directory: five users (one whose DN has an escaped
/// comma in a two-valued RDN) and groups whose members are DNs. `groups`
/// are the lines the maps must show, spelled out by hand from the LDIF.
fn rfc2307bis() -> Data {
    let plain = vec![
        user("alice", 10001, "Alice"),
        user("bob", 10002, "Bob"),
        user("carol", 10003, "Carol"),
        user("dave", 10004, "Dave"),
    ];
    let lewis = user("lewis", 10005, "Lewis Carroll");
    let mut text = ldif::ldif(&plain, &[]);
    // A multi-valued RDN whose cn holds a comma.
    let _ = write!(
        text,
        "dn: cn=Lewis\\2C Carroll+uid=lewis,ou=People,{SUFFIX}\nobjectClass: inetOrgPerson\n\
         objectClass: posixAccount\nuid: lewis\ncn: Lewis, Carroll\nsn: Carroll\nuidNumber: 10005\n\
         gidNumber: 100\nhomeDirectory: /home/lewis\nloginShell: /bin/sh\ngecos: Lewis Carroll\n\
         userPassword: {}\n\n",
        lewis.password
    );
    let (a, b, c, d) = (
        user_dn("alice"),
        user_dn("bob"),
        user_dn("carol"),
        user_dn("dave"),
    );
    // The same DN as lewis's, spelled otherwise: its RDN's values the other
    // way round, other case, the comma escaped by name, spaces after commas.
    let lewis_dn = "UID=Lewis+CN=lewis\\, carroll, OU=people, DC=Example, DC=COM";
    text.push_str(&group_entry("developers", 20001, &[&a, &b], &[]));
    text.push_str(&group_entry("staff", 20002, &[&c, lewis_dn], &[]));
    text.push_str(&group_entry(
        "allstaff",
        20003,
        &[&group_dn("developers"), &group_dn("staff"), &d],
        &[],
    ));
    text.push_str(&group_entry(
        "cyclea",
        20004,
        &[&group_dn("cycleb"), &a],
        &[],
    ));
    text.push_str(&group_entry(
        "cycleb",
        20005,
        &[&group_dn("cyclea"), &b],
        &[],
    ));
    text.push_str(&group_entry(
        "dangling",
        20006,
        &[&user_dn("ghost"), &b],
        &[],
    ));
    text.push_str(&group_entry("mixed", 20007, &[&a, &c], &["carol", "frank"]));
    text.push_str(&group_entry(
        "selfish",
        20008,
        &[&group_dn("selfish"), &d],
        &[],
    ));
    let groups = vec![
        group("developers", 20001, &["alice", "bob"]),
        group("staff", 20002, &["carol", "lewis"]),
        // A nested group's members where it stands.
        group(
            "allstaff",
            20003,
            &["alice", "bob", "carol", "lewis", "dave"],
        ),
        // Each of the cycle once: the other's members, then its own.
        group("cyclea", 20004, &["bob", "alice"]),
        group("cycleb", 20005, &["alice", "bob"]),
        // The dangling DN is left out.
        group("dangling", 20006, &["bob"]),
        // memberUid names first (an unknown name stays), then the DNs'
        // names, each once.
        group("mixed", 20007, &["carol", "frank", "alice"]),
        group("selfish", 20008, &["dave"]),
    ];
    let mut users = plain;
    users.push(lewis);
    Data {
        users,
        groups,
        ldif: text,
    }
}

/// nslcd on the world's slapd with the membership rules ypldapd has:
/// `member` DNs and `memberUid` names, nested groups followed.
fn nslcd_on_slapd(w: &World) -> Nslcd {
    Nslcd::start(
        &w.ns,
        &NslcdConfig {
            lines: vec![
                "uri ldap://127.0.0.1/".into(),
                format!("base passwd ou=People,{SUFFIX}"),
                format!("base group ou=Groups,{SUFFIX}"),
                format!("base {SUFFIX}"),
                format!("binddn {BIND_DN}"),
                format!("bindpw {BIND_PW}"),
                "filter passwd (objectClass=posixAccount)".into(),
                "filter group (&(objectClass=groupOfNames)(gidNumber=*))".into(),
                "map group member member".into(),
                "nss_nested_groups yes".into(),
            ],
        },
    )
}

/// Every map as the hand-made expectation says; the summary's counts and
/// the dangling DN's log line.
#[test]
fn rfc2307bis_groups_on_slapd_resolve_and_match_nslcd() {
    let w = World::builder("bis.test")
        .directory(Directory::slapd(rfc2307bis()).read(|b| {
            *b = DirectoryBlock::new("127.0.0.1").rfc2307bis();
        }))
        .start();
    w.assert_maps();
    let log = w.log();
    // Per group resolved: developers 2, staff 2, allstaff 2+2+1, cyclea
    // and cycleb 2 each, dangling 1, mixed 2 (carol's DN counts though
    // her name is in already), selfish 1. Nested: allstaff 2, each cycle
    // group 1. Cut: each cycle group meets itself once, selfish once.
    let resolved = 2 + 2 + 5 + 2 + 2 + 1 + 2 + 1;
    let summary =
        format!("member DNs: {resolved} resolved, 4 nested groups, 1 unresolved, 3 nestings cut");
    assert!(
        log.contains("update 1: 1 directories, 5 users, 8 groups, dropped: none")
            && log.contains(&summary),
        "want {summary:?} in:\n{log}"
    );
    let dangling: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("names no user or group read"))
        .collect();
    assert_eq!(dangling.len(), 1, "{log}");
    assert!(
        dangling[0].contains("cn=dangling,ou=Groups,dc=example,dc=com")
            && dangling[0].contains("uid=ghost,ou=people,dc=example,dc=com"),
        "{}",
        dangling[0]
    );

    // The reference: nslcd on the same slapd, NSS through it and through
    // NIS side by side in the namespace.
    w.bind_clients();
    let _nslcd = nslcd_on_slapd(&w);
    // nslcd takes lewis's name from the member DN as the group wrote it
    // (`UID=Lewis+...`), not from lewis's entry; through NIS the group
    // holds lewis, the name `id lewis` looks for.
    let lewis = Known {
        group: "staff",
        nslcd: "Lewis",
        ypldapd: Some("lewis"),
    };
    // nslcd takes a dangling DN's first RDN value as a name; ypldapd
    // serves only names of entries it read (ypldap.conf(5), GROUP MEMBERS).
    let ghost = Known {
        group: "dangling",
        nslcd: "ghost",
        ypldapd: None,
    };
    compare_with_nslcd(
        &w,
        &Differences {
            members: vec![
                lewis,
                Known {
                    group: "allstaff",
                    ..lewis
                },
                ghost,
            ],
            ..Differences::default()
        },
    );
}

/// Input a directory can hold that must not stop an update: a member
/// value that is no DN (and, with its commas, no name either: that group
/// is dropped with its reason), a chain of 10,000 nested groups, a group
/// containing itself, a group of 100,000 members (its line too long).
#[test]
fn bad_member_input_does_not_stop_the_update() {
    const CHAIN: usize = 10_000;
    const BIG: usize = 100_000;
    let users: Vec<User> = (1..=BIG)
        .map(|i| user(&format!("m{i:06}"), 100_000 + i as u32, "Member"))
        .collect();
    let mut text = ldif::ldif(&users, &[]);
    // The chain: chain00000 holds chain00001, ..., the last one holds m000001.
    for i in 0..CHAIN {
        let next = if i + 1 < CHAIN {
            group_dn(&format!("chain{:05}", i + 1))
        } else {
            user_dn("m000001")
        };
        text.push_str(&group_entry(
            &format!("chain{i:05}"),
            30_000 + i as u32,
            &[&next],
            &[],
        ));
    }
    text.push_str(&group_entry(
        "itself",
        50_001,
        &[&group_dn("itself"), &user_dn("m000002")],
        &[],
    ));
    let all: Vec<String> = users.iter().map(|u| user_dn(&u.name)).collect();
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    text.push_str(&group_entry("huge", 50_002, &all, &[]));
    // 300 members: a small entry, but their names make a line longer
    // than a YP record may be.
    text.push_str(&group_entry("toolong", 50_005, &all[..300], &[]));
    // No DN (a trailing lone backslash) and, with its commas, no name.
    text.push_str(&group_entry(
        "broken",
        50_003,
        &[&user_dn("m000003")],
        &["uid=m000003,ou=People,dc=example\\"],
    ));
    text.push_str(&group_entry("fine", 50_004, &[&user_dn("m000004")], &[]));

    // What the maps must hold: the chain's groups within `group nesting`
    // (10) levels of m000001 have it, the rest none.
    let nesting = 10;
    let mut groups: Vec<Group> = (0..CHAIN)
        .map(|i| {
            let members: &[&str] = if CHAIN - 1 - i <= nesting {
                &["m000001"]
            } else {
                &[]
            };
            group(&format!("chain{i:05}"), 30_000 + i as u32, members)
        })
        .collect();
    groups.push(group("itself", 50_001, &["m000002"]));
    groups.push(group("fine", 50_004, &["m000004"]));
    let data = Data {
        users,
        groups,
        ldif: text,
    };
    let w = World::builder("bad.test")
        .directory(
            Directory::slapd_with(data, tests::peers::SlapdOptions::unlimited())
                .read(|b| *b = DirectoryBlock::new("127.0.0.1").rfc2307bis()),
        )
        .start();
    let log = w.log();
    assert!(
        log.contains(&format!(
            "update 1: 1 directories, {BIG} users, {} groups",
            CHAIN + 2
        )),
        "{log}"
    );
    // Both drops are named with their reasons.
    let drops: Vec<&str> = log.lines().filter(|l| l.contains("dropped ")).collect();
    assert!(
        drops
            .iter()
            .any(|l| l.contains("cn=broken,ou=Groups") && l.contains("member")),
        "{log}"
    );
    // (huge's 100,000 DNs, 4 MB, are more than the reader may send
    // ypldapd as one entry: it is dropped there, before its names are.)
    assert!(
        drops.iter().any(|l| l.contains("cn=huge,ou=Groups")),
        "{log}"
    );
    assert!(
        drops
            .iter()
            .any(|l| l.contains("cn=toolong,ou=Groups") && l.contains("line too long")),
        "{log}"
    );
    for reason in ["1 bad group member", "1 line too long", "1 entry too large"] {
        assert!(log.contains(reason), "no {reason:?} in the summary:\n{log}");
    }
    // The chain is cut at the nesting limit: every group more than
    // `nesting` levels above the user once; itself once.
    let cut = CHAIN - 1 - nesting + 1;
    assert!(log.contains(&format!("{cut} nestings cut")), "{log}");
    // Every other group is served; huge, toolong and broken are not. (Only the
    // group map: the expected netid of 100,000 users would take long.)
    let mut want: Vec<(String, String)> = w
        .groups()
        .iter()
        .map(|g| (g.name.clone(), tests::expect::group_line(g)))
        .collect();
    want.sort();
    let got = w.ypcat("group.byname").expect("ypcat group.byname");
    assert_eq!(got.len(), want.len());
    assert_eq!(got, want);
}

/// The bundled RFC 2307bis sample (`examples/sample-rfc2307bis`, what the
/// demo shows) with its own configuration: the lines the demo prints.
#[test]
fn rfc2307bis_sample_as_the_demo_shows_it() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/sample-rfc2307bis");
    let read =
        |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
    let text = read("sample.ldif");
    let (users, _) = tests::nis::parse_ldif(&text);
    assert_eq!(users.len(), 5);
    let groups = vec![
        group("staff", 5000, &["alice", "bob", "carol", "dave", "erin"]),
        group("engineering", 5010, &["alice", "bob", "carol"]),
        group("operations", 5011, &["dave", "erin"]),
        // memberUid's local name first, then the nested group's members
        // where it stands.
        group("admins", 5020, &["root", "dave", "erin", "alice"]),
        group("oncall", 5021, &["root", "dave", "erin", "alice", "bob"]),
        group("alumni", 5030, &["carol"]),
    ];
    let data = Data {
        users,
        groups,
        ldif: text,
    };
    let w = World::builder("example.com")
        .directory(Directory::slapd(data))
        .config_text(read("ypldap.conf"))
        .start();
    w.assert_maps();
    assert!(
        w.log().contains("uid=mallory,ou=people,dc=example,dc=com"),
        "{}",
        w.log()
    );
    // What `id` shows through NIS: every group alice ends up in.
    w.bind_clients();
    tests::nis::nss_on(&w.ns);
    let id = w.ns.sh("id alice");
    for g in ["staff", "engineering", "admins", "oncall"] {
        assert!(id.contains(&format!("({g})")), "{id}");
    }
    assert!(
        !id.contains("(operations)") && !id.contains("(alumni)"),
        "{id}"
    );
}
