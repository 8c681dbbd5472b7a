//! Registering the YP program with the local rpcbind/portmapper over UDP
//! to 127.0.0.1:111: rpcbind versions 4 and 3 (SET per netid `udp`, `tcp`,
//! `udp6`, `tcp6`, as libtirpc's `svc_reg` does, encoded in
//! [`yp_proto::rpcb`]), else portmap version 2 (PMAPPROC_SET for udp and tcp)
//! for a portmapper that knows no other (DESIGN §6).
//!
//! rpcbind makes a mapping set from a privileged loopback port the
//! superuser's, and lets only a privileged port or root remove it; so the
//! socket is bound to a reserved port while still root and kept
//! (connected) for every later exchange, from inside the sandbox. It
//! replaces the `/run/rpcbind.sock` connection libtirpc uses: rpcbind
//! gives it the same owner ("superuser", checked against Debian's rpcbind
//! 1.2.6), and unlike a unix connection it survives a restart of rpcbind,
//! after which the sandbox could not open a new one (no `AF_UNIX` socket).
//! The message encoding and decoding are pure functions in
//! [`yp_proto::portmap`] and [`yp_proto::rpcb`], so a non-blocking caller
//! can drive the same exchange from its own event loop.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

pub use yp_proto::portmap::{
    IPPROTO_TCP, IPPROTO_UDP, Mapping, PMAP_PORT, PMAPPROC_GETPORT, PMAPPROC_SET, PMAPPROC_UNSET,
    PMAPPROG, PMAPVERS, decode_pmap_reply, decode_pmap_word, encode_pmap_call,
};
use yp_proto::rpcb::{self, Rpcb, RpcbReplyError, Transport};

/// Why a registration step failed. `NotRunning` and `Timeout` are worth a
/// retry later.
#[derive(Debug)]
pub enum RpcbindError {
    /// Nothing listens on 127.0.0.1:111 (ICMP port unreachable).
    NotRunning,
    /// No answer within the timeout.
    Timeout,
    /// rpcbind answered FALSE (e.g. a mapping owned by someone else).
    Refused {
        proc_: u32,
        prot: u32,
    },
    /// rpcbind answered FALSE to a version 3/4 SET for this netid.
    RefusedNetid(&'static str),
    /// The server speaks portmap version 2 only.
    VersionUnsupported,
    /// rpcbind's answer was not a valid reply.
    BadReply(String),
    Io(io::Error),
}

impl fmt::Display for RpcbindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RpcbindError::NotRunning => write!(f, "rpcbind is not running on 127.0.0.1:111"),
            RpcbindError::Timeout => write!(f, "rpcbind did not answer"),
            RpcbindError::Refused { proc_, prot } => write!(
                f,
                "rpcbind refused {} for {}",
                if *proc_ == PMAPPROC_SET {
                    "SET"
                } else {
                    "UNSET"
                },
                if *prot == IPPROTO_TCP { "tcp" } else { "udp" }
            ),
            RpcbindError::RefusedNetid(n) => write!(f, "rpcbind refused SET for {n}"),
            RpcbindError::VersionUnsupported => {
                f.write_str("the portmapper does not speak rpcbind versions 3 and 4")
            }
            RpcbindError::BadReply(s) => write!(f, "bad reply from rpcbind: {s}"),
            RpcbindError::Io(e) => write!(f, "rpcbind: {e}"),
        }
    }
}

impl std::error::Error for RpcbindError {}

impl From<RpcbReplyError> for RpcbindError {
    fn from(e: RpcbReplyError) -> Self {
        match e {
            RpcbReplyError::VersionUnsupported => RpcbindError::VersionUnsupported,
            RpcbReplyError::Bad(s) => RpcbindError::BadReply(s),
        }
    }
}

/// Which protocol a registration was made with, and so how to check and
/// remove it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// rpcbind version 4 or 3: every netid.
    Rpcbind(u32),
    /// portmap version 2: udp and tcp of IPv4 only.
    Portmap,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Protocol::Rpcbind(v) => write!(f, "rpcbind version {v}"),
            Protocol::Portmap => f.write_str("portmap version 2"),
        }
    }
}

impl From<io::Error> for RpcbindError {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::ConnectionRefused {
            RpcbindError::NotRunning
        } else {
            RpcbindError::Io(e)
        }
    }
}

