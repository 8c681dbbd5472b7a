//! How soon a change an administrator makes in the directory is answered
//! by ypldapd under content synchronization (issue 17), on a large
//! directory: slapd with the syncprov overlay holding N users and M
//! groups, ypldapd reading it, each in private namespaces (the `tests`
//! harness), loopback only.
//!
//! usage: sync-propagation [--users N] [--groups M] [--changes K]
//!                         [--burst B] [--stream SECONDS] [--upstream U]
//!                         [--ypldapd-dir DIR] [--perf FILE]
//!
//! ypldapd saves its state (`state directory`), as a packaged install
//! does, so the figures include the state writes.
//!
//! 1. K changes of each kind (default 1,000), one at a time: a user's
//!    shell modified, a group member added, a user added, the same user
//!    deleted, a user renamed. Each is timed from the moment `ldapmodify`
//!    (`ldapadd`, `ldapdelete`) returns, as an administrator sees it, to
//!    the first MATCH that answers the new value (polled every 0.2 ms over
//!    UDP); p50, p99 and max per kind.
//! 2. A burst: B shell changes (default 10,000) in one `ldapmodify`; the
//!    time from its return to the last one answered, and ypldapd's CPU
//!    per change.
//! 3. MATCH under a stream of changes (`--stream`, default 30 s; 0 skips
//!    it): MATCH latency at 2,000 requests per second (paced, UDP, random
//!    users) for SECONDS while idle, then for SECONDS while one
//!    `ldapmodify` writes 100 shell changes per second; p50 and p99 of
//!    each, and ypldapd's CPU per change of the stream. Then the same
//!    again pinned: slapd, the reader and `ldapmodify` on the last CPU,
//!    ypldapd and the MATCH load on CPU 0, as on a server whose directory
//!    runs elsewhere, which leaves ypldapd's own work. Each time, a
//!    control: Debian's ypserv, serving the same users from makedbm maps
//!    the stream does not touch, in a namespace of its own, measured the
//!    same way right after ypldapd, idle and while the stream goes on
//!    (pinned beside ypldapd when it is): what it suffers is the
//!    machine's, not the server's. The idle run
//!    starts once every state write the changes before made due is done
//!    (ypldapd writes at most every 30 s), and a stream of 30 s or more
//!    makes at least one.
//! 4. Beside it, the upstream behaviour (`--upstream`, default 6 changes;
//!    0 skips it): the same directory read with `sync off` and `interval
//!    60`, U shell changes spread evenly over a minute, each timed to the
//!    first MATCH that answers it (polled every 10 ms): each waits for the
//!    next full read. About 80 s.
//!
//! `--perf FILE`: `perf record -e cpu-clock` of ypldapd during the
//! stream, into FILE.

use std::time::{Duration, Instant};

use bench::load::{self, MatchProbe};
use bench::process::{cpu_secs, cpus, preempted, set_cpu};
use bench::stats::Samples;
use tests::ldif::{self, SUFFIX};
use tests::nis::Ypserv;
use tests::peers::SlapdOptions;
use tests::world::{Data, Directory, Ready, World};

const DOMAIN: &str = "sync.bench";

struct Args {
    users: usize,
    groups: usize,
    changes: usize,
    burst: usize,
    stream: u64,
    upstream: usize,
    ypldapd_dir: Option<std::path::PathBuf>,
    perf: Option<String>,
}

