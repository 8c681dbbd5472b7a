//! What ypldap-dns may do once sandboxed: this file is its whole policy.
//!
//! | OS | confinement |
//! |---|---|
//! | Linux | started as root: chroot [`EMPTY_ROOT`] (the resolver has read `/etc/resolv.conf` and `/etc/hosts` already), setresuid `_ypldap`; restarted by a sandboxed ypldapd it is `_ypldap` already and cannot chroot: Landlock's no-file rule is then what keeps it from every file; Landlock: no file, TCP connect only to port 53 and the directories' ports, no TCP bind, no signals or abstract sockets out; seccomp: [`privsep::linux::seccomp::runtime_base`] plus `socket` (TCP and UDP over AF_INET, AF_INET6 only: [`privsep::linux::seccomp::inet_sockets`]), `connect`, `bind`, `getsockopt`, `setsockopt`, `getsockname`, `getpeername` |
//! | FreeBSD | chroot, setresuid; fds 0–2 and the link limited with `cap_rights_limit` ([`DESCRIPTOR_RIGHTS`]), and each directory socket limited to what ypldap-client does with it before it is handed over; not capability mode, which forbids `connect` and `sendto` with an address (the resolver's queries, the directory connections) |
//! | OpenBSD | chroot, setresuid, `pledge("stdio dns inet sendfd")` |

use std::path::PathBuf;

use privsep::Confinement;
use privsep::rights::{DescriptorRights, Ioctl, Right};

/// The directory the broker changes root to when started as root, after
/// its resolver has read its files.
pub const EMPTY_ROOT: &str = "/var/empty";

/// TCP port of DNS, for the resolver's fallback from UDP.
pub const DNS_PORT: u16 = 53;

/// The broker's confinement; `directory_ports` are the TCP ports of the
/// configured directories, passed on the command line by ypldapd so the
/// sandbox is complete before the first message is read.
pub fn confinement(directory_ports: &[u16]) -> Confinement {
    let mut ports = vec![DNS_PORT];
    ports.extend_from_slice(directory_ports);
    ports.sort_unstable();
    ports.dedup();
    Confinement {
        program: "ypldap-dns",
        chroot: Some(PathBuf::from(EMPTY_ROOT)),
        empty_netns: false,
        read_paths: Vec::new(),
        exec_paths: Vec::new(),
        write_dirs: Vec::new(),
        tcp_connect_ports: ports,
        scope_signals: true,
        #[cfg(target_os = "linux")]
        syscalls: syscalls(),
        pledge: "stdio dns inet sendfd",
        capability_mode: false,
        accept_no_landlock: false,
    }
}

/// FreeBSD: the link to ypldapd (fd 3): requests in, answers and
/// connected sockets out.
pub const LINK: DescriptorRights = DescriptorRights {
    descriptor: "fd 3, the link to ypldapd",
    rights: &[Right::Read, Right::Write, Right::Event],
    fcntls: &[],
    ioctls: &[],
};

/// FreeBSD: a connected directory socket, limited before it is handed
/// over, to what ypldap-client does with it: tokio sets it non-blocking
/// (`FIONBIO`) and watches it, LDAP and TLS read and write it, and the
/// connection ends with `shutdown`. It can no longer be connected
/// elsewhere, bound, or have its options changed.
pub const DIRECTORY_SOCKET: DescriptorRights = DescriptorRights {
    descriptor: "each connected directory socket, as handed to ypldap-client",
    rights: &[
        Right::Read,
        Right::Write,
        Right::Event,
        Right::Shutdown,
        Right::Ioctl,
    ],
    fcntls: &[],
    ioctls: &[Ioctl::Fionbio],
};

/// Every descriptor the broker limits on FreeBSD.
pub const DESCRIPTOR_RIGHTS: [DescriptorRights; 4] = [
    privsep::rights::STDIO[0],
    privsep::rights::STDIO[1],
    LINK,
    DIRECTORY_SOCKET,
];

/// Descriptors the broker holds but does not limit, and why.
pub const UNLIMITED_DESCRIPTORS: [(&str, &str); 2] = [
    (
        "the runtime's kqueue",
        "tokio creates and keeps it without exposing it",
    ),
    (
        "the resolver's UDP and TCP sockets",
        "hickory opens one per query, after the sandbox, and must `connect`/`sendto` name servers",
    ),
];

/// The broker's system calls on Linux: the common runtime plus creating
/// Internet sockets and connecting them.
#[cfg(target_os = "linux")]
pub fn syscalls() -> privsep::linux::seccomp::Policy {
    use privsep::linux::seccomp::{inet_sockets, runtime_base};
    let mut p = runtime_base();
    p.allow(&privsep::sys![
        SYS_connect,
        SYS_bind,
        SYS_getsockopt,
        SYS_setsockopt,
        SYS_getsockname,
        SYS_getpeername,
    ]);
    p.extend(&inet_sockets());
    p
}

/// Parses the `--connect-ports P,P,...` argument ypldapd passes.
pub fn parse_ports(arg: &str) -> Result<Vec<u16>, String> {
    if arg.is_empty() {
        return Ok(Vec::new());
    }
    arg.split(',')
        .map(|p| match p.parse::<u16>() {
            Ok(0) | Err(_) => Err(format!("invalid port {p:?}")),
            Ok(n) => Ok(n),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_parse() {
        assert_eq!(parse_ports("389,636"), Ok(vec![389, 636]));
        assert_eq!(parse_ports(""), Ok(vec![]));
        assert!(parse_ports("0").is_err());
        assert!(parse_ports("x").is_err());
        assert!(parse_ports("70000").is_err());
    }

    #[test]
    fn ports_include_dns() {
        assert_eq!(
            confinement(&[636, 389]).tcp_connect_ports,
            vec![53, 389, 636]
        );
    }
}
