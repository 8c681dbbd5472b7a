//! Faults while serving: MATCH answers must continue, correct, with no
//! client-visible gap, whatever happens to slapd, the helpers, rpcbind, or
//! the network input.

use std::collections::BTreeMap;
use std::time::Duration;

use nix::sys::signal::Signal;
use tests::expect;
use tests::peers::SlapdOptions;
use tests::probe::{self, Probe};
use tests::world::{Data, Directory, Ready, World};
use tests::{alive, status_field};

const KEY: &str = "user00007";

/// slapd (forcing paged reads) with `users` users and 10 groups, rpcbind,
/// and ypldapd updating every second, registered.
fn setup(domain: &str, users: usize) -> World {
    World::builder(domain)
        .directory(Directory::slapd_with(
            Data::generated(users, 10),
            SlapdOptions::paged(),
        ))
        .interval(1)
        .start()
}

fn updates_done(w: &World) -> usize {
    w.log().matches(" users, ").count()
}

fn assert_no_gap(f: &BTreeMap<String, String>, what: &str) {
    probe::assert_no_gap(f, what, 20);
}

#[test]
fn frozen_slapd_times_out_and_old_maps_stay() {
    let mut w = setup("frozen.test", 50);
    let watch = Probe::watch(&w, KEY, 70);
    w.server(0).signal(Signal::SIGSTOP);
    // One operation may wait 30 s, a connection 10 s.
    w.wait_log("update failed", 1, Duration::from_secs(70));
    assert!(
        w.log().contains("timed out") || w.log().contains("timeout"),
        "{}",
        w.log()
    );
    w.server(0).signal(Signal::SIGCONT);
    assert_no_gap(&watch.figures(), "slapd frozen");
    let before = updates_done(&w);
    w.wait_log(" users, ", before + 1, Duration::from_secs(60));
}

#[test]
fn slapd_killed_mid_refresh_old_maps_stay_then_next_update_succeeds() {
    let mut w = setup("midrefresh.test", 20000);
    let watch = Probe::watch(&w, KEY, 12);
    let n = updates_done(&w);
    w.wait_log(
        &format!("update {} started", n + 1),
        1,
        Duration::from_secs(30),
    );
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
    w.restart_server(0);
    let before = updates_done(&w);
    w.wait_log(" users, ", before + 1, Duration::from_secs(60));
    assert_no_gap(&watch.figures(), "slapd killed mid-refresh");
}

#[test]
fn killed_helpers_restart_and_the_next_update_succeeds() {
    let w = setup("helpers.test", 50);
    let watch = Probe::watch(&w, KEY, 8);
    let d = w.ypldapd();
    for name in ["ypldap-client", "ypldap-dns", "ypldap-client"] {
        let pid = d.sandboxed_helper(name, None);
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), Signal::SIGKILL)
            .expect("kill");
        // The next kill only once this one is back, restarted and sandboxed.
        d.sandboxed_helper(name, Some(pid));
    }
    assert_no_gap(&watch.figures(), "helpers killed");
    let before = updates_done(&w);
    w.wait_log(" users, ", before + 1, Duration::from_secs(60));
    assert!(d.alive());
}

#[test]
fn restarted_rpcbind_gets_the_registration_again() {
    let mut w = setup("rpcbind.test", 20);
    // The watcher has looked the port up before rpcbind goes.
    let watch = Probe::watch(&w, KEY, 6);
    w.stop_rpcbind();
    assert!(tests::wait_for(Duration::from_secs(5), || (!w.registered()).then_some(())).is_some());
    w.start_rpcbind();
    w.wait_registered(Duration::from_secs(30));
    assert!(w.log().contains("registering again"), "{}", w.log());
    assert_no_gap(&watch.figures(), "rpcbind restarted");
}

#[test]
fn a_thousand_tcp_connections_are_bounded_and_udp_unaffected() {
    let w = setup("tcp.test", 20);
    let want = expect::value(&w.expected_maps(), "passwd.byname", KEY).to_owned();
    let f = Probe::start(
        &w,
        &[
            "hold-tcp",
            "1000",
            "3",
            &w.domain,
            "passwd.byname",
            KEY,
            &want,
        ],
    )
    .figures();
    assert_no_gap(&f, "1000 TCP connections");
    // The connections were made, far more than the cap (the server
    // accepts and closes what is over it; a few connects of the burst may
    // time out when the listen queue overflows)...
    let connected: usize = f["connected"].parse().expect("number");
    assert!(connected >= 900, "only {connected} connections made: {f:?}");
    // ...and it kept no more than its cap open.
    let open: usize = f["still_open"].parse().expect("number");
    assert!(
        open <= 256,
        "the server kept {open} connections, more than its cap: {f:?}"
    );
    assert!(alive(w.ypldapd().pid));
    // TCP serves again once they are gone.
    assert_eq!(w.ypcat("passwd.byname").expect("ypcat").len(), 20);
}

