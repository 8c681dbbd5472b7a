//! rpcbind versions 3 and 4 (RFC 1833): the `rpcb` argument, universal
//! addresses (RFC 5665) and the SET, UNSET and GETADDR messages, as
//! libtirpc's `svc_reg`/`rpcb_set` send them: one SET per transport, named
//! by its netid (`udp`, `tcp`, `udp6`, `tcp6`) with the address it listens
//! on; one UNSET with an empty netid removes every transport.
//!
//! Pure encoding and decoding: the exchange itself is
//! ypldapd's `Rpcbind`.

use std::net::SocketAddr;

use crate::rpc::{self, ReplyStatus};
use crate::xdr::{XdrReader, XdrWriter};

pub const RPCBPROG: u32 = 100000;
pub const RPCBVERS: u32 = 3;
pub const RPCBVERS4: u32 = 4;
pub const RPCBPROC_SET: u32 = 1;
pub const RPCBPROC_UNSET: u32 = 2;
pub const RPCBPROC_GETADDR: u32 = 3;
pub const RPCBPROC_DUMP: u32 = 4;

/// The most entries read from a DUMP reply.
const MAX_DUMP_ENTRIES: usize = 4096;

/// `accept_stat` PROG_MISMATCH: a portmapper that speaks version 2 only.
const PROG_MISMATCH: u32 = 2;
/// `accept_stat` PROC_UNAVAIL.
const PROC_UNAVAIL: u32 = 3;

/// The longest netid or universal address accepted in a reply.
const MAX_STRING: usize = 128;

/// The `rpcb` argument of SET, UNSET and GETADDR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rpcb {
    pub prog: u32,
    pub vers: u32,
    /// `udp`, `tcp`, `udp6`, `tcp6`; empty in an UNSET of every transport.
    pub netid: String,
    /// Universal address; empty in UNSET and GETADDR.
    pub addr: String,
    /// rpcbind replaces it with what it knows of the caller (its uid over
    /// the local socket, "superuser" from a privileged loopback port).
    pub owner: String,
}

/// One transport ypldapd serves on, as rpcbind records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transport {
    pub netid: &'static str,
    pub addr: String,
}

impl Transport {
    /// The transport of a socket bound to `addr` (`tcp` for a listener).
    pub fn of(addr: SocketAddr, tcp: bool) -> Transport {
        Transport {
            netid: netid(addr, tcp),
            addr: universal_address(addr),
        }
    }

    /// The port in the universal address.
    pub fn port(&self) -> Option<u16> {
        port_of_universal_address(&self.addr)
    }
}

/// The netid of an Internet socket: `udp`/`tcp` for IPv4, `udp6`/`tcp6`
/// for IPv6 (the names of `/etc/netconfig`).
pub fn netid(addr: SocketAddr, tcp: bool) -> &'static str {
    match (addr.is_ipv6(), tcp) {
        (false, false) => "udp",
        (false, true) => "tcp",
        (true, false) => "udp6",
        (true, true) => "tcp6",
    }
}

/// RFC 5665's universal address: the address as text, then the port's
/// high and low bytes: `0.0.0.0.2.188`, `::.2.188`.
pub fn universal_address(addr: SocketAddr) -> String {
    let [hi, lo] = addr.port().to_be_bytes();
    format!("{}.{hi}.{lo}", addr.ip())
}

/// The port of a universal address (its last two dot-separated numbers).
pub fn port_of_universal_address(uaddr: &str) -> Option<u16> {
    let mut parts = uaddr.rsplitn(3, '.');
    let lo: u8 = parts.next()?.parse().ok()?;
    let hi: u8 = parts.next()?.parse().ok()?;
    parts.next().filter(|rest| !rest.is_empty())?;
    Some(u16::from_be_bytes([hi, lo]))
}

/// A SET, UNSET or GETADDR call of rpcbind version `vers` (3 or 4).
pub fn encode_rpcb_call(xid: u32, vers: u32, proc_: u32, args: &Rpcb) -> Vec<u8> {
    let mut w = XdrWriter::new();
    w.u32(args.prog)
        .u32(args.vers)
        .opaque(args.netid.as_bytes())
        .opaque(args.addr.as_bytes())
        .opaque(args.owner.as_bytes());
    rpc::encode_call(xid, RPCBPROG, vers, proc_, &w.into_inner())
}

/// Why a reply could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RpcbReplyError {
    /// The server does not speak this version (a version-2 portmapper).
    VersionUnsupported,
    /// Another refusal or a malformed reply.
    Bad(String),
}