fn parse_args() -> Args {
    let mut a = Args {
        users: 100_000,
        groups: 10_000,
        changes: 1000,
        burst: 10_000,
        stream: 30,
        upstream: 6,
        ypldapd_dir: None,
        perf: None,
    };
    let v: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < v.len() {
        let val = v.get(i + 1).cloned().unwrap_or_default();
        let bad = || -> ! {
            eprintln!("sync-propagation: bad value for {}: {val:?}", v[i]);
            std::process::exit(2)
        };
        match v[i].as_str() {
            "--users" => a.users = val.parse().unwrap_or_else(|_| bad()),
            "--groups" => a.groups = val.parse().unwrap_or_else(|_| bad()),
            "--changes" => a.changes = val.parse().unwrap_or_else(|_| bad()),
            "--burst" => a.burst = val.parse().unwrap_or_else(|_| bad()),
            "--stream" => a.stream = val.parse().unwrap_or_else(|_| bad()),
            "--upstream" => a.upstream = val.parse().unwrap_or_else(|_| bad()),
            "--ypldapd-dir" => a.ypldapd_dir = Some(val.into()),
            "--perf" => a.perf = Some(val),
            _ => {
                eprintln!(
                    "usage: sync-propagation [--users N] [--groups M] [--changes K] [--burst B] [--stream SECONDS] [--upstream U] [--ypldapd-dir DIR] [--perf FILE]"
                );
                std::process::exit(2)
            }
        }
        i += 2;
    }
    a.users = a.users.max(10);
    a.groups = a.groups.max(1);
    a.changes = a.changes.clamp(1, 10_000);
    a.burst = a.burst.clamp(1, a.users / 2);
    a.upstream = a.upstream.min(60);
    a
}

/// ypldapd writes its state at most this often (`daemon::state`), and so
/// at most this long after a change.
const STATE_EVERY: Duration = Duration::from_secs(30);

/// Where ypldapd keeps its state in the bench's namespace (a tmpfs, so
/// the `fsync` costs nothing: on a disk it is the writer's, not the
/// loop's).
const STATE_DIRECTORY: &str = "/run/ypldap";

/// The interval of the upstream run (`--upstream`).
const UPSTREAM_INTERVAL: u32 = 60;

