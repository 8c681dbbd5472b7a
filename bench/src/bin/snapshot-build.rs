//! The parent's CPU work for one refresh, alone, on the benchmark's data,
//! in the slices ypldapd's event loop does it: per batch, decoding the JSON
//! ypldap-client sends and adding the entries to the
//! [`SnapshotBuilder`], then one slice of sorting; after the last batch,
//! the slices that finish the snapshot. Prints the longest slice of each
//! kind (what a YP request can wait behind), the total, and the time from
//! the last entry to the finished snapshot. For profiling too
//! (`valgrind --tool=callgrind snapshot-build`).
//!
//! usage: [UNTUNED=1] [SHUFFLE=1] [MEMBER_DNS=1] [HOSTS=H] [NETGROUPS=G]
//!        snapshot-build [USERS [GROUPS [RUNS]]]
//!
//! `HOSTS` and `NETGROUPS` add that many hosts and netgroups
//! (`bench::classic`) to every refresh, served in `hosts.*` and the three
//! netgroup maps.
//!
//! Also prints the resident memory at each step, the previous snapshot
//! kept live until the new one is built (as the daemon does). ypldapd
//! tunes glibc's malloc and trims after each swap
//! (`privsep::memory`); `UNTUNED` shows what happens without. The
//! generated directory returns entries in key order, as directories that
//! hand out names and ids in creation order tend to; `SHUFFLE` sends them
//! in a scrambled order instead, the sorting's worst case.

use std::sync::Arc;
use std::time::Instant;

use entry_rules::records::{Record, RecordKind};
use entry_rules::{Group, Origin, Text, User};
use ipc_proto::codec;
use ipc_proto::{BatchWriter, ClientToParent};
use yp_proto::build::{RecordPlan, SearchPlan};
use yp_proto::{BuildOptions, Snapshot, SnapshotBuilder, Step};

/// As ypldapd's event loop (`BUILD_STEPS_PER_TURN`).
const STEPS: usize = 512;

