//! Each program's real sandbox policy, entered by `sandbox-probe` as root
//! inside private namespaces: forbidden things fail, the program's own work
//! still works.

use std::collections::BTreeMap;

use tests::Namespace;

fn probe(which: &str) -> BTreeMap<String, String> {
    let ns = Namespace::new("probe.test");
    let config = ns.write_file("ypldap.conf", "domain \"probe.test\"\n");
    // Readable by _ypldap, so only the sandbox decides whether it can be read.
    std::fs::set_permissions(&config, std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .expect("chmod");
    let out = ns
        .command(env!("CARGO_BIN_EXE_sandbox-probe"))
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

fn expect(results: &BTreeMap<String, String>, which: &str, ok: &[&str], denied: &[&str]) {
    for k in ok {
        let v = results.get(*k).map(String::as_str).unwrap_or("missing");
        assert_eq!(
            v, "ok",
            "{which}: {k} should work inside the sandbox: {results:#?}"
        );
    }
    for k in denied {
        let v = results.get(*k).map(String::as_str).unwrap_or("missing");
        assert!(
            v.starts_with("denied"),
            "{which}: {k} should be denied, got {v}: {results:#?}"
        );
    }
}

#[test]
fn client_sandbox() {
    let r = probe("client");
    assert!(r["entered"].contains("landlock"), "{r:?}");
    expect(
        &r,
        "client",
        &["link", "poll", "allocate", "time"],
        &[
            "open_file",
            "read_config",
            "socket_inet",
            "socket_unix",
            "connect_allowed_port",
            "connect_other_port",
            "thread",
            "fork",
            "exec",
        ],
    );
}

#[test]
fn dns_sandbox() {
    let r = probe("dns");
    expect(
        &r,
        "dns",
        &[
            "link",
            "poll",
            "allocate",
            "time",
            "socket_inet",
            "connect_allowed_port",
        ],
        &[
            "open_file",
            "read_config",
            "socket_unix",
            "connect_other_port",
            "thread",
            "fork",
            "exec",
        ],
    );
}

#[test]
fn ypldapd_sandbox() {
    let r = probe("ypldapd");
    // ypldapd may read its config (reload) and fork (to restart helpers),
    // but exec only its helpers (here /bin/true stands in for them), so
    // /bin/sh is refused.
    expect(
        &r,
        "ypldapd",
        &["link", "poll", "allocate", "time", "read_config", "fork"],
        &[
            "open_file",
            "socket_unix",
            "connect_other_port",
            "thread",
            "exec",
        ],
    );
}

/// A helper restarted from inside ypldapd's sandbox inherits its filters:
/// each helper's own allow-list must fit inside ypldapd's.
#[test]
fn helper_policies_fit_inside_ypldapd() {
    let parent = ypldapd::sandbox::syscalls();
    let client = ypldap_client::sandbox::confinement().syscalls;
    let dns = ypldap_dns::sandbox::confinement(&[389]).syscalls;
    assert_eq!(client.not_covered_by(&parent), Vec::<String>::new());
    assert_eq!(dns.not_covered_by(&parent), Vec::<String>::new());
    // And the client may not create sockets at all.
    assert!(client.get("socket").is_none() && client.get("connect").is_none());
    assert!(client.get("openat").is_none() && client.get("execve").is_none());
}
