//! Reading real slapd directories end to end: ypldapd, its helpers, slapd
//! and rpcbind in a test's own namespaces, checked with the NIS client tools.

use std::time::Duration;

use tests::config::{Bind, Tls};
use tests::expect::{self, Password};
use tests::ldif::{BIND_DN, SUFFIX};
use tests::peers::SlapdOptions;
use tests::world::{Data, Directory, Ready, World};

/// The line of `user00007` of [`Data::generated`] in `passwd.byname`.
fn user7_line() -> String {
    format!(
        "user00007:{}:10007:100:Test User 7:/home/user00007:/bin/bash",
        expect::password_field("passwd.byname", "{CRYPT}$6$salt7$hash7")
    )
}

#[test]
fn plain_ldap_with_service_account_every_map() {
    let w = World::builder("plain.test")
        .directory(Directory::slapd(Data::generated(40, 12)))
        .start();
    w.assert_maps();
    // ypmatch through a binding file, by name and by uid.
    w.bind_clients();
    let by_name = w.ypmatch("user00007", "passwd.byname").expect("ypmatch");
    assert_eq!(by_name.trim(), user7_line());
    let by_uid = w.ypmatch("10007", "passwd.byuid").expect("ypmatch");
    assert_eq!(by_uid.trim(), by_name.trim());
    assert!(
        w.log()
            .contains("update 1: 1 directories, 40 users, 12 groups, dropped: none"),
        "{}",
        w.log()
    );
    assert!(
        !w.log().contains("ypldapsecret"),
        "the bind password must never be logged"
    );
}

#[test]
fn forced_paging_over_starttls_and_ldaps_anonymous_and_bound() {
    // StartTLS with the service account (reads userPassword).
    let mut w = World::builder("paging.test")
        .directory(
            Directory::slapd_with(Data::generated(1200, 30), SlapdOptions::paged())
                .read(|b| b.tls = Tls::StartTls),
        )
        .start();
    w.assert_maps();
    // LDAPS, anonymous: passwords are not readable, so the config fixes them.
    let b = &mut w.config.directories[0];
    b.tls = Tls::Ldaps;
    b.bind = Bind::Anonymous;
    b.password = Password::Fixed;
    w.restart_ypldapd();
    w.assert_maps();
}

/// Fails an update in the way `break_it` does, and checks the log says why
/// and the old maps are still served.
fn failure_keeps_old_maps(domain: &str, tls: Tls, break_it: &dyn Fn(&mut World), expect_log: &str) {
    let mut w = World::builder(domain)
        .directory(Directory::slapd(Data::generated(25, 5)).read(|b| b.tls = tls))
        .interval(1)
        .start();
    w.assert_maps();
    break_it(&mut w);
    w.wait_log("update failed", 1, Duration::from_secs(20));
    let log = w.log();
    assert!(
        log.contains(expect_log),
        "expected {expect_log:?} in:\n{log}"
    );
    assert!(log.contains("keeping the current maps"), "{log}");
    w.assert_maps();
    assert!(w.ypldapd().alive());
}

fn ldapmodify(w: &World, ldif: &str) {
    let path = w.ns.write_file("change.ldif", ldif);
    w.ns.sh(&format!(
        "ldapmodify -x -H ldap://127.0.0.1 -D cn=admin,{SUFFIX} -w secret -f {}",
        path.display()
    ));
}

