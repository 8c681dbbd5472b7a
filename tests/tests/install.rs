//! `make install` into a staging directory, its layout, and the installed
//! programs end to end: the installed ypldapd, started from its installed
//! path inside a test's namespaces, finds its helpers where the build put
//! them and serves a slapd directory to `ypcat`.

use std::collections::BTreeSet;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use nix::sys::signal::Signal;
use tests::peers::Ypldapd;
use tests::world::{Data, Directory, World};
use tests::{alive, children, comm, wait_for};

const PREFIX: &str = "/usr/local";

/// Every file `make install` puts under `$(DESTDIR)$(PREFIX)`, with its mode.
const LAYOUT: [(&str, u32); 11] = [
    ("sbin/ypldapd", 0o555),
    ("sbin/ypldapctl", 0o555),
    ("libexec/ypldap/ypldap-client", 0o555),
    ("libexec/ypldap/ypldap-dns", 0o555),
    ("share/man/man5/ypldap.conf.5", 0o444),
    ("share/man/man8/ypldapd.8", 0o444),
    ("share/man/man8/ypldap-client.8", 0o444),
    ("share/man/man8/ypldap-dns.8", 0o444),
    ("share/man/man8/ypldapctl.8", 0o444),
    ("etc/ypldap.conf.sample", 0o600),
    // The directory itself, checked below as a directory.
    ("libexec/ypldap", 0o755),
];

/// Runs `make install PREFIX=/usr/local DESTDIR=stage` at the workspace root.
fn make_install(stage: &Path) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut make = Command::new("make");
    // What `cargo test` sets for this test crate would reach the nested
    // build and, through build scripts that watch it (ring watches
    // CARGO_MANIFEST_DIR), rebuild the release tree every time.
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        if k.starts_with("CARGO_PKG_")
            || k.starts_with("CARGO_BIN_")
            || [
                "CARGO_MANIFEST_DIR",
                "CARGO_MANIFEST_PATH",
                "CARGO_CRATE_NAME",
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_TARGET_TMPDIR",
                "OUT_DIR",
            ]
            .contains(&k.as_ref())
        {
            make.env_remove(k.as_ref());
        }
    }
    let out = make
        .current_dir(tests::audit::workspace_root())
        .arg("install")
        .arg(format!("PREFIX={PREFIX}"))
        .arg(format!("DESTDIR={}", stage.display()))
        .arg(format!("CARGO={cargo}"))
        .output()
        .expect("run make");
    assert!(
        out.status.success(),
        "make install failed: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every regular file under `dir`, relative to it.
fn files_under(dir: &Path, base: &Path, out: &mut BTreeSet<String>) {
    for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, base, out);
        } else {
            out.insert(
                p.strip_prefix(base)
                    .expect("under base")
                    .display()
                    .to_string(),
            );
        }
    }
}

