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
//! | Linux | setresuid `_ypldap` (no chroot: reload re-reads the config); Landlock: read beneath the directories holding the configuration and its files (SIGHUP; an edit replaces a file, which a rule on the file would not follow; file permissions decide within them), the dynamic loader's libraries and `/etc/resolv.conf`, `/etc/hosts` (the broker's resolver reads them at start); execute only the two helpers and the dynamic loader; create, write, rename and remove regular files only beneath the state directory; TCP connect only to port 53 and the directories' ports (for a restarted broker), no TCP bind; seccomp: see [`syscalls`] (`openat` read-only except relative to the state directory's descriptor, `renameat` only within it, `clone` only as `fork()`, `prctl` only for `no_new_privs`) |
//! | FreeBSD | setresuid; every descriptor limited with `cap_rights_limit` to what is done with it ([`DESCRIPTOR_RIGHTS`]); not capability mode: a UDP server must `sendto` an address, restarting a helper needs `execve` by path, and a reload opens the configuration by path |
//! | OpenBSD | `unveil`: read the same files as Landlock, execute the helpers, `rwc` the state directory; `pledge("stdio rpath wpath cpath inet unix recvfd sendfd proc exec flock")` (`rpath` for a reload, `wpath cpath` for the state directory (without one: neither), `unix` to accept on the control sockets, `flock` for the `bind local` binding file's lock) |

use std::path::PathBuf;

use privsep::Confinement;
use privsep::rights::{DescriptorRights, Right};

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
    state: Option<(PathBuf, std::os::fd::RawFd)>,
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
        write_dirs: state.iter().map(|(p, _)| p.clone()).collect(),
        tcp_connect_ports: ports,
        // ypldapd signals its helpers, which were started outside its domain.
        scope_signals: false,
        #[cfg(target_os = "linux")]
        syscalls: syscalls(state.as_ref().map(|(_, fd)| *fd)),
        pledge: if state.is_some() {
            "stdio rpath wpath cpath inet unix recvfd sendfd proc exec flock"
        } else {
            "stdio rpath inet unix recvfd sendfd proc exec flock"
        },
        capability_mode: false,
        accept_no_landlock: false,
    }
}

/// FreeBSD: the YP UDP sockets receive requests and answer each to its
/// sender's address (`sendto` with an address needs `CAP_CONNECT`); the
/// port is read back for the registration.
pub const YP_UDP: DescriptorRights = DescriptorRights {
    descriptor: "YP UDP sockets (IPv4, IPv6)",
    rights: &[
        Right::Read,
        Right::Write,
        Right::Connect,
        Right::Event,
        Right::Getsockname,
    ],
    fcntls: &[],
    ioctls: &[],
};

/// FreeBSD: the YP TCP listeners. A socket accepted from a limited
/// listener inherits its rights, so these are also the connections' rights:
/// accept (non-blocking already, by `accept4` flags), read requests, write
/// replies.
pub const YP_TCP: DescriptorRights = DescriptorRights {
    descriptor: "YP TCP listeners and the connections accepted from them",
    rights: &[
        Right::Accept,
        Right::Read,
        Right::Write,
        Right::Event,
        Right::Getsockname,
    ],
    fcntls: &[],
    ioctls: &[],
};

/// FreeBSD: the rpcbind registration socket, a UDP socket connected to
/// 127.0.0.1:111: calls and replies, with a receive timeout.
pub const RPCBIND: DescriptorRights = DescriptorRights {
    descriptor: "rpcbind registration socket (UDP, connected to 127.0.0.1:111)",
    rights: &[Right::Read, Right::Write, Right::Setsockopt],
    fcntls: &[],
    ioctls: &[],
};

/// FreeBSD: the `bind local` binding file, opened and locked as root,
/// written in place once the maps are loaded, unlocked at exit.
pub const BINDING_FILE: DescriptorRights = DescriptorRights {
    descriptor: "binding file `/var/yp/binding/DOMAIN.2` (`bind local`)",
    rights: &[Right::Write, Right::Seek, Right::Flock],
    fcntls: &[],
    ioctls: &[],
};

/// FreeBSD: each helper's link, also the links of restarted helpers
/// (set non-blocking before the limit): messages and descriptors both ways.
pub const HELPER_LINK: DescriptorRights = DescriptorRights {
    descriptor: "each helper's link (`AF_UNIX SOCK_SEQPACKET`)",
    rights: &[Right::Read, Right::Write, Right::Event],
    fcntls: &[],
    ioctls: &[],
};

/// FreeBSD: the control sockets (`/var/run/ypldapd.sock`, and the
/// restricted one when configured), bound and listening as root. A
/// connection accepted from a limited listener inherits its rights, so
/// these are also the connections' rights: accept (non-blocking already,
/// by `accept4` flags), read a request, write the reply.
pub const CONTROL_SOCKET: DescriptorRights = DescriptorRights {
    descriptor: "control sockets (`AF_UNIX SOCK_SEQPACKET`, listening) and the connections accepted from them",
    rights: &[Right::Accept, Right::Read, Right::Write, Right::Event],
    fcntls: &[],
    ioctls: &[],
};

