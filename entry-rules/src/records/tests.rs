use super::*;

/// Builds a record of `kind` with the default attributes and `values` by
/// role word, and returns `(slot, key, value)` triples.
fn run(kind: RecordKind, dn: &str, values: &[(&str, &[&str])]) -> Result<Out, Violation> {
    let roles = kind.roles();
    let attributes: Vec<String> = roles.iter().map(|r| r.attribute.to_owned()).collect();
    let mut vals: Vec<Vec<Text<'_>>> = vec![Vec::new(); roles.len()];
    for (word, vs) in values {
        let i = roles
            .iter()
            .position(|r| r.word == *word)
            .unwrap_or_else(|| panic!("no role {word}"));
        vals[i] = vs.iter().map(|v| Text::from(*v)).collect();
    }
    let rec = Record {
        origin: Origin {
            dn: Text::from(dn),
            uuid: None,
        },
        search: 0,
        values: vals,
    };
    let cx = Context {
        kind,
        attributes: &attributes,
        domain: "example.test",
        site: None,
    };
    let mut out = Out::default();
    build(&cx, &rec, &mut out)?;
    Ok(out)
}

fn keys(out: &Out) -> Vec<(u8, &str, &str)> {
    out.keys
        .iter()
        .map(|k| (k.slot, k.key.as_str(), out.values[k.value].as_str()))
        .collect()
}

#[test]
fn hosts_one_line_per_address_names_lowercased() {
    let out = run(
        RecordKind::Hosts,
        "cn=www,ou=hosts,dc=x",
        &[
            ("name", &["WWW.example.test", "www", "web"]),
            ("address", &["2001:DB8::0:1", "192.0.2.10"]),
        ],
    )
    .unwrap();
    assert_eq!(
        out.values,
        [
            "2001:db8::1\twww WWW.example.test web",
            "192.0.2.10\twww WWW.example.test web"
        ]
    );
    // byname points at the first IPv4 line: old clients parse only those.
    assert_eq!(
        keys(&out),
        [
            (1, "2001:db8::1", out.values[0].as_str()),
            (1, "192.0.2.10", out.values[1].as_str()),
            (0, "www", out.values[1].as_str()),
            (0, "www.example.test", out.values[1].as_str()),
            (0, "web", out.values[1].as_str()),
        ]
    );
}

#[test]
fn hosts_bad_input() {
    let bad = |values: &[(&str, &[&str])]| run(RecordKind::Hosts, "cn=h,dc=x", values).unwrap_err();
    assert_eq!(
        bad(&[("name", &["h"]), ("address", &["192.0.2.300"])]).reason(),
        crate::DropReason::InvalidValue
    );
    assert_eq!(
        bad(&[("name", &["h"])]),
        Violation::MissingAttribute("ipHostNumber".into())
    );
    assert_eq!(
        bad(&[("name", &["h x"]), ("address", &["192.0.2.1"])]),
        Violation::ForbiddenCharacter {
            field: "name",
            ch: ' '
        }
    );
    assert_eq!(
        bad(&[("name", &["h\n"]), ("address", &["192.0.2.1"])]),
        Violation::ForbiddenCharacter {
            field: "name",
            ch: '\n'
        }
    );
}

#[test]
fn services_per_protocol() {
    let out = run(
        RecordKind::Services,
        "cn=ssh+ipServiceProtocol=tcp,dc=x",
        &[
            ("name", &["secure-shell", "ssh"]),
            ("port", &["22"]),
            ("protocol", &["tcp", "udp"]),
        ],
    )
    .unwrap();
    assert_eq!(
        out.values,
        ["ssh\t22/tcp secure-shell", "ssh\t22/udp secure-shell"]
    );
    let k: Vec<(u8, &str)> = out.keys.iter().map(|k| (k.slot, k.key.as_str())).collect();
    assert_eq!(
        k,
        [
            (0, "22/tcp"),
            (1, "ssh/tcp"),
            (1, "ssh"),
            (1, "secure-shell/tcp"),
            (1, "secure-shell"),
            (0, "22/udp"),
            (1, "ssh/udp"),
            (1, "secure-shell/udp"),
        ]
    );
    let e = run(
        RecordKind::Services,
        "cn=x,dc=x",
        &[
            ("name", &["x"]),
            ("port", &["70000"]),
            ("protocol", &["tcp"]),
        ],
    );
    assert_eq!(e.unwrap_err().reason(), crate::DropReason::InvalidValue);
}

