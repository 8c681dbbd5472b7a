//! Each program's real policy denies what issue 13 names: creating a
//! namespace (and the raw socket a child would get in it), a raw socket,
//! opening a file for writing, `prctl` beyond `no_new_privs`. Proved twice:
//! with the seccomp filter alone, still as root (so the denial is the
//! filter's, not a missing capability's or Landlock's), and with the whole
//! sandbox. Also: the Landlock requirement and its flag, `_ypldap` as root
//! by another name, and ypldap-dns's changed root.

use std::collections::BTreeMap;
use std::time::Duration;

use tests::Namespace;
use tests::world::{Ready, World};

fn probe(mode: &[&str], which: &str) -> BTreeMap<String, String> {
    let w = World::builder("denials.test").bare().start();
    let ns = &w.ns;
    let config = ns.write_file("ypldap.conf", "domain \"denials.test\"\n");
    std::fs::set_permissions(&config, std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .expect("chmod");
    let out = ns
        .command(env!("CARGO_BIN_EXE_sandbox-probe"))
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

/// What every program's filter must refuse.
const DENIED: [&str; 6] = [
    "clone_new_namespace",
    "unshare_new_namespace",
    "socket_raw",
    "open_create",
    "open_write_existing",
    "prctl_other",
];

fn expect(r: &BTreeMap<String, String>, what: &str, ok: &[&str], denied: &[&str]) {
    for k in ok {
        let v = r.get(*k).map_or("missing", String::as_str);
        assert_eq!(v, "ok", "{what}: {k} must still work: {r:#?}");
    }
    for k in denied {
        let v = r.get(*k).map_or("missing", String::as_str);
        assert!(
            v.starts_with("denied"),
            "{what}: {k} must be denied, got {v}: {r:#?}"
        );
    }
}

#[test]
fn ypldapd_filter_alone_denies_namespaces_raw_sockets_writes_and_prctl() {
    let r = probe(&["seccomp-only"], "ypldapd");
    // As root, only the filter stands between the probe and each of these.
    expect(
        &r,
        "ypldapd (seccomp only, as root)",
        &[
            "open_read_only",
            "prctl_no_new_privs",
            "fork",
            "state_write",
        ],
        &DENIED,
    );
    // A rename out of the state directory names another directory.
    expect(&r, "ypldapd (seccomp only)", &[], &["state_rename_out"]);
}

#[test]
fn ypldapd_whole_sandbox_denies_them_too() {
    let r = probe(&[], "ypldapd");
    expect(
        &r,
        "ypldapd",
        &["prctl_no_new_privs", "fork", "read_config", "state_write"],
        &DENIED,
    );
    // `..` from the state directory's descriptor leaves it: Landlock.
    expect(&r, "ypldapd", &[], &["state_escape", "state_rename_out"]);
}

#[test]
fn helpers_filters_deny_them() {
    for which in ["dns", "client"] {
        let r = probe(&["seccomp-only"], which);
        expect(&r, which, &[], &DENIED);
        // The helpers open nothing at all.
        expect(&r, which, &[], &["open_read_only", "prctl_no_new_privs"]);
    }
}

/// Runs `program` with `args` under `no-landlock` (landlock_* calls fail
/// with ENOSYS, as on a kernel without Landlock), in `ns`.
fn without_landlock(ns: &Namespace, conf: &std::path::Path, args: &[&str]) -> std::process::Output {
    ns.command(env!("CARGO_BIN_EXE_no-landlock"))
        .arg(tests::program("ypldapd"))
        .args(args)
        .arg("-f")
        .arg(conf)
        .output()
        .expect("run ypldapd")
}

#[test]
fn without_landlock_ypldapd_refuses_to_start_unless_told() {
    let w = World::builder("nolandlock.test").bare().start();
    let conf =
        w.ns.write_file("ypldap.conf", "domain \"nolandlock.test\"\n");
    let out = without_landlock(&w.ns, &conf, &["-d"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "started without Landlock: {err}");
    assert!(
        err.contains("enforces no Landlock file-system rule")
            && err.contains("--accept-no-landlock"),
        "{err}"
    );
}

#[test]
fn without_landlock_the_flag_starts_all_three_with_warnings() {
    let w = World::builder("nolandlock2.test").bare().start();
    let ns = &w.ns;
    let conf = ns.write_file("ypldap.conf", "domain \"nolandlock2.test\"\n");
    let log = ns.dir.path().join("ypldapd.log");
    let mut child = ns
        .command(env!("CARGO_BIN_EXE_no-landlock"))
        .arg(tests::program("ypldapd"))
        .args(["-d", "--accept-no-landlock", "-f"])
        .arg(&conf)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("ypldapd");
    // Each program says so at warning level; then the (empty) maps load.
    let read = || std::fs::read_to_string(&log).unwrap_or_default();
    let loaded = tests::wait_for(Duration::from_secs(20), || {
        read().contains("update 1: 0 directories").then_some(())
    });
    let text = read();
    let _ = child.kill();
    let _ = child.wait();
    assert!(loaded.is_some(), "no maps loaded:\n{text}");
    for program in ["ypldapd", "ypldap-client", "ypldap-dns"] {
        assert!(
            text.contains(&format!(
                "{program}: Landlock file-system rules are NOT enforced (accepted with --accept-no-landlock)"
            )),
            "{program} gave no warning:\n{text}"
        );
    }
    assert!(!text.contains("exited with status"), "{text}");
}

#[test]
fn ypldap_user_with_uid_or_gid_zero_is_refused() {
    for (field, entry) in [
        ("uid", "_ypldap:x:0:4242::/var/empty:/usr/sbin/nologin"),
        ("gid", "_ypldap:x:4242:0::/var/empty:/usr/sbin/nologin"),
    ] {
        let w = World::builder("rootuser.test").bare().start();
        let ns = &w.ns;
        // This namespace's own /etc/passwd, with _ypldap made root-like.
        let passwd = std::fs::read_to_string("/etc/passwd").expect("passwd");
        let mut lines: Vec<&str> = passwd
            .lines()
            .filter(|l| !l.starts_with("_ypldap:"))
            .collect();
        lines.push(entry);
        let copy = ns.write_file("passwd", &(lines.join("\n") + "\n"));
        ns.sh(&format!("mount --bind {} /etc/passwd", copy.display()));
        let conf = ns.write_file("ypldap.conf", "domain \"rootuser.test\"\n");
        let out = ns
            .command(tests::program("ypldapd"))
            .arg("-d")
            .arg("-f")
            .arg(&conf)
            .output()
            .expect("ypldapd");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{field} 0 accepted: {err}");
        assert!(err.contains("neither may be 0"), "{field}: {err}");
    }
}

#[test]
fn ypldap_dns_runs_in_var_empty() {
    let w = World::builder("dnsroot.test")
        .without_rpcbind()
        .config_text("domain \"dnsroot.test\"\n")
        .ready(Ready::FirstMaps)
        .start();
    let d = w.ypldapd();
    let root_of = |name: &str| {
        tests::children(d.pid)
            .into_iter()
            .find(|&p| tests::comm(p).as_deref() == Some(name))
            .and_then(|p| std::fs::read_link(format!("/proc/{p}/root")).ok())
    };
    assert_eq!(
        root_of("ypldap-dns"),
        Some(std::path::PathBuf::from("/var/empty")),
        "{}",
        d.log()
    );
    assert_eq!(
        root_of("ypldap-client"),
        Some(std::path::PathBuf::from("/var/empty"))
    );
}
