use ipc_proto::entry_rules::{DropReason, MAX_LINE};
use proptest::prelude::*;

use super::*;

const DN: &str = "uid=alice,ou=People,dc=example,dc=com";

fn attr(n: &str) -> Mapping {
    Mapping::Attribute { name: n.into() }
}
fn fixed(v: &str) -> Mapping {
    Mapping::Fixed { value: v.into() }
}

fn rfc2307() -> FieldMappings {
    FieldMappings {
        name: attr("uid"),
        passwd: fixed("*"),
        uid: attr("uidNumber"),
        gid: attr("gidNumber"),
        class: fixed(""),
        change: fixed("0"),
        expire: fixed("0"),
        gecos: attr("cn"),
        home: attr("homeDirectory"),
        shell: attr("loginShell"),
        groupname: attr("cn"),
        grouppasswd: fixed("*"),
        groupgid: attr("gidNumber"),
        groupmembers: Mapping::List {
            name: "memberUid".into(),
        },
        groupmembers_also: Vec::new(),
        shadow: Default::default(),
    }
}

fn alice() -> Vec<(String, Vec<String>)> {
    vec![
        ("uid".into(), vec!["alice".into()]),
        ("UIDNUMBER".into(), vec!["1000".into()]),
        ("gidNumber".into(), vec!["1000".into(), "2000".into()]),
        ("cn".into(), vec!["Alice Example".into()]),
        ("homeDirectory".into(), vec!["/home/alice".into()]),
        ("loginShell".into(), vec!["/bin/ksh".into()]),
    ]
}

fn with(mut a: Vec<(String, Vec<String>)>, k: &str, v: &[&str]) -> Attributes {
    a.retain(|(n, _)| !n.eq_ignore_ascii_case(k));
    if !v.is_empty() {
        a.push((
            k.into(),
            v.iter().map(std::string::ToString::to_string).collect(),
        ));
    }
    Attributes::new(a)
}

#[test]
fn reference_example_user() {
    let f = rfc2307();
    let a = Attributes::new(alice());
    let u = user(DN, &f, &a).expect("user");
    assert_eq!(&*u.origin.dn, DN);
    assert_eq!(
        (
            &*u.name, &*u.passwd, u.uid, u.gid, &*u.class, &*u.change, &*u.expire
        ),
        ("alice", "*", 1000, 1000, "", "0", "0")
    );
    assert_eq!(
        (&*u.gecos, &*u.home, &*u.shell),
        ("Alice Example", "/home/alice", "/bin/ksh")
    );
    // The name and the attribute values are borrowed, not copied.
    assert!(matches!(u.name.0, Cow::Borrowed(_)));
}

#[test]
fn reference_example_group() {
    let f = rfc2307();
    let a = Attributes::new(vec![
        ("cn".into(), vec!["staff".into()]),
        ("gidNumber".into(), vec!["20".into()]),
        ("memberUid".into(), vec!["alice".into(), "bob".into()]),
    ]);
    let g = group("cn=staff", &f, &a).expect("group");
    assert_eq!((&*g.name, &*g.passwd, g.gid), ("staff", "*", 20));
    let members: Vec<&str> = g.members.iter().map(|m| &**m).collect();
    assert_eq!(members, ["alice", "bob"]);
    let empty = Attributes::new(vec![
        ("cn".into(), vec!["nobody".into()]),
        ("gidNumber".into(), vec!["65534".into()]),
    ]);
    assert!(
        group("cn=nobody", &f, &empty)
            .expect("group")
            .members
            .is_empty()
    );
    // A single-valued mapping of the member field is a ,-separated list.
    let mut one = rfc2307();
    one.groupmembers = attr("description");
    let a = Attributes::new(vec![
        ("cn".into(), vec!["g".into()]),
        ("gidNumber".into(), vec!["5".into()]),
        ("description".into(), vec!["a,b".into()]),
    ]);
    assert_eq!(group("cn=g", &one, &a).expect("group").members.len(), 2);
}

