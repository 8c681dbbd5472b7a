//! seccomp: the system calls a process may still make.
//!
//! A [`Policy`] is plain data (names, numbers, argument conditions), so a
//! test can compare policies and the audit document can be generated from
//! them. [`apply`] compiles it with `seccompiler` (pure Rust, no libseccomp).
//! Calls outside the policy fail with `EPERM`: a library's rare fallback path
//! then sees an ordinary error instead of killing a daemon that serves a
//! whole site's logins, and the denial is still total.

use std::collections::BTreeMap;
use std::fmt;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

use crate::SandboxError;

/// A system call by name and number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Syscall {
    pub name: &'static str,
    pub nr: i64,
}

impl Syscall {
    /// `name` is the `libc` constant's name (`SYS_read`); the prefix is
    /// dropped for display.
    // `c_long` is 32 bits on some targets: the cast is needed there.
    #[allow(clippy::unnecessary_cast)]
    pub const fn new(name: &'static str, nr: libc::c_long) -> Self {
        let name = match name.as_bytes() {
            [b'S', b'Y', b'S', b'_', rest @ ..] => match std::str::from_utf8(rest) {
                Ok(n) => n,
                Err(_) => name,
            },
            _ => name,
        };
        Syscall {
            name,
            nr: nr as i64,
        }
    }
}

/// Names system calls by their `libc` constants:
/// `sys![SYS_read, SYS_write]` is a `[Syscall; 2]`.
#[macro_export]
macro_rules! sys {
    ($($name:ident),* $(,)?) => {
        [$($crate::linux::seccomp::Syscall::new(stringify!($name), $crate::libc::$name)),*]
    };
}

/// One condition on an argument: `(arg & mask) == value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cond {
    pub arg: u8,
    pub mask: u64,
    pub value: u64,
}

impl Cond {
    /// Argument `arg` equals `value`.
    pub const fn eq(arg: u8, value: u64) -> Self {
        Cond {
            arg,
            mask: u64::MAX,
            value,
        }
    }
    /// The bits of `mask` in argument `arg` equal `value`.
    pub const fn masked(arg: u8, mask: u64, value: u64) -> Self {
        Cond { arg, mask, value }
    }
    /// The bits of `mask` in argument `arg` are all clear.
    pub const fn clear(arg: u8, mask: u64) -> Self {
        Cond {
            arg,
            mask,
            value: 0,
        }
    }
}

impl fmt::Display for Cond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mask == u64::MAX {
            write!(f, "arg{} == {:#x}", self.arg, self.value)
        } else if self.value == 0 {
            write!(f, "arg{} & {:#x} == 0", self.arg, self.mask)
        } else {
            write!(f, "arg{} & {:#x} == {:#x}", self.arg, self.mask, self.value)
        }
    }
}

/// When a system call is allowed: always, or when any of several
/// conjunctions of conditions holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allowed {
    Always,
    When(Vec<Vec<Cond>>),
}

/// An allow-list of system calls.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    rules: BTreeMap<&'static str, (i64, Allowed)>,
}

impl Policy {
    pub fn new() -> Self {
        Self::default()
    }

    /// Allows each call in `calls` with any arguments.
    pub fn allow(&mut self, calls: &[Syscall]) -> &mut Self {
        for s in calls {
            self.rules.insert(s.name, (s.nr, Allowed::Always));
        }
        self
    }

    /// Allows `call` when all of `conds` hold (or-ed with earlier
    /// alternatives; an unconditional allowance stays unconditional).
    pub fn allow_if(&mut self, call: Syscall, conds: &[Cond]) -> &mut Self {
        let entry = self
            .rules
            .entry(call.name)
            .or_insert((call.nr, Allowed::When(Vec::new())));
        if let Allowed::When(alts) = &mut entry.1 {
            if !alts.iter().any(|a| a == conds) {
                alts.push(conds.to_vec());
            }
        }
        self
    }

    /// Adds everything `other` allows.
    pub fn extend(&mut self, other: &Policy) -> &mut Self {
        for (name, (nr, allowed)) in &other.rules {
            let call = Syscall { name, nr: *nr };
            match allowed {
                Allowed::Always => {
                    self.allow(&[call]);
                }
                Allowed::When(alts) => {
                    for a in alts {
                        self.allow_if(call, a);
                    }
                }
            }
        }
        self
    }

