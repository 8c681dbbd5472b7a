//! The parent's CPU work for one refresh, alone, on the benchmark's data:
//! decoding the JSON batches ypldap-client sends, building the snapshot
//! (`Snapshot::build`, on the event loop in ypldapd), and freeing the
//! entries. For profiling (`valgrind --tool=callgrind snapshot-build`).
//!
//! usage: [TRIM=1] snapshot-build [USERS [GROUPS [RUNS]]]
//!
//! Also prints the resident memory at each step, the previous snapshot
//! kept live until the new one is built (as the daemon does); with `TRIM`
//! set, calls `malloc_trim(0)` after each swap to show what glibc keeps.

use std::time::Instant;

use ipc_proto::codec;
use ipc_proto::messages::{ClientToParent, GroupEntry, UserEntry};
use ypldapd::yp::Snapshot;

fn main() {
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
    let users: Vec<UserEntry> = users
        .into_iter()
        .map(|u| UserEntry {
            name: u.name,
            passwd: u.password,
            uid: u.uid,
            gid: u.gid,
            class: String::new(),
            change: "0".into(),
            expire: "0".into(),
            gecos: u.gecos,
            home: u.home,
            shell: u.shell,
        })
        .collect();
    let groups: Vec<GroupEntry> = groups
        .into_iter()
        .map(|g| GroupEntry {
            name: g.name,
            passwd: "*".into(),
            gid: g.gid,
            members: g.members,
        })
        .collect();
    // Batches as ypldap-client sends them (about 30 KB of JSON each).
    let mut batches = Vec::new();
    for chunk in users.chunks(130) {
        let msg = ClientToParent::Users {
            update: 1,
            entries: chunk.to_vec(),
        };
        batches.push(codec::encode(&msg, 0).expect("encode"));
    }
    for chunk in groups.chunks(300) {
        let msg = ClientToParent::Groups {
            update: 1,
            entries: chunk.to_vec(),
        };
        batches.push(codec::encode(&msg, 0).expect("encode"));
    }
    let bytes: usize = batches.iter().map(Vec::len).sum();
    println!(
        "{n} users, {m} groups: {} batches, {bytes} bytes of JSON",
        batches.len()
    );
    let rss = || {
        tests::status_field(std::process::id(), "VmRSS")
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0)
            / 1024
    };
    // As in ypldapd: the previous snapshot stays live until the new one is
    // built and swapped in.
    let mut current: Option<Snapshot> = None;
    let trim = std::env::var_os("TRIM").is_some();
    println!(
        "RSS before the first run: {} MiB (data generated and encoded)",
        rss()
    );
    for run in 0..runs {
        let t = Instant::now();
        let (mut us, mut gs) = (Vec::new(), Vec::new());
        for b in &batches {
            match codec::decode::<ClientToParent>(b, 0).expect("decode") {
                ClientToParent::Users { entries, .. } => us.extend(entries),
                ClientToParent::Groups { entries, .. } => gs.extend(entries),
                _ => unreachable!(),
            }
        }
        let decode = t.elapsed();
        let rss_decoded = rss();
        let t = Instant::now();
        let (snap, rep) = Snapshot::build_now("bench.test", &us, &gs);
        let build = t.elapsed();
        let rss_built = rss();
        let t = Instant::now();
        let old = current.replace(snap);
        drop(old);
        let free_snap = t.elapsed();
        let t = Instant::now();
        drop(us);
        drop(gs);
        let free = t.elapsed();
        let rss_after = rss();
        if trim {
            // SAFETY: malloc_trim has no preconditions.
            unsafe { libc::malloc_trim(0) };
        }
        println!(
            "run {run}: RSS with old snapshot + decoded entries {rss_decoded} MiB, + new snapshot {rss_built} MiB, after the swap and freeing the entries {rss_after} MiB{}",
            if trim {
                format!(", after malloc_trim(0) {} MiB", rss())
            } else {
                String::new()
            }
        );
        println!(
            "run {run}: decode {:.1} ms, Snapshot::build {:.1} ms ({} users kept), free entries {:.1} ms, free old snapshot {:.1} ms",
            decode.as_secs_f64() * 1e3,
            build.as_secs_f64() * 1e3,
            rep.users_kept,
            free.as_secs_f64() * 1e3,
            free_snap.as_secs_f64() * 1e3
        );
    }
}