fn main() {
    let tuned = std::env::var_os("UNTUNED").is_none();
    if tuned {
        privsep::memory::tune_allocator();
    }
    let a: Vec<usize> = std::env::args()
        .skip(1)
        .map(|s| s.parse().expect("number"))
        .collect();
    let (n, m, runs) = (
        a.first().copied().unwrap_or(100_000),
        a.get(1).copied().unwrap_or(10_000),
        a.get(2).copied().unwrap_or(3),
    );
    let (users, groups) = tests::ldif::generate(n, m);
    let origin = |dn: String| Origin {
        dn: dn.into(),
        uuid: None,
    };
    let users: Vec<User<'static>> = users
        .into_iter()
        .map(|u| User {
            origin: origin(format!("uid={},ou=People,{}", u.name, tests::ldif::SUFFIX)),
            name: u.name.into(),
            passwd: u.password.into(),
            uid: u.uid,
            gid: u.gid,
            class: "".into(),
            change: "0".into(),
            expire: "0".into(),
            gecos: u.gecos.into(),
            home: u.home.into(),
            shell: u.shell.into(),
            shadow: Default::default(),
            disabled: false,
        })
        .collect();
    // MEMBER_DNS=1: every group lists members as DNs (10 to 200 users, and
    // every tenth group one nested group), as RFC 2307bis, 389-ds and AD do.
    let member_dns = std::env::var_os("MEMBER_DNS").is_some();
    let user_dn = |i: usize| format!("uid=user{:05},ou=People,{}", i % n + 1, tests::ldif::SUFFIX);
    let groups: Vec<Group<'static>> = groups
        .into_iter()
        .enumerate()
        .map(|(j, g)| {
            let (members, dns) = if member_dns {
                let count = 10 + (j * 7919) % 191;
                let mut dns: Vec<String> = (0..count).map(|k| user_dn(j * 37 + k * 101)).collect();
                if j % 10 == 9 {
                    dns.push(format!(
                        "cn=group{:04},ou=Groups,{}",
                        j - 8,
                        tests::ldif::SUFFIX
                    ));
                }
                (Vec::new(), dns)
            } else {
                (g.members, Vec::new())
            };
            Group {
                origin: origin(format!("cn={},ou=Groups,{}", g.name, tests::ldif::SUFFIX)),
                name: g.name.into(),
                passwd: "*".into(),
                gid: g.gid,
                members: members.into_iter().map(Into::into).collect(),
                member_dns: dns.into_iter().map(Into::into).collect(),
            }
        })
        .collect();
    let (mut users, mut groups) = (users, groups);
    if std::env::var_os("SHUFFLE").is_some() {
        scramble(&mut users);
        scramble(&mut groups);
    }
    // Batches as ypldap-client sends them (about 8 KiB of JSON each).
    let mut batches = Vec::new();
    let mut w = BatchWriter::new(
        &ClientToParent::Users {
            update: 1,
            entries: Vec::new(),
        },
        8 * 1024,
    );
    for u in &users {
        batches.extend(w.push(u).expect("fits"));
    }
    batches.extend(w.take());
    let mut w = BatchWriter::new(
        &ClientToParent::Groups {
            update: 1,
            entries: Vec::new(),
        },
        8 * 1024,
    );
    for g in &groups {
        batches.extend(w.push(g).expect("fits"));
    }
    batches.extend(w.take());
    let count = |var: &str| {
        std::env::var(var)
            .ok()
            .map_or(0, |v| v.parse::<usize>().expect("a number"))
    };
    let (hosts, netgroups) = (count("HOSTS"), count("NETGROUPS"));
    let records = classic_records(hosts, netgroups, n);
    let mut w = BatchWriter::new(
        &ClientToParent::Records {
            update: 1,
            entries: Vec::new(),
        },
        8 * 1024,
    );
    for r in &records {
        batches.extend(w.push(r).expect("fits"));
    }
    batches.extend(w.take());
    let plan = Arc::new(classic_plan());
    let bytes: usize = batches.iter().map(Vec::len).sum();
    println!(
        "{n} users, {m} groups, {hosts} hosts, {netgroups} netgroups: {} batches, {bytes} bytes of JSON",
        batches.len()
    );
    let status_mib = |field: &str| {
        tests::status_field(std::process::id(), field)
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0)
            / 1024
    };
    let rss = || status_mib("VmRSS");
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    // As in ypldapd: the previous snapshot stays live until the new one is
    // built and swapped in, and sizes the next builder.
    let mut current: Option<Snapshot> = None;
    println!(
        "RSS before the first run: {} MiB (data generated and encoded)",
        rss()
    );
    for run in 0..runs {
        let rss_before = rss();
        // Resets VmHWM to the current RSS (proc(5), clear_refs).
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let started = Instant::now();
        let mut builder =
            SnapshotBuilder::new("bench.test", BuildOptions::default(), current.as_ref())
                .with_records(Arc::clone(&plan));
        let (mut batch_max, mut batch_total) = (0.0f64, 0.0f64);
        let mut decode_total = 0.0f64;
        let (mut step_max, mut steps) = (0.0f64, 0usize);
        let mut receiving_sort = 0.0f64;
        for b in &batches {
            let t = Instant::now();
            let msg = codec::decode::<ClientToParent<'_>>(b, 0).expect("decode");
            decode_total += ms(t.elapsed());
            match msg {
                ClientToParent::Users { entries, .. } => builder.add_users(&entries),
                ClientToParent::Groups { entries, .. } => builder.add_groups(&entries),
                ClientToParent::Records { entries, .. } => builder.add_records(&entries),
                _ => unreachable!(),
            }
            let took = ms(t.elapsed());
            batch_max = batch_max.max(took);
            batch_total += took;
            // ypldapd reads the next batch only when the sorting has
            // caught up.
            loop {
                let t = Instant::now();
                let step = builder.step(STEPS);
                let took = ms(t.elapsed());
                step_max = step_max.max(took);
                receiving_sort += took;
                steps += 1;
                if step != Step::Busy {
                    break;
                }
            }
        }
        let last_entry = Instant::now();
        builder.end_of_entries(1);
        let mut finish_max = 0.0f64;
        let mut finish_steps = 0;
        loop {
            let t = Instant::now();
            let step = builder.step(STEPS);
            finish_max = finish_max.max(ms(t.elapsed()));
            finish_steps += 1;
            if step == Step::Ready {
                break;
            }
        }
        let (snap, rep) = builder.finish();
        let ready = last_entry.elapsed();
        let t = Instant::now();
        let old = current.replace(snap);
        drop(old);
        if tuned {
            privsep::memory::release_free_memory();
        }
        let free_snap = t.elapsed();
        println!(
            "run {run}: {} users kept; per batch (decode + add) max {batch_max:.2} ms, total {batch_total:.1} ms (decode {decode_total:.1} ms); sorting slices while receiving: {steps}, longest {step_max:.2} ms, total {receiving_sort:.1} ms",
            rep.users_kept
        );
        println!(
            "run {run}: last entry -> snapshot ready {:.1} ms in {finish_steps} slices, longest {finish_max:.2} ms; whole run {:.1} ms; freeing the old snapshot {:.1} ms",
            ms(ready),
            ms(started.elapsed()),
            ms(free_snap)
        );
        let keys_values = current.as_ref().map_or(0, Snapshot::map_bytes) / (1 << 20);
        println!(
            "run {run}: RSS before {rss_before} MiB, peak while building {} MiB, after the swap {} MiB (maps: {keys_values} MiB of keys and values, snapshot {} MiB)",
            status_mib("VmHWM"),
            rss(),
            current.as_ref().map_or(0, Snapshot::memory_bytes) >> 20
        );
    }
}

