//! ypldapd's process life, end to end: three sandboxed processes, helpers
//! restarted after a crash, a clean exit on SIGTERM.

use std::time::Duration;

use tests::peers::Ypldapd;
use tests::{Namespace, alive, children, comm, program, status_field, wait_for};

fn start() -> (Namespace, Ypldapd) {
    let ns = Namespace::new("daemon.test");
    let d = Ypldapd::start(&ns, "domain \"daemon.test\"\n");
    (ns, d)
}

/// The pid of the helper `name` (other than `not`), once it runs sandboxed.
fn sandboxed_helper(d: &Ypldapd, name: &str, not: Option<u32>) -> u32 {
    wait_for(Duration::from_secs(10), || {
        children(d.pid).into_iter().find(|&p| {
            Some(p) != not
                && alive(p)
                && comm(p).as_deref() == Some(name)
                && status_field(p, "Seccomp").as_deref() == Some("2")
        })
    })
    .unwrap_or_else(|| panic!("{name} not running sandboxed; log:\n{}", d.log()))
}

fn ypldap_uid() -> String {
    privsep::lookup_user(privsep::UNPRIVILEGED_USER)
        .expect("_ypldap exists (the test command creates it)")
        .uid
        .to_string()
}

fn assert_sandboxed(pid: u32, what: &str) {
    assert_eq!(
        status_field(pid, "Seccomp").as_deref(),
        Some("2"),
        "{what} seccomp"
    );
    assert_eq!(
        status_field(pid, "NoNewPrivs").as_deref(),
        Some("1"),
        "{what} no_new_privs"
    );
    let uid = ypldap_uid();
    let uids = status_field(pid, "Uid").expect("Uid");
    assert!(
        uids.split_whitespace().all(|u| u == uid),
        "{what} runs as {uids}, not _ypldap ({uid})"
    );
}

#[test]
fn three_sandboxed_processes() {
    let (_ns, r) = start();
    let client = sandboxed_helper(&r, "ypldap-client", None);
    let dns = sandboxed_helper(&r, "ypldap-dns", None);
    wait_for(Duration::from_secs(10), || {
        (status_field(r.pid, "Seccomp").as_deref() == Some("2")).then_some(())
    })
    .expect("ypldapd sandboxed");
    assert_sandboxed(r.pid, "ypldapd");
    wait_for(Duration::from_secs(5), || {
        (status_field(client, "Uid").is_some_and(|u| u.starts_with(&ypldap_uid()))).then_some(())
    });
    assert_sandboxed(client, "ypldap-client");
    assert_sandboxed(dns, "ypldap-dns");
    let root = std::fs::read_link(format!("/proc/{client}/root")).expect("client root");
    assert_eq!(
        root,
        std::path::PathBuf::from("/var/empty"),
        "client's root"
    );
    let dns_root = std::fs::read_link(format!("/proc/{dns}/root")).expect("dns root");
    // ypldap-dns chroots once its resolver has read its files.
    assert_eq!(dns_root, std::path::PathBuf::from("/var/empty"));
    // Exactly two helpers, nothing else.
    let mut kids: Vec<String> = children(r.pid).into_iter().filter_map(comm).collect();
    kids.sort();
    assert_eq!(kids, ["ypldap-client", "ypldap-dns"]);
}

#[test]
fn killed_helpers_are_restarted_sandboxed() {
    let (_ns, r) = start();
    for name in ["ypldap-client", "ypldap-dns"] {
        let old = sandboxed_helper(&r, name, None);
        // The pid as ypldapd sees it, inside the namespace.
        let ns_pid = status_field(old, "NSpid")
            .and_then(|v| v.split_whitespace().last().map(str::to_owned))
            .expect("NSpid");
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(old as i32),
            nix::sys::signal::Signal::SIGKILL,
        )
        .expect("kill");
        // The first restart comes after 1 s of back-off.
        let new = sandboxed_helper(&r, name, Some(old));
        assert_ne!(new, old);
        assert_sandboxed(new, name);
        assert!(alive(r.pid), "ypldapd must survive its helper's death");
        let log = r.log();
        assert!(
            log.contains(&format!(
                "{name} (pid {ns_pid}) terminated by signal SIGKILL; restarting in 1 s"
            )),
            "log:\n{log}"
        );
    }
    // The restarted helpers report their sandbox to ypldapd again.
    for name in ["ypldap-client", "ypldap-dns"] {
        r.wait_log(
            &format!("{name}: sandboxed: not started as root"),
            1,
            Duration::from_secs(5),
        );
    }
}

#[test]
fn sigterm_stops_all_three_with_status_zero() {
    let (_ns, mut r) = start();
    let client = sandboxed_helper(&r, "ypldap-client", None);
    let dns = sandboxed_helper(&r, "ypldap-dns", None);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(r.pid as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("kill");
    let status = r.nsenter.wait().expect("wait");
    assert!(
        status.success(),
        "ypldapd exit status {status}; log:\n{}",
        r.log()
    );
    for p in [r.pid, client, dns] {
        assert!(
            wait_for(Duration::from_secs(3), || (!alive(p)).then_some(())).is_some(),
            "pid {p} still running"
        );
    }
    assert!(r.log().contains("received SIGTERM, exiting"));
}

#[test]
fn usage_and_check_mode() {
    let out = std::process::Command::new(program("ypldapd"))
        .arg("-x")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "usage: ypldapd [-dnv] [--accept-no-landlock] [-D macro=value] [-f file]\n"
    );
    let dir = tempfile::tempdir().expect("tmp");
    let conf = dir.path().join("ypldap.conf");
    std::fs::write(&conf, "domain \"check.test\"\n").expect("write");
    std::fs::set_permissions(&conf, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod");
    let out = std::process::Command::new(program("ypldapd"))
        .arg("-n")
        .arg("-f")
        .arg(&conf)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "configuration OK\n");
}
