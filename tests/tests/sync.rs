//! Content synchronization (RFC 4533) against a real slapd with the
//! syncprov overlay: a change an administrator makes (ldapmodify returns)
//! is answered by the NIS maps within a second, every kind of change;
//! ORDER grows with each; a directory that stops is read again when it
//! comes back, its last entries served meanwhile; `sync off` keeps the
//! interval's full reads.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use tests::config::{Config, DirectoryBlock};
use tests::expect::Password;
use tests::ldif::SUFFIX;
use tests::mock_ldap::{self, MockDirectory, MockEntry, Ranges};
use tests::peers::SlapdOptions;
use tests::probe::Probe;
use tests::world::{Data, Directory, Ready, World};

/// What "within a second" is checked against.
const PROPAGATION: Duration = Duration::from_secs(1);

fn sync_world(domain: &str, sync_off: bool) -> World {
    if sync_off {
        sync_world_with(domain, "sync off", 60)
    } else {
        let w = World::builder(domain)
            .directory(sync_directory())
            .interval(3600)
            .ready(Ready::Registered)
            .sample_config()
            .start();
        w.bind_clients();
        w
    }
}

fn sync_directory() -> Directory {
    Directory::slapd_with(Data::sample(), SlapdOptions::default().with_sync())
}

/// The sample's world with `statement` in its directory block and
/// `interval` seconds between updates.
fn sync_world_with(domain: &str, statement: &str, interval: u32) -> World {
    let text = tests::nis::sample_conf()
        .replace("domain \"example.com\"", &format!("domain \"{domain}\""))
        .replace("\ninterval 60\n", &format!("\ninterval {interval}\n"))
        .replace(
            "directory \"127.0.0.1\" {\n",
            &format!("directory \"127.0.0.1\" {{\n\t{statement}\n"),
        );
    assert!(
        text.contains(&format!("\t{statement}\n"))
            && text.contains(&format!("\ninterval {interval}\n")),
        "the sample's interval or directory line changed"
    );
    let w = World::builder(domain)
        .directory(sync_directory())
        .ready(Ready::Registered)
        .config_text(text)
        .start();
    w.bind_clients();
    w
}

/// Waits until `ypmatch key map` satisfies `want` (`None`: no such
/// key); returns how long it took, or panics with what it saw and the log.
fn until(w: &World, key: &str, map: &str, want: impl Fn(Option<&str>) -> bool) -> Duration {
    w.ypmatch_until(Instant::now(), key, map, &want, Duration::from_secs(5))
}