fn body(reply: &[u8], xid: u32) -> Result<Option<&[u8]>, RpcbReplyError> {
    match rpc::parse_reply(reply) {
        Some((x, _)) if x != xid => Ok(None),
        Some((_, ReplyStatus::Success(body))) => Ok(Some(body)),
        Some((_, ReplyStatus::Accepted(PROG_MISMATCH | PROC_UNAVAIL))) => {
            Err(RpcbReplyError::VersionUnsupported)
        }
        Some((_, s)) => Err(RpcbReplyError::Bad(format!("{s:?}"))),
        None => Err(RpcbReplyError::Bad("undecodable".into())),
    }
}

/// The boolean answer to SET or UNSET; `Ok(None)` for another xid's reply.
pub fn decode_rpcb_bool(reply: &[u8], xid: u32) -> Result<Option<bool>, RpcbReplyError> {
    let Some(b) = body(reply, xid)? else {
        return Ok(None);
    };
    XdrReader::new(b)
        .bool()
        .map(Some)
        .map_err(|e| RpcbReplyError::Bad(format!("{e:?}")))
}

/// The universal address GETADDR answers (empty: not registered);
/// `Ok(None)` for another xid's reply.
pub fn decode_rpcb_string(reply: &[u8], xid: u32) -> Result<Option<String>, RpcbReplyError> {
    let Some(b) = body(reply, xid)? else {
        return Ok(None);
    };
    let s = XdrReader::new(b)
        .opaque(MAX_STRING)
        .map_err(|e| RpcbReplyError::Bad(format!("{e:?}")))?;
    String::from_utf8(s.to_vec())
        .map(Some)
        .map_err(|_| RpcbReplyError::Bad("address is not UTF-8".into()))
}

/// A DUMP call (no argument): rpcbind's whole table.
pub fn encode_dump_call(xid: u32, vers: u32) -> Vec<u8> {
    rpc::encode_call(xid, RPCBPROG, vers, RPCBPROC_DUMP, &[])
}

/// The table a DUMP answers (`rpcblist_ptr`: each entry preceded by TRUE,
/// the list ended by FALSE); `Ok(None)` for another xid's reply.
pub fn decode_dump(reply: &[u8], xid: u32) -> Result<Option<Vec<Rpcb>>, RpcbReplyError> {
    let Some(b) = body(reply, xid)? else {
        return Ok(None);
    };
    let bad = |e: crate::xdr::XdrError| RpcbReplyError::Bad(format!("{e:?}"));
    let text = |r: &mut XdrReader<'_>| -> Result<String, RpcbReplyError> {
        let s = r.opaque(MAX_STRING).map_err(bad)?;
        String::from_utf8(s.to_vec()).map_err(|_| RpcbReplyError::Bad("text is not UTF-8".into()))
    };
    let mut r = XdrReader::new(b);
    let mut list = Vec::new();
    while r.bool().map_err(bad)? {
        if list.len() == MAX_DUMP_ENTRIES {
            return Err(RpcbReplyError::Bad("too many entries".into()));
        }
        list.push(Rpcb {
            prog: r.u32().map_err(bad)?,
            vers: r.u32().map_err(bad)?,
            netid: text(&mut r)?,
            addr: text(&mut r)?,
            owner: text(&mut r)?,
        });
    }
    Ok(Some(list))
}