fn main() {
    let args = parse_args();
    let bins = match &args.ypldapd_dir {
        Some(d) => std::fs::canonicalize(d).unwrap_or_else(|e| panic!("{}: {e}", d.display())),
        None => std::env::current_exe()
            .ok()
            .and_then(|e| e.parent().map(std::path::Path::to_path_buf))
            .expect("the program's directory"),
    };
    println!(
        "sync-propagation: {} users, {} groups, {} changes of each kind, a burst of {}; load average {}",
        args.users,
        args.groups,
        args.changes,
        args.burst,
        bench::process::load_avg()
    );
    let (users, groups) = ldif::generate(args.users, args.groups);
    let names: Vec<String> = users.iter().map(|u| u.name.clone()).collect();
    let group_names: Vec<String> = groups.iter().map(|g| g.name.clone()).collect();
    // The stream's control: ypserv on the same users, in its own world.
    let control = (args.stream > 0).then(|| Control::start(&users, &groups));
    let t = Instant::now();
    let data = Data::of(users, groups);
    let mut w = World::builder(DOMAIN)
        .directory(Directory::slapd_with(
            data.clone(),
            SlapdOptions::unlimited().with_sync(),
        ))
        .program(bins.join("ypldapd"))
        .interval(3600)
        .statement(format!("state directory \"{STATE_DIRECTORY}\""))
        .ready(Ready::Registered)
        .start();
    w.wait_log(
        "kept current by content synchronization",
        1,
        Duration::from_secs(60),
    );
    println!(
        "slapd (syncprov) and ypldapd ready in {:.1} s: {}",
        t.elapsed().as_secs_f64(),
        w.log()
            .lines()
            .find(|l| l.starts_with("update 1: "))
            .unwrap_or("")
    );
    let port = load::yp_udp_port(&w);
    let pid = w.ypldapd().pid;

    let k = args.changes;
    let mut report = Vec::new();
    // Modify: a user's shell.
    let samples = timed(&mut w, port, k, |i| {
        let user = names[(i * 7919) % names.len()].clone();
        let shell = format!("/bin/shell{i}");
        let ldif = ldif::shell_change(&user, &shell);
        Step {
            tool: "ldapmodify",
            input: ldif,
            map: "passwd.byname",
            key: user,
            want: Want::EndsWith(format!(":{shell}")),
        }
    });
    report.push(("modify (shell)", samples));
    // A member added to a group.
    let samples = timed(&mut w, port, k, |i| {
        let group = group_names[(i * 31) % group_names.len()].clone();
        // A name no group has yet (memberUid names need no user).
        let member = format!("guest{i:04}");
        let ldif = format!(
            "dn: cn={group},ou=Groups,{SUFFIX}\nchangetype: modify\nadd: memberUid\nmemberUid: {member}\n"
        );
        Step {
            tool: "ldapmodify",
            input: ldif,
            map: "group.byname",
            key: group,
            want: Want::Member(member),
        }
    });
    report.push(("group member added", samples));
    // Add, then delete, a user.
    let new_user = |i: usize| format!("zz{i:06}");
    let samples = timed(&mut w, port, k, |i| {
        let name = new_user(i);
        let ldif = format!(
            "dn: uid={name},ou=People,{SUFFIX}\nobjectClass: posixAccount\nobjectClass: account\n\
             uid: {name}\ncn: {name}\nuidNumber: {}\ngidNumber: 100\nhomeDirectory: /home/{name}\n\
             loginShell: /bin/sh\ngecos: New User\nuserPassword: {{CRYPT}}$6$salt$hash\n",
            900_000 + i
        );
        Step {
            tool: "ldapadd",
            input: ldif,
            map: "passwd.byname",
            key: name,
            want: Want::Present,
        }
    });
    report.push(("user added", samples));
    let samples = timed(&mut w, port, k, |i| {
        let name = new_user(i);
        Step {
            tool: "ldapdelete",
            input: format!("uid={name},ou=People,{SUFFIX}\n"),
            map: "passwd.byname",
            key: name,
            want: Want::Absent,
        }
    });
    report.push(("user deleted", samples));
    // Rename: the new name answered.
    let samples = timed(&mut w, port, k, |i| {
        let old = names[(i * 13) % names.len()].clone();
        let new = format!("{old}r");
        let ldif = format!(
            "dn: uid={old},ou=People,{SUFFIX}\nchangetype: modrdn\nnewrdn: uid={new}\ndeleteoldrdn: 1\n"
        );
        Step {
            tool: "ldapmodify",
            input: ldif,
            map: "passwd.byname",
            key: new,
            want: Want::Present,
        }
    });
    report.push(("user renamed", samples));

    println!("\n== propagation: from the tool's return to the first MATCH answering the change");
    println!("kind | changes | p50 ms | p99 ms | max ms | target");
    for (kind, s) in &report {
        println!(
            "{kind} | {} | {:.1} | {:.1} | {:.1} | p50 <= 100, p99 <= 1000",
            s.len(),
            s.q_us(0.5) / 1000.0,
            s.q_us(0.99) / 1000.0,
            s.max_us() / 1000.0
        );
    }

    // A burst of shell changes in one ldapmodify.
    let n = args.burst;
    let mut ldif = String::new();
    let mut last = (String::new(), String::new());
    for i in 0..n {
        // From the end of the list: none of them was renamed above.
        let user = names[names.len() - 1 - i % (names.len() / 2)].clone();
        let shell = format!("/bin/burst{i}");
        ldif.push_str(&ldif::shell_change(&user, &shell));
        last = (user, shell);
    }
    let cpu_before = cpu_secs(pid);
    let t = Instant::now();
    w.change_directory("ldapmodify", &ldif);
    let written = t.elapsed();
    let (user, shell) = last;
    let seen = wait_until(
        &w,
        port,
        "passwd.byname",
        &user,
        &Want::EndsWith(format!(":{shell}")),
    );
    let cpu = cpu_secs(pid) - cpu_before;
    println!(
        "\n== burst: {n} shell changes in one ldapmodify ({:.2} s to write): the last answered {:.0} ms after it returned; ypldapd CPU {:.1} us per change",
        written.as_secs_f64(),
        seen.as_secs_f64() * 1000.0,
        cpu * 1e6 / n as f64
    );
    if args.stream > 0 {
        let secs = Duration::from_secs(args.stream);
        let control = control.as_ref();
        let shared = Run {
            perf: args.perf.as_deref(),
            pin: false,
        };
        let pinned = Run {
            perf: None,
            pin: true,
        };
        stream(&mut w, port, pid, control, &names, secs, shared);
        stream(&mut w, port, pid, control, &names, secs, pinned);
    }
    drop(control);
    drop(w);
    if args.upstream > 0 {
        upstream(&bins, data, &names, args.upstream);
    }
}

