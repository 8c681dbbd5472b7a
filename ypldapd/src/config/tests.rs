//! Parser tests: the reference examples, every rule good and bad, lexer
//! edge cases in context, and the round-trip properties.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipc_proto::{Bind, Mapping, TlsMode};

use super::pem::tests::{CERT, KEY};
use super::*;

const NAME: &str = "ypldap.conf";

fn fs() -> MemSource {
    MemSource::new()
        .with("/etc/ssl/cert.pem", CERT)
        .with("/etc/ssl/corp-ca.pem", format!("{CERT}{CERT}"))
        .with("/etc/ssl/ypldap.crt", CERT)
        .with("/etc/ssl/private/ypldap.key", KEY)
        .with(
            "/bad.pem",
            "-----BEGIN CERTIFICATE-----\n%%%%\n-----END CERTIFICATE-----\n",
        )
}

fn parse_with(
    text: &str,
    opts: &LoadOptions,
    fs: &dyn IncludeSource,
) -> Result<Loaded, Diagnostics> {
    parse_str(NAME, text, opts, fs)
}

pub(super) fn parse(text: &str) -> Config {
    match parse_with(text, &LoadOptions::default(), &fs()) {
        Ok(l) => l.config,
        Err(e) => panic!("unexpected errors:\n{e}\n--- in:\n{text}"),
    }
}

pub(super) fn errors(text: &str) -> String {
    match parse_with(text, &LoadOptions::default(), &fs()) {
        Ok(l) => panic!("parsed, expected errors:\n{text}\n--- gave:\n{}", l.config),
        Err(e) => e.to_string(),
    }
}

/// The body of a complete directory block (filters and all 14 fields).
pub(super) const BODY: &str = "\tpasswd filter \"(objectClass=posixAccount)\"
\tgroup filter \"(objectClass=posixGroup)\"
\tattribute name maps to \"uid\"
\tfixed attribute passwd \"*\"
\tattribute uid maps to \"uidNumber\"
\tattribute gid maps to \"gidNumber\"
\tfixed attribute class \"\"
\tfixed attribute change \"0\"
\tfixed attribute expire \"0\"
\tattribute gecos maps to \"cn\"
\tattribute home maps to \"homeDirectory\"
\tattribute shell maps to \"loginShell\"
\tattribute groupname maps to \"cn\"
\tfixed attribute grouppasswd \"*\"
\tattribute groupgid maps to \"gidNumber\"
\tlist groupmembers maps to \"memberUid\"
";

/// `domain "d"` on line 1, the directory line on line 2, `extra` on line 3.
fn dir(header: &str, extra: &str) -> String {
    format!("domain \"d\"\ndirectory {header} {{\n{extra}\n{BODY}}}\n")
}

fn assert_roundtrip(c: &Config) {
    let text = c.to_config_text(false);
    let again = parse(&text);
    assert_eq!(&again, c, "round trip changed the config; text:\n{text}");
}

fn example(name: &str, conf: &str, out: &str) -> Config {
    let c = parse(conf);
    assert_eq!(c.to_string(), out, "normalised {name}");
    assert_roundtrip(&c);
    c
}

#[test]
fn example_a() {
    let c = example(
        "A",
        include_str!("testdata/example_a.conf"),
        include_str!("testdata/example_a.out"),
    );
    assert_eq!(c.interval, Duration::from_secs(300));
    assert_eq!(c.served_maps().len(), 5);
    let d = &c.directories[0];
    assert_eq!(d.settings.bind, Bind::Anonymous);
    assert_eq!(d.ca_pem, None);
    assert_eq!(
        c.endpoints(),
        vec![ipc_proto::Endpoint {
            host: "ldap.example.org".into(),
            port: 389
        }]
    );
}

#[test]
fn example_b() {
    let c = example(
        "B",
        include_str!("testdata/example_b.conf"),
        include_str!("testdata/example_b.out"),
    );
    assert_eq!(c.bind, BindMode::Local);
    let d = &c.directories[0];
    assert_eq!(
        d.settings.bind,
        Bind::Simple {
            dn: "cn=ypldap,ou=svc,dc=corp,dc=example".into(),
            credential: "s3cret".into()
        }
    );
    assert_eq!(d.settings.tls, TlsMode::Ldaps);
    assert_eq!(
        d.ca_pem.as_deref(),
        Some(format!("{CERT}{CERT}").as_bytes())
    );
    assert!(c.to_config_text(false).contains("\tbindcred \"s3cret\"\n"));
}

#[test]
fn example_c() {
    let c = example(
        "C",
        include_str!("testdata/example_c.conf"),
        include_str!("testdata/example_c.out"),
    );
    let d = &c.directories[0];
    assert_eq!(
        d.settings.bind,
        Bind::External {
            authzid: String::new()
        }
    );
    assert_eq!(d.cert_pem.as_deref(), Some(CERT.as_bytes()));
    assert_eq!(d.key_pem.as_deref(), Some(KEY.as_bytes()));
    assert_eq!(d.cafile, Some(PathBuf::from("/etc/ssl/cert.pem")));
    assert_eq!(c.directories[1].settings.port, 3389);
    assert_eq!(c.directories[1].ca_pem, None);
}

// ---- global statements ----

#[test]
fn domain_rule() {
    assert_eq!(parse("domain \"x\"\n").domain, "x");
    assert_eq!(parse("domain x").domain, "x");
    assert_eq!(
        errors("interval 5\n"),
        "ypldap.conf: no domain specified (add: domain \"name\")"
    );
    assert_eq!(
        errors("domain \"\"\n"),
        "ypldap.conf:1: domain name is empty"
    );
    assert!(errors("domain \"d\"\ndomain 123\n").starts_with("ypldap.conf:2: syntax error: expected a domain name after \"domain\", found number 123 (quote numbers"));
    assert!(errors("domain \"d\"\ndomain map\n").starts_with("ypldap.conf:2: syntax error"));
    assert_eq!(parse("domain \"map\"\n").domain, "map");
}