fn check_layout(stage: &Path) -> PathBuf {
    let root = stage.join(PREFIX.trim_start_matches('/'));
    for (rel, mode) in LAYOUT {
        let p = root.join(rel);
        let meta = std::fs::metadata(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert_eq!(
            meta.permissions().mode() & 0o7777,
            mode,
            "mode of {}",
            p.display()
        );
        assert_eq!(meta.is_dir(), rel == "libexec/ypldap", "{}", p.display());
    }
    let mut found = BTreeSet::new();
    files_under(stage, stage, &mut found);
    let want: BTreeSet<String> = LAYOUT
        .iter()
        .filter(|(rel, _)| *rel != "libexec/ypldap")
        .map(|(rel, _)| format!("{}/{rel}", PREFIX.trim_start_matches('/')))
        .collect();
    assert_eq!(found, want, "files installed");
    root
}

/// (device, inode) of a file, following symbolic links.
fn file_id(p: &Path) -> (u64, u64) {
    let m = std::fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    (m.dev(), m.ino())
}

/// The pid of the running helper `name` under ypldapd.
fn helper(d: &Ypldapd, name: &str) -> u32 {
    wait_for(Duration::from_secs(10), || {
        children(d.pid)
            .into_iter()
            .find(|&p| alive(p) && comm(p).as_deref() == Some(name))
    })
    .unwrap_or_else(|| panic!("{name} not running; log:\n{}", d.log()))
}

#[test]
fn make_install_then_installed_daemon_serves_ypcat() {
    let stage = tempfile::Builder::new()
        .prefix("ypldap-install.")
        .tempdir()
        .expect("tempdir");
    // _ypldap must reach the installed helpers (a restarted helper is
    // executed as _ypldap).
    std::fs::set_permissions(stage.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    make_install(stage.path());
    let installed = check_layout(stage.path());

    // The installed sample configuration is valid.
    let sample = installed.join("etc/ypldap.conf.sample");
    let out = Command::new(installed.join("sbin/ypldapd"))
        .arg("-n")
        .arg("-f")
        .arg(&sample)
        .output()
        .expect("ypldapd -n");
    assert!(
        out.status.success(),
        "ypldapd -n on the sample: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Inside the namespaces, the staging tree is /usr/local: the installed
    // ypldapd runs from /usr/local/sbin and must find its helpers in
    // /usr/local/libexec/ypldap, where the build told it they are (there
    // are none next to it).
    let domain = "install.test";
    let mut w = World::builder(domain)
        .directory(Directory::slapd(Data::generated(25, 6)))
        .without_ypldapd()
        .program("/usr/local/sbin/ypldapd")
        .start();
    w.ns.sh(&format!("mount --bind '{}' {PREFIX}", installed.display()));
    w.start_ypldapd();

    let got: BTreeSet<String> =
        w.ns.sh(&format!("ypcat -h 127.0.0.1 -d {domain} passwd.byname"))
            .lines()
            .map(str::to_owned)
            .collect();
    let want: BTreeSet<String> = w.expected_maps()["passwd.byname"]
        .iter()
        .map(|(_, v)| v.clone())
        .collect();
    assert!(!want.is_empty());
    assert_eq!(got, want, "ypcat passwd.byname");

    // The running programs are the installed files.
    let d = w.ypldapd();
    let exe = |pid: u32| PathBuf::from(format!("/proc/{pid}/exe"));
    assert_eq!(
        file_id(&exe(d.pid)),
        file_id(&installed.join("sbin/ypldapd")),
        "ypldapd's executable"
    );
    for name in ["ypldap-client", "ypldap-dns"] {
        let pid = helper(d, name);
        let link = std::fs::read_link(exe(pid)).expect("readlink exe");
        assert!(
            link.ends_with(format!("libexec/ypldap/{name}")),
            "{name} runs {}",
            link.display()
        );
        assert_eq!(
            file_id(&exe(pid)),
            file_id(&installed.join("libexec/ypldap").join(name)),
            "{name}'s executable is the installed one"
        );
    }

    // A clean stop unregisters and exits 0.
    let status = w.stop_ypldapd(Signal::SIGTERM);
    assert!(status.success(), "exit status {status}");
    assert!(!w.registered(), "still registered after SIGTERM");
}

/// A build without `YPLDAP_HELPER_DIR` (this test's own) looks for the
/// helpers next to its own executable.
#[test]
fn unconfigured_build_finds_helpers_next_to_itself() {
    let exe = std::env::current_exe().expect("current_exe");
    assert_eq!(
        ypldapd::daemon::helper_dir().expect("helper_dir"),
        exe.parent().expect("parent")
    );
}

/// The FreeBSD port installs what `make install` installs: the same files
/// under the prefix (man pages compressed by the ports framework), the
/// sample configuration through `@sample` with mode 0600.
#[test]
fn freebsd_plist_matches_make_install() {
    let root = tests::audit::workspace_root();
    let plist = std::fs::read_to_string(root.join("dist/freebsd/pkg-plist")).expect("pkg-plist");
    let got: BTreeSet<String> = plist
        .lines()
        // The state directory: made by the package, not by make install.
        .filter(|l| !l.starts_with("@dir("))
        .map(|l| match l.strip_prefix("@sample(root,wheel,0600) ") {
            Some(sample) => sample.to_owned(),
            None => l.trim_end_matches(".gz").to_owned(),
        })
        .collect();
    let want: BTreeSet<String> = LAYOUT
        .iter()
        .filter(|(rel, _)| *rel != "libexec/ypldap")
        .map(|(rel, _)| (*rel).to_owned())
        .collect();
    assert_eq!(got, want);
    assert!(plist.contains("@sample(root,wheel,0600) etc/ypldap.conf.sample"));
    assert!(plist.contains(&format!("@dir(_ypldap,_ypldap,0700) {}", "/var/db/ypldap")));
}

/// The registry crates of `Cargo.lock`: "name-version" → checksum.
fn lockfile_crates(root: &Path) -> std::collections::BTreeMap<String, String> {
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).expect("Cargo.lock");
    let mut crates = std::collections::BTreeMap::new();
    for block in lock.split("[[package]]").skip(1) {
        let field = |k: &str| {
            block
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{k} = \"")))
                .map(|v| v.trim_end_matches('"').to_owned())
        };
        if field("source").is_some_and(|s| s.starts_with("registry+")) {
            crates.insert(
                format!(
                    "{}-{}",
                    field("name").expect("name"),
                    field("version").expect("version")
                ),
                field("checksum").expect("checksum"),
            );
        }
    }
    crates
}