impl From<yp_proto::portmap::BadReply> for RpcbindError {
    fn from(e: yp_proto::portmap::BadReply) -> Self {
        RpcbindError::BadReply(e.0)
    }
}

/// A connected UDP socket to rpcbind, kept for the daemon's lifetime.
#[derive(Debug)]
pub struct Rpcbind {
    sock: UdpSocket,
    xid: u32,
    /// Total time to wait for one answer (retransmitting every 500 ms).
    pub timeout: Duration,
}

impl Rpcbind {
    /// Opens the socket to 127.0.0.1:111. With `reserved`, binds a port in
    /// 600..=1023 first (root only).
    pub fn open(reserved: bool) -> io::Result<Rpcbind> {
        Self::open_at(SocketAddr::from((Ipv4Addr::LOCALHOST, PMAP_PORT)), reserved)
    }

    /// As [`Self::open`], to another address (tests use a fake rpcbind).
    pub fn open_at(to: SocketAddr, reserved: bool) -> io::Result<Rpcbind> {
        let sock = if reserved {
            let mut found = None;
            for port in super::bind::RESERVED_LOW..=super::bind::RESERVED_HIGH {
                match UdpSocket::bind((Ipv4Addr::LOCALHOST, port)) {
                    Ok(s) => {
                        found = Some(s);
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::PermissionDenied => return Err(e),
                    Err(_) => {}
                }
            }
            found.ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::AddrInUse,
                    "no reserved port free for rpcbind",
                )
            })?
        } else {
            UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?
        };
        sock.connect(to)?;
        // Seed the xid from the clock, as libc does, so a restarted daemon
        // does not accept a stale answer meant for its predecessor.
        let xid = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() ^ d.as_secs() as u32)
            .unwrap_or(1);
        Ok(Rpcbind {
            sock,
            xid,
            timeout: Duration::from_secs(3),
        })
    }

    /// The socket, to limit its rights (Capsicum).
    pub fn socket(&self) -> std::os::fd::BorrowedFd<'_> {
        std::os::fd::AsFd::as_fd(&self.sock)
    }

    /// The local address (to check that it is a reserved port).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.local_addr()
    }

    /// One SET or UNSET exchange; the boolean answer.
    pub fn call(&mut self, proc_: u32, m: Mapping) -> Result<bool, RpcbindError> {
        self.exchange(
            |xid| encode_pmap_call(xid, proc_, m),
            |b, xid| Ok(decode_pmap_reply(b, xid)?),
        )
    }

    /// One version 3/4 SET or UNSET; the boolean answer.
    fn rpcb_call(&mut self, vers: u32, proc_: u32, args: &Rpcb) -> Result<bool, RpcbindError> {
        self.exchange(
            |xid| rpcb::encode_rpcb_call(xid, vers, proc_, args),
            |b, xid| Ok(rpcb::decode_rpcb_bool(b, xid)?),
        )
    }

    /// rpcbind's whole table (version 3/4 DUMP).
    pub fn dump(&mut self, vers: u32) -> Result<Vec<Rpcb>, RpcbindError> {
        self.exchange(
            |xid| rpcb::encode_dump_call(xid, vers),
            |b, xid| Ok(rpcb::decode_dump(b, xid)?),
        )
    }

    /// Registers `prog`/`vers` for every transport, with rpcbind version 4,
    /// else 3 (UNSET of every netid, then a SET per transport), else, for a
    /// version-2 portmapper, PMAPPROC_SET for the IPv4 udp and tcp ports.
    pub fn register_transports(
        &mut self,
        prog: u32,
        vers: u32,
        transports: &[Transport],
    ) -> Result<Protocol, RpcbindError> {
        for v in [rpcb::RPCBVERS4, rpcb::RPCBVERS] {
            match self.rpcb_register(v, prog, vers, transports) {
                Ok(()) => return Ok(Protocol::Rpcbind(v)),
                Err(RpcbindError::VersionUnsupported) => continue,
                Err(e) => return Err(e),
            }
        }
        let port = |netid: &str| {
            transports
                .iter()
                .find(|t| t.netid == netid)
                .and_then(Transport::port)
        };
        self.register(prog, vers, port("udp"), port("tcp"))?;
        Ok(Protocol::Portmap)
    }

    fn rpcb_register(
        &mut self,
        v: u32,
        prog: u32,
        vers: u32,
        transports: &[Transport],
    ) -> Result<(), RpcbindError> {
        self.rpcb_unregister(v, prog, vers)?;
        for t in transports {
            let args = Rpcb {
                prog,
                vers,
                netid: t.netid.to_owned(),
                addr: t.addr.clone(),
                owner: owner(),
            };
            if !self.rpcb_call(v, rpcb::RPCBPROC_SET, &args)? {
                return Err(RpcbindError::RefusedNetid(t.netid));
            }
        }
        Ok(())
    }

    fn rpcb_unregister(&mut self, v: u32, prog: u32, vers: u32) -> Result<bool, RpcbindError> {
        let args = Rpcb {
            prog,
            vers,
            netid: String::new(),
            addr: String::new(),
            owner: owner(),
        };
        self.rpcb_call(v, rpcb::RPCBPROC_UNSET, &args)
    }

    /// Removes every transport of `prog`/`vers`, with the protocol it was
    /// registered with. FALSE (nothing registered) is not an error.
    pub fn unregister_transports(
        &mut self,
        prog: u32,
        vers: u32,
        protocol: Protocol,
    ) -> Result<bool, RpcbindError> {
        match protocol {
            Protocol::Rpcbind(v) => self.rpcb_unregister(v, prog, vers),
            Protocol::Portmap => self.unregister(prog, vers),
        }
    }

    /// The netids of `transports` that rpcbind no longer has (all of them
    /// after a restart of rpcbind).
    pub fn missing_transports<'a>(
        &mut self,
        prog: u32,
        vers: u32,
        transports: &'a [Transport],
        protocol: Protocol,
    ) -> Result<Vec<&'a str>, RpcbindError> {
        match protocol {
            Protocol::Rpcbind(v) => Ok(rpcb::missing(&self.dump(v)?, prog, vers, transports)),
            Protocol::Portmap => {
                let mut gone = Vec::new();
                for (netid, prot) in [("udp", IPPROTO_UDP), ("tcp", IPPROTO_TCP)] {
                    let Some(t) = transports.iter().find(|t| t.netid == netid) else {
                        continue;
                    };
                    if t.port().map(u32::from) != Some(self.getport(prog, vers, prot)?) {
                        gone.push(t.netid);
                    }
                }
                Ok(gone)
            }
        }
    }

    /// The port rpcbind has for `prog`, `vers` over `prot` (0: none).
    pub fn getport(&mut self, prog: u32, vers: u32, prot: u32) -> Result<u32, RpcbindError> {
        let m = Mapping {
            prog,
            vers,
            prot,
            port: 0,
        };
        self.exchange(
            |xid| encode_pmap_call(xid, PMAPPROC_GETPORT, m),
            |b, xid| Ok(decode_pmap_word(b, xid)?),
        )
    }

    /// Sends a call and waits for the answer to it, resending every 500 ms.
    fn exchange<T>(
        &mut self,
        encode: impl Fn(u32) -> Vec<u8>,
        decode: impl Fn(&[u8], u32) -> Result<Option<T>, RpcbindError>,
    ) -> Result<T, RpcbindError> {
        self.xid = self.xid.wrapping_add(1);
        let xid = self.xid;
        let msg = encode(xid);
        let deadline = Instant::now() + self.timeout;
        // A DUMP of a busy host's table fits; UDP replies are below 9000.
        let mut buf = vec![0u8; 9000];
        loop {
            self.sock.send(&msg)?;
            let resend = Instant::now() + Duration::from_millis(500);
            loop {
                let now = Instant::now();
                if now >= deadline {
                    return Err(RpcbindError::Timeout);
                }
                if now >= resend {
                    break;
                }
                self.sock
                    .set_read_timeout(Some(resend.min(deadline) - now))?;
                match self.sock.recv(&mut buf) {
                    Ok(n) => {
                        if let Some(b) = decode(&buf[..n], xid)? {
                            return Ok(b);
                        }
                    }
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                        ) => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }

    /// UNSET any old registration, then SET each given transport's port.
    pub fn register(
        &mut self,
        prog: u32,
        vers: u32,
        udp_port: Option<u16>,
        tcp_port: Option<u16>,
    ) -> Result<(), RpcbindError> {
        self.unregister(prog, vers)?;
        for (prot, port) in [(IPPROTO_UDP, udp_port), (IPPROTO_TCP, tcp_port)] {
            let Some(port) = port else { continue };
            let m = Mapping {
                prog,
                vers,
                prot,
                port: u32::from(port),
            };
            if !self.call(PMAPPROC_SET, m)? {
                return Err(RpcbindError::Refused {
                    proc_: PMAPPROC_SET,
                    prot,
                });
            }
        }
        Ok(())
    }

    /// UNSET every transport of `prog`/`vers`. FALSE (nothing registered)
    /// is not an error.
    pub fn unregister(&mut self, prog: u32, vers: u32) -> Result<bool, RpcbindError> {
        self.call(
            PMAPPROC_UNSET,
            Mapping {
                prog,
                vers,
                prot: 0,
                port: 0,
            },
        )
    }
}

/// The owner string of a version 3/4 call, as libtirpc sends it (the
/// effective uid); rpcbind replaces it with what it knows of the caller.
fn owner() -> String {
    nix::unistd::geteuid().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use yp_proto::rpc;
    use yp_proto::xdr::XdrReader;

    /// A fake portmapper: answers TRUE to everything except a SET for tcp,
    /// reporting each call; it drops the first datagram to exercise the
    /// retransmission.
    fn fake(refuse_tcp: bool) -> (SocketAddr, mpsc::Receiver<(u32, Mapping)>) {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = s.local_addr().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            let mut first = true;
            while let Ok((n, peer)) = s.recv_from(&mut buf) {
                if std::mem::take(&mut first) {
                    continue;
                }
                let rpc::Parsed::Call(c) = rpc::parse_call(&buf[..n]) else {
                    continue;
                };
                assert_eq!((c.prog, c.vers), (PMAPPROG, PMAPVERS));
                let mut r = XdrReader::new(c.args);
                let m = Mapping {
                    prog: r.u32().unwrap(),
                    vers: r.u32().unwrap(),
                    prot: r.u32().unwrap(),
                    port: r.u32().unwrap(),
                };
                let ok = !(refuse_tcp && c.proc_ == PMAPPROC_SET && m.prot == IPPROTO_TCP);
                // Noted before the answer, so the caller sees every call
                // it got an answer to.
                if tx.send((c.proc_, m)).is_err() {
                    break;
                }
                let mut w = rpc::success(c.xid);
                w.bool(ok);
                s.send_to(&w.buf, peer).unwrap();
            }
        });
        (addr, rx)
    }

    #[test]
    fn register_unset_then_set() {
        let (addr, rx) = fake(false);
        let mut rb = Rpcbind::open_at(addr, false).unwrap();
        rb.register(100004, 2, Some(700), Some(701)).unwrap();
        let calls: Vec<_> = rx.try_iter().collect();
        assert_eq!(calls.len(), 3);
        assert_eq!(calls[0].0, PMAPPROC_UNSET);
        assert_eq!(
            calls[1],
            (
                PMAPPROC_SET,
                Mapping {
                    prog: 100004,
                    vers: 2,
                    prot: 17,
                    port: 700
                }
            )
        );
        assert_eq!(
            calls[2],
            (
                PMAPPROC_SET,
                Mapping {
                    prog: 100004,
                    vers: 2,
                    prot: 6,
                    port: 701
                }
            )
        );
        assert!(rb.unregister(100004, 2).unwrap());
    }

    #[test]
    fn refusal_and_absence() {
        let (addr, _rx) = fake(true);
        let mut rb = Rpcbind::open_at(addr, false).unwrap();
        assert!(matches!(
            rb.register(100004, 2, Some(700), Some(701)),
            Err(RpcbindError::Refused {
                prot: IPPROTO_TCP,
                ..
            })
        ));
        // nothing listening: a clear, retryable error
        let dead = UdpSocket::bind("127.0.0.1:0").unwrap();
        let dead_addr = dead.local_addr().unwrap();
        drop(dead);
        let mut rb = Rpcbind::open_at(dead_addr, false).unwrap();
        rb.timeout = Duration::from_millis(300);
        let e = rb.register(100004, 2, Some(1), None).unwrap_err();
        assert!(
            matches!(e, RpcbindError::NotRunning | RpcbindError::Timeout),
            "{e}"
        );
    }

    #[test]
    fn reply_decoding() {
        let mut w = rpc::success(5);
        w.bool(true);
        assert_eq!(decode_pmap_reply(&w.buf, 5).unwrap(), Some(true));
        assert_eq!(decode_pmap_reply(&w.buf, 6).unwrap(), None);
        assert!(decode_pmap_reply(&rpc::proc_unavail(5), 5).is_err());
        assert!(decode_pmap_reply(&[1, 2], 5).is_err());
    }
}