#[test]
fn interval_rule() {
    let c = parse("domain d\n");
    assert_eq!(c.interval, Duration::from_secs(600));
    assert_eq!(
        parse("domain d\ninterval 1\n").interval,
        Duration::from_secs(1)
    );
    assert_eq!(
        errors("domain d\ninterval 0\n"),
        "ypldap.conf:2: invalid interval 0: must be at least 1 second"
    );
    assert_eq!(
        errors("domain d\n\ninterval -5\n"),
        "ypldap.conf:3: invalid interval -5: must be at least 1 second"
    );
    assert!(errors("domain d\ninterval \"5\"\n").starts_with("ypldap.conf:2: syntax error"));
}

#[test]
fn provide_map_rule() {
    let c = parse("domain d\n");
    assert_eq!(c.maps, None);
    assert_eq!(c.served_maps(), yp_proto::maps::MapName::ALL.to_vec());
    assert!(
        c.to_string()
            .contains("# no \"provide map\": the eight maps of users and groups are served\n")
    );
    let c = parse(
        "domain d\nprovide map \"group.bygid\"\nprovide map master.passwd.byuid\nprovide map \"group.bygid\"\n",
    );
    assert_eq!(
        c.served_maps(),
        vec![
            yp_proto::maps::MapName::MasterPasswdByUid,
            yp_proto::maps::MapName::GroupByGid
        ]
    );
    assert_eq!(
        errors("domain d\nprovide map \"passwd.byfoo\"\n"),
        "ypldap.conf:2: unsupported map type: passwd.byfoo (no map block defines it)"
    );
    assert!(
        errors("domain d\nprovide \"passwd.byname\"\n")
            .starts_with("ypldap.conf:2: syntax error: expected \"map\"")
    );
}

#[test]
fn bind_rule() {
    assert_eq!(parse("domain d\n").bind, BindMode::Portmap);
    assert_eq!(parse("domain d\nbind local\n").bind, BindMode::Local);
    assert_eq!(
        parse("domain d\nbind local\nbind portmap\n").bind,
        BindMode::Portmap
    );
    assert!(
        errors("domain d\nbind \"local\"\n")
            .starts_with("ypldap.conf:2: syntax error: expected \"local\" or \"portmap\"")
    );
}

#[test]
fn allow_rule() {
    let c = parse("domain d\nallow \"192.0.2.0/24\"\nallow 2001:db8::/32\nallow '127.0.0.1'\n");
    assert_eq!(c.allow.len(), 3);
    assert_eq!(c.allow[2].prefix, 32);
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    assert!(c.allows(&ip("192.0.2.1")));
    assert!(c.allows(&ip("::ffff:127.0.0.1")));
    assert!(c.allows(&ip("2001:db8::9")));
    assert!(!c.allows(&ip("198.51.100.1")));
    assert!(parse("domain d\n").allows(&ip("198.51.100.1")));
    assert_eq!(
        errors("domain d\nallow \"192.0.2.1/24\"\n"),
        "ypldap.conf:2: allow \"192.0.2.1/24\": host bits set beyond the prefix length"
    );
    assert_eq!(
        errors("domain d\n\nallow \"10.0.0.0/40\"\n"),
        "ypldap.conf:3: allow \"10.0.0.0/40\": invalid prefix length"
    );
    assert_eq!(
        errors("domain d\nallow \"example.org\"\n"),
        "ypldap.conf:2: allow \"example.org\": not an IPv4 or IPv6 address"
    );
    // `allow` is no reserved word: a macro of that name still works.
    let c = parse("allow = \"x\"\ndomain $allow\n");
    assert_eq!(c.domain, "x");
    assert!(c.allow.is_empty());
}

#[test]
fn cafile_rule() {
    // cafile applies to directories declared after it only.
    let text = format!(
        "domain d\ndirectory a tls {{\n{BODY}}}\ncafile \"/etc/ssl/corp-ca.pem\"\ndirectory b ldaps {{\n{BODY}}}\ndirectory c {{\n{BODY}}}\n"
    );
    let c = parse(&text);
    assert_eq!(
        c.directories[0].cafile,
        Some(PathBuf::from("/etc/ssl/cert.pem"))
    );
    assert_eq!(
        c.directories[1].cafile,
        Some(PathBuf::from("/etc/ssl/corp-ca.pem"))
    );
    assert_eq!(c.directories[2].cafile, None);
    assert_eq!(c.directories[2].ca_pem, None);
    assert_roundtrip(&c);
    // The second default bundle.
    let only_debian = MemSource::new().with("/etc/ssl/certs/ca-certificates.crt", CERT);
    let l = parse_with(&dir("h tls", ""), &LoadOptions::default(), &only_debian).unwrap();
    assert_eq!(
        l.config.directories[0].cafile,
        Some(PathBuf::from("/etc/ssl/certs/ca-certificates.crt"))
    );
    let e = parse_with(
        &dir("h ldaps", ""),
        &LoadOptions::default(),
        &MemSource::new(),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("ypldap.conf:2: no CA bundle for a TLS directory"),
        "{e}"
    );
    // A plain directory needs none.
    assert!(parse_with(&dir("h", ""), &LoadOptions::default(), &MemSource::new()).is_ok());
    assert_eq!(
        errors("domain d\ncafile \"/nope.pem\"\n"),
        "ypldap.conf:2: cafile \"/nope.pem\": cannot read: No such file or directory"
    );
    assert_eq!(
        errors("domain d\ncafile \"/bad.pem\"\n"),
        "ypldap.conf:2: cafile \"/bad.pem\": PEM block of line 1 is not valid base64"
    );
    assert_eq!(
        errors("domain d\ncafile \"/etc/ssl/private/ypldap.key\"\n"),
        "ypldap.conf:2: cafile \"/etc/ssl/private/ypldap.key\": no CERTIFICATE block"
    );
}

