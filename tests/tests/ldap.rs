//! Reading real slapd directories end to end: ypldapd, its helpers, slapd
//! and rpcbind in a test's own namespaces, checked with the NIS client tools.

use std::time::Duration;
use yp_proto::maps::MapName;

use nix::sys::signal::Signal;
use tests::ldif::{
    self, BIND_DN, PASSWD_FIXED, PASSWD_FROM_LDAP, directory_block, expected_maps, service_bind,
};
use tests::peers::{Slapd, SlapdOptions, Ypldapd, start_rpcbind};
use tests::pki::Pki;
use tests::{Namespace, wait_for, yp_registered, ypcat};

/// Every map, as ypcat shows it, equals what the directory holds.
fn assert_maps(
    ns: &Namespace,
    domain: &str,
    users: &[ldif::User],
    groups: &[ldif::Group],
    from_ldap: bool,
) {
    let want = expected_maps(users, groups, domain, from_ldap);
    for map in MapName::ALL.map(MapName::as_str) {
        let got = ypcat(ns, domain, map).unwrap_or_else(|e| panic!("{e}"));
        let w = &want[map];
        assert_eq!(got.len(), w.len(), "{map}: number of entries");
        assert_eq!(&got, w, "{map}");
    }
}

fn registered_within(ns: &Namespace, d: &Ypldapd, limit: Duration) {
    if wait_for(limit, || yp_registered(ns).then_some(())).is_none() {
        panic!("ypldapd never registered with rpcbind:\n{}", d.log());
    }
}

fn conf(domain: &str, interval: u32, extra: &str, blocks: &[String]) -> String {
    format!(
        "domain \"{domain}\"\ninterval {interval}\n{extra}{}",
        blocks.concat()
    )
}

#[test]
fn plain_ldap_with_service_account_every_map() {
    let ns = Namespace::new("plain.test");
    let pki = Pki::create(ns.dir.path());
    let (users, groups) = ldif::generate(40, 12);
    let _slapd = Slapd::start(
        &ns,
        "slapd",
        &pki,
        &ldif::ldif(&users, &groups),
        SlapdOptions::default(),
    );
    let _rpcbind = start_rpcbind(&ns);
    let d = Ypldapd::start(
        &ns,
        &conf(
            "plain.test",
            600,
            "",
            &[directory_block(
                "\"127.0.0.1\"",
                &service_bind(),
                PASSWD_FROM_LDAP,
            )],
        ),
    );
    registered_within(&ns, &d, Duration::from_secs(20));
    assert_maps(&ns, "plain.test", &users, &groups, true);
    // ypmatch through a binding file, by name and by uid.
    ns.sh("printf '\\000\\000\\001\\000\\000\\000\\177\\000\\000\\001\\000\\000\\000\\000' > /var/yp/binding/plain.test.2");
    let by_name = ns.sh("ypmatch -d plain.test user00007 passwd.byname");
    assert_eq!(
        by_name.trim(),
        "user00007:x:10007:100:Test User 7:/home/user00007:/bin/bash"
    );
    let by_uid = ns.sh("ypmatch -d plain.test 10007 passwd.byuid");
    assert_eq!(by_uid.trim(), by_name.trim());
    assert!(
        d.log()
            .contains("update 1: 1 directories, 40 users, 12 groups"),
        "{}",
        d.log()
    );
    assert!(
        !d.log().contains("ypldapsecret"),
        "the bind password must never be logged"
    );
}

