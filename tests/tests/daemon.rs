//! ypldapd's process life, end to end: three sandboxed processes, helpers
//! restarted after a crash with a doubling back-off, a clean exit that
//! unregisters on SIGTERM and SIGINT, and the configuration file's checks.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tests::world::{Data, Directory, Ready, World};
use tests::{alive, children, comm, landlock, program, status_field, wait_for};

/// ypldapd on a configuration naming only its domain: no directory, no
/// rpcbind; its helpers run all the same.
fn start() -> World {
    World::builder("daemon.test")
        .without_rpcbind()
        .config_text("domain \"daemon.test\"\n")
        .ready(Ready::Started)
        .start()
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

/// The helper's pid as ypldapd sees it, inside the namespace.
fn ns_pid(pid: u32) -> String {
    status_field(pid, "NSpid")
        .and_then(|v| v.split_whitespace().last().map(str::to_owned))
        .expect("NSpid")
}

fn kill(pid: u32) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), Signal::SIGKILL).expect("kill");
}

#[test]
fn three_sandboxed_processes() {
    let w = start();
    let r = w.ypldapd();
    let client = r.sandboxed_helper("ypldap-client", None);
    let dns = r.sandboxed_helper("ypldap-dns", None);
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
    // Each of the three logs its Landlock status as this kernel allows.
    let status = landlock::expected_status(landlock::kernel_abi());
    for who in [
        "sandboxed: ",
        "ypldap-client: sandboxed: ",
        "ypldap-dns: sandboxed: ",
    ] {
        w.wait_log(who, 1, Duration::from_secs(5));
        let log = w.log();
        let line = log
            .lines()
            .find(|l| l.starts_with(who))
            .unwrap_or_else(|| panic!("no {who:?} line:\n{log}"));
        assert!(line.contains(status), "want {status:?}: {line}");
    }
}

#[test]
fn killed_helpers_are_restarted_sandboxed() {
    let w = start();
    let r = w.ypldapd();
    for name in ["ypldap-client", "ypldap-dns"] {
        let old = r.sandboxed_helper(name, None);
        let ns_pid = ns_pid(old);
        kill(old);
        // The first restart comes after 1 s of back-off.
        let new = r.sandboxed_helper(name, Some(old));
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

/// A helper that keeps dying is restarted after 1 s, then 2 s, then 4 s,
/// then 8 s: the log says so, and the restarts really wait that long.
#[test]
fn helper_restart_back_off_doubles() {
    let w = start();
    let r = w.ypldapd();
    let mut pid = r.sandboxed_helper("ypldap-client", None);
    for delay in [1u64, 2, 4, 8] {
        let line = format!(
            "ypldap-client (pid {}) terminated by signal SIGKILL; restarting in {delay} s",
            ns_pid(pid)
        );
        let killed = Instant::now();
        kill(pid);
        r.wait_log(&line, 1, Duration::from_secs(5));
        if delay == 8 {
            break;
        }
        let new = r.sandboxed_helper("ypldap-client", Some(pid));
        let waited = killed.elapsed();
        assert!(
            waited >= Duration::from_millis(delay * 1000 - 100),
            "restarted after {waited:?}, not after {delay} s"
        );
        pid = new;
    }
    assert!(r.alive());
}

/// `sig` stops ypldapd and both helpers with status 0, and ypldapd
/// unregisters from rpcbind on the way out.
fn stops_cleanly(domain: &str, sig: Signal, name: &str) {
    let mut w = World::builder(domain)
        .directory(Directory::slapd(Data::generated(5, 2)))
        .start();
    let r = w.ypldapd();
    let (pid, client, dns) = (
        r.pid,
        r.sandboxed_helper("ypldap-client", None),
        r.sandboxed_helper("ypldap-dns", None),
    );
    let log_path = r.log.clone();
    let status = w.stop_ypldapd(sig);
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(
        status.success(),
        "ypldapd exit status {status}; log:\n{log}"
    );
    for p in [pid, client, dns] {
        assert!(
            wait_for(Duration::from_secs(3), || (!alive(p)).then_some(())).is_some(),
            "pid {p} still running"
        );
    }
    assert!(log.contains(&format!("received {name}, exiting")), "{log}");
    assert!(!w.registered(), "still registered after {name}:\n{log}");
}

#[test]
fn sigterm_stops_all_three_with_status_zero() {
    stops_cleanly("sigterm.test", Signal::SIGTERM, "SIGTERM");
}

#[test]
fn sigint_stops_all_three_with_status_zero() {
    stops_cleanly("sigint.test", Signal::SIGINT, "SIGINT");
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
        "usage: ypldapd [-dnv] [--accept-no-landlock] [-D macro=value] [-f file] [-s socket]\n"
    );
    let dir = tempfile::tempdir().expect("tmp");
    let conf = dir.path().join("ypldap.conf");
    std::fs::write(&conf, "domain \"check.test\"\n").expect("write");
    std::fs::set_permissions(&conf, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod");
    let check = || {
        std::process::Command::new(program("ypldapd"))
            .arg("-n")
            .arg("-f")
            .arg(&conf)
            .output()
            .expect("run")
    };
    let out = check();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "configuration OK\n");
    // A file owned by someone other than root or the caller is refused
    // (the test runs as root, so the file is handed to another uid).
    assert!(nix::unistd::geteuid().is_root(), "run the tests as root");
    nix::unistd::chown(&conf, Some(nix::unistd::Uid::from_raw(12345)), None).expect("chown");
    let out = check();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        format!("{}: owner not root or current user", conf.display())
    );
}

/// Every message ends its line, the configuration's errors too (else the
/// shell's prompt follows the last error on the same line).
#[test]
fn configuration_errors_end_their_line() {
    let dir = tempfile::tempdir().expect("tmp");
    let conf = dir.path().join("ypldap.conf");
    std::fs::write(&conf, "domain \"check.test\"\nbogus statement\n").expect("write");
    std::fs::set_permissions(&conf, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod");
    let out = std::process::Command::new(program("ypldapd"))
        .arg("-n")
        .arg("-f")
        .arg(&conf)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(&format!("{}:2: ", conf.display())),
        "{err:?}"
    );
    assert!(err.ends_with('\n'), "{err:?}");
}