/// What a change must make the map answer.
#[derive(Clone)]
enum Want {
    EndsWith(String),
    Member(String),
    Present,
    Absent,
}

impl Want {
    fn met(&self, value: Option<&[u8]>) -> bool {
        let text = value.map(String::from_utf8_lossy);
        match (self, text) {
            (Want::EndsWith(s), Some(v)) => v.trim_end().ends_with(s.as_str()),
            (Want::Member(m), Some(v)) => v
                .trim_end()
                .rsplit(':')
                .next()
                .is_some_and(|l| l.split(',').any(|n| n == m)),
            (Want::Present, Some(_)) | (Want::Absent, None) => true,
            _ => false,
        }
    }
}

struct Step {
    tool: &'static str,
    input: String,
    map: &'static str,
    key: String,
    want: Want,
}

/// Makes `k` changes one at a time; the time each took to be answered.
fn timed(w: &mut World, port: u16, k: usize, step: impl Fn(usize) -> Step) -> Samples {
    let mut v = Vec::with_capacity(k);
    for i in 0..k {
        let s = step(i);
        w.change_directory(s.tool, &s.input);
        let took = wait_until(w, port, s.map, &s.key, &s.want);
        v.push(took.as_nanos() as u64);
    }
    Samples::new(v)
}

/// Polls MATCH every 0.2 ms until `want` is met; the time it took (from
/// the call). Panics after 10 s.
fn wait_until(w: &World, port: u16, map: &str, key: &str, want: &Want) -> Duration {
    let (map, key) = (map.to_owned(), key.to_owned());
    let want_text = match want {
        Want::EndsWith(s) => format!("ends with {s}"),
        Want::Member(m) => format!("has member {m}"),
        Want::Present => "present".into(),
        Want::Absent => "absent".into(),
    };
    let t = Instant::now();
    let kind = want.clone();
    let ok =
        w.ns.spawn_in_net(move || {
            MatchProbe::new(port, DOMAIN).expect("probe").until(
                &map,
                &key,
                Duration::from_micros(200),
                Duration::from_secs(10),
                |v| kind.met(v),
            )
        })
        .join()
        .expect("thread");
    assert!(ok, "the change never showed ({want_text}):\n{}", w.log());
    t.elapsed()
}

/// MATCH requests per second while the latency is measured.
const STREAM_MATCH_RATE: f64 = 2000.0;
/// Changes per second of the stream.
const STREAM_CHANGES_RATE: u64 = 100;

/// The stream's control: Debian's ypserv serving the same users from
/// makedbm maps, in a world of its own (no directory, no ypldapd).
struct Control {
    world: World,
    ypserv: Ypserv,
    port: u16,
}

impl Control {
    fn start(users: &[ldif::User], groups: &[ldif::Group]) -> Control {
        let t = Instant::now();
        let (world, ypserv) = bench::ypserv_world(DOMAIN, users, groups);
        let port = load::yp_udp_port(&world);
        println!(
            "control for the stream: ypserv on makedbm maps of the same users, served in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        Control {
            world,
            ypserv,
            port,
        }
    }
}

/// MATCH latency of the server at `port` in `ns` for `secs` at
/// [`STREAM_MATCH_RATE`], paced, on random users.
/// `pin`: the load generator on CPU 0, beside ypldapd.
fn match_latency(
    ns: &tests::Namespace,
    port: u16,
    names: &[String],
    secs: Duration,
    pin: bool,
) -> load::LoadResult {
    let spec = load::LoadSpec {
        domain: DOMAIN.into(),
        map: "passwd.byname".into(),
        // The upper half: no key renamed above.
        keys: names[names.len() / 2..]
            .iter()
            .step_by(7)
            .cloned()
            .collect(),
        inflight: 256,
        duration: secs,
        max_requests: u64::MAX,
        rate: Some(STREAM_MATCH_RATE),
        timeout: Duration::from_secs(1),
        stop: None,
    };
    ns.spawn_in_net(move || {
        if pin {
            set_cpu(0, Some(0));
        }
        load::udp_match(port, &spec, 17)
    })
    .join()
    .expect("thread")
    .expect("MATCH load")
}

