//! ypldapd's own work for one change under content synchronization, alone
//! (no slapd, no IPC, no event loop): the entry store of N users and M
//! groups, the maps built from it, then K changes of each kind applied as
//! `apply_changes` does (the store's `apply_quick`, then the snapshot's
//! `with_edits`), each timed; p50, p99 and max per kind, and the keys
//! changed since the build at the end. Past `LIMIT` changed keys they are
//! folded into the maps' tables, as ypldapd does (`CHANGED_VALUES_LIMIT`;
//! the maps built again where a fold cannot be), and the fold is timed
//! apart, beside a build of every map.
//!
//! The store also holds hosts (a tenth of the users) and netgroups (a
//! hundredth, each including the one before): changes to records are
//! applied the same way (their own keys; a netgroup's reverse maps from
//! the netgroups alone).
//!
//! Then the same users with groups that name their members by DN (RFC
//! 2307bis `member`, three each, every tenth group nesting the next one):
//! users added, deleted and renamed (a modrdn: the DN changes), a member
//! DN added to a group, a nesting added, each against the build of every
//! map that applied them before.
//!
//! usage: change-cost [USERS [GROUPS [CHANGES]]]

use std::sync::Arc;
use std::time::Instant;

use bench::stats::Samples;
use entry_rules::records::{Record, RecordKind};
use entry_rules::{Group, Origin, Text, User};
use yp_proto::build::{RecordPlan, SearchPlan};
use yp_proto::store::{EntryChange, EntryStore, Search};
use yp_proto::testdata;
use yp_proto::{BuildOptions, Snapshot, SnapshotBuilder};

/// The record searches: hosts (0) and netgroups (1).
fn plan() -> Arc<RecordPlan> {
    let search = |kind: RecordKind| SearchPlan::of_kind(kind, |_| true);
    Arc::new(RecordPlan {
        searches: vec![search(RecordKind::Hosts), search(RecordKind::Netgroup)],
    })
}

fn record(search: u16, uuid: String, values: Vec<Vec<String>>) -> Record<'static> {
    Record {
        origin: Origin {
            dn: Text::from(format!("cn={uuid},dc=example")),
            uuid: Some(uuid),
        },
        search,
        values: values
            .into_iter()
            .map(|vs| vs.into_iter().map(Text::from).collect())
            .collect(),
    }
}

fn host(i: usize, octet: usize) -> Record<'static> {
    record(
        0,
        format!("h{i}"),
        vec![
            vec![format!("host{i:06}")],
            vec![format!("10.{}.{}.{}", (i >> 8) & 255, i & 255, octet % 250)],
        ],
    )
}

/// Netgroup `j`: three triples, and netgroup `j - 1` (and `extra`).
fn netgroup(j: usize, extra: Option<usize>) -> Record<'static> {
    let triples = (0..3)
        .map(|x| format!("(host{:06},user{:06},)", j * 3 + x, j * 3 + x))
        .chain(extra.map(|e| format!("(,user{e:06},)")))
        .collect();
    let members = j
        .checked_sub(1)
        .map(|p| format!("ng{p:05}"))
        .into_iter()
        .collect();
    record(
        1,
        format!("n{j}"),
        vec![vec![format!("ng{j:05}")], triples, members],
    )
}

/// As ypldapd's `CHANGED_VALUES_LIMIT`.
const LIMIT: usize = 16_384;

