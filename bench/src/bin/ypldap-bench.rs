//! ypldapd against its peers on the same data, in one run (issue 8).
//!
//! usage: ypldap-bench [--users N] [--groups M] [--hosts H] [--netgroups G]
//!                     [--member-dns] [--rounds R] [--secs S] [--inflight W]
//!                     [--refreshes K] [--rate RPS] [--ypldapd-dir DIR]
//!                     [--perf FILE] [--state CHANGES]
//!
//! `--hosts` and `--netgroups` (default 0) add that many hosts and
//! netgroups (`bench::classic`) to the directory; ypldapd then also
//! serves `hosts.*` and the three netgroup maps, and every `ldapsearch`
//! it is compared with makes their two searches too.
//!
//! `--state CHANGES` runs the refreshes as a package installs ypldapd:
//! with a state directory, so that it keeps the entries and compares each
//! full read with them (`ypldapd/src/daemon/reread.rs`), and with CHANGES
//! users' login shells changed before each refresh (ldapmodify), so that
//! each has that much to serve. The new maps are then seen as the changed
//! entries arrive, not at the end of the read.
//!
//! `--member-dns` makes the groups RFC 2307bis (`bench::member_dns`):
//! `groupOfNames` with a `gidNumber`, members as `member` DNs of the
//! users, 10 to 200 per group, 5% of the groups nesting one or two others;
//! ypldapd reads them with `list groupmembers maps to "memberUid"` and
//! `"member"`, and `ldapsearch` searches the same groups for the same
//! attributes. ypserv serves the groups as ypldapd resolves them.
//!
//! Two sets of private namespaces (the `tests` harness): A holds slapd
//! (N users and M groups loaded with `slapadd -q`), rpcbind and ypldapd;
//! B holds rpcbind and Debian's `ypserv` serving `makedbm` maps of the same
//! users and groups. Loopback only; nothing on the host changes.
//!
//! 1. YP, R rounds, peer and project alternating (ypserv first in even
//!    rounds, ypldapd first in odd ones): MATCH over UDP, closed loop, W in
//!    flight, S seconds; MATCH over TCP (W connections, one request each);
//!    YPPROC_ALL of passwd.byname with a raw client and with `ypcat`.
//!    ypldapd's resident memory at steady state against the bytes of all
//!    its map keys and values.
//! 2. Cold start, R rounds alternating: ldapsearch of the two searches
//!    against ypldapd started from nothing until a client gets its first
//!    answer (rpcbind lists it and a MATCH is answered). In each YP round,
//!    also the loopback limit: the same UDP generator against a responder
//!    that answers a fixed reply (recvmmsg/sendmmsg, nothing parsed).
//! 3. Refresh: ypldapd restarted with a short `interval`. K quiet cycles,
//!    each `ldapsearch` of the same two paged searches (page size 1000)
//!    then one ypldapd refresh, timed from the outside: the "update N
//!    started" debug line to the moment an ORDER poll (every ms) sees the
//!    new maps; the last entry's arrival is the client's "read ..." line,
//!    which the parent logs right after the last batch of entries. Log
//!    lines are time-stamped as they come out of ypldapd's stderr pipe. The
//!    peak RSS during the refresh is VmHWM after resetting it (clear_refs).
//!    Then K load cycles: MATCH over UDP paced at RPS, latency counted from
//!    the scheduled send time, split into requests sent while idle and
//!    while the refresh runs; beside it, the same paced load against
//!    ypserv (which has nothing to do with the refresh) as a control of
//!    what the machine itself does to latency in that window. And K more
//!    load cycles "pinned": slapd and ypldap-client on the last CPU,
//!    ypldapd, ypserv and the load generators on CPU 0, as on a server
//!    whose directory is elsewhere and whose reader has a core of its own:
//!    what is left is what ypldapd's own refresh work does to its answers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use yp_proto::maps::MapName;

use bench::load::{self, LoadResult, LoadSpec, OrderProbe};
use bench::member_dns;
use bench::process::{
    Perf, children_cpu_secs, cpu_secs, cpus, kib, load_avg, preempted, reset_peak, set_cpu,
};
use bench::stats::{Samples, median};
use nix::sys::signal::Signal;
use tests::ldif::{self, BIND_DN, BIND_PW, SUFFIX};
use tests::nis::Ypserv;
use tests::peers::SlapdOptions;
use tests::world::{Data, Directory, Ready, World};
use tests::{Namespace, children, comm, status_field, wait_for};

const DOMAIN: &str = "bench.test";

struct Args {
    users: usize,
    groups: usize,
    hosts: usize,
    netgroups: usize,
    /// Groups whose members are DNs (RFC 2307bis) instead of `memberUid`.
    member_dns: bool,
    rounds: usize,
    secs: f64,
    inflight: usize,
    refreshes: usize,
    rate: f64,
    /// Where ypldapd and its helpers are (default: next to this program).
    ypldapd_dir: Option<PathBuf>,
    /// `perf record -e cpu-clock` of the servers in the first round's UDP
    /// run (FILE.udp-NAME) and of ypldapd in the first refresh (FILE.refresh).
    perf: Option<PathBuf>,
    /// `--state`: users changed before each refresh, with a state
    /// directory.
    state: Option<usize>,
}