#[test]
fn protocols_rpc_networks() {
    let p = run(
        RecordKind::Protocols,
        "cn=tcp,dc=x",
        &[("name", &["tcp", "TCP"]), ("number", &["6"])],
    )
    .unwrap();
    assert_eq!(p.values, ["tcp\t6 TCP"]);
    assert_eq!(
        keys(&p).iter().map(|k| (k.0, k.1)).collect::<Vec<_>>(),
        [(0, "tcp"), (0, "TCP"), (1, "6")]
    );
    assert!(
        run(
            RecordKind::Protocols,
            "cn=x,dc=x",
            &[("name", &["x"]), ("number", &["256"])]
        )
        .is_err()
    );
    let r = run(
        RecordKind::Rpc,
        "cn=nfs,dc=x",
        &[("name", &["nfs", "nfsprog"]), ("number", &["100003"])],
    )
    .unwrap();
    assert_eq!(r.values, ["nfs\t100003 nfsprog"]);
    let n = run(
        RecordKind::Networks,
        "cn=lab,dc=x",
        &[
            ("name", &["lab"]),
            ("number", &["10.1"]),
            ("netmask", &["255.255.0.0"]),
        ],
    )
    .unwrap();
    assert_eq!(n.values, ["lab\t10.1", "255.255.0.0"]);
    assert_eq!(
        keys(&n),
        [
            (0, "lab", "lab\t10.1"),
            (1, "10.1", "lab\t10.1"),
            (2, "10.1", "255.255.0.0")
        ]
    );
    for bad in ["10.1.2.3.4", "10.256", "10..1", ""] {
        assert!(
            run(
                RecordKind::Networks,
                "cn=x,dc=x",
                &[("name", &["x"]), ("number", &[bad])]
            )
            .is_err(),
            "{bad}"
        );
    }
}

#[test]
fn ethers_as_ether_ntoa_writes_them() {
    let out = run(
        RecordKind::Ethers,
        "cn=box,dc=x",
        &[
            ("name", &["box"]),
            ("address", &["00:1B:21:0a:0B:0c", "02-00-00-00-00-01"]),
        ],
    )
    .unwrap();
    assert_eq!(out.values, ["0:1b:21:a:b:c\tbox", "2:0:0:0:0:1\tbox"]);
    assert_eq!(
        keys(&out).iter().map(|k| (k.0, k.1)).collect::<Vec<_>>(),
        [(1, "0:1b:21:a:b:c"), (1, "2:0:0:0:0:1"), (0, "box")]
    );
    for bad in [
        "00:1b:21:0a:0b",
        "00:1b:21:0a:0b:0c:0d",
        "001:b:21:a:b:c",
        "zz:0:0:0:0:0",
    ] {
        assert!(
            run(
                RecordKind::Ethers,
                "cn=x,dc=x",
                &[("name", &["x"]), ("address", &[bad])]
            )
            .is_err(),
            "{bad}"
        );
    }
}

#[test]
fn netgroups() {
    let out = run(
        RecordKind::Netgroup,
        "cn=admins,ou=netgroup,dc=x",
        &[
            ("name", &["admins"]),
            (
                "triple",
                &["(host1,alice,example)", "( ,bob, )", "(-,carol,)"],
            ),
            ("member", &["ops"]),
        ],
    )
    .unwrap();
    let value = "(host1,alice,example) (,bob,) (-,carol,) ops";
    assert_eq!(keys(&out), [(0, "admins", value)]);
    let members: Vec<_> = netgroup_members(value).collect();
    assert_eq!(
        members,
        [
            NetgroupMember::Triple {
                host: "host1",
                user: "alice",
                domain: "example"
            },
            NetgroupMember::Triple {
                host: "",
                user: "bob",
                domain: ""
            },
            NetgroupMember::Triple {
                host: "-",
                user: "carol",
                domain: ""
            },
            NetgroupMember::Netgroup("ops"),
        ]
    );
    // An empty netgroup has an empty value, as makedbm makes of a lone name.
    let empty = run(RecordKind::Netgroup, "cn=none,dc=x", &[("name", &["none"])]).unwrap();
    assert_eq!(keys(&empty), [(0, "none", "")]);
    for bad in [
        "host,user,dom",
        "(a,b)",
        "(a b,c,d)",
        "(a,b,c,d)",
        "(a,(b),c)",
    ] {
        let e = run(
            RecordKind::Netgroup,
            "cn=x,dc=x",
            &[("name", &["x"]), ("triple", &[bad])],
        );
        assert_eq!(
            e.unwrap_err().reason(),
            crate::DropReason::InvalidValue,
            "{bad}"
        );
    }
}