fn order(w: &World, map: &str) -> u64 {
    let out =
        w.ns.sh(&format!("yppoll -h 127.0.0.1 -d {} {map}", w.domain));
    out.lines()
        .find_map(|l| {
            l.strip_prefix("Map ")
                .and_then(|r| r.split("has order number ").nth(1))
        })
        .and_then(|n| {
            n.split_whitespace()
                .next()?
                .trim_end_matches('.')
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no order number in {out:?}"))
}

#[test]
fn every_kind_of_change_reaches_the_maps_within_a_second() {
    let mut w = sync_world("sync.test", false);
    wait_kept_current(&w);
    let before = order(&w, "passwd.byname");

    // Modify.
    w.change_directory(
        "ldapmodify",
        "dn: uid=alice,ou=People,dc=example,dc=com\nchangetype: modify\nreplace: loginShell\nloginShell: /bin/zsh\n",
    );
    let took = until(&w, "alice", "passwd.byname", |v| {
        v.is_some_and(|l| l.trim_end().ends_with(":/bin/zsh"))
    });
    assert!(took < PROPAGATION, "modify took {took:?}");
    let after = order(&w, "passwd.byname");
    assert!(after > before, "ORDER {before} -> {after}");

    // Add: a new user, in every map that has it.
    w.change_directory(
        "ldapadd",
        "dn: uid=newbie,ou=People,dc=example,dc=com\nobjectClass: posixAccount\nobjectClass: account\n\
         uid: newbie\ncn: New Bie\nuidNumber: 5077\ngidNumber: 5000\nhomeDirectory: /home/newbie\n\
         loginShell: /bin/sh\ngecos: New Bie\nuserPassword: {CRYPT}$6$salt$hash\n",
    );
    let took = until(&w, "newbie", "passwd.byname", |v: Option<&str>| v.is_some());
    assert!(took < PROPAGATION, "add took {took:?}");
    assert!(
        w.ypmatch("5077", "passwd.byuid")
            .is_ok_and(|l| l.starts_with("newbie:"))
    );

    // Group membership by name: netid and group lines follow.
    w.change_directory(
        "ldapmodify",
        "dn: cn=admins,ou=Groups,dc=example,dc=com\nchangetype: modify\nadd: memberUid\nmemberUid: newbie\n",
    );
    let took = until(&w, "admins", "group.byname", |v| {
        v.is_some_and(|l| {
            l.trim_end()
                .split(':')
                .nth(3)
                .is_some_and(|m| m.split(',').any(|n| n == "newbie"))
        })
    });
    assert!(took < PROPAGATION, "membership took {took:?}");
    let netid = w
        .ypmatch("unix.5077@sync.test", "netid.byname")
        .expect("netid");
    assert!(netid.trim_end().starts_with("5077:5000,"), "{netid}");

    // Rename: the old name goes, the new one comes.
    w.change_directory(
        "ldapmodify",
        "dn: uid=newbie,ou=People,dc=example,dc=com\nchangetype: modrdn\nnewrdn: uid=oldtimer\ndeleteoldrdn: 1\n",
    );
    let took = until(&w, "oldtimer", "passwd.byname", |v: Option<&str>| {
        v.is_some()
    });
    assert!(took < PROPAGATION, "rename took {took:?}");
    assert!(w.ypmatch("newbie", "passwd.byname").is_err());
    assert!(
        w.ypmatch("5077", "passwd.byuid")
            .is_ok_and(|l| l.starts_with("oldtimer:"))
    );

    // Delete.
    w.change_directory("ldapdelete", "uid=oldtimer,ou=People,dc=example,dc=com\n");
    let took = until(&w, "oldtimer", "passwd.byname", |v: Option<&str>| {
        v.is_none()
    });
    assert!(took < PROPAGATION, "delete took {took:?}");
    assert!(w.ypmatch("5077", "passwd.byuid").is_err());
    // An entry that stops meeting the rules leaves the maps too.
    w.change_directory(
        "ldapmodify",
        "dn: uid=bob,ou=People,dc=example,dc=com\nchangetype: modify\nreplace: uidNumber\nuidNumber: -5\n",
    );
    until(&w, "bob", "passwd.byname", |v: Option<&str>| v.is_none());
    assert!(
        w.log()
            .contains("dropped \\\"uid=bob,ou=People,dc=example,dc=com\\\"")
            || w.log().contains("uid=bob"),
        "{}",
        w.log()
    );
    assert!(order(&w, "passwd.byname") > after);
}

/// The users `passwd.byname` serves, sorted.
fn served_users(w: &World) -> Vec<String> {
    let mut names: Vec<String> = w
        .ypcat("passwd.byname")
        .expect("ypcat passwd.byname")
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    names.sort();
    names
}

/// The sample's users, sorted, without `gone` and with `added`.
fn sample_users(gone: &str, added: &str) -> Vec<String> {
    let mut names: Vec<String> = tests::nis::parse_ldif(&tests::nis::sample_ldif())
        .0
        .into_iter()
        .map(|u| u.name)
        .filter(|u| u != gone)
        .chain([added.to_owned()])
        .collect();
    names.sort();
    names
}

/// Waits (10 s at most) until the log says the directory is kept current
/// by content synchronization.
fn wait_kept_current(w: &World) {
    w.wait_log(
        "kept current by content synchronization (RFC 4533)",
        1,
        Duration::from_secs(10),
    );
}

/// How many sessions the log says were refreshed in full (each first
/// refresh, and each that could not resume).
fn full_sync_refreshes(w: &World) -> usize {
    w.log()
        .matches("kept current by content synchronization (RFC 4533)")
        .count()
}

/// The changes made while a session was away (bob deleted, [`ZOE`]
/// added) are served.
fn assert_away_changes_served(w: &World) {
    assert_eq!(served_users(w), sample_users("bob", "zoe"), "{}", w.log());
    assert!(
        w.ypmatch("5099", "passwd.byuid")
            .is_ok_and(|l| l.starts_with("zoe:"))
    );
}

const CAROL_FISH: &str = "dn: uid=carol,ou=People,dc=example,dc=com\nchangetype: modify\nreplace: loginShell\nloginShell: /bin/fish\n";

const ZOE: &str = "dn: uid=zoe,ou=People,dc=example,dc=com\nobjectClass: posixAccount\nobjectClass: account\n\
     uid: zoe\ncn: Zoe\nuidNumber: 5099\ngidNumber: 5000\nhomeDirectory: /home/zoe\n\
     loginShell: /bin/sh\ngecos: Zoe\nuserPassword: {CRYPT}$6$salt$hash\n";

fn has_fish(v: Option<&str>) -> bool {
    v.is_some_and(|l| l.trim_end().ends_with(":/bin/fish"))
}

/// Gives `user` (of `ou=People`) the shell `/bin/fish` through slapd;
/// returns how long until `ypmatch` answers it.
fn fish_reaches(w: &mut World, user: &str) -> Duration {
    w.change_directory(
        "ldapmodify",
        &format!(
            "dn: uid={user},ou=People,dc=example,dc=com\nchangetype: modify\nreplace: loginShell\nloginShell: /bin/fish\n"
        ),
    );
    until(w, user, "passwd.byname", has_fish)
}

/// ypldapd loses its directory; while it cannot reach it, the directory
/// changes (a modification, a deletion, an addition); when it can again,
/// its session resumes from its cookie: those changes, and no full read.
/// slapd's restart empties syncprov's in-memory session log, so the
/// refresh is a present phase: the deletion is found by its absence.
#[test]
fn a_lost_session_resumes_from_its_cookie() {
    let mut w = sync_world("resume.test", false);
    wait_kept_current(&w);
    w.cut_off_directory();
    w.wait_log("content synchronization ended", 1, Duration::from_secs(10));
    w.change_directory("ldapmodify", CAROL_FISH);
    w.change_directory("ldapdelete", "uid=bob,ou=People,dc=example,dc=com\n");
    w.change_directory("ldapadd", ZOE);
    // Its last entries are served meanwhile.
    assert!(w.ypmatch("bob", "passwd.byname").is_ok());
    assert!(w.ypmatch("zoe", "passwd.byname").is_err());
    w.reconnect_directory();
    w.wait_log(
        "content synchronization resumed from its cookie",
        1,
        Duration::from_secs(40),
    );
    until(&w, "carol", "passwd.byname", has_fish);
    assert_away_changes_served(&w);
    assert_eq!(
        full_sync_refreshes(&w),
        1,
        "the directory was read in full again:\n{}",
        w.log()
    );
    // And kept current again.
    let took = fish_reaches(&mut w, "alice");
    assert!(took < PROPAGATION, "after the resume: {took:?}");
}

/// The session's connection cut (`ss -K`) while slapd runs on: its
/// session log still covers the cookie, so the resumed refresh names
/// the deletion (a delete phase) with the other changes made before it.
#[test]
fn a_cut_connection_resumes_from_its_cookie() {
    let mut w = sync_world("cut.test", false);
    wait_kept_current(&w);
    w.ns.sh("ss -K dst 127.0.0.1 dport = :389 >/dev/null");
    w.change_directory("ldapmodify", CAROL_FISH);
    w.change_directory("ldapdelete", "uid=bob,ou=People,dc=example,dc=com\n");
    w.change_directory("ldapadd", ZOE);
    w.wait_log("content synchronization ended", 1, Duration::from_secs(10));
    w.wait_log(
        "content synchronization resumed from its cookie",
        1,
        Duration::from_secs(40),
    );
    until(&w, "carol", "passwd.byname", has_fish);
    assert_eq!(served_users(&w), sample_users("bob", "zoe"), "{}", w.log());
    assert!(!w.log().contains("cannot resume"), "{}", w.log());
}

/// ypldap-client killed: the restarted reader resumes the sessions from
/// the cookies ypldapd kept, no full read.
#[test]
fn a_restarted_reader_resumes_from_the_kept_cookies() {
    let mut w = sync_world("reader.test", false);
    wait_kept_current(&w);
    let d = w.ypldapd();
    let pid = d.sandboxed_helper("ypldap-client", None);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill");
    w.change_directory("ldapmodify", CAROL_FISH);
    w.wait_log(
        "content synchronization resumed from its cookie",
        1,
        Duration::from_secs(30),
    );
    until(&w, "carol", "passwd.byname", has_fish);
    assert_eq!(full_sync_refreshes(&w), 1, "{}", w.log());
}

/// The directory restored from LDIF while ypldapd's session is away:
/// every entry has a new entryUUID and CSN, the cookie names a state
/// that no longer exists. With `syncprov-reloadhint TRUE` slapd answers
/// e-syncRefreshRequired (4096) and the directory is refreshed in full;
/// without, slapd sends every entry again in the resumed refresh. Either
/// way the maps show the restored directory and nothing of the old one.
fn restored_directory(domain: &str, reload_hint: bool) {
    let mut options = SlapdOptions::default().with_sync();
    if reload_hint {
        options = options.with_reload_hint();
    }
    let dir = Directory::slapd_with(Data::sample(), options);
    let mut w = World::builder(domain)
        .directory(dir)
        .interval(3600)
        .ready(Ready::Registered)
        .sample_config()
        .start();
    w.bind_clients();
    wait_kept_current(&w);
    // The sample without bob, with carol's new shell and zoe.
    let restored: String = tests::nis::sample_ldif()
        .split("\n\n")
        .filter(|e| !e.starts_with("dn: uid=bob,"))
        .map(|e| {
            if e.starts_with("dn: uid=carol,") {
                e.replace("loginShell: /bin/zsh", "loginShell: /bin/fish")
            } else {
                e.to_owned()
            }
        })
        .chain([ZOE.to_owned()])
        .collect::<Vec<_>>()
        .join("\n\n");
    w.reload_directory(&restored);
    w.wait_log("content synchronization ended", 1, Duration::from_secs(10));
    // slapd 2.5 answers e-syncRefreshRequired in some runs and sends
    // every entry again in others (its check of the cookie's CSN found an
    // entry older than it, cause not found): both must end in the
    // restored directory's maps.
    let refreshed = "cannot resume from its cookie (the server asks for a full refresh (e-syncRefreshRequired))";
    let resumed = "content synchronization resumed from its cookie";
    let t = Instant::now();
    while !(w.log().contains(resumed) || full_sync_refreshes(&w) == 2) {
        assert!(
            t.elapsed() < Duration::from_secs(40),
            "never resynchronized:\n{}",
            w.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    if w.log().contains(refreshed) {
        assert!(reload_hint, "4096 without reload hint:\n{}", w.log());
        assert!(!w.log().contains(resumed), "{}", w.log());
    } else {
        assert!(w.log().contains(resumed), "{}", w.log());
    }
    until(&w, "carol", "passwd.byname", has_fish);
    assert_eq!(served_users(&w), sample_users("bob", "zoe"), "{}", w.log());
}

#[test]
fn a_restored_directory_with_reload_hint_is_refreshed_in_full() {
    restored_directory("restored-hint.test", true);
}

#[test]
fn a_restored_directory_is_sent_again_in_the_resumed_refresh() {
    restored_directory("restored.test", false);
}

#[test]
fn a_directory_that_stops_is_read_again_when_it_returns() {
    let mut w = sync_world("resync.test", false);
    wait_kept_current(&w);
    w.server(0).kill();
    w.wait_log("content synchronization ended", 1, Duration::from_secs(10));
    // Its last entries are served meanwhile.
    assert!(w.ypmatch("alice", "passwd.byname").is_ok());
    w.restart_server(0);
    // Kept current again (resumed, nothing changed meanwhile).
    w.wait_log(
        "content synchronization resumed from its cookie",
        1,
        Duration::from_secs(30),
    );
    let took = fish_reaches(&mut w, "carol");
    assert!(took < PROPAGATION, "after the return: {took:?}");
}

#[test]
fn sync_off_keeps_full_reads() {
    let mut w = sync_world("syncoff.test", true);
    w.change_directory(
        "ldapmodify",
        "dn: uid=alice,ou=People,dc=example,dc=com\nchangetype: modify\nreplace: loginShell\nloginShell: /bin/zsh\n",
    );
    std::thread::sleep(Duration::from_secs(2));
    let line = w.ypmatch("alice", "passwd.byname").expect("alice");
    assert!(line.trim_end().ends_with(":/bin/bash"), "{line}");
    assert!(
        !w.log().contains("kept current by content synchronization"),
        "{}",
        w.log()
    );
}

/// The interval of the polling tests: each poll is a refreshOnly search.
const POLL_INTERVAL: u32 = 3;

/// How many updates ypldapd has asked for: the reader polls at each
/// (ypldapd logs the update before it reads any answer).
fn polls(w: &World) -> usize {
    w.log()
        .lines()
        .filter(|l| l.starts_with("update ") && l.ends_with(" started"))
        .count()
}

/// Stops slapd with SIGTERM, as an administrator does (it saves its
/// contextCSN; killed, it would come back older than the cookies it
/// gave, and refuse them).
fn stop_slapd(w: &mut World) {
    w.server(0).signal(nix::sys::signal::Signal::SIGTERM);
    tests::wait_for(Duration::from_secs(10), || {
        w.server(0).pid().is_none().then_some(())
    })
    .expect("slapd stops on SIGTERM");
}

/// How many polls the reader has finished (it logs each).
fn polls_done(w: &World) -> usize {
    w.log().matches("polled with refreshOnly: ").count()
}

/// Waits until a poll has finished after the `done`th.
fn poll_finished(w: &World, done: usize) {
    let limit = Duration::from_secs(u64::from(POLL_INTERVAL) * 3);
    tests::wait_for(limit, || (polls_done(w) > done).then_some(()))
        .unwrap_or_else(|| panic!("no poll after the {done}th:\n{}", w.log()));
}

/// `sync refreshonly`: no persistent search; the reader polls with a
/// refreshOnly search from its cookie at every update (every interval),
/// and sends what changed as changes, applied to the maps served. A
/// change is served after the next poll and not before; a modification,
/// a deletion (slapd names it from its session log: a delete phase) and
/// an addition each reach the maps; `ypldapctl show directories` says
/// refreshOnly. Then the directory restarts, so its session log is
/// empty, with a deletion made meanwhile: the poll fails, the session
/// resumes from its cookie by refreshOnly, and slapd lists the entries
/// still there (a present phase, ended by the search's Sync Done
/// Control): the deletion is found by its absence.
#[test]
fn refresh_only_polls_every_interval_and_applies_the_changes() {
    let mut w = sync_world_with("poll.test", "sync refreshonly", POLL_INTERVAL);
    w.wait_log(
        &format!(
            "kept current by content synchronization (RFC 4533), polled with refreshOnly every {POLL_INTERVAL} s (its block says \"sync refreshonly\")"
        ),
        1,
        Duration::from_secs(10),
    );
    let o = w.ypldapctl(None, &["show", "directories"]);
    let shown = String::from_utf8_lossy(&o.stdout);
    assert!(
        shown.contains("content synchronization (refreshOnly)"),
        "{shown}"
    );

    // A change made just after a poll waits for the next one.
    poll_finished(&w, polls_done(&w));
    let seen = polls(&w);
    w.change_directory("ldapmodify", CAROL_FISH);
    w.change_directory("ldapdelete", "uid=bob,ou=People,dc=example,dc=com\n");
    w.change_directory("ldapadd", ZOE);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(polls(&w), seen, "a poll came too soon:\n{}", w.log());
    let line = w.ypmatch("carol", "passwd.byname").expect("carol");
    assert!(!has_fish(Some(&line)), "served before a poll: {line}");
    assert!(w.ypmatch("bob", "passwd.byname").is_ok());
    until_polled(&w, "carol", "passwd.byname", has_fish);
    assert!(polls(&w) > seen, "served without a poll:\n{}", w.log());
    assert_away_changes_served(&w);
    // Changes, not a full read: one refresh in all.
    assert_eq!(full_sync_refreshes(&w), 1, "{}", w.log());

    // A present phase: slapd restarted (its session log lost) after a
    // deletion.
    stop_slapd(&mut w);
    w.cut_off_directory();
    w.change_directory("ldapdelete", "uid=carol,ou=People,dc=example,dc=com\n");
    w.wait_log("content synchronization ended", 1, Duration::from_secs(15));
    assert!(
        w.ypmatch("carol", "passwd.byname").is_ok(),
        "served meanwhile"
    );
    stop_slapd(&mut w);
    w.reconnect_directory();
    w.wait_log(
        "content synchronization resumed from its cookie",
        1,
        Duration::from_secs(40),
    );
    until_polled(&w, "carol", "passwd.byname", |v| v.is_none());
    let mut want = sample_users("bob", "zoe");
    want.retain(|u| u != "carol");
    assert_eq!(served_users(&w), want, "{}", w.log());
    assert_eq!(
        full_sync_refreshes(&w),
        1,
        "read in full again:\n{}",
        w.log()
    );
    let o = w.ypldapctl(None, &["show", "directories"]);
    let shown = String::from_utf8_lossy(&o.stdout);
    assert!(
        shown.contains("content synchronization (refreshOnly)"),
        "{shown}"
    );
}

/// Waits, up to three intervals, until `ypmatch key map` satisfies `want`.
fn until_polled(w: &World, key: &str, map: &str, want: impl Fn(Option<&str>) -> bool) {
    let limit = Duration::from_secs(u64::from(POLL_INTERVAL) * 3);
    w.ypmatch_until(Instant::now(), key, map, &want, limit);
}

/// Users in the directory whose first refresh is cut: enough that the
/// refresh streams for a while (as in the full-read fault tests).
const LARGE: usize = 20_000;

/// Bytes received on each established connection to slapd (port 389).
fn bytes_per_connection(w: &World) -> Vec<u64> {
    let out =
        w.ns.command("ss")
            .args(["-Htin", "state", "established", "( dport = :389 )"])
            .output()
            .expect("ss");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|w| w.strip_prefix("bytes_received:")?.parse().ok())
        .collect()
}

/// The session's connection cut (`ss -K`) while its first refresh still
/// streams (fewer bytes had arrived than the whole refresh brings): the
/// update fails and nothing of the half-read directory is served; the
/// next update refreshes it again, the maps served from then on are the
/// whole directory (a MATCH watcher on the last user, started as soon as
/// they are, sees no failed request), and the session keeps them current.
/// Then a reload makes a new session refresh the directory in full while
/// the maps are served, and that refresh is cut too: the maps stay, the
/// watcher sees no failed request, and the next refresh converges.
#[test]
fn a_connection_cut_mid_refresh_serves_nothing_partial_and_converges() {
    let data = Data::generated(LARGE, 10);
    let dir = Directory::slapd_with(data, SlapdOptions::unlimited().with_sync());
    let mut w = World::builder("midsync.test")
        .directory(dir)
        .interval(2)
        .ready(Ready::Started)
        .reloadable()
        .start();
    // Mid-stream: some of the refresh has arrived on the connection.
    let at_cut = tests::wait_for(Duration::from_secs(30), || {
        let n = w.bytes_received_from(389);
        (n >= 256 << 10).then_some(n)
    })
    .unwrap_or_else(|| panic!("no refresh under way:\n{}", w.log()));
    w.ns.sh("ss -K dst 127.0.0.1 dport = :389 >/dev/null");
    w.wait_log("update failed", 1, Duration::from_secs(10));
    let log = w.log();
    assert!(
        !log.contains("update 1: "),
        "the first update succeeded:\n{log}"
    );
    assert!(
        !log.contains("refused content synchronization"),
        "a cut taken for a refusal:\n{log}"
    );
    // The first maps served are the whole directory.
    w.wait_registered(Duration::from_secs(60));
    let last = format!("user{LARGE:05}");
    let watch = Probe::watch(&w, &last, 4);
    w.bind_clients();
    let whole = w.bytes_received_from(389);
    assert!(
        at_cut < whole,
        "cut after the refresh: {at_cut} bytes then, {whole} for all of it"
    );
    // Kept current by the new session.
    wait_kept_current(&w);
    let took = fish_reaches(&mut w, "user00002");
    assert!(took < PROPAGATION, "after the cut: {took:?}");
    watch.assert_no_failure("connection cut mid-refresh", 20);
    assert_eq!(w.ypcat("passwd.byname").map(|m| m.len()), Ok(LARGE));

    // A full refresh while the maps are served, cut in its middle: a new
    // connection with part of what the whole refresh brings.
    let watch = Probe::watch(&w, &last, 10);
    let o = w.ypldapctl(None, &["reload"]);
    assert!(o.status.success(), "{o:?}");
    tests::wait_for(Duration::from_secs(20), || {
        bytes_per_connection(&w)
            .iter()
            .any(|&b| (256 << 10..whole / 2).contains(&b))
            .then_some(())
    })
    .unwrap_or_else(|| panic!("no refresh after the reload:\n{}", w.log()));
    w.ns.sh("ss -K dst 127.0.0.1 dport = :389 >/dev/null");
    w.wait_log("update failed", 2, Duration::from_secs(10));
    w.wait_log(
        "kept current by content synchronization (RFC 4533)",
        2,
        Duration::from_secs(30),
    );
    watch.assert_no_failure("connection cut mid-refresh while serving", 20);
    assert_eq!(w.ypcat("passwd.byname").map(|m| m.len()), Ok(LARGE));
    let line = w.ypmatch("user00002", "passwd.byname").expect("user00002");
    assert!(line.trim_end().ends_with(":/bin/fish"), "{line}");
}

/// A user of the responder that does not persist.
fn mock_user(name: &str, uid: u32) -> MockEntry {
    MockEntry::user(format!("uid={name},ou=People,{SUFFIX}"), name, uid)
}

/// A server that offers content synchronization but ends every sync
/// search with its refresh, as if it were refreshOnly (the responder of
/// `tests::mock_ldap`: slapd always persists): the session polls instead,
/// the log says why, `ypldapctl` shows refreshOnly, and each poll (whose
/// present phase names every entry) keeps the maps whole, a MATCH
/// watcher seeing no failure across several polls; as nothing changes,
/// what a poll sends alters no map and builds none.
#[test]
fn a_server_that_does_not_persist_is_polled() {
    let domain = "nopersist.test";
    let mut w = World::builder(domain)
        .without_ypldapd()
        .ready(Ready::Registered)
        .start();
    let mut entries = vec![MockEntry {
        dn: String::new(),
        attributes: vec![(
            "supportedControl".into(),
            vec![mock_ldap::SYNC_REQUEST_OID.into()],
        )],
    }];
    entries.extend((1..=5).map(|i| mock_user(&format!("np{i}"), 7000 + i)));
    entries.push(MockEntry {
        dn: format!("cn=staff,ou=Groups,{SUFFIX}"),
        attributes: vec![
            ("cn".into(), vec!["staff".into()]),
            ("gidNumber".into(), vec!["100".into()]),
            ("memberUid".into(), vec!["np1".into(), "np2".into()]),
        ],
    });
    let _dir = mock_ldap::serve_in(
        &w.ns,
        MockDirectory {
            entries,
            ranged: Vec::new(),
            range_size: mock_ldap::MAX_VAL_RANGE,
            ranges: Mutex::new(Ranges::Complete),
        },
    );
    let mut block = DirectoryBlock::new("127.0.0.1");
    block.password = Password::Fixed;
    let mut c = Config::new(domain);
    c.interval = 2;
    c.directories.push(block);
    w.config = c;
    w.start_ypldapd();
    w.bind_clients();
    w.wait_log(
        "kept current by content synchronization (RFC 4533), polled with refreshOnly every 2 s (the server ended the refreshAndPersist user search with its refresh (it does not persist))",
        1,
        Duration::from_secs(10),
    );
    let o = w.ypldapctl(None, &["show", "directories"]);
    let shown = String::from_utf8_lossy(&o.stdout);
    assert!(
        shown.contains("content synchronization (refreshOnly)"),
        "{shown}"
    );
    let want = w.ypmatch("np5", "passwd.byname").expect("np5");
    let watch = Probe::start(
        &w,
        &[
            "watch",
            domain,
            "passwd.byname",
            "np5",
            want.trim_end(),
            "5",
        ],
    );
    let seen = polls(&w);
    let done = polls_done(&w);
    let (quiet, built) = (
        w.log().matches("changes altered no map").count(),
        builds(&w),
    );
    let (unbuilt, served_order) = (
        w.log().matches("the maps need no build").count(),
        order(&w, "passwd.byname"),
    );
    tests::wait_for(Duration::from_secs(10), || {
        (polls(&w) >= seen + 2 && polls_done(&w) >= done + 2).then_some(())
    })
    .unwrap_or_else(|| panic!("no polls:\n{}", w.log()));
    std::thread::sleep(Duration::from_millis(300));
    // Nothing changed: the entries the polls sent altered no map and
    // built none.
    assert!(
        w.log().matches("changes altered no map").count() >= quiet + 2,
        "{}",
        w.log()
    );
    assert_eq!(builds(&w), built, "{}", w.log());
    // Nor did the updates that asked for the polls: no map was built and
    // no ORDER moved.
    assert!(
        w.log().matches("the maps need no build").count() >= unbuilt + 2,
        "{}",
        w.log()
    );
    assert_eq!(order(&w, "passwd.byname"), served_order, "{}", w.log());
    let figures = watch.figures();
    tests::probe::assert_no_gap(&figures, "polling a server that does not persist", 20);
    let log = w.log();
    assert!(log.contains("polled with refreshOnly: "), "{log}");
    assert!(!log.contains("content synchronization ended"), "{log}");
    let users: Vec<String> = w
        .ypcat("passwd.byname")
        .expect("ypcat")
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(users, ["np1", "np2", "np3", "np4", "np5"], "{log}");
    assert!(
        w.ypmatch("staff", "group.byname")
            .is_ok_and(|l| l.trim_end().ends_with(":np1,np2")),
        "{log}"
    );
}

/// Two hosts under `ou=Hosts`, beside the sample's netgroups.
const HOSTS_LDIF: &str = "dn: ou=Hosts,dc=example,dc=com
objectClass: organizationalUnit
ou: Hosts

dn: cn=alpha,ou=Hosts,dc=example,dc=com
objectClass: device
objectClass: ipHost
cn: alpha
ipHostNumber: 192.0.2.10

dn: cn=gamma,ou=Hosts,dc=example,dc=com
objectClass: device
objectClass: ipHost
cn: gamma
ipHostNumber: 192.0.2.30
";

/// The sample, its hosts served too, kept current by a session.
fn records_world(domain: &str) -> World {
    let text = tests::nis::sample_conf()
        .replace(
            "domain \"example.com\"\n",
            &format!(
                "domain \"{domain}\"\nprovide map \"hosts.byname\"\nprovide map \"hosts.byaddr\"\n"
            ),
        )
        .replace("\ninterval 60\n", "\ninterval 3600\n")
        .replace(
            "directory \"127.0.0.1\" {\n",
            "directory \"127.0.0.1\" {\n\thosts basedn \"ou=Hosts,dc=example,dc=com\"\n",
        );
    assert!(
        text.contains("provide map \"hosts.byaddr\"")
            && text.contains("\thosts basedn")
            && text.contains("\ninterval 3600\n"),
        "the sample's domain, interval or directory line changed"
    );
    let data = Data::sample().with_ldif(HOSTS_LDIF);
    let w = World::builder(domain)
        .directory(Directory::slapd_with(
            data,
            SlapdOptions::default().with_sync(),
        ))
        .ready(Ready::Registered)
        .config_text(text)
        .start();
    w.bind_clients();
    w
}

/// Builds of the maps from the kept entries so far (ypldapd's log).
fn builds(w: &World) -> usize {
    w.log().matches("maps built again after changes").count()
}

#[test]
fn record_changes_are_served_at_once_without_building_the_maps_again() {
    let mut w = records_world("records.test");
    wait_kept_current(&w);
    assert!(
        w.ypmatch("alpha", "hosts.byname")
            .is_ok_and(|l| l.contains("192.0.2.10")),
        "the host is served"
    );
    let built = builds(&w);
    let passwd = order(&w, "passwd.byname");
    let auto = order(&w, "auto.master");
    let hosts = order(&w, "hosts.byname");

    // A host added: both of its maps.
    w.change_directory(
        "ldapadd",
        "dn: cn=beta,ou=Hosts,dc=example,dc=com\nobjectClass: device\nobjectClass: ipHost\n\
         cn: beta\ncn: www\nipHostNumber: 192.0.2.20\n",
    );
    let took = until(&w, "beta", "hosts.byname", |v| {
        v.is_some_and(|l| l.starts_with("192.0.2.20\tbeta www"))
    });
    assert!(took < PROPAGATION, "a host added took {took:?}");
    until(&w, "www", "hosts.byname", |v| v.is_some());
    until(&w, "192.0.2.20", "hosts.byaddr", |v| {
        v.is_some_and(|l| l.contains("beta"))
    });
    let added = order(&w, "hosts.byname");
    assert!(added > hosts, "hosts.byname ORDER {hosts} -> {added}");

    // A host's address modified: its old address goes.
    w.change_directory(
        "ldapmodify",
        "dn: cn=alpha,ou=Hosts,dc=example,dc=com\nchangetype: modify\n\
         replace: ipHostNumber\nipHostNumber: 192.0.2.11\n",
    );
    let took = until(&w, "alpha", "hosts.byname", |v| {
        v.is_some_and(|l| l.starts_with("192.0.2.11\t"))
    });
    assert!(took < PROPAGATION, "a host modified took {took:?}");
    until(&w, "192.0.2.10", "hosts.byaddr", |v| v.is_none());
    until(&w, "192.0.2.11", "hosts.byaddr", |v| v.is_some());
    let modified = order(&w, "hosts.byname");
    assert!(modified > added, "hosts.byname ORDER {added} -> {modified}");

    // A netgroup triple added (the attribute has no equality rule: all
    // its values replaced): its own line, and the reverse map through it
    // and through the netgroup that includes it.
    let reverse = order(&w, "netgroup.byuser");
    w.change_directory(
        "ldapmodify",
        "dn: cn=sysadmins,ou=Netgroup,dc=example,dc=com\nchangetype: modify\n\
         replace: nisNetgroupTriple\nnisNetgroupTriple: (,alice,example.com)\n\
         nisNetgroupTriple: (,frank,example.com)\nnisNetgroupTriple: (,grace,example.com)\n",
    );
    let took = until(&w, "grace.example.com", "netgroup.byuser", |v| {
        v.is_some_and(|l| {
            let mut names: Vec<&str> = l.trim_end().split(',').collect();
            names.sort_unstable();
            names == ["ssh-users", "sysadmins"]
        })
    });
    assert!(took < PROPAGATION, "a netgroup triple took {took:?}");
    until(&w, "sysadmins", "netgroup", |v| {
        v.is_some_and(|l| l.contains("(,grace,example.com)"))
    });
    let grown = order(&w, "netgroup.byuser");
    assert!(
        grown > reverse,
        "netgroup.byuser ORDER {reverse} -> {grown}"
    );

    // A change to an attribute no map shows: sent again as held, it
    // alters nothing.
    let quiet = w.log().matches("changes altered no map").count();
    let netgroup = order(&w, "netgroup");
    w.change_directory(
        "ldapmodify",
        "dn: cn=ssh-users,ou=Netgroup,dc=example,dc=com\nchangetype: modify\n\
         replace: description\ndescription: changed, but not in any map\n",
    );
    w.wait_log("changes altered no map", quiet + 1, Duration::from_secs(5));
    assert_eq!(order(&w, "netgroup"), netgroup, "netgroup's ORDER moved");
    assert_eq!(order(&w, "netgroup.byuser"), grown);

    // Unrelated maps kept their ORDER, and no change built the maps again.
    assert_eq!(
        order(&w, "passwd.byname"),
        passwd,
        "passwd.byname's ORDER moved"
    );
    assert_eq!(order(&w, "auto.master"), auto, "auto.master's ORDER moved");
    assert_eq!(builds(&w), built, "the maps were built again:\n{}", w.log());
    assert!(w.log().contains("changes served at once"), "{}", w.log());
}

/// A `groupOfNames` with a `gidNumber` (through `extensibleObject`) whose
/// members are the DNs `member`, as `ldapadd` takes it.
fn dn_group_entry(cn: &str, gid: u32, member: &[&str]) -> String {
    let mut s = format!(
        "dn: cn={cn},ou=Groups,{SUFFIX}\nobjectClass: groupOfNames\nobjectClass: extensibleObject\n\
         cn: {cn}\ngidNumber: {gid}\n"
    );
    for m in member {
        s.push_str(&format!("member: {m}\n"));
    }
    s
}

/// A netid line's groups after the primary one, sorted.
fn netid_groups(w: &World, uid: u32) -> Vec<u32> {
    let key = format!("unix.{uid}@{}", w.domain);
    let line = w.ypmatch(&key, "netid.byname").unwrap_or_default();
    let mut gids: Vec<u32> = line
        .trim_end()
        .split(':')
        .nth(1)
        .map(|g| {
            g.split(',')
                .skip(1)
                .filter_map(|g| g.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    gids.sort_unstable();
    gids
}

/// RFC 2307bis groups kept current by a session: a user added and then
/// named by DN in a group, and a group nested in it by DN, are answered
/// by `ypmatch` (the group lines, the nesting group's, netid) within a
/// second, as edits of the maps: no build of them.
#[test]
fn member_dn_changes_are_served_at_once_without_building_the_maps_again() {
    let users = [
        tests::ldif::User::named("alice", 10001),
        tests::ldif::User::named("bob", 10002),
    ];
    let person = |name: &str| format!("uid={name},ou=People,{SUFFIX}");
    let team = |cn: &str| format!("cn={cn},ou=Groups,{SUFFIX}");
    let mut ldif = tests::ldif::ldif(&users, &[]);
    ldif.push_str(&dn_group_entry("developers", 20001, &[&person("alice")]));
    ldif.push('\n');
    ldif.push_str(&dn_group_entry("allstaff", 20003, &[&team("developers")]));
    let data = Data {
        users: users.to_vec(),
        groups: Vec::new(),
        ldif,
    };
    let w = World::builder("bissync.test")
        .directory(
            Directory::slapd_with(data, SlapdOptions::default().with_sync())
                .read(|b| *b = DirectoryBlock::new("127.0.0.1").rfc2307bis()),
        )
        .interval(3600)
        .ready(Ready::Registered)
        .start();
    w.bind_clients();
    let mut w = w;
    wait_kept_current(&w);
    // The index of member DNs the changes need is made between answers
    // after the first read, not at once by the first change.
    w.wait_log("index of member DNs made again", 1, Duration::from_secs(10));
    assert_eq!(
        tests::expect::group_members(w.ypmatch("allstaff", "group.byname").ok().as_deref()),
        ["alice"],
        "{}",
        w.log()
    );
    let built = builds(&w);
    let group_order = order(&w, "group.byname");

    // A user added, then named by DN in a group: that group and the one
    // nesting it list it, and its netid line has both.
    w.change_directory(
        "ldapadd",
        &format!(
            "dn: uid=newbie,ou=People,{SUFFIX}\nobjectClass: posixAccount\nobjectClass: account\n\
             uid: newbie\ncn: New Bie\nuidNumber: 5077\ngidNumber: 100\nhomeDirectory: /home/newbie\n\
             loginShell: /bin/sh\ngecos: New Bie\nuserPassword: {{CRYPT}}$6$salt$hash\n"
        ),
    );
    until(&w, "newbie", "passwd.byname", |v| v.is_some());
    w.change_directory(
        "ldapmodify",
        &format!(
            "dn: cn=developers,ou=Groups,{SUFFIX}\nchangetype: modify\nadd: member\nmember: {}\n",
            person("newbie")
        ),
    );
    let took = until(&w, "developers", "group.byname", |v| {
        tests::expect::group_members(v) == ["alice", "newbie"]
    });
    assert!(took < PROPAGATION, "a member DN took {took:?}");
    until(&w, "allstaff", "group.byname", |v| {
        tests::expect::group_members(v) == ["alice", "newbie"]
    });
    assert_eq!(netid_groups(&w, 5077), [20001, 20003]);
    assert!(order(&w, "group.byname") > group_order);

    // A group nested by DN: its members reach the groups above it.
    w.change_directory(
        "ldapadd",
        &dn_group_entry("contractors", 20005, &[&person("bob")]),
    );
    until(&w, "contractors", "group.byname", |v| {
        tests::expect::group_members(v) == ["bob"]
    });
    w.change_directory(
        "ldapmodify",
        &format!(
            "dn: cn=developers,ou=Groups,{SUFFIX}\nchangetype: modify\nadd: member\nmember: {}\n",
            team("contractors")
        ),
    );
    let took = until(&w, "allstaff", "group.byname", |v| {
        tests::expect::group_members(v) == ["alice", "newbie", "bob"]
    });
    assert!(took < PROPAGATION, "a nesting took {took:?}");
    assert_eq!(
        tests::expect::group_members(w.ypmatch("developers", "group.byname").ok().as_deref()),
        ["alice", "newbie", "bob"]
    );
    assert_eq!(netid_groups(&w, 10002), [20001, 20003, 20005]);

    // The user named by DN renamed (modrdn): the member DN names nothing
    // now (slapd's refint overlay is not on), so the groups lose it.
    w.change_directory(
        "ldapmodify",
        &format!(
            "dn: uid=newbie,ou=People,{SUFFIX}\nchangetype: modrdn\nnewrdn: uid=oldtimer\ndeleteoldrdn: 1\n"
        ),
    );
    let took = until(&w, "allstaff", "group.byname", |v| {
        tests::expect::group_members(v) == ["alice", "bob"]
    });
    assert!(took < PROPAGATION, "a rename took {took:?}");
    assert_eq!(netid_groups(&w, 5077), Vec::<u32>::new());

    assert_eq!(builds(&w), built, "the maps were built again:\n{}", w.log());
    assert!(w.log().contains("changes served at once"), "{}", w.log());
}

/// Past the bound on keys changed since the last build (16,384), the
/// changed keys are folded into the maps' tables instead of a build of
/// every map: the maps are still what a build of the directory makes,
/// and the maps the changes did not touch keep their ORDER numbers.
#[test]
fn past_the_bound_the_changed_keys_are_folded_into_the_tables() {
    // Four keys a shell change (passwd and master.passwd, by name and
    // uid): 4,200 changes pass the bound once. A fifth of the users: the
    // tables keep more bytes in use than the changes leave unused.
    let (users, groups) = tests::ldif::generate(21_000, 10);
    let data = Data::of(users.clone(), groups);
    let mut w = World::builder("fold.test")
        .directory(Directory::slapd_with(
            data,
            SlapdOptions::unlimited().with_sync(),
        ))
        .interval(3600)
        .ready(Ready::Registered)
        .start();
    w.bind_clients();
    wait_kept_current(&w);
    let built = builds(&w);
    let group_order = order(&w, "group.byname");
    let mut ldif = String::new();
    let changed = &users[..4200];
    for u in changed {
        ldif.push_str(&tests::ldif::shell_change(&u.name, "/bin/folded"));
    }
    w.change_directory("ldapmodify", &ldif);
    for u in [&changed[0], &changed[changed.len() - 1]] {
        until(&w, &u.name, "passwd.byname", |v| {
            v.is_some_and(|l| l.trim_end().ends_with(":/bin/folded"))
        });
    }
    assert!(
        w.log()
            .contains("changed keys folded into the maps' tables"),
        "{}",
        w.log()
    );
    assert_eq!(builds(&w), built, "a build after changes:\n{}", w.log());
    assert_eq!(order(&w, "group.byname"), group_order);
    // Every map as a build of the directory makes it (ypldapd started
    // again, reading it in full).
    let maps = |w: &World| -> Vec<_> {
        yp_proto::MapName::ALL
            .map(yp_proto::MapName::as_str)
            .iter()
            .map(|m| (*m, w.ypcat(m)))
            .collect()
    };
    let folded = maps(&w);
    let status = w.stop_ypldapd(nix::sys::signal::Signal::SIGTERM);
    assert!(status.success(), "ypldapd exited with {status}");
    w.start_ypldapd();
    assert_eq!(maps(&w), folded);
}
