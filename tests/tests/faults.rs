//! Faults while serving: MATCH answers must continue, correct, with no
//! client-visible gap, whatever happens to slapd, the helpers, rpcbind, or
//! the network input.

use std::process::{Child, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;
use tests::ldif::{self, PASSWD_FROM_LDAP, directory_block, service_bind};
use tests::peers::{Rpcbind, Slapd, SlapdOptions, Ypldapd, start_rpcbind};
use tests::pki::Pki;
use tests::{Namespace, alive, children, comm, wait_for, yp_registered, ypcat};

/// Fields drop in order: the daemon and its peers before the namespace.
struct Setup {
    d: Ypldapd,
    slapd: Slapd,
    rpcbind: Option<Rpcbind>,
    ns: Namespace,
}

const KEY: &str = "user00007";
const PREFIX: &str = "user00007:x:10007:100:";

fn setup(domain: &str, users: usize) -> Setup {
    let ns = Namespace::new(domain);
    let pki = Pki::create(ns.dir.path());
    let (u, g) = ldif::generate(users, 10);
    let slapd = Slapd::start(
        &ns,
        "slapd",
        &pki,
        &ldif::ldif(&u, &g),
        SlapdOptions {
            size_limit: "size.soft=500 size.hard=500 size.prtotal=unlimited".into(),
            ..SlapdOptions::default()
        },
    );
    let rpcbind = Some(start_rpcbind(&ns));
    let conf = format!(
        "domain \"{domain}\"\ninterval 1\n{}",
        directory_block("\"127.0.0.1\"", &service_bind(), PASSWD_FROM_LDAP)
    );
    let d = Ypldapd::start(&ns, &conf);
    wait_for(Duration::from_secs(60), || yp_registered(&ns).then_some(()))
        .unwrap_or_else(|| panic!("not registered:\n{}", d.log()));
    Setup {
        ns,
        slapd,
        rpcbind,
        d,
    }
}

impl Setup {
    fn probe(&self, args: &[&str]) -> Child {
        self.ns
            .command(env!("CARGO_BIN_EXE_yp-probe"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("yp-probe")
    }

    /// Starts watching MATCH for `seconds`.
    fn watch(&self, seconds: u32) -> Child {
        let dom = self.ns_domain();
        self.probe(&[
            "watch",
            &dom,
            "passwd.byname",
            KEY,
            PREFIX,
            &seconds.to_string(),
        ])
    }

    fn ns_domain(&self) -> String {
        self.ns.sh("domainname").trim().to_owned()
    }

    fn updates_done(&self) -> usize {
        self.d.log().matches(" users, ").count()
    }
}

/// The probe's `name=value` figures.
fn figures(child: Child) -> std::collections::BTreeMap<String, String> {
    let out = child.wait_with_output().expect("probe");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "probe failed: {text}");
    text.split_whitespace()
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn assert_no_gap(f: &std::collections::BTreeMap<String, String>, what: &str) {
    assert_eq!(
        f.get("failed").map(String::as_str),
        Some("0"),
        "{what}: {f:?}"
    );
    let ok: u64 = f.get("ok").and_then(|v| v.parse().ok()).unwrap_or(0);
    assert!(ok > 20, "{what}: too few answers: {f:?}");
}

#[test]
fn frozen_slapd_times_out_and_old_maps_stay() {
    let s = setup("frozen.test", 50);
    let watch = s.watch(70);
    s.slapd.signal(Signal::SIGSTOP);
    // One operation may wait 30 s, a connection 10 s.
    s.d.wait_log("update failed", 1, Duration::from_secs(70));
    assert!(
        s.d.log().contains("timed out") || s.d.log().contains("timeout"),
        "{}",
        s.d.log()
    );
    s.slapd.signal(Signal::SIGCONT);
    assert_no_gap(&figures(watch), "slapd frozen");
    let before = s.updates_done();
    s.d.wait_log(" users, ", before + 1, Duration::from_secs(60));
}

#[test]
fn slapd_killed_mid_refresh_old_maps_stay_then_next_update_succeeds() {
    let mut s = setup("midrefresh.test", 20000);
    let watch = s.watch(12);
    let n = s.updates_done();
    s.d.wait_log(
        &format!("update {} started", n + 1),
        1,
        Duration::from_secs(30),
    );
    s.slapd.kill();
    s.d.wait_log("update failed", 1, Duration::from_secs(30));
    s.slapd.run(&s.ns);
    let before = s.updates_done();
    s.d.wait_log(" users, ", before + 1, Duration::from_secs(60));
    assert_no_gap(&figures(watch), "slapd killed mid-refresh");
}

#[test]
fn killed_helpers_restart_and_the_next_update_succeeds() {
    let s = setup("helpers.test", 50);
    let watch = s.watch(8);
    for name in ["ypldap-client", "ypldap-dns", "ypldap-client"] {
        let pid = children(s.d.pid)
            .into_iter()
            .find(|&p| comm(p).as_deref() == Some(name))
            .expect("helper");
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), Signal::SIGKILL)
            .expect("kill");
        std::thread::sleep(Duration::from_millis(700));
    }
    assert_no_gap(&figures(watch), "helpers killed");
    let before = s.updates_done();
    s.d.wait_log(" users, ", before + 1, Duration::from_secs(60));
    assert!(s.d.alive());
}

#[test]
fn restarted_rpcbind_gets_the_registration_again() {
    let mut s = setup("rpcbind.test", 20);
    let watch = s.watch(6);
    // Let the watcher look the port up before rpcbind goes.
    std::thread::sleep(Duration::from_millis(500));
    drop(s.rpcbind.take());
    assert!(
        wait_for(Duration::from_secs(5), || (!yp_registered(&s.ns))
            .then_some(()))
        .is_some()
    );
    s.rpcbind = Some(start_rpcbind(&s.ns));
    wait_for(Duration::from_secs(30), || {
        yp_registered(&s.ns).then_some(())
    })
    .unwrap_or_else(|| panic!("not registered again:\n{}", s.d.log()));
    assert!(s.d.log().contains("registering again"), "{}", s.d.log());
    assert_no_gap(&figures(watch), "rpcbind restarted");
}

#[test]
fn a_thousand_tcp_connections_are_bounded_and_udp_unaffected() {
    let s = setup("tcp.test", 20);
    let dom = s.ns_domain();
    let f = figures(s.probe(&["hold-tcp", "1000", "3", &dom, "passwd.byname", KEY, PREFIX]));
    assert_no_gap(&f, "1000 TCP connections");
    let open: usize = f["still_open"].parse().expect("number");
    assert!(
        open <= 256,
        "the server kept {open} connections, more than its cap: {f:?}"
    );
    assert!(alive(s.d.pid));
    // TCP serves again once they are gone.
    assert_eq!(
        ypcat(&s.ns, &dom, "passwd.byname").expect("ypcat").len(),
        20
    );
}

#[test]
fn a_client_that_never_reads_all_is_closed_and_others_unaffected() {
    let s = setup("noread.test", 20000);
    let dom = s.ns_domain();
    let stuck = s.probe(&["all-noread", &dom, "passwd.byname", "40"]);
    let watch = s.watch(10);
    assert_eq!(ypcat(&s.ns, &dom, "group.byname").expect("ypcat").len(), 10);
    assert_no_gap(&figures(watch), "a stuck ALL reader");
    let f = figures(stuck);
    assert_eq!(f.get("closed").map(String::as_str), Some("true"), "{f:?}");
}

#[test]
fn random_input_flood_while_serving() {
    let s = setup("flood.test", 20);
    let watch = s.watch(6);
    let f = figures(s.probe(&["flood", "5"]));
    assert!(f["datagrams"].parse::<u64>().expect("n") > 1000, "{f:?}");
    assert_no_gap(&figures(watch), "random flood");
    assert!(alive(s.d.pid));
    let dom = s.ns_domain();
    assert_eq!(
        ypcat(&s.ns, &dom, "passwd.byname").expect("ypcat").len(),
        20
    );
}

/// A helper that floods its link and then breaks the protocol: ypldapd's
/// memory stays bounded, the helper is killed and restarted, ypldapd lives.
#[test]
fn a_hostile_helper_cannot_grow_ypldapd_and_is_restarted() {
    let ns = Namespace::new("hostile.test");
    // ypldapd finds its helpers next to itself: put the stand-in there.
    let dir = ns.dir.path().join("bin");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::copy(tests::program("ypldapd"), dir.join("ypldapd")).expect("copy");
    std::fs::copy(tests::program("ypldap-dns"), dir.join("ypldap-dns")).expect("copy");
    std::fs::copy(
        env!("CARGO_BIN_EXE_hostile-client"),
        dir.join("ypldap-client"),
    )
    .expect("copy");
    let conf = ns.write_file("ypldap.conf", "domain \"hostile.test\"\n");
    let d = Ypldapd::start_program(&ns, &dir.join("ypldapd"), &conf);
    let rss = |pid: u32| -> u64 {
        tests::status_field(pid, "VmRSS")
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