fn main() {
    let a: Vec<usize> = std::env::args()
        .skip(1)
        .map(|s| s.parse().expect("number"))
        .collect();
    let (n, m, k) = (
        a.first().copied().unwrap_or(100_000),
        a.get(1).copied().unwrap_or(10_000),
        a.get(2).copied().unwrap_or(1000),
    );
    let options = BuildOptions::default();
    let domain = "bench";
    let user = |i: usize, name: &str, shell: &str| {
        let mut u = testdata::user(name, 10_000 + i as u32, 100);
        u.origin.uuid = Some(format!("u{i}"));
        u.origin.dn = format!("uid={name},ou=People,dc=example").into();
        u.shell = shell.to_owned().into();
        u
    };
    let name = |i: usize| format!("user{i:06}");
    let mut store = EntryStore::default();
    let rss_empty = rss();
    let t = Instant::now();
    for i in 0..n {
        store.directory(0).upsert_user(user(i, &name(i), "/bin/sh"));
    }
    for j in 0..m {
        let members: Vec<String> = (0..3).map(|x| name((j + x) % n.max(1))).collect();
        let refs: Vec<&str> = members.iter().map(String::as_str).collect();
        let mut g = testdata::group(&format!("group{j:05}"), 20_000 + j as u32, &refs);
        g.origin.uuid = Some(format!("g{j}"));
        store.directory(0).upsert_group(g);
    }
    let (hosts, netgroups) = ((n / 10).max(1), (n / 100).max(1));
    for i in 0..hosts {
        store.directory(0).upsert_record(host(i, 1));
    }
    for j in 0..netgroups {
        // Nested 10 deep at most: chains of ten.
        let mut g = netgroup(j, None);
        if j % 10 == 0 {
            g.values[2].clear();
        }
        store.directory(0).upsert_record(g);
    }
    let stored = t.elapsed();
    let store_kib = rss().saturating_sub(rss_empty);
    let rss_stored = rss();
    let plan = plan();
    let build = |store: &EntryStore| {
        let mut b = SnapshotBuilder::new(domain, options, None).with_records(Arc::clone(&plan));
        store.feed(&mut b);
        b.end_of_entries(1);
        b.finish().0
    };
    let t = Instant::now();
    let mut served = build(&store);
    println!(
        "change-cost: {n} users, {m} groups, {hosts} hosts, {netgroups} netgroups in the store ({:.0} ms, with its indexes, RSS +{} MiB), built in {:.0} ms (maps: {} MiB of arena and tables, RSS +{} MiB); {k} changes of each kind",
        stored.as_secs_f64() * 1000.0,
        store_kib / 1024,
        t.elapsed().as_secs_f64() * 1000.0,
        served.memory_bytes() >> 20,
        rss().saturating_sub(rss_stored) / 1024
    );
    let t = Instant::now();
    store.prepare_records(&plan, domain);
    println!(
        "index of the records made in {:.0} ms (once per build)",
        t.elapsed().as_secs_f64() * 1000.0
    );
    let mut order = 2;
    let mut folds: Vec<u64> = Vec::new();
    let mut fold_steps: Vec<u64> = Vec::new();
    let mut rebuilds = 0;
    let mut apply = |store: &mut EntryStore, served: &mut Snapshot, c: EntryChange| -> u64 {
        let t = Instant::now();
        let edits = store
            .apply_quick(0, c, &options, &plan, domain)
            .unwrap_or_else(|_| panic!("a change the quick path takes"));
        order += 1;
        if let Some(next) = served.with_edits(&edits, order).expect("edits fit") {
            *served = next;
        }
        let took = t.elapsed().as_nanos() as u64;
        match past_limit(served, || build(store)) {
            Some((ns, Some(longest))) => {
                folds.push(ns);
                fold_steps.push(longest);
            }
            Some((_, None)) => rebuilds += 1,
            None => {}
        }
        took
    };
    let mut report: Vec<(&str, Samples)> = Vec::new();
    let kinds: [(&str, &dyn Fn(usize) -> EntryChange); 10] = [
        ("modify (shell)", &|i| {
            let u = (i * 7919) % n;
            EntryChange::User(user(u, &name(u), &format!("/bin/shell{i}")))
        }),
        ("group member added", &|i| {
            let j = (i * 31) % m;
            let members: Vec<String> = (0..3)
                .map(|x| name((j + x) % n))
                .chain([name((i * 104_729) % n)])
                .collect();
            let refs: Vec<&str> = members.iter().map(String::as_str).collect();
            let mut g = testdata::group(&format!("group{j:05}"), 20_000 + j as u32, &refs);
            g.origin.uuid = Some(format!("g{j}"));
            EntryChange::Group(g)
        }),
        ("user added", &|i| {
            EntryChange::User(user(n + i, &format!("zz{i:06}"), "/bin/sh"))
        }),
        ("user deleted", &|i| {
            EntryChange::Remove(Search::Users, format!("u{}", n + i))
        }),
        ("user renamed", &|i| {
            let u = (i * 13) % n;
            EntryChange::User(user(u, &format!("{}r", name(u)), "/bin/sh"))
        }),
        ("user sent again as held", &|i| {
            let u = (i * 7919) % n;
            EntryChange::User(user(u, &name(u), &format!("/bin/shell{i}")))
        }),
        ("host address modified", &|i| {
            EntryChange::Record(host((i * 7919) % hosts, 2 + i))
        }),
        ("host added", &|i| EntryChange::Record(host(hosts + i, 1))),
        ("host deleted", &|i| {
            EntryChange::Remove(Search::Records(0), format!("h{}", hosts + i))
        }),
        ("netgroup triple added", &|i| {
            let j = (i * 31) % netgroups;
            let mut g = netgroup(j, Some(i));
            if j % 10 == 0 {
                g.values[2].clear();
            }
            EntryChange::Record(g)
        }),
    ];
    for (kind, make) in kinds {
        let v: Vec<u64> = (0..k)
            .map(|i| apply(&mut store, &mut served, make(i)))
            .collect();
        report.push((kind, Samples::new(v)));
    }
    print_costs("kind", &report);
    member_dns(n, m, k, &options, &plan);
    let folds = Samples::new(folds);
    let fold_steps = Samples::new(fold_steps);
    let t = Instant::now();
    let _ = build(&store);
    println!(
        "keys changed since the last fold: {}; folds past {LIMIT} changed keys: {} (p50 {:.1} ms, max {:.1} ms, in steps of at most {:.1} ms between answers; a build of every map instead: {:.0} ms, in slices); builds where a fold could not be: {rebuilds}; arena bytes no longer used: {} of {}",
        served.changed_values(),
        folds.len(),
        folds.q_us(0.5) / 1000.0,
        folds.max_us() / 1000.0,
        fold_steps.max_us() / 1000.0,
        t.elapsed().as_secs_f64() * 1000.0,
        served.stale_bytes(),
        served.arena_bytes()
    );
}