fn parse_args() -> Args {
    let mut a = Args {
        users: 100_000,
        groups: 10_000,
        hosts: 0,
        netgroups: 0,
        member_dns: false,
        rounds: 4,
        secs: 4.0,
        inflight: 32,
        refreshes: 3,
        rate: 2000.0,
        ypldapd_dir: None,
        perf: None,
        state: None,
    };
    let v: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < v.len() {
        let val = v.get(i + 1).cloned().unwrap_or_default();
        let bad = || -> ! {
            eprintln!("ypldap-bench: bad value for {}: {val:?}", v[i]);
            std::process::exit(2)
        };
        if v[i] == "--member-dns" {
            a.member_dns = true;
            i += 1;
            continue;
        }
        match v[i].as_str() {
            "--users" => a.users = val.parse().unwrap_or_else(|_| bad()),
            "--groups" => a.groups = val.parse().unwrap_or_else(|_| bad()),
            "--hosts" => a.hosts = val.parse().unwrap_or_else(|_| bad()),
            "--netgroups" => a.netgroups = val.parse().unwrap_or_else(|_| bad()),
            "--rounds" => a.rounds = val.parse().unwrap_or_else(|_| bad()),
            "--secs" => a.secs = val.parse().unwrap_or_else(|_| bad()),
            "--inflight" => a.inflight = val.parse().unwrap_or_else(|_| bad()),
            "--refreshes" => a.refreshes = val.parse().unwrap_or_else(|_| bad()),
            "--rate" => a.rate = val.parse().unwrap_or_else(|_| bad()),
            "--ypldapd-dir" => a.ypldapd_dir = Some(PathBuf::from(&val)),
            "--perf" => a.perf = Some(PathBuf::from(&val)),
            "--state" => a.state = Some(val.parse().unwrap_or_else(|_| bad())),
            _ => {
                eprintln!(
                    "usage: ypldap-bench [--users N] [--groups M] [--hosts H] [--netgroups G] [--member-dns] [--rounds R] [--secs S] [--inflight W] [--refreshes K] [--rate RPS] [--ypldapd-dir DIR] [--perf FILE] [--state CHANGES]"
                );
                std::process::exit(2)
            }
        }
        i += 2;
    }
    a.rounds = a.rounds.clamp(1, 20);
    a.refreshes = a.refreshes.clamp(1, 20);
    a.secs = a.secs.clamp(0.5, 60.0);
    a
}

/// Where ypldapd and its helpers are: `--ypldapd-dir`, else next to this
/// program (`target/release`).
fn bin_dir(args: &Args) -> PathBuf {
    if let Some(d) = &args.ypldapd_dir {
        // Absolute: ypldapd is started from inside the namespaces.
        return std::fs::canonicalize(d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
    }
    let exe = std::env::current_exe().expect("current_exe");
    let dir = exe.parent().expect("bin dir").to_path_buf();
    for b in ["ypldapd", "ypldap-client", "ypldap-dns"] {
        assert!(
            dir.join(b).exists(),
            "{} missing: cargo build --release --workspace --bins",
            dir.join(b).display()
        );
    }
    dir
}

/// Runs `f` on a new thread inside the network namespace of `ns`.
fn spawn_in<T: Send + 'static>(
    ns: &Namespace,
    f: impl FnOnce() -> T + Send + 'static,
) -> JoinHandle<T> {
    ns.spawn_in_net(f)
}

fn in_ns<T: Send + 'static>(ns: &Namespace, f: impl FnOnce() -> T + Send + 'static) -> T {
    spawn_in(ns, f).join().expect("thread in the namespace")
}

/// Runs `f` in `ns` while a thread there sends a YPPROC_NULL datagram to
/// UDP `port` every millisecond (see [`load::nudge`]).
fn nudged<T: Send + 'static>(
    ns: &Namespace,
    port: u16,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let stop = Arc::new(AtomicBool::new(false));
    let st = stop.clone();
    let n = spawn_in(ns, move || load::nudge(port, Duration::from_millis(1), &st));
    let r = in_ns(ns, f);
    stop.store(true, Ordering::Relaxed);
    let _ = n.join();
    r
}

/// The searches ypldap-client makes (users and groups; with `classic`,
/// hosts and netgroups too), with ldapsearch; wall seconds. `groups`:
/// the group search's base, filter and attributes.
fn ldapsearch(ns: &Namespace, classic: bool, groups: &str) -> f64 {
    let common = format!(
        "ldapsearch -x -LLL -o ldif-wrap=no -H ldap://127.0.0.1:389/ -D '{BIND_DN}' -w '{BIND_PW}' -E pr=1000/noprompt"
    );
    let script = format!(
        "set -e\n{common} -b 'ou=People,{SUFFIX}' '(objectClass=posixAccount)' uid userPassword uidNumber gidNumber gecos homeDirectory loginShell > /dev/null\n\
         {common} {groups} > /dev/null"
    );
    let script = if classic {
        let more: Vec<String> = bench::classic::searches()
            .iter()
            .map(|s| format!("{common} {s} > /dev/null"))
            .collect();
        format!("{script}\n{}", more.join("\n"))
    } else {
        script
    };
    let t = Instant::now();
    let out = ns.command("sh").args(["-c", &script]).output().expect("sh");
    let secs = t.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "ldapsearch failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    secs
}

/// `ypcat -h 127.0.0.1 -d DOMAIN MAP` inside `ns`: seconds and lines.
fn ypcat(ns: &Namespace, map: &str) -> (f64, usize) {
    let t = Instant::now();
    let out = ns
        .command("ypcat")
        .args(["-h", "127.0.0.1", "-d", DOMAIN, map])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("ypcat");
    let secs = t.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "ypcat: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (secs, out.stdout.iter().filter(|&&b| b == b'\n').count())
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Who {
    Ypserv,
    Ypldapd,
}

impl Who {
    fn name(self) -> &'static str {
        match self {
            Who::Ypserv => "ypserv",
            Who::Ypldapd => "ypldapd",
        }
    }
}