#[test]
fn publickey_and_aliases() {
    let out = run(
        RecordKind::Publickey,
        "cn=alice,dc=x",
        &[
            ("name", &["alice"]),
            ("uid", &["1000"]),
            ("public", &["{DES}0a1b"]),
            ("secret", &["{des}ffee"]),
        ],
    )
    .unwrap();
    assert_eq!(keys(&out), [(0, "unix.1000@example.test", "0a1b:ffee")]);
    let host = run(
        RecordKind::Publickey,
        "cn=box,dc=x",
        &[("name", &["box"]), ("public", &["aa"]), ("secret", &["bb"])],
    )
    .unwrap();
    assert_eq!(keys(&host), [(0, "unix.box@example.test", "aa:bb")]);
    let a = run(
        RecordKind::Aliases,
        "cn=postmaster,dc=x",
        &[
            ("name", &["postmaster"]),
            ("member", &["root", "alice@example.test"]),
        ],
    )
    .unwrap();
    assert_eq!(keys(&a), [(0, "postmaster", "root, alice@example.test")]);
    let e = run(
        RecordKind::Aliases,
        "cn=x,dc=x",
        &[("name", &["x"]), ("member", &["a,b"])],
    );
    assert_eq!(e.unwrap_err().reason(), crate::DropReason::BadMember);
    let e = run(RecordKind::Aliases, "cn=x,dc=x", &[("name", &["x"])]);
    assert_eq!(
        e.unwrap_err(),
        Violation::MissingAttribute("rfc822MailMember".into())
    );
}

#[test]
fn automount_both_forms() {
    // RFC 2307bis / autofs: the map is the parent's RDN.
    let a = run(
        RecordKind::Automount,
        "automountKey=alice,automountMapName=auto.home,dc=x",
        &[
            ("key", &["alice"]),
            ("information", &["-rw server:/export/home/alice"]),
        ],
    )
    .unwrap();
    assert_eq!(a.map.as_deref(), Some("auto.home"));
    assert_eq!(keys(&a), [(0, "alice", "-rw server:/export/home/alice")]);
    // RFC 2307: nisObject with nisMapName.
    let n = run(
        RecordKind::Automount,
        "cn=/home,nisMapName=auto.master,dc=x",
        &[
            ("niskey", &["/home"]),
            ("nisentry", &["auto.home"]),
            ("nismap", &["auto.master"]),
        ],
    )
    .unwrap();
    assert_eq!(n.map.as_deref(), Some("auto.master"));
    assert_eq!(keys(&n), [(0, "/home", "auto.home")]);
    let e = run(
        RecordKind::Automount,
        "automountKey=x,cn=elsewhere,dc=x",
        &[("key", &["x"]), ("information", &["y"])],
    );
    assert_eq!(
        e.unwrap_err(),
        Violation::MissingAttribute("nisMapName".into())
    );
}

#[test]
fn site_maps() {
    let (format, attrs) = SiteFormat::parse("${cn}:lp=${printer-uri}").unwrap();
    assert_eq!(attrs, ["cn", "printer-uri"]);
    let rec = Record {
        origin: Origin {
            dn: Text::from("cn=lp1,dc=x"),
            uuid: None,
        },
        search: 0,
        values: vec![
            vec![Text::from("lp1"), Text::from("laser")],
            vec![Text::from("lp1")],
            vec![Text::from("ipp://lp1/")],
        ],
    };
    let attributes = vec!["cn".to_owned(), "cn".to_owned(), "printer-uri".to_owned()];
    let cx = Context {
        kind: RecordKind::Site,
        attributes: &attributes,
        domain: "d",
        site: Some(&format),
    };
    let mut out = Out::default();
    build(&cx, &rec, &mut out).unwrap();
    assert_eq!(
        keys(&out),
        [
            (0, "lp1", "lp1:lp=ipp://lp1/"),
            (0, "laser", "lp1:lp=ipp://lp1/")
        ]
    );
    assert_eq!(
        SiteFormat::parse("${cn").unwrap_err(),
        TemplateError::Unclosed
    );
    assert_eq!(
        SiteFormat::parse("no attribute ${}").unwrap_err(),
        TemplateError::BadAttribute(String::new())
    );
    assert_eq!(SiteFormat::parse("description").unwrap().1, ["description"]);
    assert!(SiteFormat::parse("two words").is_err());
}

#[test]
fn map_names() {
    assert_eq!(
        RecordKind::of_map("hosts.byaddr"),
        Some((RecordKind::Hosts, 1))
    );
    assert_eq!(
        RecordKind::of_map("netgroup.byhost"),
        Some((RecordKind::Netgroup, 2))
    );
    assert_eq!(
        RecordKind::of_map("auto.home"),
        Some((RecordKind::Automount, 0))
    );
    assert_eq!(RecordKind::of_map("auto."), None);
    assert_eq!(RecordKind::of_map("printers"), None);
    for k in RecordKind::CLASSIC {
        assert_eq!(RecordKind::from_word(k.word()), Some(k));
    }
}

#[test]
fn values_too_long_are_dropped_not_cut() {
    let long = "a".repeat(MAX_LINE);
    let e = run(
        RecordKind::Hosts,
        "cn=x,dc=x",
        &[("name", &[long.as_str()]), ("address", &["192.0.2.1"])],
    );
    assert_eq!(e.unwrap_err().reason(), crate::DropReason::LineTooLong);
}
