//! The OS layer shared by ypldapd, ypldap-client and ypldap-dns: dropping
//! privileges, and the sandbox mechanisms of Linux (Landlock, seccomp),
//! FreeBSD (Capsicum) and OpenBSD (pledge).
//!
//! This crate holds *mechanisms* only. What each program may do, its
//! *policy*, lives in that program's own `sandbox.rs`, so an auditor reads one
//! file per binary. Every program calls [`enter`] once, after it has opened
//! everything it will ever need and before it reads its first message.

use std::fmt;
use std::path::PathBuf;

mod identity;
#[cfg(target_os = "linux")]
pub mod linux;
pub mod memory;
pub mod rights;
pub mod worker;

pub use identity::{Identity, lookup_user};
/// Re-exported for the [`sys!`] macro.
pub use libc;

/// The unprivileged user every program runs as once started by root.
pub const UNPRIVILEGED_USER: &str = "_ypldap";

/// What a process may still touch once it has entered its sandbox.
#[derive(Debug, Clone)]
pub struct Confinement {
    /// The program's name, for messages.
    pub program: &'static str,
    /// When started as root: change root to this directory (it must exist).
    pub chroot: Option<PathBuf>,
    /// When started as root on Linux: move into a new, empty network
    /// namespace (best effort: sockets opened before stay usable).
    pub empty_netns: bool,
    /// Files and directories the process may still read (Landlock).
    pub read_paths: Vec<PathBuf>,
    /// Files the process may still execute (and read), e.g. its helpers.
    pub exec_paths: Vec<PathBuf>,
    /// Directories beneath which the process may still create, write,
    /// rename and remove regular files (ypldapd's state directory).
    pub write_dirs: Vec<PathBuf>,
    /// TCP ports the process may connect to (Landlock ABI ≥ 4). All other
    /// TCP connects and every TCP bind are refused.
    pub tcp_connect_ports: Vec<u16>,
    /// Forbid signals to processes outside the sandbox (Landlock ABI ≥ 6).
    pub scope_signals: bool,
    /// The Linux system call allow-list; anything else fails with EPERM.
    #[cfg(target_os = "linux")]
    pub syscalls: linux::seccomp::Policy,
    /// The OpenBSD `pledge(2)` promises.
    pub pledge: &'static str,
    /// On FreeBSD, whether to enter capability mode (only possible for a
    /// process that needs no `connect`, `bind` or `sendto` with an address).
    pub capability_mode: bool,
    /// Linux: run on even if the kernel enforces no Landlock file-system
    /// rule (the administrator passed [`ACCEPT_NO_LANDLOCK`]); otherwise
    /// such a kernel is a fatal error. Ignored elsewhere.
    pub accept_no_landlock: bool,
}

/// The command-line flag, the same for all three programs, with which the
/// administrator accepts running on a Linux kernel that enforces no
/// Landlock file-system rule (seccomp and the privilege drop still apply).
/// ypldapd passes it on to its helpers.
pub const ACCEPT_NO_LANDLOCK: &str = "--accept-no-landlock";

/// What [`enter`] did, for the start-up log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entered {
    /// Root was dropped for [`UNPRIVILEGED_USER`] (and the root directory changed).
    pub dropped_root: bool,
    /// Human-readable notes: Landlock status, skipped steps.
    pub notes: Vec<String>,
    /// What is confined less than the policy says (Landlock rules this
    /// kernel does not enforce), for the log at warning level.
    pub warnings: Vec<String>,
}

