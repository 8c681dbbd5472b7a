//! The end-to-end test harness: where the built programs are, private
//! namespaces to run them in, and [`world::World`], the one fixture every
//! end-to-end test and the benchmark start from.
//!
//! Every test that runs a daemon runs it inside its own network, mount, UTS
//! and PID namespaces: its own loopback, `/run`, `/var/yp`, state directory and NIS domain
//! name. Tests then run in parallel without colliding (rpcbind and the YP
//! program number are per-host singletons) and the host never changes. When
//! a [`Namespace`] is dropped its first process dies, and the kernel kills
//! everything left inside.

pub mod audit;
pub mod classic_data;
pub mod config;
pub mod ds389;
pub mod expect;
pub mod landlock;
pub mod ldif;
pub mod mock_ldap;
pub mod nis;
pub mod nslcd;
pub mod peers;
pub mod pki;
pub mod probe;
pub mod samba_ad;
pub mod world;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The directory holding the workspace's built binaries (`target/debug`),
/// found from the running test executable (`target/debug/deps/...`).
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let deps = exe.parent().expect("deps dir");
    let dir = deps.parent().expect("target dir").to_path_buf();
    for b in ["ypldapd", "ypldap-client", "ypldap-dns", "ypldapctl"] {
        assert!(
            dir.join(b).exists(),
            "{} missing: build the workspace's binaries first (cargo build --workspace --bins)",
            dir.join(b).display()
        );
    }
    dir
}

/// The path of one of the project's programs.
pub fn program(name: &str) -> PathBuf {
    bin_dir().join(name)
}

/// Waits until `f` returns `Some`, polling every 50 ms, for at most `limit`.
pub fn wait_for<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A set of private namespaces for one test.
pub struct Namespace {
    unshare: Child,
    /// Host pid of the namespace's first process.
    init: u32,
    /// A private scratch directory (on the host's /tmp, visible inside).
    pub dir: tempfile::TempDir,
}

