//! The portmapper (rpcbind) version 2 messages ypldapd sends to register
//! the YP program: PMAPPROC_SET, PMAPPROC_UNSET and PMAPPROC_GETPORT
//! (RFC 1833). Pure encoding and decoding; the socket is the daemon's.

use std::fmt;

use crate::rpc::{self, ReplyStatus};
use crate::xdr::{XdrReader, XdrWriter};

pub const PMAPPROG: u32 = 100000;
pub const PMAPVERS: u32 = 2;
pub const PMAPPROC_SET: u32 = 1;
pub const PMAPPROC_UNSET: u32 = 2;
pub const PMAPPROC_GETPORT: u32 = 3;
pub const IPPROTO_TCP: u32 = 6;
pub const IPPROTO_UDP: u32 = 17;
pub const PMAP_PORT: u16 = 111;

/// rpcbind's answer was not a valid reply to our call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadReply(pub String);

impl fmt::Display for BadReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad reply from rpcbind: {}", self.0)
    }
}

impl std::error::Error for BadReply {}

/// A portmap `mapping`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapping {
    pub prog: u32,
    pub vers: u32,
    pub prot: u32,
    pub port: u32,
}

/// A PMAPPROC_SET or PMAPPROC_UNSET call message.
pub fn encode_pmap_call(xid: u32, proc_: u32, m: Mapping) -> Vec<u8> {
    let mut w = XdrWriter::new();
    w.u32(m.prog).u32(m.vers).u32(m.prot).u32(m.port);
    rpc::encode_call(xid, PMAPPROG, PMAPVERS, proc_, &w.buf)
}

/// Decodes the one-word answer to a GETPORT (a port, 0 when unregistered).
/// `Ok(None)`: a reply to another xid, to be ignored.
pub fn decode_pmap_word(reply: &[u8], xid: u32) -> Result<Option<u32>, BadReply> {
    match rpc::parse_reply(reply) {
        Some((x, _)) if x != xid => Ok(None),
        Some((_, ReplyStatus::Success(body))) => XdrReader::new(body)
            .u32()
            .map(Some)
            .map_err(|e| BadReply(format!("{e:?}"))),
        Some((_, s)) => Err(BadReply(format!("{s:?}"))),
        None => Err(BadReply("undecodable".into())),
    }
}

/// Decodes the boolean answer to a SET/UNSET. `Ok(None)`: a reply to
/// another xid (a late answer to a retransmission), to be ignored.
pub fn decode_pmap_reply(reply: &[u8], xid: u32) -> Result<Option<bool>, BadReply> {
    match decode_pmap_word(reply, xid)? {
        None => Ok(None),
        Some(0) => Ok(Some(false)),
        Some(1) => Ok(Some(true)),
        Some(n) => Err(BadReply(format!("{n} is not a boolean"))),
    }
}