#[test]
fn forced_paging_over_starttls_and_ldaps_anonymous_and_bound() {
    let ns = Namespace::new("paging.test");
    let pki = Pki::create(ns.dir.path());
    let (users, groups) = ldif::generate(1200, 30);
    let _slapd = Slapd::start(
        &ns,
        "slapd",
        &pki,
        &ldif::ldif(&users, &groups),
        SlapdOptions {
            size_limit: "size.soft=500 size.hard=500 size.prtotal=unlimited".into(),
            ..SlapdOptions::default()
        },
    );
    let _rpcbind = start_rpcbind(&ns);
    let ca = pki.path("ca.crt");
    // StartTLS with the service account (reads userPassword).
    let d = Ypldapd::start(
        &ns,
        &conf(
            "paging.test",
            600,
            &format!("cafile \"{}\"\n", ca.display()),
            &[directory_block(
                "\"127.0.0.1\" tls",
                &service_bind(),
                PASSWD_FROM_LDAP,
            )],
        ),
    );
    registered_within(&ns, &d, Duration::from_secs(30));
    assert_maps(&ns, "paging.test", &users, &groups, true);
    drop(d);
    // LDAPS, anonymous: passwords are not readable, so the config fixes them.
    ns.sh("pkill -x ypldapd; for i in $(seq 50); do pgrep -x ypldapd >/dev/null || exit 0; sleep 0.1; done");
    ns.sh("rpcinfo -d 100004 2 2>/dev/null; true");
    let d = Ypldapd::start(
        &ns,
        &conf(
            "paging.test",
            600,
            &format!("cafile \"{}\"\n", ca.display()),
            &[directory_block("\"127.0.0.1\" ldaps", "", PASSWD_FIXED)],
        ),
    );
    registered_within(&ns, &d, Duration::from_secs(30));
    assert_maps(&ns, "paging.test", &users, &groups, false);
}

/// Fails an update in the way `break_it` does, and checks the log says why
/// and the old maps are still served; `repair` then lets updates succeed.
fn failure_keeps_old_maps(
    domain: &str,
    tls: &str,
    break_it: &dyn Fn(&Namespace, &mut Slapd, &Pki),
    expect_log: &str,
) {
    let ns = Namespace::new(domain);
    let pki = Pki::create(ns.dir.path());
    let (users, groups) = ldif::generate(25, 5);
    let mut slapd = Slapd::start(
        &ns,
        "slapd",
        &pki,
        &ldif::ldif(&users, &groups),
        SlapdOptions::default(),
    );
    let _rpcbind = start_rpcbind(&ns);
    let d = Ypldapd::start(
        &ns,
        &conf(
            domain,
            1,
            &format!("cafile \"{}\"\n", pki.path("ca.crt").display()),
            &[directory_block(
                &format!("\"127.0.0.1\" {tls}"),
                &service_bind(),
                PASSWD_FROM_LDAP,
            )],
        ),
    );
    registered_within(&ns, &d, Duration::from_secs(20));
    assert_maps(&ns, domain, &users, &groups, true);
    break_it(&ns, &mut slapd, &pki);
    d.wait_log("update failed", 1, Duration::from_secs(20));
    let log = d.log();
    assert!(
        log.contains(expect_log),
        "expected {expect_log:?} in:\n{log}"
    );
    assert!(log.contains("keeping the current maps"), "{log}");
    assert_maps(&ns, domain, &users, &groups, true);
    assert!(d.alive());
}

fn ldapmodify(ns: &Namespace, ldif: &str) {
    let path = ns.write_file("change.ldif", ldif);
    ns.sh(&format!(
        "ldapmodify -x -H ldap://127.0.0.1 -D cn=admin,dc=example,dc=com -w secret -f {}",
        path.display()
    ));
}

#[test]
fn wrong_bind_password_keeps_old_maps() {
    failure_keeps_old_maps(
        "bindpw.test",
        "",
        &|ns, _, _| {
            ldapmodify(
                ns,
                &format!(
                    "dn: {BIND_DN}\nchangetype: modify\nreplace: userPassword\nuserPassword: changed\n"
                ),
            );
        },
        "bind as \"cn=ypldap,ou=Services,dc=example,dc=com\" failed",
    );
}

#[test]
fn missing_search_base_keeps_old_maps() {
    failure_keeps_old_maps(
        "nobase.test",
        "",
        &|ns, _, _| {
            ns.sh("ldapdelete -r -x -H ldap://127.0.0.1 -D cn=admin,dc=example,dc=com -w secret ou=People,dc=example,dc=com");
        },
        "user search",
    );
}

#[test]
fn stopped_slapd_keeps_old_maps() {
    failure_keeps_old_maps(
        "stopped.test",
        "",
        &|_, s, _| s.kill(),
        "cannot connect to 127.0.0.1 port 389",
    );
}

#[test]
fn expired_server_certificate_keeps_old_maps() {
    failure_keeps_old_maps(
        "expired.test",
        "ldaps",
        &|ns, s, pki| {
            s.kill();
            std::fs::copy(pki.path("expired.crt"), pki.path("server.crt")).expect("copy");
            s.run(ns);
        },
        "certificate",
    );
}

