use std::borrow::Cow;

use proptest::prelude::*;

use super::*;

fn origin() -> Origin<'static> {
    Origin {
        dn: "uid=alice,ou=People,dc=example,dc=com".into(),
        uuid: None,
    }
}

fn alice() -> User<'static> {
    User {
        origin: origin(),
        name: "alice".into(),
        passwd: "*".into(),
        uid: 1000,
        gid: 1000,
        class: "".into(),
        change: "0".into(),
        expire: "0".into(),
        gecos: "Alice Example".into(),
        home: "/home/alice".into(),
        shell: "/bin/ksh".into(),
        shadow: Default::default(),
        disabled: false,
    }
}

fn staff(members: &[&'static str]) -> Group<'static> {
    Group {
        origin: origin(),
        name: "staff".into(),
        passwd: "*".into(),
        gid: 20,
        members: members.iter().map(|&m| m.into()).collect(),
        member_dns: Vec::new(),
    }
}

fn master_line(u: &User<'_>) -> String {
    format!(
        "{}:{}:{}:{}:{}:{}:{}:{}:{}:{}",
        &*u.name,
        &*u.passwd,
        u.uid,
        u.gid,
        &*u.class,
        &*u.change,
        &*u.expire,
        &*u.gecos,
        &*u.home,
        &*u.shell
    )
}

fn group_line(g: &Group<'_>) -> String {
    let members: Vec<&str> = g.members.iter().map(|m| &**m).collect();
    format!(
        "{}:{}:{}:{}",
        &*g.name,
        &*g.passwd,
        g.gid,
        members.join(",")
    )
}

#[test]
fn ids_at_the_limits() {
    assert_eq!(parse_id("0"), Some(0));
    assert_eq!(parse_id("4294967294"), Some(4294967294));
    assert_eq!(parse_id("4294967295"), None);
    assert_eq!(parse_id("+1"), None);
    assert_eq!(parse_id("-1"), None);
    assert_eq!(parse_id(" 12"), None);
    assert_eq!(parse_id(""), None);
    assert_eq!(parse_id("007"), Some(7));
    assert!(valid_id(MAX_ID) && !valid_id(u32::MAX));
}

#[test]
fn ids_from_a_peer_are_checked_too() {
    let mut u = alice();
    u.uid = u32::MAX;
    assert_eq!(
        u.check().map_err(|v| v.reason()),
        Err(DropReason::InvalidUid)
    );
    let mut u = alice();
    u.gid = u32::MAX;
    assert_eq!(
        u.check().map_err(|v| v.reason()),
        Err(DropReason::InvalidGid)
    );
    let mut g = staff(&[]);
    g.gid = u32::MAX;
    assert_eq!(
        g.check().map_err(|v| v.reason()),
        Err(DropReason::InvalidGid)
    );
}

#[test]
fn every_violation() {
    let mut u = alice();
    u.name = "".into();
    assert_eq!(u.check(), Err(Violation::EmptyName));
    let mut u = alice();
    u.gecos = "a:b".into();
    assert_eq!(
        u.check(),
        Err(Violation::ForbiddenCharacter {
            field: "gecos",
            ch: ':'
        })
    );
    let mut u = alice();
    u.home = "/h\nome".into();
    assert_eq!(
        u.check().map_err(|v| v.reason()),
        Err(DropReason::ForbiddenCharacter)
    );
    let mut u = alice();
    u.passwd = "x\0y".into();
    let v = u.check().expect_err("NUL");
    assert!(
        !v.to_string().contains("x\0y"),
        "a password is only named: {v}"
    );
    let mut u = alice();
    u.gecos = "g".repeat(1000).into();
    assert_eq!(
        u.check().map_err(|v| v.reason()),
        Err(DropReason::LineTooLong)
    );

    assert_eq!(
        staff(&["a,b"]).check(),
        Err(Violation::BadMember {
            field: "groupmembers"
        })
    );
    assert_eq!(
        staff(&[""]).check().map_err(|v| v.reason()),
        Err(DropReason::BadMember)
    );
    assert_eq!(
        staff(&["a:b"]).check().map_err(|v| v.reason()),
        Err(DropReason::ForbiddenCharacter)
    );
    let many: Vec<Text<'static>> = (0..200).map(|i| format!("user{i:04}").into()).collect();
    let mut g = staff(&[]);
    g.members = many;
    assert_eq!(
        g.check().map_err(|v| v.reason()),
        Err(DropReason::LineTooLong)
    );
}

#[test]
fn exactly_max_line_is_kept() {
    let base = master_line(&alice()).len();
    let mut u = alice();
    u.gecos = "g".repeat(MAX_LINE - base + "Alice Example".len()).into();
    assert_eq!(master_line(&u).len(), MAX_LINE);
    assert_eq!(u.check(), Ok(()));
    u.gecos = format!("{}g", &*u.gecos).into();
    assert_eq!(u.check(), Err(Violation::LineTooLong { len: MAX_LINE + 1 }));
}

#[test]
fn every_reason_has_its_own_name() {
    let names: std::collections::BTreeSet<&str> =
        DropReason::ALL.iter().map(|r| r.as_str()).collect();
    assert_eq!(names.len(), DropReason::ALL.len());
    for r in DropReason::ALL {
        let json = serde_json::to_string(&r).expect("serialize");
        assert_eq!(serde_json::from_str::<DropReason>(&json).expect("parse"), r);
    }
}

#[test]
fn text_borrows_from_the_message_when_it_can() {
    let json = br#"{"origin":{"dn":"uid=a\\,b,dc=x"},"name":"alice","passwd":"*","gid":5,"members":["bob","c\u00e9line"]}"#;
    let g: Group<'_> = serde_json::from_slice(json).expect("group");
    assert!(matches!(g.name.0, Cow::Borrowed("alice")));
    assert!(matches!(g.members[0].0, Cow::Borrowed("bob")));
    // Escaped text cannot be borrowed; it is decoded into its own string.
    assert_eq!(&*g.members[1], "céline");
    assert_eq!(&*g.origin.dn, "uid=a\\,b,dc=x");
    assert!(
        serde_json::from_slice::<Group<'_>>(
            br#"{"origin":{"dn":""},"name":"a","passwd":"","gid":1,"members":[],"extra":1}"#
        )
        .is_err()
    );
}

proptest! {
    /// The computed lengths are the lengths of the lines ypldapd writes,
    /// and a kept entry's lines have exactly their fields.
    #[test]
    fn lengths_match_the_lines(
        vals in proptest::collection::vec(".{0,40}", 8),
        uid in any::<u32>(),
        gid in any::<u32>(),
        members in proptest::collection::vec(".{0,12}", 0..8),
    ) {
        let u = User {
            origin: origin(),
            name: vals[0].clone().into(),
            passwd: vals[1].clone().into(),
            uid,
            gid,
            class: vals[2].clone().into(),
            change: vals[3].clone().into(),
            expire: vals[4].clone().into(),
            gecos: vals[5].clone().into(),
            home: vals[6].clone().into(),
            shell: vals[7].clone().into(),
            shadow: Default::default(),
            disabled: false,
        };
        let line = master_line_served(&u);
        prop_assert_eq!(u.master_line_len(), line.len());
        if u.check().is_ok() {
            prop_assert_eq!(line.split(':').count(), 10);
            prop_assert!(line.len() <= MAX_LINE && !line.contains('\n') && !line.contains('\0'));
        }
        let g = Group {
            origin: origin(),
            name: vals[0].clone().into(),
            passwd: vals[1].clone().into(),
            gid,
            members: members.iter().map(|m| m.clone().into()).collect(),
            member_dns: Vec::new(),
        };
        let line = group_line(&g);
        prop_assert_eq!(g.line_len(), line.len());
        if g.check().is_ok() {
            prop_assert_eq!(line.split(':').count(), 4);
            prop_assert_eq!(line.rsplit(':').next().map_or(0, |m| m.split(',').filter(|s| !s.is_empty()).count()), members.len());
        }
    }
}

#[test]
fn crypt_forms() {
    for h in [
        "abJnggxhB/yWI",
        "_J9..CCCCXBrJUJV154M",
        "$1$salt$qJH7.N4xYta3aEG/dfqo/0",
        "$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
        "$5$rounds=5000$salt$Gbz7BeH2tN8aNrQ3KeTxJp0sgpt3rEwNQixd8VZD/Z.",
        "$6$salt$IxDD3jeSOb5eB1CX5LBsqZFVkJdido3OUILO5Ifz5iwMuTS4XMS130MTSuDDl3aCI6WouIL9AjRbLCelDCy.g.",
        "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o.9agCG9G317fhZg9SqC.5i5rd.RhAtQ7",
    ] {
        assert!(password::is_crypt_form(h), "{h}");
        assert_eq!(crypt_hash(h), Ok(h));
        let prefixed = format!("{{CRYPT}}{h}");
        assert_eq!(crypt_hash(&prefixed), Ok(h), "the prefix is only transport");
        let lower = format!("{{crypt}}{h}");
        assert_eq!(crypt_hash(&lower), Ok(h), "schemes are case-insensitive");
    }
    for not_a_hash in ["secret", "", "abc", "$", "$6$", "$X$abc", "$6$bad char!"] {
        assert!(!password::is_crypt_form(not_a_hash), "{not_a_hash}");
        assert_eq!(crypt_hash(not_a_hash), Err(LockReason::NotAHash));
        assert_eq!(served_password(not_a_hash), LOCKED);
    }
    for scheme in [
        "{SSHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=",
        "{ssha512}abcd",
        "{PBKDF2-SHA512}10000$abc$def",
        "{ARGON2}$argon2id$v=19$m=65536",
        "{MD5}X03MO1qnZdYdgyfeuILPmQ==",
    ] {
        assert_eq!(
            crypt_hash(scheme),
            Err(LockReason::UnsupportedScheme),
            "{scheme}"
        );
    }
    // Already locked: served as they are.
    for lock in ["*", "!", "!$6$salt$hash", "*LK*", "x"] {
        assert_eq!(crypt_hash(lock), Ok(lock));
    }
    // A {CRYPT} prefix around cleartext is still cleartext.
    assert_eq!(crypt_hash("{CRYPT}secret"), Err(LockReason::NotAHash));
}

#[test]
fn shadow_days_and_derived_dates() {
    assert_eq!(parse_days(""), Ok(None));
    assert_eq!(parse_days("-1"), Ok(None));
    assert_eq!(parse_days("19000"), Ok(Some(19000)));
    assert_eq!(parse_days("-2"), Err(NotDays));
    assert_eq!(parse_days("1e5"), Err(NotDays));
    assert_eq!(parse_days("99999999999"), Err(NotDays));

    let mut u = alice();
    assert_eq!(u.master_change(), Seconds::Given("0"));
    assert_eq!(u.master_expire(), Seconds::Given("0"));
    assert_eq!(u.shadow_fields(), [None; 7]);
    u.shadow = Shadow {
        lastchange: Some(19_000),
        max: Some(90),
        expire: Some(20_000),
        ..Shadow::default()
    };
    assert_eq!(u.master_change(), Seconds::Derived(19_090 * DAY));
    assert_eq!(u.master_expire(), Seconds::Derived(20_000 * DAY));
    // A maximum that means never forces no change.
    u.shadow.max = Some(NEVER_DAYS);
    assert_eq!(u.master_change(), Seconds::Given("0"));
    // Configured seconds win in master.passwd and feed shadow's days.
    let mut u = alice();
    u.expire = "1728000000".into();
    assert_eq!(u.master_expire(), Seconds::Given("1728000000"));
    assert_eq!(u.shadow_expire(), Some(20_000));
    // The lines' lengths count the dates as served.
    u.shadow.lastchange = Some(1);
    u.shadow.max = Some(1);
    assert_eq!(u.master_change(), Seconds::Derived(2 * DAY));
    assert_eq!(u.master_line_len(), master_line_served(&u).len());
}

/// The master.passwd line as ypldapd writes it.
fn master_line_served(u: &User<'_>) -> String {
    format!(
        "{}:{}:{}:{}:{}:{}:{}:{}:{}:{}",
        &*u.name,
        served_password(&u.passwd),
        u.uid,
        u.gid,
        &*u.class,
        u.master_change(),
        u.master_expire(),
        &*u.gecos,
        &*u.home,
        &*u.shell
    )
}