/// How a stream is measured: profiled into a file, pinned.
struct Run<'a> {
    perf: Option<&'a str>,
    pin: bool,
}

/// Phase 3 (see the module documentation).
fn stream(
    w: &mut World,
    port: u16,
    pid: u32,
    control: Option<&Control>,
    names: &[String],
    secs: Duration,
    run: Run<'_>,
) {
    let Run { perf, pin } = run;
    use std::io::Write as _;
    use std::process::Stdio;
    let builds = |w: &World| w.log().matches("maps built again after changes").count();
    let folds = |w: &World| w.log().matches("changed keys folded into").count();
    let saves = |w: &World| w.log().matches("state writer started").count();
    // Every state write the changes before made due is done: the idle
    // run sees none.
    std::thread::sleep(STATE_EVERY + Duration::from_secs(1));
    let builds_before = builds(w);
    let lines_before = w.log().lines().count();
    let folds_before = folds(w);
    let saves_before = saves(w);
    // The other processes a change goes through, on the same cores.
    let client = helper_pid(pid, "ypldap-client");
    let slapd = w.slapd().pid().unwrap_or(0);
    let cpu_of = |p: u32| if p == 0 { 0.0 } else { cpu_secs(p) };
    let others = || (cpu_of(client), cpu_of(slapd));
    let preempted_idle = preempted(pid);
    let others_idle = others();
    let cpu_idle = cpu_secs(pid);
    // Pinned: slapd, the reader, ldapmodify and what feeds it on the last
    // CPU, ypldapd and the MATCH load on CPU 0, as on a server whose
    // directory runs elsewhere: what is left is ypldapd's own work.
    let last_cpu = cpus() - 1;
    let directory_side = |cpu: Option<usize>| {
        for p in [slapd, client] {
            if p != 0 {
                set_cpu(p, cpu);
            }
        }
    };
    let control_pid = control.and_then(|c| c.ypserv.pid());
    if pin {
        directory_side(Some(last_cpu));
        set_cpu(pid, Some(0));
        if let Some(p) = control_pid {
            set_cpu(p, Some(0));
        }
    }
    let idle = match_latency(&w.ns, port, names, secs, pin);
    let cpu_idle = cpu_secs(pid) - cpu_idle;
    let others_idle = (others().0 - others_idle.0, others().1 - others_idle.1);
    let preempted_idle = preempted(pid) - preempted_idle;
    let control_latency = |c: &Control| match_latency(&c.world.ns, c.port, names, secs, pin);
    let control_idle = control.map(control_latency);
    // One ldapmodify, fed a change every 1/100 s: it applies each record
    // as it reads it.
    let ldapi = w.slapd().ldapi_url();
    // Children and threads started now inherit this thread's CPUs.
    if pin {
        set_cpu(0, Some(last_cpu));
    }
    let mut child =
        w.ns.command("ldapmodify")
            .args([
                "-x",
                "-H",
                &ldapi,
                "-D",
                &format!("cn=admin,{SUFFIX}"),
                "-w",
                "secret",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ldapmodify");
    let mut stdin = child.stdin.take().expect("stdin");
    // Written while ypldapd's MATCH latency is measured, and the
    // control's after it.
    let windows = if control.is_some() { 2 } else { 1 };
    let total = secs.as_secs() * STREAM_CHANGES_RATE * windows;
    // Values the other stream did not write, so its last is not taken
    // for this one's.
    let marker = if pin { "pinned" } else { "stream" };
    let victims: Vec<String> = (0..total as usize)
        // From the upper half, as the burst: none was renamed above.
        .map(|i| names[names.len() - 1 - (i * 3) % (names.len() / 2)].clone())
        .collect();
    let last = victims.last().cloned().unwrap_or_default();
    let perf = perf.and_then(|file| bench::process::Perf::record(pid, file));
    let preempted_before = preempted(pid);
    let others_before = others();
    let cpu_before = cpu_secs(pid);
    let writer = std::thread::spawn(move || {
        let start = Instant::now();
        let every = Duration::from_nanos(1_000_000_000 / STREAM_CHANGES_RATE);
        for (i, user) in victims.iter().enumerate() {
            let due = start + every * i as u32;
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let ldif = ldif::shell_change(user, &format!("/bin/{marker}{i}"));
            if stdin
                .write_all(ldif.as_bytes())
                .and_then(|()| stdin.flush())
                .is_err()
            {
                break;
            }
        }
        start.elapsed()
    });
    if pin {
        set_cpu(0, None);
    }
    let busy = match_latency(&w.ns, port, names, secs, pin);
    let preempted_busy = preempted(pid) - preempted_before;
    let others_busy = (
        others().0 - others_before.0 - others_idle.0,
        others().1 - others_before.1 - others_idle.1,
    );
    // The control's window: the stream goes on for it.
    let control_busy = control.map(control_latency);
    let wrote = writer.join().expect("writer");
    if let Some(p) = perf {
        p.stop();
    }
    let out = child.wait_with_output().expect("ldapmodify");
    assert!(
        out.status.success(),
        "ldapmodify: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen = wait_until(
        w,
        port,
        "passwd.byname",
        &last,
        &Want::EndsWith(format!(":/bin/{marker}{}", total - 1)),
    );
    // Less what the MATCH load cost while idle.
    let cpu = cpu_secs(pid) - cpu_before - cpu_idle;
    println!(
        "\n== MATCH during a stream of {STREAM_CHANGES_RATE} changes per second{} ({total} changes written in {:.1} s, the last answered {:.1} ms after the stream ended; ypldapd CPU {:.1} us per change, beyond the MATCH load's {:.2} s)",
        if pin {
            ", pinned (slapd, the reader and ldapmodify on the last CPU; ypldapd and the MATCH load on CPU 0)"
        } else {
            ""
        },
        wrote.as_secs_f64(),
        seen.as_secs_f64() * 1000.0,
        cpu * 1e6 / total as f64,
        cpu_idle
    );
    println!(
        "changed keys folded into the tables during the stream (past the bound on them): {}; builds of the maps (a change that needs one, or a fold that could not be): {}; state writes started (by a worker process): {}",
        folds(w) - folds_before,
        builds(w) - builds_before,
        saves(w) - saves_before
    );
    // This stream's state writes and folds.
    let shown = |l: &&str| l.starts_with("state writer") || l.starts_with("changed keys folded");
    for line in w.log().lines().skip(lines_before).filter(shown) {
        println!("  {line}");
    }
    // The helpers' CPU was counted over ypldapd's window only.
    let per_change = |cpu: f64| cpu * 1e6 / (secs.as_secs() * STREAM_CHANGES_RATE) as f64;
    println!(
        "CPU per change of the stream, beyond the idle run's: ypldap-client {:.1} us, slapd {:.1} us (and ldapmodify); ypldapd preempted while runnable: {:.0}/s idle, {:.0}/s during the stream",
        per_change(others_busy.0),
        per_change(others_busy.1),
        preempted_idle as f64 / secs.as_secs_f64(),
        preempted_busy as f64 / secs.as_secs_f64()
    );
    println!("when | MATCH sent | answered | lost | p50 us | p99 us | max us");
    let control_rows = [
        ("control idle (ypserv)", control_idle.as_ref()),
        (
            "control in the stream's window (ypserv)",
            control_busy.as_ref(),
        ),
    ];
    let rows = [("idle", Some(&idle)), ("stream", Some(&busy))];
    for (when, r) in rows.into_iter().chain(control_rows) {
        let Some(r) = r else { continue };
        let l = r.latencies();
        println!(
            "{when} | {} | {} | {} | {:.0} | {:.0} | {:.0}",
            r.sent,
            r.ok,
            r.lost,
            l.q_us(0.5),
            l.q_us(0.99),
            l.max_us()
        );
    }
    let p99_ratio = |idle: &load::LoadResult, busy: &load::LoadResult| {
        busy.latencies().q_us(0.99) / idle.latencies().q_us(0.99).max(1e-9)
    };
    println!(
        "p99 during the stream / idle: {:.2} (target <= 2)",
        p99_ratio(&idle, &busy)
    );
    if let (Some(i), Some(b)) = (&control_idle, &control_busy) {
        println!(
            "  control: ypserv's p99 in the same windows / idle (it serves nothing that changes): {:.2}",
            p99_ratio(i, b)
        );
    }
    if pin {
        directory_side(None);
        set_cpu(pid, None);
        if let Some(p) = control_pid {
            set_cpu(p, None);
        }
    }
}

/// The host pid of ypldapd's child `name` (a helper), 0 if none.
fn helper_pid(ypldapd: u32, name: &str) -> u32 {
    let children = std::fs::read_to_string(format!("/proc/{ypldapd}/task/{ypldapd}/children"))
        .unwrap_or_default();
    children
        .split_whitespace()
        .filter_map(|p| p.parse::<u32>().ok())
        .find(|p| {
            std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim_end() == name)
        })
        .unwrap_or(0)
}

/// Phase 4: the upstream behaviour, `sync off` and `interval 60` on the
/// same directory: `count` shell changes spread over one interval, each
/// timed from its `ldapmodify`'s return to the first MATCH answering it.
fn upstream(bins: &std::path::Path, data: Data, names: &[String], count: usize) {
    let interval = Duration::from_secs(u64::from(UPSTREAM_INTERVAL));
    let mut w = World::builder(DOMAIN)
        .directory(
            Directory::slapd_with(data, SlapdOptions::unlimited().with_sync())
                .read(|b| b.extra.push("sync off".into())),
        )
        .program(bins.join("ypldapd"))
        .interval(UPSTREAM_INTERVAL)
        .ready(Ready::Registered)
        .start();
    let port = load::yp_udp_port(&w);
    // From the upper half, every 11th: none changed before in this world.
    let victims: Vec<(String, String)> = (0..count)
        .map(|i| {
            let user = names[names.len() / 2 + i * 11].clone();
            (user, format!("/bin/upstream{i}"))
        })
        .collect();
    let watched = victims.clone();
    let limit = interval * 3;
    // Each key polled every 10 ms; when each was first answered.
    let watcher = w.ns.spawn_in_net(move || {
        let mut probe = MatchProbe::new(port, DOMAIN).expect("probe");
        let mut seen: Vec<Option<Instant>> = vec![None; watched.len()];
        let end = Instant::now() + limit;
        while seen.iter().any(Option::is_none) && Instant::now() < end {
            for (i, (user, shell)) in watched.iter().enumerate() {
                if seen[i].is_some() {
                    continue;
                }
                let want = Want::EndsWith(format!(":{shell}"));
                if probe
                    .value("passwd.byname", user)
                    .is_some_and(|v| want.met(v.as_deref()))
                {
                    seen[i] = Some(Instant::now());
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        seen
    });
    let start = Instant::now();
    let mut written = Vec::with_capacity(count);
    for (i, (user, shell)) in victims.iter().enumerate() {
        // Spread evenly over one interval.
        let due = start + interval.mul_f64((i as f64 + 0.5) / count as f64);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        w.change_directory("ldapmodify", &ldif::shell_change(user, shell));
        written.push(Instant::now());
    }
    let seen = watcher.join().expect("watcher");
    let mut took = Vec::with_capacity(count);
    for (i, (w_at, s_at)) in written.iter().zip(&seen).enumerate() {
        let Some(s_at) = s_at else {
            panic!(
                "change {i} not answered within {} s:\n{}",
                limit.as_secs(),
                w.log()
            );
        };
        took.push(s_at.saturating_duration_since(*w_at).as_nanos() as u64);
    }
    let reads = w.log().matches(" dropped: ").count();
    let s = Samples::new(took);
    println!(
        "\n== upstream behaviour beside it: sync off, interval {UPSTREAM_INTERVAL} ({count} shell changes spread over {} s; {reads} full reads of {} users)",
        interval.as_secs(),
        names.len()
    );
    println!("kind | changes | p50 s | max s | min s");
    println!(
        "modify (shell), sync off | {} | {:.1} | {:.1} | {:.1}",
        s.len(),
        s.q_us(0.5) / 1e6,
        s.max_us() / 1e6,
        s.q_us(0.0) / 1e6
    );
    println!(
        "(each change waits for the next full read: half the interval on average, plus the read; upstream's default interval is 600 s)"
    );
}