/// Why the sandbox could not be entered. Always fatal: a program never runs
/// with less confinement than its policy says, except where noted as best
/// effort (Landlock on an old kernel, the network namespace).
#[derive(Debug)]
pub enum SandboxError {
    /// The unprivileged user does not exist.
    NoUser(String),
    /// The unprivileged user is root by another name (uid or gid 0).
    PrivilegedUser { name: String, uid: u32, gid: u32 },
    /// The kernel enforces no Landlock file-system rule and the
    /// administrator did not accept that.
    NoLandlock(String),
    /// A privilege-dropping step failed.
    Drop(&'static str, nix::errno::Errno),
    /// Root could be regained after dropping it.
    RootRegained,
    /// Building or applying a Landlock ruleset failed.
    Landlock(String),
    /// Building or applying the seccomp filter failed.
    Seccomp(String),
    /// pledge(2) or Capsicum failed.
    Platform(String),
}

impl fmt::Display for SandboxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SandboxError::NoUser(u) => write!(
                f,
                "user {u} does not exist (create it: the package's install step does)"
            ),
            SandboxError::PrivilegedUser { name, uid, gid } => write!(
                f,
                "user {name} has uid {uid} and gid {gid}: it must be an unprivileged user with a group of its own (neither may be 0)"
            ),
            SandboxError::NoLandlock(why) => write!(
                f,
                "{why}: this kernel enforces no Landlock file-system rule; start with {ACCEPT_NO_LANDLOCK} to run without them (seccomp and the privilege drop still apply)"
            ),
            SandboxError::Drop(step, e) => write!(f, "{step}: {e}"),
            SandboxError::RootRegained => {
                f.write_str("could regain root (uid or gid 0) after dropping it")
            }
            SandboxError::Landlock(e) => write!(f, "landlock: {e}"),
            SandboxError::Seccomp(e) => write!(f, "seccomp: {e}"),
            SandboxError::Platform(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for SandboxError {}

/// Enters the sandbox described by `c`.
///
/// Started as root: look up [`UNPRIVILEGED_USER`], optionally unshare the
/// network namespace, change root, drop to that user and check root cannot
/// be regained. Started as anyone else (development, or a helper restarted by
/// an ypldapd that has already dropped root): skip those steps with a note
/// and keep the rest. Then, per OS: Landlock and seccomp on Linux, rights and
/// capability mode on FreeBSD, pledge on OpenBSD.
///
/// Must be called before any thread exists: the Linux filters apply to the
/// calling thread and the threads it creates later.
pub fn enter(c: &Confinement) -> Result<Entered, SandboxError> {
    let mut entered = Entered {
        dropped_root: false,
        notes: Vec::new(),
        warnings: Vec::new(),
    };
    if nix::unistd::geteuid().is_root() {
        let who = lookup_user(UNPRIVILEGED_USER)?;
        #[cfg(target_os = "linux")]
        if c.empty_netns {
            match nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET) {
                Ok(()) => entered.notes.push("empty network namespace".into()),
                Err(e) => entered.notes.push(format!(
                    "no empty network namespace ({e}); seccomp still forbids sockets"
                )),
            }
        }
        who.become_user(c.chroot.as_deref())?;
        entered.dropped_root = true;
    } else {
        entered.notes.push(format!(
            "not started as root: running as uid {} without changing user or root directory",
            nix::unistd::geteuid()
        ));
    }
    platform_enter(c, &mut entered)?;
    Ok(entered)
}

#[cfg(target_os = "linux")]
fn platform_enter(c: &Confinement, entered: &mut Entered) -> Result<(), SandboxError> {
    let status = linux::landlock::restrict(c)?;
    entered.notes.push(status.line);
    entered.warnings.extend(status.warnings);
    linux::seccomp::apply(&c.syscalls)?;
    Ok(())
}

#[cfg(target_os = "freebsd")]
fn platform_enter(c: &Confinement, entered: &mut Entered) -> Result<(), SandboxError> {
    if c.capability_mode {
        capsicum::enter().map_err(|e| SandboxError::Platform(format!("cap_enter: {e}")))?;
        entered.notes.push("capability mode".into());
    }
    Ok(())
}

#[cfg(target_os = "openbsd")]
fn platform_enter(c: &Confinement, entered: &mut Entered) -> Result<(), SandboxError> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let cstring = |what: &str, bytes: &[u8]| {
        CString::new(bytes).map_err(|_| SandboxError::Platform(format!("{what} contains NUL")))
    };
    // unveil(2): the same files Landlock allows on Linux, read-only or
    // executable, then lock the list. A program that names no path
    // unveils nothing: its promises alone keep it from the file system.
    let unveils: Vec<(&PathBuf, &[u8])> = c
        .read_paths
        .iter()
        .map(|p| (p, b"r".as_slice()))
        .chain(c.exec_paths.iter().map(|p| (p, b"rx".as_slice())))
        .chain(c.write_dirs.iter().map(|p| (p, b"rwc".as_slice())))
        .collect();
    let mut unveiled = 0;
    for (path, perms) in &unveils {
        let p = cstring("an unveil path", path.as_os_str().as_bytes())?;
        let perms = cstring("unveil permissions", perms)?;
        // SAFETY: unveil reads two NUL-terminated strings that live across
        // the call and changes no memory of ours.
        let r = unsafe { libc::unveil(p.as_ptr(), perms.as_ptr()) };
        if r == 0 {
            unveiled += 1;
        } else {
            let e = std::io::Error::last_os_error();
            // A path this system does not have (another OS's loader) is
            // simply not there to unveil.
            if e.raw_os_error() != Some(libc::ENOENT) {
                return Err(SandboxError::Platform(format!(
                    "unveil {}: {e}",
                    path.display()
                )));
            }
        }
    }
    if unveiled > 0 {
        // SAFETY: two NULLs lock the unveil list; no memory is touched.
        let r = unsafe { libc::unveil(std::ptr::null(), std::ptr::null()) };
        if r != 0 {
            return Err(SandboxError::Platform(format!(
                "unveil lock: {}",
                std::io::Error::last_os_error()
            )));
        }
        entered.notes.push(format!("unveiled {unveiled} paths"));
    }
    let promises = cstring("pledge promises", c.pledge.as_bytes())?;
    // SAFETY: pledge reads two NUL-terminated strings (the second is NULL,
    // leaving execpromises unchanged) and has no other effect on memory.
    let r = unsafe { libc::pledge(promises.as_ptr(), std::ptr::null()) };
    if r != 0 {
        return Err(SandboxError::Platform(format!(
            "pledge: {}",
            std::io::Error::last_os_error()
        )));
    }
    entered.notes.push(format!("pledge(\"{}\")", c.pledge));
    Ok(())
}

#[cfg(not(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd")))]
fn platform_enter(c: &Confinement, _entered: &mut Entered) -> Result<(), SandboxError> {
    Err(SandboxError::Platform(format!(
        "{}: no sandbox for this operating system",
        c.program
    )))
}

/// For a helper: ignore SIGINT and SIGHUP, which a terminal sends to the
/// whole process group. A helper ends when its link to ypldapd closes, so
/// ypldapd alone decides about shutdown and reload.
pub fn ignore_terminal_signals() {
    use nix::sys::signal::{SigHandler, Signal, signal};
    for sig in [Signal::SIGINT, Signal::SIGHUP] {
        // SAFETY: SIG_IGN installs no handler code, so nothing can run
        // concurrently with the program.
        let _ = unsafe { signal(sig, SigHandler::SigIgn) };
    }
}
