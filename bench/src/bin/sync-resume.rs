//! How soon ypldapd catches up after its content synchronization session
//! is lost (issue 17), against the full refresh it would otherwise need,
//! on a large directory: slapd with the syncprov overlay holding N users
//! and M groups, ypldapd reading it, each in private namespaces (the
//! `tests` harness), loopback only.
//!
//! usage: sync-resume [--users N] [--groups M] [--changes K]
//!                    [--ypldapd-dir DIR]
//!
//! 1. The first update: a refresh of every entry (its duration from the
//!    log's summary line), the cost a lost session would have without a
//!    cookie.
//! 2. The connection cut (`ss -K`) while slapd runs on, K users' shells
//!    changed meanwhile: syncprov's session log covers the cookie, the
//!    resumed refresh names only the K changes. Timed from the cut to the
//!    last change answered by MATCH (this includes the 1 s back-off before
//!    the first try).
//! 3. slapd restarted out of reach (its unix socket only), K shells
//!    changed, then back: the restart emptied the session log, so the
//!    resumed refresh is a present phase naming every entry. Timed from
//!    the return to the last change answered.
//! 4. ypldapd restarted (SIGTERM; it saves its state as it exits), from
//!    its start to registered with rpcbind, serving: cold (the state file
//!    removed: a full refresh), on saved state with the directory up (a
//!    resume from the cookies), and with the directory down (the saved
//!    maps served).

use std::time::{Duration, Instant};

use bench::load::{self, MatchProbe};
use tests::ldif;
use tests::peers::SlapdOptions;
use tests::world::{Data, Directory, Ready, World};

const DOMAIN: &str = "resume.bench";

fn main() {
    let mut users = 100_000;
    let mut groups = 10_000;
    let mut changes = 100;
    let mut bins: Option<std::path::PathBuf> = None;
    let v: Vec<String> = std::env::args().skip(1).collect();
    for pair in v.chunks(2) {
        let val = pair.get(1).cloned().unwrap_or_default();
        let number = || -> usize {
            val.parse().unwrap_or_else(|_| {
                eprintln!("sync-resume: bad value for {}: {val:?}", pair[0]);
                std::process::exit(2)
            })
        };
        match pair[0].as_str() {
            "--users" => users = number().max(10),
            "--groups" => groups = number().max(1),
            "--changes" => changes = number().clamp(1, 10_000),
            "--ypldapd-dir" => bins = Some(val.into()),
            _ => {
                eprintln!(
                    "usage: sync-resume [--users N] [--groups M] [--changes K] [--ypldapd-dir DIR]"
                );
                std::process::exit(2)
            }
        }
    }
    let bins = match bins {
        Some(d) => std::fs::canonicalize(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())),
        None => std::env::current_exe()
            .ok()
            .and_then(|e| e.parent().map(std::path::Path::to_path_buf))
            .expect("the program's directory"),
    };
    println!(
        "sync-resume: {users} users, {groups} groups, {changes} changes while the session is away; load average {}",
        bench::process::load_avg()
    );
    let (all_users, all_groups) = ldif::generate(users, groups);
    let names: Vec<String> = all_users.iter().map(|u| u.name.clone()).collect();
    let mut w = World::builder(DOMAIN)
        .directory(Directory::slapd_with(
            Data::of(all_users, all_groups),
            SlapdOptions::unlimited().with_sync(),
        ))
        .program(bins.join("ypldapd"))
        .interval(3600)
        .ready(Ready::Registered)
        .statement("state directory \"/run/ypldap\"")
        .start();
    let kept = "kept current by content synchronization (RFC 4533)";
    w.wait_log(kept, 1, Duration::from_secs(60));
    let first = w
        .log()
        .lines()
        .find(|l| l.starts_with("update 1: "))
        .unwrap_or("")
        .to_owned();
    println!("1. full refresh (first update): {first}");
    let port = load::yp_udp_port(&w);

    // 2. A cut connection: the session log serves the cookie.
    w.ns.sh("ss -K dst 127.0.0.1 dport = :389 >/dev/null");
    let cut = Instant::now();
    let last = change_shells(&mut w, &names, changes, "cut");
    wait_for_shell(&w, port, &last, "/bin/cut");
    let took = cut.elapsed();
    w.wait_log("resumed from its cookie", 1, Duration::from_secs(10));
    assert_eq!(w.log().matches(kept).count(), 1, "{}", w.log());
    println!(
        "2. connection cut, {changes} changes, resumed (session log): last change answered {:.3} s after the cut",
        took.as_secs_f64()
    );

    // 3. slapd restarted: a present phase.
    w.cut_off_directory();
    w.wait_log("content synchronization ended", 2, Duration::from_secs(10));
    let last = change_shells(&mut w, &names, changes, "back");
    w.reconnect_directory();
    let took = wait_for_shell(&w, port, &last, "/bin/back");
    w.wait_log("resumed from its cookie", 2, Duration::from_secs(10));
    assert_eq!(w.log().matches(kept).count(), 1, "{}", w.log());
    println!(
        "3. slapd restarted, {changes} changes, resumed (present phase of {users} users): last change answered {:.3} s after slapd's return",
        took.as_secs_f64()
    );

    // 4. ypldapd restarted.
    let restart = |w: &mut World, before: &dyn Fn(&mut World)| -> f64 {
        let status = w.stop_ypldapd(nix::sys::signal::Signal::SIGTERM);
        assert!(status.success(), "ypldapd exited with {status}");
        before(w);
        let t = Instant::now();
        w.start_ypldapd();
        t.elapsed().as_secs_f64()
    };
    let cold = restart(&mut w, &|w| {
        w.ns.sh("rm -f /run/ypldap/state");
    });
    w.wait_log("state saved", 1, Duration::from_secs(30));
    let saved = w
        .log()
        .lines()
        .rev()
        .find(|l| l.starts_with("state saved"))
        .unwrap_or("")
        .to_owned();
    let resumed = restart(&mut w, &|_| {});
    assert!(w.log().contains("resumed from its cookie"), "{}", w.log());
    let down = restart(&mut w, &|w| w.server(0).kill());
    assert!(w.log().contains("serving the maps saved"), "{}", w.log());
    println!(
        "4. ypldapd start to registered: cold {cold:.2} s; on saved state, directory up (resume) {resumed:.2} s; directory down (saved maps) {down:.2} s; {saved}"
    );
}

/// Changes `k` users' shells to `/bin/{tag}` in one `ldapmodify`; the
/// last user changed.
fn change_shells(w: &mut World, names: &[String], k: usize, tag: &str) -> String {
    let mut ldif = String::new();
    let mut last = String::new();
    for i in 0..k {
        last = names[(i * 7919 + tag.len()) % names.len()].clone();
        ldif.push_str(&ldif::shell_change(&last, &format!("/bin/{tag}")));
    }
    w.change_directory("ldapmodify", &ldif);
    last
}

/// Polls MATCH until `user`'s shell is `shell`; the time it took. Panics
/// after 60 s.
fn wait_for_shell(w: &World, port: u16, user: &str, shell: &str) -> Duration {
    let (user, shell) = (user.to_owned(), shell.to_owned());
    let t = Instant::now();
    let ok =
        w.ns.spawn_in_net(move || {
            MatchProbe::new(port, DOMAIN).expect("probe").until(
                "passwd.byname",
                &user,
                Duration::from_micros(500),
                Duration::from_secs(60),
                |v| v.is_some_and(|v| String::from_utf8_lossy(v).trim_end().ends_with(&shell)),
            )
        })
        .join()
        .expect("thread");
    assert!(ok, "the changes never showed:\n{}", w.log());
    t.elapsed()
}
