//! Binding the YP sockets: a UDP socket and a TCP listener on the same
//! port, reserved (< 1024, as Linux ypbind insists) when running as root.
//! Done as root before the sandbox; the sockets are then handed to
//! [`super::server::YpServer`].

use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};
use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::socket::{
    AddressFamily, Backlog, SockFlag, SockType, SockaddrStorage, bind, listen, setsockopt, socket,
    sockopt,
};

/// First and last port tried by [`bind_reserved_pair`], like libc's
/// `bindresvport` (ports below 600 are left to well-known services).
pub const RESERVED_LOW: u16 = 600;
pub const RESERVED_HIGH: u16 = 1023;

fn sock(ip: IpAddr, ty: SockType, port: u16) -> nix::Result<OwnedFd> {
    let fam = match ip {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    };
    let fd = socket(fam, ty, SockFlag::SOCK_CLOEXEC, None)?;
    if ip.is_ipv6() {
        // Keep IPv6 sockets to IPv6, so an IPv4 socket can share the port.
        setsockopt(&fd, sockopt::Ipv6V6Only, &true)?;
    }
    if ty == SockType::Stream {
        setsockopt(&fd, sockopt::ReuseAddr, &true)?;
    }
    bind(
        fd.as_raw_fd(),
        &SockaddrStorage::from(SocketAddr::new(ip, port)),
    )?;
    if ty == SockType::Stream {
        listen(&fd, Backlog::new(128)?)?;
    }
    Ok(fd)
}

/// Binds UDP and TCP on `ip:port` (port 0: any free port, the same for
/// both). The sockets are non-blocking.
pub fn bind_pair(ip: IpAddr, port: u16) -> io::Result<(UdpSocket, TcpListener)> {
    for _ in 0..if port == 0 { 16 } else { 1 } {
        let u = UdpSocket::from(sock(ip, SockType::Datagram, port)?);
        let p = u.local_addr()?.port();
        match sock(ip, SockType::Stream, p) {
            Ok(t) => {
                let t = TcpListener::from(t);
                u.set_nonblocking(true)?;
                t.set_nonblocking(true)?;
                return Ok((u, t));
            }
            Err(nix::errno::Errno::EADDRINUSE) if port == 0 => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AddrInUse,
        "no port free for both UDP and TCP",
    ))
}

/// Binds UDP and TCP on the same reserved port of `ip`, trying ports
/// 600..=1023 from a start that varies with the process id. Needs root (or
/// CAP_NET_BIND_SERVICE); without it the error is `PermissionDenied`.
pub fn bind_reserved_pair(ip: IpAddr) -> io::Result<(UdpSocket, TcpListener)> {
    let span = u32::from(RESERVED_HIGH - RESERVED_LOW + 1);
    let start = std::process::id() % span;
    for i in 0..span {
        let port = RESERVED_LOW + ((start + i) % span) as u16;
        match bind_pair(ip, port) {
            Ok(p) => return Ok(p),
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => return Err(e),
            Err(_) => continue,
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AddrInUse,
        "every reserved port is in use",
    ))
}

/// The YP sockets for one configuration: `local` binds 127.0.0.1 only;
/// otherwise 0.0.0.0 and, when the host has IPv6, `::` too. Reserved ports
/// when `reserved`, else any port (development, tests).
pub fn bind_yp_sockets(
    local: bool,
    reserved: bool,
) -> io::Result<(Vec<UdpSocket>, Vec<TcpListener>)> {
    let one = |ip: IpAddr| {
        if reserved {
            bind_reserved_pair(ip)
        } else {
            bind_pair(ip, 0)
        }
    };
    let v4: IpAddr = if local {
        [127, 0, 0, 1].into()
    } else {
        [0, 0, 0, 0].into()
    };
    let (u, t) = one(v4)?;
    let (mut us, mut ts) = (vec![u], vec![t]);
    if !local {
        // IPv6 is optional: a host without it still serves IPv4.
        if let Ok((u6, t6)) = one(std::net::Ipv6Addr::UNSPECIFIED.into()) {
            us.push(u6);
            ts.push(t6);
        }
    }
    Ok((us, ts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_shares_port() {
        let (u, t) = bind_pair([127, 0, 0, 1].into(), 0).unwrap();
        assert_eq!(
            u.local_addr().unwrap().port(),
            t.local_addr().unwrap().port()
        );
        if let Ok((u6, t6)) = bind_pair(std::net::Ipv6Addr::LOCALHOST.into(), 0) {
            assert_eq!(
                u6.local_addr().unwrap().port(),
                t6.local_addr().unwrap().port()
            );
        }
    }
}