// ---- directory statements ----

#[test]
fn port_rule() {
    let p = |h: &str| parse(&dir(h, "")).directories[0].settings.port;
    assert_eq!(p("h"), 389);
    assert_eq!(p("h tls"), 389);
    assert_eq!(p("h ldaps"), 636);
    assert_eq!(p("h port 1"), 1);
    assert_eq!(p("h port 65535 ldaps"), 65535);
    assert_eq!(p("h port ldap"), 389);
    assert_eq!(p("h port \"10389\""), 10389);
    assert_eq!(
        errors(&dir("h port 0", "")),
        "ypldap.conf:2: invalid port: 0"
    );
    assert_eq!(
        errors(&dir("h port 65536", "")),
        "ypldap.conf:2: invalid port: 65536"
    );
    assert_eq!(
        errors(&dir("h port nosuchservice", "")),
        "ypldap.conf:2: port nosuchservice is invalid (unknown service)"
    );
    assert!(
        errors(&dir("h port ldaps", ""))
            .starts_with("ypldap.conf:2: syntax error: expected a port number")
    );
    assert!(
        errors(&dir("h ldaps port 636", ""))
            .starts_with("ypldap.conf:2: syntax error: expected \"{\"")
    );
    assert!(errors(&dir("h tls ldaps", "")).starts_with("ypldap.conf:2: syntax error"));
}

#[test]
fn broken_header_does_not_spill_into_globals() {
    // Only the header error, not one per directive of the block.
    let e = errors(&dir("h port 0", ""));
    assert_eq!(e.lines().count(), 1, "{e}");
    let e = errors(&format!("{}domain 5\n", dir("h port ldaps", "")));
    assert_eq!(e.lines().count(), 2, "{e}");
    assert!(
        e.lines()
            .nth(1)
            .unwrap()
            .starts_with("ypldap.conf:21: syntax error"),
        "{e}"
    );
}

#[test]
fn tls_file_rules() {
    let c = parse(&dir(
        "h tls",
        "\tcertfile \"/etc/ssl/ypldap.crt\"\n\tkeyfile \"/etc/ssl/private/ypldap.key\"",
    ));
    assert!(c.directories[0].cert_pem.is_some() && c.directories[0].key_pem.is_some());
    assert_eq!(
        errors(&dir("h", "\tcertfile \"/etc/ssl/ypldap.crt\"")),
        "ypldap.conf:3: can't set cert file without tls enabled"
    );
    assert_eq!(
        errors(&dir("h", "\tkeyfile \"/etc/ssl/private/ypldap.key\"")),
        "ypldap.conf:3: can't set key file without tls enabled"
    );
    assert_eq!(
        errors(&dir(
            "h tls",
            "\tcertfile \"/x.crt\"\n\tkeyfile \"/etc/ssl/private/ypldap.key\""
        )),
        "ypldap.conf:3: certfile \"/x.crt\": cannot read: No such file or directory"
    );
    assert_eq!(
        errors(&dir(
            "h tls",
            "\tcertfile \"/etc/ssl/ypldap.crt\"\n\tkeyfile \"/etc/ssl/ypldap.crt\""
        )),
        "ypldap.conf:4: keyfile \"/etc/ssl/ypldap.crt\": expected one PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY block, found 0"
    );
    assert_eq!(
        errors(&dir("h tls", "\tcertfile \"/etc/ssl/private/ypldap.key\"")),
        "ypldap.conf:3: certfile \"/etc/ssl/private/ypldap.key\": no CERTIFICATE block"
    );
    assert_eq!(
        errors(&dir("h ldaps", "\tcertfile \"/etc/ssl/ypldap.crt\"")),
        "ypldap.conf:2: directory \"h\": certfile and keyfile must be given together"
    );
}

#[test]
fn sync_rules() {
    use ipc_proto::SyncSetting;
    let sync = |extra: &str| parse(&dir("h", extra)).directories[0].settings.sync;
    assert_eq!(sync(""), SyncSetting::Auto);
    assert_eq!(sync("\tsync auto"), SyncSetting::Auto);
    assert_eq!(sync("\tsync off"), SyncSetting::Off);
    assert_eq!(sync("\tsync refreshonly"), SyncSetting::RefreshOnly);
    let c = parse(&dir("h", "\tsync refreshonly"));
    assert!(
        c.to_config_text(false).contains("\tsync refreshonly\n"),
        "{}",
        c.to_config_text(false)
    );
    assert_roundtrip(&c);
    let e = errors(&dir("h", "\tsync persist"));
    assert!(
        e.starts_with("ypldap.conf:3: ")
            && e.contains("\"auto\", \"refreshonly\" or \"off\" after \"sync\""),
        "{e}"
    );
}

#[test]
fn bind_method_rules() {
    let b = |extra: &str| parse(&dir("h", extra)).directories[0].settings.bind.clone();
    assert_eq!(b(""), Bind::Anonymous);
    assert_eq!(
        b("\tbinddn \"cn=a\""),
        Bind::Simple {
            dn: "cn=a".into(),
            credential: String::new()
        }
    );
    assert_eq!(
        b("\tbindcred \"pw\"\n\tbinddn \"cn=a\""),
        Bind::Simple {
            dn: "cn=a".into(),
            credential: "pw".into()
        }
    );
    assert_eq!(
        b("\tbindext"),
        Bind::External {
            authzid: String::new()
        }
    );
    assert_eq!(
        b("\tbindext \"dn:cn=x\""),
        Bind::External {
            authzid: "dn:cn=x".into()
        }
    );
    assert_eq!(
        errors(&dir("h", "\tbinddn \"cn=a\"\n\tbindext")),
        "ypldap.conf:4: can't specify multiple bind types (first bind setting on line 3)"
    );
    assert_eq!(
        errors(&dir("h", "\tbindext\n\tbindcred \"x\"")),
        "ypldap.conf:4: can't specify multiple bind types (first bind setting on line 3)"
    );
    assert_eq!(
        errors(&dir("h", "\tbindext\n\tbindext")),
        "ypldap.conf:4: can't specify multiple bind types (first bind setting on line 3)"
    );
}

