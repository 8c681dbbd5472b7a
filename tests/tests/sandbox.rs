//! Each program's real sandbox policy, entered by `sandbox-probe` as root
//! inside private namespaces: forbidden things fail, the program's own work
//! still works. A denial that only a Landlock feature this kernel lacks can
//! give is reported as skipped, with the reason (see `tests::landlock`).

use std::collections::BTreeMap;

use tests::landlock::{self, FILES, Feature, SCOPES, TCP};
use tests::world::World;

/// Runs `sandbox-probe MODE… WHICH CONFIG` in a world of its own.
fn probe(mode: &[&str], which: &str) -> BTreeMap<String, String> {
    let w = World::builder("probe.test").bare().start();
    let config = w.ns.write_file("ypldap.conf", "domain \"probe.test\"\n");
    // Readable by _ypldap, so only the sandbox decides whether it can be read.
    std::fs::set_permissions(&config, std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .expect("chmod");
    let out =
        w.ns.command(env!("CARGO_BIN_EXE_sandbox-probe"))
            .args(mode)
            .arg(which)
            .arg(&config)
            .output()
            .expect("run probe");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let results: BTreeMap<String, String> = text
        .lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    assert!(
        results
            .get("entered")
            .is_some_and(|e| !e.starts_with("failed")),
        "{which}: could not enter the sandbox:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    results
}

/// What a probe must show.
struct Expect<'a> {
    which: &'a str,
    /// Probes that must work inside the sandbox.
    ok: &'a [&'a str],
    /// Probes that must be denied whatever the kernel (seccomp's part).
    denied: &'a [&'a str],
    /// Probes that must be denied where the kernel has the Landlock
    /// feature that denies them.
    denied_by_landlock: &'a [(&'a str, Feature)],
}

fn check(results: &BTreeMap<String, String>, e: &Expect) {
    let abi = landlock::kernel_abi();
    let status = landlock::expected_status(abi);
    let entered = &results["entered"];
    assert!(
        entered.contains(&format!("{status} (")),
        "{}: the sandbox says {entered:?}, want {status:?} on a kernel with Landlock ABI {abi}",
        e.which
    );
    if !landlock::has(abi, landlock::TARGET) {
        println!(
            "{}",
            landlock::skipped(
                &format!("{}: Landlock fully enforced", e.which),
                landlock::TARGET,
                abi
            )
        );
    }
    for k in e.ok {
        let v = results.get(*k).map_or("missing", String::as_str);
        assert_eq!(
            v, "ok",
            "{}: {k} should work inside the sandbox: {results:#?}",
            e.which
        );
    }
    let denied = e
        .denied
        .iter()
        .map(|k| (*k, None))
        .chain(e.denied_by_landlock.iter().map(|(k, f)| (*k, Some(*f))));
    for (k, needs) in denied {
        let v = results.get(k).map_or("missing", String::as_str);
        if let Some(f) = needs.filter(|f| !landlock::has(abi, *f)) {
            println!(
                "{}",
                landlock::skipped(&format!("{}: {k} denied", e.which), f, abi)
            );
            continue;
        }
        assert!(
            v.starts_with("denied"),
            "{}: {k} should be denied, got {v}: {results:#?}",
            e.which
        );
    }
}

#[test]
fn client_sandbox() {
    // The abstract socket probe is Landlock's alone: seccomp lets sendto by.
    assert_eq!(
        ypldap_client::sandbox::confinement().syscalls.get("sendto"),
        Some(&privsep::linux::seccomp::Allowed::Always)
    );
    check(
        &probe(&[], "client"),
        &Expect {
            which: "client",
            ok: &["link", "poll", "allocate", "time"],
            denied: &[
                "open_file",
                "read_config",
                "socket_inet",
                "socket_unix",
                "connect_allowed_port",
                "connect_other_port",
                "signal_outside",
                "thread",
                "fork",
                "exec",
            ],
            // sendto is allowed by seccomp: only Landlock stops it.
            denied_by_landlock: &[("abstract_unix", SCOPES)],
        },
    );
}

/// The Landlock half of the client's policy alone, as root: everything it
/// denies here, only Landlock denies.
#[test]
fn client_landlock_rules_alone() {
    check(
        &probe(&["landlock-only"], "client"),
        &Expect {
            which: "client-landlock",
            ok: &[
                "link",
                "poll",
                "allocate",
                "time",
                "socket_inet",
                "socket_unix",
                "thread",
                "fork",
            ],
            denied: &[],
            denied_by_landlock: &[
                ("open_file", FILES),
                ("read_config", FILES),
                ("exec", FILES),
                ("connect_allowed_port", TCP),
                ("connect_other_port", TCP),
                ("abstract_unix", SCOPES),
                ("signal_outside", SCOPES),
            ],
        },
    );
}

#[test]
fn dns_sandbox() {
    check(
        &probe(&[], "dns"),
        &Expect {
            which: "dns",
            ok: &[
                "link",
                "poll",
                "allocate",
                "time",
                "socket_inet",
                "connect_allowed_port",
            ],
            denied: &[
                "open_file",
                "read_config",
                "socket_unix",
                "signal_outside",
                "thread",
                "fork",
                "exec",
            ],
            denied_by_landlock: &[("connect_other_port", TCP), ("abstract_unix", SCOPES)],
        },
    );
}

#[test]
fn ypldapd_sandbox() {
    // ypldapd may read its config (reload) and fork (to restart helpers),
    // but exec only its helpers (here /bin/true stands in for them), so
    // /bin/sh is refused.
    check(
        &probe(&[], "ypldapd"),
        &Expect {
            which: "ypldapd",
            ok: &["link", "poll", "allocate", "time", "read_config", "fork"],
            denied: &["socket_unix", "thread"],
            denied_by_landlock: &[
                ("open_file", FILES),
                ("exec", FILES),
                ("connect_other_port", TCP),
                ("abstract_unix", SCOPES),
            ],
        },
    );
}

/// A helper restarted from inside ypldapd's sandbox inherits its filters:
/// each helper's own allow-list must fit inside ypldapd's.
#[test]
fn helper_policies_fit_inside_ypldapd() {
    let parent = ypldapd::sandbox::syscalls(None);
    let client = ypldap_client::sandbox::confinement().syscalls;
    let dns = ypldap_dns::sandbox::confinement(&[389]).syscalls;
    assert_eq!(client.not_covered_by(&parent), Vec::<String>::new());
    assert_eq!(dns.not_covered_by(&parent), Vec::<String>::new());
    // And the client may not create sockets at all.
    assert!(client.get("socket").is_none() && client.get("connect").is_none());
    assert!(client.get("openat").is_none() && client.get("execve").is_none());
}