/// As ypldapd past [`LIMIT`] changed keys: the changed keys folded into
/// the tables, a step at a time, or, where that cannot be or would leave
/// more unused bytes than used ones, the maps built again. The time it
/// took, and for a fold its longest step; `None` below the limit.
fn past_limit(
    served: &mut Snapshot,
    build: impl FnOnce() -> Snapshot,
) -> Option<(u64, Option<u64>)> {
    if served.changed_values() <= LIMIT {
        return None;
    }
    let t = Instant::now();
    let mut fold = served.fold();
    let mut longest = 0;
    loop {
        let step = Instant::now();
        let done = fold.step();
        longest = longest.max(step.elapsed().as_nanos() as u64);
        if done {
            break;
        }
    }
    let folded = fold.finish().filter(|f| !f.mostly_stale());
    let longest = folded.is_some().then_some(longest);
    *served = folded.unwrap_or_else(build);
    Some((t.elapsed().as_nanos() as u64, longest))
}

/// The member-DN part (see the module documentation).
/// This process's resident memory, KiB.
fn rss() -> u64 {
    bench::process::kib(std::process::id(), "VmRSS")
}

/// One line per kind of change: how many, p50, p99 and max.
fn print_costs(title: &str, report: &[(&str, Samples)]) {
    println!("{title} | changes | p50 us | p99 us | max us");
    for (kind, s) in report {
        println!(
            "{kind} | {} | {:.1} | {:.1} | {:.1}",
            s.len(),
            s.q_us(0.5),
            s.q_us(0.99),
            s.max_us()
        );
    }
}