/// Per server, per figure, one value per round.
type Figures = BTreeMap<(Who, &'static str), Vec<f64>>;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The two worlds: A holds slapd and ypldapd, B holds Debian's ypserv on
/// `makedbm` maps of the same users and groups.
struct Worlds {
    a: World,
    b: World,
    ypserv: Ypserv,
    users: usize,
    /// Hosts and netgroups are in the directory and served.
    classic: bool,
    /// `ldapsearch` arguments of the group search ypldap-client makes.
    group_search: String,
    /// ypldapd's and ypserv's (UDP, TCP) ports.
    ports_a: (u16, u16),
    ports_b: (u16, u16),
}

impl Worlds {
    /// Starts both, printing how long each part took.
    fn start(args: &Args, bins: &Path) -> Worlds {
        let (users, mut groups) = ldif::generate(args.users, args.groups);
        // With member DNs: their entries for slapd, and for ypserv the
        // groups as ypldapd should serve them.
        let mut dn_groups = None;
        let mut dn_count = None;
        if args.member_dns {
            let g = member_dns::groups(args.groups, users.len());
            let (served, expected) = member_dns::resolved(&g, &users);
            let group_dns: usize = g.iter().map(|g| g.groups.len()).sum();
            let dn_count_all = group_dns + g.iter().map(|g| g.users.len()).sum::<usize>();
            println!(
                "member DNs: {} groups, {dn_count_all} member DNs ({group_dns} of them groups); expected in ypldapd's summary: {} resolved, {} nested groups, 0 unresolved; {} groups served (the others' lines exceed {} bytes)",
                g.len(),
                expected.resolved,
                expected.nested,
                expected.served,
                member_dns::MAX_LINE
            );
            dn_groups = Some(member_dns::ldif(&g, &users));
            dn_count = Some(dn_count_all);
            groups = served;
        }

        // B: ypserv on makedbm maps of the same data (same password fields).
        let t = Instant::now();
        let (b, ypserv) = bench::ypserv_world(DOMAIN, &users, &groups);
        println!(
            "ypserv: maps built with makedbm and served in {:.1} s",
            t.elapsed().as_secs_f64()
        );

        // A: slapd + ypldapd.
        let t = Instant::now();
        let n = users.len();
        let classic = args.hosts + args.netgroups > 0;
        // slapd holds every group; with member DNs, ypserv only those served.
        let group_entries = if dn_groups.is_some() {
            args.groups
        } else {
            groups.len()
        };
        let mut entries = n + group_entries + 5;
        let mut data = match &dn_groups {
            Some(text) => {
                let mut d = Data::of(users, Vec::new()).with_ldif(text);
                d.groups = groups;
                d
            }
            None => Data::of(users, groups),
        };
        let mut directory_lines = Vec::new();
        if classic {
            let hosts = bench::classic::hosts(args.hosts);
            let netgroups = bench::classic::netgroups(args.netgroups, n, args.hosts);
            entries += hosts.len() + netgroups.len() + 2;
            data = data.with_ldif(&bench::classic::ldif(&hosts, &netgroups));
            directory_lines.extend(bench::classic::directory_lines());
        }
        let member_dns = dn_groups.is_some();
        let mut builder = World::builder(DOMAIN).directory(
            Directory::slapd_with(data, SlapdOptions::unlimited()).read(|b| {
                if member_dns {
                    *b = b.clone().rfc2307bis();
                }
                b.extra.extend(directory_lines);
            }),
        );
        if classic {
            for m in bench::classic::MAPS {
                builder = builder.statement(format!("provide map \"{m}\""));
            }
        }
        let mut a = builder
            .without_rpcbind()
            .without_ypldapd()
            .program(bins.join("ypldapd"))
            .timestamped_log()
            .ready(Ready::Started)
            .interval(3600)
            .start();
        println!(
            "slapd: {entries} entries loaded with slapadd -q and started in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        a.start_rpcbind();
        let t = Instant::now();
        a.start_ypldapd();
        let d = a.ypldapd();
        let (i, _) = d.wait_line("update 1: ", 0, Duration::from_secs(120));
        println!(
            "ypldapd: first update in {:.1} s: {}",
            t.elapsed().as_secs_f64(),
            d.line(i)
        );
        a.wait_registered(Duration::from_secs(20));
        let ports_a = in_ns(&a.ns, load::yp_ports).expect("ypldapd ports");
        let ports_b = in_ns(&b.ns, load::yp_ports).expect("ypserv ports");
        let group_search = if member_dns {
            member_dns::group_search()
        } else {
            format!("-b 'ou=Groups,{SUFFIX}' '(objectClass=posixGroup)' cn gidNumber memberUid")
        };
        if let Some(want) = dn_count {
            // What the compared ldapsearch fetches: every member DN.
            let got = a.ns.sh(&format!(
                "ldapsearch -x -LLL -o ldif-wrap=no -H ldap://127.0.0.1:389/ -D '{BIND_DN}' -w '{BIND_PW}' -E pr=1000/noprompt {group_search} | grep -c '^member: '"
            ));
            println!("ldapsearch of the groups: {} member values", got.trim());
            assert_eq!(
                got.trim(),
                want.to_string(),
                "member values ldapsearch gets"
            );
        }
        Worlds {
            a,
            b,
            ypserv,
            users: n,
            classic,
            group_search,
            ports_a,
            ports_b,
        }
    }

    /// ldapsearch of the searches ypldap-client makes; wall seconds.
    fn ldapsearch(&self) -> f64 {
        ldapsearch(&self.a.ns, self.classic, &self.group_search)
    }

    fn ns(&self, w: Who) -> &Namespace {
        if w == Who::Ypldapd {
            &self.a.ns
        } else {
            &self.b.ns
        }
    }

    fn ports(&self, w: Who) -> (u16, u16) {
        if w == Who::Ypldapd {
            self.ports_a
        } else {
            self.ports_b
        }
    }

    /// The server process of `w`.
    fn pid(&self, w: Who) -> u32 {
        if w == Who::Ypldapd {
            self.a.ypldapd().pid
        } else {
            self.ypserv.pid().expect("ypserv pid")
        }
    }

    /// Checks both serve the same users; prints the sizes. Returns the
    /// keys of passwd.byname and the bytes of all ypldapd's keys and values
    /// (every map it serves: the memory figures are against them).
    fn same_data(&self) -> (Vec<String>, usize) {
        let (pa, pb) = (self.ports_a, self.ports_b);
        let mut total_a = 0usize;
        let maps: Vec<&str> = if self.classic {
            bench::classic::MAPS.to_vec()
        } else {
            MapName::ALL.map(MapName::as_str).to_vec()
        };
        for &map in &maps {
            match nudged(&self.a.ns, pa.0, move || load::all(pa.1, DOMAIN, map)) {
                Ok(r) => total_a += r.bytes,
                // An older ypldapd (`--ypldapd-dir`) may not have the map.
                Err(e) if e.to_string().ends_with("ended with NoMap") => {
                    println!("ypldapd serves no {map}: {e}");
                }
                Err(e) => panic!("ALL {map}: {e}"),
            }
        }
        let (all_a, keys) = nudged(&self.a.ns, pa.0, move || {
            load::all_entries(pa.1, DOMAIN, "passwd.byname")
        })
        .expect("ALL passwd.byname");
        let all_b =
            in_ns(&self.b.ns, move || load::all(pb.1, DOMAIN, "passwd.byname")).expect("ALL");
        println!(
            "passwd.byname: ypldapd {} entries / {} bytes, ypserv {} entries / {} bytes; ypldapd's {} maps: {total_a} bytes of keys and values",
            all_a.entries,
            all_a.bytes,
            all_b.entries,
            all_b.bytes,
            maps.len()
        );
        assert_eq!(all_a.entries, self.users);
        assert_eq!(all_b.entries, self.users);
        // The groups: ypserv's are what ypldapd should make of them
        // (with member DNs, as `member_dns::resolved` expects).
        let groups = |ns: &Namespace, port: u16| {
            let mut e = in_ns(ns, move || load::all_entries(port, DOMAIN, "group.byname"))
                .expect("ALL group.byname")
                .1;
            e.sort();
            e
        };
        let (ga, gb) = (groups(&self.a.ns, pa.1), groups(&self.b.ns, pb.1));
        let differ = ga.iter().filter(|e| gb.binary_search(e).is_err()).count()
            + gb.iter().filter(|e| ga.binary_search(e).is_err()).count();
        println!(
            "group.byname: ypldapd {} entries, ypserv {} entries, {differ} entries in one only",
            ga.len(),
            gb.len()
        );
        let keys = keys
            .into_iter()
            .map(|(k, _)| String::from_utf8_lossy(&k).into_owned())
            .collect();
        (keys, total_a)
    }
}

fn main() {
    let args = parse_args();
    let started = Instant::now();
    let bins = bin_dir(&args);
    println!(
        "ypldap-bench: {} users, {} groups, {} rounds of {} s, {} in flight, {} refreshes, paced {} req/s",
        args.users, args.groups, args.rounds, args.secs, args.inflight, args.refreshes, args.rate
    );
    println!(
        "machine: {} CPUs, load average at start {}, binaries {}",
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
        load_avg(),
        bins.display()
    );
    let mut worlds = Worlds::start(&args, &bins);
    let (keys, total_a) = worlds.same_data();
    let spec = LoadSpec {
        domain: DOMAIN.into(),
        map: "passwd.byname".into(),
        keys,
        inflight: args.inflight,
        duration: Duration::from_secs_f64(args.secs),
        max_requests: 50_000_000,
        rate: None,
        timeout: Duration::from_millis(500),
        stop: None,
    };
    let mut figures = yp_rounds(&args, &worlds, &spec);
    let rss_steady1 = kib(worlds.pid(Who::Ypldapd), "VmRSS");
    let _ = worlds.a.stop_ypldapd(Signal::SIGTERM);
    cold_starts(&args, &mut worlds, &spec.keys[0], &mut figures);
    let refresh = refresh_cycles(&args, &mut worlds, &spec);
    summary(&args, started, &figures, &refresh, rss_steady1, total_a);
}

/// Cold starts, peer and project alternating: the two searches with
/// ldapsearch, against ypldapd started from nothing until a client gets
/// its first answer (rpcbind lists it and a MATCH is answered). ypldapd is
/// stopped at the end.
fn cold_starts(args: &Args, worlds: &mut Worlds, key: &str, f: &mut Figures) {
    println!(
        "\n== cold start: {} rounds, load average {}",
        args.rounds,
        load_avg()
    );
    for round in 0..args.rounds {
        let mut ldap = 0.0;
        let mut cold = 0.0;
        let mut cpu = (0.0, 0.0);
        let order = if round % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        for ours in order {
            if !ours {
                ldap = worlds.ldapsearch();
                continue;
            }
            let t0 = Instant::now();
            worlds.a.start_ypldapd();
            let k = key.to_owned();
            let answered = in_ns(&worlds.a.ns, move || {
                load::first_answer(DOMAIN, "passwd.byname", &k, Duration::from_secs(120))
            })
            .expect("ypldapd never answered");
            cold = answered.duration_since(t0).as_secs_f64();
            let d = worlds.a.ypldapd();
            cpu = (cpu_secs(client_pid(d)), cpu_secs(d.pid));
            let _ = worlds.a.stop_ypldapd(Signal::SIGTERM);
        }
        println!(
            "round {round} cold start: ldapsearch (both searches) {ldap:.2} s | ypldapd start to first answer {cold:.2} s (ratio {:.2}); CPU: ypldap-client {:.2} s, ypldapd {:.2} s  load {}",
            cold / ldap,
            cpu.0,
            cpu.1,
            load_avg()
        );
        f.entry((Who::Ypserv, "cold_s")).or_default().push(ldap);
        f.entry((Who::Ypldapd, "cold_s")).or_default().push(cold);
    }
}

/// The YP part: peer and project alternating round by round.
fn yp_rounds(args: &Args, worlds: &Worlds, spec: &LoadSpec) -> Figures {
    let mut f: Figures = BTreeMap::new();
    println!(
        "\n== YP: {} rounds, load average {}",
        args.rounds,
        load_avg()
    );
    for round in 0..args.rounds {
        let order = if round % 2 == 0 {
            [Who::Ypserv, Who::Ypldapd]
        } else {
            [Who::Ypldapd, Who::Ypserv]
        };
        for who in order {
            yp_round(args, worlds, spec, who, round, &mut f);
        }
    }
    f
}

/// One round against one server: MATCH over UDP and TCP, ALL alone and
/// beside a UDP nudge, ypcat.
fn yp_round(
    args: &Args,
    worlds: &Worlds,
    spec: &LoadSpec,
    who: Who,
    round: usize,
    f: &mut Figures,
) {
    let mut put = |k: &'static str, v: f64| f.entry((who, k)).or_default().push(v);
    let (ns, (udp, tcp)) = (worlds.ns(who), worlds.ports(who));
    let spid = worlds.pid(who);
    let s = spec.clone();
    let perf = match &args.perf {
        Some(file) if round == 0 => {
            Perf::record(spid, &format!("{}.udp-{}", file.display(), who.name()))
        }
        _ => None,
    };
    let c0 = cpu_secs(spid);
    let nv0 = preempted(spid);
    let r = in_ns(ns, move || load::udp_match(udp, &s, 1 + round as u64)).expect("udp");
    if let Some(p) = perf {
        p.stop();
    }
    let cpu_us = (cpu_secs(spid) - c0) * 1e6 / r.ok.max(1) as f64;
    let preempt = (preempted(spid) - nv0) as f64 / r.elapsed.as_secs_f64();
    put("udp_cpu", cpu_us);
    put("udp_preempt", preempt);
    let l = r.latencies();
    println!(
        "round {round} {:7} UDP MATCH: {:>8.0} req/s  p50 {:>7.1} us  p99 {:>7.1} us  p99.9 {:>7.1} us  server CPU {cpu_us:.1} us/req, preempted {preempt:.0}/s  ({} lost, {} bad)  load {}",
        who.name(),
        r.rps(),
        l.q_us(0.5),
        l.q_us(0.99),
        l.q_us(0.999),
        r.lost,
        r.bad,
        load_avg()
    );
    put("udp_rps", r.rps());
    put("udp_p50", l.q_us(0.5));
    put("udp_p99", l.q_us(0.99));
    put("udp_p999", l.q_us(0.999));
    if who == Who::Ypldapd {
        // The loopback limit, right after, with the same generator: a
        // responder that parses and looks up nothing.
        let s = spec.clone();
        let limit = in_ns(ns, move || {
            let stop = Arc::new(AtomicBool::new(false));
            let (port, h) = load::fixed_responder(stop.clone())?;
            let r = load::udp_match(port, &s, 1 + round as u64);
            stop.store(true, Ordering::Relaxed);
            let _ = h.join();
            r
        })
        .expect("limit");
        let ll = limit.latencies();
        println!(
            "round {round} limit   UDP MATCH: {:>8.0} req/s  p50 {:>7.1} us  p99 {:>7.1} us  (fixed-reply responder, recvmmsg/sendmmsg: the loopback limit; ypldapd {:.2}x of it)",
            limit.rps(),
            ll.q_us(0.5),
            ll.q_us(0.99),
            r.rps() / limit.rps().max(1.0)
        );
        put("limit_rps", limit.rps());
        put("limit_ratio", r.rps() / limit.rps().max(1.0));
    }
    let s = spec.clone();
    let c0 = cpu_secs(spid);
    let r = in_ns(ns, move || load::tcp_match(tcp, &s, 7 + round as u64)).expect("tcp");
    let cpu_us = (cpu_secs(spid) - c0) * 1e6 / r.ok.max(1) as f64;
    put("tcp_cpu", cpu_us);
    let l = r.latencies();
    println!(
        "round {round} {:7} TCP MATCH: {:>8.0} req/s  p50 {:>7.1} us  p99 {:>7.1} us  p99.9 {:>7.1} us  server CPU {cpu_us:.1} us/req",
        who.name(),
        r.rps(),
        l.q_us(0.5),
        l.q_us(0.99),
        l.q_us(0.999)
    );
    put("tcp_rps", r.rps());
    put("tcp_p99", l.q_us(0.99));
    // As is: the ALL alone, nothing else talking to the server.
    let plain = in_ns(ns, move || {
        load::all_stall(tcp, DOMAIN, "passwd.byname", Duration::from_secs(3))
    });
    let plain = match plain {
        Ok((r, _)) => format!("{:.1} ms", ms(r.elapsed)),
        Err(e) => {
            put("all_stalls", 1.0);
            format!("{e}")
        }
    };
    // With a UDP NULL every ms on the side (both servers alike).
    let r = nudged(ns, udp, move || load::all(tcp, DOMAIN, "passwd.byname")).expect("all");
    let (cat, lines) = {
        let stop = Arc::new(AtomicBool::new(false));
        let st = stop.clone();
        let n = spawn_in(ns, move || load::nudge(udp, Duration::from_millis(1), &st));
        let c = ypcat(ns, "passwd.byname");
        stop.store(true, Ordering::Relaxed);
        let _ = n.join();
        c
    };
    assert_eq!(lines, worlds.users, "ypcat lines");
    println!(
        "round {round} {:7} ALL passwd.byname: alone: {plain}; with 1 kHz UDP NULL beside: raw client {:>7.1} ms, ypcat {:>7.1} ms",
        who.name(),
        ms(r.elapsed),
        cat * 1e3
    );
    put("all_ms", ms(r.elapsed));
    put("ypcat_ms", cat * 1e3);
}

/// One quiet refresh, measured from outside.
struct Quiet {
    /// `ldapsearch` of the same searches, seconds.
    ldapsearch: f64,
    /// The refresh, "update N started" to the new maps answered, seconds.
    wall: f64,
    /// The last entry's arrival to the new maps answered, ms.
    swap_ms: f64,
    /// Resident memory before the refresh and its peak during it, KiB.
    rss_steady: u64,
    rss_peak: u64,
    /// ypldapd's CPU seconds for the update itself: from "update N
    /// started" to the new maps, less what the bench's own ORDER poll
    /// (one request a millisecond, the way the new maps are seen) costs
    /// it, measured while it waited for the update to start.
    update_cpu: f64,
}

/// Latencies of one loaded cycle: (idle, during the refresh).
type Window = (Samples, Samples);

/// What the refresh cycles measured.
struct Refresh {
    quiet: Vec<Quiet>,
    /// Shared CPUs: ypldapd's windows and its lost requests.
    loaded: Vec<(Samples, Samples, u64)>,
    /// ypserv's windows beside `loaded`.
    controls: Vec<Window>,
    /// Pinned: ypldapd's windows and ypserv's.
    pinned: Vec<(Window, Window)>,
    rss_steady2: u64,
    helpers: Vec<String>,
}

/// ypldapd's log position and the update number, carried from cycle to
/// cycle.
struct Cursor {
    idx: usize,
    update: u64,
}

/// The refresh part: ypldapd restarted with a short interval; quiet,
/// loaded and pinned cycles in turn.
fn refresh_cycles(args: &Args, worlds: &mut Worlds, spec: &LoadSpec) -> Refresh {
    let ldap_first = worlds.ldapsearch();
    let interval = (ldap_first * 2.0 + 4.0).ceil().max(6.0) as u64;
    println!(
        "\n== refresh: ldapsearch warm-up {:.2} s; ypldapd restarted with interval {interval} s; load average {}",
        ldap_first,
        load_avg()
    );
    worlds.a.config.interval = u32::try_from(interval).expect("interval");
    if let Some(n) = args.state {
        println!(
            "--state {n}: a state directory, {n} users changed before each refresh; each full read is compared with the kept entries and the changes served as they arrive, so the refresh's 'wall' and 'last entry -> maps served' measure when the first change is served, not a build"
        );
        worlds
            .a
            .config
            .statements
            .push("state directory \"/run/ypldap-bench\"".to_owned());
    }
    worlds.a.start_ypldapd();
    let (idx, _) = worlds
        .a
        .ypldapd()
        .wait_line("update 1: ", 0, Duration::from_secs(120));
    worlds.a.wait_registered(Duration::from_secs(20));
    worlds.ports_a = in_ns(&worlds.a.ns, load::yp_ports).expect("ypldapd ports");
    let mut at = Cursor { idx, update: 1 };
    let mut r = Refresh {
        quiet: Vec::new(),
        loaded: Vec::new(),
        controls: Vec::new(),
        pinned: Vec::new(),
        rss_steady2: 0,
        helpers: Vec::new(),
    };
    for cycle in 0..3 * args.refreshes {
        at.update += 1;
        std::thread::sleep(Duration::from_millis(1000));
        if let Some(n) = args.state {
            change_shells(worlds, args.users, n, cycle);
        }
        let steady = kib(worlds.pid(Who::Ypldapd), "VmRSS");
        if cycle % 3 == 0 {
            // Quiet: ldapsearch, then the refresh alone.
            r.quiet
                .push(quiet_cycle(args, worlds, cycle, interval, &mut at, steady));
        } else {
            let pin = cycle % 3 == 2;
            let (ypldapd, control) = loaded_cycle(args, worlds, spec, pin, interval, &mut at);
            if pin {
                r.pinned.push(((ypldapd.0, ypldapd.1), control));
            } else {
                r.loaded.push(ypldapd);
                r.controls.push(control);
            }
        }
    }
    std::thread::sleep(Duration::from_millis(1000));
    let d = worlds.a.ypldapd();
    r.rss_steady2 = kib(d.pid, "VmRSS");
    r.helpers = children(d.pid)
        .into_iter()
        .map(|p| {
            format!(
                "{} RSS {}, peak {}",
                comm(p).unwrap_or_default(),
                status_field(p, "VmRSS").unwrap_or_default(),
                status_field(p, "VmHWM").unwrap_or_default()
            )
        })
        .collect();
    let _ = worlds.a.stop_ypldapd(Signal::SIGTERM);
    r
}

/// `--state`: `n` users' login shells changed (the next `n` users each
/// cycle), for the next refresh to serve.
fn change_shells(worlds: &mut Worlds, users: usize, n: usize, cycle: usize) {
    let ldif: String = (0..n.min(users))
        .map(|i| {
            let user = (cycle * n + i) % users + 1;
            ldif::shell_change(&format!("user{user:05}"), &format!("/bin/sh{cycle}"))
        })
        .collect();
    worlds.a.change_directory("ldapmodify", &ldif);
}

/// The pid of ypldapd's reader.
fn client_pid(d: &tests::peers::Ypldapd) -> u32 {
    children(d.pid)
        .into_iter()
        .find(|&p| comm(p).as_deref() == Some("ypldap-client"))
        .expect("ypldap-client pid")
}

/// A quiet cycle: ldapsearch of the same two searches, then one refresh
/// alone, timed from the outside; CPU and memory of each side.
fn quiet_cycle(
    args: &Args,
    worlds: &mut Worlds,
    cycle: usize,
    interval: u64,
    at: &mut Cursor,
    steady: u64,
) -> Quiet {
    let update = at.update;
    let slapd_pid = worlds.a.slapd().pid().expect("slapd pid");
    let (s0, l0) = (cpu_secs(slapd_pid), children_cpu_secs());
    let ldap = worlds.ldapsearch();
    let ldap_end = Instant::now();
    let (ldap_slapd, ldap_cli) = (cpu_secs(slapd_pid) - s0, children_cpu_secs() - l0);
    let d = worlds.a.ypldapd();
    let client_pid = client_pid(d);
    let (s1, c1, p1) = (cpu_secs(slapd_pid), cpu_secs(client_pid), cpu_secs(d.pid));
    let polled_from = Instant::now();
    reset_peak(d.pid);
    let perf = match (&args.perf, cycle) {
        (Some(file), 0) => Perf::record(d.pid, &format!("{}.refresh", file.display())),
        _ => None,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let st = stop.clone();
    let port = worlds.ports_a.0;
    let poller = spawn_in(&worlds.a.ns, move || {
        let mut p = OrderProbe::new(port, DOMAIN, "passwd.byname").expect("probe");
        let first = p.order();
        while !st.load(Ordering::Relaxed) {
            let o = p.order();
            if o.is_some() && o != first {
                return Some(Instant::now());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        None
    });
    let (i0, t_start) = d.wait_line(
        &format!("update {update} started"),
        at.idx,
        Duration::from_secs(interval * 2 + 60),
    );
    // What the ORDER poll alone costs ypldapd a second, while it waits.
    let (p_started, started_seen) = (cpu_secs(d.pid), Instant::now());
    let poll_cost = (p_started - p1) / started_seen.duration_since(polled_from).as_secs_f64();
    let (_, t_read) = d.wait_line("read 1 directories", i0, Duration::from_secs(120));
    let (i1, t_sum) = d.wait_line(&format!("update {update}: "), i0, Duration::from_secs(120));
    at.idx = i1;
    let _ = wait_for(Duration::from_secs(5), || {
        poller.is_finished().then_some(())
    });
    stop.store(true, Ordering::Relaxed);
    let t_seen = poller.join().expect("poller");
    if let Some(p) = perf {
        p.stop();
    }
    let peak = kib(d.pid, "VmHWM");
    let (r_slapd, r_cli, r_par) = (
        cpu_secs(slapd_pid) - s1,
        cpu_secs(client_pid) - c1,
        cpu_secs(d.pid) - p1,
    );
    let update_cpu = (p1 + r_par - p_started)
        - poll_cost * Instant::now().duration_since(started_seen).as_secs_f64();
    let overlap = t_start < ldap_end;
    let t_seen = t_seen.unwrap_or(t_sum);
    let wall = t_seen.duration_since(t_start).as_secs_f64();
    let swap = t_seen.saturating_duration_since(t_read);
    let build = t_sum.saturating_duration_since(t_read);
    println!(
        "refresh {update}: ldapsearch {ldap:.2} s | ypldapd {wall:.2} s (ratio {:.2}), last entry -> maps served {:.0} ms (log line {:.0} ms), RSS steady {} MiB, peak {} MiB ({:.2}x){}  load {}",
        wall / ldap,
        ms(swap),
        ms(build),
        steady / 1024,
        peak / 1024,
        peak as f64 / steady as f64,
        if overlap {
            " [overlapped ldapsearch!]"
        } else {
            ""
        },
        load_avg()
    );
    println!("  {}", d.line(i1));
    println!(
        "  CPU seconds: ldapsearch run: slapd {ldap_slapd:.2} + ldapsearch {ldap_cli:.2} = {:.2}; refresh: slapd {r_slapd:.2} + ypldap-client {r_cli:.2} + ypldapd {r_par:.2} = {:.2}; ypldapd for the update alone {update_cpu:.2} (its ORDER poll costs {:.3} a second)",
        ldap_slapd + ldap_cli,
        r_slapd + r_cli + r_par,
        poll_cost
    );
    Quiet {
        ldapsearch: ldap,
        wall,
        swap_ms: ms(swap),
        rss_steady: steady,
        rss_peak: peak,
        update_cpu,
    }
}

/// A loaded cycle: paced MATCH from now until just after the swap, against
/// ypldapd and, as the control, against ypserv in the same window;
/// `pin`: slapd and the reader on the last CPU, the servers and load
/// generators on CPU 0. Returns ypldapd's (idle, during, lost) and
/// ypserv's (idle, during).
fn loaded_cycle(
    args: &Args,
    worlds: &mut Worlds,
    spec: &LoadSpec,
    pin: bool,
    interval: u64,
    at: &mut Cursor,
) -> ((Samples, Samples, u64), Window) {
    let update = at.update;
    let last_cpu = cpus() - 1;
    let stop = Arc::new(AtomicBool::new(false));
    let s = LoadSpec {
        rate: Some(args.rate),
        duration: Duration::from_secs(interval * 2 + 120),
        stop: Some(stop.clone()),
        ..spec.clone()
    };
    // The control: ypserv, idle the whole time, under the same paced
    // load in the same window. What it suffers during the refresh
    // is the machine's (the refresh's CPU on shared cores, the load
    // generators' own scheduling), not the server's.
    let sb = s.clone();
    let slapd_pid = worlds.a.slapd().pid().expect("slapd pid");
    let (ypldapd_pid, ypserv_pid) = (worlds.pid(Who::Ypldapd), worlds.pid(Who::Ypserv));
    if pin {
        set_cpu(slapd_pid, Some(last_cpu));
        set_cpu(client_pid(worlds.a.ypldapd()), Some(last_cpu));
        set_cpu(ypldapd_pid, Some(0));
        set_cpu(ypserv_pid, Some(0));
    }
    let (port_a, port_b) = (worlds.ports_a.0, worlds.ports_b.0);
    let load = spawn_in(&worlds.a.ns, move || {
        set_cpu(0, pin.then_some(0));
        load::udp_match(port_a, &s, 99)
    });
    let control = spawn_in(&worlds.b.ns, move || {
        set_cpu(0, pin.then_some(0));
        load::udp_match(port_b, &sb, 98)
    });
    let d = worlds.a.ypldapd();
    let (i0, t_start) = d.wait_line(
        &format!("update {update} started"),
        at.idx,
        Duration::from_secs(interval * 2 + 60),
    );
    let (i1, t_sum) = d.wait_line(&format!("update {update}: "), i0, Duration::from_secs(120));
    at.idx = i1;
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    let r: LoadResult = load.join().expect("load").expect("udp");
    let c: LoadResult = control.join().expect("control").expect("udp");
    if pin {
        for p in [slapd_pid, ypldapd_pid] {
            set_cpu(p, None);
        }
        for p in children(ypldapd_pid).into_iter().chain([ypserv_pid]) {
            set_cpu(p, None);
        }
    }
    let windows = |r: &LoadResult| {
        let t0 = r.started.expect("started");
        let off = |t: Instant| t.saturating_duration_since(t0).as_nanos() as u64;
        (
            r.latencies_between(300_000_000, off(t_start)),
            r.latencies_between(off(t_start), off(t_sum)),
        )
    };
    let (idle, during) = windows(&r);
    let (c_idle, c_during) = windows(&c);
    let show = |s: &Samples| {
        format!(
            "p50 {:.0} us p99 {:.0} us p99.9 {:.0} us max {:.0} us ({} requests)",
            s.q_us(0.5),
            s.q_us(0.99),
            s.q_us(0.999),
            s.max_us(),
            s.len()
        )
    };
    println!(
        "refresh {update} under {} req/s{}: idle {}; during {}; p99 ratio {:.2}; lost {}",
        args.rate,
        if pin { ", pinned" } else { "" },
        show(&idle),
        show(&during),
        during.q_us(0.99) / idle.q_us(0.99),
        r.lost
    );
    println!(
        "  control, ypserv in the same window: idle {}; during {}; p99 ratio {:.2}; lost {}",
        show(&c_idle),
        show(&c_during),
        c_during.q_us(0.99) / c_idle.q_us(0.99),
        c.lost
    );
    ((idle, during, r.lost), (c_idle, c_during))
}

/// The summary table: medians over rounds and cycles, ratios, targets.
fn summary(
    args: &Args,
    started: Instant,
    f: &Figures,
    refresh: &Refresh,
    rss_steady1: u64,
    total_a: usize,
) {
    let med = |w: Who, k: &str| median(f.get(&(w, k)).map_or(&[][..], Vec::as_slice));
    let ratios = |k: &str, inverse: bool| -> (f64, Vec<f64>) {
        let a = f.get(&(Who::Ypldapd, k)).cloned().unwrap_or_default();
        let b = f.get(&(Who::Ypserv, k)).cloned().unwrap_or_default();
        let v: Vec<f64> = a
            .iter()
            .zip(&b)
            .map(|(x, y)| if inverse { y / x } else { x / y })
            .collect();
        (median(&v), v)
    };
    println!(
        "\n== summary ({:.0} s in all, load average now {})",
        started.elapsed().as_secs_f64(),
        load_avg()
    );
    println!("figure | ypserv / ldapsearch | ypldapd | ratio (per round) | target");
    let row = |name: &str, k: &str, unit: &str, inverse: bool, target: &str| {
        let (r, v) = ratios(k, inverse);
        println!(
            "{name} | {:.1} {unit} | {:.1} {unit} | {r:.2} ({}) | {target}",
            med(Who::Ypserv, k),
            med(Who::Ypldapd, k),
            fmt_v(&v)
        );
    };
    row("UDP MATCH req/s", "udp_rps", "req/s", false, ">= 2.0");
    println!(
        "UDP MATCH req/s against the loopback limit | limit {:.0} req/s | {:.0} req/s | {:.2} ({}) | >= 0.8",
        med(Who::Ypldapd, "limit_rps"),
        med(Who::Ypldapd, "udp_rps"),
        med(Who::Ypldapd, "limit_ratio"),
        fmt_v(
            f.get(&(Who::Ypldapd, "limit_ratio"))
                .map_or(&[][..], Vec::as_slice)
        )
    );
    row(
        "UDP MATCH server CPU/req (inverse)",
        "udp_cpu",
        "us",
        true,
        "-",
    );
    row(
        "UDP MATCH server preempted (1/s)",
        "udp_preempt",
        "/s",
        false,
        "-",
    );
    row("UDP MATCH p50", "udp_p50", "us", false, "-");
    row("UDP MATCH p99", "udp_p99", "us", false, "<= 1.0");
    row("UDP MATCH p99.9", "udp_p999", "us", false, "-");
    row("TCP MATCH req/s", "tcp_rps", "req/s", false, "-");
    row("TCP MATCH p99", "tcp_p99", "us", false, "-");
    row(
        "TCP MATCH server CPU/req (inverse)",
        "tcp_cpu",
        "us",
        true,
        "-",
    );
    let stalls = |w: Who| f.get(&(w, "all_stalls")).map_or(0, Vec::len);
    println!(
        "ALL passwd.byname alone: stalled (no byte for 3 s) | {} of {} | {} of {} | - | must complete",
        stalls(Who::Ypserv),
        args.rounds,
        stalls(Who::Ypldapd),
        args.rounds
    );
    row(
        "ALL passwd.byname raw (UDP nudge)",
        "all_ms",
        "ms",
        false,
        "<= 1.0",
    );
    row(
        "ypcat passwd.byname (UDP nudge)",
        "ypcat_ms",
        "ms",
        false,
        "<= 1.0",
    );
    row(
        "cold start to first answer (vs ldapsearch of the two searches)",
        "cold_s",
        "s",
        false,
        "<= 1.2",
    );
    refresh_summary(args, refresh, rss_steady1, total_a);
}

/// The refresh rows of the summary.
fn refresh_summary(args: &Args, r: &Refresh, rss_steady1: u64, total_a: usize) {
    let q = |f: fn(&Quiet) -> f64| -> Vec<f64> { r.quiet.iter().map(f).collect() };
    let refresh_ratios: Vec<f64> = q(|x| x.wall / x.ldapsearch);
    println!(
        "refresh wall (s) | {:.2} | {:.2} | {:.2} ({}) | <= 1.5",
        median(&q(|x| x.ldapsearch)),
        median(&q(|x| x.wall)),
        median(&refresh_ratios),
        fmt_v(&refresh_ratios)
    );
    let swaps: Vec<f64> = q(|x| x.swap_ms);
    println!(
        "last entry -> new maps served (ms) | - | {:.0} ({}) | - | <= 150",
        median(&swaps),
        fmt_v(&swaps)
    );
    let cpu = q(|x| x.update_cpu);
    println!(
        "ypldapd CPU per refresh, the update alone (s) | - | {:.2} ({}) | - | <= half of the code before issue 14 (--ypldapd-dir)",
        median(&cpu),
        fmt_v(&cpu)
    );
    let steady: Vec<f64> = q(|x| x.rss_steady as f64);
    let peaks: Vec<f64> = q(|x| x.rss_peak as f64);
    let kv = total_a as f64 / 1024.0;
    println!(
        "RSS steady after the first load (MiB) | - | {:.1} | {:.2} x {:.1} MiB of keys+values | <= 2.5",
        rss_steady1 as f64 / 1024.0,
        rss_steady1 as f64 / kv,
        kv / 1024.0
    );
    println!(
        "RSS steady after the refreshes (MiB) | - | {:.1} | {:.2} x keys+values | <= 2.5",
        r.rss_steady2 as f64 / 1024.0,
        r.rss_steady2 as f64 / kv
    );
    let pr: Vec<f64> = peaks.iter().zip(&steady).map(|(p, s)| p / s).collect();
    let pr1: Vec<f64> = peaks.iter().map(|p| p / rss_steady1 as f64).collect();
    println!(
        "RSS peak in refresh (MiB) | - | {:.1} | {:.2} ({}) x first steady; {:.2} ({}) x RSS just before | <= 2.0",
        median(&peaks) / 1024.0,
        median(&pr1),
        fmt_v(&pr1),
        median(&pr),
        fmt_v(&pr)
    );
    let shared: Vec<_> = r.loaded.iter().map(|(i, d, _)| (i, d)).collect();
    let shared_control: Vec<_> = r.controls.iter().map(|(i, d)| (i, d)).collect();
    let pinned_ypldapd: Vec<_> = r.pinned.iter().map(|(y, _)| (&y.0, &y.1)).collect();
    let pinned_control: Vec<_> = r.pinned.iter().map(|(_, c)| (&c.0, &c.1)).collect();
    p99_row(
        &format!("MATCH p99 during refresh (us, {} req/s)", args.rate),
        &shared,
        "<= 2.0",
    );
    p99_row(
        "  control: ypserv's MATCH p99 in the same windows",
        &shared_control,
        "-",
    );
    p99_row(
        "MATCH p99 during refresh, pinned (slapd and reader on their own CPU)",
        &pinned_ypldapd,
        "<= 2.0",
    );
    p99_row(
        "  control: ypserv pinned beside ypldapd",
        &pinned_control,
        "<= 2.0",
    );
    println!("helpers at the end: {}", r.helpers.join("; "));
}

/// Per-round figures, as listed beside a median.
fn fmt_v(v: &[f64]) -> String {
    v.iter()
        .map(|x| format!("{x:.2}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A summary row of p99 latency, idle against during a refresh, over the
/// (idle, during) samples of each cycle.
fn p99_row(name: &str, cycles: &[(&Samples, &Samples)], target: &str) {
    let idle: Vec<f64> = cycles.iter().map(|c| c.0.q_us(0.99)).collect();
    let during: Vec<f64> = cycles.iter().map(|c| c.1.q_us(0.99)).collect();
    let ratios: Vec<f64> = during.iter().zip(&idle).map(|(d, i)| d / i).collect();
    println!(
        "{name} | idle {:.0} | {:.0} | {:.2} ({}) | {target}",
        median(&idle),
        median(&during),
        median(&ratios),
        fmt_v(&ratios)
    );
}
