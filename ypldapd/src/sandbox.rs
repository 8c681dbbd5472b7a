//! What ypldapd may do once sandboxed: this file is its whole policy.
//!
//! ypldapd faces the network, so it runs as `_ypldap` with the least it
//! needs to (1) serve YP on the sockets it bound as root, (2) talk to its
//! helpers, and (3) restart a helper that died. (3) is what makes it wider
//! than the helpers: seccomp filters and Landlock domains are inherited
//! across `execve`, so everything a freshly exec'd helper does until its own
//! sandbox is on, and everything it does after, must pass ypldapd's filters
//! too. The helper then narrows them with its own. A test checks that each
//! helper's policy is covered by `helper_needs` here.
//!
//! | OS | confinement |
//! |---|---|
//! | Linux | setresuid `_ypldap` (no chroot: reload re-reads the config); Landlock: read beneath the directories holding the configuration and its files (SIGHUP; an edit replaces a file, which a rule on the file would not follow; file permissions decide within them), the dynamic loader's libraries and `/etc/resolv.conf`, `/etc/hosts` (the broker's resolver reads them at start); execute only the two helpers and the dynamic loader; TCP connect only to port 53 and the directories' ports (for a restarted broker), no TCP bind; seccomp: see [`syscalls`] |
//! | FreeBSD | setresuid; not capability mode (a UDP server must `sendto` an address, and restarting helpers needs `execve` by path) |
//! | OpenBSD | `pledge("stdio inet recvfd sendfd proc exec")` |

use std::path::PathBuf;

use privsep::Confinement;

/// Directories and files the dynamic loader reads when a helper is exec'd.
pub const LOADER_PATHS: [&str; 6] = [
    "/lib",
    "/lib64",
    "/usr/lib",
    "/usr/lib64",
    "/etc/ld.so.cache",
    "/usr/local/lib",
];

/// The dynamic loader, which the kernel executes on behalf of a helper:
/// the only library that needs the execute right. Paths that do not exist
/// on a system are skipped.
pub const LOADER_INTERPRETERS: [&str; 4] = [
    "/lib64/ld-linux-x86-64.so.2",
    "/lib/ld-linux-aarch64.so.1",
    "/libexec/ld-elf.so.1",
    "/usr/libexec/ld.so",
];

/// Files the broker's resolver reads at start, before its own sandbox.
pub const RESOLVER_PATHS: [&str; 2] = ["/etc/resolv.conf", "/etc/hosts"];

/// ypldapd's confinement, given the directories of the files its
/// configuration was read from (for SIGHUP), its helpers' binaries and the
/// directories' TCP ports.
pub fn confinement(
    config_dirs: &[PathBuf],
    helpers: &[PathBuf],
    directory_ports: &[u16],
) -> Confinement {
    let mut read_paths: Vec<PathBuf> = LOADER_PATHS.iter().map(PathBuf::from).collect();
    read_paths.extend(RESOLVER_PATHS.iter().map(PathBuf::from));
    read_paths.extend(config_dirs.iter().cloned());
    let mut ports = vec![53];
    ports.extend_from_slice(directory_ports);
    ports.sort_unstable();
    ports.dedup();
    Confinement {
        program: "ypldapd",
        chroot: None,
        empty_netns: false,
        read_paths,
        exec_paths: helpers
            .iter()
            .cloned()
            .chain(LOADER_INTERPRETERS.iter().map(PathBuf::from))
            .collect(),
        tcp_connect_ports: ports,
        // ypldapd signals its helpers, which were started outside its domain.
        scope_signals: false,
        #[cfg(target_os = "linux")]
        syscalls: syscalls(),
        pledge: "stdio inet recvfd sendfd proc exec",
        capability_mode: false,
    }
}

/// What ypldapd's helpers may do at run time, which a helper restarted from
/// inside ypldapd's sandbox inherits as a ceiling: the broker creates
/// Internet sockets and connects them. (A test checks each helper's real
/// policy against this.)
#[cfg(target_os = "linux")]
pub fn helper_needs() -> privsep::linux::seccomp::Policy {
    use privsep::linux::seccomp::Cond;
    let mut p = privsep::linux::seccomp::Policy::new();
    p.allow(&privsep::sys![
        SYS_connect,
        SYS_bind,
        SYS_getsockopt,
        SYS_setsockopt,
        SYS_getsockname,
        SYS_getpeername,
    ]);
    for family in [privsep::libc::AF_INET, privsep::libc::AF_INET6] {
        p.allow_if(privsep::sys![SYS_socket][0], &[Cond::eq(0, family as u64)]);
    }
    p
}

/// ypldapd's system calls on Linux, in four parts:
/// - the common runtime ([`privsep::linux::seccomp::runtime_base`]);
/// - serving: `accept4`, `getsockname`, `getpeername`, `setsockopt`,
///   `recvmmsg`, `sendmmsg` on the sockets bound as root;
/// - supervising: `socketpair` (AF_UNIX only) for a new link, `clone` without `CLONE_THREAD` (fork only, no threads),
///   `execve`, `wait4`, `kill`, `dup2`/`dup3`, `close_range`;
/// - what a restarted helper needs until and after its own sandbox:
///   [`privsep::linux::seccomp::exec_startup`] and [`helper_needs`].
#[cfg(target_os = "linux")]
pub fn syscalls() -> privsep::linux::seccomp::Policy {
    use privsep::linux::seccomp::{Cond, exec_startup, runtime_base};
    let mut p = runtime_base();
    p.allow(&privsep::sys![
        SYS_accept4,
        SYS_getsockname,
        SYS_getpeername,
        SYS_setsockopt,
        SYS_recvmmsg,
        SYS_sendmmsg,
        SYS_wait4,
        SYS_kill,
        SYS_dup3,
        SYS_close_range,
    ]);
    #[cfg(target_arch = "x86_64")]
    p.allow(&privsep::sys![SYS_dup2]);
    p.allow_if(
        privsep::sys![SYS_socketpair][0],
        &[Cond::eq(0, privsep::libc::AF_UNIX as u64)],
    );
    p.allow_if(
        privsep::sys![SYS_clone][0],
        &[Cond::clear(0, privsep::libc::CLONE_THREAD as u64)],
    );
    p.extend(&exec_startup());
    p.extend(&helper_needs());
    p
}