#[test]
fn dn_rules() {
    let c = parse(&dir("h", "\tbasedn \"dc=x\""));
    assert_eq!(c.directories[0].settings.groupdn, "dc=x");
    let c = parse(&dir("h", "\tgroupdn \"ou=g\"\n\tbasedn \"dc=x\""));
    assert_eq!(c.directories[0].settings.groupdn, "ou=g");
    assert_eq!(c.directories[0].settings.basedn, "dc=x");
    assert!(errors(&dir("h", "\tbasedn dc=x")).starts_with("ypldap.conf:3: syntax error"));
}

#[test]
fn filter_rules() {
    let text = format!(
        "domain d\ndirectory h {{\n{}}}\n",
        BODY.replace("\tgroup filter \"(objectClass=posixGroup)\"\n", "")
    );
    assert_eq!(
        errors(&text),
        "ypldap.conf:2: directory \"h\": no group filter"
    );
    let text = format!(
        "domain d\ndirectory h {{\n{}}}\n",
        BODY.lines()
            .filter(|l| !l.contains("filter"))
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    );
    assert_eq!(
        errors(&text),
        "ypldap.conf:2: directory \"h\": no passwd filter and no group filter"
    );
    assert_eq!(
        errors(&dir("h", "\tpasswd filter \"objectClass=x\"")),
        "ypldap.conf:3: invalid passwd filter \"objectClass=x\": expected '(' at offset 0"
    );
    assert_eq!(
        errors(&dir("h", "\tgroup filter \"(&(a=b)(c=d)\"")),
        "ypldap.conf:3: invalid group filter \"(&(a=b)(c=d)\": expected ')' at offset 12"
    );
    // A later filter replaces the first.
    let c = parse(&dir("h", "\tpasswd filter \"(uid=*)\"").replacen(
        "\tpasswd filter \"(objectClass=posixAccount)\"\n",
        "",
        1,
    ));
    assert_eq!(c.directories[0].settings.passwd_filter, "(uid=*)");
}

#[test]
fn field_rules() {
    let text = format!(
        "domain d\n\ndirectory h {{\n{}}}\n",
        BODY.lines()
            .filter(|l| !l.contains(" class ")
                && !l.contains(" home ")
                && !l.contains("groupmembers"))
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    );
    assert_eq!(
        errors(&text),
        "ypldap.conf:3: directory \"h\": no mapping for class, home, groupmembers"
    );
    assert_eq!(
        errors(&dir("h", "\tattribute class maps to \"c\"")),
        "ypldap.conf:10: field class is already mapped on line 3"
    );
    assert!(
        errors(&dir("h", "\tattribute foo maps to \"c\""))
            .starts_with("ypldap.conf:3: syntax error: expected a field name")
    );
    assert_eq!(
        errors(&dir("h", "\tattribute gecos maps to \"\"")),
        "ypldap.conf:3: empty LDAP attribute name"
    );
    assert!(errors(&dir("h", "\tfixed attribute gecos 0")).starts_with(
        "ypldap.conf:3: syntax error: expected a quoted value, found number 0 (quote numbers"
    ));
    let text = dir("h", "").replace(
        "fixed attribute class \"\"",
        "fixed attribute class \"name\"",
    );
    let c = parse(&text);
    assert_eq!(
        c.directories[0].settings.fields.class,
        Mapping::Fixed {
            value: "name".into()
        }
    );
    assert_eq!(
        c.directories[0].settings.fields.groupmembers,
        Mapping::List {
            name: "memberUid".into()
        }
    );
}

#[test]
fn expose_password_hashes_rule() {
    assert!(!parse("domain d\n").expose_hashes);
    let c = parse("domain d\nexpose password hashes\n");
    assert!(c.expose_hashes);
    assert_roundtrip(&c);
    assert!(
        c.to_config_text(true)
            .contains("\nexpose password hashes\n")
    );
    assert!(
        errors("domain d\nexpose password\n").starts_with(
            "ypldap.conf:2: syntax error: expected \"password hashes\" after \"expose\""
        )
    );
    assert!(
        errors("domain d\nexpose hashes\n").starts_with(
            "ypldap.conf:2: syntax error: expected \"password hashes\" after \"expose\""
        )
    );
    assert!(errors("domain d\nexpose password hashes now\n").starts_with("ypldap.conf:2:"));
    // `expose` is no reserved word: a macro of that name still works.
    let c = parse("expose = \"x\"\ndomain $expose\n");
    assert_eq!(c.domain, "x");
    assert!(!c.expose_hashes);
}

#[test]
fn shadow_field_rules() {
    let c = parse(&dir(
        "h",
        "\tattribute shadowlastchange maps to \"shadowLastChange\"\n\
         \tattribute shadowmax maps to \"shadowMax\"\n\
         \tfixed attribute shadowwarning \"7\"",
    ));
    let sh = &c.directories[0].settings.fields.shadow;
    assert_eq!(
        sh.lastchange,
        Some(Mapping::Attribute {
            name: "shadowLastChange".into()
        })
    );
    assert_eq!(sh.warning, Some(Mapping::Fixed { value: "7".into() }));
    assert_eq!((sh.min.as_ref(), sh.expire.as_ref()), (None, None));
    assert_roundtrip(&c);
    // Optional: a block without them is complete.
    assert!(
        parse(&dir("h", "")).directories[0]
            .settings
            .fields
            .shadow
            .is_empty()
    );
    assert_eq!(
        errors(&dir(
            "h",
            "\tattribute shadowmax maps to \"a\"\n\tattribute shadowmax maps to \"b\""
        )),
        "ypldap.conf:4: field shadowmax is already mapped on line 3"
    );
    // expire (seconds) and shadowexpire (days) are one date: only one.
    let both = dir("h", "\tattribute shadowexpire maps to \"shadowExpire\"").replace(
        "fixed attribute expire \"0\"",
        "attribute expire maps to \"accountExpires\"",
    );
    assert_eq!(
        errors(&both),
        "ypldap.conf:2: directory \"h\": expire and shadowexpire (line 3) are one date: map only one of them, the other map is derived from it"
    );
    // ... but upstream's `fixed attribute expire "0"` means no date.
    parse(&dir(
        "h",
        "\tattribute shadowexpire maps to \"shadowExpire\"",
    ));
    // The shadow field names are no reserved words.
    let c = parse("shadowmax = \"x\"\ndomain $shadowmax\n");
    assert_eq!(c.domain, "x");
}