#[test]
fn a_client_that_never_reads_all_is_closed_and_others_unaffected() {
    let w = setup("noread.test", 20000);
    let stuck = Probe::start(&w, &["all-noread", &w.domain, "passwd.byname", "40"]);
    let watch = Probe::watch(&w, KEY, 10);
    assert_eq!(w.ypcat("group.byname").expect("ypcat").len(), 10);
    assert_no_gap(&watch.figures(), "a stuck ALL reader");
    let f = stuck.figures();
    assert_eq!(f.get("closed").map(String::as_str), Some("true"), "{f:?}");
}

#[test]
fn random_input_flood_while_serving() {
    let w = setup("flood.test", 20);
    let watch = Probe::watch(&w, KEY, 6);
    let f = Probe::start(&w, &["flood", "5"]).figures();
    assert!(f["datagrams"].parse::<u64>().expect("n") > 1000, "{f:?}");
    assert_no_gap(&watch.figures(), "random flood");
    assert!(alive(w.ypldapd().pid));
    assert_eq!(w.ypcat("passwd.byname").expect("ypcat").len(), 20);
}

/// A helper that floods its link and then breaks the protocol: ypldapd's
/// memory stays bounded, the helper is killed and restarted, ypldapd lives.
#[test]
fn a_hostile_helper_cannot_grow_ypldapd_and_is_restarted() {
    let mut w = World::builder("hostile.test")
        .bare()
        .config_text("domain \"hostile.test\"\n")
        .ready(Ready::Started)
        .start();
    // ypldapd finds its helpers next to itself: put the stand-in there.
    let dir = w.ns.dir.path().join("bin");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::copy(tests::program("ypldapd"), dir.join("ypldapd")).expect("copy");
    std::fs::copy(tests::program("ypldap-dns"), dir.join("ypldap-dns")).expect("copy");
    std::fs::copy(
        env!("CARGO_BIN_EXE_hostile-client"),
        dir.join("ypldap-client"),
    )
    .expect("copy");
    w.program = Some(dir.join("ypldapd"));
    w.start_ypldapd();
    let d = w.ypldapd();
    let rss = |pid: u32| -> u64 {
        status_field(pid, "VmRSS")
            .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
            .unwrap_or(0)
    };
    let mut peak = 0;
    for _ in 0..40 {
        peak = peak.max(rss(d.pid));
        std::thread::sleep(Duration::from_millis(100));
    }
    d.wait_log(
        "unknown message type Takeover; killing it",
        1,
        Duration::from_secs(20),
    );
    d.wait_log("started ypldap-client", 2, Duration::from_secs(20));
    assert!(d.alive(), "{}", d.log());
    assert!(
        peak < 64 * 1024,
        "ypldapd grew to {peak} KiB under the flood"
    );
}

/// A directory kept current by content synchronization freezes (SIGSTOP):
/// its persistent search is simply silent, so only the session's liveness
/// check can tell (a search every 60 s, 30 s to answer); the last entries
/// are served throughout, and once slapd thaws the session resumes from
/// its cookie.
#[test]
fn frozen_slapd_under_content_synchronization() {
    let mut w = World::builder("frozensync.test")
        .directory(Directory::slapd_with(
            Data::generated(50, 10),
            SlapdOptions::default().with_sync(),
        ))
        .interval(3600)
        .start();
    w.wait_log(
        "kept current by content synchronization (RFC 4533)",
        1,
        Duration::from_secs(10),
    );
    let watch = Probe::watch(&w, KEY, 100);
    w.server(0).signal(Signal::SIGSTOP);
    w.wait_log("content synchronization ended", 1, Duration::from_secs(95));
    assert!(
        w.log().contains("did not answer a liveness check"),
        "{}",
        w.log()
    );
    w.server(0).signal(Signal::SIGCONT);
    w.wait_log(
        "content synchronization resumed from its cookie",
        1,
        Duration::from_secs(60),
    );
    assert_no_gap(
        &watch.figures(),
        "slapd frozen under content synchronization",
    );
}
