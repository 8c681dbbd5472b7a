//! rpcbind versions 3 and 4 and IPv6, against Debian's rpcbind and NIS
//! tools in each test's own namespaces: ypldapd registers `udp`, `tcp`,
//! `udp6` and `tcp6` (`rpcinfo -s`, which speaks version 4; `rpcinfo -p`
//! speaks version 2 and shows no netid), answers over `::1` (rpcinfo,
//! ypcat, ypmatch, the project's probe), applies the privileged-port rule
//! over IPv6 as over IPv4, registers all four again when rpcbind
//! restarts, and removes all four when it exits. (Debian's `ypmatch` has
//! no `-h`; the probe asks MATCH over `::1` instead.)

use std::time::Duration;

use nix::sys::signal::Signal;
use tests::world::{Data, Directory, Ready, World};
use tests::{Namespace, wait_for};

const NETIDS: [&str; 4] = ["udp", "tcp", "udp6", "tcp6"];

/// YP's netids in `rpcinfo -s` (version 4 DUMP), sorted.
fn yp_netids(ns: &Namespace) -> Vec<String> {
    let out = ns
        .command("rpcinfo")
        .arg("-s")
        .output()
        .expect("rpcinfo -s");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut netids: Vec<String> = text
        .lines()
        .filter(|l| l.split_whitespace().next() == Some("100004"))
        .flat_map(|l| {
            l.split_whitespace()
                .nth(2)
                .unwrap_or("")
                .split(',')
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    netids.sort();
    netids.dedup();
    netids
}

fn all_four() -> Vec<String> {
    let mut v: Vec<String> = NETIDS.iter().map(|s| (*s).to_owned()).collect();
    v.sort();
    v
}

fn wait_for_netids(f: &World, want: &[String], limit: Duration, what: &str) {
    if wait_for(limit, || (yp_netids(&f.ns) == want).then_some(())).is_none() {
        panic!(
            "{what}: rpcinfo -s shows {:?}, want {want:?}; ypldapd log:\n{}",
            yp_netids(&f.ns),
            f.log()
        );
    }
}

/// slapd, rpcbind and ypldapd, all four netids registered.
fn start(domain: &str) -> World {
    let w = World::builder(domain)
        .directory(Directory::slapd(Data::generated(12, 3)))
        .ready(Ready::Started)
        .start();
    wait_for_netids(&w, &all_four(), Duration::from_secs(30), "registration");
    w
}

fn probe(f: &World, map: &str, key: &str, source: &str) -> (bool, String) {
    let out =
        f.ns.command(env!("CARGO_BIN_EXE_yp-probe"))
            .args(["match6", &f.domain, map, key, source])
            .output()
            .expect("yp-probe");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
    )
}

/// The four netids, each with the port of its socket; rpcinfo, ypcat and
/// ypmatch over `::1`; MATCH over `::1` from the probe, with
/// `master.passwd.byname` refused to an ordinary port and answered to a
/// privileged one, as over IPv4.
#[test]
fn registers_four_netids_and_serves_ipv6() {
    let f = start("rpcb6.test");
    let log = f.log();
    assert!(
        log.contains("registered with rpcbind (rpcbind version 4): udp port"),
        "{log}"
    );

    for netid in ["udp6", "tcp6", "udp", "tcp"] {
        let host = if netid.ends_with('6') {
            "::1"
        } else {
            "127.0.0.1"
        };
        let out = f.ns.sh(&format!("rpcinfo -T {netid} {host} 100004 2"));
        assert!(
            out.contains("program 100004 version 2 ready and waiting"),
            "rpcinfo -T {netid}: {out}"
        );
    }
    // Version 2 clients still find the IPv4 ports.
    let p = f.ns.sh("rpcinfo -p 127.0.0.1");
    assert!(
        p.lines()
            .filter(|l| l.contains("100004"))
            .any(|l| l.contains("udp"))
            && p.lines()
                .filter(|l| l.contains("100004"))
                .any(|l| l.contains("tcp")),
        "{p}"
    );

    let maps = f.expected_maps();
    let (key, line) = maps["passwd.byname"][0].clone();
    let (mkey, mline) = maps["master.passwd.byname"][0].clone();

    // ypcat and ypmatch with an IPv6 host: libnsl asks rpcbind on ::1
    // for the port and talks to ypldapd over IPv6.
    let got =
        f.ns.sh(&format!("ypcat -h ::1 -d {} passwd.byname", f.domain));
    let mut got: Vec<&str> = got.lines().collect();
    got.sort_unstable();
    let mut want: Vec<&str> = maps["passwd.byname"]
        .iter()
        .map(|(_, v)| v.as_str())
        .collect();
    want.sort_unstable();
    assert_eq!(got, want, "ypcat -h ::1");
    // Debian's ypmatch has no -h: it asks ypbind, which this test does not
    // run; the probe below is the MATCH over ::1.

    // The probe: MATCH over ::1.
    assert_eq!(probe(&f, "passwd.byname", &key, "any"), (true, line));
    let (ok, why) = probe(&f, "master.passwd.byname", &mkey, "any");
    assert!(
        !ok && why.contains("YpErr"),
        "master.passwd.byname to an ordinary IPv6 port: {why}"
    );
    assert_eq!(
        probe(&f, "master.passwd.byname", &mkey, "reserved"),
        (true, mline),
        "master.passwd.byname to a privileged IPv6 port"
    );
}

/// rpcbind restarted: within the 10 s check, all four netids are back.
/// SIGTERM: all four are removed before ypldapd exits.
#[test]
fn rpcbind_restart_and_exit() {
    let mut f = start("rpcbrestart.test");
    f.stop_rpcbind();
    // The old rpcbind is gone with its table: a new one starts empty.
    f.start_rpcbind();
    assert!(
        yp_netids(&f.ns).len() < 4,
        "the new rpcbind already has YP: {:?}",
        yp_netids(&f.ns)
    );
    wait_for_netids(
        &f,
        &all_four(),
        Duration::from_secs(25),
        "after rpcbind restarted",
    );
    assert!(
        f.log().contains("registering again"),
        "no re-registration in the log:\n{}",
        f.log()
    );
    let (ok, _) = probe(
        &f,
        "passwd.byname",
        &f.expected_maps()["passwd.byname"][0].0,
        "any",
    );
    assert!(ok, "MATCH over ::1 after the re-registration");

    let status = f.stop_ypldapd(Signal::SIGTERM);
    assert!(status.success(), "exit status {status}");
    assert_eq!(
        yp_netids(&f.ns),
        Vec::<String>::new(),
        "still registered after SIGTERM"
    );
}