#[test]
fn group_nesting_rule() {
    assert_eq!(parse("domain d\n").group_nesting, 10);
    let c = parse("domain d\ngroup nesting 0\n");
    assert_eq!(c.group_nesting, 0);
    assert_roundtrip(&c);
    assert_eq!(parse("domain d\ngroup nesting 64\n").group_nesting, 64);
    assert_eq!(
        errors("domain d\ngroup nesting 65\n"),
        "ypldap.conf:2: group nesting 65: must be from 0 to 64"
    );
    assert!(errors("domain d\ngroup nesting\n").starts_with("ypldap.conf:2: syntax error"));
    assert!(errors("domain d\ngroup depth 3\n").starts_with("ypldap.conf:2: syntax error"));
}

#[test]
fn disabled_accounts_rule() {
    assert!(!parse("domain d\n").omit_disabled);
    let c = parse("domain d\ndisabled accounts omitted\n");
    assert!(c.omit_disabled);
    assert_roundtrip(&c);
    assert!(!parse("domain d\ndisabled accounts locked\n").omit_disabled);
    assert!(
        errors("domain d\ndisabled accounts gone\n")
            .starts_with("ypldap.conf:2: syntax error: expected \"locked\" or \"omitted\"")
    );
    let c = parse("disabled = \"x\"\ndomain $disabled\n");
    assert_eq!(c.domain, "x");
}

#[test]
fn several_groupmembers_lists_are_their_union() {
    let c = parse(&dir("h", "\tlist groupmembers maps to \"member\""));
    let f = &c.directories[0].settings.fields;
    assert_eq!(
        f.groupmembers,
        Mapping::List {
            name: "member".into()
        }
    );
    assert_eq!(f.groupmembers_also, ["memberUid"]);
    assert_roundtrip(&c);
    // Only lists: an attribute or fixed groupmembers stays single.
    assert!(
        errors(&dir("h", "\tattribute groupmembers maps to \"member\""))
            .contains("field groupmembers is already mapped")
    );
    assert_eq!(super::parser::FIELDS[13], "groupmembers");
}

#[test]
fn block_layout() {
    // One-line block, no newline at the end of the file, comments.
    let oneline = "domain d\ndirectory h { passwd filter \"(a=b)\" }\n";
    assert!(errors(oneline).starts_with("ypldap.conf:2: directory \"h\": no group filter"));
    let text = format!("domain d # the domain\ndirectory h {{\n{BODY}}}");
    assert_eq!(parse(&text).directories.len(), 1);
    assert!(
        errors(&format!("domain d\ndirectory h {{\n{BODY}}} x\n"))
            .starts_with("ypldap.conf:19: syntax error: expected end of line")
    );
    assert!(
        errors(&format!("domain d\ndirectory h\n{{\n{BODY}}}\n"))
            .starts_with("ypldap.conf:2: syntax error")
    );
    assert_eq!(
        errors(&format!("domain d\ndirectory h {{\n{BODY}")),
        "ypldap.conf:2: syntax error: directory block not closed (missing \"}\")"
    );
    assert!(
        errors(&dir("h", "\tdomain \"x\""))
            .starts_with("ypldap.conf:3: syntax error: expected a directory setting")
    );
}

#[test]
fn all_errors_are_reported() {
    let text = "domain d\ninterval 0\nprovide map \"x\"\nbogus\nbind nowhere\n\"unterminated\n";
    let e = errors(text);
    let lines: Vec<&str> = e.lines().collect();
    assert_eq!(lines.len(), 5, "{e}");
    assert!(lines[0].starts_with("ypldap.conf:2: invalid interval"));
    assert!(lines[1].starts_with("ypldap.conf:3: unsupported map type"));
    assert!(lines[2].starts_with("ypldap.conf:4: syntax error"));
    assert!(lines[3].starts_with("ypldap.conf:5: syntax error"));
    assert_eq!(
        lines[4],
        "ypldap.conf:6: reached end of file while parsing quoted string"
    );
}

// ---- lexing in context ----

#[test]
fn lexing_in_context() {
    assert_eq!(parse("domain \"a\\\"b\"\n").domain, "a\"b");
    assert_eq!(parse("domain 'it\\'s'\n").domain, "it's");
    assert_eq!(parse("domain \"a\\qb\"\n").domain, "a\\qb");
    assert_eq!(
        parse("domain \\\n\"x\"\ninterval 7").interval,
        Duration::from_secs(7)
    );
    assert_eq!(parse("domain \"lo\\\nng\"\n").domain, "long");
    // Line numbers count continued lines.
    assert_eq!(
        errors("domain \\\n\"x\"\ninterval 0\n"),
        "ypldap.conf:3: invalid interval 0: must be at least 1 second"
    );
    assert_eq!(
        errors("domain \"a\nb\"\ninterval 0"),
        "ypldap.conf:3: invalid interval 0: must be at least 1 second"
    );
    assert!(errors("domain d\ninterval 5x\n").starts_with("ypldap.conf:2: syntax error"));
    assert!(
        errors("domain d\ninterval 99999999999999999999\n")
            .starts_with("ypldap.conf:2: \"99999999999999999999\" invalid number: too large")
    );
    assert!(errors("domain d\ndomain \"a\0b\"\n").starts_with("ypldap.conf:2: syntax error"));
    assert!(errors("domain d\r\n").starts_with("ypldap.conf:1: syntax error"));
}

