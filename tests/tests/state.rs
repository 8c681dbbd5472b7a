//! The state directory: ypldapd saves the entries it keeps and the content
//! synchronization cookies, `_ypldap`'s, mode 0600; a restart resumes
//! each session from its cookie (changes made while ypldapd was stopped
//! included) instead of reading the directory again; with the directory
//! down, the saved maps are served when they are younger than `state
//! max-age`; a damaged or foreign state file is refused, with its reason
//! logged, and the directory read in full.

use std::time::Duration;

use nix::sys::signal::Signal;
use tests::peers::SlapdOptions;
use tests::world::{Data, Directory, Ready, World};
use yp_proto::maps::MapName;

const STATE: &str = "/run/ypldap";
const KEPT: &str = "kept current by content synchronization (RFC 4533)";
const RESUMED: &str = "content synchronization resumed from its cookie";

fn world(domain: &str, max_age: Option<u64>) -> World {
    let dir = Directory::slapd_with(Data::sample(), SlapdOptions::default().with_sync());
    let mut b = World::builder(domain)
        .directory(dir)
        .interval(3600)
        .ready(Ready::Registered)
        .sample_config()
        .statement(format!("state directory \"{STATE}\""));
    if let Some(age) = max_age {
        b = b.statement(format!("state max-age {age}"));
    }
    let w = b.start();
    w.bind_clients();
    w.wait_log(KEPT, 1, Duration::from_secs(10));
    w
}

fn shell(w: &World, user: &str) -> Option<String> {
    w.ypmatch(user, "passwd.byname")
        .ok()
        .and_then(|l| l.trim_end().rsplit(':').next().map(str::to_owned))
}

/// Stops ypldapd (SIGTERM: it saves the state as it exits).
fn stop(w: &mut World) {
    let status = w.stop_ypldapd(Signal::SIGTERM);
    assert!(status.success(), "ypldapd exited with {status}");
}

#[test]
fn a_restart_resumes_from_the_saved_state() {
    let mut w = world("state.test", None);
    stop(&mut w);
    // What an administrator sees in the state directory.
    let listing =
        w.ns.sh(&format!("stat -c '%a %U %F' {STATE} {STATE}/state"));
    assert_eq!(
        listing.lines().collect::<Vec<_>>(),
        ["700 _ypldap directory", "600 _ypldap regular file"],
        "{listing}"
    );
    // Changed while ypldapd is stopped.
    w.change_directory(
        "ldapmodify",
        "dn: uid=carol,ou=People,dc=example,dc=com\nchangetype: modify\nreplace: loginShell\nloginShell: /bin/fish\n",
    );
    w.change_directory("ldapdelete", "uid=bob,ou=People,dc=example,dc=com\n");
    w.start_ypldapd();
    w.wait_log(RESUMED, 1, Duration::from_secs(20));
    let log = w.log();
    assert!(log.contains("entries saved"), "{log}");
    assert!(!log.contains(KEPT), "read in full after a restart:\n{log}");
    assert_eq!(shell(&w, "carol").as_deref(), Some("/bin/fish"), "{log}");
    assert!(w.ypmatch("bob", "passwd.byname").is_err(), "{log}");
    assert!(w.ypmatch("alice", "passwd.byname").is_ok());
}

