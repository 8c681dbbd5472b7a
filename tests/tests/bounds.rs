//! The bounds on what a helper can make ypldapd do (ypldapd(8),
//! "Resource limits"), each shown with the hostile stand-in in
//! ypldap-client's place (`hostile-client`, mode in `hostile-mode`) while
//! a MATCH watcher asks for a user the stand-in's first update loaded:
//! whatever the helper does, no request fails.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::Duration;

use tests::config::{DirectoryBlock, Tls};
use tests::peers::Ypldapd;
use tests::world::World;

/// ypldapd with the stand-in as its reader, and rpcbind.
struct Hostile {
    w: World,
}

/// Starts ypldapd with the stand-in as its LDAP reader in `mode`, on the
/// configuration `conf` (after `domain`), and waits for its first maps.
fn start(domain: &str, mode: &str, conf: &str) -> Hostile {
    // Readable by _ypldap too (root:_ypldap 0640), for SIGHUP.
    let mut w = World::builder(domain)
        .without_ypldapd()
        .config_text(format!("domain \"{domain}\"\n{conf}"))
        .reloadable()
        .start();
    let dir = w.ns.dir.path().join("bin");
    std::fs::create_dir_all(&dir).expect("mkdir");
    for (from, to) in [
        (tests::program("ypldapd"), "ypldapd"),
        (tests::program("ypldap-dns"), "ypldap-dns"),
        (
            PathBuf::from(env!("CARGO_BIN_EXE_hostile-client")),
            "ypldap-client",
        ),
    ] {
        std::fs::copy(from, dir.join(to)).expect("copy");
    }
    std::fs::write(dir.join("hostile-mode"), mode).expect("mode");
    w.program = Some(dir.join("ypldapd"));
    w.start_ypldapd();
    Hostile { w }
}

impl Hostile {
    fn d(&self) -> &Ypldapd {
        self.w.ypldapd()
    }

    /// MATCH `user00007` every 20 ms for `seconds`.
    fn watch(&self, seconds: u32) -> Child {
        self.w
            .ns
            .command(env!("CARGO_BIN_EXE_yp-probe"))
            .args([
                "watch",
                &self.w.domain,
                "passwd.byname",
                "user00007",
                "user00007:x:10007:100:",
                &seconds.to_string(),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("yp-probe")
    }
}

/// The watcher saw no failure, and enough answers to mean something.
fn assert_no_failed_request(watch: Child, what: &str) {
    let out = watch.wait_with_output().expect("watcher");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let f: BTreeMap<&str, &str> = text
        .split_whitespace()
        .filter_map(|w| w.split_once('='))
        .collect();
    assert_eq!(f.get("failed"), Some(&"0"), "{what}: {text}");
    let ok: u64 = f.get("ok").and_then(|v| v.parse().ok()).unwrap_or(0);
    assert!(ok > 20, "{what}: too few answers: {text}");
}

#[test]
fn helper_log_records_are_sanitised_and_rate_limited() {
    let h = start("logflood.test", "log-flood", "");
    let watch = h.watch(5);
    h.d()
        .wait_log("Take?over: forged", 1, Duration::from_secs(20));
    assert_no_failed_request(watch, "log flood");
    let log = h.d().log();
    assert!(!log.contains('\u{1b}'), "a terminal escape reached the log");
    assert!(
        !log.lines()
            .any(|l| l.starts_with("forged") || l.starts_with("over: forged")),
        "a forged line reached the log:\n{log}"
    );
    let written = log.matches("forged: line ?[31mred").count();
    // A burst of 200 (ten times the default 20 a second), then 20 a second
    // over the few seconds of the flood, of 5000 sent.
    assert!(
        (150..=400).contains(&written),
        "{written} of 5000 records written"
    );
    assert!(
        log.contains("log record(s) not written: over limit helper-log-rate 20"),
        "{log}"
    );
}

#[test]
fn one_connect_request_per_directory_is_outstanding() {
    // Port 9 (discard) on loopback: nothing listens, each connect fails
    // at once; what matters is how many reach ypldap-dns.
    let mut block = DirectoryBlock::new("127.0.0.1");
    block.port = Some(9);
    let conf = block.render();
    let h = start("connects.test", "connect-burst", &conf);
    let watch = h.watch(5);
    h.d()
        .wait_log("hostile: connected=", 1, Duration::from_secs(20));
    assert_no_failed_request(watch, "connect burst");
    let log = h.d().log();
    let line = log
        .lines()
        .find(|l| l.contains("hostile: connected="))
        .expect("count");
    let count = |k: &str| -> u32 {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(k))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    assert_eq!(count("refused=") + count("failed="), 200, "{line}");
    assert!(count("refused=") >= 100, "{line}");
    assert!(
        log.contains("a connection to directory 0 is being made already"),
        "{log}"
    );
}

#[test]
fn an_update_past_its_deadline_is_abandoned_and_the_maps_kept() {
    let h = start(
        "deadline.test",
        "first-then-stall",
        "interval 1\nlimit update-time 2\n",
    );
    let watch = h.watch(8);
    h.d().wait_log(
        "did not finish within 2 s (limit update-time): abandoning it and killing ypldap-client",
        1,
        Duration::from_secs(20),
    );
    h.d().wait_log(
        "update failed: it took longer than 2 s; keeping the current maps",
        1,
        Duration::from_secs(5),
    );
    h.d()
        .wait_log("started ypldap-client", 2, Duration::from_secs(20));
    assert_no_failed_request(watch, "stalled update");
    assert!(h.d().alive());
}

#[test]
fn a_helper_that_does_not_read_is_killed_past_its_queue_limit() {
    let ns_dir = tempfile::tempdir().expect("tmp");
    let pki = tests::pki::Pki::create(ns_dir.path());
    // A CA bundle of 20 copies (about 25 KB), sent at every reload; the
    // queue may hold 64 KiB.
    let ca = std::fs::read_to_string(pki.dir.join("ca.crt")).expect("ca");
    let bundle = ns_dir.path().join("bundle.pem");
    std::fs::write(&bundle, ca.repeat(20)).expect("bundle");
    std::fs::set_permissions(
        ns_dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    std::fs::set_permissions(&bundle, std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .expect("chmod");
    let mut block = DirectoryBlock::new("127.0.0.1");
    block.tls = Tls::StartTls;
    let conf = format!(
        "limit helper-queue 65536\ncafile \"{}\"\n{}",
        bundle.display(),
        block.render()
    );
    let h = start("deaf.test", "first-then-deaf", &conf);
    let watch = h.watch(8);
    // Each reload sends the configuration again to a reader that reads
    // nothing: the link's buffer fills, then ypldapd's queue.
    for _ in 0..40 {
        h.d().signal(nix::sys::signal::Signal::SIGHUP);
        std::thread::sleep(Duration::from_millis(100));
        if h.d().log().contains("more than limit helper-queue 65536") {
            break;
        }
    }
    h.d().wait_log(
        "more than limit helper-queue 65536: it does not read its link; killing it",
        1,
        Duration::from_secs(5),
    );
    h.d()
        .wait_log("started ypldap-client", 2, Duration::from_secs(20));
    assert_no_failed_request(watch, "deaf reader");
    assert!(h.d().alive());
}