/// `dist/freebsd/Makefile.crates` lists exactly the registry crates of
/// `Cargo.lock` (as `make cargo-crates` would print them).
#[test]
fn freebsd_crates_match_lockfile() {
    let root = tests::audit::workspace_root();
    let want: BTreeSet<String> = lockfile_crates(&root).into_keys().collect();
    let crates = std::fs::read_to_string(root.join("dist/freebsd/Makefile.crates"))
        .expect("Makefile.crates");
    let got: BTreeSet<String> = crates
        .split_whitespace()
        .filter(|w| *w != "\\" && *w != "CARGO_CRATES=")
        .map(str::to_owned)
        .collect();
    let stale: Vec<_> = want.symmetric_difference(&got).collect();
    assert!(
        stale.is_empty(),
        "dist/freebsd/Makefile.crates is stale (regenerate it with scripts/freebsd-port.sh): {stale:?}"
    );
}

/// `dist/freebsd/distinfo` holds, for every registry crate of `Cargo.lock`,
/// the crate file's SHA256 (Cargo.lock's checksum, which is the SHA256 of
/// the `.crate` file) and a size, and nothing else but the release tarball
/// of the version the port's Makefile and the workspace both name; where
/// cargo's cache holds a crate file, its size is the one recorded.
#[test]
fn freebsd_distinfo_matches_lockfile() {
    let root = tests::audit::workspace_root();
    let crates = lockfile_crates(&root);
    let distinfo = std::fs::read_to_string(root.join("dist/freebsd/distinfo")).expect("distinfo");
    let makefile = std::fs::read_to_string(root.join("dist/freebsd/Makefile")).expect("Makefile");
    let version = makefile
        .lines()
        .find_map(|l| l.strip_prefix("DISTVERSION="))
        .map(str::trim)
        .expect("DISTVERSION");
    assert_eq!(
        version,
        env!("CARGO_PKG_VERSION"),
        "the port's DISTVERSION is the workspace's version"
    );
    let tarball = format!("ypldap-rs-{version}.tar.gz");
    let mut sums = std::collections::BTreeMap::new();
    let mut sizes = std::collections::BTreeMap::new();
    for line in distinfo.lines() {
        if line.starts_with("TIMESTAMP = ") {
            continue;
        }
        let (head, value) = line.split_once(") = ").expect("distinfo line");
        let (kind, file) = head.split_once(" (").expect("distinfo line");
        match kind {
            "SHA256" => sums.insert(file.to_owned(), value.to_owned()),
            "SIZE" => sizes.insert(
                file.to_owned(),
                value.parse::<u64>().expect("size").to_string(),
            ),
            other => panic!("unexpected distinfo line kind {other}"),
        };
    }
    let mut want: BTreeSet<String> = crates
        .keys()
        .map(|c| format!("rust/crates/{c}.crate"))
        .collect();
    want.insert(tarball.clone());
    let got: BTreeSet<String> = sums.keys().cloned().collect();
    let stale: Vec<_> = want.symmetric_difference(&got).collect();
    assert!(
        stale.is_empty(),
        "dist/freebsd/distinfo is stale (regenerate it with scripts/freebsd-port.sh): {stale:?}"
    );
    assert_eq!(
        sizes.keys().collect::<BTreeSet<_>>(),
        got.iter().collect::<BTreeSet<_>>(),
        "every file has a SIZE"
    );
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let caches: Vec<PathBuf> = cargo_home
        .and_then(|h| std::fs::read_dir(h.join("registry/cache")).ok())
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    let mut sizes_checked = 0;
    for (name, sum) in &crates {
        let file = format!("rust/crates/{name}.crate");
        assert_eq!(&sums[&file], sum, "SHA256 of {file}");
        if let Some(meta) = caches
            .iter()
            .find_map(|c| std::fs::metadata(c.join(format!("{name}.crate"))).ok())
        {
            assert_eq!(sizes[&file], meta.len().to_string(), "SIZE of {file}");
            sizes_checked += 1;
        }
    }
    // The build that runs this test fetched at least its own crates.
    assert!(sizes_checked > 0, "no crate file found in cargo's cache");
}