/// The records ypldap-client sends for `bench::classic`'s hosts and
/// netgroups (searches 0 and 1 of [`classic_plan`]).
fn classic_records(hosts: usize, netgroups: usize, users: usize) -> Vec<Record<'static>> {
    let origin = |dn: String| Origin {
        dn: dn.into(),
        uuid: None,
    };
    let text = |s: &String| Text::from(s.clone());
    let suffix = tests::ldif::SUFFIX;
    let mut out: Vec<Record<'static>> = bench::classic::hosts(hosts)
        .iter()
        .map(|h| Record {
            origin: origin(format!(
                "cn={},{},{suffix}",
                h.name,
                bench::classic::HOSTS_OU
            )),
            search: 0,
            values: vec![vec![text(&h.name), text(&h.alias)], vec![text(&h.address)]],
        })
        .collect();
    out.extend(
        bench::classic::netgroups(netgroups, users, hosts)
            .iter()
            .map(|g| Record {
                origin: origin(format!(
                    "cn={},{},{suffix}",
                    g.name,
                    bench::classic::NETGROUPS_OU
                )),
                search: 1,
                values: vec![
                    vec![text(&g.name)],
                    g.triples.iter().map(text).collect(),
                    g.members.iter().map(text).collect(),
                ],
            }),
    );
    out
}

/// Hosts (search 0) into `hosts.*`, netgroups (search 1) into the three
/// netgroup maps.
fn classic_plan() -> RecordPlan {
    let search = |kind: RecordKind| SearchPlan::of_kind(kind, |_| true);
    RecordPlan {
        searches: vec![search(RecordKind::Hosts), search(RecordKind::Netgroup)],
    }
}

/// A fixed pseudo-random permutation (Fisher-Yates with an LCG), so runs
/// are comparable.
fn scramble<T>(items: &mut [T]) {
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    for i in (1..items.len()).rev() {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let j = (x >> 33) as usize % (i + 1);
        items.swap(i, j);
    }
}