#[test]
fn wrong_ca_keeps_old_maps() {
    failure_keeps_old_maps(
        "wrongca.test",
        "tls",
        &|ns, s, pki| {
            // The server now presents a certificate from another CA.
            s.kill();
            let d = pki.dir.clone();
            ns.sh(&format!(
                "cd {} && openssl req -newkey rsa:2048 -nodes -keyout other.key -out other.csr -subj /CN=localhost 2>/dev/null && \
                 openssl x509 -req -in other.csr -CA wrongca.crt -CAkey wrongca.key -CAcreateserial -days 30 -extfile server.ext -out server.crt 2>/dev/null && \
                 cp other.key server.key",
                d.display()
            ));
            s.run(ns);
        },
        "certificate",
    );
}

#[test]
fn slapd_absent_at_start_then_registered() {
    let ns = Namespace::new("late.test");
    let pki = Pki::create(ns.dir.path());
    let (users, groups) = ldif::generate(10, 3);
    let _rpcbind = start_rpcbind(&ns);
    let d = Ypldapd::start(
        &ns,
        &conf(
            "late.test",
            600,
            "",
            &[directory_block(
                "\"127.0.0.1\"",
                &service_bind(),
                PASSWD_FROM_LDAP,
            )],
        ),
    );
    d.wait_log("update failed", 1, Duration::from_secs(15));
    assert!(
        !yp_registered(&ns),
        "must not register before the first maps"
    );
    let _slapd = Slapd::start(
        &ns,
        "slapd",
        &pki,
        &ldif::ldif(&users, &groups),
        SlapdOptions::default(),
    );
    registered_within(&ns, &d, Duration::from_secs(30));
    assert_maps(&ns, "late.test", &users, &groups, true);
}

#[test]
fn slapd_killed_mid_search_then_back() {
    let ns = Namespace::new("midkill.test");
    let pki = Pki::create(ns.dir.path());
    let (users, groups) = ldif::generate(20000, 50);
    let mut slapd = Slapd::start(
        &ns,
        "slapd",
        &pki,
        &ldif::ldif(&users, &groups),
        SlapdOptions {
            size_limit: "size.soft=500 size.hard=500 size.prtotal=unlimited".into(),
            ..SlapdOptions::default()
        },
    );
    let _rpcbind = start_rpcbind(&ns);
    let d = Ypldapd::start(
        &ns,
        &conf(
            "midkill.test",
            1,
            "",
            &[directory_block(
                "\"127.0.0.1\"",
                &service_bind(),
                PASSWD_FROM_LDAP,
            )],
        ),
    );
    registered_within(&ns, &d, Duration::from_secs(60));
    // Kill slapd while the next update is reading.
    d.wait_log("update 2 started", 1, Duration::from_secs(30));
    slapd.signal(Signal::SIGKILL);
    slapd.kill();
    d.wait_log("update failed", 1, Duration::from_secs(30));
    assert_eq!(
        ypcat(&ns, "midkill.test", "passwd.byname")
            .expect("ypcat")
            .len(),
        20000
    );
    slapd.run(&ns);
    let done_before = d.log().matches(" users, ").count();
    d.wait_log(" users, ", done_before + 1, Duration::from_secs(60));
    assert_maps(&ns, "midkill.test", &users, &groups, true);
}