/// FreeBSD: `/dev/null`, which becomes a restarted helper's fds 0–2.
pub const DEV_NULL: DescriptorRights = DescriptorRights {
    descriptor: "`/dev/null` (a restarted helper's fds 0–2)",
    rights: &[Right::Read, Right::Write],
    fcntls: &[],
    ioctls: &[],
};

/// FreeBSD: the syslog socket, connected to `/dev/log` (daemon mode).
pub const SYSLOG: DescriptorRights = DescriptorRights {
    descriptor: "syslog socket (connected to `/dev/log`, daemon mode)",
    rights: &[Right::Write],
    fcntls: &[],
    ioctls: &[],
};

/// FreeBSD: the event loop's kqueue.
pub const EVENT_QUEUE: DescriptorRights = DescriptorRights {
    descriptor: "event loop (kqueue)",
    rights: &[Right::KqueueChange, Right::KqueueEvent],
    fcntls: &[],
    ioctls: &[],
};

/// Every descriptor ypldapd limits on FreeBSD, in the order of the audit.
pub const DESCRIPTOR_RIGHTS: [DescriptorRights; 11] = [
    privsep::rights::STDIO[0],
    privsep::rights::STDIO[1],
    YP_UDP,
    YP_TCP,
    RPCBIND,
    BINDING_FILE,
    HELPER_LINK,
    CONTROL_SOCKET,
    DEV_NULL,
    SYSLOG,
    EVENT_QUEUE,
];

/// Descriptors ypldapd holds but does not limit, and why.
pub const UNLIMITED_DESCRIPTORS: [(&str, &str); 3] = [
    (
        "the state directory (`/var/db/ypldap`), opened as root",
        "files are created, synced and renamed relative to it (`CAP_CREATE`, `CAP_FSYNC`, `CAP_RENAMEAT_*`), rights that `privsep::rights` does not model yet; ypldapd is not in capability mode, so limiting this descriptor would not confine its writes (file permissions and the directory's owner do)",
    ),
    (
        "signal pipe (both ends)",
        "signal-hook-mio creates and keeps it without exposing it; it is a pipe inside this process",
    ),
    (
        "a directory socket being relayed",
        "ypldapd only passes it on; ypldap-dns limited it before sending it",
    ),
];

/// What ypldapd's helpers may do at run time, which a helper restarted from
/// inside ypldapd's sandbox inherits as a ceiling: the broker creates
/// Internet sockets and connects them. (A test checks each helper's real
/// policy against this.)
#[cfg(target_os = "linux")]
pub fn helper_needs() -> privsep::linux::seccomp::Policy {
    let mut p = privsep::linux::seccomp::Policy::new();
    p.allow(&privsep::sys![
        SYS_connect,
        SYS_bind,
        SYS_getsockopt,
        SYS_setsockopt,
        SYS_getsockname,
        SYS_getpeername,
    ]);
    p.extend(&privsep::linux::seccomp::inet_sockets());
    p
}

/// The flags glibc's `fork()` passes to `clone` (x86_64 and aarch64
/// alike), the only `clone` ypldapd's filter lets through: a new process
/// sharing nothing, never a thread (`CLONE_THREAD`, `CLONE_VM`) or a new
/// namespace (any `CLONE_NEW*`). `clone3` takes its flags in memory,
/// which seccomp cannot read, so it is on no list.
#[cfg(target_os = "linux")]
pub const FORK_CLONE_FLAGS: u64 = (privsep::libc::CLONE_CHILD_SETTID
    | privsep::libc::CLONE_CHILD_CLEARTID
    | privsep::libc::SIGCHLD) as u64;

/// ypldapd's system calls on Linux, in four parts:
/// - the common runtime ([`privsep::linux::seccomp::runtime_base`]);
/// - serving: `accept4`, `getsockname`, `getpeername`, `setsockopt`,
///   `recvmmsg`, `sendmmsg` on the sockets bound as root;
/// - supervising: `socketpair` (AF_UNIX only) for a new link, `clone`
///   with exactly [`FORK_CLONE_FLAGS`] (fork only: no thread, no
///   namespace), `execve`, `wait4`, `kill`, `dup2`/`dup3`, `close_range`;
/// - what a restarted helper needs until and after its own sandbox:
///   [`privsep::linux::seccomp::exec_startup`] and [`helper_needs`].
#[cfg(target_os = "linux")]
pub fn syscalls(state_dir: Option<std::os::fd::RawFd>) -> privsep::linux::seccomp::Policy {
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
        &[Cond::eq(0, FORK_CLONE_FLAGS)],
    );
    p.extend(&exec_startup());
    p.extend(&helper_needs());
    if let Some(fd) = state_dir {
        p.extend(&privsep::linux::seccomp::replace_files_in(fd));
    }
    p
}