    /// How `name` is allowed, if at all.
    pub fn get(&self, name: &str) -> Option<&Allowed> {
        self.rules.get(name).map(|(_, a)| a)
    }

    /// Everything in `self` that `wider` does not allow at least as broadly.
    /// Empty when `self` is a subset of `wider`.
    pub fn not_covered_by(&self, wider: &Policy) -> Vec<String> {
        let mut missing = Vec::new();
        for (name, (_, allowed)) in &self.rules {
            match (allowed, wider.get(name)) {
                (_, Some(Allowed::Always)) => {}
                (Allowed::When(mine), Some(Allowed::When(theirs))) => {
                    for alt in mine {
                        if !theirs.iter().any(|t| t.iter().all(|c| alt.contains(c))) {
                            missing.push(format!("{name} when {}", join(alt)));
                        }
                    }
                }
                _ => missing.push((*name).to_owned()),
            }
        }
        missing
    }

    /// One line per system call, for logs and the audit document.
    pub fn describe(&self) -> Vec<String> {
        self.rules
            .iter()
            .map(|(name, (_, allowed))| match allowed {
                Allowed::Always => (*name).to_owned(),
                Allowed::When(alts) => format!(
                    "{name} when {}",
                    alts.iter()
                        .map(|a| join(a))
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
            })
            .collect()
    }

    fn compile(&self) -> Result<BpfProgram, SandboxError> {
        let err = |e: seccompiler::BackendError| SandboxError::Seccomp(e.to_string());
        let mut map: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
        for (nr, allowed) in self.rules.values() {
            let rules = match allowed {
                Allowed::Always => Vec::new(),
                Allowed::When(alts) => alts
                    .iter()
                    .map(|alt| {
                        let conds = alt
                            .iter()
                            .map(|c| {
                                SeccompCondition::new(
                                    c.arg,
                                    SeccompCmpArgLen::Qword,
                                    SeccompCmpOp::MaskedEq(c.mask),
                                    c.value,
                                )
                            })
                            .collect::<Result<Vec<_>, _>>()
                            .map_err(err)?;
                        SeccompRule::new(conds).map_err(err)
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            };
            map.insert(*nr, rules);
        }
        let filter = SeccompFilter::new(
            map,
            SeccompAction::Errno(libc::EPERM as u32),
            SeccompAction::Allow,
            target_arch(),
        )
        .map_err(err)?;
        BpfProgram::try_from(filter).map_err(err)
    }
}

fn join(conds: &[Cond]) -> String {
    conds
        .iter()
        .map(std::string::ToString::to_string)
        .collect::<Vec<_>>()
        .join(" && ")
}

#[cfg(target_arch = "x86_64")]
fn target_arch() -> TargetArch {
    TargetArch::x86_64
}

#[cfg(target_arch = "aarch64")]
fn target_arch() -> TargetArch {
    TargetArch::aarch64
}

/// Compiles `policy` and applies it to the calling thread (and threads and
/// children it creates later). Sets `no_new_privs` first, as seccomp requires.
pub fn apply(policy: &Policy) -> Result<(), SandboxError> {
    let prog = policy.compile()?;
    seccompiler::apply_filter(&prog).map_err(|e| SandboxError::Seccomp(e.to_string()))
}

/// `fcntl` commands a sandboxed Rust program uses: std's debug fd checks,
/// non-blocking toggles, and close-on-exec duplicates (tokio, mio).
const FCNTL_CMDS: [u64; 5] = [
    libc::F_GETFD as u64,
    libc::F_SETFD as u64,
    libc::F_GETFL as u64,
    libc::F_SETFL as u64,
    libc::F_DUPFD_CLOEXEC as u64,
];

/// What every sandboxed program needs to keep running: I/O on descriptors it
/// already holds, waiting, memory, time, signals it installed before, and
/// exiting. No call here opens a file, creates a socket or starts a process.
pub fn runtime_base() -> Policy {
    let mut p = Policy::new();
    p.allow(&crate::sys![
        SYS_read,
        SYS_write,
        SYS_readv,
        SYS_writev,
        SYS_close,
        SYS_recvfrom,
        SYS_sendto,
        SYS_recvmsg,
        SYS_sendmsg,
        SYS_epoll_pwait,
        SYS_epoll_ctl,
        SYS_ppoll,
        SYS_futex,
        SYS_brk,
        SYS_mmap,
        SYS_munmap,
        SYS_mremap,
        SYS_madvise,
        SYS_mprotect,
        SYS_rt_sigreturn,
        SYS_rt_sigprocmask,
        SYS_rt_sigaction,
        SYS_sigaltstack,
        SYS_getrandom,
        SYS_clock_gettime,
        SYS_clock_nanosleep,
        SYS_nanosleep,
        SYS_restart_syscall,
        SYS_sched_yield,
        SYS_gettid,
        SYS_getpid,
        SYS_shutdown,
        SYS_exit,
        SYS_exit_group,
    ]);
    #[cfg(target_arch = "x86_64")]
    p.allow(&crate::sys![SYS_epoll_wait, SYS_poll]);
    for cmd in FCNTL_CMDS {
        p.allow_if(crate::sys![SYS_fcntl][0], &[Cond::eq(1, cmd)]);
    }
    // FIONBIO's C type differs between targets: the cast is needed there.
    #[allow(clippy::unnecessary_cast)]
    let fionbio = libc::FIONBIO as u64;
    p.allow_if(crate::sys![SYS_ioctl][0], &[Cond::eq(1, fionbio)]);
    p
}

/// The low bits of `socket`'s type argument that hold the type itself
/// (the rest are `SOCK_NONBLOCK` and `SOCK_CLOEXEC`).
const SOCK_TYPE_MASK: u64 = 0xf;

/// `socket` for TCP and UDP over IPv4 and IPv6 only: family `AF_INET` or
/// `AF_INET6`, type `SOCK_STREAM` or `SOCK_DGRAM` (with any of
/// `SOCK_NONBLOCK`, `SOCK_CLOEXEC`), protocol 0. No raw, packet or ping
/// socket, whatever the process's capabilities.
pub fn inet_sockets() -> Policy {
    let mut p = Policy::new();
    for family in [libc::AF_INET, libc::AF_INET6] {
        for ty in [libc::SOCK_STREAM, libc::SOCK_DGRAM] {
            p.allow_if(
                crate::sys![SYS_socket][0],
                &[
                    Cond::eq(0, family as u64),
                    Cond::masked(1, SOCK_TYPE_MASK, ty as u64),
                    Cond::eq(2, 0),
                ],
            );
        }
    }
    p
}

/// `openat` flags that open for writing or change a file: write-only,
/// read-write, create, truncate. (`O_TMPFILE` needs write access, so it is
/// covered; `open`, `creat` and `openat2` are on no list at all.)
pub const OPEN_WRITE_FLAGS: u64 =
    (libc::O_WRONLY | libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC) as u64;

/// `openat` for reading only: the `flags` argument (arg2) has none of
/// [`OPEN_WRITE_FLAGS`]. What a program must write after its sandbox is
/// opened before it.
pub fn open_read_only() -> Policy {
    let mut p = Policy::new();
    p.allow_if(
        crate::sys![SYS_openat][0],
        &[Cond::clear(2, OPEN_WRITE_FLAGS)],
    );
    p
}

/// `openat` with write flags, but only relative to the directory
/// descriptor `dir_fd` (arg0), opened before the sandbox (seccomp compares
/// the descriptor number; a Landlock write rule beneath that directory's
/// path keeps `..` and absolute names from leaving it, since seccomp
/// cannot read the path).
pub fn open_for_writing_in(dir_fd: std::os::fd::RawFd) -> Policy {
    let mut p = Policy::new();
    p.allow_if(
        crate::sys![SYS_openat][0],
        &[Cond::eq(0, u64::from(dir_fd.unsigned_abs()))],
    );
    p
}

/// What replacing a file in the directory `dir_fd` atomically takes:
/// [`open_for_writing_in`], `fsync` (of the new file and of the
/// directory), and `renameat`/`renameat2` with both directories `dir_fd`.
pub fn replace_files_in(dir_fd: std::os::fd::RawFd) -> Policy {
    let fd = u64::from(dir_fd.unsigned_abs());
    let mut p = open_for_writing_in(dir_fd);
    p.allow(&crate::sys![SYS_fsync]);
    #[cfg(target_arch = "x86_64")]
    p.allow_if(
        crate::sys![SYS_renameat][0],
        &[Cond::eq(0, fd), Cond::eq(2, fd)],
    );
    p.allow_if(
        crate::sys![SYS_renameat2][0],
        &[Cond::eq(0, fd), Cond::eq(2, fd)],
    );
    p
}

/// The `prctl` options used after a sandbox is entered: setting (and, by
/// the landlock crate on failure, reading) `no_new_privs`, which
/// installing Landlock and seccomp needs. Every other option fails.
pub fn prctl_no_new_privs() -> Policy {
    let mut p = Policy::new();
    let prctl = crate::sys![SYS_prctl][0];
    p.allow_if(
        prctl,
        &[
            Cond::eq(0, libc::PR_SET_NO_NEW_PRIVS as u64),
            Cond::eq(1, 1),
        ],
    );
    p.allow_if(prctl, &[Cond::eq(0, libc::PR_GET_NO_NEW_PRIVS as u64)]);
    p
}

/// What a freshly exec'd program does between `execve` and its own sandbox:
/// the dynamic loader mapping libraries (opened read-only), the Rust
/// runtime's start-up, looking at its own identity, and installing Landlock
/// and seccomp (`prctl` only for `no_new_privs`). A process that
/// restarts helpers after entering its own sandbox must allow these too,
/// because seccomp filters and Landlock domains are inherited across exec;
/// the helper then narrows them with its own.
pub fn exec_startup() -> Policy {
    let mut p = Policy::new();
    p.allow(&crate::sys![
        SYS_execve,
        SYS_newfstatat,
        SYS_fstat,
        SYS_statx,
        SYS_pread64,
        SYS_faccessat,
        SYS_faccessat2,
        SYS_readlinkat,
        SYS_set_tid_address,
        SYS_set_robust_list,
        SYS_rseq,
        SYS_prlimit64,
        SYS_sched_getaffinity,
        SYS_getuid,
        SYS_geteuid,
        SYS_getgid,
        SYS_getegid,
        SYS_getresuid,
        SYS_getresgid,
        SYS_getsockopt,
        SYS_seccomp,
        SYS_landlock_create_ruleset,
        SYS_landlock_add_rule,
        SYS_landlock_restrict_self,
        SYS_close_range,
        SYS_lseek,
        SYS_getcwd,
        SYS_epoll_create1,
        SYS_eventfd2,
    ]);
    p.extend(&open_read_only());
    p.extend(&prctl_no_new_privs());
    #[cfg(target_arch = "x86_64")]
    p.allow(&crate::sys![
        SYS_arch_prctl,
        SYS_access,
        SYS_readlink,
        SYS_stat
    ]);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_startup_opens_read_only_and_sets_only_no_new_privs() {
        let p = exec_startup();
        assert_eq!(
            p.get("openat"),
            Some(&Allowed::When(vec![vec![Cond::clear(2, OPEN_WRITE_FLAGS)]]))
        );
        assert_eq!(OPEN_WRITE_FLAGS, 0o1103);
        let Some(Allowed::When(prctl)) = p.get("prctl") else {
            panic!("prctl must be conditional");
        };
        assert_eq!(prctl.len(), 2);
        assert!(
            prctl
                .iter()
                .all(|alt| alt[0].arg == 0 && alt[0].mask == u64::MAX)
        );
    }

    #[test]
    fn state_directory_shape_compares_the_descriptor() {
        let p = open_for_writing_in(7);
        assert_eq!(p.describe(), vec!["openat when arg0 == 0x7".to_owned()]);
        // Read-only anywhere, or anything beneath descriptor 7.
        let mut both = open_read_only();
        both.extend(&p);
        assert_eq!(
            both.describe(),
            vec!["openat when arg2 & 0x243 == 0 or arg0 == 0x7".to_owned()]
        );
    }
}