#[test]
fn two_directories_are_a_union_and_addresses_fail_over() {
    let ns = Namespace::new("union.test");
    let pki = Pki::create(ns.dir.path());
    let (users, groups) = ldif::generate(30, 6);
    let (first_u, second_u) = users.split_at(15);
    let (first_g, second_g) = groups.split_at(3);
    let _a = Slapd::start(
        &ns,
        "a",
        &pki,
        &ldif::ldif(first_u, first_g),
        SlapdOptions::default(),
    );
    let _b = Slapd::start(
        &ns,
        "b",
        &pki,
        &ldif::ldif(second_u, second_g),
        SlapdOptions {
            address: "127.0.0.2".into(),
            ..SlapdOptions::default()
        },
    );
    // "ldap.test" resolves to 127.0.0.3 (nothing listens: refused) first,
    // then 127.0.0.2.
    let hosts = ns.write_file(
        "hosts",
        "127.0.0.1 localhost\n127.0.0.3 ldap.test\n127.0.0.2 ldap.test\n",
    );
    ns.sh(&format!(
        "chmod 644 {0} && mount --bind {0} /etc/hosts",
        hosts.display()
    ));
    let _rpcbind = start_rpcbind(&ns);
    let d = Ypldapd::start(
        &ns,
        &conf(
            "union.test",
            600,
            "",
            &[
                directory_block("\"127.0.0.1\"", &service_bind(), PASSWD_FROM_LDAP),
                directory_block("\"ldap.test\"", &service_bind(), PASSWD_FROM_LDAP),
            ],
        ),
    );
    registered_within(&ns, &d, Duration::from_secs(30));
    assert_maps(&ns, "union.test", &users, &groups, true);
    assert!(
        d.log()
            .contains("update 1: 2 directories, 30 users, 6 groups"),
        "{}",
        d.log()
    );
}

/// A directory that lets the account read only part of it (OpenLDAP's
/// default limit of 500 entries, paged searches included) must fail the
/// update with a hint, never serve a partial map.
#[test]
fn size_limited_account_fails_with_a_hint() {
    let ns = Namespace::new("limit.test");
    let pki = Pki::create(ns.dir.path());
    let (users, groups) = ldif::generate(700, 5);
    let _slapd = Slapd::start(
        &ns,
        "slapd",
        &pki,
        &ldif::ldif(&users, &groups),
        SlapdOptions::default(),
    );
    let _rpcbind = start_rpcbind(&ns);
    let d = Ypldapd::start(
        &ns,
        &conf(
            "limit.test",
            600,
            "",
            &[directory_block(
                "\"127.0.0.1\"",
                &service_bind(),
                PASSWD_FROM_LDAP,
            )],
        ),
    );
    d.wait_log("update failed", 1, Duration::from_secs(20));
    assert!(d.log().contains("sizeLimitExceeded"), "{}", d.log());
    assert!(d.log().contains("size limit"), "{}", d.log());
    assert!(!yp_registered(&ns));
}

/// A whole map larger than one turn of the event loop's work (1 MiB) must
/// stream to the end on an otherwise idle server: nothing else may be
/// needed to wake the loop (regression: the YP server's deadline was left
/// out of the loop's timeout, and ALL stalled until the next update).
#[test]
fn large_map_streams_to_the_end_on_an_idle_server() {
    let ns = Namespace::new("idle.test");
    let pki = Pki::create(ns.dir.path());
    let (users, groups) = ldif::generate(20000, 20);
    let _slapd = Slapd::start(
        &ns,
        "slapd",
        &pki,
        &ldif::ldif(&users, &groups),
        SlapdOptions {
            size_limit: "size.soft=500 size.hard=500 size.prtotal=unlimited".into(),
            ..SlapdOptions::default()
        },
    );
    let _rpcbind = start_rpcbind(&ns);
    let d = Ypldapd::start(
        &ns,
        &conf(
            "idle.test",
            3600,
            "",
            &[directory_block(
                "\"127.0.0.1\"",
                &service_bind(),
                PASSWD_FROM_LDAP,
            )],
        ),
    );
    registered_within(&ns, &d, Duration::from_secs(60));
    // A reader as fast as the server, so the socket never fills: only the
    // server's own deadline can resume the stream after each turn.
    let out = ns
        .command(env!("CARGO_BIN_EXE_yp-probe"))
        .args(["all", "idle.test", "passwd.byname"])
        .output()
        .expect("yp-probe");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("complete=true entries=20000 "),
        "ALL did not finish: {text}"
    );
    // And ypcat shows the whole map.
    let lines = ns.sh("timeout 20 ypcat -h 127.0.0.1 -d idle.test master.passwd.byname | wc -l");
    assert_eq!(lines.trim(), "20000");
    // An idle TCP connection is closed after 30 s even though nothing else
    // happens on the server: its deadline alone must wake the loop.
    let out = ns
        .command(env!("CARGO_BIN_EXE_yp-probe"))
        .args(["idle-tcp", "33"])
        .output()
        .expect("yp-probe");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("closed=true"),
        "idle connection not closed: {text}"
    );
}