#[test]
fn member_values_are_dns_or_names() {
    let mut f = rfc2307();
    f.groupmembers = Mapping::List {
        name: "member".into(),
    };
    f.groupmembers_also = vec!["memberUid".into()];
    let a = Attributes::new(vec![
        ("cn".into(), vec!["staff".into()]),
        ("gidNumber".into(), vec!["20".into()]),
        (
            "member".into(),
            vec![
                "uid=bob,ou=People,dc=example,dc=com".into(),
                "CN=Liddell\\, Alice,CN=Users,DC=example,DC=test".into(),
            ],
        ),
        ("memberUid".into(), vec!["carol".into()]),
    ]);
    let g = group("cn=staff", &f, &a).expect("group");
    let names: Vec<&str> = g.members.iter().map(|m| &**m).collect();
    let dns: Vec<&str> = g.member_dns.iter().map(|m| &**m).collect();
    assert_eq!(names, ["carol"]);
    assert_eq!(
        dns,
        [
            "uid=bob,ou=People,dc=example,dc=com",
            "CN=Liddell\\, Alice,CN=Users,DC=example,DC=test"
        ]
    );
    // A value that is neither a DN nor a name drops the group.
    let bad = Attributes::new(vec![
        ("cn".into(), vec!["g".into()]),
        ("gidNumber".into(), vec!["5".into()]),
        ("member".into(), vec!["uid=a,,dc=x".into()]),
    ]);
    assert_eq!(
        group("cn=g", &f, &bad).map_err(|e| e.reason()).err(),
        Some(DropReason::BadMember)
    );
}

#[test]
fn disabled_accounts_are_marked() {
    let f = rfc2307();
    for (attr, value, disabled) in [
        ("userAccountControl", "514", true),
        ("userAccountControl", "512", false),
        ("userAccountControl", "66050", true),
        ("nsAccountLock", "TRUE", true),
        ("nsAccountLock", "true", true),
        ("nsAccountLock", "FALSE", false),
    ] {
        let mut a = alice();
        a.push((attr.into(), vec![value.into()]));
        let a = Attributes::new(a);
        assert_eq!(
            user(DN, &f, &a).expect("user").disabled,
            disabled,
            "{attr}: {value}"
        );
    }
    assert!(
        !user(DN, &f, &Attributes::new(alice()))
            .expect("user")
            .disabled
    );
}

#[test]
fn every_drop_reason() {
    let f = rfc2307();
    let cases: Vec<(Attributes, DropReason)> = vec![
        (
            with(alice(), "loginShell", &[]),
            DropReason::MissingAttribute,
        ),
        (with(alice(), "uid", &[""]), DropReason::EmptyName),
        (with(alice(), "uidNumber", &["-1"]), DropReason::InvalidUid),
        (
            with(alice(), "uidNumber", &["4294967295"]),
            DropReason::InvalidUid,
        ),
        (with(alice(), "uidNumber", &["12a"]), DropReason::InvalidUid),
        (with(alice(), "uidNumber", &[" 12"]), DropReason::InvalidUid),
        (with(alice(), "gidNumber", &["x"]), DropReason::InvalidGid),
        (
            with(alice(), "cn", &["a:b"]),
            DropReason::ForbiddenCharacter,
        ),
        (
            with(alice(), "homeDirectory", &["/h\nome"]),
            DropReason::ForbiddenCharacter,
        ),
        (
            with(alice(), "uid", &["al\0ice"]),
            DropReason::ForbiddenCharacter,
        ),
        (
            with(alice(), "cn", &[&"x".repeat(1000)]),
            DropReason::LineTooLong,
        ),
    ];
    for (a, want) in cases {
        let r = user(DN, &f, &a);
        assert_eq!(
            r.as_ref().map_err(Violation::reason).err(),
            Some(want),
            "{r:?}"
        );
    }
    let mut bin = alice();
    bin.retain(|(n, _)| n != "cn");
    let a = Attributes::with_binary(bin, vec!["CN".to_string()]);
    assert_eq!(
        user(DN, &f, &a).map_err(|v| v.reason()).err(),
        Some(DropReason::NotText)
    );
    let bad_member = Attributes::new(vec![
        ("cn".into(), vec!["g".into()]),
        ("gidNumber".into(), vec!["5".into()]),
        ("memberUid".into(), vec!["a,b".into()]),
    ]);
    assert_eq!(
        group("cn=g", &f, &bad_member).map_err(|e| e.reason()).err(),
        Some(DropReason::BadMember)
    );
    let many = Attributes::new(vec![
        ("cn".into(), vec!["g".into()]),
        ("gidNumber".into(), vec!["5".into()]),
        (
            "memberUid".into(),
            (0..200).map(|i| format!("user{i:04}")).collect(),
        ),
    ]);
    assert_eq!(
        group("cn=g", &f, &many).map_err(|e| e.reason()).err(),
        Some(DropReason::LineTooLong)
    );
}