#[test]
fn macros() {
    let c = parse("h = \"ldap.x\"\ndn = '\"cn=a,dc=b\"'\ndomain $h\n");
    assert_eq!(c.domain, "ldap.x");
    let c = parse(&dir("$h", "\tbinddn $dn").replace(
        "domain \"d\"\n",
        "domain d\nh = \"host1\"\ndn = '\"cn=a,dc=b\"'\n",
    ));
    assert_eq!(c.directories[0].settings.host, "host1");
    assert_eq!(
        c.directories[0].settings.bind,
        Bind::Simple {
            dn: "cn=a,dc=b".into(),
            credential: String::new()
        }
    );
    // A DN macro without inner quotes breaks when expanded, as upstream.
    assert!(errors("d = \"a=b\"\ndomain $d\n").starts_with("ypldap.conf:2: syntax error"));
    assert_eq!(
        errors("domain $nope\n"),
        "ypldap.conf:1: macro 'nope' not defined\nypldap.conf: no domain specified (add: domain \"name\")"
    );
    assert_eq!(
        errors("domain d\n\"a b\" = \"x\"\n"),
        "ypldap.conf:2: macro name cannot contain whitespace"
    );
    assert!(
        errors("domain d\nx = 5\n").starts_with(
            "ypldap.conf:2: syntax error: expected a quoted macro value, found number 5"
        )
    );
    // -D wins over the file; unused macros are warned about with -v only.
    let opts = LoadOptions {
        macros: vec![
            ("dom".into(), "\"cmdline\"".into()),
            ("unused_d".into(), "x".into()),
        ],
        verbose: true,
    };
    let l = parse_with("dom = \"file\"\nother = \"y\"\ndomain $dom\n", &opts, &fs()).unwrap();
    assert_eq!(l.config.domain, "cmdline");
    assert_eq!(
        l.warnings,
        vec![
            "warning: macro 'other' not used",
            "warning: macro 'unused_d' not used"
        ]
    );
    let quiet = LoadOptions {
        macros: opts.macros.clone(),
        verbose: false,
    };
    assert!(
        parse_with("other = \"y\"\ndomain $dom\n", &quiet, &fs())
            .unwrap()
            .warnings
            .is_empty()
    );
    // A later file definition overrides an earlier one.
    assert_eq!(parse("a = \"x1\"\na = \"x2\"\ndomain $a\n").domain, "x2");
}

#[test]
fn includes() {
    let src = fs()
        .with("inc.conf", "interval 42\nbind local")
        .with("bad.conf", "\n\ninterval 0\n")
        .with("loop.conf", "include \"loop.conf\"\n")
        .with(
            "fork.conf",
            "include \"fork.conf\"\ninclude \"fork.conf\"\ninclude \"fork.conf\"\n",
        );
    let opts = LoadOptions::default();
    let l = parse_with(
        "domain d\ninclude \"inc.conf\"\nprovide map \"group.byname\"\n",
        &opts,
        &src,
    )
    .unwrap();
    assert_eq!(l.config.interval, Duration::from_secs(42));
    assert_eq!(l.config.bind, BindMode::Local);
    assert!(l.config.maps.is_some());
    let e = parse_with("domain d\ninclude \"bad.conf\"\ninterval -1\n", &opts, &src).unwrap_err();
    assert_eq!(
        e.to_string(),
        "bad.conf:3: invalid interval 0: must be at least 1 second\nypldap.conf:3: invalid interval -1: must be at least 1 second"
    );
    let e = parse_with("domain d\n\ninclude \"missing.conf\"\n", &opts, &src).unwrap_err();
    assert_eq!(
        e.to_string(),
        "ypldap.conf:3: failed to include file missing.conf: No such file or directory"
    );
    let e = parse_with("domain d\ninclude \"loop.conf\"\n", &opts, &src).unwrap_err();
    assert_eq!(
        e.to_string(),
        "loop.conf:1: failed to include file loop.conf: nested too deeply"
    );
    // Three includes of itself per level: bounded by the include count.
    let e = parse_with("domain d\ninclude \"fork.conf\"\n", &opts, &src).unwrap_err();
    assert!(
        e.to_string()
            .contains("failed to include file fork.conf: too many includes"),
        "{e}"
    );
    assert!(e.0.len() < 1000);
}

#[test]
fn quoting_round_trips() {
    for v in [
        "plain",
        "with \"quotes\"",
        "back\\slash",
        "end\\",
        "\\ sp",
        "\\\"",
        "\\\\",
        "tab\\\t",
        "$x #y {z}",
        "ünï",
    ] {
        let q = print::quote(v);
        let c = parse(&format!("domain {q}\n"));
        assert_eq!(c.domain, v, "quoted as {q}");
    }
}

// ---- properties ----