#[test]
fn wrong_bind_password_keeps_old_maps() {
    failure_keeps_old_maps(
        "bindpw.test",
        Tls::None,
        &|w| {
            ldapmodify(
                w,
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
        Tls::None,
        &|w| {
            w.ns.sh(&format!("ldapdelete -r -x -H ldap://127.0.0.1 -D cn=admin,{SUFFIX} -w secret ou=People,{SUFFIX}"));
        },
        "user search",
    );
}

#[test]
fn stopped_slapd_keeps_old_maps() {
    failure_keeps_old_maps(
        "stopped.test",
        Tls::None,
        &|w| w.slapd().kill(),
        "cannot connect to 127.0.0.1 port 389",
    );
}

#[test]
fn expired_server_certificate_keeps_old_maps() {
    failure_keeps_old_maps(
        "expired.test",
        Tls::Ldaps,
        &|w| {
            w.slapd().kill();
            std::fs::copy(w.pki().path("expired.crt"), w.pki().path("server.crt")).expect("copy");
            w.restart_server(0);
        },
        "certificate",
    );
}

#[test]
fn wrong_ca_keeps_old_maps() {
    failure_keeps_old_maps(
        "wrongca.test",
        Tls::StartTls,
        &|w| {
            // The server now presents a certificate from another CA.
            w.slapd().kill();
            w.ns.sh(&format!(
                "cd {} && openssl req -newkey rsa:2048 -nodes -keyout other.key -out other.csr -subj /CN=localhost 2>/dev/null && \
                 openssl x509 -req -in other.csr -CA wrongca.crt -CAkey wrongca.key -CAcreateserial -days 30 -extfile server.ext -out server.crt 2>/dev/null && \
                 cp other.key server.key",
                w.pki().dir.display()
            ));
            w.restart_server(0);
        },
        "certificate",
    );
}

#[test]
fn slapd_absent_at_start_then_registered() {
    let mut w = World::builder("late.test")
        .directory(Directory::slapd(Data::generated(10, 3)))
        .without_ypldapd()
        .start();
    w.slapd().kill();
    w.ready = Ready::Started;
    w.start_ypldapd();
    w.wait_log("update failed", 1, Duration::from_secs(15));
    assert!(!w.registered(), "must not register before the first maps");
    w.restart_server(0);
    w.wait_registered(Duration::from_secs(60));
    w.assert_maps();
}

/// slapd dies while ypldapd's reader is in the middle of the user search
/// (it has received part of the answer): the update fails naming that
/// search, the old maps stay, and the next update after slapd is back
/// succeeds.
#[test]
fn slapd_killed_mid_search_then_back() {
    let mut w = World::builder("midkill.test")
        .directory(Directory::slapd_with(
            Data::generated(20000, 50),
            SlapdOptions::paged(),
        ))
        .interval(1)
        .start();
    // Kill slapd while the next update is reading.
    w.wait_log("update 2 started", 1, Duration::from_secs(30));
    w.kill_server_mid_search(0, 389, 64 << 10);
    w.wait_log("update failed", 1, Duration::from_secs(30));
    let log = w.log();
    let failed = log
        .lines()
        .find(|l| l.contains("update failed"))
        .expect("failure line");
    assert!(
        failed.contains("user search: "),
        "not a failure of the user search: {failed}\n{log}"
    );
    assert!(
        !log.contains("update 2: "),
        "update 2 finished after all:\n{log}"
    );
    assert_eq!(w.ypcat("passwd.byname").expect("ypcat").len(), 20000);
    w.restart_server(0);
    let done_before = w.log().matches(" users, ").count();
    w.wait_log(" users, ", done_before + 1, Duration::from_secs(60));
    w.assert_maps();
}

#[test]
fn two_directories_are_a_union_and_addresses_fail_over() {
    let (users, groups) = tests::ldif::generate(30, 6);
    let (first_u, second_u) = users.split_at(15);
    let (first_g, second_g) = groups.split_at(3);
    let w = World::builder("union.test")
        .directory(Directory::slapd(Data::of(first_u.to_vec(), first_g.to_vec())).named("a"))
        .directory(
            Directory::slapd_with(
                Data::of(second_u.to_vec(), second_g.to_vec()),
                SlapdOptions {
                    address: "127.0.0.2".into(),
                    ..SlapdOptions::default()
                },
            )
            .named("b")
            .read(|b| b.host = "ldap.test".into()),
        )
        .without_ypldapd()
        .start();
    // "ldap.test" resolves to 127.0.0.3 (nothing listens: refused) first,
    // then 127.0.0.2.
    let hosts = w.ns.write_file(
        "hosts",
        "127.0.0.1 localhost\n127.0.0.3 ldap.test\n127.0.0.2 ldap.test\n",
    );
    w.ns.sh(&format!(
        "chmod 644 {0} && mount --bind {0} /etc/hosts",
        hosts.display()
    ));
    let mut w = w;
    w.start_ypldapd();
    w.assert_maps();
    assert!(
        w.log()
            .contains("update 1: 2 directories, 30 users, 6 groups, dropped: none"),
        "{}",
        w.log()
    );
}

/// A directory that lets the account read only part of it (OpenLDAP's
/// default limit of 500 entries, paged searches included) must fail the
/// update with a hint, never serve a partial map.
#[test]
fn size_limited_account_fails_with_a_hint() {
    let w = World::builder("limit.test")
        .directory(Directory::slapd(Data::generated(700, 5)))
        .ready(Ready::Started)
        .start();
    w.wait_log("update failed", 1, Duration::from_secs(20));
    assert!(w.log().contains("sizeLimitExceeded"), "{}", w.log());
    assert!(w.log().contains("size limit"), "{}", w.log());
    assert!(!w.registered());
}

/// SASL EXTERNAL with a client certificate (`certfile`, `keyfile`,
/// `bindext`) over StartTLS: slapd maps the certificate's subject
/// (`cn=ypldap`) to the service account (`authz-regexp`), which alone may
/// read `userPassword`; so the password hashes in the maps show the bind
/// was that identity and not anonymous.
#[test]
fn sasl_external_with_a_client_certificate() {
    let mut w = World::builder("external.test")
        .directory(Directory::slapd(Data::generated(30, 4)).read(|b| b.tls = Tls::StartTls))
        .without_ypldapd()
        .start();
    let (cert, key) = (w.pki().path("client.crt"), w.pki().path("client.key"));
    // The directory itself maps the certificate to the service account.
    let whoami = w.ns.sh(&format!(
        "LDAPTLS_CACERT={} LDAPTLS_CERT={} LDAPTLS_KEY={} ldapwhoami -Q -ZZ -Y EXTERNAL -H ldap://127.0.0.1",
        w.pki().path("ca.crt").display(),
        cert.display(),
        key.display()
    ));
    assert_eq!(
        whoami.trim(),
        format!("dn:{}", BIND_DN.to_ascii_lowercase())
    );
    w.config.directories[0].bind = Bind::External { cert, key };
    assert!(w.config_text().contains("\tbindext\n"));
    w.start_ypldapd();
    w.assert_maps();
    assert!(
        w.log()
            .contains("update 1: 1 directories, 30 users, 4 groups, dropped: none"),
        "{}",
        w.log()
    );
}

/// Entries that break a rule, among good ones: each is dropped with its DN
/// and the reason in ypldapd's log, counted in the summary, absent from
/// the maps, while every good entry is served.
#[test]
fn bad_entries_are_dropped_by_dn_and_the_rest_served() {
    let bad = format!(
        "dn: uid=baduid,ou=People,{SUFFIX}\nobjectClass: inetOrgPerson\nobjectClass: posixAccount\n\
         uid: baduid\ncn: Bad Uid\nsn: baduid\nuidNumber: 4294967295\ngidNumber: 100\n\
         homeDirectory: /home/baduid\nloginShell: /bin/sh\ngecos: Bad Uid\nuserPassword: x\n\n\
         dn: uid=colon,ou=People,{SUFFIX}\nobjectClass: inetOrgPerson\nobjectClass: posixAccount\n\
         uid: colon\ncn: Colon\nsn: colon\nuidNumber: 30001\ngidNumber: 100\n\
         homeDirectory: /home/colon\nloginShell: /bin/sh\ngecos: Room 1:2\nuserPassword: x\n\n\
         dn: uid=noshell,ou=People,{SUFFIX}\nobjectClass: inetOrgPerson\nobjectClass: posixAccount\n\
         uid: noshell\ncn: No Shell\nsn: noshell\nuidNumber: 30002\ngidNumber: 100\n\
         homeDirectory: /home/noshell\ngecos: No Shell\nuserPassword: x\n\n\
         dn: cn=badmember,ou=Groups,{SUFFIX}\nobjectClass: posixGroup\ncn: badmember\n\
         gidNumber: 30003\nmemberUid: user00001,user00002\n"
    );
    let w = World::builder("drops.test")
        .directory(Directory::slapd(Data::generated(20, 4).with_ldif(&bad)))
        .start();
    let log = w.log();
    for (dn, why) in [
        (
            "uid=baduid",
            "uid \"4294967295\" is not a number from 0 to 4294967294",
        ),
        ("uid=colon", "field gecos contains the character ':'"),
        ("uid=noshell", "attribute loginShell is missing"),
        (
            "cn=badmember",
            "a member in field groupmembers is empty or contains ','",
        ),
    ] {
        let ou = if dn.starts_with("cn=") {
            "Groups"
        } else {
            "People"
        };
        let line = format!("dropped \"{dn},ou={ou},{SUFFIX}\": {why}");
        assert!(log.contains(&line), "no {line:?} in:\n{log}");
    }
    assert!(
        log.contains(
            "update 1: 1 directories, 20 users, 4 groups, dropped: 1 missing attribute, \
             1 invalid uid, 1 forbidden character, 1 bad group member,"
        ),
        "{log}"
    );
    w.assert_maps();
    w.bind_clients();
    for (key, map) in [
        ("baduid", "passwd.byname"),
        ("colon", "passwd.byname"),
        ("30002", "passwd.byuid"),
        ("badmember", "group.byname"),
    ] {
        let r = w.ypmatch(key, map);
        assert!(
            r.as_ref().is_err_and(|e| e.contains("No such key in map")),
            "{key} in {map}: {r:?}"
        );
    }
}

/// A whole map larger than one turn of the event loop's work (1 MiB) must
/// stream to the end on an otherwise idle server: nothing else may be
/// needed to wake the loop (regression: the YP server's deadline was left
/// out of the loop's timeout, and ALL stalled until the next update).
#[test]
fn large_map_streams_to_the_end_on_an_idle_server() {
    let w = World::builder("idle.test")
        .directory(Directory::slapd_with(
            Data::generated(20000, 20),
            SlapdOptions::paged(),
        ))
        .interval(3600)
        .start();
    // A reader as fast as the server, so the socket never fills: only the
    // server's own deadline can resume the stream after each turn.
    let out =
        w.ns.command(env!("CARGO_BIN_EXE_yp-probe"))
            .args(["all", "idle.test", "passwd.byname"])
            .output()
            .expect("yp-probe");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("complete=true entries=20000 "),
        "ALL did not finish: {text}"
    );
    // And ypcat shows the whole map.
    let lines =
        w.ns.sh("timeout 20 ypcat -h 127.0.0.1 -d idle.test master.passwd.byname | wc -l");
    assert_eq!(lines.trim(), "20000");
    // An idle TCP connection is closed after 30 s even though nothing else
    // happens on the server: its deadline alone must wake the loop.
    let out =
        w.ns.command(env!("CARGO_BIN_EXE_yp-probe"))
            .args(["idle-tcp", "40"])
            .output()
            .expect("yp-probe");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("closed=true"),
        "idle connection not closed: {text}"
    );
    let after: u64 = text
        .split_whitespace()
        .find_map(|w| w.strip_prefix("after_ms="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no after_ms in {text}"));
    assert!(
        (29_000..=33_000).contains(&after),
        "closed after {after} ms, not after its 30 s idle timeout"
    );
}