/// The netids of `transports` that `table` lacks for `prog`/`vers` at
/// the same port (rpcbind may rewrite the address part, not the port).
pub fn missing<'a>(
    table: &[Rpcb],
    prog: u32,
    vers: u32,
    transports: &'a [Transport],
) -> Vec<&'a str> {
    transports
        .iter()
        .filter(|t| {
            !table.iter().any(|e| {
                e.prog == prog
                    && e.vers == vers
                    && e.netid == t.netid
                    && port_of_universal_address(&e.addr) == t.port()
            })
        })
        .map(|t| t.netid)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn netids_and_universal_addresses() {
        let v4 = SocketAddr::from((Ipv4Addr::UNSPECIFIED, 700));
        let v6 = SocketAddr::from((Ipv6Addr::UNSPECIFIED, 701));
        let lo6 = SocketAddr::from((Ipv6Addr::LOCALHOST, 1));
        assert_eq!(Transport::of(v4, false).netid, "udp");
        assert_eq!(Transport::of(v4, true).netid, "tcp");
        assert_eq!(Transport::of(v6, false).netid, "udp6");
        assert_eq!(Transport::of(v6, true).netid, "tcp6");
        assert_eq!(universal_address(v4), "0.0.0.0.2.188");
        assert_eq!(universal_address(v6), "::.2.189");
        assert_eq!(universal_address(lo6), "::1.0.1");
        for a in [v4, v6, lo6] {
            assert_eq!(
                port_of_universal_address(&universal_address(a)),
                Some(a.port())
            );
        }
        assert_eq!(port_of_universal_address(""), None);
        assert_eq!(port_of_universal_address("2.188"), None);
        assert_eq!(port_of_universal_address("1.2.3.4.300.1"), None);
    }

    #[test]
    fn call_layout() {
        let m = encode_rpcb_call(
            9,
            RPCBVERS4,
            RPCBPROC_SET,
            &Rpcb {
                prog: 100004,
                vers: 2,
                netid: "udp6".into(),
                addr: "::.2.188".into(),
                owner: "superuser".into(),
            },
        );
        let mut r = XdrReader::new(&m);
        let head: Vec<u32> = (0..6).map(|_| r.u32().unwrap()).collect();
        assert_eq!(head, vec![9, 0, 2, RPCBPROG, RPCBVERS4, RPCBPROC_SET]);
        // AUTH_NONE credentials and verifier.
        for _ in 0..4 {
            assert_eq!(r.u32().unwrap(), 0);
        }
        assert_eq!(r.u32().unwrap(), 100004);
        assert_eq!(r.u32().unwrap(), 2);
        assert_eq!(r.opaque(64).unwrap(), b"udp6");
        assert_eq!(r.opaque(64).unwrap(), b"::.2.188");
        assert_eq!(r.opaque(64).unwrap(), b"superuser");
        assert_eq!(r.remaining(), 0);
    }

    fn reply(xid: u32, accept: u32, body: &[u8]) -> Vec<u8> {
        let mut w = XdrWriter::new();
        w.u32(xid).u32(1).u32(0).u32(0).u32(0).u32(accept);
        if accept == PROG_MISMATCH {
            w.u32(2).u32(2);
        }
        let mut v = w.into_inner();
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn dump_and_missing() {
        let mut w = XdrWriter::new();
        for (netid, addr) in [("udp", "0.0.0.0.2.188"), ("tcp6", "::.2.189")] {
            w.bool(true)
                .u32(100004)
                .u32(2)
                .opaque(netid.as_bytes())
                .opaque(addr.as_bytes())
                .opaque(b"superuser");
        }
        w.bool(false);
        let table = decode_dump(&reply(3, 0, &w.into_inner()), 3)
            .unwrap()
            .unwrap();
        assert_eq!(table.len(), 2);
        assert_eq!(table[1].netid, "tcp6");
        let ours = [
            Transport::of(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 700)), false),
            Transport::of(SocketAddr::from((Ipv6Addr::UNSPECIFIED, 701)), true),
            Transport::of(SocketAddr::from((Ipv6Addr::UNSPECIFIED, 702)), false),
        ];
        assert_eq!(missing(&table, 100004, 2, &ours), vec!["udp6"]);
        assert_eq!(missing(&table, 100004, 3, &ours).len(), 3);
        // A truncated list is an error, not a shorter table.
        let mut w = XdrWriter::new();
        w.bool(true).u32(1);
        assert!(decode_dump(&reply(3, 0, &w.into_inner()), 3).is_err());
    }

    #[test]
    fn replies() {
        let t = reply(5, 0, &[0, 0, 0, 1]);
        assert_eq!(decode_rpcb_bool(&t, 5), Ok(Some(true)));
        assert_eq!(decode_rpcb_bool(&t, 6), Ok(None));
        assert_eq!(
            decode_rpcb_bool(&reply(5, PROG_MISMATCH, &[]), 5),
            Err(RpcbReplyError::VersionUnsupported)
        );
        let mut w = XdrWriter::new();
        w.opaque(b"127.0.0.1.2.188");
        let s = reply(7, 0, &w.into_inner());
        assert_eq!(
            decode_rpcb_string(&s, 7),
            Ok(Some("127.0.0.1.2.188".to_owned()))
        );
        assert!(matches!(
            decode_rpcb_string(&reply(7, 0, &[0, 0, 1]), 7),
            Err(RpcbReplyError::Bad(_))
        ));
    }
}