mod props {
    use super::*;
    use proptest::prelude::*;

    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-zA-Z0-9=,. _-]{0,12}",
            "[^\n\u{0}]{0,12}",
            "[\\\\\" \ta]{0,6}",
        ]
    }

    fn nonempty() -> impl Strategy<Value = String> {
        prop_oneof!["[a-zA-Z][a-zA-Z0-9.-]{0,10}", "[^\n\u{0}]{1,12}"]
    }

    fn mapping() -> impl Strategy<Value = Mapping> {
        prop_oneof![
            nonempty().prop_map(|name| Mapping::Attribute { name }),
            value().prop_map(|value| Mapping::Fixed { value }),
            nonempty().prop_map(|name| Mapping::List { name }),
        ]
    }

    const FILTERS: [&str; 5] = [
        "(objectClass=posixAccount)",
        "(&(a=b)(!(c>=1)))",
        "(cn=*x*y)",
        "(:dn:1.2.3:=v\\2a)",
        "(|(a~=b)(c;x-y<=d))",
    ];

    fn directory() -> impl Strategy<Value = DirectoryConfig> {
        let tls = prop_oneof![
            Just(TlsMode::None),
            Just(TlsMode::StartTls),
            Just(TlsMode::Ldaps)
        ];
        let bind = prop_oneof![
            Just(Bind::Anonymous),
            (value(), value()).prop_map(|(dn, credential)| Bind::Simple { dn, credential }),
            value().prop_map(|authzid| Bind::External { authzid }),
        ];
        let fields = proptest::collection::vec(mapping(), 14);
        (
            nonempty(),
            1u16..,
            tls,
            bind,
            (value(), value()),
            (0..5usize, 0..5usize),
            fields,
            (any::<bool>(), any::<bool>()),
        )
            .prop_map(
                |(host, port, tls, bind, (basedn, groupdn), (pf, gf), f, (ca_corp, client))| {
                    let mut f = f.into_iter();
                    let mut n = || {
                        f.next().unwrap_or(Mapping::Fixed {
                            value: String::new(),
                        })
                    };
                    let fields = ipc_proto::FieldMappings {
                        name: n(),
                        passwd: n(),
                        uid: n(),
                        gid: n(),
                        class: n(),
                        change: n(),
                        expire: n(),
                        gecos: n(),
                        home: n(),
                        shell: n(),
                        groupname: n(),
                        grouppasswd: n(),
                        groupgid: n(),
                        groupmembers: n(),
                        groupmembers_also: Vec::new(),
                        // Shadow mappings on some blocks (derived from the
                        // port so the strategy stays one tuple).
                        shadow: ipc_proto::ShadowMappings {
                            lastchange: (port % 2 == 0).then(|| Mapping::Attribute {
                                name: "shadowLastChange".into(),
                            }),
                            max: (port % 3 == 0).then(|| Mapping::Fixed { value: "90".into() }),
                            ..Default::default()
                        },
                    };
                    let src = super::fs();
                    let read = |p: &str| src.files.get(p).cloned();
                    let is_tls = tls != TlsMode::None;
                    let ca = if ca_corp {
                        "/etc/ssl/corp-ca.pem"
                    } else {
                        "/etc/ssl/cert.pem"
                    };
                    let client = client && is_tls;
                    DirectoryConfig {
                        settings: ipc_proto::Directory {
                            host,
                            port,
                            tls,
                            bind,
                            basedn,
                            groupdn,
                            passwd_filter: FILTERS[pf].to_owned(),
                            group_filter: FILTERS[gf].to_owned(),
                            fields,
                            records: Vec::new(),
                            // `sync off` or `sync refreshonly` on some blocks.
                            sync: match port % 5 {
                                0 => ipc_proto::SyncSetting::Off,
                                1 => ipc_proto::SyncSetting::RefreshOnly,
                                _ => ipc_proto::SyncSetting::Auto,
                            },
                        },
                        ca_pem: if is_tls { read(ca) } else { None },
                        cafile: is_tls.then(|| PathBuf::from(ca)),
                        cert_pem: if client {
                            read("/etc/ssl/ypldap.crt")
                        } else {
                            None
                        },
                        certfile: client.then(|| PathBuf::from("/etc/ssl/ypldap.crt")),
                        key_pem: if client {
                            read("/etc/ssl/private/ypldap.key")
                        } else {
                            None
                        },
                        keyfile: client.then(|| PathBuf::from("/etc/ssl/private/ypldap.key")),
                    }
                },
            )
    }

    fn config() -> impl Strategy<Value = Config> {
        let net = prop_oneof![
            (any::<[u8; 4]>(), 0u8..=32).prop_map(|(a, p)| {
                let m = if p == 0 {
                    0
                } else {
                    u32::MAX << (32 - u32::from(p))
                };
                IpNet::new(IpAddr::from((u32::from_be_bytes(a) & m).to_be_bytes()), p).unwrap()
            }),
            (any::<u128>(), 0u8..=128).prop_map(|(a, p)| {
                let m = if p == 0 {
                    0
                } else {
                    u128::MAX << (128 - u32::from(p))
                };
                let addr = std::net::Ipv6Addr::from(a & m);
                IpNet::new(IpAddr::V6(addr), p).unwrap()
            }),
        ];
        (
            nonempty(),
            1u64..10_000_000,
            proptest::option::of(proptest::collection::btree_set(
                proptest::sample::select(yp_proto::maps::MapName::ALL.to_vec()),
                1..7,
            )),
            any::<bool>(),
            proptest::collection::vec(net, 0..3),
            proptest::collection::vec(directory(), 0..3),
        )
            .prop_map(|(domain, secs, maps, local, allow, directories)| Config {
                domain,
                interval: Duration::from_secs(secs),
                maps: maps.map(|m: BTreeSet<_>| m),
                bind: if local {
                    BindMode::Local
                } else {
                    BindMode::Portmap
                },
                allow,
                expose_hashes: secs % 2 == 0,
                group_nesting: (secs % 65) as u32,
                omit_disabled: secs % 3 == 0,
                directories,
                site_maps: Vec::new(),
                limits: ResourceLimits::default(),
                restricted_socket: match secs % 4 {
                    0 => None,
                    1 => Some(RestrictedSocket {
                        path: "/var/run/ypldapd.rsock".into(),
                        group: None,
                    }),
                    2 => Some(RestrictedSocket {
                        path: "/run/y p.sock".into(),
                        group: Some(GroupName::Id((secs % 70000) as u32)),
                    }),
                    _ => Some(RestrictedSocket {
                        path: "/run/y.sock".into(),
                        group: Some(GroupName::Name("wheel".into())),
                    }),
                },
                state: StateSettings {
                    directory: (secs % 5 != 0).then(|| format!("/var/db/yp {}", secs % 7).into()),
                    max_age: Duration::from_secs(secs % 100_000),
                },
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn generated_configs_round_trip(c in config()) {
            let text = c.to_config_text(false);
            let parsed = parse_with(&text, &LoadOptions::default(), &super::fs());
            match parsed {
                Ok(l) => prop_assert_eq!(l.config, c, "text:\n{}", text),
                Err(e) => prop_assert!(false, "{}\n--- text:\n{}", e, text),
            }
        }

        #[test]
        fn any_parsed_config_round_trips(lines in proptest::collection::vec(prop_oneof![
            Just("domain \"d\"".to_owned()),
            Just(dir("h tls", "\tbindext")),
            Just(dir("'h x' port 7", "\tbinddn \"a\"")),
            "[a-z$\"' =\\\\#{}\t.-]{0,16}",
            "(domain|interval|bind|allow|provide map|cafile) [a-z0-9\"'/.:\\\\ ]{0,12}",
        ], 1..8)) {
            let text = lines.join("\n");
            if let Ok(l) = parse_with(&text, &LoadOptions::default(), &super::fs()) {
                let printed = l.config.to_config_text(false);
                let again = parse_with(&printed, &LoadOptions::default(), &super::fs());
                match again {
                    Ok(a) => prop_assert_eq!(a.config, l.config, "printed:\n{}", printed),
                    Err(e) => prop_assert!(false, "{}\n--- printed:\n{}", e, printed),
                }
            }
        }
    }
}

/// Fuzzer find: a file including itself with garbage on every line gave a
/// million diagnostics and took seconds. Errors are now capped.
#[test]
fn fuzz_regression_error_flood() {
    let data: &[u8] = include_bytes!("testdata/fuzz_slow_include.bin");
    let (main, inc) = match data.iter().position(|b| *b == 0xff) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let src = fs().with("inc.conf", inc.to_vec());
    let e = parse_bytes("fuzz.conf", main.to_vec(), &LoadOptions::default(), &src).unwrap_err();
    assert!(e.0.len() <= lexer::MAX_DIAGNOSTICS + 5, "{}", e.0.len());
    assert!(e.0.iter().any(|d| d.message.starts_with("too many errors")));
}

#[test]
fn state_statements() {
    let c = parse("domain \"d\"\n");
    assert_eq!(c.state, StateSettings::default());
    let c = parse("domain \"d\"\nstate directory \"/srv/ypldap\"\nstate max-age 0\n");
    assert_eq!(
        c.state,
        StateSettings {
            directory: Some("/srv/ypldap".into()),
            max_age: Duration::ZERO,
        }
    );
    assert_eq!(parse("domain \"d\"\nstate off\n").state.directory, None);
    for (line, error) in [
        ("state directory \"rel\"", "the path must be absolute"),
        ("state directory \"/a/../b\"", "not a plain path"),
        ("state max-age -1", "must be 0 or more"),
        ("state max-age", "a number of seconds"),
        ("state somewhere", "\"directory\", \"max-age\" or \"off\""),
        ("state off now", "end of line"),
    ] {
        let e = errors(&format!("domain \"d\"\n{line}\n"));
        assert!(e.contains(error), "{line}: {e}");
    }
}

#[test]
fn restricted_socket() {
    let c = parse("domain \"d\"\nsocket \"/var/run/ypldapd.rsock\" restricted\n");
    assert_eq!(
        c.restricted_socket,
        Some(RestrictedSocket {
            path: "/var/run/ypldapd.rsock".into(),
            group: None
        })
    );
    let c = parse("domain \"d\"\nsocket \"/run/r.sock\" restricted group 27\n");
    assert_eq!(c.restricted_socket.unwrap().group, Some(GroupName::Id(27)));
    let c = parse("domain \"d\"\nsocket \"/run/r.sock\" restricted group \"staff\"\n");
    assert_eq!(
        c.restricted_socket.unwrap().group,
        Some(GroupName::Name("staff".into()))
    );
    assert!(parse("domain \"d\"\n").restricted_socket.is_none());
    // A macro named socket still works.
    assert!(
        parse("socket = \"x\"\ndomain \"d\"\n")
            .restricted_socket
            .is_none()
    );
    let e = errors("domain \"d\"\nsocket \"/run/c.sock\"\n");
    assert!(e.contains("\"restricted\" after the socket path"), "{e}");
    let e = errors("domain \"d\"\nsocket \"run/c.sock\" restricted\n");
    assert!(e.contains("must be absolute"), "{e}");
    let long = format!("/{}", "x".repeat(MAX_SOCKET_PATH));
    let e = errors(&format!("domain \"d\"\nsocket \"{long}\" restricted\n"));
    assert!(e.contains("a socket address holds"), "{e}");
    let e = errors("domain \"d\"\nsocket \"/a\" restricted\nsocket \"/b\" restricted\n");
    assert!(e.contains("only one"), "{e}");
    let e = errors("domain \"d\"\nsocket \"/a\" restricted group -1\n");
    assert!(e.contains("not a group id"), "{e}");
    let e = errors("domain \"d\"\nsocket \"/a\" restricted group\n");
    assert!(e.contains("a group name or number"), "{e}");
}

#[test]
fn group_ids_from_etc_group() {
    let text =
        "root:x:0:\n# comment\n+staff:::\nstaff:x:50:alice,bob\nwheel:*:10:root\nbad:x:nope:\n";
    assert_eq!(group_id(text, "staff"), Some(50));
    assert_eq!(group_id(text, "wheel"), Some(10));
    assert_eq!(group_id(text, "root"), Some(0));
    assert_eq!(group_id(text, "bad"), None);
    assert_eq!(group_id(text, "nobody"), None);
    // NIS compatibility lines are never followed or matched.
    assert_eq!(group_id("+staff:x:77:\n", "+staff"), None);
    assert_eq!(group_id("+staff:x:77:\n", "staff"), None);
}