impl Namespace {
    /// Creates namespaces with loopback up, a private `/run`, a private copy
    /// of `/var/yp` (if the host has one) and the NIS domain `domain`.
    pub fn new(domain: &str) -> Namespace {
        assert!(
            nix::unistd::geteuid().is_root(),
            "end-to-end tests need root (they create namespaces)"
        );
        let dir = tempfile::Builder::new()
            .prefix("ypldap-test.")
            .tempdir()
            .expect("tempdir");
        // Allow _ypldap to traverse into the scratch dir (configs are 0600 root).
        let _ = std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        );
        let setup = format!(
            "set -e
ip link set lo up
mount -t tmpfs -o mode=0755 ns-run /run
mkdir -p /run/rpcbind /run/lock /run/ns-varyp
if [ -d /var/yp ]; then cp -a /var/yp/. /run/ns-varyp/; mount --bind /run/ns-varyp /var/yp; mkdir -p /var/yp/binding; fi
for d in /var/lib/ypldap /var/db/ypldap; do if [ -d $d ]; then mount -t tmpfs -o mode=0700 ns-state $d; fi; done
domainname '{domain}'
echo ready
exec sleep infinity"
        );
        let mut unshare = Command::new("unshare")
            .args([
                "--net",
                "--mount",
                "--uts",
                "--ipc",
                "--pid",
                "--fork",
                "--kill-child",
                "--mount-proc",
                "--propagation",
                "private",
                "sh",
                "-c",
                &setup,
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("unshare");
        let mut out = unshare.stdout.take().expect("stdout");
        let mut buf = [0u8; 6];
        std::io::Read::read_exact(&mut out, &mut buf).expect("namespace setup failed");
        assert_eq!(&buf, b"ready\n");
        let upid = unshare.id();
        let init = wait_for(Duration::from_secs(5), || children(upid).into_iter().next())
            .expect("namespace init process");
        Namespace { unshare, init, dir }
    }

    /// A command that runs `program` inside the namespaces.
    pub fn command(&self, program: impl AsRef<Path>) -> Command {
        let mut c = Command::new("nsenter");
        c.arg("--target")
            .arg(self.init.to_string())
            .args(["--net", "--mount", "--uts", "--ipc", "--pid"])
            .arg(format!("--wd={}", self.dir.path().display()))
            .arg("--")
            .arg(program.as_ref());
        c
    }

    /// Runs a shell command inside and returns its stdout; panics with its
    /// stderr if it fails.
    pub fn sh(&self, script: &str) -> String {
        let out = self
            .command("sh")
            .args(["-c", script])
            .output()
            .expect("nsenter");
        assert!(
            out.status.success(),
            "`{script}` failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The host pid of the namespace's first process.
    pub fn init_pid(&self) -> u32 {
        self.init
    }

    /// `path` as seen inside the namespaces, reached from outside through
    /// the first process's root (`/proc/PID/root`): the private `/run`,
    /// for one. Absolute symbolic links on the way are not followed
    /// inside (`/var/run` is `/run`'s).
    pub fn path_inside(&self, path: &str) -> PathBuf {
        PathBuf::from(format!("/proc/{}/root{path}", self.init))
    }

    /// The namespace's network namespace file.
    pub fn net_path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/ns/net", self.init))
    }

    /// Runs `f` on a new thread that has entered the network namespace:
    /// sockets it creates live there (its loopback, its rpcbind).
    pub fn spawn_in_net<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> std::thread::JoinHandle<T> {
        let path = self.net_path();
        std::thread::spawn(move || {
            enter_net(&path);
            f()
        })
    }

    /// Writes a file into the scratch directory with mode 0600.
    pub fn write_file(&self, name: &str, text: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        p
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        // The namespace's first process dies with unshare (--kill-child),
        // and the kernel then kills everything inside.
        let _ = self.unshare.kill();
        let _ = self.unshare.wait();
    }
}

/// Moves the calling thread into the network namespace at `path`.
pub fn enter_net(path: &Path) {
    let fd = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    nix::sched::setns(&fd, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
}

/// Host pids of the children of `pid`.
pub fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            if let Ok(s) = std::fs::read_to_string(t.path().join("children")) {
                out.extend(s.split_whitespace().filter_map(|p| p.parse::<u32>().ok()));
            }
        }
    }
    out
}

/// A process's `/proc/PID/status` fields as (name, value) pairs.
pub fn proc_status(pid: u32) -> Option<Vec<(String, String)>> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some(
        s.lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.to_owned(), v.trim().to_owned()))
            .collect(),
    )
}

/// One field of `/proc/PID/status`.
pub fn status_field(pid: u32, name: &str) -> Option<String> {
    proc_status(pid)?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// The process name (`/proc/PID/comm`).
pub fn comm(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim().to_owned())
}

/// Whether `pid` is alive and not a zombie.
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(')').map(|(_, r)| r.trim_start().to_owned()))
        .is_some_and(|r| !r.starts_with('Z') && !r.starts_with('X'))
}

/// `ypcat -k -h 127.0.0.1 -d DOMAIN MAP` inside `ns`: the (key, value)
/// pairs, sorted.
pub fn ypcat(ns: &Namespace, domain: &str, map: &str) -> Result<Vec<(String, String)>, String> {
    let out = ns
        .command("ypcat")
        .args(["-k", "-h", "127.0.0.1", "-d", domain, map])
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "ypcat {map}: {}{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        ));
    }
    let mut v: Vec<(String, String)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| match l.split_once(' ') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (l.to_owned(), String::new()),
        })
        .collect();
    v.sort();
    Ok(v)
}

/// Whether rpcbind inside `ns` lists the YP program.
pub fn yp_registered(ns: &Namespace) -> bool {
    ns.command("rpcinfo")
        .args(["-p", "127.0.0.1"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("100004"))
        .unwrap_or(false)
}
