//! What ypldap-client may do once sandboxed: this file is its whole policy.
//!
//! | OS | confinement |
//! |---|---|
//! | Linux | started as root: empty network namespace (best effort), chroot `/var/empty`, setresuid `_ypldap`; Landlock: no file, no TCP bind or connect, no signals or abstract sockets out; seccomp: [`privsep::linux::seccomp::runtime_base`] only (no `open`, `socket`, `connect`, `bind`, `execve`, `clone`) |
//! | FreeBSD | capability mode (`cap_enter`): only the descriptors it holds, fds 0–2 and the link limited with `cap_rights_limit` ([`DESCRIPTOR_RIGHTS`]); the directory sockets arrive limited by ypldap-dns |
//! | OpenBSD | `pledge("stdio recvfd")` |
//!
//! Its whole world is fd 3 (the link to ypldapd) and the LDAP sockets that
//! arrive over it.

use std::path::PathBuf;

use privsep::Confinement;
use privsep::rights::{DescriptorRights, Right};

/// FreeBSD: the link to ypldapd (fd 3): configuration, requests and
/// directory sockets in, entries and log records out.
pub const LINK: DescriptorRights = DescriptorRights {
    descriptor: "fd 3, the link to ypldapd",
    rights: &[Right::Read, Right::Write, Right::Event],
    fcntls: &[],
    ioctls: &[],
};

/// Every descriptor the client limits on FreeBSD.
pub const DESCRIPTOR_RIGHTS: [DescriptorRights; 3] =
    [privsep::rights::STDIO[0], privsep::rights::STDIO[1], LINK];

/// Descriptors the client holds but does not limit, and why.
pub const UNLIMITED_DESCRIPTORS: [(&str, &str); 2] = [
    (
        "the runtime's kqueue",
        "tokio creates and keeps it without exposing it; capability mode confines it",
    ),
    (
        "each directory socket",
        "it arrives limited by ypldap-dns (see there); rights can only shrink",
    ),
];

/// The directory the client changes root to when started as root.
pub const EMPTY_ROOT: &str = "/var/empty";

/// The client's confinement.
pub fn confinement() -> Confinement {
    Confinement {
        program: "ypldap-client",
        chroot: Some(PathBuf::from(EMPTY_ROOT)),
        empty_netns: true,
        read_paths: Vec::new(),
        exec_paths: Vec::new(),
        write_dirs: Vec::new(),
        tcp_connect_ports: Vec::new(),
        scope_signals: true,
        #[cfg(target_os = "linux")]
        syscalls: privsep::linux::seccomp::runtime_base(),
        pledge: "stdio recvfd",
        capability_mode: true,
        accept_no_landlock: false,
    }
}