#[test]
fn exactly_max_line_is_kept() {
    let f = rfc2307();
    let a = Attributes::new(alice());
    let base = user(DN, &f, &a).expect("u").master_line_len();
    let gecos = "g".repeat(MAX_LINE - base + "Alice Example".len());
    let a = with(alice(), "cn", &[&gecos]);
    assert_eq!(user(DN, &f, &a).expect("fits").master_line_len(), MAX_LINE);
    let too = "g".repeat(gecos.len() + 1);
    assert!(user(DN, &f, &with(alice(), "cn", &[&too])).is_err());
}

proptest! {
    /// Whatever the directory holds, a kept entry carries exactly the
    /// directory's values (nothing altered or cut) and meets every rule.
    #[test]
    fn kept_entries_are_the_directory_values(
        vals in proptest::collection::vec(".{0,40}", 6),
        uid in prop_oneof!["[0-9]{1,10}", ".{0,12}"],
        gid in prop_oneof!["[0-9]{1,10}", ".{0,12}"],
        members in proptest::collection::vec(".{0,12}", 0..8),
        list_shell in any::<bool>(),
    ) {
        let mut f = rfc2307();
        if list_shell {
            f.shell = Mapping::List { name: "loginShell".into() };
        }
        let a = Attributes::new(vec![
            ("uid".into(), vec![vals[0].clone()]),
            ("uidNumber".into(), vec![uid.clone()]),
            ("gidNumber".into(), vec![gid.clone()]),
            ("cn".into(), vec![vals[3].clone()]),
            ("homeDirectory".into(), vec![vals[4].clone()]),
            ("loginShell".into(), vec![vals[5].clone(), vals[0].clone()]),
            ("memberUid".into(), members.clone()),
        ]);
        if let Ok(u) = user(DN, &f, &a) {
            prop_assert_eq!(&*u.name, vals[0].as_str());
            prop_assert_eq!(u.uid.to_string().parse::<u64>().ok(), uid.parse::<u64>().ok());
            prop_assert_eq!(&*u.gecos, vals[3].as_str());
            let shell = if list_shell { format!("{},{}", vals[5], vals[0]) } else { vals[5].clone() };
            prop_assert_eq!(&*u.shell, shell.as_str());
            prop_assert!(u.check().is_ok());
        }
        if let Ok(g) = group("cn=g", &f, &a) {
            // Each value is kept once, unaltered, as a name or as a DN,
            // in the directory's order within each list.
            let mut names = g.members.iter().peekable();
            let mut dns = g.member_dns.iter();
            for m in &members {
                let kept = names.next_if(|n| ***n == *m).is_some()
                    || dns.next().is_some_and(|d| **d == *m);
                prop_assert!(kept, "{m:?} lost or altered: {g:?}");
            }
            prop_assert!(names.next().is_none() && dns.next().is_none());
            prop_assert!(g.check().is_ok());
        }
    }
}

/// A mapping that asks for a range (`member;range=0-1499`) finds every
/// value: the reader files each range's values under the attribute.
#[test]
fn a_ranged_mapping_finds_the_attribute() {
    let a = Attributes::new([("member".to_owned(), vec!["a".to_owned(), "b".to_owned()])]);
    assert_eq!(
        a.values("member;range=0-1499"),
        Some(&["a".to_owned(), "b".to_owned()][..])
    );
    assert!(a.lists("Member;Range=1500-*"));
    assert_eq!(a.values("member;binary"), None);
}