fn member_dns(n: usize, m: usize, k: usize, options: &BuildOptions, plan: &Arc<RecordPlan>) {
    let domain = "bench";
    let name = |i: usize| format!("user{i:06}");
    let dn_of = |name: &str| format!("uid={name},ou=People,dc=example");
    let user = |i: usize, name: &str| -> User<'static> {
        let mut u = testdata::user(name, 10_000 + i as u32, 100);
        u.origin.uuid = Some(format!("u{i}"));
        u.origin.dn = dn_of(name).into();
        u
    };
    let group_dn = |j: usize| format!("cn=group{j:05},ou=Groups,dc=example");
    let group = |j: usize, extra: Option<String>, nest: bool| -> Group<'static> {
        let mut g = testdata::group(&format!("group{j:05}"), 20_000 + j as u32, &[]);
        g.origin.uuid = Some(format!("g{j}"));
        g.origin.dn = group_dn(j).into();
        g.member_dns = (0..3)
            .map(|x| dn_of(&name((j + x) % n)))
            .chain(extra)
            .chain(nest.then(|| group_dn((j + 1) % m)))
            .map(Text::from)
            .collect();
        g
    };
    let mut store = EntryStore::default();
    for i in 0..n {
        store.directory(0).upsert_user(user(i, &name(i)));
    }
    for j in 0..m {
        store.directory(0).upsert_group(group(j, None, j % 10 == 0));
    }
    let build = |store: &EntryStore| {
        let mut b = SnapshotBuilder::new(domain, *options, None).with_records(Arc::clone(plan));
        store.feed(&mut b);
        b.end_of_entries(1);
        b.finish().0
    };
    let mut builds = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let s = build(&store);
        builds.push(t.elapsed().as_nanos() as u64);
        drop(s);
    }
    let builds = Samples::new(builds);
    let mut served = build(&store);
    let rss_before = rss();
    // As ypldapd makes it after a full read: a step a turn.
    let t = Instant::now();
    let (mut steps, mut longest) = (0, 0.0f64);
    loop {
        let step = Instant::now();
        let done = store.prepare_members_some(options, 1);
        longest = longest.max(step.elapsed().as_secs_f64());
        steps += 1;
        if done {
            break;
        }
    }
    println!(
        "groups by member DN: {n} users, {m} groups (a tenth nesting another); a build of every map p50 {:.0} ms (what each change cost before); index of DNs made in {:.0} ms in {steps} steps of at most {:.1} ms (after a full read, between answers), RSS +{} MiB",
        builds.q_us(0.5) / 1000.0,
        t.elapsed().as_secs_f64() * 1000.0,
        longest * 1000.0,
        rss().saturating_sub(rss_before) / 1024
    );
    let mut order = 2;
    let mut apply = |store: &mut EntryStore, served: &mut Snapshot, c: EntryChange| -> u64 {
        let t = Instant::now();
        let edits = store
            .apply_quick(0, c, options, plan, domain)
            .unwrap_or_else(|_| panic!("a change the quick path takes"));
        order += 1;
        if let Some(next) = served.with_edits(&edits, order).expect("edits fit") {
            *served = next;
        }
        let took = t.elapsed().as_nanos() as u64;
        past_limit(served, || build(store));
        took
    };
    let kinds: [(&str, &dyn Fn(usize) -> EntryChange); 5] = [
        ("user added", &|i| {
            EntryChange::User(user(n + i, &format!("zz{i:06}")))
        }),
        ("user deleted", &|i| {
            EntryChange::Remove(Search::Users, format!("u{}", n + i))
        }),
        ("user named by DN renamed (modrdn)", &|i| {
            let u = (i * 13) % m;
            EntryChange::User(user(u, &format!("{}r", name(u))))
        }),
        ("member DN added to a group", &|i| {
            let j = (i * 31) % m;
            let extra = dn_of(&name((i * 104_729) % n));
            EntryChange::Group(group(j, Some(extra), j % 10 == 0))
        }),
        ("nesting added", &|i| {
            let j = (i * 10 + 5) % m;
            EntryChange::Group(group(j, None, true))
        }),
    ];
    let report: Vec<(&str, Samples)> = kinds
        .into_iter()
        .map(|(kind, make)| {
            let v: Vec<u64> = (0..k)
                .map(|i| apply(&mut store, &mut served, make(i)))
                .collect();
            (kind, Samples::new(v))
        })
        .collect();
    print_costs("kind (groups by DN)", &report);
    // The maps the edits made are a build's.
    let want = build(&store);
    for map in yp_proto::MapName::ALL {
        assert!(
            served.iter(map).eq(want.iter(map)),
            "{map}: the edits' maps differ from a build's"
        );
    }
}