/// The ORDER number `yppoll` shows for `map`.
fn order(w: &World, map: &str) -> u64 {
    let out =
        w.ns.sh(&format!("yppoll -h 127.0.0.1 -d {} {map}", w.domain));
    out.lines()
        .find_map(|l| l.split("has order number ").nth(1))
        .and_then(|r| r.split('.').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no order number in {out:?}"))
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[test]
fn order_numbers_keep_increasing_across_a_restart() {
    let mut w = world("order.test", None);
    // Thirty changes in one ldapmodify, served as they come: each takes
    // the next ORDER number, so the numbers run ahead of the clock.
    let ldif: String = (0..30)
        .map(|i| {
            format!(
                "dn: uid=alice,ou=People,dc=example,dc=com\nchangetype: modify\nreplace: loginShell\nloginShell: /bin/sh{i}\n\n"
            )
        })
        .collect();
    w.change_directory("ldapmodify", &ldif);
    let last = tests::wait_for(Duration::from_secs(10), || {
        (shell(&w, "alice").as_deref() == Some("/bin/sh29")).then_some(())
    });
    assert!(last.is_some(), "the changes never showed:\n{}", w.log());
    let before = order(&w, "passwd.byname");
    assert!(
        before > unix_now() + 10,
        "order {before} is not ahead of the clock ({}): nothing to test",
        unix_now()
    );
    let untouched = order(&w, "group.byname");
    stop(&mut w);
    w.start_ypldapd();
    w.wait_log(RESUMED, 1, Duration::from_secs(20));
    let after = order(&w, "passwd.byname");
    assert!(
        after > before,
        "passwd.byname's order went from {before} to {after} across the restart:\n{}",
        w.log()
    );
    assert!(order(&w, "group.byname") > untouched);
    assert_eq!(shell(&w, "alice").as_deref(), Some("/bin/sh29"));
}

#[test]
fn the_saved_maps_are_served_while_the_directory_is_down() {
    let mut w = world("down.test", None);
    stop(&mut w);
    w.server(0).kill();
    w.start_ypldapd();
    let log = w.log();
    assert!(log.contains("serving the maps saved"), "{log}");
    assert_eq!(shell(&w, "alice").as_deref(), Some("/bin/bash"), "{log}");
    // The directory back: the session resumes from the saved cookie.
    w.restart_server(0);
    w.wait_log(RESUMED, 1, Duration::from_secs(40));
    assert!(!w.log().contains(KEPT), "{}", w.log());
}

#[test]
fn saved_maps_older_than_max_age_are_not_served() {
    let mut w = world("old.test", Some(0));
    stop(&mut w);
    w.server(0).kill();
    w.ready = Ready::Started;
    w.start_ypldapd();
    w.wait_log("update failed", 1, Duration::from_secs(20));
    w.wait_log(
        "state max-age 0: the saved maps are not served",
        1,
        Duration::from_secs(5),
    );
    std::thread::sleep(Duration::from_secs(1));
    assert!(!w.registered(), "registered on saved maps:\n{}", w.log());
}

#[test]
fn a_damaged_or_foreign_state_file_is_refused() {
    let mut w = world("damaged.test", None);
    let file = format!("{STATE}/state");
    for (damage, reason) in [
        (format!("truncate -s -20 {file}"), "cut short"),
        (
            format!("sed -i '1s/\"version\":2/\"version\":9/' {file}"),
            "format version 9",
        ),
        (format!("chown nobody {file}"), "not _ypldap"),
        (format!("chmod 0644 {file}"), "others may read"),
    ] {
        stop(&mut w);
        w.ns.sh(&damage);
        w.start_ypldapd();
        w.wait_log(KEPT, 1, Duration::from_secs(20));
        let log = w.log();
        let refusal = log
            .lines()
            .find(|l| l.contains("refused"))
            .unwrap_or_else(|| panic!("{damage}: no refusal:\n{log}"));
        assert!(refusal.contains(reason), "{damage}: {refusal}");
        assert!(!log.contains(RESUMED), "{damage}: resumed:\n{log}");
        assert_eq!(shell(&w, "alice").as_deref(), Some("/bin/bash"));
        // The next save replaces it: owned and private again.
        let saved = tests::wait_for(Duration::from_secs(5), || {
            let meta = w.ns.sh(&format!("stat -c '%a %U' {file}"));
            (meta.trim() == "600 _ypldap").then_some(())
        });
        assert!(saved.is_some(), "{damage}: not saved again:\n{}", w.log());
    }
}

/// Asks for an update now and waits for its summary line.
fn update_now(w: &World, number: u64) -> String {
    let out = w.ypldapctl(None, &["update"]);
    assert!(out.status.success(), "ypldapctl update: {out:?}");
    let summary = format!("update {number}: ");
    w.wait_log(&summary, 1, Duration::from_secs(20));
    let log = w.log();
    log.lines()
        .find(|l| l.contains(&summary))
        .map(str::to_owned)
        .unwrap_or_default()
}

/// A directory without content synchronization is read in full by every
/// update; with its entries kept (a state directory) the read is compared
/// with them: nothing changed builds nothing and moves no ORDER number,
/// a change is served with only the maps it alters moving on, an entry
/// the read no longer returns is gone.
#[test]
fn a_full_read_is_compared_with_the_kept_entries() {
    let mut w = World::builder("reread.test")
        .directory(Directory::slapd(Data::sample()))
        .interval(3600)
        .ready(Ready::Registered)
        .sample_config()
        .statement(format!("state directory \"{STATE}\""))
        .start();
    w.bind_clients();
    let (passwd, group) = (order(&w, "passwd.byname"), order(&w, "group.byname"));
    // yppoll's ORDER is in seconds: a later one must be able to show.
    std::thread::sleep(Duration::from_millis(1100));

    let same = update_now(&w, 2);
    assert!(
        same.contains("read in full and compared with the entries kept")
            && same.contains(" 0 changed or new, 0 gone; the maps need no build"),
        "{same}\n{}",
        w.log()
    );
    assert_eq!(order(&w, "passwd.byname"), passwd, "{}", w.log());
    assert_eq!(order(&w, "group.byname"), group);
    // ypldapctl shows it as a full read, with what the maps serve.
    let shown = w.ypldapctl(None, &["show", "summary"]);
    let shown = String::from_utf8_lossy(&shown.stdout);
    let users = w.users().len();
    assert!(
        shown
            .lines()
            .any(|l| l.contains("2 at ") && l.contains(&format!("{users} users"))),
        "{shown}"
    );

    w.change_directory(
        "ldapmodify",
        "dn: uid=carol,ou=People,dc=example,dc=com\nchangetype: modify\nreplace: loginShell\nloginShell: /bin/fish\n",
    );
    let changed = update_now(&w, 3);
    assert!(
        changed.contains(" 1 changed or new, 0 gone; the changes are served as edits"),
        "{changed}"
    );
    assert_eq!(shell(&w, "carol").as_deref(), Some("/bin/fish"));
    assert!(order(&w, "passwd.byname") > passwd);
    assert_eq!(
        order(&w, "group.byname"),
        group,
        "a shell moved group.byname"
    );
    // A record (a netgroup's triple) is a change like any other.
    let netgroup = order(&w, "netgroup");
    std::thread::sleep(Duration::from_millis(1100));
    w.change_directory(
        "ldapmodify",
        "dn: cn=developers,ou=Netgroup,dc=example,dc=com\nchangetype: modify\nreplace: nisNetgroupTriple\nnisNetgroupTriple: (,carol,example.com)\nnisNetgroupTriple: (,dave,example.com)\nnisNetgroupTriple: (,erin,example.com)\n",
    );
    let triple = update_now(&w, 4);
    assert!(triple.contains(" 1 changed or new, 0 gone;"), "{triple}");
    let developers = w.ypmatch("developers", "netgroup").unwrap_or_default();
    assert!(developers.contains("(,erin,example.com)"), "{developers}");
    assert!(order(&w, "netgroup") > netgroup);
    assert_eq!(order(&w, "group.byname"), group);

    w.change_directory("ldapdelete", "uid=bob,ou=People,dc=example,dc=com\n");
    // An entry the reader leaves out (a uid out of range): not kept, and
    // listed by `show drops` as this update's though it built nothing.
    let bad = "uid=baduid,ou=People,dc=example,dc=com";
    w.change_directory(
        "ldapadd",
        &format!(
            "dn: {bad}\nobjectClass: account\nobjectClass: posixAccount\nuid: baduid\ncn: baduid\n\
             uidNumber: 4294967295\ngidNumber: 100\nhomeDirectory: /home/baduid\n"
        ),
    );
    let gone = update_now(&w, 5);
    assert!(gone.contains(" 0 changed or new, 1 gone;"), "{gone}");
    let drops = w.ypldapctl(None, &["-j", "show", "drops"]);
    let drops: serde_json::Value =
        serde_json::from_slice(&drops.stdout).unwrap_or_else(|e| panic!("{e}: {drops:?}"));
    assert_eq!(drops["update"], 5, "{drops}");
    let listed = drops["entries"].as_array().cloned().unwrap_or_default();
    assert!(listed.iter().any(|e| e["dn"] == bad), "{drops}");
    assert!(w.ypmatch("bob", "passwd.byname").is_err(), "{}", w.log());
    assert!(w.ypmatch("alice", "passwd.byname").is_ok());
    // What the comparisons left is what a build from a full read makes.
    let maps = |w: &World| -> Vec<_> {
        MapName::ALL
            .map(MapName::as_str)
            .iter()
            .map(|m| (*m, w.ypcat(m)))
            .collect()
    };
    let compared = maps(&w);
    stop(&mut w);
    w.ns.sh(&format!("rm {STATE}/state"));
    w.start_ypldapd();
    assert_eq!(maps(&w), compared);
}
