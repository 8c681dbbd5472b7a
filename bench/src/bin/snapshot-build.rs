//! The parent's CPU work for one refresh, alone, on the benchmark's data:
//! decoding the JSON batches ypldap-client sends, building the snapshot
//! (`Snapshot::build`, on the event loop in ypldapd), and freeing the
//! entries. For profiling (`valgrind --tool=callgrind snapshot-build`).
//!
//! usage: snapshot-build [USERS [GROUPS [RUNS]]]

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
        let t = Instant::now();
        let (snap, rep) = Snapshot::build_now("bench.test", &us, &gs);
        let build = t.elapsed();
        let t = Instant::now();
        drop(us);
        drop(gs);
        let free = t.elapsed();
        let t = Instant::now();
        drop(snap);
        let free_snap = t.elapsed();
        println!(
            "run {run}: decode {:.1} ms, Snapshot::build {:.1} ms ({} users kept), free entries {:.1} ms, free snapshot {:.1} ms",
            decode.as_secs_f64() * 1e3,
            build.as_secs_f64() * 1e3,
            rep.users_kept,
            free.as_secs_f64() * 1e3,
            free_snap.as_secs_f64() * 1e3
        );
    }
}
